// Package safefile opens files the agent does not control (smb.conf and
// its includes, the agent configuration, the password file, smbd's logs)
// without letting the file decide what the read does.
//
// The agent runs as root on a host where someone else may have placed the
// file. A FIFO blocks open(2) until a writer appears, and a read of a
// character device such as /dev/zero never ends; either one hangs the
// agent in a system call that no signal handler can interrupt. So every
// open here is O_NONBLOCK (a FIFO opens at once), O_CLOEXEC (no child
// inherits the descriptor), optionally O_NOFOLLOW, and is followed by an
// fstat of the descriptor itself (not a second lookup of the name, which
// could meet a different file): anything but a regular file is refused
// with a message that says what it is. Reads are bounded in size and in
// time.
//
// This package imports only the standard library and x/sys, so that both
// configs and configs/smbconf can use it.
package safefile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultReadTimeout bounds one ReadFile: a local file of a few megabytes
// reads in milliseconds; a file on a stalled network mount must not hold
// the agent past its own deadline.
const DefaultReadTimeout = 10 * time.Second

// Options tune Open and ReadFile.
type Options struct {
	// NoFollow refuses a symbolic link as the last path element
	// (O_NOFOLLOW).
	NoFollow bool
	// AllowDevNull accepts /dev/null as an empty file, as Samba and
	// testparm do for "-s /dev/null".
	AllowDevNull bool
	// MaxSize refuses a file larger than this many bytes (0: no limit
	// on Open; ReadFile requires one).
	MaxSize int64
	// Timeout bounds ReadFile; 0 means DefaultReadTimeout.
	Timeout time.Duration
}

// NotRegularError is returned for a path that names something other than
// a regular file.
type NotRegularError struct {
	Path string
	Kind string // "a FIFO (named pipe)", "a character device", ...
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s is %s, not a regular file; refusing to read it", e.Path, e.Kind)
}

// TooLargeError is returned for a file over Options.MaxSize.
type TooLargeError struct {
	Path  string
	Size  int64 // -1 when only "more than Limit" is known
	Limit int64
}

func (e *TooLargeError) Error() string {
	if e.Size < 0 {
		return fmt.Sprintf("%s is larger than %d bytes; refusing to read it", e.Path, e.Limit)
	}
	return fmt.Sprintf("%s is too large (%d bytes; the limit is %d)", e.Path, e.Size, e.Limit)
}

// ErrTimeout is wrapped by a read that did not finish in time.
var ErrTimeout = errors.New("read timed out")

// Kind names the file type of mode in words, for messages.
func Kind(mode fs.FileMode) string {
	switch {
	case mode.IsRegular():
		return "a regular file"
	case mode.IsDir():
		return "a directory"
	case mode&fs.ModeSymlink != 0:
		return "a symbolic link"
	case mode&fs.ModeNamedPipe != 0:
		return "a FIFO (named pipe)"
	case mode&fs.ModeSocket != 0:
		return "a socket"
	case mode&fs.ModeCharDevice != 0:
		return "a character device"
	case mode&fs.ModeDevice != 0:
		return "a block device"
	}
	return fmt.Sprintf("a special file (%s)", mode.Type())
}

// Cause is err without the *fs.PathError around it ("permission denied"
// rather than "open /etc/samba/smb.conf: permission denied"), for messages
// that name the file themselves.
func Cause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Open opens path for reading under the rules of the package and returns
// the open file and its fstat. The file is put back in blocking mode, so
// that ordinary reads of it behave as usual.
func Open(path string, o Options) (*os.File, fs.FileInfo, error) {
	flags := unix.O_RDONLY | unix.O_NONBLOCK | unix.O_CLOEXEC | unix.O_NOCTTY
	if o.NoFollow {
		flags |= unix.O_NOFOLLOW
	}
	var fd int
	var err error
	for {
		fd, err = unix.Open(path, flags, 0)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		if o.NoFollow && err == unix.ELOOP {
			if fi, lerr := os.Lstat(path); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
				return nil, nil, &NotRegularError{Path: path, Kind: "a symbolic link"}
			}
		}
		return nil, nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() && !(o.AllowDevNull && isDevNull(fi)) {
		f.Close()
		return nil, nil, &NotRegularError{Path: path, Kind: Kind(fi.Mode())}
	}
	if o.MaxSize > 0 && fi.Size() > o.MaxSize {
		f.Close()
		return nil, nil, &TooLargeError{Path: path, Size: fi.Size(), Limit: o.MaxSize}
	}
	// O_NONBLOCK has done its work (the open could not block); regular
	// file reads ignore it anyway, but clear it so nothing surprises a
	// caller that hands the file on.
	if err := unix.SetNonblock(fd, false); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, fi, nil
}

// ReadFile reads the whole of a regular file, at most o.MaxSize bytes
// (required), within o.Timeout.
func ReadFile(path string, o Options) ([]byte, error) {
	if o.MaxSize <= 0 {
		return nil, fmt.Errorf("safefile.ReadFile %s: no size limit given", path)
	}
	f, _, err := Open(path, o)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadAll(f, path, o)
}

// ReadAll reads f to its end, at most o.MaxSize bytes, within o.Timeout.
// On a timeout the reading goroutine is abandoned (the caller's deferred
// Close ends it where the kernel allows).
func ReadAll(f *os.File, path string, o Options) ([]byte, error) {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultReadTimeout
	}
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		// Sized from fstat, so that the read does not grow and copy its
		// buffer; the limit still holds if the file grows meanwhile.
		var buf bytes.Buffer
		if fi, err := f.Stat(); err == nil && fi.Size() > 0 {
			buf.Grow(int(min(fi.Size(), o.MaxSize)) + bytes.MinRead)
		}
		_, err := buf.ReadFrom(io.LimitReader(f, o.MaxSize+1))
		done <- result{buf.Bytes(), err}
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, fmt.Errorf("read %s: %w", path, r.err)
		}
		if int64(len(r.b)) > o.MaxSize {
			return nil, &TooLargeError{Path: path, Size: -1, Limit: o.MaxSize}
		}
		return r.b, nil
	case <-timer.C:
		return nil, fmt.Errorf("read %s: %w after %s", path, ErrTimeout, timeout)
	}
}

func isDevNull(fi fs.FileInfo) bool {
	if fi.Mode()&fs.ModeCharDevice == 0 {
		return false
	}
	dn, err := os.Stat(os.DevNull)
	return err == nil && os.SameFile(fi, dn)
}

// RequirePrivate checks what ssh checks of a private key: the file is
// owned by the user the agent runs as and nobody else may read or write
// it (mode 0600 or 0400). A secret another user can read is already
// disclosed; one another user can write lets them choose what the agent
// sends as its password.
func RequirePrivate(path string, fi fs.FileInfo) error {
	perm := fi.Mode().Perm()
	if perm&0o177 != 0 {
		return fmt.Errorf("%s has mode %04o; a secret file must be readable by its owner only (mode 0600 or 0400): run chmod 600 %s", path, perm, path)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%s: cannot tell its owner; refusing to read a secret", path)
	}
	if euid := os.Geteuid(); int(st.Uid) != euid {
		return fmt.Errorf("%s is owned by uid %d, not by the user the agent runs as (uid %d); refusing to read a secret another user controls", path, st.Uid, euid)
	}
	return nil
}
