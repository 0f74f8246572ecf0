package conformance

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"strings"
)

// KnownDifference is one entry of KNOWN_DIFFERENCES: a case × client pair
// where the real client and the agent disagree for a reason that is not a
// defect of the agent (the client is wrong, or nondeterministic, or the
// sandbox cannot show what a remote client would see).
type KnownDifference struct {
	// Case and Client are names or path.Match patterns ("*").
	Case, Client string
	Reason       string
	Line         int
	// Seen is set when a pair it covers ran; Used when it explained a
	// disagreement. Seen but not Used is a stale entry.
	Seen, Used bool
}

// Matches reports whether the entry covers that case and client.
func (k *KnownDifference) Matches(c, client string) bool {
	okC, _ := path.Match(k.Case, c)
	okCl, _ := path.Match(k.Client, client)
	return okC && okCl
}

// ParseKnownDifferences reads KNOWN_DIFFERENCES: one entry a line,
// "CASE | CLIENT | REASON", blank lines and #-comments ignored. An entry
// without a reason is an error: every difference says why.
func ParseKnownDifferences(r io.Reader) ([]*KnownDifference, error) {
	var out []*KnownDifference
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.SplitN(line, "|", 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("KNOWN_DIFFERENCES:%d: want CASE | CLIENT | REASON", n)
		}
		k := &KnownDifference{Case: strings.TrimSpace(parts[0]), Client: strings.TrimSpace(parts[1]),
			Reason: strings.TrimSpace(parts[2]), Line: n}
		if k.Case == "" || k.Client == "" || k.Reason == "" {
			return nil, fmt.Errorf("KNOWN_DIFFERENCES:%d: case, client and reason must all be given", n)
		}
		for _, p := range []string{k.Case, k.Client} {
			if _, err := path.Match(p, ""); err != nil {
				return nil, fmt.Errorf("KNOWN_DIFFERENCES:%d: bad pattern %q: %w", n, p, err)
			}
		}
		out = append(out, k)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read KNOWN_DIFFERENCES: %w", err)
	}
	return out, nil
}

// Explain finds the entry that covers a disagreement and marks it used.
func Explain(known []*KnownDifference, c, client string) *KnownDifference {
	for _, k := range known {
		if k.Matches(c, client) {
			k.Used = true
			return k
		}
	}
	return nil
}

// MarkSeen records that the pair ran, for the stale-entry report.
func MarkSeen(known []*KnownDifference, c, client string) {
	for _, k := range known {
		if k.Matches(c, client) {
			k.Seen = true
		}
	}
}

// Nondeterministic reports whether the entry is a difference that comes
// and goes between runs (its reason starts "nondeterministic:"): it is
// never stale.
func (k *KnownDifference) Nondeterministic() bool {
	return strings.HasPrefix(k.Reason, "nondeterministic:")
}

// Stale returns the entries that covered pairs which ran and all agreed:
// the difference no longer occurs.
func Stale(known []*KnownDifference) []*KnownDifference {
	var out []*KnownDifference
	for _, k := range known {
		if k.Seen && !k.Used && !k.Nondeterministic() {
			out = append(out, k)
		}
	}
	return out
}
