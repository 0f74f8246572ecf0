package catalog

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Placeholders in scoring and client messages. {ip} and {host} match one
// address-like word ("10.0.0.5", "10.0.0.5:445", "IP", "fileserver"), {n} a
// number, {hex} hex digits, {any} anything on the line.
var placeholderRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\{(ip|host|n|hex|any)\}`) })

var placeholderExpr = map[string]string{
	"ip":   `[^\s()\[\]]+`,
	"host": `[^\s()\[\]]+`,
	"n":    `\d+`,
	"hex":  `[0-9a-f]+`,
	"any":  `.*?`,
}

var (
	spaceRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\s+`) })
	ipv4Re  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b`) })
)

// minFragment is the shortest pasted fragment matched inside a longer known
// message; shorter ones ("failed") would match everything.
const minFragment = 12

type matcher struct {
	pattern int            // index in catalog order
	key     string         // normalized message, placeholders kept
	re      *regexp.Regexp // the message anywhere in the input
	exact   *regexp.Regexp // the message as the whole input
	scoring bool           // an engine line, not a client's
}

// normalize lower-cases and collapses blanks, so pasted text with line
// breaks or different spacing compares equal.
func normalize(s string) string {
	return strings.TrimSpace(spaceRe().ReplaceAllString(strings.ToLower(s), " "))
}

func replaceIP(s, ip string) string { return strings.ReplaceAll(s, "{ip}", ip) }

func compileMessage(text string) (*regexp.Regexp, error) {
	key := normalize(text)
	if key == "" {
		return nil, fmt.Errorf("empty message")
	}
	var b strings.Builder
	last := 0
	for _, m := range placeholderRe().FindAllStringSubmatchIndex(key, -1) {
		b.WriteString(regexp.QuoteMeta(key[last:m[0]]))
		b.WriteString(placeholderExpr[key[m[2]:m[3]]])
		last = m[1]
	}
	b.WriteString(regexp.QuoteMeta(key[last:]))
	return regexp.Compile(b.String())
}

func buildMatchers(patterns []*Pattern) ([]matcher, error) {
	var out []matcher
	for i, p := range patterns {
		add := func(text string, scoring bool) error {
			re, err := compileMessage(text)
			if err != nil {
				return fmt.Errorf("catalog: pattern %s: message %q: %w", p.ID, text, err)
			}
			exact := regexp.MustCompile(`^(?:` + re.String() + `)$`)
			out = append(out, matcher{pattern: i, key: normalize(text), re: re, exact: exact, scoring: scoring})
			return nil
		}
		for _, m := range p.ScoringMessages {
			if err := add(m, true); err != nil {
				return nil, err
			}
		}
		for _, m := range p.ClientMessages {
			if err := add(m.Text, false); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// Match returns the patterns a pasted message belongs to, best first. It
// accepts an engine line ("SMB operation failed: [Errno 111] Connection
// refused"), the same line with any prefix or address ("SMB Login failure
// ... Failed to connect to host: 10.1.2.3"), a client's output (smbclient,
// pysmb, impacket), or a fragment of 12 characters or more of a known
// message. An engine line from the seed page matches exactly one pattern.
func (c *Catalog) Match(message string) []*Pattern {
	in := normalize(message)
	if in == "" {
		return nil
	}
	frag := ipv4Re().ReplaceAllString(in, "{ip}")
	type hit struct {
		score  int
		keyLen int
	}
	// The matchers compile: ParseFS and the generator check that before
	// a catalog is used, so an error here is a build defect, reported as
	// no match rather than a panic.
	matchers, _ := c.matchersOnce()
	best := map[int]hit{}
	for _, m := range matchers {
		score := 0
		switch {
		case m.exact.MatchString(in):
			score = 30
		case m.re.MatchString(in):
			score = 20
		case len(frag) >= minFragment && strings.Contains(m.key, frag):
			score = 10
		default:
			continue
		}
		if m.scoring {
			score++ // an engine line outranks a client line of the same kind
		}
		h := hit{score: score, keyLen: len(m.key)}
		if old, ok := best[m.pattern]; !ok || h.score > old.score || h.score == old.score && h.keyLen > old.keyLen {
			best[m.pattern] = h
		}
	}
	idx := make([]int, 0, len(best))
	for i := range best {
		idx = append(idx, i)
	}
	sort.Slice(idx, func(a, b int) bool {
		ha, hb := best[idx[a]], best[idx[b]]
		if ha.score != hb.score {
			return ha.score > hb.score
		}
		if ha.keyLen != hb.keyLen {
			return ha.keyLen > hb.keyLen
		}
		return idx[a] < idx[b]
	})
	out := make([]*Pattern, len(idx))
	for i, j := range idx {
		out[i] = c.patterns[j]
	}
	return out
}
