package checks

import (
	"fmt"
	"slices"

	"github.com/smb-agent/smb-agent/configs/smbconf"
)

// What a finding says about smbd's behaviour rests on the registry in
// configs/smbconf/behaviours.go, whose entries the end-to-end suite
// observes on every release of the matrix. A text names the releases a
// behaviour holds for through these helpers, for the host's release: the
// range where it holds, the range and "not Samba X" where it does not, and
// only what was checked for a release outside the matrix.

// behaviourRange is the release qualifier of behaviour id for this host's
// Samba ("Samba 4.16 and later"; "checked on Samba 4.17 to 4.24; not
// verified on 4.25").
func behaviourRange(f *Facts, id string) string {
	return behaviourFor(id, f.SambaVersion)
}

// behaviourFor is behaviour id's qualifier for release v (zero: the
// releases checked), for texts built without Facts.
func behaviourFor(id string, v smbconf.SambaVersion) string {
	b, ok := smbconf.LookupBehaviour(id)
	if !ok {
		return "not checked on any Samba release"
	}
	return b.For(v)
}

// withRange appends behaviour id's qualifier to a sentence that states it.
func withRange(f *Facts, text, id string) string {
	return fmt.Sprintf("%s (%s)", text, behaviourRange(f, id))
}

// behaviourKnownToHold reports whether this host's release was checked for
// behaviour id and does it; false when the release is outside the matrix
// or unknown, where the agent cannot say.
func behaviourKnownToHold(f *Facts, id string) bool {
	b, ok := smbconf.LookupBehaviour(id)
	return ok && b.HoldsKnown(f.SambaVersion)
}

// releaseNotes are evidence lines for the behaviours a finding's catalog
// texts state that this release does not do, or that were not checked on
// it: the text names a range, this line says where the host stands.
func releaseNotes(f *Facts, ids []string) []Evidence {
	if f.SambaVersion == (smbconf.SambaVersion{}) {
		return nil
	}
	var out []Evidence
	for _, id := range ids {
		b, ok := smbconf.LookupBehaviour(id)
		if !ok || b.HoldsKnown(f.SambaVersion) {
			continue
		}
		what := "does not do this"
		if smbconf.TableFor(f.SambaVersion).Outside {
			what = "was not checked for this"
		}
		out = append(out, Evidence{Kind: "version",
			Text: fmt.Sprintf("Samba %s %s: %s (%s)", f.SambaVersion, what, b.Claim, b.For(f.SambaVersion))})
	}
	return out
}

// causeBehaviours are the behaviours a cause's catalog texts state, with
// those of its pattern's own texts.
func causeBehaviours(patternIDs, causeIDs []string) []string {
	out := slices.Clone(patternIDs)
	for _, id := range causeIDs {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}
