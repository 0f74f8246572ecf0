package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/smb-agent/smb-agent/configs/safetext"
)

// Exit codes follow the Nagios plugin convention for every command, so that
// scripts can treat the agent like any other check: 0 OK, 1 WARNING,
// 2 CRITICAL, 3 UNKNOWN (bad input, or the agent itself failed).
const (
	exitOK       = 0
	exitWarning  = 1
	exitCritical = 2
	exitUnknown  = 3
)

// exitError carries an exit code out of a cobra RunE. A nil err with a code
// means "exit with this code, nothing more to print".
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// withCode returns an error that makes the process exit with code.
func withCode(code int, err error) error { return &exitError{code: code, err: err} }

// usageError marks bad input: it always exits 3 with one line.
func usageError(format string, args ...any) error {
	return withCode(exitUnknown, fmt.Errorf(format, args...))
}

// streams are the process's standard streams, passed down so commands can be
// tested in-process.
type streams struct {
	in  io.Reader
	out io.Writer
	err io.Writer
}

// commandBuilders are registered by each command's file in init(), so that
// commands live in files of their own and root.go never changes when one is
// added.
var commandBuilders []func(*streams) *cobra.Command

func registerCommand(build func(*streams) *cobra.Command) {
	commandBuilders = append(commandBuilders, build)
}

// globalFlags are the flags every command accepts.
type globalFlags struct {
	configFile string
}

var globals globalFlags

func newRootCommand(s *streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "agent",
		Short: "On-host diagnostic agent for Samba servers",
		Long: `smb-agent checks a Samba host the way a remote SMB check sees it:
it reads smb.conf as testparm does, probes the local smbd for every dialect,
logs in, lists shares, explains what fails and why, and fixes it with approval.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(s.in)
	root.SetOut(s.out)
	root.SetErr(s.err)
	root.PersistentFlags().StringVar(&globals.configFile, "config", "",
		"agent configuration file (default /etc/smb-agent/agent.yaml when it exists)")
	// Flag errors are bad input: exit 3 with one line, like every other
	// input error.
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return withCode(exitUnknown, err)
	})
	for _, build := range commandBuilders {
		root.AddCommand(build(s))
	}
	useFlagUsages(root)
	return root
}

// run executes the command line and returns the process exit code. Every
// error becomes exactly one line on stderr.
func run(args []string, in io.Reader, out, errOut io.Writer) int {
	s := &streams{in: in, out: out, err: errOut}
	root := newRootCommand(s)
	root.SetArgs(args)
	ctx, stop := honourSignals(errOut, forcedExitGrace)
	defer stop()
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	code := exitUnknown
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
		if ee.err == nil {
			return code
		}
		err = ee.err
	}
	// Errors quote paths, smb.conf lines and server replies.
	fmt.Fprintf(errOut, "agent: %s\n", safetext.Escape(oneLine(err.Error())))
	return code
}

// forcedExitGrace is how long a command may take to stop after SIGINT or
// SIGTERM before the process exits anyway. Every command returns well
// within it (serve stops within 5 s; fix rolls back a started write); it
// is the guarantee for a call that cannot see the context (a read of a
// stalled network file system).
const forcedExitGrace = 15 * time.Second

// honourSignals returns a context cancelled by the first SIGINT or
// SIGTERM. A second signal, or forcedExitGrace after the first, ends the
// process at once with one line and exit 3: an interrupt is always
// honoured.
func honourSignals(errOut io.Writer, grace time.Duration) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		var first os.Signal
		select {
		case <-done:
			return
		case first = <-sigs:
			cancel()
		}
		timer := time.NewTimer(grace)
		defer timer.Stop()
		select {
		case <-done:
			return
		case s := <-sigs:
			fmt.Fprintf(errOut, "agent: %v received twice; exiting without waiting for the command to stop\n", s)
		case <-timer.C:
			fmt.Fprintf(errOut, "agent: %v received and the command did not stop within %s; exiting\n", first, grace)
		}
		os.Exit(exitUnknown)
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
}

// oneLine folds a multi-line message so that an error is always one line.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}
