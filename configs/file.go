package configs

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// fileValues is what a config file sets, after the strict walk.
type fileValues struct {
	raw        map[string]any // key → raw scalar text (string) or []string
	lines      map[string]int // key → line of its value
	clients    []clientEntry
	clientsSet bool
}

// clientEntry is one element of clients: as written, before the preset it
// names is applied.
type clientEntry struct {
	profile ClientProfile
	present map[string]bool // fields written in the file
	lines   map[string]int  // field → line
	line    int             // line of the element
}

// profileFields are the keys of a clients: element, in the order of
// ClientProfile.
var profileFields = []string{"name", "description", "preset", "min_dialect", "max_dialect",
	"smb1_offer", "signing", "encryption", "auth", "sources"}

// parseFile walks the YAML strictly against the key schema. It never stops
// at the first problem: every unknown key, wrong shape and duplicate is
// reported, each with its line.
func parseFile(path string, data []byte) (*fileValues, []error) {
	fv := &fileValues{raw: map[string]any{}, lines: map[string]int{}}
	var doc yaml.Node
	if err := unmarshalYAML(data, &doc); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		return fv, []error{&ValidationError{Source: path, Problem: "invalid YAML: " + oneLineText(msg)}}
	}
	if len(doc.Content) == 0 {
		return fv, nil // empty file: all defaults
	}
	root := resolveAlias(doc.Content[0])
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return fv, nil
	}
	if root.Kind != yaml.MappingNode {
		return fv, []error{&ValidationError{Source: path, Line: root.Line,
			Problem: "the top level must be a mapping of keys (e.g. \"target: 127.0.0.1:445\")"}}
	}
	keys := Keys()
	w := walker{path: path, keys: keys, fv: fv, kinds: keyKinds()}
	w.mapping(root, "")
	return fv, w.errs
}

// unmarshalYAML is yaml.Unmarshal that turns a panic inside the YAML
// library into an error: a malformed file must give exit 3, not a crash.
func unmarshalYAML(data []byte, doc *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: %v", r)
		}
	}()
	return yaml.Unmarshal(data, doc)
}

type walker struct {
	path  string
	keys  []string
	kinds map[string]string
	fv    *fileValues
	errs  []error
}

func (w *walker) fail(line int, key, format string, args ...any) {
	w.errs = append(w.errs, &ValidationError{Source: w.path, Line: line, Key: key, Problem: fmt.Sprintf(format, args...)})
}

// isSection reports whether prefix names a group of keys (serve, fix, ...).
func (w *walker) isSection(prefix string) bool {
	for _, k := range w.keys {
		if strings.HasPrefix(k, prefix+".") {
			return true
		}
	}
	return false
}

func (w *walker) mapping(n *yaml.Node, prefix string) {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := resolveAlias(n.Content[i]), resolveAlias(n.Content[i+1])
		if kn.Kind != yaml.ScalarNode {
			w.fail(kn.Line, prefix, "keys must be plain names")
			continue
		}
		full := kn.Value
		if prefix != "" {
			full = prefix + "." + kn.Value
		}
		if first, dup := seen[kn.Value]; dup {
			w.fail(kn.Line, full, "duplicate key (first set on line %d)", first)
			continue
		}
		seen[kn.Value] = kn.Line
		switch {
		case slices.Contains(w.keys, full):
			w.leaf(full, vn)
		case w.isSection(full):
			if isNull(vn) {
				continue
			}
			if vn.Kind != yaml.MappingNode {
				w.fail(vn.Line, full, "must be a mapping of keys, not %s", shape(vn))
				continue
			}
			w.mapping(vn, full)
		default:
			w.fail(kn.Line, full, "unknown key%s", suggest(full, w.candidates()))
		}
	}
}

func (w *walker) candidates() []string {
	out := slices.Clone(w.keys)
	for _, k := range w.keys {
		for i := range k {
			if k[i] == '.' && !slices.Contains(out, k[:i]) {
				out = append(out, k[:i])
			}
		}
	}
	return out
}

// leaf records one key's value. Scalars are kept as their raw text: the
// same parsers then read the file, the environment and the flags, and a
// value like "samba_version: 4.10" is not turned into the float 4.1.
func (w *walker) leaf(key string, vn *yaml.Node) {
	if isNull(vn) {
		return // "key:" with no value leaves the default
	}
	switch w.kinds[key] {
	case "clients":
		w.clients(key, vn)
	case "list":
		items, ok := w.stringList(key, vn)
		if ok {
			w.fv.raw[key] = items
			w.fv.lines[key] = vn.Line
		}
	default:
		if vn.Kind != yaml.ScalarNode {
			w.fail(vn.Line, key, "must be a single value, not %s", shape(vn))
			return
		}
		w.fv.raw[key] = vn.Value
		w.fv.lines[key] = vn.Line
	}
}

func (w *walker) stringList(key string, vn *yaml.Node) ([]string, bool) {
	if vn.Kind != yaml.SequenceNode {
		w.fail(vn.Line, key, "must be a list of strings, not %s", shape(vn))
		return nil, false
	}
	out := []string{}
	ok := true
	for i, it := range vn.Content {
		it = resolveAlias(it)
		if it.Kind != yaml.ScalarNode || isNull(it) {
			w.fail(it.Line, fmt.Sprintf("%s[%d]", key, i), "must be a string, not %s", shape(it))
			ok = false
			continue
		}
		out = append(out, it.Value)
	}
	return out, ok
}

func (w *walker) clients(key string, vn *yaml.Node) {
	if vn.Kind != yaml.SequenceNode {
		w.fail(vn.Line, key, "must be a list of client profiles, not %s", shape(vn))
		return
	}
	w.fv.clientsSet = true
	w.fv.lines[key] = vn.Line
	for i, it := range vn.Content {
		it = resolveAlias(it)
		ek := fmt.Sprintf("%s[%d]", key, i)
		if it.Kind != yaml.MappingNode {
			w.fail(it.Line, ek, "must be a mapping (name, min_dialect, max_dialect, ...), not %s", shape(it))
			continue
		}
		ce := clientEntry{present: map[string]bool{}, lines: map[string]int{}, line: it.Line}
		for j := 0; j+1 < len(it.Content); j += 2 {
			fk, fvn := resolveAlias(it.Content[j]), resolveAlias(it.Content[j+1])
			field := fk.Value
			if !slices.Contains(profileFields, field) {
				w.fail(fk.Line, ek+"."+field, "unknown field%s", suggest(field, profileFields))
				continue
			}
			if ce.present[field] {
				w.fail(fk.Line, ek+"."+field, "duplicate field (first set on line %d)", ce.lines[field])
				continue
			}
			ce.present[field] = true
			ce.lines[field] = fvn.Line
			if isNull(fvn) {
				continue
			}
			if field == "smb1_offer" || field == "sources" {
				items, ok := w.stringList(ek+"."+field, fvn)
				if !ok {
					continue
				}
				if field == "smb1_offer" {
					ce.profile.SMB1Offer = items
				} else {
					ce.profile.Sources = items
				}
				continue
			}
			if fvn.Kind != yaml.ScalarNode {
				w.fail(fvn.Line, ek+"."+field, "must be a single value, not %s", shape(fvn))
				continue
			}
			setProfileField(&ce.profile, field, fvn.Value)
		}
		w.fv.clients = append(w.fv.clients, ce)
	}
}

// clientLine finds the line of a "clients[i].field" key.
func (fv *fileValues) clientLine(key string) (int, bool) {
	var i int
	rest, ok := strings.CutPrefix(key, "clients[")
	if !ok {
		return 0, false
	}
	idx, field, _ := strings.Cut(rest, "]")
	field = strings.TrimPrefix(field, ".")
	if _, err := fmt.Sscan(idx, &i); err != nil || i < 0 || i >= len(fv.clients) {
		return 0, false
	}
	ce := fv.clients[i]
	if l, ok := ce.lines[field]; ok {
		return l, true
	}
	return ce.line, true
}

func setProfileField(p *ClientProfile, field, val string) {
	switch field {
	case "name":
		p.Name = val
	case "description":
		p.Description = val
	case "preset":
		p.Preset = val
	case "min_dialect":
		p.MinDialect = val
	case "max_dialect":
		p.MaxDialect = val
	case "signing":
		p.Signing = val
	case "encryption":
		p.Encryption = val
	case "auth":
		p.Auth = val
	}
}

// resolve applies the named preset under the fields written in the file,
// then validates the result.
func (ce clientEntry) resolve() (ClientProfile, []error) {
	p := ce.profile
	if ce.present["preset"] && p.Preset != "" {
		base, ok := Preset(p.Preset)
		if !ok {
			return p, []error{fieldError{field: "preset", problem: fmt.Sprintf("unknown preset %q (known: %s)",
				p.Preset, strings.Join(PresetNames(), ", "))}}
		}
		merged := base
		merged.Preset = base.Name
		merged.Name = base.Name
		for _, f := range profileFields {
			if !ce.present[f] || f == "preset" {
				continue
			}
			switch f {
			case "smb1_offer":
				merged.SMB1Offer = p.SMB1Offer
			case "sources":
				merged.Sources = p.Sources
			default:
				setProfileField(&merged, f, profileField(p, f))
			}
		}
		p = merged
	}
	errs := p.Validate()
	return p, errs
}

func profileField(p ClientProfile, field string) string {
	switch field {
	case "name":
		return p.Name
	case "description":
		return p.Description
	case "min_dialect":
		return p.MinDialect
	case "max_dialect":
		return p.MaxDialect
	case "signing":
		return p.Signing
	case "encryption":
		return p.Encryption
	case "auth":
		return p.Auth
	}
	return ""
}

// keyKinds says which keys are not single values.
func keyKinds() map[string]string {
	kinds := map[string]string{}
	for _, b := range (&Config{}).bindings() {
		switch b.ptr.(type) {
		case *[]string:
			kinds[b.key] = "list"
		case *[]ClientProfile:
			kinds[b.key] = "clients"
		default:
			kinds[b.key] = "scalar"
		}
	}
	return kinds
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 16; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func shape(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "empty"
		}
		return fmt.Sprintf("the value %q", n.Value)
	}
	return "this"
}

// suggest names the closest known key for a typo: a different case or at
// most two edits away.
func suggest(name string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if strings.EqualFold(k, name) {
			return fmt.Sprintf(" (did you mean %q? keys are lower case)", k)
		}
		if d := editDistance(strings.ToLower(name), k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}

// editDistance is the Levenshtein distance, for suggestions only.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func oneLineText(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}
