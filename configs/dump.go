package configs

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Value returns one key's value as it would be written in agent.yaml:
// strings, booleans, numbers, durations as "30s", lists as []string and
// clients as []ClientProfile. It serves `agent config get KEY`.
func (c *Config) Value(key string) (any, bool) {
	for _, b := range c.bindings() {
		if b.key == key {
			return render(b.ptr), true
		}
	}
	return nil, false
}

func render(ptr any) any {
	switch p := ptr.(type) {
	case *string:
		return *p
	case *bool:
		return *p
	case *time.Duration:
		return FormatDuration(*p)
	case *float64:
		return *p
	case *int64:
		return *p
	case *[]string:
		if *p == nil {
			return []string{}
		}
		return slices.Clone(*p)
	case *[]ClientProfile:
		out := make([]ClientProfile, len(*p))
		for i, cp := range *p {
			out[i] = cp.clone()
		}
		return out
	}
	return nil
}

// FormatDuration prints a duration the way agent.yaml writes it: "1h", not
// "1h0m0s".
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// Settings returns the configuration as nested maps keyed like agent.yaml.
// There is no password in it: the Config never holds one.
func (c *Config) Settings() map[string]any {
	out := map[string]any{}
	for _, b := range c.bindings() {
		parts := strings.Split(b.key, ".")
		m := out
		for _, p := range parts[:len(parts)-1] {
			sub, ok := m[p].(map[string]any)
			if !ok {
				sub = map[string]any{}
				m[p] = sub
			}
			m = sub
		}
		m[parts[len(parts)-1]] = render(b.ptr)
	}
	return out
}

// MarshalJSON writes Settings(); a value receiver, so that a Config value
// marshals the same way as a pointer.
func (c Config) MarshalJSON() ([]byte, error) {
	return json.Marshal(c.Settings())
}

// YAML renders the configuration as agent.yaml would hold it, keys in
// canonical order. `agent config dump` prints it.
func (c *Config) YAML() ([]byte, error) {
	root := &yaml.Node{Kind: yaml.MappingNode}
	sections := map[string]*yaml.Node{"": root}
	section := func(prefix string) *yaml.Node {
		if n, ok := sections[prefix]; ok {
			return n
		}
		return nil
	}
	for _, b := range c.bindings() {
		parts := strings.Split(b.key, ".")
		parent := root
		for i := 1; i < len(parts); i++ {
			prefix := strings.Join(parts[:i], ".")
			n := section(prefix)
			if n == nil {
				n = &yaml.Node{Kind: yaml.MappingNode}
				parent.Content = append(parent.Content, scalar(parts[i-1]), n)
				sections[prefix] = n
			}
			parent = n
		}
		val := &yaml.Node{}
		if err := val.Encode(render(b.ptr)); err != nil {
			return nil, fmt.Errorf("encode %s: %w", b.key, err)
		}
		if val.Kind == yaml.SequenceNode && len(val.Content) == 0 {
			val.Style = yaml.FlowStyle
		}
		parent.Content = append(parent.Content, scalar(parts[len(parts)-1]), val)
	}
	var sb strings.Builder
	enc := yaml.NewEncoder(&sb)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("encode configuration: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode configuration: %w", err)
	}
	return []byte(sb.String()), nil
}

func scalar(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

// String is the YAML dump (without the password, which Config never holds).
func (c Config) String() string {
	b, err := c.YAML()
	if err != nil {
		return "configuration: " + strconv.Quote(err.Error())
	}
	return string(b)
}
