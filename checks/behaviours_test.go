package checks

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks/probe"
	"github.com/smb-agent/smb-agent/configs"
	"github.com/smb-agent/smb-agent/configs/smbconf"
)

func release(t *testing.T, s string) factsMod {
	v, err := smbconf.ParseSambaVersion(s)
	require.NoError(t, err)
	return func(f *Facts) { f.SambaVersion = v }
}

func versionNotes(fd Finding) []string {
	var out []string
	for _, e := range fd.Evidence {
		if e.Kind == "version" {
			out = append(out, e.Text)
		}
	}
	return out
}

// A finding that rests on samba-dcerpcd names the releases that do it, and
// says so where the host's release does not, or was not checked. On 4.13
// the on-demand line is unknown (ignored), so it is no cause there.
func TestFindingsNameTheReleaseRangeOfWhatTheyState(t *testing.T) {
	conf := "[global]\nrpc start on demand helpers = no\n"
	pipeFails := withShares(probe.ClassRPCEndpointMissing, probe.StatusConnectionRefused)
	for _, tc := range []struct {
		release, cause, explanation, note string
	}{
		{"4.17.12", causeOnDemandOff, "(Samba 4.16 and later)", ""},
		{"4.24.8", causeOnDemandOff, "(Samba 4.16 and later)", ""},
		{"4.13.13", causeRPCUnexplained, "", "Samba 4.13.13 does not do this: smbd does not serve RPC pipes itself"},
		{"4.26.0", causeOnDemandOff, "(checked on Samba 4.17 to 4.24; not verified on 4.26)", "Samba 4.26.0 was not checked for this"},
	} {
		t.Run(tc.release, func(t *testing.T) {
			fs := runOne(t, PatternRPCEndpointMissing, newFacts(t, conf, pipeFails, release(t, tc.release)))
			require.Len(t, fs, 1)
			assert.Equal(t, tc.cause, fs[0].Cause)
			if tc.explanation != "" {
				assert.Contains(t, fs[0].Explanation, tc.explanation)
			}
			notes := strings.Join(versionNotes(fs[0]), "\n")
			if tc.note == "" {
				assert.NotContains(t, notes, "samba-dcerpcd", "release %s does it: no note", tc.release)
			} else {
				assert.Contains(t, notes, tc.note)
			}
		})
	}
}

// On 4.13 the client's dialect offer is logged in the default class, so
// the recommended log level raises that class, not smb2.
func TestLoggingFollowsTheReleasesOfferClass(t *testing.T) {
	lv := withLogLevel(map[string]int{"all": 0, "smb2": 0, "auth_audit": 0})
	fs := runOne(t, PatternLogging, newFacts(t, "[global]\nserver min protocol = SMB3\n", lv, release(t, "4.13.13")))
	require.Len(t, fs, 1)
	assert.Equal(t, "3", fs[0].Fix.Changes[0].Value)
	assert.Contains(t, fs[0].Summary, "class all needs level 3")
	assert.Contains(t, fs[0].Explanation, "class all (Samba 4.13 and earlier)")

	fs = runOne(t, PatternLogging, newFacts(t, "[global]\nserver min protocol = SMB3\n", lv, release(t, "4.22.6")))
	require.Len(t, fs, 1)
	assert.Equal(t, "1 auth_audit:2 smb2:3", fs[0].Fix.Changes[0].Value)
	assert.Contains(t, fs[0].Explanation, "class smb2 (Samba 4.17 and later)")
}

func TestBehaviourRangeOfAnUnknownID(t *testing.T) {
	assert.Equal(t, "not checked on any Samba release", behaviourRange(newFacts(t, "[global]\n"), "no-such-behaviour"))
	assert.Equal(t, "not checked on any Samba release", behaviourFor("no-such-behaviour", smbconf.SambaVersion{}))
}

// The negotiation model's texts name the releases of the behaviour they
// state for the host's release: the plain range on a release of the
// matrix, only what was checked on a release outside it, and the checked
// span when the release is unknown.
func TestNegotiationTextNamesTheHostRelease(t *testing.T) {
	pysmb := configs.Presets()[0]
	require.Equal(t, "pysmb", pysmb.Name)
	b, ok := smbconf.LookupBehaviour(smbconf.BehaviourSMB1NegotiateClamps)
	require.True(t, ok)
	for _, rel := range []string{"", "4.13.13", "4.24.8", "4.99.1"} {
		var v smbconf.SambaVersion
		if rel != "" {
			var err error
			v, err = smbconf.ParseSambaVersion(rel)
			require.NoError(t, err)
		}
		verdict := JudgeClient(pysmb, ServerPolicy{View: "config", Min: "SMB3_00", Max: "SMB3_11", Release: v})
		require.False(t, verdict.OK, rel)
		assert.Contains(t, verdict.Why, "("+b.For(v)+")", rel)
	}
	out, _ := smbconf.ParseSambaVersion("4.99.1")
	assert.Contains(t, b.For(out), "not verified on 4.99", "a release outside the matrix is not stated as fact")
}

// The line a config that does not load leaves in log.smbd is the one the
// host's release writes (observed by test/behaviours_e2e_test.go).
func TestCantLoadLineFollowsTheRelease(t *testing.T) {
	at := func(s string) *Facts {
		if s == "" {
			return &Facts{}
		}
		v, err := smbconf.ParseSambaVersion(s)
		require.NoError(t, err)
		return &Facts{SambaVersion: v}
	}
	assert.Equal(t, `"error opening config file '...'"`, cantLoadLine(at("4.13.13")))
	assert.Equal(t, `"Can't load ... - run testparm to debug it"`, cantLoadLine(at("4.22.11")))
	for _, s := range []string{"", "4.99.1"} {
		l := cantLoadLine(at(s))
		assert.Contains(t, l, "Can't load", s)
		assert.Contains(t, l, "error opening config file", s)
	}
}
