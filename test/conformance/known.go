package conformance

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/smb-agent/smb-agent/configs/smbconf"
)

// KnownDifference is one entry of KNOWN_DIFFERENCES: a case × client pair
// where the real client and the agent disagree for a reason that is not a
// defect of the agent (the client is wrong, or nondeterministic, or the
// sandbox cannot show what a remote client would see).
type KnownDifference struct {
	// Case and Client are names or path.Match patterns ("*").
	Case, Client string
	// Releases is the RELEASES field as written: "*" (every release),
	// "4.16-" (4.16 and later), "-4.15", "4.13-4.17" or "4.13".
	Releases string
	// Range holds the series the entry is true for, in the behaviour
	// registry's terms (Since/Until; Holds decides).
	Range  smbconf.Behaviour
	Reason string
	Line   int
	// Seen is set when a pair it covers ran; Used when it explained a
	// disagreement. Seen but not Used is a stale entry.
	Seen, Used bool
}

// AppliesTo reports whether the entry is true for release v: an entry
// outside its range is neither used nor checked for staleness in that run.
func (k *KnownDifference) AppliesTo(v smbconf.SambaVersion) bool { return k.Range.Holds(v) }

// Matches reports whether the entry covers that case and client.
func (k *KnownDifference) Matches(c, client string) bool {
	okC, _ := path.Match(k.Case, c)
	okCl, _ := path.Match(k.Client, client)
	return okC && okCl
}

// ParseKnownDifferences reads KNOWN_DIFFERENCES: one entry a line,
// "CASE | CLIENT | RELEASES | REASON", blank lines and #-comments ignored.
// An entry without a reason is an error: every difference says why.
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
		parts := strings.SplitN(line, "|", 4)
		if len(parts) != 4 {
			return nil, fmt.Errorf("KNOWN_DIFFERENCES:%d: want CASE | CLIENT | RELEASES | REASON", n)
		}
		k := &KnownDifference{Case: strings.TrimSpace(parts[0]), Client: strings.TrimSpace(parts[1]),
			Releases: strings.TrimSpace(parts[2]), Reason: strings.TrimSpace(parts[3]), Line: n}
		if k.Case == "" || k.Client == "" || k.Releases == "" || k.Reason == "" {
			return nil, fmt.Errorf("KNOWN_DIFFERENCES:%d: case, client, releases and reason must all be given", n)
		}
		for _, p := range []string{k.Case, k.Client} {
			if _, err := path.Match(p, ""); err != nil {
				return nil, fmt.Errorf("KNOWN_DIFFERENCES:%d: bad pattern %q: %w", n, p, err)
			}
		}
		rg, err := parseReleases(k.Releases)
		if err != nil {
			return nil, fmt.Errorf("KNOWN_DIFFERENCES:%d: %w", n, err)
		}
		k.Range = rg
		out = append(out, k)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read KNOWN_DIFFERENCES: %w", err)
	}
	return out, nil
}

// parseReleases reads a RELEASES field into a range of release series.
func parseReleases(s string) (smbconf.Behaviour, error) {
	var b smbconf.Behaviour
	if s == "*" {
		return b, nil
	}
	lo, hi, isRange := strings.Cut(s, "-")
	lo, hi = strings.TrimSpace(lo), strings.TrimSpace(hi)
	if !isRange {
		hi = lo
	}
	if lo == "" && hi == "" {
		return b, fmt.Errorf("releases %q: want *, A, A-, -B or A-B (release series such as 4.17)", s)
	}
	for _, v := range []string{lo, hi} {
		if v == "" {
			continue
		}
		sv, err := smbconf.ParseSambaVersion(v)
		if err != nil || sv.Series() != v {
			return b, fmt.Errorf("releases %q: %q is not a release series such as 4.17", s, v)
		}
	}
	b.Since, b.Until = lo, hi
	if lo != "" && hi != "" {
		l, _ := smbconf.ParseSambaVersion(lo)
		h, _ := smbconf.ParseSambaVersion(hi)
		if l.Compare(h) > 0 {
			return b, fmt.Errorf("releases %q: the range is empty", s)
		}
	}
	return b, nil
}

// Explain finds the entry for release v that covers a disagreement and
// marks it used.
func Explain(known []*KnownDifference, v smbconf.SambaVersion, c, client string) *KnownDifference {
	for _, k := range known {
		if k.AppliesTo(v) && k.Matches(c, client) {
			k.Used = true
			return k
		}
	}
	return nil
}

// MarkSeen records that the pair ran on release v, for the stale-entry
// report.
func MarkSeen(known []*KnownDifference, v smbconf.SambaVersion, c, client string) {
	for _, k := range known {
		if k.AppliesTo(v) && k.Matches(c, client) {
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
