package agent

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const unitPath = "../configs/smb-agent.service"

// unitDirectives reads "Key=Value" lines (values of repeated keys joined
// with a newline), ignoring comments and sections.
func unitDirectives(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(unitPath)
	require.NoError(t, err)
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		require.True(t, ok, "not a directive: %q", line)
		if prev, seen := out[k]; seen {
			v = prev + "\n" + v
		}
		out[k] = v
	}
	require.NoError(t, sc.Err())
	return out
}

// TestUnitHardening pins what the issue asks of the unit, so that an edit
// cannot quietly drop a protection.
func TestUnitHardening(t *testing.T) {
	u := unitDirectives(t)
	for k, want := range map[string]string{
		"Type":                    "notify",
		"ExecStart":               "/usr/local/bin/agent serve --config /etc/smb-agent/agent.yaml",
		"ExecReload":              "/bin/kill -HUP $MAINPID",
		"Restart":                 "on-failure",
		"NoNewPrivileges":         "yes",
		"ProtectSystem":           "strict",
		"ProtectHome":             "read-only",
		"PrivateTmp":              "yes",
		"ProtectKernelTunables":   "yes",
		"ProtectKernelModules":    "yes",
		"ProtectKernelLogs":       "yes",
		"ProtectControlGroups":    "yes",
		"RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6 AF_NETLINK",
		"StateDirectory":          "smb-agent",
		"RuntimeDirectory":        "smb-agent",
	} {
		require.Equal(t, want, u[k], k)
	}
	require.NotEmpty(t, u["WatchdogSec"])
	require.Contains(t, u["SystemCallFilter"], "@system-service")
	require.Contains(t, u["ReadOnlyPaths"], "/etc/samba")
	caps := strings.Fields(u["CapabilityBoundingSet"])
	require.NotEmpty(t, caps, "an empty bounding set line would mean every capability")
	for _, c := range caps {
		require.Contains(t, []string{"CAP_DAC_READ_SEARCH", "CAP_NET_ADMIN", "CAP_SYS_PTRACE"}, c,
			"capability %s: explain it in the unit and here before adding it", c)
	}
	_, writable := u["ReadWritePaths"]
	require.False(t, writable, "the daemon writes only to its State/RuntimeDirectory")
}

// TestUnitVerifies runs systemd-analyze verify on a copy of the unit whose
// ExecStart points at an executable that exists (verify checks that). The
// copy uses this test binary: verify only needs an executable file, and
// building cmd/agent here would tie this package's tests to every command.
func TestUnitVerifies(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	self, err := os.Executable()
	require.NoError(t, err)
	dir := t.TempDir()
	bin := filepath.Join(dir, "agent")
	copyFile(t, self, bin, 0o755)
	unit, err := os.ReadFile(unitPath)
	require.NoError(t, err)
	require.Contains(t, string(unit), "ExecStart=/usr/local/bin/agent ")
	copyUnit := filepath.Join(dir, "smb-agent.service")
	require.NoError(t, os.WriteFile(copyUnit,
		[]byte(strings.ReplaceAll(string(unit), "/usr/local/bin/agent", bin)), 0o644))

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, sa, "verify", copyUnit)
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_COLOR=0")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "systemd-analyze verify:\n%s", out)
	// verify exits 0 on unknown or misspelt keys and only warns: any
	// message about our unit is a failure.
	for _, line := range strings.Split(string(out), "\n") {
		require.NotContains(t, line, "smb-agent.service", "systemd-analyze verify:\n%s", out)
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(from)
	require.NoError(t, err)
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	require.NoError(t, err)
	_, err = io.Copy(out, in)
	require.NoError(t, err)
	require.NoError(t, out.Close())
}
