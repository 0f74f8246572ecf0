package test

// End-to-end tests of the agent against hostile inputs, as an attacker
// with a local account would stage them: FIFOs and devices where files
// are expected, a huge smb.conf, a secret given as smb.conf, a password
// file others can read, and a child process that dumps its environment.
// Each runs the built binary as a whole process.

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// inputHang bounds one agent process: a hang detector, not a speed bound.
const inputHang = 60 * time.Second

type agentRun struct {
	code           int
	stdout, stderr string
	ps             *os.ProcessState
}

// runAgentEnv runs the binary with exactly env, in dir.
func runAgentEnv(t *testing.T, dir string, env []string, args ...string) agentRun {
	t.Helper()
	bin := requireAgent(t)
	ctx, cancel := context.WithTimeout(context.Background(), inputHang)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	_ = cmd.Run()
	require.NoError(t, ctx.Err(), "agent %v hung; stderr %q", args, errb.String())
	return agentRun{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errb.String(), ps: cmd.ProcessState}
}

func baseEnv(dir string) []string {
	return []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + dir,
		"XDG_CACHE_HOME=" + filepath.Join(dir, "cache"), "NO_COLOR=1"}
}

// requireBadInput is the contract for bad input: exit 3, exactly one line
// on stderr, starting "agent: ", containing want.
func requireBadInput(t *testing.T, r agentRun, want string) {
	t.Helper()
	require.Equalf(t, 3, r.code, "exit code; stderr %q", r.stderr)
	require.Equalf(t, 1, strings.Count(r.stderr, "\n"), "one line on stderr: %q", r.stderr)
	require.Truef(t, strings.HasPrefix(r.stderr, "agent: "), "stderr %q", r.stderr)
	require.Contains(t, r.stderr, want)
}

func TestInputFIFOsRefusedE2E(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o666))
	conf := filepath.Join(dir, "smb.conf")
	require.NoError(t, os.WriteFile(conf, []byte("[global]\n\tworkgroup = W\n"), 0o644))
	incl := filepath.Join(dir, "incl.conf")
	require.NoError(t, os.WriteFile(incl, []byte("[global]\n\tinclude = "+fifo+"\n"), 0o644))
	diag := []string{"diagnose", "--target", "127.0.0.1:1", "--timeout", "2s", "--samba-version", "4.17"}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"--config", append([]string{"--config", fifo}, diag...), "is a FIFO (named pipe), not a regular file"},
		{"--smb-conf", append(diag, "--config", "/dev/null", "--smb-conf", fifo), "is a FIFO (named pipe), not a regular file"},
		{"--password-file", append(diag, "--config", "/dev/null", "--smb-conf", conf, "--user", "u", "--password-file", fifo), "is a FIFO (named pipe), not a regular file"},
		{"include", append(diag, "--config", "/dev/null", "--smb-conf", incl), "include " + fifo + " is a FIFO (named pipe)"},
		{"config dump include", []string{"config", "dump", "--samba-version", "4.17", "--smb-conf", incl}, "is a FIFO (named pipe)"},
		{"probe --password-file", []string{"probe", "--target", "127.0.0.1:1", "--user", "u", "--password-file", fifo}, "is a FIFO (named pipe), not a regular file"},
		{"--smb-conf /dev/zero", append(diag, "--config", "/dev/null", "--smb-conf", "/dev/zero"), "is a character device, not a regular file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			requireBadInput(t, runAgentEnv(t, dir, baseEnv(dir), c.args...), c.want)
		})
	}
}

// SIGINT or SIGTERM ends a run that is waiting on the network: the
// target accepts and never answers.
func TestInputSignalsHonouredE2E(t *testing.T) {
	bin := requireAgent(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, silent
		}
	}()
	dir := t.TempDir()
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		cmd := exec.Command(bin, "probe", "--target", ln.Addr().String(), "--timeout", "10m")
		cmd.Env = baseEnv(dir)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		require.NoError(t, cmd.Start())
		time.Sleep(time.Second)
		require.NoError(t, cmd.Process.Signal(sig))
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(inputHang):
			_ = cmd.Process.Kill()
			t.Fatalf("%v ignored: the agent still runs", sig)
		}
		require.NotEqual(t, 0, cmd.ProcessState.ExitCode(), "%v: exit code", sig)
		require.LessOrEqualf(t, strings.Count(errb.String(), "\n"), 1, "%v: stderr %q", sig, errb.String())
	}
}

// The 600,000-section smb.conf (6 MB) that took 9 s and 1.2 GB is refused
// by a scan before it is parsed. The figures are logged, not asserted.
func TestInputHugeSmbConfRefusedE2E(t *testing.T) {
	dir := t.TempDir()
	var b bytes.Buffer
	b.WriteString("[global]\n")
	for i := 0; i < 600_000; i++ {
		fmt.Fprintf(&b, "[s%d]\n", i)
	}
	p := filepath.Join(dir, "huge.conf")
	require.NoError(t, os.WriteFile(p, b.Bytes(), 0o644))
	start := time.Now()
	r := runAgentEnv(t, dir, baseEnv(dir), "config", "dump", "--samba-version", "4.17", "--smb-conf", p)
	wall := time.Since(start)
	requireBadInput(t, r, "too many sections: more than 50000 section headers")
	ru := r.ps.SysUsage().(*syscall.Rusage)
	t.Logf("refusing %d bytes, 600,000 sections: %s wall, max RSS %d KiB", b.Len(), wall.Round(time.Millisecond), ru.Maxrss)

	r = runAgentEnv(t, dir, baseEnv(dir), "diagnose", "--config", "/dev/null", "--target", "127.0.0.1:1",
		"--timeout", "2s", "--samba-version", "4.17", "--smb-conf", p)
	requireBadInput(t, r, "too many sections")
}

// --smb-conf pointed at a secret file: read as Samba reads it, with a
// warning that says so, and none of its content in any output.
func TestInputSecretAsSmbConfNotQuotedE2E(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "pw")
	require.NoError(t, os.WriteFile(secret, []byte("Hunter2-Zq9x-Line\nsecond-Zq9x-Line\n"), 0o600))
	for _, args := range [][]string{
		{"config", "dump", "--samba-version", "4.17", "--smb-conf", secret},
		{"diagnose", "--config", "/dev/null", "--target", "127.0.0.1:1", "--timeout", "2s", "--samba-version", "4.17", "--smb-conf", secret},
	} {
		r := runAgentEnv(t, dir, baseEnv(dir), args...)
		if args[0] == "config" {
			require.Equal(t, 0, r.code, "testparm reads it too")
			require.Contains(t, r.stderr, "does not look like smb.conf")
		}
		require.NotContains(t, r.stdout+r.stderr, "Zq9x")
	}
}

// A password file another user can read, or that another user owns, is
// refused as ssh refuses such a key.
func TestInputPasswordFileModeE2E(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	require.NoError(t, os.WriteFile(pw, []byte("pw-Secret\n"), 0o600))
	require.NoError(t, os.Chmod(pw, 0o640))
	args := []string{"probe", "--target", "127.0.0.1:1", "--user", "u", "--password-file", pw}
	requireBadInput(t, runAgentEnv(t, dir, baseEnv(dir), args...), "has mode 0640; a secret file must be readable by its owner only (mode 0600 or 0400)")
	if os.Geteuid() == 0 {
		require.NoError(t, os.Chmod(pw, 0o600))
		require.NoError(t, os.Chown(pw, 65534, 65534))
		requireBadInput(t, runAgentEnv(t, dir, baseEnv(dir), args...), "is owned by uid 65534")
	}
}

// SMB_AGENT_PASSWORD never reaches a child: every command diagnose runs is
// replaced by a script that records its environment, then runs the real
// one.
func TestInputPasswordNotInChildEnvE2E(t *testing.T) {
	dir := t.TempDir()
	fakes := filepath.Join(dir, "bin")
	dumps := filepath.Join(dir, "dumps")
	require.NoError(t, os.MkdirAll(fakes, 0o755))
	require.NoError(t, os.MkdirAll(dumps, 0o755))
	names := []string{"testparm", "smbd", "smbcontrol", "systemctl", "journalctl", "pdbedit", "getent", "ip", "ss", "nft", "iptables"}
	for _, n := range names {
		real := ""
		for _, d := range []string{"/usr/sbin", "/usr/bin", "/sbin", "/bin"} {
			if _, err := os.Stat(filepath.Join(d, n)); err == nil {
				real = filepath.Join(d, n)
				break
			}
		}
		body := "#!/bin/sh\nenv > " + dumps + "/" + n + ".$$\n"
		if real != "" {
			body += "exec " + real + " \"$@\"\n"
		}
		require.NoError(t, os.WriteFile(filepath.Join(fakes, n), []byte(body), 0o755))
	}
	conf := filepath.Join(dir, "smb.conf")
	require.NoError(t, os.WriteFile(conf, []byte("[global]\n\tworkgroup = W\n\tcomment = %$(SMB_AGENT_PASSWORD)\n"), 0o644))
	env := baseEnv(dir)
	env[0] = "PATH=" + fakes + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	env = append(env, "SMB_AGENT_PASSWORD=env-Secret-5c2")
	r := runAgentEnv(t, dir, env, "diagnose", "--config", "/dev/null", "--target", "127.0.0.1:1",
		"--timeout", "3s", "--user", "scorer", "--smb-conf", conf)
	require.NotContains(t, r.stdout+r.stderr, "env-Secret-5c2")
	entries, err := os.ReadDir(dumps)
	require.NoError(t, err)
	require.NotEmpty(t, entries, "no child process ran: the test proves nothing")
	var ran []string
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dumps, e.Name()))
		require.NoError(t, err)
		require.NotContains(t, string(b), "env-Secret-5c2", "%s inherited the password", e.Name())
		require.NotContains(t, string(b), "SMB_AGENT_PASSWORD", "%s", e.Name())
		ran = append(ran, e.Name())
	}
	t.Logf("children checked: %s", strings.Join(ran, " "))
}
