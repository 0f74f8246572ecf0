package conformance

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks"
	"github.com/smb-agent/smb-agent/configs"
)

// testedProfile returns the agent profile of a client configuration the
// suite runs for real.
func testedProfile(t *testing.T, name string) configs.ClientProfile {
	t.Helper()
	for _, c := range Clients() {
		if c.Name != name {
			continue
		}
		if c.Custom != nil {
			return *c.Custom
		}
		p, ok := configs.Preset(c.Profile)
		require.True(t, ok)
		return p
	}
	t.Fatalf("no tested client configuration %q", name)
	return configs.ClientProfile{}
}

// TestModelledPresetsFollowTestedProfiles keeps every modelled preset (one
// that cannot be run here) consistent with the client configurations the
// suite does run: its dialect behaviour must equal, on every server range,
// the negotiation of a tested configuration, and each requirement
// (signing, encryption, NTLM level) must equal a tested configuration's,
// unless the row says which value no real client here exercises.
func TestModelledPresetsFollowTestedProfiles(t *testing.T) {
	rows := []struct {
		preset string
		// dialects: the tested configuration with the same negotiation
		// outcome on every server range, except where the server range is
		// in exceptMax (SMB1-only servers, which pysmb's NT LM 0.12 reaches
		// and an SMB2_02-only client does not).
		dialects  string
		exceptMax []string
		signing   string
		encrypt   string
		auth      string
		// untested names the requirement values no tested configuration
		// has, so that the report can say so.
		untested string
	}{
		{preset: "pysmb", dialects: "smbclient-max-smb2_02", exceptMax: []string{"NT1"},
			signing: "smbclient-max-smb2_02", encrypt: "smbclient-max-smb2_02", auth: "impacket"},
		{preset: "windows-xp", dialects: "smbclient-nt1", auth: "smbclient-ntlmv1", encrypt: "smbclient-nt1",
			untested: "signing desired (no tested client signs when the server merely allows it)"},
		{preset: "windows-7", dialects: "", signing: "smbclient", auth: "smbclient", encrypt: "smbclient-max-smb2_02",
			untested: "the NT1-SMB2_10 range through SMB 2.??? (impacket covers the SMB 2.??? path up to SMB3_00)"},
		{preset: "windows-10", dialects: "smbclient", signing: "smbclient", encrypt: "smbclient", auth: "smbclient"},
		{preset: "windows-11", dialects: "smbclient-signing", signing: "smbclient-signing", encrypt: "smbclient-signing", auth: "smbclient-signing"},
		{preset: "macos", dialects: "smbclient", signing: "smbclient", encrypt: "smbclient", auth: "smbclient"},
	}
	covered := map[string]bool{}
	for _, r := range rows {
		t.Run(r.preset, func(t *testing.T) {
			covered[r.preset] = true
			p, ok := configs.Preset(r.preset)
			require.True(t, ok)
			_, isModelled := configs.Modelled(r.preset)
			require.True(t, isModelled)
			if r.dialects != "" {
				tp := testedProfile(t, r.dialects)
				for _, lo := range checks.TableDialects {
					for _, hi := range checks.TableDialects {
						if configs.DialectRank(lo) > configs.DialectRank(hi) || contains(r.exceptMax, hi) {
							continue
						}
						require.Equal(t, checks.NegotiateModel(tp, lo, hi).OK(), checks.NegotiateModel(p, lo, hi).OK(),
							"server %s-%s: %s and the tested %s must agree", lo, hi, r.preset, r.dialects)
					}
				}
			}
			if r.signing != "" {
				require.Equal(t, testedProfile(t, r.signing).Signing, p.Signing, "signing as %s", r.signing)
			}
			if r.encrypt != "" {
				require.Equal(t, testedProfile(t, r.encrypt).Encryption, p.Encryption, "encryption as %s", r.encrypt)
			}
			if r.auth != "" {
				require.Equal(t, testedProfile(t, r.auth).Auth, p.Auth, "auth as %s", r.auth)
			}
			if r.dialects == "" || r.signing == "" || r.encrypt == "" || r.auth == "" {
				require.NotEmpty(t, r.untested, "say what no tested configuration covers")
			}
			if r.untested != "" {
				t.Logf("%s: not covered by a tested client: %s", r.preset, r.untested)
			}
		})
	}
	for _, n := range configs.PresetNames() {
		if _, ok := configs.Modelled(n); ok {
			require.True(t, covered[n], "modelled preset %s has no row", n)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
