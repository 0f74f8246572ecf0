package test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/test/harness"
)

// evilShare is a share name a hostile smb.conf author (or a hostile
// server) chooses: HTML and a terminal escape that clears the screen and
// turns the text red.
const evilShare = "x<script>\x1b[2J\x1b[31mred"

// A real smbd serves a share whose name holds an escape sequence, and
// refuses the scoring user on it; the text report of diagnose names the
// share escaped, never with the raw ESC byte, and JSON keeps it exact.
func TestEscapeShareNameFromServerE2E(t *testing.T) {
	s := startDiag(t, harness.Config{Shares: []harness.Share{{Name: "data"}, {Name: evilShare, Lines: []string{"valid users = nobody"}}}})
	bin := requireAgent(t)
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "agent.yaml")
	require.NoError(t, os.WriteFile(cfgFile, []byte("logs:\n  journal: false\n"), 0o600))
	run := func(args ...string) (string, string) {
		ctx, cancel := context.WithTimeout(context.Background(), diagHang)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append([]string{"diagnose", "--config", cfgFile, "--color", "never"}, args...)...)
		cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + dir, "SMB_AGENT_PASSWORD=" + probePass}
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		_ = cmd.Run()
		require.NoError(t, ctx.Err(), "diagnose hung")
		return out.String(), errb.String()
	}
	args := diagArgs(s)
	args[len(args)-3] = evilShare // the scored share: smbd refuses the user, and the finding names it
	out, errOut := run(args...)
	t.Logf("text report:\n%s\nstderr: %s", out, errOut)
	require.NotContains(t, out+errOut, "\x1b", "a raw ESC reached the terminal")
	require.Contains(t, out, `x<script>\x1b[2J\x1b[31mred`, "the share name, escaped")

	jsonOut, _ := run(append(args, "--json")...)
	require.Contains(t, jsonOut, `"section": "x<script>\u001b[2J\u001b[31mred"`, "JSON keeps the exact name")
	require.False(t, strings.Contains(jsonOut, "\x1b"))
}
