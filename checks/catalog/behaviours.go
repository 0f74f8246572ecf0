package catalog

import (
	"errors"
	"fmt"
	"regexp"
	"slices"

	"github.com/smb-agent/smb-agent/configs/smbconf"
)

// behaviourRef is how a catalog text states one of smbd's behaviours:
// {behaviour:ID} names an entry of the registry in configs/smbconf
// (behaviours.go), and is replaced at load by the releases it holds for
// ("Samba 4.16 and later, checked up to 4.24"). The range is written once,
// in the registry, whose entries the end-to-end suite observes on every
// release; a text never types it itself.
var behaviourRef = regexp.MustCompile(`\{behaviour:([^{}]*)\}`)

// expandBehaviours replaces every {behaviour:ID} in the patterns' prose
// and records the ids per pattern and per cause. An unknown id, or a
// reference inside a command (a template run in a shell), is an error.
func (c *Catalog) expandBehaviours() error {
	var errs []error
	for _, p := range c.patterns {
		expand := func(where string, s *string, ids *[]string) {
			*s = behaviourRef.ReplaceAllStringFunc(*s, func(m string) string {
				id := behaviourRef.FindStringSubmatch(m)[1]
				b, ok := smbconf.LookupBehaviour(id)
				if !ok {
					errs = append(errs, fmt.Errorf("pattern %s: %s: unknown behaviour %q (configs/smbconf/behaviours.go)", p.ID, where, id))
					return m
				}
				if !slices.Contains(*ids, id) {
					*ids = append(*ids, id)
				}
				return b.Qualifier()
			})
		}
		steps := func(where string, ss []Step, ids *[]string) {
			for i := range ss {
				s := &ss[i]
				if behaviourRef.MatchString(s.Command) {
					errs = append(errs, fmt.Errorf("pattern %s: %s step %q: {behaviour:...} in a command", p.ID, where, s.Title))
				}
				for _, t := range []*string{&s.Title, &s.Expect, &s.Interpret} {
					expand(where+" step", t, ids)
				}
			}
		}
		own := &p.Behaviours
		for _, t := range []*string{&p.Title, &p.Summary, &p.Meaning, &p.Uncertainty} {
			expand("text", t, own)
		}
		steps("commands", p.Commands, own)
		for i := range p.Decision.Nodes {
			expand("decision "+p.Decision.Nodes[i].ID, &p.Decision.Nodes[i].Question, own)
		}
		for i := range p.UnsafeAdvice {
			u := &p.UnsafeAdvice[i]
			for _, t := range []*string{&u.Advice, &u.Why, &u.Instead} {
				expand("unsafe_advice", t, own)
			}
		}
		for i := range p.Roles {
			expand("roles", &p.Roles[i].Why, own)
		}
		for i := range p.Causes {
			cs := &p.Causes[i]
			where := "cause " + cs.ID
			for _, t := range []*string{&cs.Summary, &cs.Detail, &cs.Fix.Summary, &cs.Fix.Caution} {
				expand(where, t, &cs.Behaviours)
			}
			steps(where+" fix", cs.Fix.Steps, &cs.Behaviours)
		}
	}
	return errors.Join(errs...)
}
