package checks

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks/probe"
	"github.com/smb-agent/smb-agent/configs/smbconf"
)

// Samba 4.13 (Debian 11): no samba-dcerpcd (smbd serves RPC pipes in the
// connection's own child), no "rpc start on demand helpers", and the
// encryption setting is "smb encrypt" ("server smb encrypt" since 4.14).
var v41313 = smbconf.SambaVersion{Major: 4, Minor: 13, Patch: 13, Raw: "Version 4.13.13-Debian"}

// atRelease re-reads conf as release v reads it (its parameter table).
func atRelease(t *testing.T, v smbconf.SambaVersion, conf string) factsMod {
	return func(f *Facts) {
		cfg, err := smbconf.Parse([]byte(conf), testConf, smbconf.LoadOptions{Version: v, Hostname: "testhost"})
		require.NotNil(t, cfg)
		f.Config, f.ConfigErr, f.SambaVersion = cfg, err, v
	}
}

func noRPCHelpersOnDisk(f *Facts) {
	for i := range f.RPCHelpers {
		f.RPCHelpers[i].Exists, f.RPCHelpers[i].Executable = false, false
	}
}

func causeIDs(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Cause)
	}
	return out
}

func decisionAnswers(fd Finding) string {
	var b strings.Builder
	for _, d := range fd.Decision {
		b.WriteString(d.Fact + "=" + d.Answer + " ")
	}
	return b.String()
}

func TestRPCQuestionsAnswerFromTheRelease(t *testing.T) {
	f := newFacts(t, "[global]\n", atRelease(t, v41313, "[global]\n"), noRPCHelpersOnDisk)
	for _, key := range []string{"process.dcerpcd_running", "process.rpc_helpers_ok"} {
		got, known := Answer(key, f, nil)
		require.True(t, known, key)
		require.Equal(t, notInRelease, got, "%s on 4.13, which has no samba-dcerpcd", key)
	}
	// 4.17 has samba-dcerpcd: the same facts answer from the host.
	f = newFacts(t, "[global]\n", noRPCHelpersOnDisk)
	got, _ := Answer("process.rpc_helpers_ok", f, nil)
	require.Equal(t, "no", got)
	got, _ = Answer("process.dcerpcd_running", f, nil)
	require.Equal(t, "no", got)
}

func TestRPCEndpointMissingOn413(t *testing.T) {
	pipeFails := withShares(probe.ClassRPCEndpointMissing, probe.StatusAccessDenied)
	t.Run("rpc start on demand helpers = no is an ignored line, not a cause", func(t *testing.T) {
		conf := "[global]\nrpc start on demand helpers = no\n"
		fs := runOne(t, PatternRPCEndpointMissing, newFacts(t, conf, atRelease(t, v41313, conf)))
		require.Empty(t, fs)
		// The same line on 4.17 is the cause.
		fs = runOne(t, PatternRPCEndpointMissing, newFacts(t, conf, withoutProbe()))
		require.Equal(t, []string{causeOnDemandOff}, causeIDs(fs))
	})
	t.Run("missing helpers are not the cause where the release has none", func(t *testing.T) {
		fs := runOne(t, PatternRPCEndpointMissing, newFacts(t, "[global]\n", atRelease(t, v41313, "[global]\n"), noRPCHelpersOnDisk, pipeFails))
		require.Equal(t, []string{causeRPCUnexplained}, causeIDs(fs))
		require.Contains(t, decisionAnswers(fs[0]), "process.rpc_helpers_ok=not-in-release")
		// On 4.17 they are.
		fs = runOne(t, PatternRPCEndpointMissing, newFacts(t, "[global]\n", noRPCHelpersOnDisk, pipeFails))
		require.Equal(t, []string{causeRPCHelperBroken}, causeIDs(fs))
	})
	t.Run("nt pipe support = no", func(t *testing.T) {
		conf := "[global]\nnt pipe support = no\n"
		fs := runOne(t, PatternRPCEndpointMissing, newFacts(t, conf, atRelease(t, v41313, conf), noRPCHelpersOnDisk, pipeFails))
		require.Equal(t, []string{causeNTPipeOff}, causeIDs(fs))
		require.True(t, hasEvidenceAt(fs[0], testConf, 2))
	})
}

func TestRPCBindFailedOn413NamesTheSmbdChild(t *testing.T) {
	bind := withShares(probe.ClassRPCBindFailed, probe.StatusPipeDisconnected)
	stuckChild := func(f *Facts) {
		f.Smbd.Children = append(f.Smbd.Children, Process{PID: 103, PPID: 100, Comm: "smbd", State: "T"})
	}
	fs := runOne(t, PatternRPCBindFailed, newFacts(t, "[global]\n", atRelease(t, v41313, "[global]\n"), noRPCHelpersOnDisk, bind, stuckChild))
	require.Equal(t, []string{causeRPCWorkerDied}, causeIDs(fs))
	require.Contains(t, fs[0].Summary, "smbd child")
	require.Contains(t, fs[0].Explanation, "Samba 4.16 and later")
	require.NotContains(t, strings.Join(fs[0].Fix.Steps, " "), "rpcd_classic")
	// Healthy children on 4.13: transient, whatever samba-dcerpcd would say.
	fs = runOne(t, PatternRPCBindFailed, newFacts(t, "[global]\n", atRelease(t, v41313, "[global]\n"), noRPCHelpersOnDisk, bind))
	require.Equal(t, []string{causeRPCBindTransient}, causeIDs(fs))
}

func TestEncryptionRequiredUsesTheReleasesName(t *testing.T) {
	for _, tc := range []struct {
		v     smbconf.SambaVersion
		param string
	}{
		{v41313, "smb encrypt"},
		{v41712, "server smb encrypt"},
	} {
		t.Run(tc.v.Series(), func(t *testing.T) {
			conf := "[global]\n" + tc.param + " = required\n"
			fs := runOne(t, PatternProtocolMismatch, newFacts(t, conf, atRelease(t, tc.v, conf), withClients("pysmb")))
			fd := findingFor(t, fs, causeEncryptionReq)
			require.Len(t, fd.Fix.Changes, 1)
			require.Equal(t, tc.param, fd.Fix.Changes[0].Param)
			require.Equal(t, "desired", fd.Fix.Changes[0].Value)
			require.Contains(t, fd.Summary, "("+tc.param+" = required)")
			require.True(t, hasEvidenceAt(fd, testConf, 2), "%+v", fd.Evidence)
		})
	}
	// 4.13 ignores "server smb encrypt": no encryption requirement there.
	conf := "[global]\nserver smb encrypt = required\n"
	fs := runOne(t, PatternProtocolMismatch, newFacts(t, conf, atRelease(t, v41313, conf), withClients("pysmb")))
	require.NotContains(t, causeIDs(fs), causeEncryptionReq)
}
