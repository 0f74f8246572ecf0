package checks

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/smb-agent/smb-agent/checks/catalog"
	"github.com/smb-agent/smb-agent/checks/probe"
	"github.com/smb-agent/smb-agent/configs"
)

// Pattern ids (stable: docs/architecture.md). PatternLogging: smbd's log
// level is too low to record the evidence a failure needs.
const (
	PatternProtocolMismatch   = "protocol-mismatch"
	PatternConnectionRefused  = "connection-refused"
	PatternHostUnreachable    = "host-unreachable"
	PatternConnectFailed      = "connect-failed"
	PatternTimeout            = "timeout"
	PatternRPCEndpointMissing = "rpc-endpoint-missing"
	PatternIPCUnavailable     = "ipc-unavailable"
	PatternRPCBindFailed      = "rpc-bind-failed"
	PatternConnectionReset    = "connection-reset"
	PatternLoginFailed        = "login-failed"
	PatternShareUnavailable   = "share-unavailable"
	PatternStaleConfig        = "stale-config"
	PatternSMB1Enabled        = "smb1-enabled"
	PatternConfigInvalid      = "config-invalid"
	PatternLogging            = "logging-insufficient"
)

// Evaluate runs every registered check over f and builds the report: the
// findings (with the catalog's scoring message, commands rendered for this
// host and the decision path the agent took), dependency suppression, the
// dialect table of the three views, probe timings and the gatherers'
// errors. It does no I/O.
func Evaluate(f *Facts) *Report {
	if f == nil {
		f = &Facts{}
	}
	r := &Report{
		Target:       targetAddr(f),
		SambaVersion: sambaVersionText(f),
		SmbConf:      f.SmbConfPath,
		Generated:    f.Now,
	}
	clients := judgedClients(f)
	for _, c := range clients {
		r.Clients = append(r.Clients, c.Profile.Name)
	}
	if r.Clients == nil {
		r.Clients = []string{}
	}
	for _, c := range Registered() {
		r.Findings = append(r.Findings, runCheck(c, f, r)...)
	}
	r.Findings = suppress(resolveSee(r.Findings))
	if fd, ok := unobservedFinding(f, r.Findings); ok {
		r.Findings = append(r.Findings, fd)
	}
	for i := range r.Findings {
		enrich(&r.Findings[i], f)
	}
	r.Dialects = dialectTable(f, clients)
	r.Timings = probeTimings(f.Probe)
	r.Errors = append(r.Errors, f.Errors...)
	r.Finalize()
	return r
}

// unobservedFinding is the backstop of "unknown is never OK": when the
// agent's own connect to the target failed and no pattern explained it
// critically, the report still says the live server was not observed.
func unobservedFinding(f *Facts, fs []Finding) (Finding, bool) {
	d, ok := dialError(f)
	if !ok || d == "none" {
		return Finding{}, false
	}
	for _, fd := range fs {
		if fd.Severity == Critical {
			return Finding{}, false
		}
	}
	fd := newFinding(PatternConnectFailed, CauseUnexplained, Critical,
		fmt.Sprintf("the agent could not connect to %s (%s): the live server was not observed", targetAddr(f), d))
	fd.Evidence = tcpEvidence(f)
	fd.Decision = []DecisionStep{{Question: "stopped", Answer: "the connect failed and no pattern's tree explained it"}}
	fd.Fix = &Fix{Kind: FixManual, Summary: "run the commands below in order and read each result; the agent could not decide the cause"}
	return fd, true
}

// runCheck runs one check; a panic in a check is the agent's own failure,
// reported as an error (UNKNOWN at worst), never a crash.
func runCheck(c Check, f *Facts, r *Report) (out []Finding) {
	defer func() {
		if p := recover(); p != nil {
			r.Errors = append(r.Errors, fmt.Sprintf("check %s failed: %v", c.ID(), p))
			out = nil
		}
	}()
	return c.Evaluate(f)
}

func sambaVersionText(f *Facts) string {
	v := f.SambaVersion
	if v.Raw != "" {
		return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v.Raw), "Version "))
	}
	if v.Major == 0 && v.Minor == 0 {
		return ""
	}
	return v.String()
}

// targetHost is the address the remote check connects to, as far as the
// agent knows (the probes' target).
func targetHost(f *Facts) string {
	if f.Target.Host != "" {
		return f.Target.Host
	}
	return "127.0.0.1"
}

func targetPort(f *Facts) int {
	if f.Target.Port != 0 {
		return f.Target.Port
	}
	return 445
}

func targetAddr(f *Facts) string {
	return net.JoinHostPort(targetHost(f), strconv.Itoa(targetPort(f)))
}

// clientRef is one client the run judges: a configured profile, or one
// read from the logs (Observed set).
type clientRef struct {
	Profile  configs.ClientProfile
	Observed *ClientOffer
}

// judgedClients are the configured clients (pysmb when none) plus up to
// three clients whose failed offers smbd logged. An observed offer equal to
// a configured client's SMB1 offer is that client, not a new one.
func judgedClients(f *Facts) []clientRef {
	var out []clientRef
	cs := f.Clients
	if len(cs) == 0 {
		p, _ := configs.Preset(configs.DefaultClient)
		cs = []configs.ClientProfile{p}
	}
	for _, p := range cs {
		out = append(out, clientRef{Profile: p})
	}
	obs, offers := ObservedClients(f.Logs, 3)
	for i, p := range obs {
		dup := false
		for _, c := range out {
			if sameOffer(c.Profile.SMB1Offer, p.SMB1Offer) {
				dup = true
				break
			}
		}
		if !dup {
			o := offers[i]
			out = append(out, clientRef{Profile: p, Observed: &o})
		}
	}
	return out
}

func sameOffer(a, b []string) bool {
	if len(a) != len(b) || len(a) == 0 {
		return false
	}
	for i := range a {
		if !strings.EqualFold(strings.TrimSpace(a[i]), strings.TrimSpace(b[i])) {
			return false
		}
	}
	return true
}

// offersFor are the logged offers that match client p's SMB1 offer (its
// failed negotiations seen by smbd), newest last.
func offersFor(f *Facts, p configs.ClientProfile) []ClientOffer {
	var out []ClientOffer
	for _, o := range f.Logs.Offers {
		if sameOffer(o.Dialects, p.SMB1Offer) {
			out = append(out, o)
		}
	}
	return out
}

// suppress drops the findings that a critical reachability finding makes
// moot (login-failed while connection-refused fires, ...), and notes it on
// the finding that caused it.
func suppress(fs []Finding) []Finding {
	blocker := -1
	for i, f := range fs {
		if patternDeps(f.Pattern) == StopsConnection && f.Severity == Critical {
			blocker = i
			break
		}
	}
	if blocker < 0 {
		return fs
	}
	var kept []Finding
	var skipped []string
	for i, f := range fs {
		if i != blocker && patternDeps(f.Pattern) == NeedsConnection {
			skipped = append(skipped, f.Pattern)
			continue
		}
		kept = append(kept, f)
	}
	for i := range kept {
		if kept[i].Pattern == fs[blocker].Pattern && kept[i].Cause == fs[blocker].Cause {
			note := "login, share listing and share checks skipped (smbd not reachable); fix this first and run diagnose again"
			if len(skipped) > 0 {
				note += " (" + strings.Join(dedupe(skipped), ", ") + " not judged)"
			}
			kept[i].Explanation = joinSentences(kept[i].Explanation, note)
			break
		}
	}
	return kept
}

func dedupe(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func joinSentences(a, b string) string {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	if !strings.HasSuffix(a, ".") {
		a += "."
	}
	return a + " " + b
}

// enrich adds what the catalog carries for the finding's pattern: the
// scoring message and the commands rendered for this host, and a note when
// the logs cannot hold the evidence at the current log level. The decision
// path is the pattern's own walk (Pattern.explain), never redone here.
func enrich(fd *Finding, f *Facts) {
	p, ok := catalog.Get(fd.Pattern)
	if ok {
		if fd.ScoringMessage == "" && p.EngineMessage != "" {
			fd.ScoringMessage = renderEngineMessage(p.EngineMessage, f)
		}
		if len(fd.Commands) == 0 {
			fd.Commands = renderCommands(p.Commands, f)
		}
	}
	if note := loggingNote(fd.Pattern, f); note != "" && !strings.Contains(fd.Explanation, "log level") {
		fd.Explanation = joinSentences(fd.Explanation, note)
	}
	if fd.Fix != nil && fd.Fix.ID == "" {
		fd.Fix.ID = fd.Pattern + "/" + fd.Cause
	}
}

// renderEngineMessage fills the catalog's {ip} with the target address
// and {any} with the scored file and share.
func renderEngineMessage(msg string, f *Facts) string {
	msg = strings.ReplaceAll(msg, "{ip}", targetHost(f))
	for _, v := range []string{scoredFile(f), f.Share} {
		if v == "" {
			v = "..."
		}
		msg = strings.Replace(msg, "{any}", v, 1)
	}
	return strings.ReplaceAll(msg, "{any}", "...")
}

func scoredFile(f *Facts) string {
	if f.Probe != nil && f.Probe.File != nil && f.Probe.File.Path != "" {
		return f.Probe.File.Path
	}
	return ""
}

// catalogVars fills the command templates for this host. Missing values
// (no user, share or client address configured) get a placeholder so that
// the command still reads as an example, except ClientIP, which a command
// cannot use as a word.
func catalogVars(f *Facts) catalog.Vars {
	v := catalog.DefaultVars()
	if f.Smbd.ConfigPath != "" {
		v.SmbConf = f.Smbd.ConfigPath
	} else if f.SmbConfPath != "" {
		v.SmbConf = f.SmbConfPath
	}
	v.Port, v.Host = targetPort(f), targetHost(f)
	v.User, v.Share = f.User, f.Share
	if v.User == "" {
		v.User = "USER"
	}
	if v.Share == "" {
		v.Share = "SHARE"
	}
	v.ClientIP = f.RemoteClientIP
	if lf := globalValue(f, "log file"); lf.OK && lf.Printed != "" {
		v.LogDir = filepath.Dir(lf.Printed)
	}
	if pd := globalValue(f, "pid directory"); pd.OK && pd.Printed != "" {
		v.PidDir = pd.Printed
	}
	return v
}

// renderCommands renders the catalog's commands for this host, numbered by
// the renderer; a step that cannot be rendered (it needs the checker's
// address and none is configured) is kept as its title with the reason.
func renderCommands(steps []catalog.Step, f *Facts) []string {
	vars := catalogVars(f)
	var out []string
	for _, s := range steps {
		cmd, err := s.Render(vars)
		if err != nil {
			out = append(out, fmt.Sprintf("# %s: needs remote_client_ip (--remote-client-ip)", s.Title))
			continue
		}
		line := "# " + s.Title + "\n" + cmd
		if s.Expect != "" {
			line += "\n#   expect: " + oneLineText(fillVars(s.Expect, vars))
		}
		out = append(out, line)
	}
	return out
}

// fillVars replaces {{.Var}} in catalog prose (expect/interpret texts are
// not templates of their own) with this host's values.
func fillVars(s string, v catalog.Vars) string {
	return strings.NewReplacer(
		"{{.SmbConf}}", v.SmbConf, "{{.Port}}", strconv.Itoa(v.Port), "{{.Host}}", v.Host,
		"{{.User}}", v.User, "{{.Share}}", v.Share, "{{.LogDir}}", v.LogDir,
		"{{.PidDir}}", v.PidDir, "{{.ClientIP}}", orUnknown(v.ClientIP),
	).Replace(s)
}

func oneLineText(s string) string { return strings.Join(strings.Fields(s), " ") }

// decisionSteps turns a catalog walk into the report's decision path; the
// last step states where the walk ended.
func decisionSteps(p catalog.Path) []DecisionStep {
	var out []DecisionStep
	for _, s := range p.Steps {
		out = append(out, DecisionStep{Node: s.Node, Question: s.Question, Fact: s.Fact, Answer: s.Answer})
	}
	switch {
	case p.Leaf != nil:
		var parts []string
		if p.Leaf.Cause != "" {
			parts = append(parts, "cause "+p.Leaf.Cause)
		}
		if p.Leaf.See != "" {
			parts = append(parts, "see "+p.Leaf.See)
		}
		if p.Leaf.Action != "" {
			parts = append(parts, oneLineText(p.Leaf.Action))
		}
		out = append(out, DecisionStep{Question: "conclusion", Answer: strings.Join(parts, "; ")})
	case p.StoppedAt != "":
		out = append(out, DecisionStep{Question: "stopped", Answer: p.Reason})
	}
	return out
}

// dialectTable compares the three views per dialect: smb.conf, the live
// probes, and what each judged client offers.
func dialectTable(f *Facts, clients []clientRef) map[string]DialectView {
	out := map[string]DialectView{}
	cfg, cfgOK := ConfigPolicy(f)
	live := LiveAccepted(f.Probe)
	for _, d := range TableDialects {
		v := DialectView{Config: cfgOK && ConfigAccepts(cfg, d), Live: live[d], Clients: map[string]bool{}}
		if pr, ok := dialectProbe(f, d); ok && v.Live != nil {
			v.LiveDerivedFrom = pr.DerivedFrom
		}
		if s, ok := smb1Probe(f, probe.OfferNT1); ok && d == "NT1" && v.Live != nil && s.Carried != nil {
			v.LiveDerivedFrom = fmt.Sprintf("smb1:%s of the run at %s (smb.conf and smbd unchanged since)",
				probe.OfferNT1, s.Carried.ProbedAt.UTC().Format(time.RFC3339))
		}
		for _, c := range clients {
			v.Clients[c.Profile.Name] = c.Profile.Offers(d)
		}
		out[d] = v
	}
	return out
}

// probeTimings lists every probe step's latency, in a fixed order.
func probeTimings(r *probe.Result) []Timing {
	if r == nil {
		return nil
	}
	out := []Timing{{Step: "probe", Seconds: r.DurationMS / 1000, OK: len(r.Failures()) == 0}}
	for _, s := range r.Steps() {
		if s.Step.Class != probe.ClassSkipped {
			out = append(out, Timing{Step: s.Name, Seconds: s.Step.LatencyMS / 1000, OK: s.Step.OK()})
		}
	}
	return out
}

// ---- helpers shared by the checks ----

// newFinding starts a finding of pattern/cause.
func newFinding(pattern, cause string, sev Status, summary string) Finding {
	return Finding{Pattern: pattern, Cause: cause, Severity: sev, Summary: summary}
}

// probeEvidence is one line of probe evidence.
func probeEvidence(format string, args ...any) Evidence {
	return Evidence{Kind: "probe", Text: fmt.Sprintf(format, args...)}
}

// stepText describes a probe step's outcome in a few words.
func stepText(s probe.Step) string {
	t := string(s.Class)
	if s.StatusName != "" {
		t += " (" + s.StatusName + ")"
	}
	if s.Error != "" && s.Class != probe.ClassOK {
		e := oneLineText(s.Error)
		if len(e) > 160 {
			e = e[:157] + "..."
		}
		t += ": " + e
	}
	return t
}

// logEvidence turns smbd log lines into evidence.
func logEvidence(lines []LogLine) []Evidence {
	var out []Evidence
	for _, l := range lines {
		out = append(out, Evidence{Kind: "log", Text: oneLineText(l.Text), File: l.File, Line: l.Line})
	}
	return out
}

// logLines returns the log lines of the given kinds (newest last), at most
// limit of them (the newest).
func logLines(f *Facts, limit int, kinds ...string) []LogLine {
	var out []LogLine
	for _, l := range f.Logs.Lines {
		for _, k := range kinds {
			if l.Kind == k {
				out = append(out, l)
				break
			}
		}
	}
	if limit > 0 && len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out
}

// tcpPrimary is the TCP connect to the target port, if probed.
func tcpPrimary(f *Facts) (probe.TCPResult, bool) {
	if f.Probe == nil || len(f.Probe.TCP) == 0 {
		return probe.TCPResult{}, false
	}
	for _, t := range f.Probe.TCP {
		if t.Port == targetPort(f) {
			return t, true
		}
	}
	return f.Probe.TCP[0], true
}

// tcpConnected reports whether the probe reached the port (unknown counts
// as not reached, ok=false).
func tcpConnected(f *Facts) (connected, known bool) {
	t, ok := tcpPrimary(f)
	if !ok || t.Class == probe.ClassSkipped {
		return false, false
	}
	return t.Class == probe.ClassOK, true
}

// smb1Probe returns the SMB1 probe with that offer name.
func smb1Probe(f *Facts, offer string) (probe.SMB1Result, bool) {
	if f.Probe == nil {
		return probe.SMB1Result{}, false
	}
	for _, s := range f.Probe.SMB1 {
		if s.Offer == offer {
			return s, true
		}
	}
	return probe.SMB1Result{}, false
}

// dialectProbe returns the per-dialect probe of d.
func dialectProbe(f *Facts, d string) (probe.DialectResult, bool) {
	if f.Probe == nil {
		return probe.DialectResult{}, false
	}
	for _, r := range f.Probe.Dialects {
		if r.Dialect.String() == d {
			return r, true
		}
	}
	return probe.DialectResult{}, false
}

// configChangedSinceStart lists the configuration files modified after the
// smbd master started, with their times.
func configChangedSinceStart(f *Facts) []FileStat {
	if f.Smbd.Master == nil || f.Smbd.Master.Started.IsZero() {
		return nil
	}
	var out []FileStat
	for _, fs := range f.ConfigFiles {
		if fs.Err == "" && fs.ModTime.After(f.Smbd.Master.Started) {
			out = append(out, fs)
		}
	}
	return out
}

// usesThisConfig reports whether the running smbd reads the smb.conf the
// agent checked (known=false without a running smbd).
func usesThisConfig(f *Facts) (uses, known bool) {
	if !f.Smbd.Running || f.Smbd.ConfigPath == "" || f.SmbConfPath == "" {
		return false, false
	}
	return filepath.Clean(f.Smbd.ConfigPath) == filepath.Clean(f.SmbConfPath), true
}

// configChange builds a Change from an effective value.
func configChange(cv configValue, value string) Change {
	sec := cv.Section
	if sec == "" {
		sec = "global"
	}
	return Change{Section: sec, Param: cv.Param, Value: value, From: cv.Printed, Origin: cv.Origin.String()}
}

// removeChange builds a Change that deletes the assignment.
func removeChange(cv configValue) Change {
	c := configChange(cv, "")
	c.Remove = true
	return c
}
