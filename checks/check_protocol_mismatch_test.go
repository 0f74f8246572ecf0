package checks

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks/probe"
	"github.com/smb-agent/smb-agent/configs"
)

// A session setup status pysmb has no branch for: the engine reports a
// protocol error, and the agent has no config change to offer.
func TestProtocolMismatchUnknownSessionStatus(t *testing.T) {
	fs := runOne(t, PatternProtocolMismatch, newFacts(t, "[global]\n", withLogin(probe.ClassAccessDenied, probe.StatusAccessDenied)))
	fd, ok := requireCause(t, fs, causeUnknownSession)
	require.True(t, ok)
	require.Equal(t, Critical, fd.Severity)
	require.Equal(t, FixManual, fd.Fix.Kind)
}

// noEncryption: the running smbd offers encryption at no dialect, as with
// server smb encrypt = off.
var noEncryption = withProbe(func(r *probe.Result) {
	for i := range r.Dialects {
		if inf := r.Dialects[i].Negotiate.Info; inf != nil {
			inf.EncryptionCapable, inf.Cipher = false, ""
		}
	}
})

func TestProtocolMismatchCauses(t *testing.T) {
	never := preset(t, "pysmb")
	never.Name, never.Signing = "never-signs", configs.SigningNever
	encrypts := preset(t, "smbclient")
	encrypts.Name, encrypts.Preset, encrypts.Encryption = "smbclient-encrypt", "", configs.EncryptionRequired
	for _, tc := range []struct {
		name     string
		conf     string
		mods     []factsMod
		cause    string // "" = no finding
		severity Status
		line     int    // file:line of the responsible setting
		fixParam string // first change's parameter
		fixValue string
		fixRm    bool
		smb1     bool
	}{
		{name: "healthy default", conf: "[global]\n"},
		{name: "min SMB3 vs pysmb", conf: "[global]\nworkgroup = X\nserver min protocol = SMB3\n",
			cause: causeMinAboveClientMax, severity: Critical, line: 3, fixParam: "server min protocol", fixValue: "SMB2_02"},
		{name: "min SMB2 means SMB2_10", conf: "[global]\nmin protocol = SMB2\n",
			cause: causeMinAboveClientMax, severity: Critical, line: 2, fixParam: "server min protocol", fixValue: "SMB2_02"},
		{name: "min SMB3 vs windows 7 needs SMB2_10", conf: "[global]\nserver min protocol = SMB3\n", mods: []factsMod{withClients("windows-7")},
			cause: causeMinAboveClientMax, severity: Critical, line: 2, fixParam: "server min protocol", fixValue: "SMB2_10"},
		{name: "max NT1 vs an SMB2_02-SMB2_10 client", conf: "[global]\nserver min protocol = NT1\nserver max protocol = NT1\n",
			mods:  []factsMod{withClientProfiles(dialectClient(t, "SMB2_02-SMB2_10"))},
			cause: causeMaxBelowClientMin, severity: Critical, line: 3, fixParam: "server max protocol", fixRm: true},
		{name: "max NT1 vs pysmb works over SMB1", conf: "[global]\nserver min protocol = NT1\nserver max protocol = NT1\n"},
		{name: "min above max", conf: "[global]\nserver min protocol = SMB3\nserver max protocol = SMB2\n",
			cause: causeMinAboveMax, severity: Critical, line: 2, fixParam: "server min protocol", fixValue: "SMB2_02"},
		{name: "smb1-only client", conf: "[global]\n", mods: []factsMod{withClients("windows-xp")},
			cause: causeSMB1OnlyClient, severity: Critical, fixParam: "server min protocol", fixValue: "NT1", smb1: true},
		{name: "encryption required", conf: "[global]\nserver smb encrypt = required\n",
			cause: causeEncryptionReq, severity: Critical, line: 2, fixParam: "server smb encrypt", fixValue: "desired"},
		{name: "encryption via synonym", conf: "[global]\nsmb encrypt = mandatory\n",
			cause: causeEncryptionReq, severity: Critical, line: 2, fixParam: "server smb encrypt", fixValue: "desired"},
		{name: "encryption required is fine for smbclient", conf: "[global]\nserver smb encrypt = required\n", mods: []factsMod{withClients("smbclient")}},
		{name: "client requires encryption, server max SMB2_02", conf: "[global]\nserver max protocol = SMB2_02\n", mods: []factsMod{withClientProfiles(encrypts)},
			cause: causeClientEncryption, severity: Critical, line: 2, fixParam: "server max protocol", fixRm: true},
		{name: "client requires encryption, synonym protocol", conf: "[global]\nprotocol = SMB2_02\n", mods: []factsMod{withClientProfiles(encrypts)},
			cause: causeClientEncryption, severity: Critical, line: 2, fixParam: "server max protocol", fixRm: true},
		{name: "client requires encryption, encryption off", conf: "[global]\nserver smb encrypt = off\n", mods: []factsMod{withClientProfiles(encrypts), noEncryption},
			cause: causeClientEncryption, severity: Critical, line: 2, fixParam: "server smb encrypt", fixValue: "desired"},
		{name: "client requires encryption, server desired", conf: "[global]\nserver smb encrypt = desired\n", mods: []factsMod{withClientProfiles(encrypts)}},
		{name: "client requires encryption, server required", conf: "[global]\nserver smb encrypt = required\n", mods: []factsMod{withClientProfiles(encrypts)}},
		{name: "ntlm auth disabled", conf: "[global]\nntlm auth = disabled\n",
			cause: causeNTLMDisabled, severity: Critical, line: 2, fixParam: "ntlm auth", fixValue: "ntlmv2-only"},
		{name: "mandatory signing vs pysmb is a warning", conf: "[global]\nserver signing = mandatory\n",
			cause: causeSigningUnsigned, severity: Warning, line: 2, fixParam: "server signing", fixValue: "default"},
		{name: "mandatory signing vs a never-signing client", conf: "[global]\nserver signing = mandatory\n", mods: []factsMod{withClientProfiles(never)},
			cause: causeSigningUnsigned, severity: Critical, line: 2, fixParam: "server signing", fixValue: "default"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFacts(t, tc.conf, tc.mods...)
			fs := runOne(t, PatternProtocolMismatch, f)
			fd, ok := requireCause(t, fs, tc.cause)
			if !ok {
				return
			}
			require.Equal(t, tc.severity, fd.Severity, fd.Summary)
			require.NotEmpty(t, fd.Summary)
			require.NotEmpty(t, fd.Explanation)
			if tc.line > 0 {
				require.True(t, hasEvidenceAt(fd, testConf, tc.line), "evidence %+v", fd.Evidence)
			}
			require.NotNil(t, fd.Fix)
			require.NotEmpty(t, fd.Fix.Changes)
			c := fd.Fix.Changes[0]
			require.Equal(t, tc.fixParam, c.Param)
			require.Equal(t, tc.fixRm, c.Remove)
			if !tc.fixRm {
				require.Equal(t, tc.fixValue, c.Value)
			}
			require.Equal(t, tc.smb1, fd.Fix.EnablesSMB1)
			if tc.smb1 {
				require.NotEmpty(t, fd.Fix.Risk)
			}
		})
	}
}

func TestProtocolMismatchViews(t *testing.T) {
	// smb.conf allows pysmb, the running smbd refuses it: it runs with
	// another config. Critical, judged live.
	f := newFacts(t, "[global]\n", withProbe(func(r *probe.Result) {
		r.SMB1[0].Accepted, r.SMB1[0].Step = false, failStep(probe.ClassNoCommonDialect, 0)
		for i := range r.Dialects {
			if r.Dialects[i].Dialect < probe.SMB3_11 {
				r.Dialects[i].Negotiate.Accepted, r.Dialects[i].Negotiate.Step = false, failStep(probe.ClassNoCommonDialect, probe.StatusNotSupported)
			}
		}
	}))
	fs := runOne(t, PatternProtocolMismatch, f)
	require.Len(t, fs, 1)
	require.Equal(t, Critical, fs[0].Severity)
	require.Equal(t, causeMinAboveClientMax, fs[0].Cause)
	require.Contains(t, fs[0].Explanation, "stale-config")
	require.Equal(t, FixManual, fs[0].Fix.Kind)

	// smb.conf refuses pysmb, the running smbd still lets it in: latent,
	// a warning.
	f = newFacts(t, "[global]\nserver min protocol = SMB3\n", withProbe(func(r *probe.Result) {
		r.SMB1[0].Accepted, r.SMB1[0].Step, r.SMB1[0].Dialect = true, okStep(), probe.SMB2_02
	}))
	fs = runOne(t, PatternProtocolMismatch, f)
	require.Len(t, fs, 1)
	require.Equal(t, Warning, fs[0].Severity)

	// smbd not reachable: judged from smb.conf alone, still critical.
	f = newFacts(t, "[global]\nserver min protocol = SMB3\n", withTCP(probe.ClassRefused, probe.TCPRefused))
	fs = runOne(t, PatternProtocolMismatch, f)
	require.Len(t, fs, 1)
	require.Equal(t, Critical, fs[0].Severity)
	require.Contains(t, fs[0].Explanation, "Judged from smb.conf")

	// A config Samba refuses is config-invalid's, not judged here.
	f = newFacts(t, "[global]\nserver min protocol = SMB4\n")
	require.Error(t, f.ConfigErr)
	require.Empty(t, runOne(t, PatternProtocolMismatch, f))
}

func TestProtocolMismatchFixCoversEveryClient(t *testing.T) {
	f := newFacts(t, "[global]\nserver min protocol = SMB3\n", withClients("windows-7", "pysmb"))
	fs := runOne(t, PatternProtocolMismatch, f)
	require.Len(t, fs, 2)
	for _, fd := range fs {
		require.Equal(t, "SMB2_02", fd.Fix.Changes[0].Value, "one value serves both clients")
	}
}

func TestProtocolMismatchObservedClient(t *testing.T) {
	// smbd logged an SMB1-only client failing; the configured pysmb works.
	f := newFacts(t, "[global]\n", func(f *Facts) {
		f.Logs.Offers = []ClientOffer{{ClientIP: "10.1.1.5", Dialects: []string{"NT LANMAN 1.0", "NT LM 0.12"}, NoProtocol: true,
			File: "/var/log/samba/log.10.1.1.5", Line: 77}}
	})
	fs := runOne(t, PatternProtocolMismatch, f)
	require.Len(t, fs, 1)
	require.Equal(t, "observed:10.1.1.5", fs[0].Client)
	require.Equal(t, causeSMB1OnlyClient, fs[0].Cause)
	require.True(t, hasEvidenceAt(fs[0], "/var/log/samba/log.10.1.1.5", 77))
	require.True(t, fs[0].Fix.EnablesSMB1)

	// The same offer as pysmb's is pysmb itself: its evidence, no new client.
	f = newFacts(t, "[global]\nserver min protocol = SMB3\n", func(f *Facts) {
		f.Logs.Offers = []ClientOffer{{ClientIP: "10.1.1.6", Dialects: []string{"NT LM 0.12", "SMB 2.002"}, NoProtocol: true,
			File: "/var/log/samba/log.10.1.1.6", Line: 5}}
	})
	fs = runOne(t, PatternProtocolMismatch, f)
	require.Len(t, fs, 1)
	require.Equal(t, "pysmb", fs[0].Client)
	require.True(t, hasEvidenceAt(fs[0], "/var/log/samba/log.10.1.1.6", 5))
}
