package checks

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks/probe"
)

func TestRPCEndpointMissingCauses(t *testing.T) {
	pipeFails := withShares(probe.ClassRPCEndpointMissing, probe.StatusConnectionRefused)
	for _, tc := range []struct {
		name  string
		conf  string
		mods  []factsMod
		cause string
		line  int
	}{
		{name: "healthy", conf: "[global]\n"},
		{name: "on-demand helpers off", conf: "[global]\nrpc start on demand helpers = no\n", mods: []factsMod{pipeFails}, cause: causeOnDemandOff, line: 2},
		{name: "on-demand off judged without a probe", conf: "[global]\nrpc start on demand helpers = no\n", mods: []factsMod{withoutProbe()}, cause: causeOnDemandOff, line: 2},
		{name: "on-demand off but dcerpcd runs", conf: "[global]\nrpc start on demand helpers = no\n",
			mods: []factsMod{func(f *Facts) { f.Smbd.Dcerpcd = []Process{{PID: 300, Comm: "samba-dcerpcd", State: "S"}} }}},
		{name: "nt pipe support off", conf: "[global]\nnt pipe support = no\n", mods: []factsMod{pipeFails}, cause: causeNTPipeOff, line: 2},
		{name: "helper broken", conf: "[global]\n", mods: []factsMod{pipeFails, func(f *Facts) {
			f.RPCHelpers = []BinaryFacts{{Path: "/usr/libexec/samba/samba-dcerpcd", Exists: true, Executable: false}}
		}}, cause: causeRPCHelperBroken},
		{name: "unexplained", conf: "[global]\n", mods: []factsMod{pipeFails}, cause: causeRPCUnexplained},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := runOne(t, PatternRPCEndpointMissing, newFacts(t, tc.conf, tc.mods...))
			if tc.cause == "" {
				require.Empty(t, fs)
				return
			}
			require.Len(t, fs, 1)
			require.Equal(t, tc.cause, fs[0].Cause)
			if tc.line > 0 {
				require.True(t, hasEvidenceAt(fs[0], testConf, tc.line), "%+v", fs[0].Evidence)
				require.True(t, fs[0].Fix.Changes[0].Remove, "back to the default")
			}
		})
	}
}

// With server smb encrypt = desired smbd flags the anonymous session
// SMB2_SESSION_FLAG_ENCRYPT_DATA; the probe's unencrypted listing works, a
// client that honours the flag (smbclient -N) cannot open the pipe, one
// without SMB3 (pysmb) never sees the flag (reproduced against smbd by the
// conformance suite, case encrypt-desired × smbclient-anonymous).
func TestRPCEndpointMissingAnonymousSessionEncrypted(t *testing.T) {
	const conf = "[global]\nserver smb encrypt = desired\n"
	anonymous := func(encrypted bool) factsMod {
		return withProbe(func(r *probe.Result) {
			r.Login.User, r.Login.Anonymous, r.Login.Encrypted = "", true, encrypted
			if encrypted {
				r.Login.SessionFlags = 0x0004
			}
		})
	}
	fs := runOne(t, PatternRPCEndpointMissing, newFacts(t, conf, withClients("smbclient", "pysmb"), anonymous(true)))
	require.Len(t, fs, 1, "%v", causes(fs))
	fd := fs[0]
	require.Equal(t, causeAnonymousEncrypted, fd.Cause)
	require.Equal(t, "smbclient", fd.Client, "pysmb negotiates no SMB3: smbd never flags its session")
	require.True(t, hasEvidenceAt(fd, testConf, 2), "%+v", fd.Evidence)
	require.Equal(t, "if_required", fd.Fix.Changes[0].Value)
	require.Equal(t, "server smb encrypt", fd.Fix.Changes[0].Param)

	// smbd now and then drops the connection during the listing on such a
	// session (it fails to encrypt a reply): the same cause.
	fs = runOne(t, PatternRPCEndpointMissing, newFacts(t, conf, withClients("smbclient"), anonymous(true),
		withShares(probe.ClassClosed, 0)))
	require.Len(t, fs, 1, "%v", causes(fs))
	require.Equal(t, causeAnonymousEncrypted, fs[0].Cause)
	require.Contains(t, fs[0].Evidence[0].Text, "dropped the connection")

	// Samba 4.13 encrypts its reply to the IPC$ tree connect of such a
	// session: the agent cannot read it, nor can the client.
	fs = runOne(t, PatternRPCEndpointMissing, newFacts(t, conf, withClients("smbclient"), anonymous(true), withProbe(func(r *probe.Result) {
		*r.IPC = failStep(probe.ClassProtocolError, 0)
		r.Shares.Step = probe.Step{Class: probe.ClassSkipped}
	})))
	require.Len(t, fs, 1, "%v", causes(fs))
	require.Equal(t, causeAnonymousEncrypted, fs[0].Cause)
	require.Contains(t, fs[0].Evidence[0].Text, "IPC$ tree connect")

	// Not flagged, an authenticated session, or a listing that failed for
	// everyone: not this cause.
	require.Empty(t, runOne(t, PatternRPCEndpointMissing, newFacts(t, conf, withClients("smbclient"), anonymous(false))))
	require.Empty(t, runOne(t, PatternRPCEndpointMissing, newFacts(t, conf, withClients("smbclient"),
		withProbe(func(r *probe.Result) { r.Login.Encrypted = true }))))
	fs = runOne(t, PatternRPCEndpointMissing, newFacts(t, conf+"nt pipe support = no\n", withClients("smbclient"), anonymous(true),
		withShares(probe.ClassRPCEndpointMissing, probe.StatusAccessDenied)))
	require.Len(t, fs, 1)
	require.Equal(t, causeNTPipeOff, fs[0].Cause)
	require.Empty(t, fs[0].Client, "a server-side refusal is every client's")
}

func TestRPCBindFailedCauses(t *testing.T) {
	bind := withShares(probe.ClassRPCBindFailed, probe.StatusPipeDisconnected)
	fs := runOne(t, PatternRPCBindFailed, newFacts(t, "[global]\n"))
	require.Empty(t, fs)
	fs = runOne(t, PatternRPCBindFailed, newFacts(t, "[global]\n", bind))
	require.Len(t, fs, 1)
	require.Equal(t, causeRPCBindTransient, fs[0].Cause)
	fs = runOne(t, PatternRPCBindFailed, newFacts(t, "[global]\n", bind, func(f *Facts) {
		f.Smbd.Dcerpcd = []Process{{PID: 300, Comm: "rpcd_classic", State: "T"}}
	}))
	require.Len(t, fs, 1)
	require.Equal(t, causeRPCWorkerDied, fs[0].Cause)
}
