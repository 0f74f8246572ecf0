package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/smb-agent/smb-agent/fixes"
)

// Fix transactions are made by `agent fix --apply`, a separate process, so
// the daemon learns of them from the one record every transaction leaves:
// the audit log it appends (fixes/audit.go). The daemon reads the log
// incrementally after each round and counts records by result (applied,
// rolled-back, ...); /metrics exports the counts as
// smb_agent_fix_transactions_total{result}. An apply and a rollback that
// succeed are both "applied": each changed the host.
//
// The counts are of the records in the log, not of what this process saw:
// a restarted daemon reads the log again and exports the same values, so
// Prometheus sees no spurious increase (an alert on "a fix was applied"
// fires for new transactions only).
//
// The log is root's file on a host that may be hostile: it is opened with
// O_NOFOLLOW|O_NONBLOCK (no symlink, no FIFO that blocks), must be a
// regular file owned by root or by the daemon's user and writable by no one
// else, under a directory no one else can write to; reads are bounded per
// round, and a line longer than any record fixes writes is skipped.

// auditResults are the label values: a record with any other result counts
// as "other", so that the file cannot create series.
var auditResults = []string{fixes.ResultApplied, fixes.ResultRolledBack, fixes.ResultRollbackFailed,
	fixes.ResultAborted, fixes.ResultRefused, fixes.ResultNothing, "other"}

// Variables, not constants, only so that tests can shrink them.
var (
	// auditReadPerRound bounds the bytes read after one round (and the
	// buffer: the daemon aims at a small RSS). A record is a few kB; a log
	// that grew by more than this catches up over the following rounds.
	auditReadPerRound int64 = 4 << 20
	// auditInitialWindow: a log longer than this at start is counted from
	// its last auditInitialWindow bytes (from the first whole line in it).
	// It is no more than one round's read, so that a restarted daemon
	// reaches the same counts in its first round: counts that climbed over
	// several rounds would look like new fixes to Prometheus.
	auditInitialWindow = auditReadPerRound
	// auditMaxLine bounds one record; fixes writes far less.
	auditMaxLine = 1 << 20
)

// fixCounts is what one reading of the audit log yields, published in the
// snapshot (immutable once published).
type fixCounts struct {
	counts map[string]uint64
	// lastApplied is the time of the newest "applied" record, zero if none.
	lastApplied float64
	// err is why the log could not be read ("" when it could, or when it
	// does not exist yet: no fix was ever run).
	err string
}

// auditReader follows one audit log across rounds. Only the scheduler
// goroutine uses it.
type auditReader struct {
	path    string
	dev     uint64
	ino     uint64
	offset  int64
	partial []byte // an unterminated last line, kept for the next read
	// skipToLine: reading starts inside the file (auditInitialWindow), so
	// the first line read is a fragment.
	skipToLine bool
	counts     map[string]uint64
	last       float64
}

func newAuditReader(path string) *auditReader {
	return &auditReader{path: path, counts: map[string]uint64{}}
}

// read takes in whatever was appended since the last call and returns the
// counts so far.
func (a *auditReader) read() fixCounts {
	err := a.readNew()
	fc := fixCounts{counts: make(map[string]uint64, len(a.counts)), lastApplied: a.last}
	for k, v := range a.counts {
		fc.counts[k] = v
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		fc.err = err.Error()
	}
	return fc
}

func (a *auditReader) readNew() error {
	if a.path == "" {
		return nil
	}
	if err := checkAuditDir(filepath.Dir(a.path)); err != nil {
		return err
	}
	f, err := os.OpenFile(a.path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open audit log: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat audit log: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.Mode().IsRegular():
		return fmt.Errorf("audit log %s is not a regular file", a.path)
	case !ok:
		return fmt.Errorf("audit log %s: no owner information", a.path)
	case !trustedOwner(st.Uid):
		return fmt.Errorf("audit log %s is owned by uid %d, not by root or this process", a.path, st.Uid)
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("audit log %s is writable by group or others (mode %v)", a.path, fi.Mode().Perm())
	}
	size := fi.Size()
	if uint64(st.Dev) != a.dev || st.Ino != a.ino || size < a.offset {
		// A new file (rotated, replaced) or a truncated one: count afresh.
		// Prometheus takes the drop for a counter reset.
		a.dev, a.ino, a.offset, a.partial = uint64(st.Dev), st.Ino, 0, nil
		a.counts, a.last = map[string]uint64{}, 0
		if size > auditInitialWindow {
			a.offset = size - auditInitialWindow
			a.partial = nil
			a.skipToLine = true
		}
	}
	if size == a.offset {
		return nil
	}
	n := min(size-a.offset, auditReadPerRound)
	buf := make([]byte, n)
	got, err := f.ReadAt(buf, a.offset)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read audit log: %w", err)
	}
	buf = buf[:got]
	a.offset += int64(got)
	if a.skipToLine {
		// Started inside the file: the first line is probably partial.
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			return nil
		}
		buf = buf[i+1:]
		a.skipToLine = false
	}
	data := append(a.partial, buf...)
	last := bytes.LastIndexByte(data, '\n')
	if last < 0 {
		a.partial = boundedPartial(data)
		return nil
	}
	a.partial = boundedPartial(data[last+1:])
	for line := range bytes.Lines(data[:last+1]) {
		if len(line) <= auditMaxLine {
			a.count(line)
		}
	}
	return nil
}

// boundedPartial keeps an unterminated tail for the next read, unless it is
// already longer than any record: then it is dropped (and its rest, up to
// the next newline, parses as garbage and is skipped).
func boundedPartial(b []byte) []byte {
	if len(b) > auditMaxLine {
		return nil
	}
	return append([]byte(nil), b...)
}

func (a *auditReader) count(line []byte) {
	var rec struct {
		Time   json.RawMessage `json:"time"`
		Result string          `json:"result"`
	}
	if len(bytes.TrimSpace(line)) == 0 || json.Unmarshal(line, &rec) != nil {
		return
	}
	a.counts[oneOf(rec.Result, auditResults)]++
	if rec.Result == fixes.ResultApplied {
		var t time.Time
		if t.UnmarshalJSON(rec.Time) == nil && !t.IsZero() {
			if s := float64(t.UnixNano()) / 1e9; s > a.last {
				a.last = s
			}
		}
	}
}

func oneOf(v string, allowed []string) string {
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	return "other"
}

// trustedOwner: root, or the user the daemon runs as.
func trustedOwner(uid uint32) bool {
	return uid == 0 || int(uid) == os.Geteuid()
}

// checkAuditDir refuses a log whose directory (or any parent) another user
// could write to, which would let them swap the file or a directory on its
// path. Like OpenSSH's StrictModes (secure_filename), a directory others
// may write to is accepted when it is sticky (/tmp): there only an entry's
// owner can rename or remove it, and the entries we pass are checked too.
func checkAuditDir(dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("audit log directory: %w", err)
	}
	for {
		fi, err := os.Lstat(dir)
		if err != nil {
			return fmt.Errorf("audit log directory: %w", err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !fi.IsDir() || !ok {
			return fmt.Errorf("audit log directory %s is not a directory", dir)
		}
		if !trustedOwner(st.Uid) || (fi.Mode().Perm()&0o022 != 0 && fi.Mode()&os.ModeSticky == 0) {
			return fmt.Errorf("audit log directory %s is writable by another user (owner %d, mode %v)", dir, st.Uid, fi.Mode().Perm())
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
}
