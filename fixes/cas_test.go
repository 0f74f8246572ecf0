package fixes

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func age(t *testing.T, path string) {
	t.Helper()
	old := time.Now().Add(-time.Minute)
	require.NoError(t, os.Chtimes(path, old, old))
}

// TestConcurrentWriterNeverLost races another writer against the fix's
// write, 100 times per way of replacing the file. The writer opens
// smb.conf when the transaction reaches a point (cycling through backup,
// temporary file written, just before the swap, just after it) and
// appends a line. Every try must end either with the fix applied (the
// other line then either in the new file, or provably written after the
// swap into the file it replaced) or aborted with the other writer's
// content intact and nothing of the fix: never a lost edit.
func TestConcurrentWriterNeverLost(t *testing.T) {
	for _, way := range []struct {
		name       string
		noExchange bool
	}{{"exchange", false}, {"rename-then-check", true}} {
		t.Run(way.name, func(t *testing.T) {
			noExchange.Store(way.noExchange)
			defer noExchange.Store(false)
			env := testEnv(t, &fakeWorld{})
			lock, err := AcquireLock(env.LockFile)
			require.NoError(t, err)
			defer lock.Release()
			env.Held = lock
			dir, facts := confDir(t, map[string]string{"smb.conf": minSMB3})
			conf := facts.SmbConfPath
			points := []string{FaultAfterBackup, FaultAfterTempWrite, FaultBeforeRename, FaultAfterSwap}
			counts := map[string]int{}
			for i := 0; i < 100; i++ {
				require.NoError(t, os.WriteFile(conf, []byte(minSMB3), 0o644))
				age(t, conf)
				p := protocolPlanAt(t, conf)
				edit := fmt.Sprintf("# another writer, try %d\n", i)
				var mu sync.Mutex // orders the other write against the swap
				swapped := false
				release, applied := make(chan struct{}), make(chan struct{})
				var once sync.Once
				point := points[i%len(points)]
				env.Fault = func(pt, _ string) error {
					if pt == FaultAfterSwap {
						mu.Lock()
						swapped = true
						mu.Unlock()
					}
					if pt == point {
						once.Do(func() { close(release) })
					}
					return nil
				}
				wrote := make(chan bool, 1)
				go func() {
					select {
					case <-release:
					case <-applied:
					}
					f, err := os.OpenFile(conf, os.O_WRONLY|os.O_APPEND, 0)
					if err != nil {
						panic(err)
					}
					defer f.Close()
					for k := 0; k < i%7; k++ {
						runtime.Gosched()
					}
					mu.Lock()
					after := swapped
					_, err = f.WriteString(edit)
					mu.Unlock()
					if err != nil {
						panic(err)
					}
					wrote <- after
				}()
				res, err := Apply(context.Background(), p, env)
				close(applied)
				after := <-wrote
				got := read(t, conf)
				switch {
				case err == nil:
					require.Equal(t, ResultApplied, res.Result)
					require.Contains(t, got, "server min protocol = SMB2_02", "try %d", i)
					if strings.Contains(got, edit) {
						counts["applied, the other edit kept (it went into the new file)"]++
					} else {
						require.True(t, after, "try %d: the other edit is gone and was not written after the swap: a lost edit\n%s", i, got)
						counts["applied, the other edit written after the swap into the replaced file (proven)"]++
					}
				case errors.Is(err, ErrConflict) || errors.Is(err, ErrChanged):
					require.Equal(t, minSMB3+edit, got, "try %d aborted: the other writer's content must be intact and nothing of the fix in it", i)
					require.Contains(t, []string{ResultAborted, ResultRolledBack}, res.Result)
					counts["aborted, the other writer's content intact"]++
				default:
					t.Fatalf("try %d: %v", i, err)
				}
			}
			var lines []string
			for k, v := range counts {
				lines = append(lines, fmt.Sprintf("%3d %s", v, k))
			}
			sort.Strings(lines)
			t.Logf("100 tries (%s):\n%s", way.name, strings.Join(lines, "\n"))
			tmps, _ := filepath.Glob(filepath.Join(dir, ".*.tmp"))
			require.Empty(t, tmps)
			ents, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.Len(t, ents, 1, "only smb.conf in its directory")
		})
	}
}

// aclXattr encodes a POSIX access ACL (linux/posix_acl_xattr.h):
// user::rw- user:nobody:r-- group::r-- mask::r-- other::---.
func aclXattr() []byte {
	type ent struct {
		tag, perm uint16
		id        uint32
	}
	ents := []ent{{0x01, 6, 0xffffffff}, {0x02, 4, nobody}, {0x04, 4, 0xffffffff}, {0x10, 4, 0xffffffff}, {0x20, 0, 0xffffffff}}
	b := binary.LittleEndian.AppendUint32(nil, 2)
	for _, e := range ents {
		b = binary.LittleEndian.AppendUint16(b, e.tag)
		b = binary.LittleEndian.AppendUint16(b, e.perm)
		b = binary.LittleEndian.AppendUint32(b, e.id)
	}
	return b
}

// TestSymlinkedSmbConfKeepsLinkAndXattrs: a symlinked smb.conf is edited
// at its target (the link stays), with its extended attributes (user
// attributes, a POSIX ACL, a security label where the kernel keeps one)
// carried over; one that cannot be carried over refuses the fix; a hard
// linked file is refused without Force.
func TestSymlinkedSmbConfKeepsLinkAndXattrs(t *testing.T) {
	h := newHostile(t)
	realDir, etc := h.path("real"), h.path("etc")
	require.NoError(t, os.Mkdir(realDir, 0o755))
	require.NoError(t, os.Mkdir(etc, 0o755))
	target := filepath.Join(realDir, "smb.conf")
	link := filepath.Join(etc, "smb.conf")
	require.NoError(t, os.WriteFile(target, []byte(minSMB3), 0o640))
	require.NoError(t, os.Symlink("../real/smb.conf", link))
	want := map[string][]byte{"user.origin": []byte("config-management"), "system.posix_acl_access": aclXattr()}
	for name, v := range want {
		require.NoError(t, unix.Setxattr(target, name, v, 0), name)
	}
	if err := unix.Setxattr(target, "security.test", []byte("label"), 0); err == nil {
		want["security.test"] = []byte("label")
	} else {
		t.Logf("security.* attributes not kept by this file system (%v): checked the others", err)
	}
	age(t, target)
	xattrs := func() map[string][]byte {
		f, err := os.Open(target)
		require.NoError(t, err)
		defer f.Close()
		m, err := listXattrs(int(f.Fd()))
		require.NoError(t, err)
		return m
	}
	before := xattrs()
	fi0, err := os.Stat(target)
	require.NoError(t, err)

	t.Run("an attribute that cannot be carried over refuses", func(t *testing.T) {
		setXattr = func(fd int, name string, v []byte, flags int) error {
			if name == "user.origin" {
				return syscall.ENOTSUP
			}
			return unix.Fsetxattr(fd, name, v, flags)
		}
		defer func() { setXattr = unix.Fsetxattr }()
		snap := snapTree(t, h.root)
		res, err := Apply(context.Background(), protocolPlanAt(t, link), testEnv(t, &fakeWorld{}))
		require.Error(t, err)
		require.Contains(t, err.Error(), "cannot carry extended attribute user.origin")
		require.NotEqual(t, ResultApplied, res.Result)
		requireTreeSame(t, snap, h.root)
	})
	t.Run("applied at the target", func(t *testing.T) {
		res, err := Apply(context.Background(), protocolPlanAt(t, link), testEnv(t, &fakeWorld{}))
		require.NoError(t, err)
		require.Equal(t, ResultApplied, res.Result)
		dest, err := os.Readlink(link)
		require.NoError(t, err)
		require.Equal(t, "../real/smb.conf", dest, "the link stays a link to the same file")
		require.Equal(t, strings.Replace(minSMB3, "SMB3", "SMB2_02", 1), read(t, target))
		require.Equal(t, before, xattrs())
		for name, v := range want {
			require.Equal(t, v, before[name], name)
		}
		fi, err := os.Stat(target)
		require.NoError(t, err)
		require.Equal(t, fi0.Mode(), fi.Mode())
		ents, err := os.ReadDir(realDir)
		require.NoError(t, err)
		require.Len(t, ents, 1)
	})
	t.Run("hard links", func(t *testing.T) {
		_, facts := confDir(t, map[string]string{"smb.conf": minSMB3})
		conf := facts.SmbConfPath
		other := filepath.Join(h.root, "other-name.conf")
		require.NoError(t, os.Link(conf, other))
		snap := snapTree(t, h.root)
		_, err := Apply(context.Background(), protocolPlanAt(t, conf), testEnv(t, &fakeWorld{}))
		require.ErrorIs(t, err, ErrRefused)
		require.Contains(t, err.Error(), "2 hard links")
		require.Equal(t, minSMB3, read(t, conf))
		requireTreeSame(t, snap, h.root)

		env := testEnv(t, &fakeWorld{})
		env.Force = true
		_, err = Apply(context.Background(), protocolPlanAt(t, conf), env)
		require.NoError(t, err)
		require.Contains(t, read(t, conf), "SMB2_02")
		require.Equal(t, minSMB3, read(t, other), "the other name keeps the old content (what --force accepts)")
	})
}

// TestAuditFailureStillApplied: the audit log cannot be written (its
// directory is a symlink): the fix stands, proven, and the error says
// both. A backup that cannot be made names no manifest.
func TestAuditFailureStillApplied(t *testing.T) {
	env := testEnv(t, &fakeWorld{})
	real := t.TempDir()
	link := filepath.Join(t.TempDir(), "logs")
	require.NoError(t, os.Symlink(real, link))
	env.AuditLog = filepath.Join(link, "audit.jsonl")
	p, conf := protocolPlan(t)
	res, err := Apply(context.Background(), p, env)
	var nr *NotRecordedError
	require.ErrorAs(t, err, &nr)
	require.Equal(t, ResultApplied, res.Result)
	require.Contains(t, err.Error(), "the fix is applied and proven, but it could not be recorded in the audit log")
	require.Contains(t, res.AuditError, "symlink")
	require.Contains(t, read(t, conf), "SMB2_02")
	ents, err := os.ReadDir(real)
	require.NoError(t, err)
	require.Empty(t, ents, "nothing written through the symlink")

	env = testEnv(t, &fakeWorld{})
	blocker := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(blocker, nil, 0o600))
	env.BackupDir = filepath.Join(blocker, "backups")
	p, conf = protocolPlan(t)
	before := read(t, conf)
	res, err = Apply(context.Background(), p, env)
	require.Error(t, err)
	require.Equal(t, ResultAborted, res.Result)
	require.Empty(t, res.Manifest)
	require.Equal(t, before, read(t, conf))
}
