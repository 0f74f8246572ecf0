// Package pty runs a command on a pseudo-terminal and answers its prompt,
// as a person at a terminal would: for the demo and the end-to-end tests of
// `agent fix --apply`, which asks for confirmation only on a terminal.
package pty

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Open returns a new pseudo-terminal pair: the master, which the caller
// reads and writes, and the slave, the terminal the command gets.
func Open() (master, slave *os.File, err error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("pty number: %w", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("open /dev/pts/%d: %w", n, err)
	}
	return m, s, nil
}

// Session is a command running on a terminal.
type Session struct {
	cmd    *exec.Cmd
	master *os.File
	mu     sync.Mutex
	out    bytes.Buffer
	copyTo io.Writer
	done   chan struct{}
}

// Start starts cmd with stdin, stdout and stderr on a new terminal (its
// controlling terminal, in a session of its own). Everything it writes is
// kept and also copied to copyTo when that is not nil.
func Start(cmd *exec.Cmd, copyTo io.Writer) (*Session, error) {
	m, s, err := Open()
	if err != nil {
		return nil, err
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s, s, s
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		m.Close()
		s.Close()
		return nil, err
	}
	s.Close() // the command holds the terminal now
	ss := &Session{cmd: cmd, master: m, copyTo: copyTo, done: make(chan struct{})}
	go func() {
		defer close(ss.done)
		buf := make([]byte, 4096)
		for {
			n, err := m.Read(buf)
			if n > 0 {
				ss.mu.Lock()
				ss.out.Write(buf[:n])
				if ss.copyTo != nil {
					_, _ = ss.copyTo.Write(buf[:n])
				}
				ss.mu.Unlock()
			}
			if err != nil {
				return // EIO once the command and its children closed the terminal
			}
		}
	}()
	return ss, nil
}

// Output is what the command wrote so far (with the terminal's CRLFs made
// LF).
func (s *Session) Output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.ReplaceAll(s.out.String(), "\r\n", "\n")
}

// WaitFor waits until the output contains text, or timeout passes.
func (s *Session) WaitFor(text string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if strings.Contains(s.Output(), text) {
			return true
		}
		select {
		case <-s.done:
			return strings.Contains(s.Output(), text)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return false
}

// Type writes keys to the terminal, as typed (the terminal echoes them).
func (s *Session) Type(keys string) error {
	_, err := s.master.Write([]byte(keys))
	return err
}

// Wait waits for the command to exit and returns its exit code (-1 when a
// signal killed it) and its whole output.
func (s *Session) Wait() (int, string) {
	_ = s.cmd.Wait()
	select {
	case <-s.done:
	case <-time.After(2 * time.Second):
	}
	s.master.Close()
	return s.cmd.ProcessState.ExitCode(), s.Output()
}
