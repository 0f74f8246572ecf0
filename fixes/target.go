package fixes

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// maxConfigFile bounds what the transaction reads of a file it edits
// (smb.conf and its includes are a few KiB; the backups are copies).
const maxConfigFile = 16 << 20

// ErrConflict: another writer changed a file while the transaction wrote
// it; its content is kept and the fix is not written.
var ErrConflict = errors.New("changed by another writer during the fix")

// noExchange makes replace use rename plus a check afterwards even where
// the file system can exchange two names atomically (tests run both ways).
var noExchange atomic.Bool

// target is one file the transaction edits, held open from the moment its
// bytes were read: its directory (so that a directory swapped for a
// symlink later is never followed: every write is relative to this one),
// and the file itself (so that a replacement or an edit in place is seen
// just before the new bytes go in: compare-and-swap).
type target struct {
	path string // as the plan names it (maybe a symlink)
	real string // symlinks resolved: the file written
	dir  *dirHandle
	base string
	f    *os.File
	st   unix.Stat_t
	sum  string
}

func (t *target) Close() {
	if t == nil {
		return
	}
	if t.f != nil {
		t.f.Close()
		t.f = nil
	}
	t.dir.Close()
}

// openTarget resolves path when resolve is set (a symlinked smb.conf is
// edited at its target, the link stays; a path from a manifest is already
// resolved and a symlink on it now is refused), opens its directory without following symlinks and the
// file without following one, and reads it. The file must be a regular
// file with one link unless force (replacing a file with other hard links
// would leave them with the old content).
func openTarget(path string, force, resolve bool) (*target, []byte, error) {
	real := path
	if resolve {
		var err error
		if real, err = filepath.EvalSymlinks(path); err != nil {
			return nil, nil, err
		}
	}
	real, err := filepath.Abs(real)
	if err != nil {
		return nil, nil, err
	}
	dir, err := openPathDir(filepath.Dir(real))
	if err != nil {
		return nil, nil, err
	}
	t := &target{path: path, real: real, dir: dir, base: filepath.Base(real)}
	fd, err := openBeneath(dir.fd, t.base, unix.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		dir.Close()
		return nil, nil, fmt.Errorf("open %s: %w", real, symlinkHint(err))
	}
	t.f = os.NewFile(uintptr(fd), real)
	b, err := t.load()
	if err == nil && t.st.Mode&unix.S_IFMT != unix.S_IFREG {
		err = fmt.Errorf("%s is not a regular file", real)
	}
	if err == nil && t.st.Nlink > 1 && !force {
		err = fmt.Errorf("%w: %s has %d hard links: replacing it would leave the other names with the old content; refusing without --force", ErrRefused, real, t.st.Nlink)
	}
	if err != nil {
		t.Close()
		return nil, nil, err
	}
	return t, b, nil
}

// load fstats and reads the held file, recording what the compare-and-swap
// compares.
func (t *target) load() ([]byte, error) {
	if err := unix.Fstat(int(t.f.Fd()), &t.st); err != nil {
		return nil, err
	}
	if t.st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("%s is not a regular file", t.real)
	}
	b, err := readAllBounded(t.f, maxConfigFile)
	if err != nil {
		return nil, err
	}
	t.sum = sha(b)
	return b, nil
}

func (t *target) meta() fileMeta {
	m := fileMeta{Mode: fs.FileMode(t.st.Mode & 0o777), UID: int(t.st.Uid), GID: int(t.st.Gid)}
	if t.st.Mode&unix.S_ISUID != 0 {
		m.Mode |= fs.ModeSetuid
	}
	if t.st.Mode&unix.S_ISGID != 0 {
		m.Mode |= fs.ModeSetgid
	}
	if t.st.Mode&unix.S_ISVTX != 0 {
		m.Mode |= fs.ModeSticky
	}
	return m
}

// unchanged says how the file differs from when it was read: another
// file under its name (inode), or the held file's size, modification or
// change time, or bytes differ. After a rename the change time is not
// compared: the rename itself sets it.
func (t *target) unchanged(name string, renamed bool) error {
	var now, held unix.Stat_t
	if err := unix.Fstatat(t.dir.fd, name, &now, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("%s: %w", t.real, err)
	}
	if now.Dev != t.st.Dev || now.Ino != t.st.Ino {
		return fmt.Errorf("%s was replaced by another file (inode %d, was %d)", t.real, now.Ino, t.st.Ino)
	}
	if err := unix.Fstat(int(t.f.Fd()), &held); err != nil {
		return err
	}
	if held.Size != t.st.Size || held.Mtim != t.st.Mtim || (!renamed && held.Ctim != t.st.Ctim) {
		return fmt.Errorf("%s was modified (size %d, was %d)", t.real, held.Size, t.st.Size)
	}
	b, err := readAllBounded(t.f, maxConfigFile)
	if err != nil {
		return err
	}
	if sha(b) != t.sum {
		return fmt.Errorf("%s has other content", t.real)
	}
	return nil
}

// safeMode is the mode to give the new file: the permission bits wanted,
// and set-id or sticky bits only where the file being replaced has them
// too (a manifest may ask for a mode; it never adds set-id bits).
func (t *target) safeMode(want fs.FileMode) fs.FileMode {
	m := want.Perm()
	cur := t.meta().Mode
	for _, bit := range []fs.FileMode{fs.ModeSetuid, fs.ModeSetgid, fs.ModeSticky} {
		if want&bit != 0 && cur&bit != 0 {
			m |= bit
		}
	}
	return m
}

// replace writes data as the new content of the file, atomically and only
// if the file is still exactly what was read (compare-and-swap): a
// temporary file in the held directory (mode, owner and extended
// attributes of the old one, fsynced), a check that the old file is
// unchanged, then an atomic exchange of the two names, and a check that
// what was swapped out is still the old file unchanged (a writer that came
// in between is swapped back: its content stays, nothing of ours). Where
// the file system cannot exchange names it renames and checks after; a
// change seen then is put back. On success the new file is the one held.
func (t *target) replace(data []byte, meta fileMeta, fault func(point, path string) error) (err error) {
	tmp := "." + t.base + tempMarker + randomSuffix() + ".tmp"
	fd, err := openBeneath(t.dir.fd, tmp, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", t.dir.join(tmp), err)
	}
	nf := os.NewFile(uintptr(fd), t.dir.join(tmp))
	keep := false
	defer func() {
		if !keep {
			nf.Close()
			unix.Unlinkat(t.dir.fd, tmp, 0)
		}
	}()
	if err := fillNew(nf, t.f, data, meta, t.safeMode(meta.Mode), fault); err != nil {
		return fmt.Errorf("write %s: %w", nf.Name(), err)
	}
	if fault != nil {
		if err := fault(FaultBeforeRename, t.real); err != nil {
			return err
		}
	}
	if err := t.unchanged(t.base, false); err != nil {
		return fmt.Errorf("%w: %v; nothing was written", ErrConflict, err)
	}
	exchanged := false
	if !noExchange.Load() {
		err := unix.Renameat2(t.dir.fd, tmp, t.dir.fd, t.base, unix.RENAME_EXCHANGE)
		switch {
		case err == nil:
			exchanged = true
		// No exchange on this file system, or a syscall filter that denies
		// renameat2: rename, then check.
		case errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.EXDEV):
		default:
			return fmt.Errorf("exchange %s with %s: %w", nf.Name(), t.real, err)
		}
	}
	if exchanged {
		if fault != nil {
			if err := fault(FaultAfterSwap, t.real); err != nil {
				unix.Renameat2(t.dir.fd, tmp, t.dir.fd, t.base, unix.RENAME_EXCHANGE)
				return err
			}
		}
		// tmp now names what was swapped out: it must be the old file,
		// unchanged, or someone wrote in between.
		if cerr := t.unchanged(tmp, true); cerr != nil {
			if xerr := unix.Renameat2(t.dir.fd, tmp, t.dir.fd, t.base, unix.RENAME_EXCHANGE); xerr != nil {
				keep = true
				return fmt.Errorf("%w: %v, and swapping it back failed: %v (its content is in %s)", ErrConflict, cerr, xerr, nf.Name())
			}
			return fmt.Errorf("%w: %v; its content is kept, nothing was written", ErrConflict, cerr)
		}
		if err := unix.Unlinkat(t.dir.fd, tmp, 0); err != nil {
			return fmt.Errorf("remove %s: %w", nf.Name(), err)
		}
	} else {
		if err := unix.Renameat(t.dir.fd, tmp, t.dir.fd, t.base); err != nil {
			return fmt.Errorf("rename %s to %s: %w", nf.Name(), t.real, err)
		}
		if fault != nil {
			if err := fault(FaultAfterSwap, t.real); err != nil {
				return err
			}
		}
		// The old file is unlinked but held: a write that reached it
		// between the check and the rename is put back.
		if cerr := t.unchanged2(); cerr != nil {
			theirs, rerr := readAllBounded(t.f, maxConfigFile)
			if rerr == nil {
				saved := *t
				saved.f, saved.st, saved.sum = nf, unix.Stat_t{}, ""
				if rerr = (&saved).reload(); rerr == nil {
					if rerr = saved.replace(theirs, t.meta(), nil); rerr == nil {
						saved.f.Close() // the file put back; nf was closed by replace
					}
				}
			}
			if rerr != nil {
				keep = true
				return fmt.Errorf("%w: %v, and putting its content back failed: %v", ErrConflict, cerr, rerr)
			}
			return fmt.Errorf("%w: %v; its content is kept, nothing was written", ErrConflict, cerr)
		}
	}
	if err := unix.Fsync(t.dir.fd); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("sync directory %s: %w", t.dir.path, err)
	}
	keep = true
	t.f.Close()
	t.f = nf
	if err := unix.Fstat(int(nf.Fd()), &t.st); err != nil {
		return err
	}
	t.sum = sha(data)
	return nil
}

// unchanged2 checks the held (now unlinked) old file only.
func (t *target) unchanged2() error {
	var held unix.Stat_t
	if err := unix.Fstat(int(t.f.Fd()), &held); err != nil {
		return err
	}
	if held.Size != t.st.Size || held.Mtim != t.st.Mtim {
		return fmt.Errorf("%s was modified during the rename", t.real)
	}
	b, err := readAllBounded(t.f, maxConfigFile)
	if err != nil {
		return err
	}
	if sha(b) != t.sum {
		return fmt.Errorf("%s was modified during the rename", t.real)
	}
	return nil
}

func (t *target) reload() error {
	_, err := t.load()
	return err
}

// fillNew writes data to the new file nf, with old's owner, extended
// attributes (SELinux context, POSIX ACLs, user attributes) and mode,
// and fsyncs it. An attribute that cannot be carried over is an error:
// the file is not replaced by one the administrator did not mean.
func fillNew(nf, old *os.File, data []byte, meta fileMeta, mode fs.FileMode, fault func(point, path string) error) error {
	fd := int(nf.Fd())
	if meta.UID >= 0 && (meta.UID != os.Geteuid() || meta.GID != os.Getegid()) {
		if err := unix.Fchown(fd, meta.UID, meta.GID); err != nil {
			return fmt.Errorf("keep owner %d:%d: %w", meta.UID, meta.GID, err)
		}
	}
	if _, err := nf.Write(data); err != nil {
		return err
	}
	if fault != nil {
		if err := fault(FaultAfterTempWrite, nf.Name()); err != nil {
			return err
		}
	}
	if old != nil {
		if err := copyXattrs(old, nf); err != nil {
			return err
		}
	}
	// Chmod after chown (chown clears set-id bits) and after the ACL (the
	// mode's group bits are the ACL mask; the old file had both agree).
	if err := unix.Fchmod(fd, uint32(mode.Perm())|setidBits(mode)); err != nil {
		return fmt.Errorf("keep mode %v: %w", mode, err)
	}
	return nf.Sync()
}

func setidBits(m fs.FileMode) uint32 {
	var b uint32
	if m&fs.ModeSetuid != 0 {
		b |= unix.S_ISUID
	}
	if m&fs.ModeSetgid != 0 {
		b |= unix.S_ISGID
	}
	if m&fs.ModeSticky != 0 {
		b |= unix.S_ISVTX
	}
	return b
}

// setXattr is fsetxattr(2); a test makes it fail as a file system
// without support for an attribute would.
var setXattr = unix.Fsetxattr

// copyXattrs gives dst exactly src's extended attributes.
func copyXattrs(src, dst *os.File) error {
	want, err := listXattrs(int(src.Fd()))
	if err != nil {
		return fmt.Errorf("list extended attributes of %s: %w", src.Name(), err)
	}
	have, _ := listXattrs(int(dst.Fd()))
	for name := range have {
		if _, ok := want[name]; !ok {
			// Inherited from a default ACL of the directory: the old
			// file did not have it.
			if err := unix.Fremovexattr(int(dst.Fd()), name); err != nil && !errors.Is(err, unix.ENODATA) {
				return fmt.Errorf("cannot remove extended attribute %s the new file inherited: %w; refusing to replace %s", name, err, src.Name())
			}
		}
	}
	for name, val := range want {
		if err := setXattr(int(dst.Fd()), name, val, 0); err != nil {
			return fmt.Errorf("cannot carry extended attribute %s of %s over to the new file: %w; refusing to replace it", name, src.Name(), err)
		}
	}
	return nil
}

// listXattrs reads every extended attribute of fd.
func listXattrs(fd int) (map[string][]byte, error) {
	out := map[string][]byte{}
	sz, err := unix.Flistxattr(fd, nil)
	if errors.Is(err, unix.ENOTSUP) {
		return out, nil
	}
	if err != nil || sz == 0 {
		return out, err
	}
	buf := make([]byte, sz)
	if sz, err = unix.Flistxattr(fd, buf); err != nil {
		return out, err
	}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:sz]), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		n, err := unix.Fgetxattr(fd, name, nil)
		if err != nil {
			return out, fmt.Errorf("%s: %w", name, err)
		}
		v := make([]byte, n)
		if n, err = unix.Fgetxattr(fd, name, v); err != nil {
			return out, fmt.Errorf("%s: %w", name, err)
		}
		out[name] = v[:n]
	}
	return out, nil
}

// cleanStaleTemps removes the temporary files a killed run left beside
// the file, and returns their names.
func (t *target) cleanStaleTemps() []string {
	d, err := unix.Openat(t.dir.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	f := os.NewFile(uintptr(d), t.dir.path)
	defer f.Close()
	names, _ := f.Readdirnames(-1)
	prefix := "." + t.base + tempMarker
	var removed []string
	for _, n := range names {
		if strings.HasPrefix(n, prefix) && strings.HasSuffix(n, ".tmp") {
			if err := unix.Unlinkat(t.dir.fd, n, 0); err == nil {
				removed = append(removed, t.dir.join(n))
			}
		}
	}
	return removed
}
