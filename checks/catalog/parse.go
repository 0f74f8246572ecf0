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

// source is a catalog as decoded from its files, before it is indexed.
type source struct {
	Facts    []Fact
	Roles    []Role
	Patterns []Pattern
}

// ParseFS parses and validates a catalog tree. Unknown YAML keys are errors,
// so a misspelt field cannot silently drop data.
func ParseFS(fsys fs.FS) (*Catalog, error) {
	src, err := decodeFS(fsys)
	if err != nil {
		return nil, err
	}
	c := newCatalog(src)
	if err := c.validate(); err != nil {
		return nil, err
	}
	// {behaviour:ID} in the texts becomes the releases the behaviour holds
	// for (behaviours.go); the generator writes the expanded texts.
	if err := c.expandBehaviours(); err != nil {
		return nil, err
	}
	if _, err := c.matchersOnce(); err != nil {
		return nil, err
	}
	return c, nil
}

// decodeFS reads a catalog tree's files into a source.
func decodeFS(fsys fs.FS) (*source, error) {
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
	src := &source{Facts: fd.Facts, Roles: rd.Roles, Patterns: make([]Pattern, len(names))}
	for i, name := range names {
		if err := decodeFile(fsys, name, &src.Patterns[i]); err != nil {
			return nil, err
		}
	}
	return src, nil
}

// newCatalog indexes src, which it takes over (each pattern's roles get
// their titles from the role table; the generated source has them
// already). It does not validate: ParseFS does, and the generated source
// was validated by the generator (generate.go).
func newCatalog(src *source) *Catalog {
	c := &Catalog{
		byID:    make(map[string]*Pattern, len(src.Patterns)),
		factIdx: make(map[string]int, len(src.Facts)),
		facts:   src.Facts,
		roles:   src.Roles,
	}
	for i, f := range c.facts {
		c.factIdx[f.Key] = i
	}
	roleTitle := make(map[string]string, len(c.roles))
	for _, r := range c.roles {
		roleTitle[r.Code] = r.Title
	}
	for i := range src.Patterns {
		p := &src.Patterns[i]
		c.patterns = append(c.patterns, p)
		c.byID[p.ID] = p
		for j := range p.Roles {
			p.Roles[j].Title = roleTitle[p.Roles[j].Code]
		}
	}
	return c
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
