// Command demo runs the whole story of smb-agent on a scratch smbd (make
// demo): a config that locks the scoring engine's client out (server min
// protocol = SMB3 against pysmb, which offers only NT LM 0.12 and SMB
// 2.002), `agent diagnose` finding the mismatch, `agent fix` showing the
// plan and its diff, `agent fix --apply` answered "y" at its prompt on a
// pseudo-terminal, and `agent diagnose` again reporting OK.
//
// The smbd is the test harness's: its own temp directory, a free loopback
// port, an absolute -s path, its own process group; it and the
// samba-dcerpcd it spawns are stopped by PID at the end. Nothing touches
// /etc/samba or the system smbd: the agent's restart command is this
// program, which restarts the scratch smbd.
package main

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/smb-agent/smb-agent/test/demo/pty"
	"github.com/smb-agent/smb-agent/test/harness"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == "restart-helper" {
		os.Exit(restartHelper(os.Args[2]))
	}
	agent := flag.String("agent", "bin/agent", "the agent binary")
	flag.Parse()
	if err := run(*agent); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

const (
	bold  = "\033[1m"
	reset = "\033[0m"
)

func banner(format string, args ...any) {
	fmt.Printf("\n%s== %s%s\n", bold, fmt.Sprintf(format, args...), reset)
}

func run(agent string) error {
	agent, err := filepath.Abs(agent)
	if err != nil {
		return err
	}
	if _, err := os.Stat(agent); err != nil {
		return fmt.Errorf("agent binary: %w (run make build)", err)
	}
	if why := harness.Available(); why != "" {
		return fmt.Errorf("cannot start a scratch smbd: %s", why)
	}
	pw := randomPassword()
	user := "root"

	banner("Starting a scratch smbd with a broken smb.conf (server min protocol = SMB3)")
	s, err := harness.Start(harness.Config{
		Global: []string{"# Hardening gone too far: pysmb (the scoring engine) offers only NT LM 0.12 and SMB 2.002",
			"server min protocol = SMB3"},
		Users:  []harness.User{{Name: user, Password: pw}},
		Shares: []harness.Share{{Name: "data"}},
	})
	if err != nil {
		return err
	}
	stop := func() {
		_ = s.Close()
	}
	defer stop()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		stop()
		os.Exit(130)
	}()
	fmt.Printf("smbd pid %d on %s, config %s\n", s.PID(), s.Addr(), s.ConfPath())

	state, err := os.MkdirTemp("", "smbagent-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(state)
	sock := filepath.Join(state, "restart.sock")
	if err := serveRestart(sock, s); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cfg := filepath.Join(state, "agent.yaml")
	yaml := fmt.Sprintf(`# the demo's agent configuration
client: pysmb
logs:
  journal: false
fix:
  restart_cmd: %q
  restart_fallback_cmd: ""
  reload_cmd: %q
  backup_dir: %s/backups
  audit_log: %s/audit.jsonl
  lock_file: %s/fix.lock
`, self+" restart-helper "+sock, "smbcontrol -s "+s.ConfPath()+" smbd reload-config", state, state, state)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		return err
	}
	env := append(os.Environ(), "SMB_AGENT_PASSWORD="+pw, "NO_COLOR=1")
	common := []string{"--config", cfg, "--smb-conf=" + s.ConfPath(), "--target", s.Addr(), "--user", user, "--share", "data"}

	var failed []string
	expect := func(what string, got, want int) {
		if got != want {
			failed = append(failed, fmt.Sprintf("%s exited %d, want %d", what, got, want))
			fmt.Printf("%s(exit %d; expected %d)%s\n", bold, got, want, reset)
			return
		}
		fmt.Printf("(exit %d)\n", got)
	}

	banner("1. Diagnose: the scoring engine's client cannot negotiate")
	expect("agent diagnose", runShown(agent, env, append([]string{"diagnose"}, common...)), 2)

	banner("2. Plan the fix (dry run: nothing changes)")
	expect("agent fix", runShown(agent, env, append([]string{"fix"}, common...)), 0)

	banner("3. Apply it, answering the prompt on a terminal")
	expect("agent fix --apply", runOnTerminal(agent, env, append([]string{"fix", "--apply"}, common...)), 0)

	banner("4. Diagnose again")
	expect("agent diagnose", runShown(agent, env, append([]string{"diagnose"}, common...)), 0)

	banner("The audit log (%s)", filepath.Join(state, "audit.jsonl"))
	if b, err := os.ReadFile(filepath.Join(state, "audit.jsonl")); err == nil {
		fmt.Print(string(b))
	}
	if len(failed) > 0 {
		return fmt.Errorf("%s", strings.Join(failed, "; "))
	}
	banner("Done: mismatch found, fixed with approval, proven; stopping the scratch smbd")
	return nil
}

func shown(agent string, args []string) string {
	var b strings.Builder
	b.WriteString("$ agent")
	for _, a := range args {
		if strings.ContainsAny(a, " '\"") {
			a = "'" + a + "'"
		}
		b.WriteString(" " + a)
	}
	_ = agent
	return b.String()
}

// runShown prints the command, runs it with its output on ours, and
// returns its exit code.
func runShown(agent string, env, args []string) int {
	fmt.Printf("%s%s%s\n", bold, shown(agent, args), reset)
	cmd := exec.Command(agent, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	_ = cmd.Run()
	return cmd.ProcessState.ExitCode()
}

// runOnTerminal runs the command on a pseudo-terminal, shows what it
// writes, waits for its [y/N] prompt and types "y".
func runOnTerminal(agent string, env, args []string) int {
	fmt.Printf("%s%s%s\n", bold, shown(agent, args), reset)
	cmd := exec.Command(agent, args...)
	cmd.Env = append(env, "TERM=dumb")
	sess, err := pty.Start(cmd, crlf{os.Stdout})
	if err != nil {
		fmt.Println("demo: pty:", err)
		return -1
	}
	if sess.WaitFor("[y/N]", 2*time.Minute) {
		time.Sleep(700 * time.Millisecond) // a person reads the prompt
		_ = sess.Type("y\r")
	}
	code, _ := sess.Wait()
	return code
}

// crlf turns the terminal's CRLF back into LF for our output.
type crlf struct{ w io.Writer }

func (c crlf) Write(p []byte) (int, error) {
	_, err := c.w.Write([]byte(strings.ReplaceAll(string(p), "\r\n", "\n")))
	return len(p), err
}

func randomPassword() string {
	b := make([]byte, 9)
	_, _ = rand.Read(b)
	return "Demo-" + hex.EncodeToString(b)
}

// serveRestart restarts the scratch smbd for each request of the
// restart helper.
func serveRestart(sock string, s *harness.Smbd) error {
	l, err := net.Listen("unix", sock)
	if err != nil {
		return err
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
					return
				}
				if err := s.Restart(); err != nil {
					fmt.Fprintln(c, strings.Join(strings.Fields(err.Error()), " "))
					return
				}
				fmt.Fprintln(c, "ok")
			}()
		}
	}()
	return nil
}

// restartHelper is the agent's restart command in the demo: it asks the
// demo (which owns the scratch smbd) to restart it.
func restartHelper(sock string) int {
	c, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		fmt.Fprintln(os.Stderr, "restart-helper:", err)
		return 1
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	fmt.Fprintln(c, "restart")
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ok" {
		fmt.Fprintln(os.Stderr, "restart-helper:", strings.TrimSpace(line), err)
		return 1
	}
	return 0
}
