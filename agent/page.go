package agent

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smb-agent/smb-agent/checks"
	"github.com/smb-agent/smb-agent/checks/catalog"
	"github.com/smb-agent/smb-agent/configs/safetext"
	"github.com/smb-agent/smb-agent/fixes"
)

// The page at / is the scoring dashboard's pattern page (a pattern, its
// message, events, points, work roles, meaning, cause, commands, decision
// tree, other patterns) answered for this host from the report the daemon
// already holds: no handler probes. It is server-rendered with html/template
// (contextual escaping of every string that came from smb.conf, smbd, the
// logs or the network), needs no script, and loads only its own stylesheet
// and icon, which the Content-Security-Policy enforces.

//go:embed web
var webFS embed.FS

// pageTmpl is parsed on first use, not at package init: only `agent serve`
// renders the page, and every other command (a one-shot `agent config
// dump` or `agent diagnose`) would otherwise pay the parse at start.
var pageTmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("page.html").Funcs(template.FuncMap{
		"visible": safetext.Text,
		"pct":     func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
		"pts":     formatPoints,
		"ts":      func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
		"upper":   strings.ToUpper,
		"add":     func(a, b int) int { return a + b },
	}).ParseFS(webFS, "web/page.html"))
})

// pageCSP allows nothing but this server's stylesheet and icon: no script at
// all (the page works without one), no frames, no forms, no base URL.
const pageCSP = "default-src 'none'; style-src 'self'; img-src 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// pageHeaders are set on the page and its assets.
func pageHeaders(h http.Header) {
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

// assets are the page's static files, served from the embedded web/.
var assets = map[string]string{
	"/page.css":    "text/css; charset=utf-8",
	"/favicon.svg": "image/svg+xml",
}

func (d *Daemon) handleAsset(w http.ResponseWriter, r *http.Request) {
	ctype, ok := assets[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	b, err := fs.ReadFile(webFS, "web"+r.URL.Path)
	if err != nil {
		http.Error(w, "asset: "+err.Error(), http.StatusInternalServerError)
		return
	}
	pageHeaders(w.Header())
	w.Header().Set("Content-Type", ctype)
	_, _ = w.Write(b)
}

func (d *Daemon) handlePage(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		if _, ok := assets[r.URL.Path]; ok {
			d.handleAsset(w, r)
			return
		}
		http.NotFound(w, r)
		return
	}
	pageHeaders(w.Header())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	p, err := d.page()
	if err != nil {
		http.Error(w, "render page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	code := http.StatusOK
	if p.snap == nil {
		code = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(p.body)))
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		_, _ = w.Write(p.body)
	}
}

// renderedPage is the page of one snapshot as rendered in one second: the
// text says "12 s ago" and "in 18 s", so it is rendered again when the
// second, the snapshot or the next round's time changes, and at most once
// per second however many requests arrive (a render costs milliseconds,
// serving the cached bytes microseconds).
type renderedPage struct {
	snap *snapshot
	sec  int64
	next int64
	body []byte
}

func (d *Daemon) page() (*renderedPage, error) {
	snap, next, sec := d.snap.Load(), d.nextRound.Load(), d.now().Unix()
	fresh := func(p *renderedPage) bool {
		return p != nil && p.snap == snap && p.next == next && p.sec == sec
	}
	if p := d.pageCache.Load(); fresh(p) {
		return p, nil
	}
	d.pageMu.Lock()
	defer d.pageMu.Unlock()
	if p := d.pageCache.Load(); fresh(p) {
		return p, nil
	}
	var buf bytes.Buffer
	if err := d.renderPage(&buf, snap, next); err != nil {
		return nil, err
	}
	p := &renderedPage{snap: snap, sec: sec, next: next, body: buf.Bytes()}
	d.pageCache.Store(p)
	return p, nil
}

// renderPage renders the page of snap into buf.
func (d *Daemon) renderPage(buf *bytes.Buffer, snap *snapshot, nextNS int64) error {
	o := d.cfg.Load()
	var next time.Time
	if nextNS != 0 {
		next = time.Unix(0, nextNS)
	}
	v := buildPage(snap, pageInput{
		now: d.now(), since: d.started, next: next, interval: o.Interval,
		history: o.History, fixCommand: o.FixCommand, version: o.Version,
	})
	return pageTmpl().Execute(buf, v)
}

type pageInput struct {
	now, since, next time.Time
	interval         time.Duration
	history          int
	fixCommand       string
	version          string
}

// pageView is everything the template shows; built by buildPage, a pure
// function of the snapshot.
type pageView struct {
	Ready        bool
	Status       string // ok, warning, critical, unknown
	Headline     string
	Target       string
	SambaVersion string
	SmbConf      string
	Clients      []string
	Version      string
	Checked      time.Time
	CheckedAgo   string
	Next         string
	Refresh      int // seconds, for <meta http-equiv=refresh>
	Since        time.Time
	Rounds       uint64
	RoundErrors  uint64
	Errors       []string
	Scoring      bool
	PPC          float64
	PointsLost   float64
	Findings     []findingView
	Dialects     dialectTableView
	Patterns     []patternRow
	Chart        chartView
	History      []historyRow
	HistoryN     int
}

type findingView struct {
	Anchor         string
	Pattern        string
	Title          string
	Severity       string
	Summary        string
	ScoringMessage string
	Client         string
	Meaning        string
	Cause          string
	CauseSummary   string
	CauseAt        string
	Explanation    string
	Evidence       []evidenceView
	Tree           *treeNode
	Path           []checks.DecisionStep
	Conclusion     string
	Commands       []commandView
	Fix            *fixView
	Roles          []catalog.Role
	References     []catalog.Reference
	Rounds         uint64
	HourRounds     uint64
	PointsLost     float64
	HourPoints     float64
	FirstSeen      time.Time
	Consecutive    uint64
}

type evidenceView struct {
	Kind, Text, At string
}

type commandView struct {
	Title, Command, Expect, Interpret string
	ReadOnly                          bool
}

type fixView struct {
	ID, Kind, Summary, Why, Risk string
	Action, ActionWhy            string
	Refusal                      string
	Error                        string
	Manual                       bool
	Steps                        []string
	Edits                        []string
	Diffs                        []diffView
	DryRun, Apply                string
}

type diffView struct {
	Path  string
	Lines []diffLine
}

type diffLine struct {
	Class, Text string
}

// treeNode is one node of a pattern's decision tree, with what the walk
// did there.
type treeNode struct {
	ID, Question, Fact string
	Visited            bool
	Answer             string
	Branches           []treeBranch
}

type treeBranch struct {
	Answers string
	Taken   bool
	Next    *treeNode
	// Again names a node drawn elsewhere (a node reached twice).
	Again              string
	Cause, See, Action string
}

type dialectTableView struct {
	Clients []string
	Rows    []dialectRow
}

type dialectRow struct {
	Dialect string
	Config  string
	Live    string
	Clients []string
}

// patternRow is one pattern of the service, for the ranked list and the
// chart.
type patternRow struct {
	ID, Title, Message string
	Status             string
	Active             bool
	Rounds, HourRounds uint64
	Points, HourPoints float64
	Anchor             string
}

type chartView struct {
	Width, Height int
	LabelW        int
	Rows          []chartRow
	Cols          int
	MaxPoints     float64
	Scoring       bool
}

type chartRow struct {
	Y, TextY int
	Label    string
	Bar      float64 // width of the bar since start
	HourBar  float64 // width of the bar for the last hour, same scale
	BarX     int
	ValueX   int
	Value    string
	Cells    []chartCell
}

type chartCell struct {
	X    int
	Hit  bool
	Crit bool
}

type historyRow struct {
	Start    time.Time
	Duration string
	Status   string
	Patterns string
	Points   float64
	Err      string
}

func formatPoints(f float64) string {
	if f == 0 {
		return "0"
	}
	s := strconv.FormatFloat(f, 'f', 1, 64)
	// Thousands separators, as the seed page writes 13,266.7.
	intPart, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if frac != "" && frac != "0" {
		b.WriteString("." + frac)
	}
	return b.String()
}

func ago(d time.Duration) string {
	switch {
	case d < 0:
		return "just now"
	case d < time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%d s ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	}
	return fmt.Sprintf("%.1f h ago", d.Hours())
}

// buildPage turns a snapshot into the page's view. s may be nil (no round
// has finished yet).
func buildPage(s *snapshot, in pageInput) pageView {
	v := pageView{Since: in.since, Version: in.version, HistoryN: in.history, Refresh: 2}
	if s == nil {
		v.Status = checks.Unknown.String()
		v.Headline = "The first check round has not finished yet."
		return v
	}
	rep := s.report
	v.Ready = true
	v.Status = rep.Status.String()
	// The badge already says the status.
	v.Headline = strings.TrimPrefix(rep.Headline(), v.Status+": ")
	v.Target, v.SambaVersion, v.SmbConf = rep.Target, rep.SambaVersion, rep.SmbConf
	v.Clients = rep.Clients
	v.Checked = s.lastEnd
	v.CheckedAgo = ago(in.now.Sub(s.lastEnd))
	switch {
	case in.next.IsZero():
		v.Next = "a round is running now"
	case in.next.Before(in.now):
		v.Next = "due now"
	default:
		v.Next = fmt.Sprintf("%s (in %d s)", in.next.UTC().Format("15:04:05 UTC"), int(math.Ceil(in.next.Sub(in.now).Seconds())))
	}
	// Refresh a little after the next round, never faster than every 10 s.
	v.Refresh = 10
	if !in.next.IsZero() {
		v.Refresh = min(max(int(in.next.Sub(in.now).Seconds())+2, 10), 600)
	}
	v.Rounds, v.RoundErrors = s.rounds, s.roundErrors
	v.Errors = rep.Errors
	v.Scoring, v.PPC, v.PointsLost = s.scoring, s.ppc, s.pointsLost

	host := rep.Target
	if h, _, ok := strings.Cut(host, ":"); ok && !strings.Contains(host, "[") {
		host = h
	}
	// The first finding of a pattern is #pattern-<id>: the runbook links of
	// the shipped alerting rules (configs/prometheus) point there. A second
	// finding of the same pattern (another client) is #pattern-<id>-2.
	anchors := map[string]string{}
	seen := map[string]int{}
	for _, f := range rep.Findings {
		seen[f.Pattern]++
		a := "pattern-" + f.Pattern
		if n := seen[f.Pattern]; n > 1 {
			a = fmt.Sprintf("%s-%d", a, n)
		}
		if _, ok := anchors[f.Pattern]; !ok {
			anchors[f.Pattern] = a
		}
		v.Findings = append(v.Findings, buildFinding(f, a, s, in))
	}
	v.Dialects = buildDialects(rep)
	v.Patterns = buildPatterns(s, host, anchors)
	v.Chart = buildChart(s, v.Patterns, in.history)
	v.History = buildHistory(s.history, in.history)
	return v
}

func buildFinding(f checks.Finding, anchor string, s *snapshot, in pageInput) findingView {
	fv := findingView{
		Anchor: anchor, Pattern: f.Pattern, Severity: f.Severity.String(), Summary: f.Summary,
		ScoringMessage: f.ScoringMessage, Client: f.Client, Cause: f.Cause, Explanation: f.Explanation,
	}
	p, ok := catalog.Get(f.Pattern)
	if ok {
		fv.Title, fv.Meaning = p.Title, p.Meaning
		fv.Roles, fv.References = p.Roles, p.References
		if c, ok := p.Cause(f.Cause); ok {
			fv.CauseSummary = c.Summary
		}
	}
	for _, e := range f.Evidence {
		fv.Evidence = append(fv.Evidence, evidenceView{Kind: e.Kind, Text: e.Text, At: e.Location()})
		if fv.CauseAt == "" && e.Kind == "config" && e.Location() != "" {
			fv.CauseAt = e.Location()
		}
	}
	if fv.CauseAt == "" {
		for _, e := range f.Evidence {
			if e.Location() != "" {
				fv.CauseAt = e.Location()
				break
			}
		}
	}
	for _, st := range f.Decision {
		switch st.Question {
		case "conclusion", "stopped":
			if st.Node == "" {
				fv.Conclusion = st.Answer
				continue
			}
		}
		fv.Path = append(fv.Path, st)
	}
	if ok {
		fv.Tree = buildTree(p, fv.Path)
	}
	var steps []catalog.Step
	if ok {
		steps = p.Commands
	}
	for _, c := range f.Commands {
		fv.Commands = append(fv.Commands, parseCommand(c, steps, s.report.SmbConf))
	}
	fv.Fix = buildFix(f, s.previews, in.fixCommand)
	if ev, ok := s.events[f.Pattern]; ok {
		fv.Rounds, fv.PointsLost, fv.FirstSeen, fv.Consecutive = ev.Rounds, ev.PointsLost, ev.FirstSeen, ev.Consecutive
	}
	h := s.hour[f.Pattern]
	fv.HourRounds, fv.HourPoints = h.rounds, h.points
	return fv
}

// parseCommand splits a report command ("# Title\ncommand\n#   expect: ...",
// as checks renders the catalog steps) and adds the catalog's
// interpretation of the step with the same title.
func parseCommand(c string, steps []catalog.Step, smbConf string) commandView {
	var cv commandView
	var cmd []string
	for _, line := range strings.Split(c, "\n") {
		switch {
		case cv.Title == "" && len(cmd) == 0 && strings.HasPrefix(line, "# "):
			cv.Title = strings.TrimPrefix(line, "# ")
		case strings.HasPrefix(line, "#   expect:"):
			cv.Expect = strings.TrimSpace(strings.TrimPrefix(line, "#   expect:"))
		default:
			cmd = append(cmd, line)
		}
	}
	cv.Command = strings.Join(cmd, "\n")
	for _, st := range steps {
		if st.Title == cv.Title {
			cv.Interpret = fillProse(strings.Join(strings.Fields(st.Interpret), " "), smbConf)
			cv.ReadOnly = st.ReadOnly
			if cv.Expect == "" {
				cv.Expect = strings.Join(strings.Fields(st.Expect), " ")
			}
			break
		}
	}
	return cv
}

// catalogVar is a {{.Name}} placeholder of the catalog's prose.
var catalogVar = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\{\{\s*\.(\w+)\s*\}\}`) })

// fillProse fills the catalog's interpretation text, which is prose rather
// than a rendered command: smb.conf's path from the report, other
// placeholders as their names in capitals.
func fillProse(s, smbConf string) string {
	return catalogVar().ReplaceAllStringFunc(s, func(m string) string {
		name := catalogVar().FindStringSubmatch(m)[1]
		if name == "SmbConf" && smbConf != "" {
			return smbConf
		}
		return strings.ToUpper(name)
	})
}

// buildTree draws every node of the pattern's tree from the root, marking
// the nodes the walk visited and the branch it took at each. The report's
// steps carry the node id; a report without it is matched on the question.
func buildTree(p *catalog.Pattern, path []checks.DecisionStep) *treeNode {
	answers := map[string]string{}
	for _, st := range path {
		id := st.Node
		if id == "" {
			for _, n := range p.Decision.Nodes {
				if n.Question == st.Question {
					id = n.ID
					break
				}
			}
		}
		if id != "" {
			answers[id] = st.Answer
		}
	}
	drawn := map[string]bool{}
	var draw func(id string) *treeNode
	draw = func(id string) *treeNode {
		n, ok := p.Node(id)
		if !ok {
			return nil
		}
		drawn[id] = true
		ans, visited := answers[id]
		tn := &treeNode{ID: n.ID, Question: n.Question, Fact: n.Fact, Visited: visited, Answer: ans}
		for _, b := range n.Branches {
			tb := treeBranch{Answers: strings.Join(b.Answers, ", "), Cause: b.Cause, See: b.See,
				Action: strings.Join(strings.Fields(b.Action), " ")}
			tb.Taken = visited && slices.Contains(b.Answers, ans)
			if b.Next != "" {
				if drawn[b.Next] {
					tb.Again = b.Next
				} else {
					tb.Next = draw(b.Next)
				}
			}
			tn.Branches = append(tn.Branches, tb)
		}
		return tn
	}
	return draw(p.Decision.Root)
}

func buildFix(f checks.Finding, previews map[string]FixPreview, fixCmd string) *fixView {
	if f.Fix == nil {
		return nil
	}
	fx := f.Fix
	fv := &fixView{ID: fx.ID, Kind: fx.Kind, Summary: fx.Summary, Why: fx.Why, Risk: fx.Risk,
		Steps: fx.Steps, Manual: fx.Kind == checks.FixManual || fx.Kind == checks.FixFirewall}
	only := shellWord(fx.ID)
	fv.DryRun = fixCmd + " --only " + only
	if !fv.Manual {
		fv.Apply = fixCmd + " --apply --only " + only
		if fx.EnablesSMB1 {
			fv.Apply = fixCmd + " --apply --allow-smb1 --only " + only
		}
	}
	pv, ok := previews[fx.ID]
	if !ok {
		return fv
	}
	if pv.Err != "" {
		fv.Error = pv.Err
		return fv
	}
	if pv.Plan == nil {
		return fv
	}
	plan := pv.Plan
	for _, group := range [][]fixes.PlannedFix{plan.Fixes, plan.Optional, plan.Refused, plan.Manual} {
		for _, pf := range group {
			if pf.ID != fx.ID {
				continue
			}
			fv.Action, fv.ActionWhy, fv.Refusal = pf.Action.Describe(), pf.ActionWhy, pf.Refusal
			for _, e := range pf.Edits {
				// The editor's description names the file and line.
				fv.Edits = append(fv.Edits, e.Desc)
			}
		}
	}
	for _, fe := range plan.Files {
		dv := diffView{Path: fe.Path}
		for _, line := range strings.Split(strings.TrimRight(fe.Diff, "\n"), "\n") {
			cl := "ctx"
			switch {
			case strings.HasPrefix(line, "+++"), strings.HasPrefix(line, "---"):
				cl = "file"
			case strings.HasPrefix(line, "@@"):
				cl = "hunk"
			case strings.HasPrefix(line, "+"):
				cl = "add"
			case strings.HasPrefix(line, "-"):
				cl = "del"
			}
			dv.Lines = append(dv.Lines, diffLine{Class: cl, Text: line})
		}
		fv.Diffs = append(fv.Diffs, dv)
	}
	if fv.Refusal != "" {
		fv.Apply = ""
	}
	return fv
}

// shellWord quotes s for a POSIX shell when it needs it, so the command
// can be pasted as shown.
func shellWord(s string) string {
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r == '-' || r == '/' || r == '_' || r == '.' || r == ':' || r == '=' || r == '@' || r == ',' ||
			(r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9'))
	}) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func buildDialects(rep *checks.Report) dialectTableView {
	t := dialectTableView{Clients: rep.Clients}
	names := make([]string, 0, len(rep.Dialects))
	for d := range rep.Dialects {
		names = append(names, d)
	}
	order := map[string]int{}
	for i, d := range checks.TableDialects {
		order[d] = i
	}
	slices.SortFunc(names, func(a, b string) int {
		oa, aok := order[a]
		ob, bok := order[b]
		if aok && bok {
			return oa - ob
		}
		if aok != bok {
			if aok {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	for _, d := range names {
		dv := rep.Dialects[d]
		row := dialectRow{Dialect: d, Config: yesNoWord(dv.Config), Live: "not probed"}
		if dv.Live != nil {
			row.Live = yesNoWord(*dv.Live)
		}
		for _, c := range rep.Clients {
			offers, ok := dv.Clients[c]
			switch {
			case !ok:
				row.Clients = append(row.Clients, "unknown")
			case offers:
				row.Clients = append(row.Clients, "offers")
			default:
				row.Clients = append(row.Clients, "no")
			}
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

func yesNoWord(b bool) string {
	if b {
		return "accepts"
	}
	return "refuses"
}

// buildPatterns lists every pattern of the service, ranked by points lost
// (then events), as the seed page ranks "Other patterns on this service".
func buildPatterns(s *snapshot, host string, anchors map[string]string) []patternRow {
	var rows []patternRow
	seen := map[string]bool{}
	add := func(id string) {
		if seen[id] {
			return
		}
		seen[id] = true
		row := patternRow{ID: id, Status: s.patternStatus(id).String(), Anchor: anchors[id]}
		if p, ok := catalog.Get(id); ok {
			// {any} stands for the file and share the engine names.
			row.Title, row.Message = p.Title, strings.ReplaceAll(p.Message(host), "{any}", "…")
		}
		if ev, ok := s.events[id]; ok {
			row.Active, row.Rounds, row.Points = ev.Active, ev.Rounds, ev.PointsLost
		}
		h := s.hour[id]
		row.HourRounds, row.HourPoints = h.rounds, h.points
		rows = append(rows, row)
	}
	for _, p := range catalog.All() {
		add(p.ID)
	}
	for _, id := range s.patterns {
		add(id)
	}
	slices.SortStableFunc(rows, func(a, b patternRow) int {
		switch {
		case a.Points != b.Points:
			if a.Points > b.Points {
				return -1
			}
			return 1
		case a.Rounds != b.Rounds:
			if a.Rounds > b.Rounds {
				return -1
			}
			return 1
		}
		return 0
	})
	return rows
}

// Chart geometry (SVG user units).
const (
	chartRowH  = 18
	chartCellW = 5
	chartBarW  = 160
	chartLabel = 170
	chartValue = 130
)

// buildChart lays out the chart: per pattern, a bar of the points lost
// since start (rounds seen when scoring is not configured) and one cell per
// round of the last n, filled when that round reported the pattern.
func buildChart(s *snapshot, rows []patternRow, n int) chartView {
	c := chartView{LabelW: chartLabel, Scoring: s.scoring}
	hist := s.history
	if len(hist) > n {
		hist = hist[len(hist)-n:]
	}
	c.Cols = len(hist)
	maxV := 0.0
	val := func(r patternRow) float64 {
		if s.scoring {
			return r.Points
		}
		return float64(r.Rounds)
	}
	hourVal := func(r patternRow) float64 {
		if s.scoring {
			return r.HourPoints
		}
		return float64(r.HourRounds)
	}
	var shown []patternRow
	for _, r := range rows {
		if r.Rounds > 0 {
			shown = append(shown, r)
			maxV = max(maxV, val(r))
		}
	}
	c.MaxPoints = maxV
	cellsX := chartLabel + chartBarW + chartValue
	for i, r := range shown {
		cr := chartRow{Y: i * chartRowH, TextY: i*chartRowH + 13, Label: r.ID, BarX: chartLabel, ValueX: chartLabel + chartBarW + 6}
		if maxV > 0 {
			cr.Bar = math.Max(1, val(r)/maxV*chartBarW)
			if h := hourVal(r); h > 0 {
				cr.HourBar = math.Max(1, h/maxV*chartBarW)
			}
		}
		if s.scoring {
			cr.Value = formatPoints(r.Points) + " / " + formatPoints(r.HourPoints)
		} else {
			cr.Value = strconv.FormatUint(r.Rounds, 10) + " / " + strconv.FormatUint(r.HourRounds, 10)
		}
		for j, h := range hist {
			hit := slices.Contains(h.patterns, r.ID)
			if hit {
				cr.Cells = append(cr.Cells, chartCell{X: cellsX + j*chartCellW, Hit: true, Crit: h.headline == r.ID})
			}
		}
		c.Rows = append(c.Rows, cr)
	}
	c.Width = cellsX + max(n, 1)*chartCellW
	c.Height = max(len(shown), 1) * chartRowH
	return c
}

func buildHistory(h []roundRecord, n int) []historyRow {
	var out []historyRow
	for i := len(h) - 1; i >= 0 && len(out) < n; i-- {
		r := h[i]
		row := historyRow{Start: r.start, Duration: r.end.Sub(r.start).Round(time.Millisecond).String(),
			Status: r.status.String(), Patterns: strings.Join(r.patterns, ", "), Points: r.points, Err: r.err}
		if r.failed {
			row.Patterns = "round failed"
		}
		out = append(out, row)
	}
	return out
}
