package fixes

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Fault points, in the order a transaction passes them. Env.Fault is
// called at each; tests make it kill the process or fail there.
const (
	FaultAfterLock      = "after-lock"
	FaultAfterBackup    = "after-backup"
	FaultAfterTempWrite = "after-temp-write"
	FaultBeforeRename   = "before-rename"
	FaultAfterRename    = "after-rename"
	FaultAfterValidate  = "after-validate"
	FaultAfterAction    = "after-action"
	FaultProve          = "prove"
)

// FaultPoints lists every point, for the fault-injection build's checks.
var FaultPoints = []string{FaultAfterLock, FaultAfterBackup, FaultAfterTempWrite, FaultBeforeRename,
	FaultAfterRename, FaultAfterValidate, FaultAfterAction, FaultProve}

// tempMarker names our temporary files: ".smb.conf.smb-agent-RANDOM.tmp"
// beside the file they replace, so a later run can find and remove what a
// killed run left (only while it holds the lock, when no fixer is writing).
const tempMarker = ".smb-agent-"

// fileMeta is what is kept of a file besides its bytes.
type fileMeta struct {
	Mode fs.FileMode `json:"mode"`
	UID  int         `json:"uid"`
	GID  int         `json:"gid"`
}

func statMeta(path string) (fileMeta, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileMeta{}, err
	}
	m := fileMeta{Mode: fi.Mode().Perm() | (fi.Mode() & (fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)), UID: -1, GID: -1}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		m.UID, m.GID = int(st.Uid), int(st.Gid)
	}
	if !fi.Mode().IsRegular() {
		return m, fmt.Errorf("%s is not a regular file", path)
	}
	return m, nil
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func randomSuffix() string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return fmt.Sprint(time.Now().UnixNano())
	}
	return hex.EncodeToString(b)
}

// createExclusive writes data to a new file (O_EXCL: never over an existing
// one) with meta's mode and owner, and fsyncs it. On any error the partial
// file is removed. fault, when set, is called after the data is written and
// before the fsync, with the file's path.
func createExclusive(path string, data []byte, meta fileMeta, fault func(point, path string) error, point string) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, meta.Mode.Perm())
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(path)
		}
	}()
	if meta.UID >= 0 && (meta.UID != os.Geteuid() || meta.GID != os.Getegid()) {
		if err := f.Chown(meta.UID, meta.GID); err != nil {
			return fmt.Errorf("keep owner %d:%d: %w", meta.UID, meta.GID, err)
		}
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if fault != nil && point != "" {
		if err := fault(point, path); err != nil {
			return err
		}
	}
	if err := f.Sync(); err != nil {
		return err
	}
	// Chmod after Chown: chown clears set-id bits; and the umask may have
	// narrowed the mode given to open.
	if err := f.Chmod(meta.Mode); err != nil {
		return fmt.Errorf("keep mode %v: %w", meta.Mode, err)
	}
	return f.Close()
}

// syncDir fsyncs a directory so that a rename or a new entry in it is
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}

// writeAtomic replaces path with data: a temporary file beside it (same
// directory, so rename is atomic), same mode and owner, written and
// fsynced, renamed over path, and the directory fsynced. A reader sees the
// old bytes or the new bytes, never a mix; a crash before the rename
// leaves path untouched and a temporary file that the next run removes.
func writeAtomic(path string, data []byte, meta fileMeta, fault func(point, path string) error) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp := filepath.Join(dir, "."+base+tempMarker+randomSuffix()+".tmp")
	if err := createExclusive(tmp, data, meta, fault, FaultAfterTempWrite); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if fault != nil {
		if err := fault(FaultBeforeRename, path); err != nil {
			os.Remove(tmp)
			return err
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rename %s to %s: %w", tmp, path, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// cleanStaleTemps removes the temporary files a killed run left beside
// path, and returns their names.
func cleanStaleTemps(path string) []string {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "."+globEscape(base)+tempMarker+"*.tmp"))
	var removed []string
	for _, m := range matches {
		if err := os.Remove(m); err == nil {
			removed = append(removed, m)
		}
	}
	return removed
}

func globEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`)
	return r.Replace(s)
}

// Manifest states.
const (
	StateInProgress = "in-progress" // files may be half written: recover
	StateApplied    = "applied"     // proven; --rollback may restore it
	StateRolledBack = "rolled-back" // restored (after a failure or --rollback)
	StateAborted    = "aborted"     // stopped before any file changed
	StateFailed     = "failed"      // restore failed: a person must look
)

// Manifest records one transaction's backups, so that a failure, a later
// run (after a crash) or --rollback can restore every file byte for byte.
type Manifest struct {
	ID      string    `json:"id"`
	Op      string    `json:"op"` // apply or rollback
	Time    time.Time `json:"time"`
	State   string    `json:"state"`
	Fixes   []string  `json:"fixes"`
	Action  Action    `json:"action"`
	SmbConf string    `json:"smb_conf"`
	// SmbdConfig is the file smbd ran with (for smbcontrol -s).
	SmbdConfig string         `json:"smbd_config,omitempty"`
	Files      []ManifestFile `json:"files"`
	// Of is the transaction a rollback undoes.
	Of string `json:"of,omitempty"`
}

// ManifestFile is one file of a transaction.
type ManifestFile struct {
	Path string `json:"path"`
	// Backup is the copy of the bytes before the transaction.
	Backup       string      `json:"backup"`
	BeforeSHA256 string      `json:"before_sha256"`
	AfterSHA256  string      `json:"after_sha256"`
	Mode         fs.FileMode `json:"mode"`
	UID          int         `json:"uid"`
	GID          int         `json:"gid"`
}

func (m ManifestFile) meta() fileMeta { return fileMeta{Mode: m.Mode, UID: m.UID, GID: m.GID} }

// manifestPath is where a transaction's manifest lives.
func manifestPath(backupDir, id string) string {
	return filepath.Join(backupDir, id, "manifest.json")
}

// saveManifest writes the manifest atomically.
func saveManifest(backupDir string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	p := manifestPath(backupDir, m.ID)
	meta := fileMeta{Mode: 0o600, UID: -1, GID: -1}
	if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
		if err := createExclusive(p, append(b, '\n'), meta, nil, ""); err != nil {
			return fmt.Errorf("write manifest: %w", err)
		}
		return syncDir(filepath.Dir(p))
	}
	if err := writeAtomic(p, append(b, '\n'), meta, nil); err != nil {
		return fmt.Errorf("update manifest: %w", err)
	}
	return nil
}

func loadManifest(path string) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", path, err)
	}
	return &m, nil
}

// manifests lists the transactions in backupDir, oldest first (ids sort by
// time).
func manifests(backupDir string) ([]*Manifest, error) {
	ents, err := os.ReadDir(backupDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Manifest
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		m, err := loadManifest(filepath.Join(backupDir, e.Name(), "manifest.json"))
		if err != nil {
			continue // a directory without a manifest: nothing was changed
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// newTransactionID is sortable by time and unique per process.
func newTransactionID(now time.Time) string {
	return now.UTC().Format("20060102T150405.000000000Z") + "-" + fmt.Sprint(os.Getpid()) + "-" + randomSuffix()[:4]
}

// backupFiles copies each file's current bytes into backupDir/id/ with
// O_EXCL (never over an older backup), same mode and owner, fsynced, and
// records them in the manifest, which it writes (state in-progress) before
// anything else is touched.
func backupFiles(backupDir string, m *Manifest, current map[string][]byte) error {
	dir := filepath.Join(backupDir, m.ID)
	if err := os.MkdirAll(backupDir, 0o700); err != nil {
		return fmt.Errorf("create backup directory: %w", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fmt.Errorf("create backup directory: %w", err)
	}
	for i := range m.Files {
		mf := &m.Files[i]
		mf.Backup = filepath.Join(dir, fmt.Sprintf("%d-%s", i+1, filepath.Base(mf.Path)))
		if err := createExclusive(mf.Backup, current[mf.Path], mf.meta(), nil, ""); err != nil {
			return fmt.Errorf("back up %s: %w", mf.Path, err)
		}
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("sync backup directory: %w", err)
	}
	if err := syncDir(backupDir); err != nil {
		return fmt.Errorf("sync backup directory: %w", err)
	}
	return saveManifest(backupDir, m)
}
