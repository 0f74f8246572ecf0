package fixes

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/go-multierror"
	"golang.org/x/sys/unix"
)

// The backup directory holds one directory per transaction: the backups
// and manifest.json, the record that recovery and --rollback act on.
// Recovery restores files as root, so a manifest is honoured only when
// this agent wrote it: the directories and the file are ours and closed to
// others, and it carries an HMAC-SHA256 under a key that only the agent
// created (exclusively, 0600, in the backup directory). A manifest that
// fails any of it is refused, never acted on.

const (
	manifestName   = "manifest.json"
	manifestKey    = ".manifest-hmac.key"
	manifestFormat = "smb-agent-manifest/1"
	// maxManifest bounds a manifest's size (a few KiB in practice).
	maxManifest = 1 << 20
	// maxManifestFiles bounds how many files one transaction names.
	maxManifestFiles = 256
)

// ErrForgedManifest: a manifest this agent did not write (or that was
// changed since), refused.
var ErrForgedManifest = errors.New("manifest refused")

// store is the backup directory, held open after it was verified.
type store struct {
	dir *dirHandle
	key []byte
}

func (s *store) Close() {
	if s != nil {
		s.dir.Close()
	}
}

// openStore opens (with create: creates) the backup directory and its
// key. Without create, a missing directory is (nil, nil).
func openStore(path string, create bool) (*store, error) {
	if path == "" {
		return nil, errors.New("no backup directory configured (fix.backup_dir)")
	}
	if !create {
		if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
	}
	d, err := openStateDir(path, create)
	if err != nil {
		return nil, fmt.Errorf("backup directory: %w", err)
	}
	s := &store{dir: d}
	if s.key, err = s.loadKey(create); err != nil {
		d.Close()
		return nil, err
	}
	return s, nil
}

func (s *store) loadKey(create bool) ([]byte, error) {
	if create {
		fd, err := openBeneath(s.dir.fd, manifestKey, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, 0o600)
		if err == nil {
			key := make([]byte, 32)
			f := os.NewFile(uintptr(fd), s.dir.join(manifestKey))
			defer f.Close()
			if _, err := rand.Read(key); err != nil {
				return nil, err
			}
			if _, err := f.Write(key); err != nil {
				return nil, fmt.Errorf("write %s: %w", f.Name(), err)
			}
			if err := f.Sync(); err != nil {
				return nil, err
			}
			return key, nil
		}
		if !errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("create %s: %w", s.dir.join(manifestKey), symlinkHint(err))
		}
	}
	fd, err := openBeneath(s.dir.fd, manifestKey, unix.O_RDONLY|unix.O_NONBLOCK, 0)
	if errors.Is(err, unix.ENOENT) && !create {
		// No key yet: no manifest here can verify (each is refused as
		// such), and a directory without manifests is no error.
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("manifest key %s: %w", s.dir.join(manifestKey), symlinkHint(err))
	}
	f := os.NewFile(uintptr(fd), s.dir.join(manifestKey))
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, err
	}
	if err := checkOwnFile(f.Name(), &st); err != nil {
		return nil, fmt.Errorf("manifest key: %w", err)
	}
	if st.Mode&0o077 != 0 {
		return nil, fmt.Errorf("manifest key %s is readable by others (mode %04o)", f.Name(), st.Mode&0o7777)
	}
	key, err := readAllBounded(f, 64)
	if err != nil {
		return nil, err
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("manifest key %s has %d bytes, not 32", f.Name(), len(key))
	}
	return key, nil
}

// path is where a transaction's manifest is shown to be.
func (s *store) path(id string) string { return filepath.Join(s.dir.path, id, manifestName) }

// backupName is the name of the i-th file's backup in its transaction's
// directory.
func backupName(i int, path string) string { return fmt.Sprintf("%d-%s", i+1, filepath.Base(path)) }

// newTx creates a transaction's directory (0700; never an existing one).
func (s *store) newTx(id string) (*dirHandle, error) {
	if err := unix.Mkdirat(s.dir.fd, id, 0o700); err != nil {
		return nil, fmt.Errorf("create backup directory %s: %w", s.dir.join(id), err)
	}
	return s.openTx(id)
}

// openTx opens a transaction's directory, which must be the agent's own.
func (s *store) openTx(id string) (*dirHandle, error) {
	if !idPattern().MatchString(id) {
		return nil, fmt.Errorf("%s: not a transaction directory", s.dir.join(id))
	}
	fd, err := openBeneath(s.dir.fd, id, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", s.dir.join(id), symlinkHint(err))
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := checkDir(s.dir.join(id), &st, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if int(st.Uid) != os.Geteuid() {
		unix.Close(fd)
		return nil, fmt.Errorf("%s is owned by uid %d, not the agent's user", s.dir.join(id), st.Uid)
	}
	return &dirHandle{fd: fd, path: s.dir.join(id)}, nil
}

// writeBackup creates a backup exclusively, with the original's owner and
// permission bits (never set-id bits: a backup is only ever read back),
// fsynced.
func writeBackup(tx *dirHandle, name string, data []byte, meta fileMeta) error {
	fd, err := openBeneath(tx.fd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", tx.join(name), err)
	}
	f := os.NewFile(uintptr(fd), tx.join(name))
	meta.Mode = meta.Mode.Perm()
	if err := fillNew(f, nil, data, meta, meta.Mode, nil); err != nil {
		f.Close()
		unix.Unlinkat(tx.fd, name, 0)
		return fmt.Errorf("write %s: %w", f.Name(), err)
	}
	return f.Close()
}

// readBackup reads a backup and checks it against the hash its (verified)
// manifest recorded.
func (s *store) readBackup(id, name, want string) ([]byte, error) {
	tx, err := s.openTx(id)
	if err != nil {
		return nil, err
	}
	defer tx.Close()
	fd, err := openBeneath(tx.fd, name, unix.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("open backup %s: %w", tx.join(name), symlinkHint(err))
	}
	f := os.NewFile(uintptr(fd), tx.join(name))
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Nlink != 1 {
		return nil, fmt.Errorf("backup %s is not a regular file with one link", f.Name())
	}
	b, err := readAllBounded(f, maxConfigFile)
	if err != nil {
		return nil, err
	}
	if sha(b) != want {
		return nil, fmt.Errorf("backup %s does not match its recorded hash", f.Name())
	}
	return b, nil
}

// manifestEnvelope is manifest.json: the manifest as written, and its
// HMAC, which binds it to its transaction directory too (a manifest copied
// into another one is refused).
type manifestEnvelope struct {
	Format   string          `json:"format"`
	Manifest json.RawMessage `json:"manifest"`
	HMAC     string          `json:"hmac_sha256"`
}

func manifestMAC(key []byte, id string, raw []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(manifestFormat + "\x00" + id + "\x00"))
	h.Write(raw)
	return h.Sum(nil)
}

// save writes the manifest: a new file written and fsynced, then renamed
// over the old one in the transaction's directory.
func (s *store) save(m *Manifest) error {
	raw, err := json.Marshal(m)
	if err != nil {
		return err
	}
	// Not indented: the HMAC is over the manifest's bytes as written.
	b, err := json.Marshal(manifestEnvelope{Format: manifestFormat, Manifest: raw,
		HMAC: hex.EncodeToString(manifestMAC(s.key, m.ID, raw))})
	if err != nil {
		return err
	}
	tx, err := s.openTx(m.ID)
	if err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	defer tx.Close()
	tmp := "." + manifestName + tempMarker + randomSuffix() + ".tmp"
	fd, err := openBeneath(tx.fd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write manifest %s: %w", tx.join(tmp), err)
	}
	f := os.NewFile(uintptr(fd), tx.join(tmp))
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = unix.Renameat(tx.fd, tmp, tx.fd, manifestName)
	}
	if err != nil {
		unix.Unlinkat(tx.fd, tmp, 0)
		return fmt.Errorf("write manifest %s: %w", tx.join(manifestName), err)
	}
	if err := unix.Fsync(tx.fd); err != nil {
		return fmt.Errorf("sync %s: %w", tx.path, err)
	}
	return nil
}

// load reads and verifies a transaction's manifest. A missing one is
// fs.ErrNotExist (a transaction that never got to write it).
func (s *store) load(id string) (*Manifest, error) {
	tx, err := s.openTx(id)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrForgedManifest, err)
	}
	defer tx.Close()
	fd, err := openBeneath(tx.fd, manifestName, unix.O_RDONLY|unix.O_NONBLOCK, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil, fs.ErrNotExist
	}
	if err != nil {
		return nil, fmt.Errorf("%w: open %s: %v", ErrForgedManifest, tx.join(manifestName), symlinkHint(err))
	}
	f := os.NewFile(uintptr(fd), tx.join(manifestName))
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, err
	}
	if err := checkOwnFile(f.Name(), &st); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrForgedManifest, err)
	}
	if st.Mode&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s is open to others (mode %04o)", ErrForgedManifest, f.Name(), st.Mode&0o7777)
	}
	b, err := readAllBounded(f, maxManifest)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrForgedManifest, err)
	}
	m, err := parseManifest(b, id, s.key)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrForgedManifest, f.Name(), err)
	}
	for i := range m.Files {
		m.Files[i].Backup = tx.join(backupName(i, m.Files[i].Path))
	}
	return m, nil
}

var (
	idPattern = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[0-9]{8}T[0-9]{6}\.[0-9]{9}Z-[0-9]{1,10}-[0-9a-f]{4}$`)
	})
	hexPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9a-f]{64}$`) })
)

// parseManifest checks the envelope's HMAC under key, then what the
// manifest says: its id is its directory's, its files are absolute clean
// paths with their backups named as the agent names them, its hashes
// well-formed, its modes only permission and set-id bits.
func parseManifest(b []byte, id string, key []byte) (*Manifest, error) {
	if len(b) > maxManifest {
		return nil, fmt.Errorf("larger than %d bytes", maxManifest)
	}
	var env manifestEnvelope
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("not a manifest: %v", err)
	}
	if env.Format != manifestFormat {
		return nil, fmt.Errorf("format %q, not %q", env.Format, manifestFormat)
	}
	mac, err := hex.DecodeString(env.HMAC)
	if err != nil || len(key) == 0 || !hmac.Equal(mac, manifestMAC(key, id, env.Manifest)) {
		return nil, errors.New("its HMAC does not verify: not written by this agent, or changed since")
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(env.Manifest))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("not a manifest: %v", err)
	}
	if err := m.check(id); err != nil {
		return nil, err
	}
	return &m, nil
}

func (m *Manifest) check(id string) error {
	switch {
	case m.ID != id:
		return fmt.Errorf("id %q is not its directory's (%q)", m.ID, id)
	case m.Op != "apply" && m.Op != "rollback":
		return fmt.Errorf("unknown operation %q", m.Op)
	case !filepath.IsAbs(m.SmbConf) || filepath.Clean(m.SmbConf) != m.SmbConf:
		return fmt.Errorf("smb.conf %q is not an absolute clean path", m.SmbConf)
	case len(m.Files) > maxManifestFiles:
		return fmt.Errorf("%d files", len(m.Files))
	}
	switch m.State {
	case StateInProgress, StateApplied, StateRolledBack, StateAborted, StateFailed:
	default:
		return fmt.Errorf("unknown state %q", m.State)
	}
	seen := map[string]bool{}
	for _, f := range m.Files {
		for _, p := range []string{f.Path, f.Real} {
			if !filepath.IsAbs(p) || filepath.Clean(p) != p {
				return fmt.Errorf("file %q is not an absolute clean path", p)
			}
		}
		if seen[f.Real] {
			return fmt.Errorf("file %s named twice", f.Real)
		}
		seen[f.Real] = true
		if !hexPattern().MatchString(f.BeforeSHA256) || !hexPattern().MatchString(f.AfterSHA256) {
			return fmt.Errorf("file %s: malformed hash", f.Path)
		}
		if f.Mode&^(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0 {
			return fmt.Errorf("file %s: mode %v is not a regular file's", f.Path, f.Mode)
		}
		if f.UID < -1 || f.GID < -1 {
			return fmt.Errorf("file %s: bad owner %d:%d", f.Path, f.UID, f.GID)
		}
	}
	return nil
}

// list returns the verified manifests, oldest first (ids sort by time),
// and one error per manifest refused.
func (s *store) list() ([]*Manifest, error) {
	d, err := unix.Openat(s.dir.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(d), s.dir.path)
	ents, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return nil, err
	}
	var out []*Manifest
	var errs *multierror.Error
	for _, e := range ents {
		if e.Name() == manifestKey || (e.Type().IsRegular() && len(e.Name()) > 0 && e.Name()[0] == '.') {
			continue
		}
		m, err := s.load(e.Name())
		if errors.Is(err, fs.ErrNotExist) {
			continue // a transaction stopped before its manifest: nothing was changed
		}
		if err != nil {
			errs = multierror.Append(errs, err)
			continue
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, errs.ErrorOrNil()
}

// loadManifest reads and verifies the manifest at path
// (BACKUP_DIR/ID/manifest.json).
func loadManifest(path string) (*Manifest, error) {
	s, err := openStore(filepath.Dir(filepath.Dir(path)), false)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, fs.ErrNotExist
	}
	defer s.Close()
	return s.load(filepath.Base(filepath.Dir(path)))
}

// saveManifest writes m into its transaction directory under backupDir.
func saveManifest(backupDir string, m *Manifest) error {
	s, err := openStore(backupDir, true)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.save(m)
}

// newTransactionID is sortable by time and unique per process.
func newTransactionID(now time.Time) string {
	return now.UTC().Format("20060102T150405.000000000Z") + "-" + fmt.Sprint(os.Getpid()) + "-" + randomSuffix()[:4]
}
