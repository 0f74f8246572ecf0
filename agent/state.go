package agent

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/smb-agent/smb-agent/checks"
)

// PatternEvents counts one pattern over the daemon's life, like the
// dashboard of the remote scoring engine ("Events 199, Pts per check 4.2,
// Pts missed 829.2"): how many rounds saw it, when first and last,
// and the current streak.
type PatternEvents struct {
	Pattern string `json:"pattern"`
	// Rounds is how many check rounds reported the pattern.
	Rounds uint64 `json:"rounds"`
	// Consecutive is the current streak: rounds in a row up to the latest
	// one; 0 once a round no longer reports it.
	Consecutive uint64    `json:"consecutive"`
	FirstSeen   time.Time `json:"first_seen"`
	LastSeen    time.Time `json:"last_seen"`
	// Active: the latest completed round reported it.
	Active bool `json:"active"`
	// Severity and Summary are from the latest round that reported it.
	Severity checks.Status `json:"severity"`
	Summary  string        `json:"summary"`
	// PointsLost is the share of the points-lost estimate attributed to
	// this pattern (see pointsForRound); omitted when scoring is not set.
	PointsLost float64 `json:"points_lost,omitempty"`
}

// Events is what /events serves.
type Events struct {
	// Since is when the daemon started.
	Since       time.Time `json:"since"`
	Rounds      uint64    `json:"rounds"`
	RoundErrors uint64    `json:"round_errors"`
	// PointsPerCheck, CheckIntervalSeconds and PointsLostEstimate are
	// present only when the scoring check is configured.
	PointsPerCheck       float64  `json:"points_per_check,omitempty"`
	CheckIntervalSeconds float64  `json:"check_interval_seconds,omitempty"`
	PointsLostEstimate   *float64 `json:"points_lost_estimate,omitempty"`
	// Patterns are sorted by rounds seen, most first.
	Patterns []PatternEvents `json:"patterns"`
}

// snapshot is everything the HTTP handlers and the metrics collector read.
// It is immutable once published (atomic.Pointer), so readers never lock
// and never see a half-updated round.
type snapshot struct {
	report     *checks.Report
	reportJSON []byte // json.Marshal(report) + "\n", built once per round
	// failed: the round produced no report of its own (error, timeout,
	// panic); report is a synthetic "unknown" one.
	failed      bool
	rounds      uint64
	roundErrors uint64
	lastStart   time.Time
	lastEnd     time.Time
	lastErr     string
	events      map[string]PatternEvents
	pointsLost  float64
	scoring     bool
	ppc         float64
	checkIvl    time.Duration
	patterns    []string // known ids, sorted; includes every id ever seen
	// severities is the worst severity per pattern in this round.
	severities map[string]checks.Status
	// previews are the round's fix dry runs by fix id (PlannedRound).
	previews map[string]FixPreview
	// history is the latest rounds, oldest first: at least the last
	// Options.History, and every round of the last hour (see keepHistory).
	history []roundRecord
	// hour is each pattern's events and points over the hour before the
	// latest round's start.
	hour map[string]hourStat
	// lastSuccess is the end of the latest round that completed without a
	// critical finding (the remote check would have passed); zero if none.
	lastSuccess time.Time
	// interval is the configured time between rounds.
	interval time.Duration
	// fixes counts the fix transactions in the audit log; auditLog tells
	// whether one is configured.
	fixes    fixCounts
	auditLog bool
}

// roundRecord is one round as the page's history lists it.
type roundRecord struct {
	start, end time.Time
	status     checks.Status
	failed     bool
	// patterns are the distinct patterns the round reported, most severe
	// first (the report's order).
	patterns []string
	headline string
	// points is the estimate charged to the headline pattern this round.
	points float64
	err    string
}

// hourStat is a pattern's share of the last hour.
type hourStat struct {
	rounds uint64
	points float64
}

// historyWindow is how far back the "last hour" figures look.
const historyWindow = time.Hour

// maxHourRecords bounds the history kept for the hour figures: one round a
// second (MinInterval) for an hour.
const maxHourRecords = int(historyWindow / MinInterval)

// patternStatus is a pattern's status in the latest round: its worst
// severity when reported, unknown when the whole round failed (nothing can
// be said about it), ok otherwise.
func (s *snapshot) patternStatus(id string) checks.Status {
	if st, ok := s.severities[id]; ok {
		return st
	}
	if s.failed {
		return checks.Unknown
	}
	return checks.OK
}

// roundResult is one finished round, as the scheduler hands it to the
// state.
type roundResult struct {
	report   *checks.Report
	previews map[string]FixPreview
	failed   bool
	err      error
	start    time.Time
	end      time.Time
}

// tracker owns the counters. Only the scheduler goroutine calls it, so it
// needs no lock; it publishes snapshots for everyone else.
type tracker struct {
	since       time.Time
	rounds      uint64
	roundErrors uint64
	events      map[string]*PatternEvents
	known       map[string]bool
	pointsLost  float64
	prevStart   time.Time
	lastSuccess time.Time
	// prevFindings is the previous successful round's findings by key, to
	// log only what is new or changed.
	prevFindings map[string]findingSig
	history      []roundRecord
}

type findingSig struct {
	severity checks.Status
	summary  string
}

func newTracker(since time.Time, patterns []string) *tracker {
	t := &tracker{
		since:  since,
		events: map[string]*PatternEvents{},
		known:  map[string]bool{},
	}
	for _, p := range patterns {
		t.known[p] = true
	}
	return t
}

// pointsForRound estimates the points a remote check lost during the time a
// round stands for. The remote check runs every checkInterval and a failed
// check costs pointsPerCheck, so a failure lasting d costs
// pointsPerCheck × d / checkInterval. The daemon only samples: it assumes
// the state a round finds held since the previous round started. d is
// therefore the time since the previous round's start (the nominal
// interval for the first round), capped at twice the interval so that a
// suspended host or a stopped daemon is not billed for time nobody watched.
// Only rounds with a critical finding count: critical means a configured
// client cannot log in or list shares, which is what fails the remote check.
func pointsForRound(pointsPerCheck float64, checkInterval, sinceLast, interval time.Duration) float64 {
	if pointsPerCheck <= 0 || checkInterval <= 0 || sinceLast <= 0 {
		return 0
	}
	sinceLast = min(sinceLast, 2*interval)
	return pointsPerCheck * float64(sinceLast) / float64(checkInterval)
}

// findingKey identifies a finding across rounds for change logging: the
// same pattern may be reported for several clients or causes.
func findingKey(f checks.Finding) string {
	return f.Pattern + "\x00" + f.Cause + "\x00" + f.Client
}

// change is a finding that is new, changed or resolved since the previous
// round, for the logs.
type change struct {
	kind    string // "new", "changed", "resolved"
	finding checks.Finding
}

// record folds one round into the counters and returns the snapshot to
// publish and the finding changes to log. cfg supplies the scoring numbers
// in force for this round.
func (t *tracker) record(r roundResult, cfg Options) (*snapshot, []change) {
	t.rounds++
	if r.failed {
		t.roundErrors++
	}
	rec := roundRecord{start: r.start, end: r.end, status: r.report.Status, failed: r.failed}
	if r.err != nil {
		rec.err = r.err.Error()
	}
	severities := map[string]checks.Status{}
	var changes []change
	// A failed round says nothing about patterns: it neither extends nor
	// breaks a streak, and it does not make findings "resolved".
	if !r.failed {
		sinceLast := cfg.Interval
		if !t.prevStart.IsZero() {
			sinceLast = r.start.Sub(t.prevStart)
		}
		t.prevStart = r.start
		seen := map[string]bool{}
		cur := map[string]findingSig{}
		headline := ""
		for _, f := range r.report.Findings {
			if f.Pattern == "" {
				continue
			}
			if st, ok := severities[f.Pattern]; ok {
				severities[f.Pattern] = checks.Worst(st, f.Severity)
			} else {
				severities[f.Pattern] = f.Severity
			}
			if headline == "" && f.Severity == checks.Critical {
				headline = f.Pattern
			}
			k := findingKey(f)
			sig := findingSig{severity: f.Severity, summary: f.Summary}
			cur[k] = sig
			if prev, ok := t.prevFindings[k]; !ok {
				changes = append(changes, change{kind: "new", finding: f})
			} else if prev != sig {
				changes = append(changes, change{kind: "changed", finding: f})
			}
			if seen[f.Pattern] {
				continue
			}
			seen[f.Pattern] = true
			t.known[f.Pattern] = true
			ev := t.events[f.Pattern]
			if ev == nil {
				ev = &PatternEvents{Pattern: f.Pattern, FirstSeen: r.start}
				t.events[f.Pattern] = ev
			}
			ev.Rounds++
			ev.Consecutive++
			ev.LastSeen = r.start
			ev.Active = true
			// Findings come sorted most severe first (Report.Finalize), so
			// the first finding of a pattern carries its worst severity.
			ev.Severity = f.Severity
			ev.Summary = f.Summary
		}
		for k, sig := range t.prevFindings {
			if _, ok := cur[k]; !ok {
				parts := strings.SplitN(k, "\x00", 3)
				changes = append(changes, change{kind: "resolved", finding: checks.Finding{
					Pattern: parts[0], Cause: parts[1], Client: parts[2], Severity: sig.severity, Summary: sig.summary,
				}})
			}
		}
		t.prevFindings = cur
		for p, ev := range t.events {
			if !seen[p] {
				ev.Active = false
				ev.Consecutive = 0
			}
		}
		if headline == "" {
			t.lastSuccess = r.end
		}
		// Attribute the points to the headline critical pattern: the one
		// whose message the remote check would show for this failure.
		if headline != "" && cfg.scoringEnabled() {
			pts := pointsForRound(cfg.PointsPerCheck, cfg.CheckInterval, sinceLast, cfg.Interval)
			t.pointsLost += pts
			t.events[headline].PointsLost += pts
			rec.points = pts
		}
		rec.headline = headline
		for _, f := range r.report.Findings {
			if f.Pattern != "" && !slices.Contains(rec.patterns, f.Pattern) {
				rec.patterns = append(rec.patterns, f.Pattern)
			}
		}
	}
	t.history = keepHistory(append(t.history, rec), cfg.History, r.start)

	snap := &snapshot{
		report:      r.report,
		failed:      r.failed,
		rounds:      t.rounds,
		roundErrors: t.roundErrors,
		lastStart:   r.start,
		lastEnd:     r.end,
		events:      make(map[string]PatternEvents, len(t.events)),
		pointsLost:  t.pointsLost,
		scoring:     cfg.scoringEnabled(),
		ppc:         cfg.PointsPerCheck,
		checkIvl:    cfg.CheckInterval,
		severities:  severities,
		previews:    r.previews,
		history:     slices.Clone(t.history),
		hour:        hourStats(t.history, r.start),
		lastSuccess: t.lastSuccess,
		interval:    cfg.Interval,
	}
	if r.err != nil {
		snap.lastErr = r.err.Error()
	}
	for p, ev := range t.events {
		snap.events[p] = *ev
	}
	for p := range t.known {
		snap.patterns = append(snap.patterns, p)
	}
	sort.Strings(snap.patterns)
	b, err := json.Marshal(r.report)
	if err != nil {
		// Cannot happen with checks.Report's field types; kept so that a
		// future field that cannot marshal shows up as an error body
		// instead of an empty one.
		b, _ = json.Marshal(map[string]string{"error": fmt.Sprintf("encode report: %v", err)})
	}
	snap.reportJSON = append(b, '\n')
	return snap, changes
}

// keepHistory drops the oldest rounds beyond both the last keep rounds and
// the rounds of the hour before now, so that the page can list keep rounds
// and still sum the last hour; at most max(keep, maxHourRecords) remain.
func keepHistory(h []roundRecord, keep int, now time.Time) []roundRecord {
	limit := max(keep, maxHourRecords)
	drop := 0
	for i := range h {
		n := len(h) - i // records kept if we drop the first i
		if n <= keep {
			break
		}
		if n <= limit && now.Sub(h[i].start) <= historyWindow {
			break
		}
		drop = i + 1
	}
	if drop == 0 {
		return h
	}
	// Copy down instead of re-slicing, so the backing array does not grow
	// without bound.
	n := copy(h, h[drop:])
	clear(h[n:])
	return h[:n]
}

// hourStats sums each pattern's rounds and points over the hour before now.
func hourStats(h []roundRecord, now time.Time) map[string]hourStat {
	out := map[string]hourStat{}
	for i := len(h) - 1; i >= 0; i-- {
		r := h[i]
		if now.Sub(r.start) > historyWindow {
			break
		}
		for _, p := range r.patterns {
			st := out[p]
			st.rounds++
			if p == r.headline {
				st.points += r.points
			}
			out[p] = st
		}
	}
	return out
}

// eventsView renders the counters for /events.
func (s *snapshot) eventsView(since time.Time) Events {
	ev := Events{Since: since, Rounds: s.rounds, RoundErrors: s.roundErrors, Patterns: []PatternEvents{}}
	if s.scoring {
		ev.PointsPerCheck = s.ppc
		ev.CheckIntervalSeconds = s.checkIvl.Seconds()
		p := s.pointsLost
		ev.PointsLostEstimate = &p
	}
	for _, e := range s.events {
		ev.Patterns = append(ev.Patterns, e)
	}
	slices.SortFunc(ev.Patterns, func(a, b PatternEvents) int {
		if a.Rounds != b.Rounds {
			if a.Rounds > b.Rounds {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Pattern, b.Pattern)
	})
	return ev
}
