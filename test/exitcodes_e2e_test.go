package test

// The README's exit-code table, row by row: each row is a case here, run
// against the built binary and real smbd instances, and a row without a
// case (or a case without a row) fails the test, so the table and the
// behaviour cannot drift apart.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/test/harness"
)

// exitRow is one row of the README's table.
type exitRow struct {
	command, situation string
	code               int
}

func (r exitRow) key() string { return r.command + " | " + r.situation }

// readmeExitTable reads the table under "### Exit codes" in README.md.
func readmeExitTable(t *testing.T) []exitRow {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "README.md"))
	require.NoError(t, err)
	defer f.Close()
	var rows []exitRow
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "### Exit codes"):
			in = true
			continue
		case in && strings.HasPrefix(line, "#"):
			in = false
		}
		if !in || !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| ---") || strings.HasPrefix(line, "| command ") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		require.Len(t, cells, 3, "README exit-code row %q", line)
		code, err := strconv.Atoi(strings.TrimSpace(cells[2]))
		require.NoError(t, err, "README exit-code row %q", line)
		rows = append(rows, exitRow{
			command:   strings.Trim(strings.TrimSpace(cells[0]), "`"),
			situation: strings.TrimSpace(cells[1]),
			code:      code,
		})
	}
	require.NoError(t, sc.Err())
	require.NotEmpty(t, rows, "README.md has no exit-code table under '### Exit codes'")
	return rows
}

// exitFixture holds what the cases share: a healthy smbd, an agent config
// file, and an smb.conf that locks out a client stopping at SMB2_10.
type exitFixture struct {
	healthy *harness.Smbd
	cfg     string
	dir     string
}

// runAgent runs the binary with args and returns its exit code and output.
func (x *exitFixture) runAgent(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, requireAgent(t), args...)
	cmd.Env = append([]string{"PATH=" + harness.ReleasePath("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"), "HOME=" + x.dir,
		"SMB_AGENT_PASSWORD=" + probePass}, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	_ = cmd.Run()
	require.NoError(t, ctx.Err(), "agent %v hung:\n%s", args, out.String())
	return cmd.ProcessState.ExitCode(), out.String()
}

func TestExitCodesTable(t *testing.T) {
	t.Parallel()
	requireAgent(t)
	x := &exitFixture{dir: t.TempDir()}
	x.healthy = startDiag(t, harness.Config{})
	x.cfg = filepath.Join(x.dir, "agent.yaml")
	require.NoError(t, os.WriteFile(x.cfg, []byte("logs:\n  journal: false\n"), 0o600))
	fifo := filepath.Join(x.dir, "smb.conf.fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))

	healthyArgs := func(extra ...string) []string {
		return append([]string{"--config", x.cfg}, diagArgs(x.healthy, extra...)...)
	}
	run := func(args ...string) func(t *testing.T) int {
		return func(t *testing.T) int { c, out := x.runAgent(t, nil, args...); t.Log(out); return c }
	}
	concat := func(a []string, b ...string) []string { return append(append([]string{}, a...), b...) }
	cases := map[string]func(t *testing.T) int{
		"any | an unknown command or flag":                                        run("diagnose", "--no-such-flag"),
		"version | always":                                                        run("version"),
		"config get | the value is printed":                                       run("config", "get", "server min protocol", "--smb-conf", x.healthy.ConfPath()),
		"config get | a parameter this Samba release does not know":               run("config", "get", "no such parameter", "--smb-conf", x.healthy.ConfPath()),
		"config dump | smb.conf is missing, or Samba would refuse it":             run("config", "dump", "--smb-conf", filepath.Join(x.dir, "missing.conf")),
		"probe | every probed step succeeded":                                     run("probe", "--target", x.healthy.Addr(), "--user", probeUser, "--share", "data", "--timeout", "5s"),
		"probe | a step failed: refused, a name that does not resolve, a timeout": run("probe", "--target", "nonexist.invalid:445", "--timeout", "5s"),
		"probe | a target that is not HOST:PORT (or holds a newline)":             run("probe", "--target", "a\nb:445"),
		"diagnose | nothing found":                                                run(concat([]string{"diagnose"}, healthyArgs()...)...),
		"diagnose | warnings only (e.g. SMB1 enabled)": func(t *testing.T) int {
			s := startDiag(t, harness.Config{Global: []string{"server min protocol = NT1"}})
			c, out := x.runAgent(t, nil, append([]string{"diagnose", "--config", x.cfg}, diagArgs(s)...)...)
			t.Log(out)
			return c
		},
		"diagnose | a critical finding (e.g. smbd not listening)": func(t *testing.T) int {
			port, err := harness.FreePort()
			require.NoError(t, err)
			return run("diagnose", "--config", x.cfg, "--smb-conf", x.healthy.ConfPath(), "--target", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))(t)
		},
		"diagnose | the target could not be observed (a name that does not resolve)": run("diagnose", "--config", x.cfg, "--smb-conf", x.healthy.ConfPath(), "--target", "nonexist.invalid:445"),
		"diagnose | smb.conf missing or not a regular file": func(t *testing.T) int {
			c1, _ := x.runAgent(t, nil, "diagnose", "--config", x.cfg, "--smb-conf", filepath.Join(x.dir, "missing.conf"), "--target", x.healthy.Addr())
			c2, out := x.runAgent(t, nil, "diagnose", "--config", x.cfg, "--smb-conf", fifo, "--target", x.healthy.Addr())
			require.Contains(t, out, "FIFO")
			c3, _ := x.runAgent(t, nil, "diagnose", "--config", x.cfg, "--smb-conf", x.dir, "--target", x.healthy.Addr())
			require.Equal(t, c1, c2, "a FIFO and a missing file are the same kind of input error")
			require.Equal(t, c1, c3, "a directory and a missing file are the same kind of input error")
			return c1
		},
		"diagnose | a target that is not HOST:PORT (or holds a newline)": run("diagnose", "--config", x.cfg, "--smb-conf", x.healthy.ConfPath(), "--target", "host:445\nInjected: line"),
		"fix | dry run: the plan and its diff, or nothing to do":         run(concat([]string{"fix"}, healthyArgs()...)...),
		"fix | the target could not be observed: no plan is made":        run("fix", "--config", x.cfg, "--smb-conf", x.healthy.ConfPath(), "--target", "nonexist.invalid:445"),
		"fix | smb.conf missing or not a regular file":                   run("fix", "--config", x.cfg, "--smb-conf", filepath.Join(x.dir, "missing.conf")),
		"fix --apply | applied and proven": func(t *testing.T) int {
			s, _, _ := protocolScenario(t, "smb.conf")
			e := newFixEnv(t, "")
			ctl := newSmbdCtl(t, s, nil)
			r := e.run(t, requireAgent(t), nil, append(diagArgs(s, "--client-dialects", smb210, "--restart-cmd", ctl.cmd(), "--reload-cmd", ctl.cmd()), "--apply", "--yes")...)
			t.Log(r.stdout, r.stderr)
			return r.code
		},
		"fix --apply | the fix failed and every file was restored": func(t *testing.T) int {
			fake := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(fake, "testparm"),
				[]byte("#!/bin/sh\necho 'Error loading services. (injected by the test)' >&2\nexit 1\n"), 0o755))
			s, file, _ := protocolScenario(t, "smb.conf")
			e := newFixEnv(t, "")
			snap := snapshot(t, file)
			r := e.run(t, requireAgent(t), []string{"PATH=" + fake + ":" + harness.ReleasePath("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")},
				append(diagArgs(s, "--client-dialects", smb210), "--apply", "--yes")...)
			requireSame(t, snap)
			return r.code
		},
		"fix --apply | refused: no approval (no terminal and no `--yes`)": func(t *testing.T) int {
			s, file, _ := protocolScenario(t, "smb.conf")
			e := newFixEnv(t, "")
			snap := snapshot(t, file)
			r := e.run(t, requireAgent(t), nil, append(diagArgs(s, "--client-dialects", smb210), "--apply")...)
			requireSame(t, snap)
			return r.code
		},
		"fix --apply | applied and proven, but the audit log could not be written": fixAuditLogUnwritable,
		"fix --apply | SIGINT or SIGTERM during the diagnosis: nothing written": func(t *testing.T) int {
			return fixSignalDuringDiagnosis(t, syscall.SIGINT)
		},
		"fix --rollback | nothing to roll back": func(t *testing.T) int {
			e := newFixEnv(t, "")
			return e.run(t, requireAgent(t), nil, "--rollback", "--yes").code
		},
		"serve | stopped by SIGTERM or SIGINT": func(t *testing.T) int {
			port, err := harness.FreePort()
			require.NoError(t, err)
			listen := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
			// smb.conf goes in the agent config, not on the command line:
			// the harness stops smbd by killing every process whose
			// command line names its directory.
			cfg := filepath.Join(t.TempDir(), "agent.yaml")
			require.NoError(t, os.WriteFile(cfg, []byte("smb_conf: "+x.healthy.ConfPath()+"\nlogs:\n  journal: false\n"), 0o600))
			cmd := exec.Command(requireAgent(t), "serve", "--config", cfg, "--listen", listen, "--interval", "1s",
				"--target", x.healthy.Addr(), "--timeout", "5s")
			cmd.Env = []string{"PATH=" + harness.ReleasePath("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"), "HOME=" + x.dir}
			// Locked: the assertions below read it while exec's copier
			// goroutine may still write (a data race under -race).
			logs := &lockedBuffer{}
			cmd.Stdout, cmd.Stderr = logs, logs
			require.NoError(t, cmd.Start())
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			defer func() {
				select {
				case <-done:
				default:
					_ = cmd.Process.Kill()
					<-done
				}
			}()
			client := &http.Client{Timeout: 2 * time.Second}
			ready := false
			for deadline := time.Now().Add(30 * time.Second); !ready && time.Now().Before(deadline); {
				if resp, err := client.Get("http://" + listen + "/readyz"); err == nil {
					ready = resp.StatusCode == http.StatusOK
					resp.Body.Close()
				}
				if !ready {
					time.Sleep(50 * time.Millisecond)
				}
			}
			if !ready { // logs is read only then: serve still writes into it
				t.Fatalf("serve never became ready:\n%s", logs.String())
			}
			require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Fatalf("serve did not stop within 30 s of SIGTERM:\n%s", logs.String())
			}
			return cmd.ProcessState.ExitCode()
		},
		"serve | cannot start: the listen address is taken": func(t *testing.T) int {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			defer l.Close()
			return run("serve", "--config", x.cfg, "--smb-conf", x.healthy.ConfPath(), "--listen", l.Addr().String())(t)
		},
	}

	rows := readmeExitTable(t)
	seen := map[string]bool{}
	var mu sync.Mutex
	for _, row := range rows {
		row := row
		check, ok := cases[row.key()]
		require.True(t, ok, "README exit-code row %q has no case in this test", row.key())
		seen[row.key()] = true
		t.Run(fmt.Sprintf("%s/%s", row.command, row.situation), func(t *testing.T) {
			t.Parallel()
			got := check(t)
			mu.Lock()
			defer mu.Unlock()
			require.Equal(t, row.code, got, "README says %q exits %d", row.key(), row.code)
		})
	}
	for k := range cases {
		require.True(t, seen[k], "case %q is not a row of the README's exit-code table", k)
	}
}
