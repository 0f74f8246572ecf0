package checks

import (
	"fmt"
	"sort"
	"strings"

	"github.com/smb-agent/smb-agent/checks/catalog"
	"github.com/smb-agent/smb-agent/configs"
)

// CauseUnexplained is the cause of a finding whose decision tree met a
// question the facts cannot answer, or that points at another pattern which
// found nothing: the agent says so instead of guessing.
const CauseUnexplained = "unexplained"

// Pattern is the Go half of one catalog pattern. The catalog entry holds
// the decision tree; walking it over the answer functions is what chooses
// the cause. Go supplies only when the pattern fires and, per cause, the
// host-specific summary, evidence and fix.
type Pattern struct {
	ID string
	// Deps is how the pattern relates to the engine's connection: one that
	// stops it, or one that can only be judged through it.
	Deps Deps
	// Fires returns one trigger per finding to explain; none when the
	// pattern does not apply to this host. It must not decide the cause.
	Fires func(f *Facts) []Trigger
	// Causes builds, for each cause the tree can end at, the parts of the
	// finding that depend on the host. A cause without a builder keeps the
	// catalog's summary and fix text.
	Causes map[string]CauseBuilder
}

// Deps says what a pattern depends on.
type Deps int

const (
	// Independent patterns are judged whatever else is found.
	Independent Deps = iota
	// StopsConnection: while a finding of this pattern is critical, the
	// engine never gets a session, so NeedsConnection findings would only
	// repeat it and are skipped.
	StopsConnection
	// NeedsConnection: judged only over a working connection.
	NeedsConnection
)

// patternDeps is the registered pattern's Deps.
func patternDeps(id string) Deps {
	registryMu.Lock()
	defer registryMu.Unlock()
	for _, p := range patterns {
		if p.ID == id {
			return p.Deps
		}
	}
	return Independent
}

// Trigger is one occurrence of a pattern: the client whose view the tree
// is answered for (nil: the first judged client), the evidence that made
// the pattern fire, and the engine message when it differs from the
// catalog's.
type Trigger struct {
	Client         *configs.ClientProfile
	Evidence       []Evidence
	ScoringMessage string
}

// CauseBuilder fills the host-specific part of fd (Summary, Explanation,
// more Evidence, Fix, and Severity when the cause is only a warning in this
// occurrence). Pattern, Cause, Decision and the trigger's evidence are set
// before it runs.
type CauseBuilder func(f *Facts, t Trigger, fd *Finding)

// Evaluate walks the pattern's catalog tree once per trigger.
func (p Pattern) Evaluate(f *Facts) []Finding {
	if p.Fires == nil {
		return nil
	}
	cp, ok := catalog.Get(p.ID)
	if !ok {
		panic(fmt.Sprintf("pattern %q is not in the catalog", p.ID))
	}
	var out []Finding
	for _, t := range p.Fires(f) {
		if fd, ok := p.explain(cp, f, t); ok {
			out = append(out, fd)
		}
	}
	return out
}

// explain is one walk: the leaf it reaches is the finding's cause, and the
// finding's decision is that walk. A walk that ends at a healthy leaf
// makes no finding.
func (p Pattern) explain(cp *catalog.Pattern, f *Facts, t Trigger) (Finding, bool) {
	client := t.Client
	if client == nil {
		if cs := judgedClients(f); len(cs) > 0 {
			client = &cs[0].Profile
		}
	}
	path := cp.Walk(func(key string) (string, bool) { return Answer(key, f, client) })
	fd := Finding{Pattern: p.ID, Severity: severityOf(cp, nil),
		Evidence: append([]Evidence(nil), t.Evidence...), ScoringMessage: t.ScoringMessage,
		Decision: decisionSteps(path)}
	if t.Client != nil {
		fd.Client = t.Client.Name
	}
	switch {
	case path.Leaf != nil && path.Leaf.Healthy:
		return Finding{}, false
	case path.Leaf != nil && path.Leaf.Cause != "":
		c, _ := cp.Cause(path.Leaf.Cause)
		fd.Cause = path.Leaf.Cause
		fd.Severity = severityOf(cp, c)
		fd.Summary = strings.TrimSuffix(oneLineText(c.Summary), ".")
		if b := p.Causes[fd.Cause]; b != nil {
			b(f, t, &fd)
		}
		if fd.Fix == nil {
			fd.Fix = catalogFix(c, f)
		}
		fd.Evidence = append(fd.Evidence, releaseNotes(f, causeBehaviours(cp.Behaviours, c.Behaviours))...)
	case path.Leaf != nil && path.Leaf.See != "":
		fd.Cause = CauseUnexplained
		fd.see = path.Leaf.See
		fd.Summary = fmt.Sprintf("%s: the facts point at %s", cp.Title, path.Leaf.See)
		fd.Evidence = append(fd.Evidence, Evidence{Kind: "decision", Text: fmt.Sprintf("the %s tree ends at pattern %s", p.ID, path.Leaf.See)})
		fd.Fix = unexplainedFix(cp)
	default:
		fd.Cause = CauseUnexplained
		fd.Summary = fmt.Sprintf("%s, and the agent cannot tell why", strings.ToLower(cp.Title[:1])+cp.Title[1:])
		q := path.StoppedAt
		if n, ok := cp.Node(path.StoppedAt); ok {
			q = n.Question
		}
		fd.Evidence = append(fd.Evidence, Evidence{Kind: "decision", Text: fmt.Sprintf("unanswered: %s (%s)", q, path.Reason)})
		fd.Fix = unexplainedFix(cp)
	}
	return fd, true
}

func severityOf(cp *catalog.Pattern, c *catalog.Cause) Status {
	if cp.CauseSeverity(c) == catalog.SeverityWarning {
		return Warning
	}
	return Critical
}

// catalogFix is the catalog's fix text for a cause, for a person.
func catalogFix(c *catalog.Cause, f *Facts) *Fix {
	fx := &Fix{Kind: FixManual, Summary: oneLineText(c.Fix.Summary), Risk: oneLineText(c.Fix.Caution)}
	vars := catalogVars(f)
	for _, s := range c.Fix.Steps {
		if cmd, err := s.Render(vars); err == nil {
			fx.Steps = append(fx.Steps, cmd)
		}
	}
	return fx
}

func unexplainedFix(cp *catalog.Pattern) *Fix {
	return &Fix{Kind: FixManual, Summary: "run the commands below in order and read each result; the agent could not decide the cause"}
}

// resolveSee settles findings whose tree ended at another pattern: when
// that pattern has a finding of its own, it explains the failure and this
// one is dropped; otherwise it stays, unexplained, saying where the tree
// pointed.
func resolveSee(fs []Finding) []Finding {
	has := map[string]bool{}
	for _, fd := range fs {
		if fd.see == "" {
			has[fd.Pattern] = true
		}
	}
	out := fs[:0]
	for _, fd := range fs {
		if fd.see != "" && has[fd.see] {
			continue
		}
		out = append(out, fd)
	}
	return out
}

// RegisterPattern adds a pattern to the registry (from its file's init).
func RegisterPattern(p Pattern) {
	if p.Fires == nil {
		panic(fmt.Sprintf("checks: pattern %q has no Fires", p.ID))
	}
	registryMu.Lock()
	patterns = append(patterns, p)
	registryMu.Unlock()
	Register(NewCheck(p.ID, p.Evaluate))
}

var patterns []Pattern

// Patterns returns the registered patterns (not the legacy checks), by id.
func Patterns() []Pattern {
	registryMu.Lock()
	out := append([]Pattern(nil), patterns...)
	registryMu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
