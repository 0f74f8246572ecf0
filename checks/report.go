package checks

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Schema names the version of the Report JSON. Tools match on it; a change
// that is not backwards compatible gets a new version.
const Schema = "smb-agent/report/v1"

// Status is the outcome of a finding or of a whole report, with Nagios
// plugin semantics so that the JSON, the exit code and the daemon's STATUS
// line all come from one value.
type Status int

const (
	// OK: nothing found that stops a client.
	OK Status = iota
	// Warning: service works for the configured clients, but something is
	// risky or degraded (SMB1 enabled, logs too quiet to diagnose, ...).
	Warning
	// Critical: a configured client cannot log in or list shares.
	Critical
	// Unknown: the agent could not decide (bad input, or it failed itself).
	Unknown
)

var statusNames = [...]string{"ok", "warning", "critical", "unknown"}

// String returns the lower-case name used in JSON and in the STATUS line.
func (s Status) String() string {
	if s < OK || s > Unknown {
		return "unknown"
	}
	return statusNames[s]
}

// ExitCode is the Nagios plugin exit code: 0, 1, 2, 3.
func (s Status) ExitCode() int {
	if s < OK || s > Unknown {
		return 3
	}
	return int(s)
}

// MarshalText makes Status a JSON string.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText accepts the names MarshalText writes.
func (s *Status) UnmarshalText(b []byte) error {
	v, err := ParseStatus(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// ParseStatus reads a status name, case-insensitively.
func ParseStatus(name string) (Status, error) {
	for i, n := range statusNames {
		if strings.EqualFold(name, n) {
			return Status(i), nil
		}
	}
	return Unknown, fmt.Errorf("unknown status %q (want ok, warning, critical or unknown)", name)
}

// rank orders statuses by how much they matter when aggregated: a known
// critical finding outranks "the agent could not decide", which outranks a
// warning (as Consul's agent/checks/check.go does).
func (s Status) rank() int {
	switch s {
	case OK:
		return 0
	case Warning:
		return 1
	case Unknown:
		return 2
	case Critical:
		return 3
	}
	return 2
}

// Worst returns the status that matters more.
func Worst(a, b Status) Status {
	if b.rank() > a.rank() {
		return b
	}
	return a
}

// Evidence is one observed fact that supports a finding.
type Evidence struct {
	// Kind is where it came from: config, probe, log, process, socket,
	// firewall, client.
	Kind string `json:"kind"`
	// Text is the fact in one human line.
	Text string `json:"text"`
	// File and Line locate it (a smb.conf line, a log line), when it has a
	// place.
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	// Param and Value name the smb.conf setting, for config evidence.
	Param string `json:"param,omitempty"`
	Value string `json:"value,omitempty"`
}

// Location renders File:Line, or "" when the evidence has no place.
func (e Evidence) Location() string {
	switch {
	case e.File == "":
		return ""
	case e.Line > 0:
		return fmt.Sprintf("%s:%d", e.File, e.Line)
	default:
		return e.File
	}
}

// Change is one smb.conf parameter change a fix proposes. The fixes package
// resolves it to a file and line with the smb.conf editor.
type Change struct {
	// Section is "global" or a share name.
	Section string `json:"section"`
	// Param is the canonical parameter name.
	Param string `json:"param"`
	// Value is the new value; ignored when Remove is set.
	Value string `json:"value,omitempty"`
	// Remove deletes the assignment so that the default applies.
	Remove bool `json:"remove,omitempty"`
	// From is the current effective value, as testparm prints it.
	From string `json:"from,omitempty"`
	// Origin is where the current value is set ("file:line" or "default").
	Origin string `json:"origin,omitempty"`
}

// Fix kinds.
const (
	FixConfig   = "config"   // smb.conf changes (Changes); fixes decides reload/restart
	FixStart    = "start"    // start smbd
	FixRestart  = "restart"  // restart smbd with its current config (stale-config)
	FixReload   = "reload"   // make smbd re-read its config
	FixManual   = "manual"   // a person must act (Steps); never applied by the agent
	FixFirewall = "firewall" // firewall rule changes: shown, never applied
)

// Fix is what a finding proposes. Checks say what must change and why; the
// fixes package plans the edits, the smbd action and the proof.
type Fix struct {
	// ID is stable within a report (pattern/cause), so `agent fix --only ID`
	// can select it.
	ID string `json:"id"`
	// Kind is one of the Fix* constants.
	Kind string `json:"kind"`
	// Summary is the change in one line: "set server min protocol = SMB2_02".
	Summary string `json:"summary"`
	// Why says why this is the least permissive change that works.
	Why string `json:"why,omitempty"`
	// Changes are the smb.conf edits (Kind config).
	Changes []Change `json:"changes,omitempty"`
	// Steps are commands for a person (Kind manual or firewall), in order.
	Steps []string `json:"steps,omitempty"`
	// EnablesSMB1 marks a fix that turns SMB1 on: never planned without
	// --allow-smb1.
	EnablesSMB1 bool `json:"enables_smb1,omitempty"`
	// Risk spells out what the change weakens, when it weakens anything.
	Risk string `json:"risk,omitempty"`
}

// DecisionStep is one question of a catalog decision tree, answered by the
// agent from the facts.
type DecisionStep struct {
	// Node is the catalog node id of the question; empty for the closing
	// "conclusion" and "stopped" steps.
	Node     string `json:"node,omitempty"`
	Question string `json:"question"`
	Fact     string `json:"fact"`
	Answer   string `json:"answer"`
}

// Finding is one thing wrong (or risky), tied to a catalog pattern.
type Finding struct {
	// Pattern is the stable pattern id (docs/architecture.md).
	Pattern string `json:"pattern"`
	// Cause is the catalog cause id this host's facts point to.
	Cause    string `json:"cause,omitempty"`
	Severity Status `json:"severity"`
	// Summary is one line, specific to this host.
	Summary string `json:"summary"`
	// ScoringMessage is what a remote scoring engine (pysmb) shows.
	ScoringMessage string `json:"scoring_message,omitempty"`
	// Client names the client profile the finding is about, if any.
	Client string `json:"client,omitempty"`
	// Explanation says why the cause produces the failure on this host.
	Explanation string     `json:"explanation,omitempty"`
	Evidence    []Evidence `json:"evidence,omitempty"`
	// Decision is the path the agent took through the pattern's decision
	// tree.
	Decision []DecisionStep `json:"decision,omitempty"`
	// Commands are the catalog's commands rendered for this host, in order.
	Commands []string `json:"commands,omitempty"`
	Fix      *Fix     `json:"fix,omitempty"`

	// see is the pattern the decision tree pointed at instead of a cause
	// (resolved by Evaluate).
	see string
}

// DialectView compares the three views of one dialect.
type DialectView struct {
	// Config: smb.conf (with the Samba version's defaults) allows it.
	Config bool `json:"config"`
	// Live: the running smbd accepted it; nil when not probed.
	Live *bool `json:"live,omitempty"`
	// LiveDerivedFrom is set when Live was not negotiated on its own but
	// follows from other probe steps, which it names ("negotiate",
	// "smb1:pysmb", or both joined by " + "); empty for a direct probe.
	LiveDerivedFrom string `json:"live_derived_from,omitempty"`
	// Clients lists, per client profile, whether that client offers it.
	Clients map[string]bool `json:"clients,omitempty"`
}

// Timing is one probe step's latency, for metrics.
type Timing struct {
	Step    string  `json:"step"`
	Seconds float64 `json:"seconds"`
	OK      bool    `json:"ok"`
}

// Report is the result of one diagnose run: what `diagnose --json` prints,
// what the daemon serves on /status.
type Report struct {
	Schema       string    `json:"schema"`
	Status       Status    `json:"status"`
	Target       string    `json:"target"`
	SambaVersion string    `json:"samba_version"`
	SmbConf      string    `json:"smb_conf"`
	Generated    time.Time `json:"generated"`
	DurationMS   int64     `json:"duration_ms"`
	// Clients are the client profile names the run judged against.
	Clients  []string               `json:"clients"`
	Dialects map[string]DialectView `json:"dialects"`
	Findings []Finding              `json:"findings"`
	Timings  []Timing               `json:"timings,omitempty"`
	// Errors are the agent's own failures (a fact it could not gather);
	// they make the status at least unknown only when nothing critical was
	// found.
	Errors []string `json:"errors,omitempty"`
}

// Finalize sorts findings (most severe first, then by pattern) and computes
// the overall status from them and from the agent's own errors.
func (r *Report) Finalize() {
	r.Schema = Schema
	sort.SliceStable(r.Findings, func(i, j int) bool {
		a, b := r.Findings[i], r.Findings[j]
		if a.Severity.rank() != b.Severity.rank() {
			return a.Severity.rank() > b.Severity.rank()
		}
		return a.Pattern < b.Pattern
	})
	st := OK
	for _, f := range r.Findings {
		st = Worst(st, f.Severity)
	}
	if len(r.Errors) > 0 && st.rank() < Unknown.rank() {
		st = Worst(st, Unknown)
	}
	r.Status = st
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	if r.Dialects == nil {
		r.Dialects = map[string]DialectView{}
	}
}

// Subject is what the report says in one line, without its status: the
// most severe finding (and how many more), else what the agent could not
// find out, else that the target serves its clients. The text, Nagios and
// STATUS= renderings all open with it.
func (r *Report) Subject() string {
	if len(r.Findings) == 0 {
		if len(r.Errors) > 0 {
			return r.Errors[0]
		}
		return fmt.Sprintf("%s serves %s", r.Target, strings.Join(r.Clients, ", "))
	}
	f := r.Findings[0]
	more := ""
	if n := len(r.Findings) - 1; n > 0 {
		more = fmt.Sprintf(" (+%d more)", n)
	}
	return fmt.Sprintf("%s: %s%s", f.Pattern, f.Summary, more)
}

// Headline is the one-line summary used for systemd's STATUS= and the
// fix command: "critical: protocol-mismatch: ...".
func (r *Report) Headline() string { return fmt.Sprintf("%s: %s", r.Status, r.Subject()) }

// Tally is the report in numbers, for performance data and dashboards.
type Tally struct {
	Findings, Critical, Warning int
	// Dialects is how many dialects the table compares; DialectsLive and
	// DialectsConfig how many of them the running smbd and smb.conf accept.
	Dialects, DialectsLive, DialectsConfig int
	// ProbeMS is the whole probe run's duration.
	ProbeMS int64
}

// Tally counts the report's findings by severity and its accepted dialects.
func (r *Report) Tally() Tally {
	t := Tally{Findings: len(r.Findings), Dialects: len(TableDialects)}
	for _, f := range r.Findings {
		switch f.Severity {
		case Critical:
			t.Critical++
		case Warning:
			t.Warning++
		}
	}
	for _, d := range TableDialects {
		v := r.Dialects[d]
		if v.Config {
			t.DialectsConfig++
		}
		if v.Live != nil && *v.Live {
			t.DialectsLive++
		}
	}
	for _, tm := range r.Timings {
		if tm.Step == "probe" {
			t.ProbeMS = int64(tm.Seconds*1000 + 0.5)
		}
	}
	return t
}
