package agent

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks"
)

func TestPointsForRound(t *testing.T) {
	for _, tc := range []struct {
		name                      string
		ppc                       float64
		checkIvl, since, interval time.Duration
		want                      float64
	}{
		{name: "one interval equals one check", ppc: 4.2, checkIvl: 30 * time.Second, since: 30 * time.Second, interval: 30 * time.Second, want: 4.2},
		{name: "daemon twice as often as the check", ppc: 4.2, checkIvl: time.Minute, since: 30 * time.Second, interval: 30 * time.Second, want: 2.1},
		{name: "triggered round shortly after", ppc: 10, checkIvl: time.Minute, since: 6 * time.Second, interval: 30 * time.Second, want: 1},
		{name: "gap capped at two intervals", ppc: 10, checkIvl: time.Minute, since: time.Hour, interval: 30 * time.Second, want: 10},
		{name: "no points configured", ppc: 0, checkIvl: time.Minute, since: time.Minute, interval: time.Minute, want: 0},
		{name: "no check interval configured", ppc: 4.2, checkIvl: 0, since: time.Minute, interval: time.Minute, want: 0},
		{name: "clock went backwards", ppc: 4.2, checkIvl: time.Minute, since: -time.Second, interval: time.Minute, want: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.InDelta(t, tc.want, pointsForRound(tc.ppc, tc.checkIvl, tc.since, tc.interval), 1e-9)
		})
	}
}

// roundAt builds a successful round result starting at t0+offset.
func roundAt(t0 time.Time, offset time.Duration, rep *checks.Report) roundResult {
	return roundResult{report: rep, start: t0.Add(offset), end: t0.Add(offset + 10*time.Millisecond)}
}

func TestTrackerCountsPatternEvents(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	cfg := Options{Interval: 30 * time.Second, PointsPerCheck: 4.2, CheckInterval: time.Minute}
	tr := newTracker(t0, DefaultPatterns())

	s1, ch1 := tr.record(roundAt(t0, 0, okReport()), cfg)
	require.Empty(t, ch1)
	require.Equal(t, uint64(1), s1.rounds)
	require.Empty(t, s1.events)
	require.Equal(t, checks.OK, s1.patternStatus("protocol-mismatch"))

	s2, ch2 := tr.record(roundAt(t0, 30*time.Second, mismatchReport()), cfg)
	require.Len(t, ch2, 2)
	for _, c := range ch2 {
		require.Equal(t, "new", c.kind)
	}
	pm := s2.events["protocol-mismatch"]
	require.Equal(t, uint64(1), pm.Rounds)
	require.Equal(t, uint64(1), pm.Consecutive)
	require.True(t, pm.Active)
	require.Equal(t, t0.Add(30*time.Second), pm.FirstSeen)
	require.Equal(t, checks.Critical, pm.Severity)
	require.Equal(t, checks.Critical, s2.patternStatus("protocol-mismatch"))
	require.Equal(t, checks.Warning, s2.patternStatus("smb1-enabled"))
	// 30 s since the previous round at 4.2 points per 60 s check.
	require.InDelta(t, 2.1, s2.pointsLost, 1e-9)
	require.InDelta(t, 2.1, pm.PointsLost, 1e-9, "points go to the headline critical pattern")
	require.Zero(t, s2.events["smb1-enabled"].PointsLost, "a warning costs no points")

	// Same findings again: counted, no change logged.
	s3, ch3 := tr.record(roundAt(t0, 60*time.Second, mismatchReport()), cfg)
	require.Empty(t, ch3)
	pm = s3.events["protocol-mismatch"]
	require.Equal(t, uint64(2), pm.Rounds)
	require.Equal(t, uint64(2), pm.Consecutive)
	require.Equal(t, t0.Add(30*time.Second), pm.FirstSeen)
	require.Equal(t, t0.Add(60*time.Second), pm.LastSeen)
	require.InDelta(t, 4.2, s3.pointsLost, 1e-9)

	// The round fails: counters and streaks stay, nothing "resolved".
	failed := roundResult{report: failedReport(errors.New("boom"), t0, t0), failed: true, err: errors.New("boom"),
		start: t0.Add(90 * time.Second), end: t0.Add(91 * time.Second)}
	s4, ch4 := tr.record(failed, cfg)
	require.Empty(t, ch4)
	require.Equal(t, uint64(4), s4.rounds)
	require.Equal(t, uint64(1), s4.roundErrors)
	require.Equal(t, "boom", s4.lastErr)
	require.Equal(t, uint64(2), s4.events["protocol-mismatch"].Consecutive)
	require.Equal(t, checks.Unknown, s4.patternStatus("protocol-mismatch"), "nothing is known after a failed round")
	require.InDelta(t, 4.2, s4.pointsLost, 1e-9)

	// Repaired: streak ends, the findings are logged as resolved.
	s5, ch5 := tr.record(roundAt(t0, 120*time.Second, okReport()), cfg)
	require.Len(t, ch5, 2)
	for _, c := range ch5 {
		require.Equal(t, "resolved", c.kind)
	}
	pm = s5.events["protocol-mismatch"]
	require.False(t, pm.Active)
	require.Zero(t, pm.Consecutive)
	require.Equal(t, uint64(2), pm.Rounds)
	require.Equal(t, checks.OK, s5.patternStatus("protocol-mismatch"))
	require.InDelta(t, 4.2, s5.pointsLost, 1e-9, "an ok round costs nothing")

	// A changed summary is logged as changed.
	changed := mismatchReport()
	changed.Findings[0].Summary = "server min SMB3_00 > client max SMB2_10"
	tr.record(roundAt(t0, 150*time.Second, mismatchReport()), cfg)
	_, ch7 := tr.record(roundAt(t0, 180*time.Second, changed), cfg)
	require.Len(t, ch7, 1)
	require.Equal(t, "changed", ch7[0].kind)
	require.Equal(t, "protocol-mismatch", ch7[0].finding.Pattern)
}

func TestTrackerSnapshotIsImmutable(t *testing.T) {
	t0 := time.Now()
	tr := newTracker(t0, nil)
	s1, _ := tr.record(roundAt(t0, 0, mismatchReport()), Options{Interval: time.Second})
	tr.record(roundAt(t0, time.Second, mismatchReport()), Options{Interval: time.Second})
	require.Equal(t, uint64(1), s1.events["protocol-mismatch"].Rounds, "a published snapshot must not change")
}

func TestTrackerUnknownPatternsBecomeKnown(t *testing.T) {
	t0 := time.Now()
	tr := newTracker(t0, []string{"protocol-mismatch"})
	rep := okReport()
	rep.Findings = []checks.Finding{{Pattern: "brand-new-pattern", Severity: checks.Warning, Summary: "x"}}
	s, _ := tr.record(roundAt(t0, 0, rep), Options{Interval: time.Second})
	require.Equal(t, []string{"brand-new-pattern", "protocol-mismatch"}, s.patterns)
}

func TestSnapshotReportJSONIsTheReport(t *testing.T) {
	rep := mismatchReport()
	s, _ := newTracker(time.Now(), nil).record(roundAt(time.Now(), 0, rep), Options{Interval: time.Second})
	want, err := json.Marshal(rep)
	require.NoError(t, err)
	require.Equal(t, string(want)+"\n", string(s.reportJSON))
}

func TestEventsView(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tr := newTracker(t0, DefaultPatterns())
	only := okReport()
	only.Findings = []checks.Finding{{Pattern: "smb1-enabled", Severity: checks.Warning, Summary: "SMB1 on"}}
	cfg := Options{Interval: 30 * time.Second}
	tr.record(roundAt(t0, 0, mismatchReport()), cfg)
	s, _ := tr.record(roundAt(t0, 30*time.Second, only), cfg)
	ev := s.eventsView(t0)
	require.Equal(t, uint64(2), ev.Rounds)
	require.Nil(t, ev.PointsLostEstimate, "no scoring configured")
	require.Len(t, ev.Patterns, 2)
	require.Equal(t, "smb1-enabled", ev.Patterns[0].Pattern, "most rounds first")
	require.Equal(t, uint64(2), ev.Patterns[0].Rounds)
	require.Equal(t, "protocol-mismatch", ev.Patterns[1].Pattern)
	require.False(t, ev.Patterns[1].Active)

	b, err := json.Marshal(ev)
	require.NoError(t, err)
	require.NotContains(t, string(b), "points_lost")
}
