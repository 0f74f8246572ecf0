// Package catalog is the agent's knowledge base: for every failure pattern a
// remote "SMB Login" check can report against a Samba host, what the message
// means, its causes on this host, the commands to run in order (with what to
// expect and how to read the result), a decision tree the agent answers from
// gathered facts, references, work-role mappings and the seed page's unsafe
// advice with the narrower change.
//
// The data is YAML (data/), the one source of truth, which `make
// gen-catalog` decodes and validates into Go (catalog_gen.go) so that the
// agent parses no YAML at run time. The package imports only the behaviour
// registry of configs/smbconf, so that a text stating what smbd does names
// the releases it holds for from the one place that says so
// ({behaviour:ID}, expanded by ParseFS, so at generation; behaviours.go);
// the checks package answers the decision trees (Pattern.Walk) and shows
// Cause.Fix to a person.
package catalog

//go:generate go run ./gen

import "sync"

// Severity of a finding. The catalog gives each pattern a default, and a
// cause may override it (e.g. an ignored parameter is only a warning).
type Severity string

// Severities.
const (
	SeverityCritical Severity = "critical"
	SeverityWarning  Severity = "warning"
)

// How a fix takes effect. smbd re-reads smb.conf for every new connection
// (smbd_process() calls reload_services() in each forked child,
// samba-team/samba:source3/smbd/smb2_process.c), so most per-connection
// settings need neither reload nor restart; listening sockets and the parent's
// copy of [global] "hosts allow/deny" do: the child checks them in
// smbd_process() before it first reloads the configuration.
const (
	ApplyNone    = "none"    // new connections pick the change up by themselves
	ApplyReload  = "reload"  // smbcontrol smbd reload-config
	ApplyRestart = "restart" // systemctl restart smbd
	ApplyStart   = "start"   // systemctl start smbd
	ApplyManual  = "manual"  // a person must act (password, firewall, network)
)

// Pattern is one failure pattern (its id is stable: docs/architecture.md).
type Pattern struct {
	ID       string   `yaml:"id" json:"id"`
	Title    string   `yaml:"title" json:"title"`
	Severity Severity `yaml:"severity" json:"severity"`
	// Summary is the one-line summary of a finding of this pattern.
	Summary string `yaml:"summary" json:"summary"`
	// OnSeedPage is true when ScoringMessages are verbatim from the seed
	// page; false when they are inferred from pysmb's source.
	OnSeedPage bool `yaml:"on_seed_page" json:"on_seed_page"`
	// EngineMessage is the exact line a remote scoring engine shows for a
	// finding of this pattern ({ip} is the address it checks). It may be
	// another pattern's message (see ShowsAs) and is empty when the
	// condition has no message of its own.
	EngineMessage string `yaml:"engine_message" json:"engine_message,omitempty"`
	// ScoringMessages are the engine lines that belong to this pattern, used
	// by Match. Each appears in exactly one pattern.
	ScoringMessages []string `yaml:"scoring_messages" json:"scoring_messages"`
	// ClientMessages are what other clients print for the same condition.
	ClientMessages []ClientMessage `yaml:"client_messages" json:"client_messages,omitempty"`
	// ShowsAs lists the patterns whose engine messages this condition
	// produces when it has none of its own (e.g. stale-config).
	ShowsAs      []string       `yaml:"shows_as" json:"shows_as,omitempty"`
	Meaning      string         `yaml:"meaning" json:"meaning"`
	Causes       []Cause        `yaml:"causes" json:"causes"`
	Commands     []Step         `yaml:"commands" json:"commands"`
	Decision     Decision       `yaml:"decision" json:"decision"`
	References   []Reference    `yaml:"references" json:"references"`
	Roles        []Role         `yaml:"roles" json:"roles"`
	UnsafeAdvice []UnsafeAdvice `yaml:"unsafe_advice" json:"unsafe_advice,omitempty"`
	// Uncertainty says what is inferred rather than observed.
	Uncertainty string `yaml:"uncertainty" json:"uncertainty,omitempty"`
	// Behaviours are the ids of smbd's behaviours (configs/smbconf
	// registry) the pattern's own texts (meaning, commands, tree, advice)
	// state as {behaviour:ID}; each cause lists its own. Set at load.
	Behaviours []string `yaml:"-" json:"behaviours,omitempty"`
}

// ClientMessage is what one client prints for the pattern.
type ClientMessage struct {
	// Client: pysmb, smbclient, impacket, python, dashboard.
	Client string `yaml:"client" json:"client"`
	// Text may hold placeholders: {ip} {host} {n} {any}.
	Text string `yaml:"text" json:"text"`
	// Cause optionally names the cause this message points to.
	Cause string `yaml:"cause" json:"cause,omitempty"`
}

// Cause is one reason for the pattern on this host.
type Cause struct {
	ID      string `yaml:"id" json:"id"`
	Summary string `yaml:"summary" json:"summary"`
	Detail  string `yaml:"detail" json:"detail"`
	// Severity overrides the pattern's default when set.
	Severity Severity `yaml:"severity" json:"severity,omitempty"`
	// Facts are the fact keys (FactKeys) whose answers show this cause.
	Facts []string `yaml:"facts" json:"facts"`
	// Messages, when set, are the pattern's scoring messages this cause
	// produces (timeout: TCP-level causes give "timed out", SMB-level ones
	// "timed out in 5 seconds"). Empty means any of them.
	Messages []string `yaml:"messages" json:"messages,omitempty"`
	// LogLines are smbd log lines that confirm the cause.
	LogLines []LogLine `yaml:"log_lines" json:"log_lines,omitempty"`
	Fix      Fix       `yaml:"fix" json:"fix"`
	// Behaviours are the ids of smbd's behaviours this cause's texts
	// state ({behaviour:ID}); set at load.
	Behaviours []string `yaml:"-" json:"behaviours,omitempty"`
}

// LogLine is a literal substring of a Samba log line and where it appears.
type LogLine struct {
	Text string `yaml:"text" json:"text"`
	// Level is the smbd debug level at which it is written (0 is always).
	Level int `yaml:"level" json:"level"`
	// File, under the log directory with Debian's "log file = .../log.%m":
	// log.smbd, log.<client-ip> (before authentication), log.<workstation>
	// (after it, the client's NetBIOS name), log.<client> (either),
	// log.samba-dcerpcd, log.rpcd_classic; or journal.
	File string `yaml:"file" json:"file"`
}

// Fix is what the fixes package can plan for a cause.
type Fix struct {
	Summary string `yaml:"summary" json:"summary"`
	// Apply is how the change takes effect: ApplyNone, ApplyReload, ...
	Apply string `yaml:"apply" json:"apply"`
	// Steps are commands for a person, in order.
	Steps []Step `yaml:"steps" json:"steps,omitempty"`
	// Caution says what the fix may break or must not be widened to.
	Caution string `yaml:"caution" json:"caution,omitempty"`
}

// Step is one command for a person at a root shell on the Samba host.
type Step struct {
	Title string `yaml:"title" json:"title"`
	// Command is a text/template over Vars; see Step.Render.
	Command   string `yaml:"command" json:"command"`
	Expect    string `yaml:"expect" json:"expect"`
	Interpret string `yaml:"interpret" json:"interpret"`
	// ReadOnly is true when the command changes nothing on the host.
	ReadOnly bool `yaml:"read_only" json:"read_only"`
}

// Decision is a pattern's decision tree.
type Decision struct {
	Root  string `yaml:"root" json:"root"`
	Nodes []Node `yaml:"nodes" json:"nodes"`
}

// Node asks one question, answered from one fact.
type Node struct {
	ID       string   `yaml:"id" json:"id"`
	Question string   `yaml:"question" json:"question"`
	Fact     string   `yaml:"fact" json:"fact"`
	Branches []Branch `yaml:"branches" json:"branches"`
}

// Branch maps answers to the next node, or ends the walk (a leaf) with a
// cause of this pattern, another pattern to look at (See), and/or an action.
type Branch struct {
	Answers []string `yaml:"answers" json:"answers"`
	Next    string   `yaml:"next" json:"next,omitempty"`
	Cause   string   `yaml:"cause" json:"cause,omitempty"`
	See     string   `yaml:"see" json:"see,omitempty"`
	Action  string   `yaml:"action" json:"action,omitempty"`
	// Healthy ends the walk with "nothing is wrong here": the pattern
	// fired on a suspicion the tree rules out, and no finding is made.
	Healthy bool `yaml:"healthy" json:"healthy,omitempty"`
}

// IsLeaf reports whether the branch ends the walk.
func (b Branch) IsLeaf() bool { return b.Next == "" }

// Reference is a public source: a URL, or a file in a public repository
// written "owner/repo:path".
type Reference struct {
	Title  string `yaml:"title" json:"title"`
	URL    string `yaml:"url" json:"url,omitempty"`
	Source string `yaml:"source" json:"source,omitempty"`
}

// Role maps a pattern to a DCWF work role (codes as on the seed page).
type Role struct {
	Code  string `yaml:"code" json:"code"`
	Title string `yaml:"title" json:"title"`
	Why   string `yaml:"why" json:"why,omitempty"`
}

// UnsafeAdvice is advice (from the seed page or common wikis) that is
// wider than needed, why, and the narrower change.
type UnsafeAdvice struct {
	Advice  string `yaml:"advice" json:"advice"`
	Source  string `yaml:"source" json:"source"`
	Why     string `yaml:"why" json:"why"`
	Instead string `yaml:"instead" json:"instead"`
}

// Fact is one key the agent answers decision-tree questions from.
type Fact struct {
	Key     string   `yaml:"key" json:"key"`
	Answers []string `yaml:"answers" json:"answers"`
	// Description says exactly what each answer means.
	Description string `yaml:"description" json:"description"`
	// Source says where the agent gets it.
	Source string `yaml:"source" json:"source"`
}

// Cause returns the pattern's cause with that id.
func (p *Pattern) Cause(id string) (*Cause, bool) {
	for i := range p.Causes {
		if p.Causes[i].ID == id {
			return &p.Causes[i], true
		}
	}
	return nil, false
}

// CausesFor returns the causes that can produce a pasted engine message:
// those whose Messages match it, plus those that declare none. A message
// that matches no cause's Messages returns every cause.
func (p *Pattern) CausesFor(message string) []*Cause {
	in := normalize(message)
	var out []*Cause
	for i := range p.Causes {
		c := &p.Causes[i]
		if len(c.Messages) == 0 {
			out = append(out, c)
			continue
		}
		for _, m := range c.Messages {
			if re, err := compileMessage(m); err == nil && re.MatchString(in) {
				out = append(out, c)
				break
			}
		}
	}
	if len(out) == 0 {
		for i := range p.Causes {
			out = append(out, &p.Causes[i])
		}
	}
	return out
}

// LeafCause returns the cause a complete walk ended on, if any.
func (p *Pattern) LeafCause(path Path) (*Cause, bool) {
	if path.Leaf == nil || path.Leaf.Cause == "" {
		return nil, false
	}
	return p.Cause(path.Leaf.Cause)
}

// Node returns the decision node with that id.
func (p *Pattern) Node(id string) (*Node, bool) {
	for i := range p.Decision.Nodes {
		if p.Decision.Nodes[i].ID == id {
			return &p.Decision.Nodes[i], true
		}
	}
	return nil, false
}

// Message returns EngineMessage with {ip} replaced by ip ("IP" when empty,
// as the seed page prints it). Other placeholders ({any}) are left for the
// caller, who knows the scored share and file.
func (p *Pattern) Message(ip string) string {
	if ip == "" {
		ip = "IP"
	}
	return replaceIP(p.EngineMessage, ip)
}

// CauseSeverity is the cause's severity, or the pattern's default.
func (p *Pattern) CauseSeverity(c *Cause) Severity {
	if c != nil && c.Severity != "" {
		return c.Severity
	}
	return p.Severity
}

// Catalog is a parsed and validated set of patterns.
type Catalog struct {
	patterns []*Pattern
	byID     map[string]*Pattern
	facts    []Fact
	factIdx  map[string]int
	roles    []Role

	// The message matchers (compiled regular expressions) serve only
	// Match, which a diagnosis does not call: built on first use.
	matchOnce sync.Once
	matchers  []matcher
	matchErr  error
}

// matchersOnce builds the message matchers on first use.
func (c *Catalog) matchersOnce() ([]matcher, error) {
	c.matchOnce.Do(func() { c.matchers, c.matchErr = buildMatchers(c.patterns) })
	return c.matchers, c.matchErr
}

// Get returns the pattern with that id.
func (c *Catalog) Get(id string) (*Pattern, bool) {
	p, ok := c.byID[id]
	return p, ok
}

// All returns every pattern in catalog order (the seed page's order, then
// the patterns the agent adds). The slice is a copy; the patterns are shared
// and must not be modified.
func (c *Catalog) All() []*Pattern {
	return append([]*Pattern(nil), c.patterns...)
}

// Facts returns the documented fact keys with their answers.
func (c *Catalog) Facts() []Fact {
	out := make([]Fact, len(c.facts))
	for i, f := range c.facts {
		f.Answers = append([]string(nil), f.Answers...)
		out[i] = f
	}
	return out
}

// Fact returns one documented fact key.
func (c *Catalog) Fact(key string) (Fact, bool) {
	i, ok := c.factIdx[key]
	if !ok {
		return Fact{}, false
	}
	return c.facts[i], true
}

// FactKeys returns every fact key the decision trees use, in documented order.
func (c *Catalog) FactKeys() []string {
	out := make([]string, len(c.facts))
	for i, f := range c.facts {
		out[i] = f.Key
	}
	return out
}

// Roles returns the work-role table.
func (c *Catalog) Roles() []Role { return append([]Role(nil), c.roles...) }

var (
	defaultOnce sync.Once
	defaultCat  *Catalog
)

// Load returns the agent's catalog: the data of data/ as the generator
// decoded and validated it into catalog_gen.go, indexed once. It is not
// validated again here: GenerateGo refuses data ParseFS rejects, and
// TestGeneratedCatalogIsCurrent fails when catalog_gen.go is not what the
// YAML generates, so the checks ran on exactly this data (and
// TestGeneratedCatalogValidates runs them on the loaded form). The error
// is always nil.
func Load() (*Catalog, error) {
	defaultOnce.Do(func() { defaultCat = newCatalog(generatedSource()) })
	return defaultCat, nil
}

func mustDefault() *Catalog {
	c, _ := Load()
	return c
}

// Get returns the embedded catalog's pattern with that id.
func Get(id string) (*Pattern, bool) { return mustDefault().Get(id) }

// All returns the embedded catalog's patterns in stable order.
func All() []*Pattern { return mustDefault().All() }

// FactKeys returns the embedded catalog's fact keys.
func FactKeys() []string { return mustDefault().FactKeys() }

// Facts returns the embedded catalog's documented facts.
func Facts() []Fact { return mustDefault().Facts() }

// Match returns the patterns a pasted engine or client message belongs to,
// best first; see Catalog.Match.
func Match(message string) []*Pattern { return mustDefault().Match(message) }

// LookupFact returns one documented fact key of the embedded catalog.
func LookupFact(key string) (Fact, bool) { return mustDefault().Fact(key) }
