package fixes

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// BusyError says that another fixer holds the lock.
type BusyError struct {
	Path string
	// PID is the holder's process id as it wrote it into the lock file (0
	// when unreadable).
	PID int
}

func (e *BusyError) Error() string {
	if e.PID > 0 {
		return fmt.Sprintf("another agent fix is running (pid %d; lock %s)", e.PID, e.Path)
	}
	return fmt.Sprintf("another agent fix is running (lock %s)", e.Path)
}

// Lock is an exclusive, non-blocking flock(2) on a lock file. The kernel
// drops it when the holder exits, even on SIGKILL, so a crashed fixer never
// leaves a stale lock; the file itself stays (removing a flock'ed file
// would let two processes lock two different inodes).
type Lock struct {
	f    *os.File
	path string
}

// AcquireLock takes the lock at path or fails at once with *BusyError.
// The holder's PID is written into the file for the error message of the
// next one.
func AcquireLock(path string) (*Lock, error) {
	if path == "" {
		return nil, errors.New("no lock file configured (fix.lock_file)")
	}
	// A lock file that is a symlink, a hard link or not ours is refused
	// before anything is truncated or written (openStateFile).
	f, err := openStateFile(path, os.O_RDWR)
	if err != nil {
		return nil, fmt.Errorf("lock file: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			b := make([]byte, 32)
			n, _ := f.ReadAt(b, 0)
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b[:n])))
			return nil, &BusyError{Path: path, PID: pid}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
		_ = f.Sync()
	}
	return &Lock{f: f, path: path}, nil
}

// Release unlocks. The pid is cleared so that a reader never blames an
// exited process.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	_ = l.f.Truncate(0)
	err := unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}
