package agent

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/fixes"
)

func auditLine(t *testing.T, op, result string, at time.Time) string {
	t.Helper()
	b, err := json.Marshal(fixes.AuditRecord{Time: at, Op: op, User: "root", Fixes: []string{"protocol-mismatch"}, Result: result})
	require.NoError(t, err)
	return string(b) + "\n"
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	require.NoError(t, err)
	_, err = f.WriteString(s)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func TestAuditReaderCountsIncrementally(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	a := newAuditReader(path)
	fc := a.read()
	require.Empty(t, fc.err, "a log that does not exist yet: no fix was run")
	require.Zero(t, fc.counts[fixes.ResultApplied])

	t1 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	appendFile(t, path, auditLine(t, "apply", fixes.ResultApplied, t1)+auditLine(t, "apply", fixes.ResultRefused, t1))
	fc = a.read()
	require.Empty(t, fc.err)
	require.Equal(t, uint64(1), fc.counts[fixes.ResultApplied])
	require.Equal(t, uint64(1), fc.counts[fixes.ResultRefused])
	require.Equal(t, float64(t1.Unix()), fc.lastApplied)

	// A half-written line waits for its end; unknown results and garbage
	// do not create values of their own.
	t2 := t1.Add(time.Hour)
	line := auditLine(t, "rollback", fixes.ResultApplied, t2)
	appendFile(t, path, line[:10])
	require.Equal(t, uint64(1), a.read().counts[fixes.ResultApplied])
	appendFile(t, path, line[10:]+auditLine(t, "apply", "exploded\x1b[31m", t2)+"not json\n")
	fc = a.read()
	require.Equal(t, uint64(2), fc.counts[fixes.ResultApplied])
	require.Equal(t, uint64(1), fc.counts["other"])
	require.Len(t, fc.counts, 3)
	require.Equal(t, float64(t2.Unix()), fc.lastApplied)

	// Truncated (rotated in place): counted afresh.
	require.NoError(t, os.Truncate(path, 0))
	appendFile(t, path, auditLine(t, "apply", fixes.ResultAborted, t2))
	fc = a.read()
	require.Zero(t, fc.counts[fixes.ResultApplied])
	require.Equal(t, uint64(1), fc.counts[fixes.ResultAborted])

	// A new reader (a restarted daemon) sees the same counts.
	require.Equal(t, fc.counts, newAuditReader(path).read().counts)
}

func TestAuditReaderRefusesUntrustedFiles(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real.jsonl")
	appendFile(t, real, auditLine(t, "apply", fixes.ResultApplied, time.Now()))

	link := filepath.Join(dir, "link.jsonl")
	require.NoError(t, os.Symlink(real, link))
	fc := newAuditReader(link).read()
	require.Contains(t, fc.err, "open audit log")
	require.Zero(t, fc.counts[fixes.ResultApplied])

	fifo := filepath.Join(dir, "fifo.jsonl")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	done := make(chan fixCounts, 1)
	go func() { done <- newAuditReader(fifo).read() }()
	select {
	case fc = <-done:
		require.Contains(t, fc.err, "not a regular file")
	case <-time.After(10 * time.Second):
		t.Fatal("reading a FIFO blocked")
	}

	require.NoError(t, os.Chmod(real, 0o622))
	require.Contains(t, newAuditReader(real).read().err, "writable by group or others")
	require.NoError(t, os.Chmod(real, 0o600))

	open := filepath.Join(dir, "open")
	require.NoError(t, os.Mkdir(open, 0o777))
	require.NoError(t, os.Chmod(open, 0o777)) // past the umask
	appendFile(t, filepath.Join(open, "audit.jsonl"), auditLine(t, "apply", fixes.ResultApplied, time.Now()))
	require.Contains(t, newAuditReader(filepath.Join(open, "audit.jsonl")).read().err, "writable by another user")

	// Sticky like /tmp: accepted.
	require.NoError(t, os.Chmod(open, 0o777|os.ModeSticky))
	fc = newAuditReader(filepath.Join(open, "audit.jsonl")).read()
	require.Empty(t, fc.err)
	require.Equal(t, uint64(1), fc.counts[fixes.ResultApplied])
}

func TestAuditReaderBoundsItsReads(t *testing.T) {
	// Small bounds: megabytes of records take seconds under -race.
	defer func(r, w int64, l int) { auditReadPerRound, auditInitialWindow, auditMaxLine = r, w, l }(
		auditReadPerRound, auditInitialWindow, auditMaxLine)
	auditReadPerRound, auditInitialWindow, auditMaxLine = 64<<10, 64<<10, 4<<10
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	line := auditLine(t, "apply", fixes.ResultApplied, time.Now())
	// An overlong line (no record is this long) is skipped, the records
	// around it count.
	appendFile(t, path, line+strings.Repeat("x", auditMaxLine+10)+"\n"+line)
	fc := newAuditReader(path).read()
	require.Empty(t, fc.err)
	require.Equal(t, uint64(2), fc.counts[fixes.ResultApplied])

	// A log longer than the window: a new reader (a restarted daemon)
	// counts the whole lines of its last auditInitialWindow bytes, in one
	// read.
	big := filepath.Join(t.TempDir(), "big.jsonl")
	m := int(auditInitialWindow)/len(line) + 100
	data := strings.Repeat(line, m)
	appendFile(t, big, data)
	want := uint64(strings.Count(data[len(data)-int(auditInitialWindow):], "\n") - 1)
	a := newAuditReader(big)
	require.Equal(t, want, a.read().counts[fixes.ResultApplied])
	require.Equal(t, want, newAuditReader(big).read().counts[fixes.ResultApplied], "the same after a restart")

	// More than a round's worth appended: the rest comes in the next round.
	n := int(auditReadPerRound)/len(line) + 100
	appendFile(t, big, strings.Repeat(line, n))
	first := a.read().counts[fixes.ResultApplied]
	require.Less(t, first, want+uint64(n))
	require.Equal(t, want+uint64(n), a.read().counts[fixes.ResultApplied])
}

func TestMetricsCountFixTransactions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	appendFile(t, path, auditLine(t, "apply", fixes.ResultApplied, at)+auditLine(t, "apply", fixes.ResultRolledBack, at))
	o := testOptions(&fakeRound{})
	o.AuditLog = path
	_, h := handlerAfter(t, o, okReport())
	fams := scrape(t, h)
	require.Equal(t, 1.0, value(t, fams, "smb_agent_fix_transactions_total", "result", "applied"))
	require.Equal(t, 1.0, value(t, fams, "smb_agent_fix_transactions_total", "result", "rolled-back"))
	require.Equal(t, 0.0, value(t, fams, "smb_agent_fix_transactions_total", "result", "rollback-failed"), "every result exported from the start")
	require.Equal(t, float64(at.Unix()), value(t, fams, "smb_agent_fix_last_applied_timestamp_seconds"))
	require.Equal(t, 1.0, value(t, fams, "smb_agent_audit_log_readable"))

	require.NoError(t, os.Chmod(path, 0o666))
	_, h = handlerAfter(t, o, okReport())
	require.Equal(t, 0.0, value(t, scrape(t, h), "smb_agent_audit_log_readable"))
}

// FuzzAuditReader: whatever bytes the log holds, split wherever a read
// ends, the reader neither panics nor counts more records than lines, and
// reading in two steps counts what one read does.
func FuzzAuditReader(f *testing.F) {
	rec := `{"time":"2026-01-02T03:04:05Z","op":"apply","result":"applied"}` + "\n"
	f.Add([]byte(rec+rec), 10)
	f.Add([]byte(`{"result":"refused"}`+"\n"+`{"time":"x","result":"applied"}`+"\n{"), 0)
	f.Add([]byte("\n\n\x00\xff"), 1)
	f.Fuzz(func(t *testing.T, data []byte, split int) {
		dir := t.TempDir()
		one := filepath.Join(dir, "one.jsonl")
		require.NoError(t, os.WriteFile(one, data, 0o600))
		whole := newAuditReader(one).read()
		require.Empty(t, whole.err)
		var n uint64
		for _, v := range whole.counts {
			n += v
		}
		require.LessOrEqual(t, n, uint64(strings.Count(string(data), "\n")))

		if split < 0 {
			split = -split
		}
		if len(data) > 0 {
			split %= len(data) + 1
		} else {
			split = 0
		}
		two := filepath.Join(dir, "two.jsonl")
		require.NoError(t, os.WriteFile(two, data[:split], 0o600))
		a := newAuditReader(two)
		a.read()
		appendFile(t, two, string(data[split:]))
		require.Equal(t, whole.counts, a.read().counts)
	})
}
