package fixes

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// The agent runs as root on a host another user may share. Every file it
// keeps for itself (lock, audit log, backups, manifests) and every
// directory of a file it edits is reached one component at a time from a
// directory it holds open, never through a symlink: a path string checked
// and then opened again can be swapped in between (a symlink planted
// there would make root write where the planter chose).

// noOpenat2 makes openBeneath use the openat fallback even where the
// kernel has openat2 (tests run both ways).
var noOpenat2 atomic.Bool

var (
	openat2Once sync.Once
	openat2OK   bool
)

// haveOpenat2 says whether the kernel has openat2(2) (Linux 5.6).
func haveOpenat2() bool {
	if noOpenat2.Load() {
		return false
	}
	openat2Once.Do(func() {
		fd, err := unix.Openat2(unix.AT_FDCWD, "/", &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC})
		if err == nil {
			unix.Close(fd)
			openat2OK = true
		}
	})
	return openat2OK
}

// openBeneath opens rel (relative, no "..") beneath the directory dirfd
// without following any symlink: openat2 with RESOLVE_BENEATH and
// RESOLVE_NO_SYMLINKS where the kernel has it, else one openat with
// O_NOFOLLOW per component. O_NOFOLLOW and O_CLOEXEC are always added.
func openBeneath(dirfd int, rel string, flags int, mode uint32) (int, error) {
	if rel == "" || filepath.IsAbs(rel) {
		return -1, fmt.Errorf("%q: not a relative path", rel)
	}
	parts := strings.Split(rel, "/")
	for _, p := range parts {
		if p == "" || p == "." || p == ".." {
			return -1, fmt.Errorf("%q: not a plain relative path", rel)
		}
	}
	flags |= unix.O_NOFOLLOW | unix.O_CLOEXEC
	if haveOpenat2() {
		how := &unix.OpenHow{Flags: uint64(flags), Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS}
		if flags&(unix.O_CREAT|unix.O_TMPFILE) != 0 {
			how.Mode = uint64(mode)
		}
		for i := 0; ; i++ {
			fd, err := unix.Openat2(dirfd, rel, how)
			// EAGAIN: a rename raced the lookup; the kernel asks to retry.
			if errors.Is(err, unix.EAGAIN) && i < 8 {
				continue
			}
			return fd, err
		}
	}
	cur := dirfd
	for i, p := range parts {
		last := i == len(parts)-1
		f, m := unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(0)
		if last {
			f, m = flags, mode
		}
		fd, err := unix.Openat(cur, p, f, m)
		if cur != dirfd {
			unix.Close(cur)
		}
		if err != nil {
			return -1, err
		}
		cur = fd
	}
	return cur, nil
}

// dirHandle is a directory held open after it was reached without a
// symlink (and, for the agent's own state, verified).
type dirHandle struct {
	fd   int
	path string
}

func (d *dirHandle) Close() {
	if d != nil && d.fd >= 0 {
		unix.Close(d.fd)
		d.fd = -1
	}
}

func (d *dirHandle) join(name string) string { return filepath.Join(d.path, name) }

// trustedOwner: root, or the user the agent runs as.
func trustedOwner(uid uint32) bool { return uid == 0 || int(uid) == os.Geteuid() }

// checkDir says why a directory on the way to the agent's state cannot be
// trusted: it is not a directory, its owner is neither root nor us, or
// someone else may write in it. An ancestor may be world-writable with the
// sticky bit (/tmp): there no one else may rename or remove what we put in
// it. The state directory itself must be writable by its owner only.
func checkDir(path string, st *unix.Stat_t, final bool) error {
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("%s is not a directory", path)
	}
	if !trustedOwner(st.Uid) {
		return fmt.Errorf("%s is owned by uid %d, not root or the agent's user: refusing to keep state under it", path, st.Uid)
	}
	writable := st.Mode&0o022 != 0
	if writable && (final || st.Mode&unix.S_ISVTX == 0) {
		return fmt.Errorf("%s is writable by group or others (mode %04o): refusing to keep state under it", path, st.Mode&0o7777)
	}
	return nil
}

// openStateDir opens the absolute directory path for the agent's own
// files, one component at a time from /, refusing a symlink anywhere and
// any directory checkDir refuses. With create, missing components are
// made (0700).
func openStateDir(path string, create bool) (*dirHandle, error) {
	if !filepath.IsAbs(path) {
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, err
		}
		path = abs
	}
	path = filepath.Clean(path)
	fd, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, err
	}
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if path == "/" {
		parts = nil
	}
	if err := checkDir("/", &st, len(parts) == 0); err != nil {
		unix.Close(fd)
		return nil, err
	}
	cur := "/"
	for i, p := range parts {
		cur = filepath.Join(cur, p)
		nfd, err := openBeneath(fd, p, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if errors.Is(err, unix.ENOENT) && create {
			if merr := unix.Mkdirat(fd, p, 0o700); merr != nil && !errors.Is(merr, unix.EEXIST) {
				unix.Close(fd)
				return nil, fmt.Errorf("create %s: %w", cur, merr)
			}
			nfd, err = openBeneath(fd, p, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		}
		unix.Close(fd)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", cur, symlinkHint(err))
		}
		fd = nfd
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return nil, err
		}
		if err := checkDir(cur, &st, i == len(parts)-1); err != nil {
			unix.Close(fd)
			return nil, err
		}
	}
	return &dirHandle{fd: fd, path: path}, nil
}

// openPathDir opens the absolute directory path (symlinks already
// resolved) without following a symlink on the way: a directory swapped
// for a symlink after the path was resolved is refused, never followed.
// Owners are not checked: these are the directories of smb.conf and its
// includes, which the administrator chose.
func openPathDir(path string) (*dirHandle, error) {
	path = filepath.Clean(path)
	if !filepath.IsAbs(path) {
		return nil, fmt.Errorf("%s: not an absolute path", path)
	}
	root, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /: %w", err)
	}
	if path == "/" {
		return &dirHandle{fd: root, path: path}, nil
	}
	fd, err := openBeneath(root, strings.TrimPrefix(path, "/"), unix.O_RDONLY|unix.O_DIRECTORY, 0)
	unix.Close(root)
	if err != nil {
		return nil, fmt.Errorf("open directory %s: %w", path, symlinkHint(err))
	}
	return &dirHandle{fd: fd, path: path}, nil
}

// symlinkHint names the refusal of a symlink (ELOOP from O_NOFOLLOW or
// RESOLVE_NO_SYMLINKS, EXDEV from RESOLVE_BENEATH, ENOTDIR from
// O_DIRECTORY|O_NOFOLLOW on a symlink).
func symlinkHint(err error) error {
	switch {
	case errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EXDEV):
		return fmt.Errorf("a symlink is on the path (refused, never followed): %w", err)
	case errors.Is(err, unix.ENOTDIR):
		return fmt.Errorf("a symlink or a file that is not a directory is on the path (refused, never followed): %w", err)
	}
	return err
}

// checkOwnFile says why an existing file of the agent's state cannot be
// trusted: not a regular file, more than one link (a hard link to a file
// elsewhere), not ours, or writable by others.
func checkOwnFile(path string, st *unix.Stat_t) error {
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return fmt.Errorf("%s is not a regular file", path)
	case st.Nlink != 1:
		return fmt.Errorf("%s has %d hard links: not a file the agent made", path, st.Nlink)
	case int(st.Uid) != os.Geteuid():
		return fmt.Errorf("%s is owned by uid %d, not the agent's user", path, st.Uid)
	case st.Mode&0o022 != 0:
		return fmt.Errorf("%s is writable by group or others (mode %04o)", path, st.Mode&0o7777)
	}
	return nil
}

// openStateFile opens one of the agent's own files (the lock, the audit
// log) in a verified directory: created exclusively (0600) when missing,
// else opened without following a symlink and only when checkOwnFile
// accepts it. flags are O_RDWR or O_WRONLY|O_APPEND and the like.
func openStateFile(path string, flags int) (*os.File, error) {
	if path == "" {
		return nil, errors.New("no path")
	}
	dir, err := openStateDir(filepath.Dir(path), true)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	base := filepath.Base(path)
	fd, err := openBeneath(dir.fd, base, flags|unix.O_CREAT|unix.O_EXCL, 0o600)
	if errors.Is(err, unix.EEXIST) {
		fd, err = openBeneath(dir.fd, base, flags|unix.O_NONBLOCK, 0)
		if err == nil {
			var st unix.Stat_t
			if err = unix.Fstat(fd, &st); err == nil {
				err = checkOwnFile(path, &st)
			}
			if err != nil {
				unix.Close(fd)
				return nil, err
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, symlinkHint(err))
	}
	return os.NewFile(uintptr(fd), path), nil
}

// readAllBounded reads f from its start, at most max bytes.
func readAllBounded(f *os.File, max int64) ([]byte, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", f.Name(), max)
	}
	return b, nil
}
