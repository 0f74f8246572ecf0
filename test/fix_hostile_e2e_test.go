package test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// connectedTo says whether any TCP connection to 127.0.0.1:port is
// established (the agent's probe waiting on a stopped smbd).
func connectedTo(port int) bool {
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return false
	}
	want := fmt.Sprintf(":%04X", port)
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// sl local rem st ...: the remote end is smbd's port, established.
		if len(f) > 3 && strings.HasSuffix(f[2], want) && f[3] == "01" {
			return true
		}
	}
	return false
}

// fixSignalDuringDiagnosis: sig while `fix --apply` diagnoses (the probe
// is waiting on an smbd that is stopped) ends the run with nothing
// written: no backup, no audit record, smb.conf byte-identical, and
// nothing to roll back. It returns the exit code (the README's table
// runs it with SIGINT).
func fixSignalDuringDiagnosis(t *testing.T, sig syscall.Signal) int {
	s, file, _ := protocolScenario(t, "smb.conf")
	e := newFixEnv(t, "")
	snap := snapshot(t, s.ConfPath(), file)
	require.NoError(t, s.Signal(syscall.SIGSTOP))
	defer s.Signal(syscall.SIGCONT)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := append([]string{"fix", "--config", e.cfg}, diagArgs(s, "--client-dialects", smb210, "--apply", "--yes")...)
	args = append(args[:len(args):len(args)], "--timeout", "60s")
	cmd := exec.CommandContext(ctx, requireAgent(t), args...)
	cmd.Env = e.environ()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	require.NoError(t, cmd.Start())
	for !connectedTo(s.Port()) {
		// (stderr is read only after the agent exits: the copy into
		// errb runs concurrently until then)
		require.NoError(t, ctx.Err(), "the agent never connected to smbd")
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Signal(sig))
	_ = cmd.Wait()
	require.NoError(t, ctx.Err(), "agent fix hung after %v: %s", sig, errb.String())
	t.Logf("exit %d\nstdout:\n%s\nstderr:\n%s", cmd.ProcessState.ExitCode(), out.String(), errb.String())
	require.Contains(t, errb.String(), "interrupted before anything was written: nothing was changed")
	requireSame(t, snap)
	noTemps(t, file)
	_, err := os.Stat(filepath.Join(e.dir, "backups"))
	require.True(t, os.IsNotExist(err), "no backup: the transaction never started")
	require.Empty(t, e.audit(t), "no transaction, no audit record")
	return cmd.ProcessState.ExitCode()
}

// TestFixSigtermDuringDiagnosis: as the README's row for SIGINT, with
// SIGTERM (what systemd and kill send).
func TestFixSigtermDuringDiagnosis(t *testing.T) {
	t.Parallel()
	require.Equal(t, 3, fixSignalDuringDiagnosis(t, syscall.SIGTERM))
}

// fixAuditLogUnwritable: the audit log's directory is a symlink
// (refused): the fix is applied and proven, the run says it could not be
// recorded, and nothing is written through the symlink. It returns the
// exit code (the README's table: 1).
func fixAuditLogUnwritable(t *testing.T) int {
	s, file, line := protocolScenario(t, "smb.conf")
	e := newFixEnv(t, "")
	elsewhere := t.TempDir()
	link := filepath.Join(e.dir, "audit-dir")
	require.NoError(t, os.Symlink(elsewhere, link))
	before := snapshot(t, file)[file]
	ctl := newSmbdCtl(t, s, nil)
	r := e.run(t, requireAgent(t), nil, append(diagArgs(s, "--client-dialects", smb210, "--restart-cmd", ctl.cmd(), "--reload-cmd", ctl.cmd()),
		"--apply", "--yes", "--audit-log", filepath.Join(link, "audit.jsonl"))...)
	require.Contains(t, r.stderr, "the fix is applied and proven, but it could not be recorded in the audit log")
	require.Contains(t, r.stdout, "[ok  ] prove")
	got, err := os.ReadFile(file)
	require.NoError(t, err)
	require.Equal(t, strings.Replace(string(before), line, strings.Replace(line, "SMB3", "SMB2_10", 1), 1), string(got))
	ents, err := os.ReadDir(elsewhere)
	require.NoError(t, err)
	require.Empty(t, ents)
	require.NoError(t, smbclientList(s, "SMB2_10"))
	return r.code
}

// TestFixUntrustedState: a backup directory another user owns is refused
// before anything is written (exit 3); a forged "in progress" manifest in
// the real backup directory is refused by recovery with a message, its
// target is left alone, and the fix itself goes ahead.
func TestFixUntrustedState(t *testing.T) {
	t.Parallel()
	s, file, _ := protocolScenario(t, "smb.conf")
	e := newFixEnv(t, "")
	ctl := newSmbdCtl(t, s, nil)
	args := append(diagArgs(s, "--client-dialects", smb210, "--restart-cmd", ctl.cmd(), "--reload-cmd", ctl.cmd()), "--apply", "--yes")
	snap := snapshot(t, file)

	theirs := filepath.Join(e.dir, "theirs")
	require.NoError(t, os.Mkdir(theirs, 0o755))
	require.NoError(t, os.Chown(theirs, 65534, 65534))
	r := e.run(t, requireAgent(t), nil, append(args, "--backup-dir", theirs)...)
	require.Equal(t, 3, r.code)
	require.Contains(t, r.stderr, "owned by uid 65534")
	requireSame(t, snap)
	ents, err := os.ReadDir(theirs)
	require.NoError(t, err)
	require.Empty(t, ents)

	victim := filepath.Join(t.TempDir(), "victim")
	require.NoError(t, os.WriteFile(victim, []byte("root only\n"), 0o600))
	id := "20200101T000000.000000000Z-1-abcd"
	tx := filepath.Join(e.dir, "backups", id)
	require.NoError(t, os.MkdirAll(tx, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(tx, "1-victim"), []byte("#!/bin/sh\n"), 0o600))
	forged := fmt.Sprintf(`{"format":"smb-agent-manifest/1","manifest":{"id":%q,"op":"apply","state":"in-progress","fixes":["x"],"action":"none","smb_conf":%q,"files":[{"path":%q,"real":%q,"backup":"","before_sha256":"%064d","after_sha256":"%064d","mode":2147484141,"uid":0,"gid":0}]},"hmac_sha256":"%064d"}`,
		id, s.ConfPath(), victim, victim, 0, 0, 0)
	require.NoError(t, os.WriteFile(filepath.Join(tx, "manifest.json"), []byte(forged), 0o600))
	r = e.run(t, requireAgent(t), nil, args...)
	require.Equal(t, 0, r.code)
	require.Contains(t, r.stderr, "recover interrupted fixes")
	require.Contains(t, r.stderr, "manifest refused")
	require.Contains(t, r.stderr, "HMAC does not verify")
	b, err := os.ReadFile(victim)
	require.NoError(t, err)
	require.Equal(t, "root only\n", string(b))
	fi, err := os.Stat(victim)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode())
	got, err := os.ReadFile(filepath.Join(tx, "manifest.json"))
	require.NoError(t, err)
	require.Equal(t, forged, string(got), "the refused manifest is not touched")
}
