package test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hirochachacha/go-smb2"
	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks"
	"github.com/smb-agent/smb-agent/test/harness"
)

// One failed login is one auth-failure line whatever smbd's log level:
// from "log level = 2" on, smbd writes a check_ntlm_password line (class
// auth) and an Auth line (class auth_audit) for each failed login, and a
// count of lines would double with the level. "1 auth_audit:2" is the
// least the agent asks for (logging-insufficient); at "log level = 1"
// alone smbd writes nothing about a wrong password, so it cannot count.
func TestGatherCountsFailedLoginsOnceAtEveryLevel(t *testing.T) {
	t.Parallel()
	const wrong, unknown = 2, 1 // failed logins: wrong password, unknown user
	for level, auditLevel := range map[string]int{"1 auth_audit:2": 2, "3": 3} {
		t.Run(strings.ReplaceAll(level, " ", "_"), func(t *testing.T) {
			t.Parallel()
			s := harness.StartT(t, harness.Config{
				Users:    []harness.User{{Name: probeUser, Password: probePass}},
				Shares:   []harness.Share{{Name: "data"}},
				LogLevel: level,
			})
			for i := 0; i < wrong; i++ {
				require.Error(t, goSMB2Login(t, s.Addr(), probeUser, "wrong-"+probePass))
			}
			for i := 0; i < unknown; i++ {
				require.Error(t, goSMB2Login(t, s.Addr(), "gxnobody", "wrong-"+probePass))
			}
			n := wrong + unknown
			// smbd writes the lines before it answers; let the files settle
			// until every attempt's Auth line (written at both levels) is in.
			var raw string
			require.Eventually(t, func() bool {
				raw = ""
				files, _ := filepath.Glob(filepath.Join(s.Dir(), "log", "log.*"))
				for _, p := range files {
					b, _ := os.ReadFile(p)
					raw += string(b)
				}
				return strings.Count(raw, "] status [NT_STATUS_WRONG_PASSWORD]")+strings.Count(raw, "] status [NT_STATUS_NO_SUCH_USER]") >= n
			}, 5*time.Second, 20*time.Millisecond)
			if level == "3" {
				// What makes the count double: a second line per login.
				require.Equal(t, n, strings.Count(raw, "check_ntlm_password:  Authentication for user"), "level 3 writes check_ntlm_password for each failed login")
			}

			f, _ := gatherFacts(t, gatherConfig(s), true)
			require.Equal(t, auditLevel, f.Logs.Level["auth_audit"])
			var got []string
			for _, l := range f.Logs.Lines {
				if l.Kind == checks.LogAuthFailure {
					got = append(got, l.User+" "+l.Status+" "+l.ClientIP)
				}
			}
			want := []string{}
			for i := 0; i < wrong; i++ {
				want = append(want, probeUser+" NT_STATUS_WRONG_PASSWORD 127.0.0.1")
			}
			for i := 0; i < unknown; i++ {
				want = append(want, "gxnobody NT_STATUS_NO_SUCH_USER 127.0.0.1")
			}
			require.Equal(t, want, got, "one auth-failure line per failed login at log level %q", level)
		})
	}
}

// goSMB2Login logs in with go-smb2 (NTLMv2) on a connection of its own and
// returns the session setup's error.
func goSMB2Login(t *testing.T, addr, user, password string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), scenarioBudget)
	defer cancel()
	return harness.WithSession(ctx, addr, harness.User{Name: user, Password: password}, func(*smb2.Session) error { return nil })
}
