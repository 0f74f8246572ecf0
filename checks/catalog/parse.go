package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// File layout of a catalog tree: facts.yaml, roles.yaml and one file per
// pattern under patterns/, ordered by file name (the NN- prefix fixes All's
// order).
const (
	factsFile   = "facts.yaml"
	rolesFile   = "roles.yaml"
	patternsDir = "patterns"
)

type factsDoc struct {
	Facts []Fact `yaml:"facts"`
}

type rolesDoc struct {
	Roles []Role `yaml:"roles"`
}

// ParseFS parses and validates a catalog tree. Unknown YAML keys are errors,
// so a misspelt field cannot silently drop data.
func ParseFS(fsys fs.FS) (*Catalog, error) {
	var fd factsDoc
	if err := decodeFile(fsys, factsFile, &fd); err != nil {
		return nil, err
	}
	var rd rolesDoc
	if err := decodeFile(fsys, rolesFile, &rd); err != nil {
		return nil, err
	}
	names, err := fs.Glob(fsys, path.Join(patternsDir, "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("catalog: list %s: %w", patternsDir, err)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return nil, fmt.Errorf("catalog: no pattern files under %s/", patternsDir)
	}
	c := &Catalog{
		byID:    map[string]*Pattern{},
		factIdx: map[string]int{},
		facts:   fd.Facts,
		roles:   rd.Roles,
	}
	for _, name := range names {
		p := new(Pattern)
		if err := decodeFile(fsys, name, p); err != nil {
			return nil, err
		}
		c.patterns = append(c.patterns, p)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	for i, f := range c.facts {
		c.factIdx[f.Key] = i
	}
	roleTitle := map[string]string{}
	for _, r := range c.roles {
		roleTitle[r.Code] = r.Title
	}
	for _, p := range c.patterns {
		c.byID[p.ID] = p
		for i := range p.Roles {
			p.Roles[i].Title = roleTitle[p.Roles[i].Code]
		}
	}
	if c.matchers, err = buildMatchers(c.patterns); err != nil {
		return nil, err
	}
	return c, nil
}

func decodeFile(fsys fs.FS, name string, into any) error {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return fmt.Errorf("catalog: read %s: %w", name, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(into); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("catalog: %s is empty", name)
		}
		return fmt.Errorf("catalog: parse %s: %w", name, err)
	}
	// One document per file: a second one would be silently ignored.
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return fmt.Errorf("catalog: %s holds more than one YAML document", name)
	}
	return nil
}

// trimmed reports whether s has content after trimming blanks.
func trimmed(s string) bool { return strings.TrimSpace(s) != "" }
