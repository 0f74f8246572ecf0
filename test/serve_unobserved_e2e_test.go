package test

// `agent serve` against targets it cannot observe: each round is CRITICAL
// with the pattern and cause `agent diagnose` gives, on /status and as
// smb_agent_status 2 — never OK.

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks"
	"github.com/smb-agent/smb-agent/test/harness"
)

// requireServeCritical waits for a round that reports pattern/cause and
// checks /status and the status metrics.
func requireServeCritical(t *testing.T, sv *served, pattern, cause string) {
	t.Helper()
	// A round that was running when the fault began may see half of it
	// (a SIGSTOP between negotiate and listing): wait for one that
	// started after it.
	var rep *checks.Report
	sv.waitFor(t, pattern+"/"+cause+" on /status", func() bool {
		rep = sv.status(t)
		for _, f := range rep.Findings {
			if f.Pattern == pattern && f.Cause == cause {
				return true
			}
		}
		return false
	})
	require.Equal(t, checks.Critical, rep.Status)
	m := sv.metrics(t)
	require.Equal(t, 2.0, metric(t, m, "smb_agent_status"))
	require.Equal(t, 2.0, metric(t, m, "smb_agent_check_status", "pattern", pattern))
}

func TestServeUnobservedTargetIsCritical(t *testing.T) {
	cfg := harness.Config{
		Users:  []harness.User{{Name: probeUser, Password: probePass}},
		Shares: []harness.Share{{Name: "data"}},
	}
	t.Run("smbd stopped with SIGSTOP", func(t *testing.T) {
		s := harness.StartT(t, cfg)
		sv := startServe(t, s, "logs:\n  journal: false\n", "--timeout", "2s")
		require.NoError(t, s.Signal(syscall.SIGSTOP))
		t.Cleanup(func() { _ = s.Signal(syscall.SIGCONT) })
		requireServeCritical(t, sv, "timeout", "smbd-stopped")
	})
	t.Run("closed port", func(t *testing.T) {
		s := harness.StartT(t, cfg)
		port, err := harness.FreePort()
		require.NoError(t, err)
		sv := startServe(t, s, "logs:\n  journal: false\n", "--target", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		requireServeCritical(t, sv, "connection-refused", "wrong-port")
	})
	t.Run("name does not resolve and no route, in a network namespace", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("needs root to create a network namespace")
		}
		ns := fmt.Sprintf("agtserve%d", os.Getpid())
		out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput()
		require.NoError(t, err, "ip netns add: %s", out)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
		out, err = exec.Command("ip", "-n", ns, "link", "set", "lo", "up").CombinedOutput()
		require.NoError(t, err, "%s", out)
		s := harness.StartT(t, cfg)
		sv := startServeIn(t, ns, s, "logs:\n  journal: false\n", "--target", "nonexist.invalid:445", "--timeout", "2s")
		requireServeCritical(t, sv, "host-unreachable", "name-does-not-resolve")
		sv2 := startServeIn(t, ns, s, "logs:\n  journal: false\n", "--target", "10.254.9.1:445", "--timeout", "2s")
		requireServeCritical(t, sv2, "host-unreachable", "no-route")
	})
}
