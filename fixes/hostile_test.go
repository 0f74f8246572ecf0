package fixes

// Tests as an attacker on the host would do it: symlinks and renames done
// by a process running as nobody (ln and mv, run with syscall.Credential),
// forged manifests, a concurrent writer. Each ends by checking that
// nothing outside the agent's own files changed.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/smb-agent/smb-agent/checks"
	"github.com/smb-agent/smb-agent/configs/smbconf"
)

const nobody = 65534

// hostile is a directory tree a non-root user can reach (t.TempDir is
// 0700).
type hostile struct {
	root string
}

func newHostile(t *testing.T) *hostile {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("these tests plant files as another user: they need root (CI runs them as root)")
		}
		t.Skip("needs root to act as another user")
	}
	root, err := os.MkdirTemp("", "fixes-hostile-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(root) })
	require.NoError(t, os.Chmod(root, 0o755))
	return &hostile{root: root}
}

func (h *hostile) path(parts ...string) string {
	return filepath.Join(append([]string{h.root}, parts...)...)
}

// asNobody runs "symlink OLD NEW" (ln -s) or "rename OLD NEW" (mv -T) as
// uid/gid nobody.
func (h *hostile) asNobody(t *testing.T, op ...string) {
	t.Helper()
	argv := map[string][]string{"symlink": {"ln", "-s", "--"}, "rename": {"mv", "-T", "--"}}[op[0]]
	require.NotEmpty(t, argv, "operation %q", op[0])
	path, err := exec.LookPath(argv[0])
	require.NoError(t, err)
	cmd := exec.Command(path, append(argv[1:], op[1:]...)...)
	cmd.Env = []string{}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "as nobody %q: %s", op, out)
}

// nobodyDir makes a directory owned by nobody (one the attacker controls).
func (h *hostile) nobodyDir(t *testing.T, parts ...string) string {
	t.Helper()
	d := h.path(parts...)
	require.NoError(t, os.MkdirAll(d, 0o755))
	require.NoError(t, os.Chown(d, nobody, nobody))
	return d
}

// victim is a root-only file the attacker wants root to write.
func (h *hostile) victim(t *testing.T, parts ...string) string {
	t.Helper()
	p := h.path(parts...)
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o700))
	require.NoError(t, os.WriteFile(p, []byte("root:secret:1:\n"), 0o600))
	return p
}

// treeEntry is what is compared of each file: type and mode, owner,
// links, content or link target.
type treeEntry struct {
	Mode         fs.FileMode
	UID, GID     uint32
	Nlink        uint64
	Data, Target string
}

// snapTree records every entry under root except those under skip.
func snapTree(t *testing.T, root string, skip ...string) map[string]treeEntry {
	t.Helper()
	out := map[string]treeEntry{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		for _, s := range skip {
			if p == s {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		e := treeEntry{Mode: fi.Mode(), UID: st.Uid, GID: st.Gid, Nlink: uint64(st.Nlink)}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			e.Target, _ = os.Readlink(p)
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			s := sha256.Sum256(b)
			e.Data = hex.EncodeToString(s[:])
		}
		out[p] = e
		return nil
	})
	require.NoError(t, err)
	return out
}

func requireTreeSame(t *testing.T, before map[string]treeEntry, root string, skip ...string) {
	t.Helper()
	after := snapTree(t, root, skip...)
	var diff []string
	for p, e := range before {
		if a, ok := after[p]; !ok {
			diff = append(diff, "removed "+p)
		} else if a != e {
			diff = append(diff, fmt.Sprintf("changed %s: %+v -> %+v", p, e, a))
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			diff = append(diff, "added "+p)
		}
	}
	sort.Strings(diff)
	require.Empty(t, diff, "nothing outside the agent's files may change")
}

// bothResolvers runs f with openat2 and with the openat fallback.
func bothResolvers(t *testing.T, f func(t *testing.T)) {
	for _, fallback := range []bool{false, true} {
		name := "openat2"
		if fallback {
			name = "openat-fallback"
		} else if !haveOpenat2() {
			t.Log("this kernel has no openat2: only the fallback is tested")
			continue
		}
		t.Run(name, func(t *testing.T) {
			noOpenat2.Store(fallback)
			defer noOpenat2.Store(false)
			f(t)
		})
	}
}

// protocolPlanAt plans lowering server min protocol in the smb.conf at
// path (which may be a symlink, or include the line).
func protocolPlanAt(t *testing.T, path string) *Plan {
	t.Helper()
	c, err := smbconf.Load(path, smbconf.LoadOptions{})
	require.NoError(t, err)
	facts := &checks.Facts{SmbConfPath: path, Config: c, Smbd: checks.SmbdFacts{Running: true, ConfigPath: path}}
	fd := configFix("protocol-mismatch", "server-min-above-client-max", checks.Critical,
		checks.Change{Section: "global", Param: "server min protocol", Value: "SMB2_02"})
	p, err := MakePlan(report(fd), facts, PlanOptions{})
	require.NoError(t, err)
	require.NotEmpty(t, p.Files)
	return p
}

// TestLockAndAuditNeverFollowSymlinks: a lock file or audit log planted as
// a symlink (or hard link) to a root-only file, in a state directory the
// attacker owns or under a symlinked path, is refused; the target keeps
// its bytes.
func TestLockAndAuditNeverFollowSymlinks(t *testing.T) {
	bothResolvers(t, func(t *testing.T) {
		h := newHostile(t)
		victim := h.victim(t, "secret", "shadow")
		// A state directory the attacker created first, with the lock
		// and the audit log as symlinks to the victim.
		evil := h.nobodyDir(t, "evil-state")
		h.asNobody(t, "symlink", victim, filepath.Join(evil, "fix.lock"))
		h.asNobody(t, "symlink", victim, filepath.Join(evil, "audit.jsonl"))
		// A root-owned state directory where a symlink was left anyway.
		good := h.path("state")
		require.NoError(t, os.Mkdir(good, 0o700))
		require.NoError(t, os.Symlink(victim, filepath.Join(good, "fix.lock")))
		require.NoError(t, os.Symlink(victim, filepath.Join(good, "audit.jsonl")))
		// A hard link to the victim as the audit log.
		hard := h.path("hard")
		require.NoError(t, os.Mkdir(hard, 0o700))
		require.NoError(t, os.Link(victim, filepath.Join(hard, "audit.jsonl")))
		// The state path through a symlink the attacker planted.
		attic := h.nobodyDir(t, "attic")
		h.asNobody(t, "symlink", good, filepath.Join(attic, "state"))
		snap := snapTree(t, h.root)

		for _, tc := range []struct{ path, want string }{
			{filepath.Join(evil, "fix.lock"), "owned by uid 65534"},
			{filepath.Join(good, "fix.lock"), "symlink"},
			{filepath.Join(attic, "state", "fix.lock"), "owned by uid 65534"},
		} {
			_, err := AcquireLock(tc.path)
			require.Error(t, err, tc.path)
			require.Contains(t, err.Error(), tc.want)
		}
		for _, tc := range []struct{ path, want string }{
			{filepath.Join(evil, "audit.jsonl"), "owned by uid 65534"},
			{filepath.Join(good, "audit.jsonl"), "symlink"},
			{filepath.Join(hard, "audit.jsonl"), "hard links"},
		} {
			err := appendAudit(tc.path, AuditRecord{Op: "apply", Result: ResultApplied})
			require.Error(t, err, tc.path)
			require.Contains(t, err.Error(), tc.want)
		}
		// A directory anyone may write in (no sticky bit) on the way, and
		// a FIFO where the audit log should be.
		open := h.path("open")
		require.NoError(t, os.Mkdir(open, 0o700))
		require.NoError(t, os.Chmod(open, 0o777))
		_, err := AcquireLock(filepath.Join(open, "state", "fix.lock"))
		require.ErrorContains(t, err, "writable by group or others")
		require.NoDirExists(t, filepath.Join(open, "state"), "nothing made under it")
		fifoDir := h.path("fifo")
		require.NoError(t, os.Mkdir(fifoDir, 0o700))
		require.NoError(t, unix.Mkfifo(filepath.Join(fifoDir, "audit.jsonl"), 0o600))
		err = appendAudit(filepath.Join(fifoDir, "audit.jsonl"), AuditRecord{Op: "apply"})
		require.Error(t, err)
		require.NotContains(t, err.Error(), "write audit log", "refused before writing")
		// A symlinked directory on the path, even to a good directory.
		require.NoError(t, os.Symlink(good, h.path("state-link")))
		snap = snapTree(t, h.root)
		_, err = AcquireLock(h.path("state-link", "other.lock"))
		require.ErrorContains(t, err, "symlink")
		requireTreeSame(t, snap, h.root)
		b, err := os.ReadFile(victim)
		require.NoError(t, err)
		require.Equal(t, "root:secret:1:\n", string(b))
	})
}

// TestBackupDirRefused: backups under a directory the attacker owns, or
// reached through a symlink, are refused before anything is written, and
// the result names no manifest that does not exist.
func TestBackupDirRefused(t *testing.T) {
	bothResolvers(t, func(t *testing.T) {
		h := newHostile(t)
		h.victim(t, "secret", "shadow")
		evil := h.nobodyDir(t, "evil")
		h.asNobody(t, "symlink", h.path("secret"), filepath.Join(evil, "backups"))
		for _, dir := range []string{filepath.Join(evil, "backups"), filepath.Join(evil, "fresh")} {
			env := testEnv(t, &fakeWorld{})
			env.BackupDir = dir
			p, conf := protocolPlan(t)
			before := read(t, conf)
			snap := snapTree(t, h.root)
			res, err := Apply(context.Background(), p, env)
			require.Error(t, err)
			require.Equal(t, ResultAborted, res.Result)
			require.Contains(t, err.Error(), "owned by uid 65534")
			require.Empty(t, res.Manifest, "no manifest was written: none is named")
			require.Equal(t, before, read(t, conf), "smb.conf byte-identical")
			requireTreeSame(t, snap, h.root)
		}
	})
}

// forge writes a transaction directory with a manifest the agent did not
// sign: it names the victim, asks for mode 04755, and carries a backup
// with the attacker's bytes.
func forge(t *testing.T, backupDir, victim, smbConf string) string {
	t.Helper()
	id := "20200101T000000.000000000Z-1-abcd"
	dir := filepath.Join(backupDir, id)
	require.NoError(t, os.Mkdir(dir, 0o700))
	evil := []byte("#!/bin/sh\nid\n")
	cur, err := os.ReadFile(victim)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, backupName(0, victim)), evil, 0o600))
	m := Manifest{ID: id, Op: "apply", State: StateInProgress, SmbConf: smbConf, Fixes: []string{"x"},
		Files: []ManifestFile{{Path: victim, Real: victim, BeforeSHA256: sha(evil), AfterSHA256: sha(cur), Mode: 0o755 | fs.ModeSetuid, UID: 0, GID: 0}}}
	raw, err := json.Marshal(m)
	require.NoError(t, err)
	env := fmt.Sprintf(`{"format":%q,"manifest":%s,"hmac_sha256":%q}`, manifestFormat, raw, strings.Repeat("ab", 32))
	require.NoError(t, os.WriteFile(filepath.Join(dir, manifestName), []byte(env), 0o600))
	return id
}

// TestForgedManifestRefused: recovery acts only on manifests this agent
// signed, naming files smb.conf reads; it refuses with a clear message
// and changes nothing otherwise, and never restores set-id bits.
func TestForgedManifestRefused(t *testing.T) {
	bothResolvers(t, func(t *testing.T) {
		h := newHostile(t)
		victim := h.victim(t, "secret", "run.sh")
		require.NoError(t, os.Chmod(victim, 0o755))

		t.Run("unsigned", func(t *testing.T) {
			env := testEnv(t, &fakeWorld{})
			p, conf := protocolPlan(t)
			_, err := Apply(context.Background(), p, env) // creates the store and its key
			require.NoError(t, err)
			forge(t, env.BackupDir, victim, conf)
			snap, state := snapTree(t, h.root), snapTree(t, env.BackupDir)
			confBefore := read(t, conf)
			out, err := Recover(context.Background(), env)
			require.Error(t, err)
			require.Contains(t, err.Error(), "manifest refused")
			require.Contains(t, err.Error(), "HMAC does not verify")
			require.Empty(t, out)
			requireTreeSame(t, snap, h.root)
			requireTreeSame(t, state, env.BackupDir)
			require.Equal(t, confBefore, read(t, conf))
		})
		t.Run("signed but names a file smb.conf does not read", func(t *testing.T) {
			env := testEnv(t, &fakeWorld{})
			p, conf := protocolPlan(t)
			res, err := Apply(context.Background(), p, env)
			require.NoError(t, err)
			m, err := loadManifest(res.Manifest)
			require.NoError(t, err)
			cur, err := os.ReadFile(victim)
			require.NoError(t, err)
			m.State = StateInProgress
			m.Files[0].Path, m.Files[0].Real, m.Files[0].AfterSHA256 = victim, victim, sha(cur)
			require.NoError(t, saveManifest(env.BackupDir, m))
			snap := snapTree(t, h.root)
			confBefore := read(t, conf)
			_, err = Recover(context.Background(), env)
			require.ErrorContains(t, err, "does not read: not a file a fix edits")
			requireTreeSame(t, snap, h.root)
			require.Equal(t, confBefore, read(t, conf))
			m2, err := loadManifest(res.Manifest)
			require.NoError(t, err)
			require.Equal(t, StateInProgress, m2.State, "the refused manifest is left as it was")
		})
		t.Run("backup directory owned by another user", func(t *testing.T) {
			env := testEnv(t, &fakeWorld{})
			env.BackupDir = h.nobodyDir(t, "evil-backups")
			require.NoError(t, os.Chown(env.BackupDir, 0, 0))
			_, conf := protocolPlan(t)
			forge(t, env.BackupDir, victim, conf)
			require.NoError(t, os.Chown(env.BackupDir, nobody, nobody))
			snap := snapTree(t, h.root)
			_, err := Recover(context.Background(), env)
			require.ErrorContains(t, err, "owned by uid 65534")
			requireTreeSame(t, snap, h.root)
		})
		t.Run("set-id bits never added", func(t *testing.T) {
			env := testEnv(t, &fakeWorld{})
			p, conf := protocolPlan(t)
			res, err := Apply(context.Background(), p, env)
			require.NoError(t, err)
			m, err := loadManifest(res.Manifest)
			require.NoError(t, err)
			m.State = StateInProgress // killed, as recovery sees it
			m.Files[0].Mode |= fs.ModeSetuid | fs.ModeSetgid
			require.NoError(t, saveManifest(env.BackupDir, m))
			out, err := Recover(context.Background(), env)
			require.NoError(t, err)
			require.Len(t, out, 1)
			require.Equal(t, ResultRolledBack, out[0].Result)
			fi, err := os.Stat(conf)
			require.NoError(t, err)
			require.Zero(t, fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid), "mode %v", fi.Mode())
			require.Equal(t, fs.FileMode(0o640), fi.Mode().Perm())
		})
		b, err := os.ReadFile(victim)
		require.NoError(t, err)
		require.Equal(t, "root:secret:1:\n", string(b))
	})
}

// TestIncludeDirSwappedForSymlink: the attacker owns the directory of an
// included file and, after the write, swaps the include directory for a
// symlink to a root-only one; the rollback writes into the directory the
// transaction opened, never through the symlink.
func TestIncludeDirSwappedForSymlink(t *testing.T) {
	bothResolvers(t, func(t *testing.T) {
		h := newHostile(t)
		secret := h.path("secret")
		require.NoError(t, os.MkdirAll(secret, 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(secret, "proto.conf"), []byte("root only\n"), 0o600))
		conf := h.nobodyDir(t, "conf")
		inc := h.nobodyDir(t, "conf", "inc")
		incFile := filepath.Join(inc, "proto.conf")
		require.NoError(t, os.WriteFile(incFile, []byte("   server min protocol = SMB3\n"), 0o644))
		smbConf := filepath.Join(conf, "smb.conf")
		require.NoError(t, os.WriteFile(smbConf, []byte("[global]\n   include = "+incFile+"\n"), 0o644))
		p := protocolPlanAt(t, smbConf)
		require.Equal(t, incFile, p.Files[0].Path)
		env := testEnv(t, &fakeWorld{})
		env.Fault = func(point, path string) error {
			if point == FaultAfterRename {
				h.asNobody(t, "rename", inc, inc+".old")
				h.asNobody(t, "symlink", secret, inc)
				return errors.New("the attacker swapped the directory")
			}
			return nil
		}
		snapSecret := snapTree(t, secret)
		res, err := Apply(context.Background(), p, env)
		require.Error(t, err)
		require.Equal(t, ResultRolledBack, res.Result, "%+v", res)
		requireTreeSame(t, snapSecret, secret)
		require.Equal(t, "   server min protocol = SMB3\n", read(t, filepath.Join(inc+".old", "proto.conf")),
			"restored in the directory the transaction held")
		tmps, _ := filepath.Glob(filepath.Join(inc+".old", ".*.tmp"))
		require.Empty(t, tmps)

		// Recovery in a new run (the manifest names the real path) refuses
		// the symlink on the path instead of following it.
		m, err := loadManifest(res.Manifest)
		require.NoError(t, err)
		m.State = StateInProgress
		require.NoError(t, saveManifest(env.BackupDir, m))
		snapAll := snapTree(t, h.root)
		out, _ := Recover(context.Background(), env)
		require.Len(t, out, 1)
		// Either the restore refuses the symlink (rollback-failed), or,
		// earlier, smb.conf no longer loads: its include now reaches the
		// root-only file, which is not smb.conf-like and is not read
		// (refused). Both leave everything as it was.
		require.Contains(t, []string{ResultRollbackFailed, ResultRefused}, out[0].Result)
		requireTreeSame(t, snapAll, h.root)
	})
}
