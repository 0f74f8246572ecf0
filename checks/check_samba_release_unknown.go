package checks

import (
	"fmt"
	"strings"

	"github.com/smb-agent/smb-agent/configs/smbconf"
)

// samba-release-unknown: the installed Samba is outside the releases the
// agent has parameter tables for (configs/smbconf, generated from each
// release's testparm). The agent then reads smb.conf with the nearest
// table (smbconf.TableFor); it says so instead of stating that table's
// defaults as this release's.
func init() {
	registerAnswer("samba.release_known", ansSambaReleaseKnown)
	RegisterPattern(Pattern{ID: PatternSambaReleaseUnknown, Fires: sambaReleaseFires,
		Causes: map[string]CauseBuilder{
			causeOlderThanKnown: buildSambaReleaseUnknown,
			causeNewerThanKnown: buildSambaReleaseUnknown,
		}})
}

const (
	PatternSambaReleaseUnknown = "samba-release-unknown"
	causeOlderThanKnown        = "older-than-known"
	causeNewerThanKnown        = "newer-than-known"
)

// releasePosition is samba.release_known: "known", "older" or "newer";
// false when the version itself is not known.
func releasePosition(f *Facts) (string, bool) {
	v := f.SambaVersion
	if v == (smbconf.SambaVersion{}) {
		return "", false
	}
	m := smbconf.TableFor(v)
	if !m.Outside {
		return "known", true
	}
	known := smbconf.KnownReleases()
	if len(known) > 0 && (v.Major < known[0].Major || v.Major == known[0].Major && v.Minor < known[0].Minor) {
		return "older", true
	}
	return "newer", true
}

func ansSambaReleaseKnown(c *answerCtx) (string, bool) { return releasePosition(c.f) }

func sambaReleaseFires(f *Facts) []Trigger {
	if p, ok := releasePosition(f); ok && p != "known" {
		return []Trigger{{}}
	}
	return nil
}

func buildSambaReleaseUnknown(f *Facts, _ Trigger, fd *Finding) {
	known := smbconf.KnownReleases()
	names := make([]string, len(known))
	for i, k := range known {
		names[i] = fmt.Sprintf("%d.%d", k.Major, k.Minor)
	}
	m := smbconf.TableFor(f.SambaVersion)
	fd.Summary = fmt.Sprintf("Samba %s is outside the releases the agent knows (%s): smb.conf is read with the %d.%d table",
		f.SambaVersion, strings.Join(names, ", "), m.Table.Major, m.Table.Minor)
	src := f.SambaVersionSource
	if src == "" {
		src = "the version detector"
	}
	fd.Evidence = append(fd.Evidence, Evidence{Kind: "version",
		Text: fmt.Sprintf("Samba %s (from %s); known releases: %s", f.SambaVersion, src, strings.Join(names, ", "))})
}
