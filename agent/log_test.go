package agent

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/journal"
	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks"
)

type journalEntry struct {
	msg  string
	prio journal.Priority
	vars map[string]string
}

func TestJournalHandlerFields(t *testing.T) {
	var got []journalEntry
	fallback := &syncBuffer{}
	send := func(msg string, prio journal.Priority, vars map[string]string) error {
		got = append(got, journalEntry{msg, prio, vars})
		return nil
	}
	h := newJournalHandler(slog.LevelInfo, send, slog.NewTextHandler(fallback, nil))
	log := slog.New(h).With("component", "scheduler")

	log.Error("new finding", "pattern", "protocol-mismatch", "severity", "critical",
		"summary", "server min SMB3_11 > client max SMB2_10")
	log.WithGroup("round").Info("check round", "duration", 1500*time.Millisecond, "n", 3,
		slog.Group("probe", "step", "negotiate", slog.Group("", "inline", true)))
	log.Warn("odd keys", "message", "x", "_private", "y", "9lives", "z", "a-b.c", "w")
	log.Debug("not shown")

	require.Len(t, got, 3)
	e := got[0]
	require.Equal(t, journal.PriErr, e.prio)
	require.Equal(t, "protocol-mismatch", e.vars["PATTERN"], "the pattern id is a journal field")
	require.Equal(t, "critical", e.vars["SEVERITY"])
	require.Equal(t, "scheduler", e.vars["COMPONENT"])
	require.Equal(t, "smb-agent", e.vars["SYSLOG_IDENTIFIER"])
	require.Equal(t, `new finding component=scheduler pattern=protocol-mismatch severity=critical summary="server min SMB3_11 > client max SMB2_10"`, e.msg)

	e = got[1]
	require.Equal(t, journal.PriInfo, e.prio)
	require.Equal(t, "1.5s", e.vars["ROUND_DURATION"])
	require.Equal(t, "3", e.vars["ROUND_N"])
	require.Equal(t, "negotiate", e.vars["ROUND_PROBE_STEP"], "groups flatten into prefixed fields")
	require.Equal(t, "true", e.vars["ROUND_PROBE_INLINE"], "an unnamed group inlines")

	e = got[2]
	require.Equal(t, journal.PriWarning, e.prio)
	require.Equal(t, "x", e.vars["ATTR_MESSAGE"], "reserved names are not overwritten")
	require.Equal(t, "odd keys component=scheduler message=x _private=y 9lives=z a-b.c=w", e.msg)
	require.Equal(t, "y", e.vars["PRIVATE"])
	require.Equal(t, "z", e.vars["ATTR_9LIVES"])
	require.Equal(t, "w", e.vars["A_B_C"])
	require.Empty(t, fallback.String())
}

func TestJournalHandlerFallsBackToText(t *testing.T) {
	fallback := &syncBuffer{}
	h := newJournalHandler(nil, func(string, journal.Priority, map[string]string) error {
		return errors.New("journald socket gone")
	}, slog.NewTextHandler(fallback, nil))
	slog.New(h).Warn("new finding", "pattern", "timeout")
	require.Contains(t, fallback.String(), "pattern=timeout")
}

func TestJournalField(t *testing.T) {
	for in, want := range map[string]string{
		"pattern": "PATTERN", "a.b": "A_B", "_x": "X", "": "ATTR_", "1x": "ATTR_1X",
		"priority": "ATTR_PRIORITY", strings.Repeat("k", 80): strings.Repeat("K", 64),
	} {
		require.Equal(t, want, journalField(in), in)
	}
}

func TestNewLoggerOutsideSystemdIsText(t *testing.T) {
	buf := &syncBuffer{}
	NewLogger(buf, slog.LevelInfo).Info("hello", "pattern", "timeout")
	require.Contains(t, buf.String(), "time=")
	require.Contains(t, buf.String(), "msg=hello pattern=timeout")
}

// TestRoundLogs: one line per round, one per new/changed/resolved finding
// at the finding's level, nothing per HTTP request.
func TestRoundLogs(t *testing.T) {
	logs := &syncBuffer{}
	f := &fakeRound{}
	f.set(func(n int64) (*checks.Report, error) {
		switch n {
		case 2, 3:
			return mismatchReport(), nil
		case 4:
			return nil, errors.New("testparm: signal: killed")
		}
		return okReport(), nil
	})
	o := testOptions(f)
	o.Logger = NewLogger(logs, slog.LevelInfo)
	d, err := New(o)
	require.NoError(t, err)
	r := start(t, d)
	for i := 2; i <= 5; i++ {
		eventually(t, "round", func() bool { return d.roundCount() == uint64(i-1) })
		d.Trigger(false)
	}
	eventually(t, "round 5", func() bool { return d.roundCount() == 5 })
	for range 20 {
		get(t, r.base+"/status")
		get(t, r.base+"/metrics")
	}
	r.stop(t)

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	var rounds, newCrit, newWarn, resolved, failed int
	for _, l := range lines {
		switch {
		case strings.Contains(l, `msg="check round failed"`):
			failed++
			require.Contains(t, l, "level=ERROR")
			require.Contains(t, l, `error="testparm: signal: killed"`)
		case strings.Contains(l, `msg="check round"`):
			rounds++
			require.Contains(t, l, "level=INFO")
			require.Regexp(t, `status=(ok|critical) duration=\S+ findings=\d`, l)
		case strings.Contains(l, `msg="new finding"`) && strings.Contains(l, "pattern=protocol-mismatch"):
			newCrit++
			require.Contains(t, l, "level=ERROR")
			require.Contains(t, l, `summary="server min SMB3_11 > client max SMB2_10"`)
			require.Contains(t, l, "client=pysmb")
		case strings.Contains(l, `msg="new finding"`) && strings.Contains(l, "pattern=smb1-enabled"):
			newWarn++
			require.Contains(t, l, "level=WARN")
		case strings.Contains(l, `msg="finding resolved"`):
			resolved++
			require.Contains(t, l, "level=INFO")
		}
		require.NotContains(t, l, "GET", "nothing is logged per request")
	}
	require.Equal(t, 4, rounds)
	require.Equal(t, 1, failed)
	require.Equal(t, 1, newCrit, "an unchanged finding is logged once, the failed round does not reset it")
	require.Equal(t, 1, newWarn)
	require.Equal(t, 2, resolved)
}
