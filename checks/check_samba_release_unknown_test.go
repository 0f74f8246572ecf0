package checks

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/configs/smbconf"
)

func TestSambaReleaseUnknown(t *testing.T) {
	known := smbconf.KnownReleases()
	require.NotEmpty(t, known)
	oldest, newest := known[0], known[len(known)-1]
	for _, tc := range []struct {
		name  string
		v     smbconf.SambaVersion
		cause string
	}{
		{name: "oldest known", v: oldest},
		{name: "newest known", v: newest},
		{name: "between known releases", v: smbconf.SambaVersion{Major: 4, Minor: 19, Patch: 5}},
		{name: "older", v: smbconf.SambaVersion{Major: oldest.Major, Minor: oldest.Minor - 1}, cause: causeOlderThanKnown},
		{name: "newer", v: smbconf.SambaVersion{Major: newest.Major, Minor: newest.Minor + 2}, cause: causeNewerThanKnown},
		{name: "version not known"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFacts(t, "[global]\n", func(f *Facts) { f.SambaVersion = tc.v })
			fs := runOne(t, PatternSambaReleaseUnknown, f)
			if tc.cause == "" {
				require.Empty(t, fs)
				return
			}
			require.Len(t, fs, 1)
			require.Equal(t, tc.cause, fs[0].Cause)
			require.Equal(t, Warning, fs[0].Severity)
			require.Contains(t, fs[0].Summary, "outside the releases the agent knows")
			r := Evaluate(f)
			require.GreaterOrEqual(t, r.Status, Warning, "a release the agent does not know is never OK")
			require.Contains(t, causes(r.Findings), PatternSambaReleaseUnknown+"/"+tc.cause)
		})
	}
}
