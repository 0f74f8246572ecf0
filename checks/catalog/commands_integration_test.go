package catalog

import (
	"bytes"
	"context"
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
)

// sandboxSmbd is a real smbd on a free loopback port, with every path under
// a temp dir (nothing touches /etc/samba or the system smbd).
type sandboxSmbd struct {
	dir  string
	conf string
	port int
	cmd  *exec.Cmd
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startSandboxSmbd(t *testing.T) *sandboxSmbd {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"private", "lock", "state", "cache", "pid", "ncalrpc", "log", "share"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	s := &sandboxSmbd{dir: dir, conf: filepath.Join(dir, "smb.conf"), port: freePort(t)}
	conf := fmt.Sprintf(`[global]
   workgroup = CATTEST
   netbios name = CATSRV
   server role = standalone server
   smb ports = %[2]d
   interfaces = lo
   bind interfaces only = yes
   disable netbios = yes
   private dir = %[1]s/private
   lock directory = %[1]s/lock
   state directory = %[1]s/state
   cache directory = %[1]s/cache
   pid directory = %[1]s/pid
   ncalrpc dir = %[1]s/ncalrpc
   log file = %[1]s/log/log.%%m
   max log size = 0
   passdb backend = tdbsam:%[1]s/private/passdb.tdb
   load printers = no
   printcap name = /dev/null
   map to guest = bad user

[data]
   path = %[1]s/share
`, dir, s.port)
	require.NoError(t, os.WriteFile(s.conf, []byte(conf), 0o644))

	s.cmd = exec.Command("smbd", "--foreground", "--no-process-group", "-s", s.conf, "-l", filepath.Join(dir, "log"))
	// Own process group: smbd's SIGTERM handler signals its whole group.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	s.cmd.Stdout, s.cmd.Stderr = &out, &out
	require.NoError(t, s.cmd.Start())
	t.Cleanup(s.stop)

	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)), 500*time.Millisecond)
		if err == nil {
			c.Close()
			if _, err := os.Stat(filepath.Join(dir, "pid", "smbd.pid")); err == nil {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("smbd did not come up on port %d: %s", s.port, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop ends smbd and the samba-dcerpcd/rpcd_* helpers it started (they
// detach into their own session), found by the config path in their
// command line, each by PID.
func (s *sandboxSmbd) stop() {
	pids := func() []int {
		var out []int
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			if err == nil && bytes.Contains(b, []byte(s.conf)) {
				out = append(out, pid)
			}
		}
		return out
	}
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGCONT)
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, pid := range pids() {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	deadline := time.Now().Add(5 * time.Second)
	for left := pids(); len(left) > 0 && time.Now().Before(deadline); left = pids() {
		time.Sleep(100 * time.Millisecond)
	}
	for _, pid := range pids() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

func (s *sandboxSmbd) vars() Vars {
	return Vars{
		SmbConf:  s.conf,
		Port:     s.port,
		Host:     "127.0.0.1",
		User:     "nobody",
		Share:    "data",
		LogDir:   filepath.Join(s.dir, "log"),
		PidDir:   filepath.Join(s.dir, "pid"),
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
	v := s.vars()
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
	v := s.vars()
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
	require.Contains(t, out, fmt.Sprintf("127.0.0.1:%d", s.port))
	require.Contains(t, out, `"smbd"`)

	// The headline case: raise server min protocol; new connections read it
	// without reload, and the engine-like negotiate fails as documented.
	conf, err := os.ReadFile(s.conf)
	require.NoError(t, err)
	rewriteConf(t, s.conf, bytes.Replace(conf, []byte("[global]\n"), []byte("[global]\n   server min protocol = SMB3\n"), 1))
	out, code = runShell(t, render("protocol-mismatch", "Effective server min protocol"))
	require.Equal(t, 0, code)
	require.Contains(t, out, "SMB3")
	out, code = runShell(t, render("protocol-mismatch", "Reproduce the engine's negotiate with smbclient"))
	require.NotEqual(t, 0, code)
	require.Contains(t, out, "No compatible protocol selected by server")

	// The fix from the catalog, as the fixes package would apply it.
	p, _ := Get("protocol-mismatch")
	cause, ok := p.Cause("server-min-above-client-max")
	require.True(t, ok)
	e, err := cause.Fix.Edits[0].Render(v)
	require.NoError(t, err)
	require.Equal(t, ApplyNone, cause.Fix.Apply)
	rewriteConf(t, s.conf, bytes.Replace(conf, []byte("[global]\n"), []byte("[global]\n   "+e.Parameter+" = "+e.Value+"\n"), 1))
	for _, st := range cause.Fix.Steps {
		cmd, err := st.Render(v)
		require.NoError(t, err)
		out, code := runShell(t, strings.ReplaceAll(cmd, "-U nobody", "-N"))
		require.Equal(t, 0, code, "%s\n%s", cmd, out)
	}
}

// rewriteConf replaces smb.conf the way an admin's edit would, and makes sure
// smbd can tell. Samba notices an edit by the file's modification time in
// whole seconds (lp_file_list_changed keeps a time_t per file, source3/param/
// loadparm.c), so an edit within the second of the previous write goes unseen
// and the children keep the old settings; this test edits within a second of
// starting smbd, a real host does not. Each rewrite is therefore stamped at
// least one second after the file's previous mtime (about half of the runs
// failed on Samba 4.17.12 without it).
func rewriteConf(t *testing.T, path string, data []byte) {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, data, 0o644))
	stamp := time.Now()
	if next := fi.ModTime().Truncate(time.Second).Add(time.Second); stamp.Before(next) {
		stamp = next
	}
	require.NoError(t, os.Chtimes(path, stamp, stamp))
}
