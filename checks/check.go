package checks

import (
	"fmt"
	"sort"
	"sync"
)

// Check is one concern, evaluated over Facts. It is pure: it reads the
// facts gathered for the run and never does I/O, so that every check is
// table-tested over hand-built Facts and a diagnosis can be replayed.
//
// ID is the check's stable name, normally the pattern id of the findings it
// returns (docs/architecture.md); Evaluate returns nothing when the concern
// is fine.
type Check interface {
	ID() string
	Evaluate(f *Facts) []Finding
}

var (
	registryMu sync.Mutex
	registry   = map[string]Check{}
)

// Register adds a check; each check file calls it from init(). A nil check,
// an empty id or an id registered twice is a programming error and panics,
// so that it shows in the first test run, not in a diagnosis.
func Register(c Check) {
	if c == nil {
		panic("checks: Register of a nil check")
	}
	id := c.ID()
	if id == "" {
		panic("checks: Register of a check with an empty id")
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[id]; dup {
		panic(fmt.Sprintf("checks: check %q registered twice", id))
	}
	registry[id] = c
}

// Registered returns every registered check, sorted by id so that a run
// is deterministic.
func Registered() []Check {
	registryMu.Lock()
	defer registryMu.Unlock()
	out := make([]Check, 0, len(registry))
	for _, c := range registry {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID() < out[j].ID() })
	return out
}

// checkFunc adapts a function to Check.
type checkFunc struct {
	id string
	fn func(*Facts) []Finding
}

func (c checkFunc) ID() string                  { return c.id }
func (c checkFunc) Evaluate(f *Facts) []Finding { return c.fn(f) }

// NewCheck makes a Check from an id and a function.
func NewCheck(id string, fn func(*Facts) []Finding) Check { return checkFunc{id: id, fn: fn} }
