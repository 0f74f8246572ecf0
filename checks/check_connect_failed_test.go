package checks

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks/probe"
)

func TestConnectFailedCauses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		conf  string
		mods  []factsMod
		cause string
		line  int
	}{
		{name: "healthy", conf: "[global]\n", mods: []factsMod{withRemoteIP("10.0.0.5")}},
		{name: "global hosts deny", conf: "[global]\nhosts deny = 10.0.0.0/8\n", mods: []factsMod{withRemoteIP("10.0.0.5")}, cause: causeHostsDenyGlobal, line: 2},
		{name: "global hosts allow without the checker", conf: "[global]\nhosts allow = 192.168.1.0/24\n", mods: []factsMod{withRemoteIP("10.0.0.5")}, cause: causeHostsDenyGlobal, line: 2},
		{name: "allow wins over deny", conf: "[global]\nhosts allow = 10.0.0.5\nhosts deny = ALL\n", mods: []factsMod{withRemoteIP("10.0.0.5")}},
		{name: "no checker address: not judged", conf: "[global]\nhosts deny = ALL\n"},
		{name: "edited after start: ipc-unavailable's, not this", conf: "[global]\nhosts deny = 10.0.0.0/8\n", mods: []factsMod{withRemoteIP("10.0.0.5"), withConfigChangedAfterStart()}},
		{name: "non-SMB listener", conf: "[global]\n", mods: []factsMod{withProbe(func(r *probe.Result) {
			r.SMB1[0].Step = failStep(probe.ClassProtocolError, 0)
		}), withListeners(Listener{Addr: "0.0.0.0", Port: 445, PID: 4242})}, cause: causeNonSMBListener},
		{name: "loopback named in hosts deny refuses the agent's own session", conf: "[global]\nhosts deny = 127.0.0.1\n", mods: []factsMod{withProbe(func(r *probe.Result) {
			r.SMB1[0].Step = failStep(probe.ClassProtocolError, 0)
		})}, cause: causeHostsDenyGlobal, line: 2},
		{name: "loopback not named: let through, the closed session is not hosts deny", conf: "[global]\nhosts deny = ALL\nhosts allow = 10.0.0.0/8\n", mods: []factsMod{withProbe(func(r *probe.Result) {
			r.SMB1[0].Step = failStep(probe.ClassProtocolError, 0)
		}), withListeners(Listener{Addr: "0.0.0.0", Port: 445, PID: 4242})}, cause: causeNonSMBListener},
		{name: "nothing on this host listens: forwarded", conf: "[global]\n", mods: []factsMod{withProbe(func(r *probe.Result) {
			r.SMB1[0].Step = failStep(probe.ClassProtocolError, 0)
		}), withListeners()}, cause: "port-forwarded"},
		{name: "dial error", conf: "[global]\n", mods: []factsMod{withProbe(func(r *probe.Result) {
			r.TCP[0].Step = probe.Step{Class: probe.ClassError, Error: "tcp connect: socket: too many open files"}
		})}, cause: "dial-error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := runOne(t, PatternConnectFailed, newFacts(t, tc.conf, tc.mods...))
			if tc.cause == "" {
				require.Empty(t, fs, "%v", causes(fs))
				return
			}
			require.Len(t, fs, 1)
			require.Equal(t, tc.cause, fs[0].Cause)
			if tc.line > 0 {
				require.True(t, hasEvidenceAt(fs[0], testConf, tc.line), "%+v", fs[0].Evidence)
				require.Equal(t, "hosts allow", fs[0].Fix.Changes[0].Param)
				if tc.conf != "[global]\nhosts deny = 127.0.0.1\n" {
					require.Contains(t, fs[0].Fix.Changes[0].Value, "10.0.0.5")
				} else {
					require.Equal(t, refusedSessionMessage, fs[0].ScoringMessage)
					require.Contains(t, fs[0].Fix.Changes[0].Value, "127.0.0.1")
				}
			}
		})
	}
}
