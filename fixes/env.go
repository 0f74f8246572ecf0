package fixes

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/smb-agent/smb-agent/checks"
	"github.com/smb-agent/smb-agent/configs/procenv"
)

// Approver asks for approval of a prompt ("Apply 1 change to ... ? [y/N]").
// An error means approval could not be asked (no terminal): refused.
type Approver func(prompt string) (bool, error)

// Runner runs a command without a shell and returns its combined output.
type Runner func(ctx context.Context, argv []string) ([]byte, error)

// Prober diagnoses the host again (diagnose.Run with the same agent
// configuration): the proof that a fix works, and that a rollback left smbd
// serving as before.
type Prober func(ctx context.Context) (*checks.Report, error)

// Env holds everything Apply does to the world, so that the transaction is
// tested with fakes and fault injection.
type Env struct {
	Approver Approver
	Runner   Runner
	Prober   Prober
	// Now and Sleep are the clock (polling the proof).
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error

	// BackupDir holds one directory per transaction (backups and the
	// manifest); AuditLog is the JSON-lines log; LockFile the flock.
	BackupDir string
	AuditLog  string
	LockFile  string

	// Commands, already split into words (configs.SplitCommand). A failed
	// restart is retried with RestartFallback when it is set.
	Restart         []string
	RestartFallback []string
	Reload          []string
	Start           []string
	// Testparm is the testparm command; empty skips that validation (when
	// it is not installed), leaving ours.
	Testparm []string

	// ProveTimeout bounds the wait for the proof (and for the check that a
	// rollback restored service); ProveInterval is the pause between
	// diagnoses.
	ProveTimeout  time.Duration
	ProveInterval time.Duration
	// CommandTimeout bounds each external command.
	CommandTimeout time.Duration

	// AllowSMB1 must be set for Apply to carry out a fix that enables
	// SMB1 (MakePlan refuses such fixes without it; Apply checks again).
	AllowSMB1 bool
	// Force allows editing a file with more than one hard link (the
	// other names keep the old content).
	Force bool
	// Held is a lock the caller already took (so that the diagnosis the
	// plan comes from was made under it); nil makes Apply take LockFile.
	Held *Lock

	// Fault is called at each FaultPoint with the file concerned (or "");
	// an error is treated as a failure at that point. Only the
	// faultinject build sets it.
	Fault func(point, path string) error
	// Progress is told each step as it ends, for the terminal.
	Progress func(Step)
}

// Step is one step of a transaction, as the terminal and the audit log show
// it.
type Step struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// ExecRunner runs argv with exec (no shell): stdin is empty, output is
// captured (the first 64 KiB), and the command is killed when ctx ends. A
// command that leaves a child holding its output open (a restart command
// that starts a daemon) is not waited for beyond two seconds after it
// exits.
func ExecRunner(ctx context.Context, argv []string) ([]byte, error) {
	if len(argv) == 0 {
		return nil, errors.New("empty command")
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = procenv.ForChild()
	var out capBuffer
	out.max = 64 << 10
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	if err != nil && errors.Is(err, exec.ErrWaitDelay) {
		err = nil // it exited; only a child it started kept the pipe
	}
	if err != nil {
		msg := strings.TrimSpace(out.String())
		if len(msg) > 300 {
			msg = msg[len(msg)-300:]
		}
		if msg != "" {
			return out.Bytes(), fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, oneLine(msg))
		}
		return out.Bytes(), fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
	}
	return out.Bytes(), nil
}

type capBuffer struct {
	bytes.Buffer
	max int
}

func (c *capBuffer) Write(p []byte) (int, error) {
	if room := c.max - c.Len(); room > 0 {
		if len(p) > room {
			c.Buffer.Write(p[:room])
		} else {
			c.Buffer.Write(p)
		}
	}
	return len(p), nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// SleepContext waits d or until ctx ends.
func SleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// WithConfigFile adds "-s CONF" to an smbcontrol command when smbd runs
// with a configuration other than the compiled-in default: smbcontrol
// finds smbd through the pid file in that config's "pid directory", and
// fails with "Can't find pid for destination 'smbd'" without it
// (source3/utils/smbcontrol.c; observed on Samba 4.17.12). Other commands, and commands that already name a
// config, are returned unchanged.
func WithConfigFile(argv []string, conf string) []string {
	if len(argv) == 0 || conf == "" || filepath.Base(argv[0]) != "smbcontrol" {
		return argv
	}
	for _, a := range argv[1:] {
		if a == "-s" || strings.HasPrefix(a, "--configfile") || (strings.HasPrefix(a, "-s") && len(a) > 2) {
			return argv
		}
	}
	out := []string{argv[0], "-s", conf}
	return append(out, argv[1:]...)
}

func (e *Env) fill() {
	if e.Runner == nil {
		e.Runner = ExecRunner
	}
	if e.Now == nil {
		e.Now = time.Now
	}
	if e.Sleep == nil {
		e.Sleep = SleepContext
	}
	if e.ProveTimeout <= 0 {
		e.ProveTimeout = 30 * time.Second
	}
	if e.ProveInterval <= 0 {
		e.ProveInterval = time.Second
	}
	if e.CommandTimeout <= 0 {
		e.CommandTimeout = 90 * time.Second
	}
	if e.Progress == nil {
		e.Progress = func(Step) {}
	}
}

func (e *Env) fault(point, path string) error {
	if e.Fault == nil {
		return nil
	}
	if err := e.Fault(point, path); err != nil {
		return fmt.Errorf("fault injected at %s: %w", point, err)
	}
	return nil
}

func (e *Env) run(ctx context.Context, argv []string) error {
	if len(argv) == 0 {
		return errors.New("no command configured")
	}
	cctx, cancel := context.WithTimeout(ctx, e.CommandTimeout)
	defer cancel()
	_, err := e.Runner(cctx, argv)
	return err
}
