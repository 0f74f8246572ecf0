package test

// End-to-end tests of `agent diagnose`: the built binary, as a whole
// process, against real smbd instances (test/harness), one per scenario,
// staged the way the failure happens on a real host. Each asserts the pattern,
// the cause, and the file:line of the responsible setting in the JSON
// report, and the exit code; a healthy host reports OK with exit 0.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks"
	"github.com/smb-agent/smb-agent/test/harness"
)

// diagHang bounds one diagnose process: a hang detector (the agent's own
// budget is --timeout plus small margins), not a performance bound.
const diagHang = 30 * time.Second

type diagRun struct {
	code           int
	stdout, stderr string
	report         *checks.Report
}

// diagnose runs `agent diagnose --json` with args, the probe user's
// password in the environment and an empty agent config file.
func diagnose(t *testing.T, args ...string) diagRun {
	t.Helper()
	return diagnoseWrapped(t, nil, args...)
}

// diagnoseWrapped is diagnose with the agent started through wrap (e.g.
// "ip netns exec NS"); nil runs it directly.
func diagnoseWrapped(t *testing.T, wrap []string, args ...string) diagRun {
	t.Helper()
	bin := requireAgent(t)
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "agent.yaml")
	require.NoError(t, os.WriteFile(cfgFile, []byte("logs:\n  journal: false\n"), 0o600))
	ctx, cancel := context.WithTimeout(context.Background(), diagHang)
	defer cancel()
	full := append([]string{"diagnose", "--config", cfgFile, "--json"}, args...)
	cmd := exec.CommandContext(ctx, bin, full...)
	if len(wrap) > 0 {
		cmd = exec.CommandContext(ctx, wrap[0], append(append(wrap[1:len(wrap):len(wrap)], bin), full...)...)
	}
	cmd.Env = []string{"PATH=" + harness.ReleasePath("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"), "HOME=" + dir, "SMB_AGENT_PASSWORD=" + probePass}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "agent diagnose hung: %s", errb.String())
	r := diagRun{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errb.String()}
	if err != nil {
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, "run agent: %v", err)
	}
	if r.code != 3 {
		var rep checks.Report
		require.NoError(t, json.Unmarshal(out.Bytes(), &rep), "diagnose --json output:\n%s\nstderr:\n%s", out.String(), errb.String())
		r.report = &rep
	}
	require.NotContains(t, r.stdout+r.stderr, probePass, "the password must never be printed")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("agent %s\nexit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(full, " "), r.code, r.stdout, r.stderr)
		}
	})
	return r
}

// why is what a failed assertion on r should print: its findings, or,
// without a report (exit 3), its stderr.
func (r diagRun) why() string {
	if r.report == nil {
		return fmt.Sprintf("exit %d, no report: %s", r.code, r.stderr)
	}
	return fmt.Sprintf("%+v", r.report.Findings)
}

// diagArgs are the flags of a scorer-like run against s.
func diagArgs(s *harness.Smbd, extra ...string) []string {
	return append([]string{"--smb-conf", s.ConfPath(), "--target", s.Addr(), "--user", probeUser, "--share", "data", "--timeout", "5s"}, extra...)
}

// startDiag starts an smbd for a diagnose scenario.
func startDiag(t *testing.T, cfg harness.Config) *harness.Smbd {
	t.Helper()
	if len(cfg.Users) == 0 {
		cfg.Users = []harness.User{{Name: probeUser, Password: probePass}}
	}
	if cfg.Shares == nil {
		cfg.Shares = []harness.Share{{Name: "data"}}
	}
	return harness.StartT(t, cfg)
}

// finding returns the report's finding of pattern (and cause, if given).
func finding(t *testing.T, r diagRun, pattern, cause string) checks.Finding {
	t.Helper()
	require.NotNil(t, r.report)
	var got []string
	for _, f := range r.report.Findings {
		if f.Pattern == pattern && (cause == "" || f.Cause == cause) {
			return f
		}
		got = append(got, f.Pattern+"/"+f.Cause)
	}
	t.Fatalf("no finding %s/%s; findings: %v", pattern, cause, got)
	return checks.Finding{}
}

// confLine is the line of smb.conf (s's) that contains text, 1-based.
func confLine(t *testing.T, path, text string) int {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	n, found := 0, 0
	for sc.Scan() {
		n++
		if strings.Contains(sc.Text(), text) {
			found = n
		}
	}
	require.NotZero(t, found, "%q not in %s", text, path)
	return found
}

// requireEvidenceAt asserts that the finding points at file:line.
func requireEvidenceAt(t *testing.T, f checks.Finding, file string, line int) {
	t.Helper()
	for _, e := range f.Evidence {
		if e.File == file && e.Line == line {
			return
		}
	}
	t.Fatalf("%s/%s has no evidence at %s:%d: %+v", f.Pattern, f.Cause, file, line, f.Evidence)
}

// editConf rewrites smb.conf in place (after smbd started: a later mtime).
func editConf(t *testing.T, path string, edit func(string) string) {
	t.Helper()
	time.Sleep(30 * time.Millisecond) // mtime strictly after smbd's start (10 ms ticks)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, []byte(edit(string(b))), 0o644))
}

func TestDiagnoseHealthy(t *testing.T) {
	t.Parallel()
	s := startDiag(t, harness.Config{})
	r := diagnose(t, diagArgs(s)...)
	require.Equal(t, 0, r.code, "findings: %+v", r.report.Findings)
	require.Equal(t, checks.OK, r.report.Status)
	require.Equal(t, checks.Schema, r.report.Schema)
	require.Empty(t, r.report.Findings)
	require.Equal(t, s.Addr(), r.report.Target)
	require.True(t, strings.HasPrefix(r.report.SambaVersion, "4."))
	require.True(t, r.report.Dialects["SMB2_02"].Config)
	require.True(t, *r.report.Dialects["SMB2_02"].Live)
	require.True(t, r.report.Dialects["SMB2_02"].Clients["pysmb"])
	require.False(t, *r.report.Dialects["NT1"].Live)
}

func TestDiagnoseProtocolMismatch(t *testing.T) {
	t.Parallel()
	// "server smb encrypt" since 4.14, "smb encrypt" before: the scenario
	// uses the release's name, and the fix must name it too.
	enc := encryptParam(t)
	for _, tc := range []struct {
		name, line, cause string
		global            []string
		extra             []string
		fix               string
	}{
		// "SMB2" is SMB2_10 in Samba: already too high for pysmb.
		{"min SMB2", "server min protocol = SMB2", "server-min-above-client-max", []string{"server min protocol = SMB2"}, nil, "SMB2_02"},
		{"min SMB3", "server min protocol = SMB3", "server-min-above-client-max", []string{"server min protocol = SMB3"}, nil, "SMB2_02"},
		// max NT1 below the default min: nothing connects.
		{"max NT1", "server max protocol = NT1", "min-above-max", []string{"server max protocol = NT1"}, nil, "SMB2_02"},
		// An SMB1-only server against a client offering SMB2_02-SMB2_10.
		{"max NT1 vs SMB2_02-SMB2_10 client", "server max protocol = NT1", "server-max-below-client-min",
			[]string{"server min protocol = NT1", "server max protocol = NT1"}, []string{"--client-dialects", "SMB2_02-SMB2_10"}, ""},
		{"encryption required", enc + " = required", "encryption-required", []string{enc + " = required"}, nil, "desired"},
		{"ntlm auth disabled", "ntlm auth = disabled", "ntlm-disabled", []string{"ntlm auth = disabled"}, nil, "ntlmv2-only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startDiag(t, harness.Config{Global: tc.global})
			r := diagnose(t, diagArgs(s, tc.extra...)...)
			require.Equal(t, 2, r.code)
			f := finding(t, r, "protocol-mismatch", tc.cause)
			require.Equal(t, checks.Critical, f.Severity)
			require.Equal(t, "SMB connection failed: protocol error", f.ScoringMessage)
			requireEvidenceAt(t, f, s.ConfPath(), confLine(t, s.ConfPath(), tc.line))
			require.NotNil(t, f.Fix)
			if tc.fix != "" {
				require.Equal(t, tc.fix, f.Fix.Changes[0].Value)
			}
			if tc.cause == "encryption-required" {
				require.Equal(t, enc, f.Fix.Changes[0].Param, "the release's name of the setting")
			}
			require.False(t, f.Fix.EnablesSMB1, "never NT1 for these clients")
			require.NotEmpty(t, f.Decision)
			require.NotEmpty(t, f.Commands)
		})
	}
}

func TestDiagnoseNT1ServerServesPysmb(t *testing.T) {
	t.Parallel()
	// pysmb offers NT LM 0.12: an NT1-only server serves it (over SMB1);
	// what remains is the SMB1 warning.
	s := startDiag(t, harness.Config{Global: []string{"server min protocol = NT1", "server max protocol = NT1"}})
	r := diagnose(t, diagArgs(s)...)
	for _, f := range r.report.Findings {
		require.NotEqual(t, "protocol-mismatch", f.Pattern, "%+v", f)
	}
	f := finding(t, r, "smb1-enabled", "smb1-not-needed")
	require.Equal(t, checks.Warning, f.Severity)
	requireEvidenceAt(t, f, s.ConfPath(), confLine(t, s.ConfPath(), "server min protocol = NT1"))
}

func TestDiagnoseSMB1Enabled(t *testing.T) {
	t.Parallel()
	s := startDiag(t, harness.Config{Global: []string{"server min protocol = NT1"}})
	r := diagnose(t, diagArgs(s)...)
	require.Equal(t, 1, r.code, "a warning")
	f := finding(t, r, "smb1-enabled", "smb1-not-needed")
	requireEvidenceAt(t, f, s.ConfPath(), confLine(t, s.ConfPath(), "server min protocol = NT1"))
	require.Equal(t, "SMB2_02", f.Fix.Changes[0].Value)
}

func TestDiagnoseConnectionRefused(t *testing.T) {
	t.Parallel()
	t.Run("smbd stopped", func(t *testing.T) {
		t.Parallel()
		s := startDiag(t, harness.Config{})
		require.NoError(t, s.Stop())
		r := diagnose(t, diagArgs(s)...)
		require.Equal(t, 2, r.code)
		f := finding(t, r, "connection-refused", "smbd-not-running")
		require.Equal(t, "SMB operation failed: [Errno 111] Connection refused", f.ScoringMessage)
		require.Equal(t, checks.FixStart, f.Fix.Kind)
		for _, x := range r.report.Findings {
			require.NotEqual(t, "login-failed", x.Pattern, "no login-failed while connection-refused fires")
		}
	})
	t.Run("wrong port", func(t *testing.T) {
		t.Parallel()
		s := startDiag(t, harness.Config{})
		other, err := harness.FreePort()
		require.NoError(t, err)
		args := diagArgs(s)
		for i := range args {
			if args[i] == s.Addr() {
				args[i] = net.JoinHostPort("127.0.0.1", strconv.Itoa(other))
			}
		}
		r := diagnose(t, args...)
		require.Equal(t, 2, r.code)
		f := finding(t, r, "connection-refused", "wrong-port")
		requireEvidenceAt(t, f, s.ConfPath(), confLine(t, s.ConfPath(), "smb ports = "))
		require.Contains(t, f.Fix.Changes[0].Value, strconv.Itoa(other))
	})
	t.Run("bound elsewhere", func(t *testing.T) {
		t.Parallel()
		// IPv4 only; the engine connects to ::1.
		s := startDiag(t, harness.Config{Global: []string{"interfaces = 127.0.0.1"}})
		args := diagArgs(s)
		for i := range args {
			if args[i] == s.Addr() {
				args[i] = net.JoinHostPort("::1", strconv.Itoa(s.Port()))
			}
		}
		r := diagnose(t, args...)
		require.Equal(t, 2, r.code)
		f := finding(t, r, "connection-refused", "bound-to-other-interface")
		requireEvidenceAt(t, f, s.ConfPath(), confLine(t, s.ConfPath(), "interfaces = 127.0.0.1"))
	})
}

// TestDiagnoseHostUnreachable runs the agent inside a network namespace
// made by the test, where an "unreachable" route makes connect() fail with
// EHOSTUNREACH without a packet leaving the host (as in
// TestProbeHostUnreachableInNetns); no local address covers the target.
func TestDiagnoseHostUnreachable(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2 (ip) to create a network namespace")
	}
	ns := fmt.Sprintf("agtdiag%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace here: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	for _, args := range [][]string{{"-n", ns, "link", "set", "lo", "up"}, {"-n", ns, "route", "add", "unreachable", "10.254.7.0/24"}} {
		out, err := exec.Command("ip", args...).CombinedOutput()
		require.NoError(t, err, "ip %v: %s", args, out)
	}
	s := startDiag(t, harness.Config{})
	inNS := func(t *testing.T, target string) diagRun {
		args := diagArgs(s, "--timeout", "2s")
		for i := range args {
			if args[i] == s.Addr() {
				args[i] = target
			}
		}
		return diagnoseWrapped(t, []string{"ip", "netns", "exec", ns}, args...)
	}
	t.Run("unreachable route", func(t *testing.T) {
		r := inNS(t, "10.254.7.1:445")
		require.Equal(t, 2, r.code)
		f := finding(t, r, "host-unreachable", "address-missing")
		require.Equal(t, "SMB operation failed: [Errno 113] Host is unreachable", f.ScoringMessage)
		require.NotEmpty(t, f.Evidence)
	})
	// No route at all in the namespace: connect() fails with ENETUNREACH.
	t.Run("no route", func(t *testing.T) {
		r := inNS(t, "10.254.9.1:445")
		require.Equal(t, 2, r.code)
		require.Equal(t, checks.Critical, r.report.Status)
		f := finding(t, r, "host-unreachable", "no-route")
		require.Equal(t, "cause no-route", f.Decision[len(f.Decision)-1].Answer)
	})
	// The namespace has no route to any resolver, so no name resolves and
	// no query leaves the host.
	t.Run("name does not resolve", func(t *testing.T) {
		r := inNS(t, "nonexist.invalid:445")
		require.Equal(t, 2, r.code)
		require.Equal(t, checks.Critical, r.report.Status)
		f := finding(t, r, "host-unreachable", "name-does-not-resolve")
		require.Contains(t, f.Evidence[0].Text, "nonexist.invalid")
		require.Equal(t, "dial", f.Decision[0].Node)
	})
}

func TestDiagnoseTimeout(t *testing.T) {
	t.Parallel()
	t.Run("smbd stopped with SIGSTOP", func(t *testing.T) {
		t.Parallel()
		s := startDiag(t, harness.Config{})
		require.NoError(t, s.Signal(syscall.SIGSTOP))
		t.Cleanup(func() { _ = s.Signal(syscall.SIGCONT) })
		r := diagnose(t, diagArgs(s, "--timeout", "2s")...)
		require.Equal(t, 2, r.code)
		f := finding(t, r, "timeout", "smbd-stopped")
		require.Equal(t, "SMB operation timed out in 5 seconds", f.ScoringMessage)
	})
	t.Run("silent listener", func(t *testing.T) {
		t.Parallel()
		s := startDiag(t, harness.Config{})
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(func() { _ = l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				t.Cleanup(func() { _ = c.Close() })
			}
		}()
		args := diagArgs(s, "--timeout", "2s")
		for i := range args {
			if args[i] == s.Addr() {
				args[i] = l.Addr().String()
			}
		}
		r := diagnose(t, args...)
		require.Equal(t, 2, r.code)
		finding(t, r, "timeout", "silent-listener")
	})
}

func TestDiagnoseConnectionReset(t *testing.T) {
	t.Parallel()
	// smbd-notifyd and smbd-cleanupd take both slots: no client gets in.
	s := startDiag(t, harness.Config{Global: []string{"max smbd processes = 2"}})
	r := diagnose(t, diagArgs(s)...)
	require.Equal(t, 2, r.code)
	f := finding(t, r, "connection-reset", "max-smbd-processes")
	requireEvidenceAt(t, f, s.ConfPath(), confLine(t, s.ConfPath(), "max smbd processes = 2"))
}

func TestDiagnoseIPCUnavailable(t *testing.T) {
	t.Parallel()
	t.Run("invalid users", func(t *testing.T) {
		t.Parallel()
		s := startDiag(t, harness.Config{Global: []string{"invalid users = " + probeUser}})
		r := diagnose(t, diagArgs(s)...)
		require.Equal(t, 2, r.code)
		f := finding(t, r, "ipc-unavailable", "ipc-user-denied")
		require.Equal(t, "SMB operation failed: Failed to list shares: Unable to connect to IPC$", f.ScoringMessage)
		requireEvidenceAt(t, f, s.ConfPath(), confLine(t, s.ConfPath(), "invalid users = "))
	})
	t.Run("[IPC$] hosts deny for the remote checker", func(t *testing.T) {
		t.Parallel()
		s := startDiag(t, harness.Config{Shares: []harness.Share{{Name: "data"}, {Name: "IPC$", Lines: []string{"hosts deny = 0.0.0.0/0"}}}})
		r := diagnose(t, diagArgs(s, "--remote-client-ip", "10.20.30.40")...)
		require.Equal(t, 2, r.code)
		f := finding(t, r, "ipc-unavailable", "ipc-section-hosts")
		requireEvidenceAt(t, f, s.ConfPath(), confLine(t, s.ConfPath(), "hosts deny = 0.0.0.0/0"))
		require.Contains(t, f.Fix.Changes[0].Value, "10.20.30.40")
	})
}

func TestDiagnoseRPCEndpointMissing(t *testing.T) {
	t.Parallel()
	const msg = "SMB operation failed: Failed to list shares: Unable to locate Server Service RPC endpoint"
	t.Run("rpc start on demand helpers = no", func(t *testing.T) {
		t.Parallel()
		s := startDiag(t, harness.Config{Global: []string{"rpc start on demand helpers = no"}})
		r := diagnose(t, diagArgs(s)...)
		line := confLine(t, s.ConfPath(), "rpc start on demand helpers = no")
		if b, ok := releaseHas(t, "rpc-start-on-demand-helpers"); !ok {
			// Outside the range the parameter is unknown: smbd ignores the
			// line and serves srvsvc itself, so the listing works and the
			// only finding is the ignored line.
			require.Equal(t, 1, r.code, "%s: %s; here the line is ignored", b.Range(), b.Claim)
			f := finding(t, r, "config-invalid", "ignored-settings")
			requireEvidenceAt(t, f, s.ConfPath(), line)
			for _, x := range r.report.Findings {
				require.NotEqual(t, "rpc-endpoint-missing", x.Pattern, "%+v", x)
			}
			return
		}
		require.Equal(t, 2, r.code)
		f := finding(t, r, "rpc-endpoint-missing", "on-demand-helpers-off")
		requireEvidenceAt(t, f, s.ConfPath(), line)
		require.Equal(t, msg, f.ScoringMessage)
	})
	t.Run("nt pipe support = no", func(t *testing.T) {
		t.Parallel()
		// Every release refuses named pipes with this line, whether smbd
		// serves them itself or through samba-dcerpcd.
		s := startDiag(t, harness.Config{Global: []string{"nt pipe support = no"}})
		r := diagnose(t, diagArgs(s)...)
		require.Equal(t, 2, r.code)
		f := finding(t, r, "rpc-endpoint-missing", "nt-pipe-support-off")
		requireEvidenceAt(t, f, s.ConfPath(), confLine(t, s.ConfPath(), "nt pipe support = no"))
		require.Equal(t, msg, f.ScoringMessage)
		require.True(t, f.Fix.Changes[0].Remove, "back to the default (yes)")
	})
}

func TestDiagnoseLoginFailed(t *testing.T) {
	t.Parallel()
	// auth_audit:2 writes why a login failed, as the agent recommends; the
	// first run's failed login is the evidence the second run reads.
	for _, tc := range []struct {
		name, cause string
		user        string
		stage       func(t *testing.T, s *harness.Smbd)
	}{
		{"wrong password", "wrong-password", probeUser, func(t *testing.T, s *harness.Smbd) {
			require.NoError(t, s.AddUser(harness.User{Name: probeUser, Password: "s0mething-else"}))
		}},
		{"unknown user", "user-not-in-passdb", "nobody", func(*testing.T, *harness.Smbd) {}},
		{"disabled", "account-disabled", probeUser, func(t *testing.T, s *harness.Smbd) { require.NoError(t, s.DisableUser(probeUser)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startDiag(t, harness.Config{LogLevel: "1 auth_audit:2"})
			tc.stage(t, s)
			args := diagArgs(s)
			for i := range args {
				if args[i] == probeUser {
					args[i] = tc.user
				}
			}
			_ = diagnose(t, args...) // leaves the failed login in smbd's log
			r := diagnose(t, args...)
			require.Equal(t, 2, r.code)
			f := finding(t, r, "login-failed", tc.cause)
			require.Equal(t, "Failed to connect to host: 127.0.0.1", f.ScoringMessage)
			require.NotEmpty(t, f.Evidence)
		})
	}
}

func TestDiagnoseShareUnavailable(t *testing.T) {
	t.Parallel()
	t.Run("missing", func(t *testing.T) {
		t.Parallel()
		s := startDiag(t, harness.Config{})
		args := diagArgs(s)
		args[len(args)-3] = "nosuch" // --share nosuch
		r := diagnose(t, args...)
		require.Equal(t, 2, r.code)
		finding(t, r, "share-unavailable", "share-missing")
	})
	t.Run("denied", func(t *testing.T) {
		t.Parallel()
		s := startDiag(t, harness.Config{Shares: []harness.Share{{Name: "data", Lines: []string{"valid users = nobody"}}}})
		r := diagnose(t, diagArgs(s)...)
		require.Equal(t, 2, r.code)
		f := finding(t, r, "share-unavailable", "share-user-denied")
		requireEvidenceAt(t, f, s.ConfPath(), confLine(t, s.ConfPath(), "valid users = nobody"))
	})
}

func TestDiagnoseStaleConfig(t *testing.T) {
	t.Parallel()
	// smb ports edited without a restart: smbd still listens on the old
	// port (reload does not rebind sockets: source3/smbd/server.c binds them
	// once, at start).
	s := startDiag(t, harness.Config{})
	newPort, err := harness.FreePort()
	require.NoError(t, err)
	old := fmt.Sprintf("smb ports = %d", s.Port())
	editConf(t, s.ConfPath(), func(c string) string { return strings.Replace(c, old, fmt.Sprintf("smb ports = %d", newPort), 1) })
	r := diagnose(t, diagArgs(s)...)
	f := finding(t, r, "stale-config", "listen-settings-not-applied")
	requireEvidenceAt(t, f, s.ConfPath(), confLine(t, s.ConfPath(), "smb ports = "))
	require.Equal(t, checks.FixRestart, f.Fix.Kind)
	require.Contains(t, f.Summary, strconv.Itoa(newPort))
}

func TestDiagnoseConfigInvalid(t *testing.T) {
	t.Parallel()
	s := startDiag(t, harness.Config{})
	editConf(t, s.ConfPath(), func(c string) string {
		return strings.Replace(c, "[global]\n", "[global]\n   server min protocol = SMB4\n", 1)
	})
	r := diagnose(t, diagArgs(s)...)
	require.Equal(t, 2, r.code)
	f := finding(t, r, "config-invalid", "load-fails")
	requireEvidenceAt(t, f, s.ConfPath(), confLine(t, s.ConfPath(), "server min protocol = SMB4"))
}

func TestDiagnoseBadInput(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--client", "no-such-client"},
		{"--client-dialects", "SMB3_11-NT1"},
		{"--format", "xml"},
		{"--target", "nohost"},
		{"--timeout", "-1s"},
		{"unexpected-argument"},
	} {
		r := diagnose(t, args...)
		require.Equal(t, 3, r.code, "%v", args)
		require.Empty(t, r.stdout)
		require.True(t, strings.HasPrefix(r.stderr, "agent: "), r.stderr)
		require.Equal(t, 1, strings.Count(strings.TrimSpace(r.stderr), "\n")+1, "one line: %q", r.stderr)
	}
}

func TestDiagnoseNagiosAndText(t *testing.T) {
	t.Parallel()
	s := startDiag(t, harness.Config{Global: []string{"server min protocol = SMB3"}})
	bin := requireAgent(t)
	run := func(args ...string) (int, string) {
		ctx, cancel := context.WithTimeout(context.Background(), diagHang)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append([]string{"diagnose", "--config", "/dev/null"}, args...)...)
		cmd.Env = []string{"PATH=" + harness.ReleasePath("/usr/sbin:/usr/bin:/sbin:/bin"), "SMB_AGENT_PASSWORD=" + probePass, "NO_COLOR=1", "SMB_AGENT_LOGS_JOURNAL=false"}
		out, _ := cmd.Output()
		return cmd.ProcessState.ExitCode(), string(out)
	}
	code, out := run(append(diagArgs(s), "--format", "nagios")...)
	require.Equal(t, 2, code)
	require.True(t, strings.HasPrefix(out, "SMB CRITICAL - protocol-mismatch: "), out)
	require.Equal(t, 1, strings.Count(out, "\n"))
	require.Contains(t, out, "| dialects_live=1;;;0;6")
	code, out = run(diagArgs(s)...)
	require.Equal(t, 2, code)
	require.True(t, strings.HasPrefix(out, "CRITICAL protocol-mismatch: "), out)
	require.NotContains(t, out, "\x1b[")
	require.Contains(t, out, s.ConfPath()+":")
}

func TestDiagnoseConnectFailed(t *testing.T) {
	t.Parallel()
	t.Run("[global] hosts deny for the remote checker", func(t *testing.T) {
		t.Parallel()
		// The probes come from loopback, which Samba always lets in: the
		// remote checker's address is judged from smb.conf, as
		// `testparm CONF HOST IP` does. No packet goes to 10.20.30.40.
		s := startDiag(t, harness.Config{Global: []string{"hosts deny = 10.20.30.0/24"}})
		r := diagnose(t, diagArgs(s, "--remote-client-ip", "10.20.30.40")...)
		require.Equal(t, 2, r.code)
		f := finding(t, r, "connect-failed", "hosts-deny-global")
		requireEvidenceAt(t, f, s.ConfPath(), confLine(t, s.ConfPath(), "hosts deny = 10.20.30.0/24"))
		require.NotNil(t, f.Fix)
		require.Equal(t, checks.FixConfig, f.Fix.Kind)

		// The same smbd, judged for an address the list does not name: OK.
		r = diagnose(t, diagArgs(s, "--remote-client-ip", "10.20.31.40")...)
		for _, f := range r.report.Findings {
			require.NotEqual(t, "connect-failed", f.Pattern, "%+v", f)
		}
	})
	t.Run("[global] hosts deny naming loopback refuses the agent itself", func(t *testing.T) {
		t.Parallel()
		// smbd lets loopback through unless hosts deny names it
		// (source3/lib/access.c); named, it sends a negative session
		// response, which pysmb reads as a bad header (nmb_structs.py).
		s := startDiag(t, harness.Config{Global: []string{"hosts deny = 127.0.0.1"}})
		r := diagnose(t, diagArgs(s)...)
		require.Equal(t, 2, r.code)
		require.Equal(t, checks.Critical, r.report.Status)
		f := finding(t, r, "connect-failed", "hosts-deny-global")
		require.Equal(t, "SMB operation failed: Invalid protocol header for Direct TCP session message", f.ScoringMessage)
		requireEvidenceAt(t, f, s.ConfPath(), confLine(t, s.ConfPath(), "hosts deny = 127.0.0.1"))
		require.Contains(t, f.Fix.Changes[0].Value, "127.0.0.1")
		for _, x := range r.report.Findings {
			require.NotEqual(t, "non-smb-listener", x.Cause, "%+v", x)
		}
	})
	t.Run("a program that is not smbd holds the port", func(t *testing.T) {
		t.Parallel()
		s := startDiag(t, harness.Config{})
		peer, err := harness.StartFakePeer(func(c net.Conn) {
			_, _ = c.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
		})
		require.NoError(t, err)
		t.Cleanup(func() { _ = peer.Close() })
		args := []string{"--smb-conf", s.ConfPath(), "--target", peer.Addr(), "--user", probeUser, "--share", "data", "--timeout", "5s"}
		r := diagnose(t, args...)
		require.Equal(t, 2, r.code)
		f := finding(t, r, "connect-failed", "non-smb-listener")
		require.Contains(t, f.Summary, strconv.Itoa(peer.Port()))
	})
}

// rpcWorkers are the rpcd_classic processes samba-dcerpcd started for s
// (they detach, so they are found by the config file on their command line).
func rpcWorkers(t *testing.T, s *harness.Smbd) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	require.NoError(t, err)
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) > 1 && filepath.Base(args[0]) == "rpcd_classic" && strings.Contains(string(b), s.Dir()+"/") {
			out = append(out, pid)
		}
	}
	return out
}

func TestDiagnoseRPCBindFailed(t *testing.T) {
	t.Parallel()
	if b, ok := releaseHas(t, "samba-dcerpcd"); !ok {
		t.Skipf("samba-dcerpcd is %s (%s): no rpcd_classic worker to kill on this release, which serves srvsvc in the connection's own smbd child (TestBehaviours observes which; TestDiagnoseRPCEndpointMissing/nt_pipe_support_=_no is this release's RPC failure)", b.Range(), b.Claim)
	}
	// The seed's "Unable to bind to Server Service RPC endpoint": the srvsvc
	// pipe opens, and the rpcd_classic worker behind it dies before it
	// answers the bind (staged here as a worker that hangs, then is killed,
	// standing for a crash, an OOM kill or an admin's kill).
	s := startDiag(t, harness.Config{})
	require.NoError(t, s.WarmRPC(harness.User{Name: probeUser, Password: probePass}, 20*time.Second))
	var workers []int
	for i := 0; i < 100 && len(workers) == 0; i++ {
		workers = rpcWorkers(t, s)
		time.Sleep(50 * time.Millisecond)
	}
	require.NotEmpty(t, workers, "no rpcd_classic worker after a share listing")
	for _, p := range workers {
		require.NoError(t, syscall.Kill(p, syscall.SIGSTOP))
	}
	t.Cleanup(func() {
		for _, p := range workers {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
	})
	// Two seconds into the run the agent is waiting for the bind reply:
	// kill the hung workers then (from a timer, so that the test's own
	// goroutine runs the agent and may fail).
	killed := time.AfterFunc(2*time.Second, func() {
		for _, p := range workers {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
	})
	defer killed.Stop()
	r := diagnose(t, diagArgs(s, "--timeout", "8s")...)
	require.Equal(t, 2, r.code)
	f := finding(t, r, "rpc-bind-failed", "")
	require.Equal(t, "SMB operation failed: Failed to list shares: Unable to bind to Server Service RPC endpoint", f.ScoringMessage)
	require.Contains(t, []string{"rpc-worker-died", "rpc-bind-transient"}, f.Cause)
}

// A Samba release newer than every table the agent has: the nearest
// table reads smb.conf, and the report says so as a warning.
func TestDiagnoseSambaReleaseUnknown(t *testing.T) {
	t.Parallel()
	s := startDiag(t, harness.Config{})
	r := diagnose(t, diagArgs(s, "--samba-version", "4.99.1")...)
	require.Equal(t, 1, r.code, "a warning: %+v", r.report.Findings)
	f := finding(t, r, "samba-release-unknown", "newer-than-known")
	require.Contains(t, f.Summary, "4.99.1")
}
