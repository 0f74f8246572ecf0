package catalog

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
)

var (
	idRe     = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`) })
	factRe   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z]+\.[a-z0-9_]+$`) })
	answerRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_-]*$`) })
	sourceRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+:[^\s:]+$`) })
	roleRe   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Z]{2}-\d{3}$`) })
)

// validate checks the whole catalog and returns every problem found, so one
// run of the tests lists them all.
func (c *Catalog) validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	facts := map[string]map[string]bool{}
	for i, f := range c.facts {
		switch {
		case !factRe().MatchString(f.Key):
			add("fact #%d: key %q is not of the form area.name", i, f.Key)
		case facts[f.Key] != nil:
			add("fact %s: duplicate key", f.Key)
		}
		if !trimmed(f.Description) || !trimmed(f.Source) {
			add("fact %s: description and source are required", f.Key)
		}
		if len(f.Answers) < 2 {
			add("fact %s: needs at least two answers", f.Key)
		}
		set := map[string]bool{}
		for _, a := range f.Answers {
			if !answerRe().MatchString(a) || a == Unknown {
				add("fact %s: bad answer label %q", f.Key, a)
			}
			if set[a] {
				add("fact %s: duplicate answer %q", f.Key, a)
			}
			set[a] = true
		}
		facts[f.Key] = set
	}

	roles := map[string]bool{}
	for _, r := range c.roles {
		if !roleRe().MatchString(r.Code) || !trimmed(r.Title) {
			add("role %q: code like CE-463 and a title are required", r.Code)
		}
		if roles[r.Code] {
			add("role %s: duplicate", r.Code)
		}
		roles[r.Code] = true
	}

	ids := map[string]bool{}
	for _, p := range c.patterns {
		if !idRe().MatchString(p.ID) {
			add("pattern %q: id must be kebab-case", p.ID)
		}
		if ids[p.ID] {
			add("pattern %s: duplicate id", p.ID)
		}
		ids[p.ID] = true
	}

	// Scoring messages must each belong to one pattern, or Match could not
	// name exactly one pattern for an engine line.
	owner := map[string]string{}
	for _, p := range c.patterns {
		for _, m := range p.ScoringMessages {
			k := normalize(m)
			if o, dup := owner[k]; dup {
				add("pattern %s: scoring message %q already belongs to %s", p.ID, m, o)
			}
			owner[k] = p.ID
		}
	}

	usedFacts := map[string]bool{}
	for _, p := range c.patterns {
		errs = append(errs, c.validatePattern(p, ids, facts, roles, owner, usedFacts)...)
	}
	for _, f := range c.facts {
		if !usedFacts[f.Key] {
			add("fact %s: documented but used by no decision node (keep the list tight)", f.Key)
		}
	}
	return errors.Join(errs...)
}

func (c *Catalog) validatePattern(p *Pattern, ids map[string]bool, facts map[string]map[string]bool,
	roles map[string]bool, owner map[string]string, usedFacts map[string]bool) []error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("pattern %s: "+format, append([]any{p.ID}, args...)...))
	}

	if !trimmed(p.Title) || !trimmed(p.Meaning) {
		add("title and meaning are required")
	}
	if !trimmed(p.Summary) || strings.Contains(strings.TrimSpace(p.Summary), "\n") {
		add("summary must be one non-empty line")
	}
	if p.Severity != SeverityCritical && p.Severity != SeverityWarning {
		add("severity %q is not critical|warning", p.Severity)
	}
	if p.OnSeedPage && len(p.ScoringMessages) == 0 {
		add("on_seed_page without scoring messages")
	}
	for _, s := range p.ShowsAs {
		if !ids[s] || s == p.ID {
			add("shows_as %q is not another pattern", s)
		}
	}
	if p.EngineMessage != "" {
		o, ok := owner[normalize(p.EngineMessage)]
		if !ok || (o != p.ID && !contains(p.ShowsAs, o)) {
			add("engine_message %q is neither its own scoring message nor one of shows_as", p.EngineMessage)
		}
	}
	seenClient := map[string]bool{}
	for _, m := range p.ClientMessages {
		if !trimmed(m.Client) || !trimmed(m.Text) {
			add("client message needs client and text")
		}
		k := normalize(m.Text)
		if seenClient[k] {
			add("client message %q listed twice", m.Text)
		}
		seenClient[k] = true
		if m.Cause != "" {
			if _, ok := p.Cause(m.Cause); !ok {
				add("client message %q names unknown cause %q", m.Text, m.Cause)
			}
		}
	}
	for _, s := range append(append([]string(nil), p.ScoringMessages...), clientTexts(p)...) {
		if _, err := compileMessage(s); err != nil {
			add("message %q: %v", s, err)
		}
	}

	causeIDs := map[string]bool{}
	for i := range p.Causes {
		cs := &p.Causes[i]
		if !idRe().MatchString(cs.ID) {
			add("cause %q: id must be kebab-case", cs.ID)
		}
		if causeIDs[cs.ID] {
			add("cause %s: duplicate id", cs.ID)
		}
		causeIDs[cs.ID] = true
		if !trimmed(cs.Summary) || strings.Contains(strings.TrimSpace(cs.Summary), "\n") || !trimmed(cs.Detail) {
			add("cause %s: one-line summary and detail are required", cs.ID)
		}
		if cs.Severity != "" && cs.Severity != SeverityCritical && cs.Severity != SeverityWarning {
			add("cause %s: severity %q is not critical|warning", cs.ID, cs.Severity)
		}
		if len(cs.Facts) == 0 {
			add("cause %s: names no fact that shows it", cs.ID)
		}
		for _, f := range cs.Facts {
			if facts[f] == nil {
				add("cause %s: unknown fact %q", cs.ID, f)
			}
		}
		for _, m := range cs.Messages {
			if !containsNormalized(p.ScoringMessages, m) {
				add("cause %s: message %q is not one of the pattern's scoring messages", cs.ID, m)
			}
		}
		for _, l := range cs.LogLines {
			if !trimmed(l.Text) || !trimmed(l.File) || l.Level < 0 || l.Level > 10 {
				add("cause %s: log line needs text, file and a level 0-10", cs.ID)
			}
		}
		errs = append(errs, validateFix(p.ID, cs)...)
	}

	if len(p.Commands) == 0 {
		add("no commands")
	}
	errs = append(errs, validateSteps(fmt.Sprintf("pattern %s: commands", p.ID), p.Commands, true)...)

	errs = append(errs, validateDecision(p, ids, facts, causeIDs, usedFacts)...)

	if len(p.References) == 0 {
		add("no references")
	}
	for _, r := range p.References {
		if !trimmed(r.Title) {
			add("reference without title")
		}
		switch {
		case r.URL != "" && r.Source != "":
			add("reference %q: give url or source, not both", r.Title)
		case r.URL != "":
			if !strings.HasPrefix(r.URL, "https://") || strings.ContainsAny(r.URL, " \t\n") {
				add("reference %q: url must be https and have no blanks", r.Title)
			}
		case r.Source != "":
			if !sourceRe().MatchString(r.Source) {
				add("reference %q: source %q is not owner/repo:path", r.Title, r.Source)
			}
		default:
			add("reference %q: url or source is required", r.Title)
		}
	}
	if len(p.Roles) == 0 {
		add("no work roles")
	}
	seenRole := map[string]bool{}
	for _, r := range p.Roles {
		if !roles[r.Code] {
			add("role %q is not in roles.yaml", r.Code)
		}
		if seenRole[r.Code] {
			add("role %s listed twice", r.Code)
		}
		seenRole[r.Code] = true
		if !trimmed(r.Why) {
			add("role %s: why is required", r.Code)
		}
	}
	for _, u := range p.UnsafeAdvice {
		if !trimmed(u.Advice) || !trimmed(u.Source) || !trimmed(u.Why) || !trimmed(u.Instead) {
			add("unsafe advice needs advice, source, why and instead")
		}
	}
	return errs
}

func validateFix(pattern string, cs *Cause) []error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("pattern %s: cause %s: fix: "+format, append([]any{pattern, cs.ID}, args...)...))
	}
	f := cs.Fix
	if !trimmed(f.Summary) {
		add("summary is required")
	}
	switch f.Apply {
	case ApplyNone, ApplyReload, ApplyRestart, ApplyStart, ApplyManual:
	default:
		add("apply %q is not none|reload|restart|start|manual", f.Apply)
	}
	errs = append(errs, validateSteps(fmt.Sprintf("pattern %s: cause %s: fix steps", pattern, cs.ID), f.Steps, false)...)
	return errs
}

// validateSteps checks each step; diagnostic command lists must put every
// read-only step before the first one that changes something.
func validateSteps(where string, steps []Step, readOnlyFirst bool) []error {
	var errs []error
	changed := false
	for i, s := range steps {
		if !trimmed(s.Title) || !trimmed(s.Command) || !trimmed(s.Expect) || !trimmed(s.Interpret) {
			errs = append(errs, fmt.Errorf("%s #%d %q: title, command, expect and interpret are required", where, i+1, s.Title))
		}
		if _, err := parseTemplate(s.Command); err != nil {
			errs = append(errs, fmt.Errorf("%s #%d %q: %w", where, i+1, s.Title, err))
		} else if err := checkQuoting(s.Command); err != nil {
			errs = append(errs, fmt.Errorf("%s #%d %q: %w", where, i+1, s.Title, err))
		}
		if readOnlyFirst {
			if !s.ReadOnly {
				changed = true
			} else if changed {
				errs = append(errs, fmt.Errorf("%s #%d %q: read-only step after a step that changes the host", where, i+1, s.Title))
			}
		}
	}
	return errs
}

func validateDecision(p *Pattern, ids map[string]bool, facts map[string]map[string]bool,
	causeIDs map[string]bool, usedFacts map[string]bool) []error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("pattern %s: decision: "+format, append([]any{p.ID}, args...)...))
	}
	nodes := map[string]*Node{}
	for i := range p.Decision.Nodes {
		n := &p.Decision.Nodes[i]
		if !idRe().MatchString(n.ID) {
			add("node %q: id must be kebab-case", n.ID)
		}
		if nodes[n.ID] != nil {
			add("node %s: duplicate id", n.ID)
		}
		nodes[n.ID] = n
	}
	if nodes[p.Decision.Root] == nil {
		add("root %q is not a node", p.Decision.Root)
		return errs
	}
	leafCauses := map[string]bool{}
	for i := range p.Decision.Nodes {
		n := &p.Decision.Nodes[i]
		if !trimmed(n.Question) {
			add("node %s: question is required", n.ID)
		}
		allowed := facts[n.Fact]
		if allowed == nil {
			add("node %s: unknown fact %q (add it to facts.yaml)", n.ID, n.Fact)
		}
		usedFacts[n.Fact] = true
		covered := map[string]bool{}
		for _, b := range n.Branches {
			if len(b.Answers) == 0 {
				add("node %s: branch without answers", n.ID)
			}
			for _, a := range b.Answers {
				if allowed != nil && !allowed[a] {
					add("node %s: answer %q is not an answer of %s", n.ID, a, n.Fact)
				}
				if covered[a] {
					add("node %s: answer %q has two branches", n.ID, a)
				}
				covered[a] = true
			}
			if b.Next != "" {
				if b.Cause != "" || b.See != "" || b.Action != "" || b.Healthy {
					add("node %s: a branch goes to next or ends, not both", n.ID)
				}
				if nodes[b.Next] == nil {
					add("node %s: next %q is not a node", n.ID, b.Next)
				}
				continue
			}
			// A leaf decides: a cause of this pattern, another pattern, or
			// that nothing is wrong. Advice alone decides nothing.
			ends := 0
			for _, set := range []bool{b.Cause != "", b.See != "", b.Healthy} {
				if set {
					ends++
				}
			}
			if ends != 1 {
				add("node %s: leaf needs exactly one of cause, see or healthy", n.ID)
			}
			if b.Cause != "" {
				if !causeIDs[b.Cause] {
					add("node %s: leaf cause %q is not a cause of this pattern", n.ID, b.Cause)
				}
				leafCauses[b.Cause] = true
			}
			if b.See != "" && (!ids[b.See] || b.See == p.ID) {
				add("node %s: see %q is not another pattern", n.ID, b.See)
			}
		}
		// Every answer the fact can give has a branch, so a walk never
		// stops on a known answer.
		for a := range allowed {
			if !covered[a] {
				add("node %s: no branch for answer %q of %s", n.ID, a, n.Fact)
			}
		}
	}
	// No cycles, and every node reachable from the root.
	state := map[string]int{} // 0 unseen, 1 on stack, 2 done
	var visit func(id string)
	visit = func(id string) {
		state[id] = 1
		for _, b := range nodes[id].Branches {
			if b.Next == "" || nodes[b.Next] == nil {
				continue
			}
			switch state[b.Next] {
			case 1:
				add("cycle through node %s", b.Next)
			case 0:
				visit(b.Next)
			}
		}
		state[id] = 2
	}
	visit(p.Decision.Root)
	for id := range nodes {
		if state[id] == 0 {
			add("node %s is unreachable from the root", id)
		}
	}
	for id := range causeIDs {
		if !leafCauses[id] {
			add("cause %s is reached by no leaf", id)
		}
	}
	return errs
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func containsNormalized(list []string, s string) bool {
	k := normalize(s)
	for _, x := range list {
		if normalize(x) == k {
			return true
		}
	}
	return false
}

func clientTexts(p *Pattern) []string {
	out := make([]string, len(p.ClientMessages))
	for i, m := range p.ClientMessages {
		out[i] = m.Text
	}
	return out
}
