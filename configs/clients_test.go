package configs

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseClientDialects(t *testing.T) {
	tests := []struct {
		in       string
		min, max string
		wantErr  string
	}{
		{in: "SMB2_02-SMB2_10", min: "SMB2_02", max: "SMB2_10"},
		{in: "NT1-NT1", min: "NT1", max: "NT1"},
		{in: "nt1-smb3_11", min: "NT1", max: "SMB3_11"},
		{in: " SMB2_02 - SMB3_00 ", min: "SMB2_02", max: "SMB3_00"},
		{in: "SMB3_02", min: "SMB3_02", max: "SMB3_02"},
		// Samba's aliases: SMB2 is SMB2_10, SMB3 is SMB3_11 (enum_protocol).
		{in: "SMB2-SMB3", min: "SMB2_10", max: "SMB3_11"},
		{in: "CORE+-LANMAN2", min: "COREPLUS", max: "LANMAN2"},
		{in: "", wantErr: "empty dialect range"},
		{in: "SMB3_11-NT1", wantErr: "SMB3_11 is newer than NT1"},
		{in: "SMB2_22-SMB3_11", wantErr: `unknown dialect "SMB2_22"`},
		{in: "NT1-SMB4", wantErr: `unknown dialect "SMB4"`},
		{in: "default", wantErr: `unknown dialect "default"`},
		{in: "NT1-", wantErr: `unknown dialect ""`},
		{in: "NT1-SMB2_02-SMB3_11", wantErr: "unknown dialect"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			lo, hi, err := ParseClientDialects(tc.in)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, [2]string{tc.min, tc.max}, [2]string{lo, hi})
		})
	}
}

func TestPresetsAreValidAndSourced(t *testing.T) {
	ps := Presets()
	require.Equal(t, DefaultClient, ps[0].Name)
	want := []string{"pysmb", "impacket", "smbclient", "windows-xp", "windows-7", "windows-10", "windows-11", "macos"}
	require.Equal(t, want, PresetNames())
	for _, p := range ps {
		t.Run(p.Name, func(t *testing.T) {
			orig := p.clone()
			require.Empty(t, p.Validate())
			require.Equal(t, orig, p, "presets must already be canonical")
			require.LessOrEqual(t, DialectRank(p.MinDialect), DialectRank(p.MaxDialect))
			require.NotEmpty(t, p.Sources)
			require.NotEmpty(t, p.Description)
			for _, s := range p.Sources {
				require.NotEmpty(t, strings.TrimSpace(s))
			}
			if p.Encryption != EncryptionNone {
				require.GreaterOrEqual(t, DialectRank(p.MaxDialect), DialectRank("SMB3_00"),
					"only SMB3 can encrypt")
			}
			// A client that opens with an SMB1 NEGOTIATE offers what it
			// lists; one that starts in SMB1 must open with one.
			if DialectRank(p.MinDialect) <= DialectRank("NT1") && p.Name != "macos" {
				require.NotEmpty(t, p.SMB1Offer)
			}
		})
	}
	// Presets() returns copies.
	ps[0].SMB1Offer[0] = "changed"
	again, _ := Preset("pysmb")
	require.Equal(t, "NT LM 0.12", again.SMB1Offer[0])
}

func TestPresetFacts(t *testing.T) {
	// The facts the diagnosis depends on, spelled out.
	py := mustPreset(t, "pysmb")
	require.Equal(t, []string{"NT LM 0.12", "SMB 2.002"}, py.SMB1Offer)
	require.Equal(t, "SMB2_02", py.MaxDialect)
	require.Equal(t, EncryptionNone, py.Encryption)
	require.Equal(t, AuthNTLMv2, py.Auth)
	// server min protocol = SMB2 means SMB2_10, which pysmb does not offer.
	smb2, err := CanonicalDialect("SMB2")
	require.NoError(t, err)
	require.False(t, py.Offers(smb2))
	require.True(t, py.Offers("SMB2_02"))
	require.True(t, py.Offers("NT1"))

	require.Equal(t, SigningRequired, mustPreset(t, "windows-11").Signing)
	require.Equal(t, AuthNTLMv1, mustPreset(t, "windows-xp").Auth)
	require.Equal(t, "NT1", mustPreset(t, "windows-xp").MaxDialect)
	require.Equal(t, "SMB2_10", mustPreset(t, "windows-7").MaxDialect)
	require.Equal(t, "SMB3_00", mustPreset(t, "impacket").MaxDialect)
	require.Equal(t, "SMB2_02", mustPreset(t, "smbclient").MinDialect)

	_, ok := Preset("Windows-7")
	require.True(t, ok, "preset names are case-insensitive")
	_, ok = Preset("os2")
	require.False(t, ok)
}

func TestSMB1OfferDialect(t *testing.T) {
	for in, want := range map[string]string{
		"NT LM 0.12": "NT1", "nt lanman 1.0": "NT1", "SMB 2.002": "SMB2_02", "SMB 2.???": "SMB2_10",
		"LANMAN2.1": "LANMAN2", "PC NETWORK PROGRAM 1.0": "CORE",
	} {
		got, ok := SMB1OfferDialect(in)
		require.True(t, ok, in)
		require.Equal(t, want, got, in)
	}
	_, ok := SMB1OfferDialect("SMB 3.1.1")
	require.False(t, ok)
}

func TestProfileFromSMB1Offer(t *testing.T) {
	p, err := ProfileFromSMB1Offer("log:10.0.0.7", []string{"NT LM 0.12", "SMB 2.002"})
	require.NoError(t, err)
	require.Equal(t, "NT1", p.MinDialect)
	require.Equal(t, "SMB2_02", p.MaxDialect)
	require.Empty(t, p.Validate())

	p, err = ProfileFromSMB1Offer("x", []string{"NT LANMAN 1.0", "NT LM 0.12", "SMB 2.002", "SMB 2.???", "FOO"})
	require.NoError(t, err)
	require.Equal(t, "SMB2_10", p.MaxDialect)
	require.Contains(t, p.Description, "unknown strings ignored: FOO")

	_, err = ProfileFromSMB1Offer("x", []string{"FOO"})
	require.ErrorContains(t, err, "no known SMB1 dialect")
	_, err = ProfileFromSMB1Offer("x", nil)
	require.Error(t, err)
}

func TestValidateProfile(t *testing.T) {
	p := ClientProfile{Name: "lab", MinDialect: "smb2", MaxDialect: "smb3", Signing: "If_Required",
		Encryption: "DESIRED", Auth: "NTLMv2", SMB1Offer: []string{"SMB 2.???"}}
	require.Empty(t, p.Validate())
	require.Equal(t, "SMB2_10", p.MinDialect)
	require.Equal(t, "SMB3_11", p.MaxDialect)
	require.Equal(t, SigningIfRequired, p.Signing)
	require.Equal(t, EncryptionDesired, p.Encryption)
	require.Equal(t, AuthNTLMv2, p.Auth)

	// A client that wants encryption but cannot do SMB3 simply cannot encrypt.
	p = ClientProfile{Name: "old", MinDialect: "NT1", MaxDialect: "SMB2_10", Signing: "never",
		Encryption: "desired", Auth: "ntlmv1"}
	require.Empty(t, p.Validate())
	require.Equal(t, EncryptionNone, p.Encryption)

	p = ClientProfile{MinDialect: "x", MaxDialect: "NT1", Signing: "s", Encryption: "e", Auth: "a",
		SMB1Offer: []string{"SMB 2.002", "BOGUS"}}
	var msgs []string
	for _, e := range p.Validate() {
		msgs = append(msgs, e.Error())
	}
	require.Equal(t, []string{
		"name: must not be empty",
		`min_dialect: unknown dialect "x" (want one of CORE, COREPLUS, LANMAN1, LANMAN2, NT1, SMB2_02, SMB2_10, SMB3_00, SMB3_02, SMB3_11)`,
		`smb1_offer: "SMB 2.002" offers SMB2_02, above max_dialect NT1`,
		`smb1_offer: unknown SMB1 dialect string "BOGUS"`,
		`signing: invalid value "s" (want never|if-required|desired|required)`,
		`encryption: invalid value "e" (want none|if-required|desired|required)`,
		`auth: invalid value "a" (want ntlmv1|ntlmv2|kerberos-or-ntlmv2)`,
	}, msgs)
}

func TestClientsResolution(t *testing.T) {
	lab := ClientProfile{Name: "lab", MinDialect: "SMB3_00", MaxDialect: "SMB3_11", Signing: SigningRequired,
		Encryption: EncryptionRequired, Auth: AuthKerberosOrNTLMv2, Sources: []string{"ours"}}
	myPysmb := ClientProfile{Name: "PySMB", MinDialect: "NT1", MaxDialect: "NT1", SMB1Offer: []string{"NT LM 0.12"},
		Signing: SigningNever, Encryption: EncryptionNone, Auth: AuthNTLMv1}
	tests := []struct {
		name       string
		client     string
		dialects   string
		configured []ClientProfile
		wantNames  []string
		wantRange  [2]string
		wantOffer  []string
		wantErr    string
	}{
		{name: "nothing configured: pysmb", wantNames: []string{"pysmb"}, wantRange: [2]string{"NT1", "SMB2_02"},
			wantOffer: []string{"NT LM 0.12", "SMB 2.002"}},
		{name: "configured list", configured: []ClientProfile{lab, myPysmb}, wantNames: []string{"lab", "PySMB"},
			wantRange: [2]string{"SMB3_00", "SMB3_11"}},
		{name: "client picks a preset", configured: []ClientProfile{lab}, client: "windows-7",
			wantNames: []string{"windows-7"}, wantRange: [2]string{"NT1", "SMB2_10"},
			wantOffer: mustPreset(t, "windows-7").SMB1Offer},
		{name: "client picks a configured profile", configured: []ClientProfile{lab}, client: "LAB",
			wantNames: []string{"lab"}, wantRange: [2]string{"SMB3_00", "SMB3_11"}},
		{name: "configured profile shadows the preset", configured: []ClientProfile{myPysmb}, client: "pysmb",
			wantNames: []string{"PySMB"}, wantRange: [2]string{"NT1", "NT1"}, wantOffer: []string{"NT LM 0.12"}},
		{name: "dialects alone describe a client", configured: []ClientProfile{lab}, dialects: "SMB2_02-SMB2_10",
			wantNames: []string{"dialects:SMB2_02-SMB2_10"}, wantRange: [2]string{"SMB2_02", "SMB2_10"}},
		{name: "dialects alone starting at NT1 open with SMB1", dialects: "NT1-SMB3_11",
			wantNames: []string{"dialects:NT1-SMB3_11"}, wantRange: [2]string{"NT1", "SMB3_11"},
			wantOffer: []string{"NT LM 0.12", "SMB 2.002", "SMB 2.???"}},
		{name: "dialects NT1 only", dialects: "NT1-NT1", wantNames: []string{"dialects:NT1-NT1"},
			wantRange: [2]string{"NT1", "NT1"}, wantOffer: []string{"NT LM 0.12"}},
		{name: "dialects narrow the chosen client", client: "impacket", dialects: "SMB2_02-SMB2_10",
			wantNames: []string{"impacket:SMB2_02-SMB2_10"}, wantRange: [2]string{"SMB2_02", "SMB2_10"},
			wantOffer: []string{"SMB 2.002", "SMB 2.???"}},
		{name: "narrowed to SMB3 has no SMB1 offer", client: "windows-7", dialects: "SMB3_00-SMB3_11",
			wantNames: []string{"windows-7:SMB3_00-SMB3_11"}, wantRange: [2]string{"SMB3_00", "SMB3_11"}},
		{name: "unknown client", client: "amiga", wantErr: `unknown client profile "amiga"`},
		{name: "bad dialects", dialects: "NT2", wantErr: "client_dialects"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Client, cfg.ClientDialects, cfg.ClientProfiles = tc.client, tc.dialects, tc.configured
			got, err := cfg.Clients()
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			var names []string
			for _, p := range got {
				names = append(names, p.Name)
			}
			require.Equal(t, tc.wantNames, names)
			require.Equal(t, tc.wantRange, [2]string{got[0].MinDialect, got[0].MaxDialect})
			require.Equal(t, tc.wantOffer, got[0].SMB1Offer)
			if DialectRank(got[0].MaxDialect) < DialectRank("SMB3_00") {
				require.Equal(t, EncryptionNone, got[0].Encryption)
			}
		})
	}
}

func TestClientsFromFile(t *testing.T) {
	cfg, err := Load(LoadOptions{Env: noEnv, File: writeFile(t, `
client: Scorer
clients:
  - name: scorer
    preset: pysmb
    signing: never
  - preset: windows-11
  - name: custom
    description: hand-written
    min_dialect: smb2_02
    max_dialect: smb3_11
    smb1_offer: []
    signing: desired
    encryption: if_required
    auth: kerberos-or-ntlmv2
    sources: [lab notes]
`)})
	require.NoError(t, err)
	require.Len(t, cfg.ClientProfiles, 3)
	scorer := cfg.ClientProfiles[0]
	require.Equal(t, "scorer", scorer.Name)
	require.Equal(t, "pysmb", scorer.Preset)
	require.Equal(t, SigningNever, scorer.Signing)
	require.Equal(t, "SMB2_02", scorer.MaxDialect, "unset fields come from the preset")
	require.Equal(t, mustPreset(t, "pysmb").Sources, scorer.Sources)
	require.Equal(t, "windows-11", cfg.ClientProfiles[1].Name)
	custom := cfg.ClientProfiles[2]
	require.Equal(t, "SMB2_02", custom.MinDialect)
	require.Equal(t, EncryptionIfRequired, custom.Encryption)
	require.Equal(t, []string{"lab notes"}, custom.Sources)

	got, err := cfg.Clients()
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, "scorer", got[0].Name)

	// The dump carries the clients and loads back the same.
	again, err := Load(LoadOptions{Env: noEnv, File: writeFile(t, cfg.String())})
	require.NoError(t, err)
	require.Equal(t, cfg.Settings(), again.Settings())
}

func TestDialects(t *testing.T) {
	ds := Dialects()
	require.Equal(t, "NT1", ds[4])
	require.True(t, slices.IsSortedFunc(ds, func(a, b string) int { return DialectRank(a) - DialectRank(b) }))
	ds[0] = "x"
	require.Equal(t, "CORE", Dialects()[0])
	require.Equal(t, -1, DialectRank("SMB2"), "aliases are not canonical")
}

// TestModelledPresetsMatchTheirDocumentation compares every modelled
// preset with what the documents it cites say: the dialect range (MS-SMB2
// Appendix A product behaviour notes name the highest dialect of each
// Windows release; MS-SMB 1.7 for SMB1-only Windows XP), whether the client
// opens with an SMB1 NEGOTIATE, the signing and encryption it needs, and
// the NTLM level (LmCompatibilityLevel defaults). A preset edited away from
// its documentation fails here; a new document changes this table first.
func TestModelledPresetsMatchTheirDocumentation(t *testing.T) {
	documented := []struct {
		preset     string
		min, max   string
		smb1       bool // opens with an SMB1 multi-protocol NEGOTIATE
		signing    string
		encryption string
		auth       string
		cite       string // must appear in the preset's Sources
	}{
		// MS-SMB 1.7: Windows XP speaks SMB1 (NT LM 0.12) only;
		// LmCompatibilityLevel 0 on XP sends LM and NTLMv1.
		{"windows-xp", "NT1", "NT1", true, SigningDesired, EncryptionNone, AuthNTLMv1, "network-security-lan-manager-authentication-level"},
		// MS-SMB2 Appendix A: Windows 7 supports 2.0.2 and 2.1; it opens
		// with the multi-protocol negotiate (MS-SMB2 3.2.4.2.2.1).
		{"windows-7", "NT1", "SMB2_10", true, SigningIfRequired, EncryptionNone, AuthKerberosOrNTLMv2, "MS-SMB2 3.2.4.2.2.1"},
		// MS-SMB2 Appendix A: Windows 10 up to 3.1.1; SMBv1 not installed
		// since 1709.
		{"windows-10", "SMB2_02", "SMB3_11", false, SigningIfRequired, EncryptionIfRequired, AuthKerberosOrNTLMv2, "smbv1-not-installed-by-default"},
		// Windows 11 24H2 requires signing on every outbound connection.
		{"windows-11", "SMB2_02", "SMB3_11", false, SigningRequired, EncryptionIfRequired, AuthKerberosOrNTLMv2, "signing-required-by-default"},
		// nsmb.conf(5): protocol_vers_map 7 (SMB1-3), signing_required no,
		// minauth NTLMv2.
		{"macos", "NT1", "SMB3_11", false, SigningIfRequired, EncryptionIfRequired, AuthKerberosOrNTLMv2, "nsmb.conf(5)"},
		// pysmb smb_structs.py DIALECTS: NT LM 0.12 and SMB 2.002.
		{"pysmb", "NT1", "SMB2_02", true, SigningIfRequired, EncryptionNone, AuthNTLMv2, "smb_structs.py"},
	}
	seen := map[string]bool{}
	for _, d := range documented {
		t.Run(d.preset, func(t *testing.T) {
			p, ok := Preset(d.preset)
			require.True(t, ok)
			_, isModelled := Modelled(d.preset)
			require.True(t, isModelled, "a preset documented here is a modelled one")
			require.Equal(t, [2]string{d.min, d.max}, [2]string{p.MinDialect, p.MaxDialect}, "dialect range")
			require.Equal(t, d.smb1, len(p.SMB1Offer) > 0, "SMB1 NEGOTIATE first")
			require.Equal(t, d.signing, p.Signing)
			require.Equal(t, d.encryption, p.Encryption)
			require.Equal(t, d.auth, p.Auth)
			require.True(t, slices.ContainsFunc(p.Sources, func(s string) bool { return strings.Contains(s, d.cite) }),
				"sources of %s cite %q", d.preset, d.cite)
			seen[d.preset] = true
		})
	}
	// Every modelled preset is in the table, and only presets are modelled.
	for _, n := range PresetNames() {
		if _, ok := Modelled(n); ok {
			require.True(t, seen[n], "modelled preset %s has no documentation row", n)
		}
	}
	require.Len(t, modelled, len(seen))
}
