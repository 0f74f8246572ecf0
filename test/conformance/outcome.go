// Package conformance proves the agent's client verdicts against real
// client code: each case starts one real smbd (test/harness), runs real
// clients against it (impacket, smbclient in several configurations,
// go-smb2), runs `agent diagnose --json --client P` with the agent profile
// that stands for each client configuration, and compares how far the
// client got with what the agent predicted.
//
// The comparison is on the first step that fails, in the order a scoring
// round takes them: connect (TCP and NEGOTIATE), login (SESSION_SETUP),
// list (IPC$ and srvsvc NetShareEnum), share (tree connect and listing of
// the scored share), read (the scored file, with the expected content).
package conformance

import (
	"fmt"

	"github.com/smb-agent/smb-agent/checks"
)

// Steps of one scored round, in order.
const (
	StepConnect = "connect"
	StepLogin   = "login"
	StepList    = "list"
	StepShare   = "share"
	StepRead    = "read"
	// StepNone: nothing failed.
	StepNone = "-"
)

// Steps lists the steps in the order a round takes them.
var Steps = []string{StepConnect, StepLogin, StepList, StepShare, StepRead}

func stepIndex(s string) int {
	for i, x := range Steps {
		if x == s {
			return i
		}
	}
	return len(Steps)
}

// Outcome is what a real client did: the first step that failed (StepNone
// when the whole round worked) and the client's own words for it.
type Outcome struct {
	Failed string
	Detail string
}

// OK reports whether the whole round worked.
func (o Outcome) OK() bool { return o.Failed == StepNone }

// Prediction is what the agent said about one client profile.
type Prediction struct {
	// Status is the report's overall status.
	Status string
	// Failed is the first step the agent expects to fail (StepNone when it
	// expects the round to work; "unknown" when it could not tell).
	Failed string
	// Pattern and Cause name the finding that decided Failed.
	Pattern, Cause string
}

// OK reports whether the agent expects the whole round to work.
func (p Prediction) OK() bool { return p.Failed == StepNone }

// StepUnknown is the prediction of a report whose status is unknown: never
// counted as a prediction of success.
const StepUnknown = "unknown"

// patternStep says at which step of a round a finding's pattern makes a
// client fail; causes that fail at another step than their pattern's are
// listed as "pattern/cause". Patterns not listed (stale-config,
// smb1-enabled, logging, config-invalid's ignored settings) describe a risk,
// not a failing step.
var patternStep = map[string]string{
	"protocol-mismatch": StepConnect,
	// smbd refuses the SESSION_SETUP of a connection that cannot encrypt
	// (source3/smbd/smb2_sesssetup.c) and every NTLM login with ntlm auth =
	// disabled; the negotiate before it works.
	"protocol-mismatch/encryption-required":    StepLogin,
	"protocol-mismatch/ntlm-disabled":          StepLogin,
	"protocol-mismatch/unknown-session-status": StepLogin,
	// A client that requires encryption sets up the session, then drops
	// it (source3/libsmb/clidfs.c): smbclient reports it after the login.
	"protocol-mismatch/client-requires-encryption": StepLogin,
	// The session is set up; the first signed request after it (the IPC$
	// tree connect) is refused.
	"protocol-mismatch/signing-required-unsigned-client": StepList,
	"connection-refused": StepConnect,
	"host-unreachable":   StepConnect,
	"timeout":            StepConnect,
	"connection-reset":   StepConnect,
	"connect-failed":     StepConnect,
	// A refused login is how the connect-failed pattern's first cause shows
	// up for a client that reports its steps.
	"connect-failed/auth-rejected": StepLogin,
	"login-failed":                 StepLogin,
	"ipc-unavailable":              StepList,
	"rpc-endpoint-missing":         StepList,
	"rpc-bind-failed":              StepList,
	"share-unavailable":            StepShare,
	// A share that is not defined (or not browseable) is missing from the
	// share list: a round that looks for it there fails at the listing.
	"share-unavailable/share-missing": StepList,
	"share-unavailable/share-hidden":  StepList,
	"config-invalid/load-fails":       StepConnect,
	// The scored file is missing, unreadable or changed: everything before
	// the read works.
	"file-check-failed": StepRead,
}

// findingStep is the step at which a finding makes a round fail: the
// cause's own entry, else its pattern's; ok is false for a finding that
// names a risk, not a failing step.
func findingStep(f checks.Finding) (string, bool) {
	if s, ok := patternStep[f.Pattern+"/"+f.Cause]; ok {
		return s, true
	}
	s, ok := patternStep[f.Pattern]
	return s, ok
}

// Predict reads the agent's report for client profile: the earliest step
// any critical finding about that client (or about no client in
// particular) makes fail.
func Predict(r *checks.Report, client string) Prediction {
	p := Prediction{Status: r.Status.String(), Failed: StepNone}
	best := len(Steps)
	for _, f := range r.Findings {
		if f.Severity != checks.Critical || (f.Client != "" && f.Client != client) {
			continue
		}
		s, ok := findingStep(f)
		if !ok {
			continue
		}
		if i := stepIndex(s); i < best {
			best, p.Failed, p.Pattern, p.Cause = i, s, f.Pattern, f.Cause
		}
	}
	if p.Failed == StepNone && r.Status == checks.Unknown {
		p.Failed = StepUnknown
		if len(r.Errors) > 0 {
			p.Pattern = "agent error: " + r.Errors[0]
		}
	}
	if p.Failed == StepNone && r.Status == checks.Critical {
		// Critical without a finding that names a step: the agent says the
		// round fails but not where; never read as success.
		p.Failed = StepUnknown
		for _, f := range r.Findings {
			if f.Severity == checks.Critical {
				p.Pattern, p.Cause = f.Pattern, f.Cause
				break
			}
		}
	}
	return p
}

// Verdict classifies one comparison.
type Verdict string

const (
	Agree      Verdict = "agree"
	FalseAlarm Verdict = "false-alarm" // agent: fails; client: worked
	Missed     Verdict = "missed"      // agent: works; client: failed
	WrongStep  Verdict = "wrong-step"  // both fail, at different steps
	// Broken: the case could not run (smbd did not start, a client could
	// not be started); never an agreement.
	Broken Verdict = "error"
)

// Compare classifies the agent's prediction against the client's outcome.
func Compare(o Outcome, p Prediction) Verdict {
	switch {
	case o.Failed == p.Failed:
		return Agree
	case o.OK():
		return FalseAlarm
	case p.OK():
		return Missed
	}
	return WrongStep
}

// Row is one case × client comparison.
type Row struct {
	Case, Client, Profile string
	Outcome               Outcome
	Prediction            Prediction
	Verdict               Verdict
	// Known is the KNOWN_DIFFERENCES entry that explains a disagreement.
	Known *KnownDifference
	// Retried: the agent's first run said unknown because a gatherer
	// passed its budget, and this prediction is its second run.
	Retried bool
}

// String is the row as printed in the table.
func (r Row) String() string {
	pred := r.Prediction.Failed
	if r.Prediction.Pattern != "" {
		pred += " (" + r.Prediction.Pattern
		if r.Prediction.Cause != "" {
			pred += "/" + r.Prediction.Cause
		}
		pred += ")"
	}
	v := string(r.Verdict)
	if r.Known != nil {
		v += " [known]"
	}
	if r.Retried {
		v += " [agent retried]"
	}
	return fmt.Sprintf("%-31s %-22s %-8s %-9s %-62s %s", r.Case, r.Client, r.Outcome.Failed, r.Prediction.Status, pred, v)
}

// Summary counts the rows: agreements and each kind of disagreement.
type Summary struct {
	N, Agree, FalseAlarms, Missed, WrongStep int
	// Retried counts predictions from the agent's second run.
	Retried int
}

// Summarize counts rows.
func Summarize(rows []Row) Summary {
	var s Summary
	for _, r := range rows {
		s.N++
		if r.Retried {
			s.Retried++
		}
		switch r.Verdict {
		case Agree:
			s.Agree++
		case FalseAlarm:
			s.FalseAlarms++
		case Missed:
			s.Missed++
		case WrongStep:
			s.WrongStep++
		}
	}
	return s
}

// Line is the one-line result the suite prints.
func (s Summary) Line() string {
	return fmt.Sprintf("conformance: %d/%d agree (false alarms %d, missed %d)", s.Agree, s.N, s.FalseAlarms, s.Missed)
}
