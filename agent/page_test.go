package agent

import (
	"bytes"
	"fmt"
	"net/http"
	"regexp"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks"
	"github.com/smb-agent/smb-agent/checks/catalog"
	"github.com/smb-agent/smb-agent/fixes"
)

// hostile is what a hostile host can put in a share name, a log line or a
// server string: markup, a terminal escape, a bidi override.
const hostile = "x<script>alert(1)</script>\x1b[31mred\u202e"

// walked answers a pattern's tree from fixed answers, the way checks does
// from facts, and returns the report's decision steps (with node ids unless
// noNode).
func walked(t testing.TB, pattern string, answers map[string]string, noNode bool) []checks.DecisionStep {
	t.Helper()
	p, ok := catalog.Get(pattern)
	require.True(t, ok, pattern)
	path := p.Walk(func(fact string) (string, bool) { a, ok := answers[fact]; return a, ok })
	var out []checks.DecisionStep
	for _, s := range path.Steps {
		st := checks.DecisionStep{Node: s.Node, Question: s.Question, Fact: s.Fact, Answer: s.Answer}
		if noNode {
			st.Node = ""
		}
		out = append(out, st)
	}
	require.NotNil(t, path.Leaf, "walk of %s must reach a leaf: %s", pattern, path)
	return append(out, checks.DecisionStep{Question: "conclusion", Answer: "cause " + path.Leaf.Cause})
}

// seedReport is the seed's failure on this host, with hostile strings
// wherever the host supplies text.
func seedReport(t testing.TB, noNode bool) *checks.Report {
	r := okReport()
	r.Dialects["SMB2_02"] = checks.DialectView{Config: false, Live: boolp(false), Clients: map[string]bool{"pysmb": true}}
	r.Findings = []checks.Finding{{
		Pattern: "protocol-mismatch", Cause: "server-min-above-client-max", Client: "pysmb", Severity: checks.Critical,
		Summary:        "server min protocol SMB3 is above pysmb's SMB2_02 (share " + hostile + ")",
		ScoringMessage: "SMB connection failed: protocol error",
		Evidence: []checks.Evidence{
			{Kind: "config", Text: "server min protocol = SMB3", File: "/etc/samba/smb.conf", Line: 7, Param: "server min protocol", Value: "SMB3"},
			{Kind: "log", Text: "Requested protocol " + hostile, File: "/var/log/samba/log.127.0.0.1", Line: 12},
		},
		Decision: walked(t, "protocol-mismatch", map[string]string{
			"config.loads": "yes", "config.dialect_gap": "min-above-client-max", "client.smb1_only": "no",
		}, noNode),
		Commands: []string{
			"# Check current min/max protocol\ntestparm -s /etc/samba/smb.conf --parameter-name='server min protocol'\n#   expect: SMB2_02",
			"# List the shares\nsmbclient -L //127.0.0.1 -U '" + hostile + "'",
		},
		Fix: &checks.Fix{ID: "protocol-mismatch/server-min-above-client-max", Kind: checks.FixConfig,
			Summary: "set server min protocol = SMB2_02",
			Changes: []checks.Change{{Section: "global", Param: "server min protocol", Value: "SMB2_02"}}},
	}}
	r.Finalize()
	return r
}

func renderFor(t *testing.T, o Options, reps ...*checks.Report) (*Daemon, string) {
	t.Helper()
	d, h := handlerAfter(t, o, reps...)
	rec := do(h, "GET", "/")
	require.Equal(t, 200, rec.Code, rec.Body.String())
	return d, rec.Body.String()
}

func TestPageIsTheReportForAPerson(t *testing.T) {
	o := testOptions(nil)
	o.PointsPerCheck, o.CheckInterval = 4.2, time.Minute
	_, body := renderFor(t, o, okReport(), seedReport(t, false))

	// The seed's sections, filled in for this host.
	for _, want := range []string{
		"CRITICAL", "protocol-mismatch", "SMB protocol version mismatch between client and server",
		"The scoring engine shows", "SMB connection failed: protocol error",
		"What the message means", "server-min-above-client-max", "/etc/samba/smb.conf:7",
		"Evidence", "Commands in order", "testparm -s /etc/samba/smb.conf", "Expect", "SMB2_02",
		"Decision tree", "Work roles", "IT-451", "System Administrator",
		"Planned fix", "agent fix --apply --only protocol-mismatch/server-min-above-client-max",
		"Dialects: config, live smbd, clients", "Client pysmb",
		"Events and points lost per pattern", "<svg", "Patterns on this service, ranked by points",
		"Last 2 rounds", "Last checked", "Next round",
		// The runbook links of configs/prometheus/smb-agent-rules.yml
		// open http://INSTANCE/#pattern-PATTERN.
		`id="pattern-protocol-mismatch"`,
	} {
		require.Contains(t, body, want)
	}
	// Hostile text is text: escaped markup, visible escapes for control
	// characters, no raw ESC or bidi override reaches the browser.
	require.NotContains(t, body, "<script>")
	require.Contains(t, body, "x&lt;script&gt;alert(1)&lt;/script&gt;\\x1b[31mred\\u202e")
	require.NotContains(t, body, "\x1b")
	require.NotContains(t, body, "\u202e")
	require.NotContains(t, body, " style=", "the CSP forbids inline styles")
	require.NotContains(t, body, "<script", "the page ships no script")
	require.Equal(t, 1, strings.Count(body, `<svg`))

	// Every node of the catalog tree is drawn, and exactly the walked ones
	// are marked visited, each with the branch it took.
	p, _ := catalog.Get("protocol-mismatch")
	nodes := map[string]string{} // id -> class
	for _, m := range regexp.MustCompile(`<li class="([^"]*)" data-node="([^"]*)"`).FindAllStringSubmatch(body, -1) {
		nodes[m[2]] = m[1]
	}
	for _, n := range p.Decision.Nodes {
		require.Contains(t, nodes, n.ID, "tree node %s is drawn", n.ID)
	}
	require.Len(t, nodes, len(p.Decision.Nodes))
	require.Equal(t, "node visited", nodes["config-loads"])
	require.Equal(t, "node visited", nodes["dialect-gap"])
	require.Equal(t, "node visited", nodes["client-smb1-only"])
	require.Equal(t, "node", nodes["encryption"])
	require.Equal(t, 3, strings.Count(body, `class="branch taken"`), "one taken branch per visited node")

	// Headings in order: one h1 first, no level skipped.
	var levels []int
	for _, m := range regexp.MustCompile(`<h([1-6])[\s>]`).FindAllStringSubmatch(body, -1) {
		levels = append(levels, int(m[1][0]-'0'))
	}
	require.Equal(t, 1, levels[0])
	for i := 1; i < len(levels); i++ {
		require.NotEqual(t, 1, levels[i], "one h1")
		require.LessOrEqual(t, levels[i], levels[i-1]+1, "heading h%d after h%d", levels[i], levels[i-1])
	}
	// Every table header cell says what it heads.
	for _, th := range regexp.MustCompile(`<th[\s>][^>]*>?`).FindAllString(body, -1) {
		require.Regexp(t, `scope="(col|row)"`, th)
	}
}

func TestPageTreeMatchesQuestionsWithoutNodeIDs(t *testing.T) {
	_, body := renderFor(t, testOptions(nil), seedReport(t, true))
	require.Regexp(t, regexp.MustCompile(`class="node visited" data-node="client-smb1-only" data-answer="no"`), body)
	require.Equal(t, 3, strings.Count(body, `class="branch taken"`))
}

func TestPageHeadersAndMethods(t *testing.T) {
	_, h := handlerAfter(t, testOptions(nil), okReport())
	for _, path := range []string{"/", "/page.css", "/favicon.svg"} {
		rec := do(h, "GET", path)
		require.Equal(t, 200, rec.Code, path)
		csp := rec.Header().Get("Content-Security-Policy")
		for _, d := range []string{"default-src 'none'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'"} {
			require.Contains(t, csp, d, path)
		}
		require.NotContains(t, csp, "script-src", "no script is allowed at all")
		require.NotContains(t, csp, "unsafe-inline")
		require.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"), path)
		require.Equal(t, "no-referrer", rec.Header().Get("Referrer-Policy"), path)
		for _, m := range []string{"POST", "PUT", "DELETE", "PATCH", "OPTIONS"} {
			require.Equal(t, http.StatusMethodNotAllowed, do(h, m, path).Code, "%s %s", m, path)
		}
	}
	require.Equal(t, "text/css; charset=utf-8", do(h, "GET", "/page.css").Header().Get("Content-Type"))
	head := do(h, "HEAD", "/")
	require.Equal(t, 200, head.Code)
	require.Empty(t, head.Body.String())
	require.Equal(t, 404, do(h, "GET", "/page.html").Code, "the template is not served")
	// The healthy page says so in words.
	body := do(h, "GET", "/").Body.String()
	require.Contains(t, body, ">OK</span>")
	require.Contains(t, body, "No finding")
}

func TestPageBeforeTheFirstRound(t *testing.T) {
	_, h := handlerAfter(t, testOptions(nil))
	rec := do(h, "GET", "/")
	require.Equal(t, 503, rec.Code)
	require.Contains(t, rec.Body.String(), "UNKNOWN")
	require.Contains(t, rec.Body.String(), "first check round has not finished")
}

func TestPageShowsTheFixPreview(t *testing.T) {
	o := testOptions(nil)
	o.FixCommand = "agent fix --config /etc/smb-agent/agent.yaml"
	diff := "--- /etc/samba/smb.conf\n+++ /etc/samba/smb.conf\n@@ -5,3 +5,3 @@\n [global]\n-   server min protocol = SMB3\n+   server min protocol = SMB2_02\n"
	rep := seedReport(t, false)
	d, err := New(o)
	require.NoError(t, err)
	res := roundAt(time.Now(), 0, rep)
	res.previews = map[string]FixPreview{rep.Findings[0].Fix.ID: {Plan: planWithDiff(rep.Findings[0].Fix.ID, diff)}}
	s, _ := d.tracker.record(res, *d.cfg.Load())
	d.snap.Store(s)
	body := do(d.Handler(), "GET", "/").Body.String()
	require.Contains(t, body, `<span class="d-del">-   server min protocol = SMB3</span>`)
	require.Contains(t, body, `<span class="d-add">&#43;   server min protocol = SMB2_02</span>`)
	require.Contains(t, body, "agent fix --config /etc/smb-agent/agent.yaml --apply --only protocol-mismatch/server-min-above-client-max")
	require.Contains(t, body, "set server min protocol = SMB2_02 (was SMB3)")
}

func TestHistoryKeepsTheLastRoundsAndTheLastHour(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	var h []roundRecord
	for i := range 500 {
		h = keepHistory(append(h, roundRecord{start: t0.Add(time.Duration(i) * 30 * time.Second)}), 100, t0.Add(time.Duration(i)*30*time.Second))
	}
	// 30 s rounds: the last hour is 121 rounds, more than 100.
	require.Len(t, h, 121)
	h = keepHistory(h, 200, h[len(h)-1].start)
	require.Len(t, h, 121, "cannot keep what is gone")
	h = keepHistory(h, 10, h[len(h)-1].start.Add(2*time.Hour))
	require.Len(t, h, 10, "an idle gap leaves the last keep rounds")
	require.LessOrEqual(t, cap(h), 500, "the backing array does not grow without bound")
}

func TestHourStatsAndChart(t *testing.T) {
	o := testOptions(nil)
	o.PointsPerCheck, o.CheckInterval, o.Interval = 4.2, time.Minute, 30*time.Minute
	d, err := New(o)
	require.NoError(t, err)
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	cfg := d.cfg.Load()
	var s *snapshot
	for i, rep := range []*checks.Report{mismatchReport(), mismatchReport(), okReport(), mismatchReport()} {
		s, _ = d.tracker.record(roundAt(t0, time.Duration(i)*30*time.Minute, rep), *cfg)
	}
	// Rounds at 0, 30, 60, 90 min: the hour before the last start holds
	// the rounds at 30, 60 and 90 min, two of them with the pattern, each
	// charged the 30 min since the round before.
	require.Equal(t, uint64(3), s.events["protocol-mismatch"].Rounds)
	require.Equal(t, uint64(2), s.hour["protocol-mismatch"].rounds)
	require.InDelta(t, 2*4.2*30, s.hour["protocol-mismatch"].points, 1e-9)
	v := buildPage(s, pageInput{now: t0.Add(2 * time.Hour), history: 100})
	require.Len(t, v.History, 4)
	require.Equal(t, "protocol-mismatch", v.Patterns[0].ID, "ranked by points")
	require.Len(t, v.Chart.Rows, 2) // protocol-mismatch and smb1-enabled
	require.Len(t, v.Chart.Rows[0].Cells, 3)
}

func TestFillProse(t *testing.T) {
	require.Equal(t, "edits to /srv/smb.conf never reach smbd; see LOGDIR",
		fillProse("edits to {{.SmbConf}} never reach smbd; see {{ .LogDir }}", "/srv/smb.conf"))
}

func TestFormatPoints(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 4.2: "4.2", 829.2: "829.2", 13266.7: "13,266.7", 100: "100", 1234567: "1,234,567"} {
		require.Equal(t, want, formatPoints(in), fmt.Sprint(in))
	}
}

// benchSnapshot is the load: every catalog pattern and a custom
// one (at least 15), each reported in turn, over 100 rounds of history.
func benchSnapshot(b *testing.B) *Daemon {
	o := testOptions(nil)
	o.PointsPerCheck, o.CheckInterval, o.Interval = 4.2, time.Minute, 30*time.Second
	d, err := New(o)
	require.NoError(b, err)
	recordBenchRounds(b, d, 100, true)
	return d
}

// recordBenchRounds records n rounds, the daemon's interval apart, in
// which each pattern (the catalog's and one custom) is reported every
// third round, in turn; withFix gives each finding a fix.
func recordBenchRounds(b *testing.B, d *Daemon, n int, withFix bool) {
	b.Helper()
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	pats := append(append([]string(nil), DefaultPatterns()...), "custom-pattern")
	require.GreaterOrEqual(b, len(pats), 15)
	base := seedReport(b, false)
	cfg := d.cfg.Load()
	for i := range n {
		r := *base
		r.Findings = nil
		for j, p := range pats {
			if (i+j)%3 == 0 {
				f := base.Findings[0]
				f.Pattern = p
				if withFix {
					f.Fix = &checks.Fix{ID: p + "/x", Kind: checks.FixConfig, Summary: "s"}
				}
				r.Findings = append(r.Findings, f)
			}
		}
		r.Finalize()
		s, _ := d.tracker.record(roundAt(t0, time.Duration(i)*cfg.Interval, &r), *cfg)
		d.snap.Store(s)
	}
}

// benchGet serves path from benchSnapshot's daemon and reports the size of
// the answer.
func benchGet(b *testing.B, path string) {
	h := benchSnapshot(b).Handler()
	b.ReportAllocs()
	var size int
	for b.Loop() {
		rec := do(h, "GET", path)
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
		size = rec.Body.Len()
	}
	b.ReportMetric(float64(size), "bytes/page")
}

// BenchmarkPage serves / from the held report (rendered at most once a
// second); compare with BenchmarkStatusJSON (the same snapshot served as
// /status) and BenchmarkPageRenderOnly (one render).
func BenchmarkPage(b *testing.B) { benchGet(b, "/") }

func BenchmarkStatusJSON(b *testing.B) { benchGet(b, "/status") }

// BenchmarkPageRenderOnly is the template alone, without the HTTP
// recorder.
func BenchmarkPageRenderOnly(b *testing.B) {
	d := benchSnapshot(b)
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := d.renderPage(&buf, d.snap.Load(), 0); err != nil {
			b.Fatal(err)
		}
	}
}

func planWithDiff(id, diff string) *fixes.Plan {
	return &fixes.Plan{
		Fixes: []fixes.PlannedFix{{ID: id, Kind: checks.FixConfig, Action: fixes.ActionNone,
			Edits: []fixes.Edit{{Path: "/etc/samba/smb.conf", Line: 7, Section: "global", Param: "server min protocol",
				Desc: "set server min protocol = SMB2_02 (was SMB3)"}}}},
		Files: []fixes.FileEdit{{Path: "/etc/samba/smb.conf", Diff: diff}},
	}
}

func TestPageOfAFailedRound(t *testing.T) {
	o := testOptions(nil)
	d, err := New(o)
	require.NoError(t, err)
	start := time.Now()
	res := roundResult{failed: true, start: start, end: start.Add(time.Second), err: fmt.Errorf("probe: %s", hostile)}
	res.report = failedReport(res.err, res.start, res.end)
	s, _ := d.tracker.record(res, *d.cfg.Load())
	d.snap.Store(s)
	rec := do(d.Handler(), "GET", "/")
	require.Equal(t, 200, rec.Code)
	body := rec.Body.String()
	require.Contains(t, body, ">UNKNOWN</span>", "unknown is never shown as ok")
	require.Contains(t, body, "The agent could not check everything")
	require.Contains(t, body, "round failed")
	require.NotContains(t, body, "No finding", "a failed round found nothing, which is not the same as no finding")
	require.NotContains(t, body, "<script>")
}

// BenchmarkHourOfHistoryHeap fills the history the daemon keeps at the
// shortest interval (a round a second for an hour, every pattern) and reports
// the live heap it holds, for the RSS budget; it asserts nothing.
func BenchmarkHourOfHistoryHeap(b *testing.B) {
	o := testOptions(nil)
	o.PointsPerCheck, o.CheckInterval, o.Interval = 4.2, time.Minute, time.Second
	for b.Loop() {
		d, err := New(o)
		require.NoError(b, err)
		var ms0, ms1 goruntime.MemStats
		goruntime.GC()
		goruntime.ReadMemStats(&ms0)
		recordBenchRounds(b, d, maxHourRecords+100, false)
		goruntime.GC()
		goruntime.ReadMemStats(&ms1)
		b.ReportMetric(float64(len(d.snap.Load().history)), "rounds-kept")
		b.ReportMetric(float64(int64(ms1.HeapAlloc)-int64(ms0.HeapAlloc))/(1<<20), "MB-heap")
	}
}
