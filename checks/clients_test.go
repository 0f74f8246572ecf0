package checks

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/configs"
	"github.com/smb-agent/smb-agent/configs/smbconf"
)

func preset(t *testing.T, name string) configs.ClientProfile {
	t.Helper()
	p, ok := configs.Preset(name)
	require.True(t, ok, name)
	return p
}

// NegotiateModel must reproduce what smbd 4.17.12 answers on loopback (the
// same cases run against real smbd in test/probe_scenarios_test.go, e.g.
// TestProbeServerMinProtocolSMB2 and TestProbeSMB1OnlyServer) and the rule
// of source3/smbd/smb1_negprot.c reply_negprot.
func TestNegotiateModel(t *testing.T) {
	for _, tc := range []struct {
		name, client, min, max string
		want                   string // "" = no dialect
		reply                  string
	}{
		// pysmb: one SMB1 NEGOTIATE with NT LM 0.12 + SMB 2.002.
		{"pysmb default server", "pysmb", "SMB2_02", "SMB3_11", "SMB2_02", ""},
		{"pysmb min SMB2 (=SMB2_10)", "pysmb", "SMB2_10", "SMB3_11", "", "DialectIndex 0xFFFF"},
		{"pysmb min SMB3", "pysmb", "SMB3_11", "SMB3_11", "", "DialectIndex 0xFFFF"},
		{"pysmb min NT1 prefers SMB 2.002", "pysmb", "NT1", "SMB3_11", "SMB2_02", ""},
		{"pysmb NT1-only server", "pysmb", "NT1", "NT1", "NT1", ""},
		{"pysmb max SMB2_02", "pysmb", "SMB2_02", "SMB2_02", "SMB2_02", ""},
		// Windows 7: SMB 2.??? then an SMB2 NEGOTIATE up to SMB2_10.
		{"win7 default", "windows-7", "SMB2_02", "SMB3_11", "SMB2_10", ""},
		{"win7 min SMB2_10", "windows-7", "SMB2_10", "SMB3_11", "SMB2_10", ""},
		{"win7 min SMB3: wildcard chosen, SMB2 negotiate fails", "windows-7", "SMB3_00", "SMB3_11", "", "STATUS_NOT_SUPPORTED"},
		// impacket offers SMB 2.??? and goes to SMB3_00.
		{"impacket min SMB3_11", "impacket", "SMB3_11", "SMB3_11", "", "STATUS_NOT_SUPPORTED"},
		{"impacket default", "impacket", "SMB2_02", "SMB3_11", "SMB3_00", ""},
		// Native SMB2 clients.
		{"smbclient min SMB3", "smbclient", "SMB3_11", "SMB3_11", "SMB3_11", ""},
		{"smbclient NT1-only server", "smbclient", "NT1", "NT1", "", "STATUS_NOT_SUPPORTED"},
		{"win10 default", "windows-10", "SMB2_02", "SMB3_11", "SMB3_11", ""},
		// SMB1-only client against the 4.11+ default.
		{"xp default server", "windows-xp", "SMB2_02", "SMB3_11", "", "DialectIndex 0xFFFF"},
		{"xp min NT1", "windows-xp", "NT1", "SMB3_11", "NT1", ""},
		// min above max: nothing for anyone.
		{"min above max", "smbclient", "SMB3_11", "SMB2_10", "", "STATUS_NOT_SUPPORTED"},
		{"empty range (max default)", "pysmb", "SMB2_02", "", "", "DialectIndex 0xFFFF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := NegotiateModel(preset(t, tc.client), tc.min, tc.max)
			require.Equal(t, tc.want, n.Dialect, n.Why)
			require.Equal(t, tc.reply, n.Reply, n.Why)
			require.NotEmpty(t, n.Why)
		})
	}
}

func TestNegotiateModelCustomRange(t *testing.T) {
	c := dialectClient(t, "SMB2_02-SMB2_10")
	require.Empty(t, c.SMB1Offer)
	require.Equal(t, "SMB2_10", NegotiateModel(c, "SMB2_02", "SMB3_11").Dialect)
	require.False(t, NegotiateModel(c, "SMB3_00", "SMB3_11").OK())
	require.False(t, NegotiateModel(c, "NT1", "NT1").OK())
	nt1 := dialectClient(t, "NT1-NT1")
	require.Equal(t, "NT1", NegotiateModel(nt1, "NT1", "SMB3_11").Dialect)
	require.False(t, NegotiateModel(nt1, "SMB2_02", "SMB3_11").OK())
}

func TestNeededMin(t *testing.T) {
	for _, tc := range []struct {
		name    string
		clients []configs.ClientProfile
		max     string
		want    string
		ok      bool
	}{
		{"pysmb needs SMB2_02, not NT1", []configs.ClientProfile{preset(t, "pysmb")}, "SMB3_11", "SMB2_02", true},
		{"windows 7 needs SMB2_10", []configs.ClientProfile{preset(t, "windows-7")}, "SMB3_11", "SMB2_10", true},
		{"smbclient keeps SMB3_11", []configs.ClientProfile{preset(t, "smbclient")}, "SMB3_11", "SMB3_11", true},
		{"both: the lower", []configs.ClientProfile{preset(t, "windows-7"), preset(t, "pysmb")}, "SMB3_11", "SMB2_02", true},
		{"xp needs NT1", []configs.ClientProfile{preset(t, "windows-xp")}, "SMB3_11", "NT1", true},
		{"max below every client", []configs.ClientProfile{preset(t, "smbclient")}, "NT1", "", false},
		{"custom range", []configs.ClientProfile{dialectClient(t, "SMB2_02-SMB2_10")}, "SMB3_11", "SMB2_10", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := NeededMin(tc.clients, tc.max)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.want, got)
		})
	}
	got, ok := NeededMax([]configs.ClientProfile{preset(t, "smbclient")}, "SMB2_02", "NT1")
	require.True(t, ok)
	require.Equal(t, "SMB2_02", got)
}

func TestJudgeClientRequirements(t *testing.T) {
	base := ServerPolicy{View: "config", Min: "SMB2_02", Max: "SMB3_11", NTLMAuth: "ntlmv2-only", KnownEncrypt: true, KnownNTLM: true, KnownSigning: true}
	for _, tc := range []struct {
		name    string
		client  configs.ClientProfile
		mod     func(*ServerPolicy)
		blocker string
		status  string
		risk    bool
	}{
		{"healthy pysmb", preset(t, "pysmb"), func(*ServerPolicy) {}, BlockNone, "", false},
		{"encryption vs pysmb", preset(t, "pysmb"), func(s *ServerPolicy) { s.EncryptRequired = true }, BlockEncryption, "STATUS_ACCESS_DENIED", false},
		{"encryption vs smbclient works", preset(t, "smbclient"), func(s *ServerPolicy) { s.EncryptRequired = true }, BlockNone, "", false},
		{"encryption vs windows 7 (SMB2_10)", preset(t, "windows-7"), func(s *ServerPolicy) { s.EncryptRequired = true }, BlockEncryption, "STATUS_ACCESS_DENIED", false},
		{"ntlm disabled vs pysmb", preset(t, "pysmb"), func(s *ServerPolicy) { s.NTLMAuth = "disabled" }, BlockNTLMBlocked, "STATUS_NTLM_BLOCKED", false},
		{"ntlm disabled, AD DC, kerberos client", preset(t, "windows-10"), func(s *ServerPolicy) { s.NTLMAuth = "disabled"; s.Kerberos = true }, BlockNone, "", false},
		{"ntlmv1 client vs ntlmv2-only", preset(t, "windows-xp"), func(s *ServerPolicy) { s.Min = "NT1" }, BlockNTLMv1, "STATUS_LOGON_FAILURE", false},
		{"ntlmv1 client, permitted", preset(t, "windows-xp"), func(s *ServerPolicy) { s.Min = "NT1"; s.NTLMAuth = "ntlmv1-permitted" }, BlockNone, "", false},
		{"mandatory signing vs pysmb: risk only", preset(t, "pysmb"), func(s *ServerPolicy) { s.SigningMandatory = true }, BlockNone, "", true},
		{"mandatory signing vs never-signer", func() configs.ClientProfile { p := preset(t, "pysmb"); p.Signing = configs.SigningNever; return p }(),
			func(s *ServerPolicy) { s.SigningMandatory = true }, BlockSigning, "STATUS_ACCESS_DENIED", false},
		{"dialect first", preset(t, "pysmb"), func(s *ServerPolicy) { s.Min = "SMB3_11"; s.EncryptRequired = true }, BlockDialect, "DialectIndex 0xFFFF", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := base
			tc.mod(&s)
			v := JudgeClient(tc.client, s)
			require.Equal(t, tc.blocker, v.Blocker, v.Why)
			require.Equal(t, tc.blocker == BlockNone, v.OK)
			require.Equal(t, tc.status, v.Status)
			require.Equal(t, tc.risk, v.SigningRisk)
		})
	}
}

func TestCanonicalProtocolVersions(t *testing.T) {
	d, ok := canonicalProtocol("SMB3", smbconf417())
	require.True(t, ok)
	require.Equal(t, "SMB3_11", d)
	d, _ = canonicalProtocol("SMB3", smbconfVersion(4, 2))
	require.Equal(t, "SMB3_00", d, "SMB3 meant SMB3_00 before 4.3")
	d, _ = canonicalProtocol("SMB2", smbconf417())
	require.Equal(t, "SMB2_10", d)
	_, ok = canonicalProtocol("default", smbconf417())
	require.False(t, ok)
}

func TestLivePolicyFromProbes(t *testing.T) {
	f := newFacts(t, "[global]\nserver min protocol = SMB3_00\nserver smb encrypt = required\n")
	live, ok := LivePolicy(f.Probe)
	require.True(t, ok)
	require.Equal(t, "SMB3_00", live.Min)
	require.Equal(t, "SMB3_11", live.Max)
	// No SMB2 dialect negotiates, so the encryption refusal is not seen
	// live; the config view has it.
	require.False(t, live.EncryptRequired)

	f = newFacts(t, "[global]\nserver smb encrypt = required\n")
	live, _ = LivePolicy(f.Probe)
	require.True(t, live.KnownEncrypt)
	require.True(t, live.EncryptRequired, "ACCESS_DENIED at SMB2_02/SMB2_10 with SMB3 logins working")
}

func TestObservedClients(t *testing.T) {
	l := LogFacts{Offers: []ClientOffer{
		{ClientIP: "10.0.0.9", Dialects: []string{"NT LM 0.12", "SMB 2.002"}, NoProtocol: true, File: "/var/log/samba/log.10.0.0.9", Line: 12},
		{ClientIP: "10.0.0.9", Dialects: []string{"NT LM 0.12", "SMB 2.002"}, NoProtocol: true, File: "/var/log/samba/log.10.0.0.9", Line: 40},
		{ClientIP: "10.0.0.7", Dialects: []string{"NT LANMAN 1.0", "NT LM 0.12"}, NoProtocol: true, File: "/var/log/samba/log.10.0.0.7", Line: 3},
		{ClientIP: "10.0.0.8", Dialects: []string{"SMB 2.002"}, NoProtocol: false},
	}}
	ps, src := ObservedClients(l, 3)
	require.Len(t, ps, 2)
	require.Equal(t, "observed:10.0.0.7", ps[0].Name)
	require.Equal(t, "NT1", ps[0].MaxDialect)
	require.Equal(t, "observed:10.0.0.9", ps[1].Name)
	require.Equal(t, 40, src[1].Line, "newest offer of a client")
}

func TestObservedClientsSkipsTheAgentsOwnProbes(t *testing.T) {
	l := LogFacts{Offers: []ClientOffer{
		// The agent's previous runs, logged at level 3: its NT1-only and
		// pysmb offers from loopback.
		{ClientIP: "127.0.0.1", Dialects: []string{"NT LM 0.12"}, NoProtocol: true},
		{ClientIP: "::1", Dialects: []string{"NT LM 0.12", "SMB 2.002"}, NoProtocol: true},
		{ClientIP: "::ffff:127.0.0.1", Dialects: []string{"NT LM 0.12"}, NoProtocol: true},
		// A local client with an offer of its own, and the remote scorer
		// with pysmb's offer: both real.
		{ClientIP: "127.0.0.1", Dialects: []string{"NT LANMAN 1.0", "NT LM 0.12"}, NoProtocol: true},
		{ClientIP: "192.0.2.10", Dialects: []string{"NT LM 0.12", "SMB 2.002"}, NoProtocol: true},
	}}
	ps, _ := ObservedClients(l, 10)
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
	}
	require.Equal(t, []string{"observed:192.0.2.10", "observed:127.0.0.1"}, names)
}

// A client at SMB3 that cannot encrypt, against required encryption: the
// refusal names the releases it was observed on.
func TestJudgeClientSMB3WithoutEncryptionNamesTheRange(t *testing.T) {
	p := preset(t, "smbclient")
	p.Encryption = configs.EncryptionNone
	v := JudgeClient(p, ServerPolicy{View: "config", Min: "SMB2_02", Max: "SMB3_11", NTLMAuth: "ntlmv2-only",
		KnownEncrypt: true, KnownNTLM: true, KnownSigning: true, EncryptRequired: true})
	require.Equal(t, BlockEncryption, v.Blocker, v.Why)
	require.Contains(t, v.Why, "cannot encrypt at SMB3_11")
	b, ok := smbconf.LookupBehaviour(smbconf.BehaviourEncryptRequiredRefuses)
	require.True(t, ok)
	require.Contains(t, v.Why, "("+b.For(smbconf.SambaVersion{})+")")
}
