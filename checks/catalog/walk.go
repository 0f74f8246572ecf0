package catalog

import (
	"fmt"
	"strings"
)

// Unknown is the answer recorded when a fact could not be established.
const Unknown = "unknown"

// Path is the route a walk took through a pattern's decision tree: every
// question with its answer, and the leaf reached. A walk that could not
// answer a question stops there (Leaf nil, StoppedAt set).
type Path struct {
	Pattern string     `json:"pattern"`
	Steps   []PathStep `json:"steps"`
	Leaf    *Leaf      `json:"leaf,omitempty"`
	// StoppedAt is the node the walk could not get past.
	StoppedAt string `json:"stopped_at,omitempty"`
	// Reason says why it stopped there.
	Reason string `json:"reason,omitempty"`
}

// PathStep is one question asked and the answer given.
type PathStep struct {
	Node     string `json:"node"`
	Question string `json:"question"`
	Fact     string `json:"fact"`
	Answer   string `json:"answer"`
}

// Leaf is where a complete walk ends.
type Leaf struct {
	Healthy bool   `json:"healthy,omitempty"`
	Cause   string `json:"cause,omitempty"`
	See     string `json:"see,omitempty"`
	Action  string `json:"action,omitempty"`
}

// Complete reports whether the walk reached a leaf.
func (p Path) Complete() bool { return p.Leaf != nil }

// String renders the path on one line per step, for humans.
func (p Path) String() string {
	var b strings.Builder
	for _, s := range p.Steps {
		fmt.Fprintf(&b, "%s -> %s\n", s.Question, s.Answer)
	}
	switch {
	case p.Leaf != nil:
		var parts []string
		if p.Leaf.Healthy {
			parts = append(parts, "healthy")
		}
		if p.Leaf.Cause != "" {
			parts = append(parts, "cause: "+p.Leaf.Cause)
		}
		if p.Leaf.See != "" {
			parts = append(parts, "see: "+p.Leaf.See)
		}
		if p.Leaf.Action != "" {
			parts = append(parts, p.Leaf.Action)
		}
		b.WriteString(strings.Join(parts, "; "))
	case p.StoppedAt != "":
		fmt.Fprintf(&b, "stopped at %s: %s", p.StoppedAt, p.Reason)
	}
	return strings.TrimRight(b.String(), "\n")
}

// Walk answers the pattern's decision tree from the root. answer gets a fact
// key (FactKeys) and returns the branch label (one of the fact's answers) and
// true, or false when the fact is unknown; the walk then stops and records
// "unknown". A nil answer function answers nothing.
func (p *Pattern) Walk(answer func(fact string) (string, bool)) Path {
	path := Path{Pattern: p.ID}
	id := p.Decision.Root
	// A tree has no cycles (validated); the bound guards hand-built patterns.
	for hops := 0; hops <= len(p.Decision.Nodes); hops++ {
		n, ok := p.Node(id)
		if !ok {
			path.StoppedAt, path.Reason = id, "no such node"
			return path
		}
		got, known := "", false
		if answer != nil {
			got, known = answer(n.Fact)
		}
		if !known {
			got = Unknown
		}
		path.Steps = append(path.Steps, PathStep{Node: n.ID, Question: n.Question, Fact: n.Fact, Answer: got})
		if !known {
			path.StoppedAt, path.Reason = n.ID, fmt.Sprintf("%s is unknown", n.Fact)
			return path
		}
		b, ok := n.branch(got)
		if !ok {
			path.StoppedAt, path.Reason = n.ID, fmt.Sprintf("%s answered %q, which has no branch", n.Fact, got)
			return path
		}
		if b.IsLeaf() {
			path.Leaf = &Leaf{Cause: b.Cause, See: b.See, Action: b.Action, Healthy: b.Healthy}
			return path
		}
		id = b.Next
	}
	path.StoppedAt, path.Reason = id, "too many steps (cycle)"
	return path
}

func (n *Node) branch(answer string) (Branch, bool) {
	for _, b := range n.Branches {
		for _, a := range b.Answers {
			if a == answer {
				return b, true
			}
		}
	}
	return Branch{}, false
}
