package catalog

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/test/harness"
)

// sandboxConfig is a real smbd on a free loopback port (test/harness:
// every path under a temp dir, nothing touches /etc/samba), with one share
// that guests can list.
func sandboxConfig(global ...string) harness.Config {
	return harness.Config{
		Global: append([]string{"map to guest = bad user"}, global...),
		Shares: []harness.Share{{Name: "data"}},
	}
}

func startSandboxSmbd(t *testing.T) *harness.Smbd {
	t.Helper()
	return harness.StartT(t, sandboxConfig())
}

// sandboxVars are the values the catalog's commands are rendered with.
func sandboxVars(s *harness.Smbd) Vars {
	return Vars{
		SmbConf:  s.ConfPath(),
		Port:     s.Port(),
		Host:     "127.0.0.1",
		User:     "nobody",
		Share:    "data",
		LogDir:   filepath.Join(s.Dir(), "log"),
		PidDir:   filepath.Join(s.Dir(), "pid"),
		ClientIP: "127.0.0.1",
	}
}

func needSamba(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a real smbd; skipped with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to run smbd")
	}
	for _, b := range []string{"smbd", "testparm", "smbclient", "smbcontrol", "bash"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Skipf("needs %s (Samba 4.17 tools)", b)
		}
	}
}

// runShell runs one rendered catalog command the way the person it is written
// for would: pasted into bash. A shell is the point here (the commands use
// $(...), ; and redirections); the text comes from our templates and the
// sandbox's own values, and stdin is empty so nothing can prompt.
func runShell(t *testing.T, command string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", command)
	cmd.Stdin = strings.NewReader("")
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	require.NoError(t, ctx.Err(), "command hung: %s", command)
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %q: %v", command, err)
	}
	return string(out), code
}

// TestReadOnlyCommandsRunOnSamba runs every read-only command of the catalog
// against a sandboxed Samba and checks the tools accept its syntax (no
// "unknown option", no usage text, command found). Commands whose tool is not
// installed here (nft, iptables, firewall-cmd) are skipped one by one.
func TestReadOnlyCommandsRunOnSamba(t *testing.T) {
	needSamba(t)
	s := startSandboxSmbd(t)
	v := sandboxVars(s)
	ran := 0
	seen := map[string]bool{}
	forEachStep(t, func(where string, st Step) {
		if !st.ReadOnly || strings.HasPrefix(strings.TrimSpace(st.Command), "#") {
			return
		}
		cmd, err := st.Render(v)
		require.NoError(t, err, where)
		// -U would prompt for a password; the syntax is the same with -N.
		cmd = strings.ReplaceAll(cmd, "-U nobody", "-N")
		if seen[cmd] {
			return
		}
		seen[cmd] = true
		tool := strings.Fields(cmd)[0]
		if _, err := exec.LookPath(tool); err != nil {
			t.Logf("skip (no %s here): %s", tool, cmd)
			return
		}
		out, code := runShell(t, cmd)
		ran++
		require.NotEqual(t, 127, code, "%s: command not found: %s\n%s", where, cmd, out)
		require.NotEqual(t, 126, code, "%s: not executable: %s\n%s", where, cmd, out)
		for _, bad := range []string{"unknown option", "invalid option", "unrecognized option", "Usage:", "bad argument", "syntax error"} {
			require.NotContains(t, out, bad, "%s: %s\n%s", where, cmd, out)
		}
	})
	require.Greater(t, ran, 30, "most catalog commands run here")
}

// TestCommandExpectationsOnSamba checks what the key commands print against a
// healthy sandbox, as their "expect" text says.
func TestCommandExpectationsOnSamba(t *testing.T) {
	needSamba(t)
	s := startSandboxSmbd(t)
	v := sandboxVars(s)
	render := func(patternID, title string) string {
		p, ok := Get(patternID)
		require.True(t, ok)
		for _, st := range p.Commands {
			if st.Title == title {
				out, err := st.Render(v)
				require.NoError(t, err)
				return strings.ReplaceAll(out, "-U nobody", "-N")
			}
		}
		t.Fatalf("%s has no command %q", patternID, title)
		return ""
	}

	out, code := runShell(t, render("protocol-mismatch", "Effective server min protocol"))
	require.Equal(t, 0, code)
	require.Contains(t, out, "SMB2_02")

	out, code = runShell(t, render("protocol-mismatch", "Reproduce the engine's negotiate with smbclient"))
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "IPC$")

	out, _ = runShell(t, render("smb1-enabled", "Does smbd accept an SMB1-only client?"))
	require.Contains(t, out, "No compatible protocol selected by server")

	out, code = runShell(t, render("timeout", "Does the parent answer messages?"))
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "PONG from pid")

	out, code = runShell(t, render("ipc-unavailable", "Is there an explicit [IPC$] section?"))
	require.Equal(t, 1, code)
	require.Contains(t, out, "Unknown section IPC$")

	out, _ = runShell(t, render("connection-refused", "Who listens on the port, on which addresses?"))
	require.Contains(t, out, fmt.Sprintf("127.0.0.1:%d", s.Port()))
	require.Contains(t, out, `"smbd"`)

	// The headline case: raise server min protocol; new connections read it
	// without reload, and the engine-like negotiate fails as documented.
	require.NoError(t, s.WriteConf(sandboxConfig("server min protocol = SMB3")))
	out, code = runShell(t, render("protocol-mismatch", "Effective server min protocol"))
	require.Equal(t, 0, code)
	require.Contains(t, out, "SMB3")
	out, code = runShell(t, render("protocol-mismatch", "Reproduce the engine's negotiate with smbclient"))
	require.NotEqual(t, 0, code)
	require.Contains(t, out, "No compatible protocol selected by server")

	// The fix the checks package proposes for this cause, then the
	// catalog's proof steps.
	p, _ := Get("protocol-mismatch")
	cause, ok := p.Cause("server-min-above-client-max")
	require.True(t, ok)
	require.Equal(t, ApplyNone, cause.Fix.Apply)
	require.NoError(t, s.WriteConf(sandboxConfig("server min protocol = SMB2_02")))
	for _, st := range cause.Fix.Steps {
		cmd, err := st.Render(v)
		require.NoError(t, err)
		out, code := runShell(t, strings.ReplaceAll(cmd, "-U nobody", "-N"))
		require.Equal(t, 0, code, "%s\n%s", cmd, out)
	}
}
