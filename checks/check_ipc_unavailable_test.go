package checks

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks/probe"
	"github.com/smb-agent/smb-agent/configs"
)

func TestIPCUnavailableCauses(t *testing.T) {
	ipcDenied := withIPC(probe.ClassIPCUnavailable, probe.StatusAccessDenied)
	for _, tc := range []struct {
		name  string
		conf  string
		mods  []factsMod
		cause string
		line  int
	}{
		{name: "healthy", conf: "[global]\n", mods: []factsMod{withRemoteIP("10.0.0.5")}},
		{name: "[IPC$] hosts deny", conf: "[global]\n[IPC$]\nhosts deny = 0.0.0.0/0\n", mods: []factsMod{withRemoteIP("10.0.0.5")}, cause: causeIPCSectionHosts, line: 3},
		{name: "[IPC$] hosts allow without the checker", conf: "[global]\n[IPC$]\nhosts allow = 192.168.0.0/16\n", mods: []factsMod{withRemoteIP("10.0.0.5")}, cause: causeIPCSectionHosts, line: 3},
		{name: "global hosts edited without reload", conf: "[global]\nhosts deny = 10.0.0.0/8\n", mods: []factsMod{withRemoteIP("10.0.0.5"), withConfigChangedAfterStart(), ipcDenied}, cause: causeGlobalHostsNoReload, line: 2},
		{name: "invalid users", conf: "[global]\ninvalid users = scorer\n", mods: []factsMod{ipcDenied}, cause: causeIPCUserDenied, line: 2},
		{name: "valid users without the user", conf: "[global]\nvalid users = alice bob\n", cause: causeIPCUserDenied, line: 2},
		{name: "valid users with a group: not judged", conf: "[global]\nvalid users = @staff\n"},
		{name: "guest and restrict anonymous 2", conf: "[global]\nrestrict anonymous = 2\nmap to guest = bad user\n",
			mods: []factsMod{withProbe(func(r *probe.Result) { r.Login.Guest = true }), ipcDenied}, cause: causeGuestSessionDenied, line: 2},
		{name: "signing mandatory, client never signs", conf: "[global]\nserver signing = mandatory\n", mods: []factsMod{ipcDenied, withRemoteIP("10.0.0.5"), func(f *Facts) {
			p, _ := configs.Preset("pysmb")
			p.Name, p.Signing = "never-signs", configs.SigningNever
			f.Clients = []configs.ClientProfile{p}
		}}, cause: causeSigningUnsigned, line: 2},
		{name: "refused, nothing in smb.conf explains it", conf: "[global]\n", mods: []factsMod{ipcDenied, withRemoteIP("10.0.0.5")}, cause: causeIPCUnexplained},
		{name: "refused, no hosts list anywhere", conf: "[global]\n", mods: []factsMod{ipcDenied}, cause: causeIPCUnexplained},
		{name: "refused, a hosts list and the engine's address unknown", conf: "[global]\nhosts deny = 10.0.0.0/8\n", mods: []factsMod{ipcDenied}, cause: CauseUnexplained},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := runOne(t, PatternIPCUnavailable, newFacts(t, tc.conf, tc.mods...))
			fd, ok := requireCause(t, fs, tc.cause)
			if !ok {
				return
			}
			if tc.line > 0 {
				require.True(t, hasEvidenceAt(fd, testConf, tc.line), "%+v", fd.Evidence)
			}
		})
	}
}

func TestIPCUserFixRemovesOnlyTheUser(t *testing.T) {
	fs := runOne(t, PatternIPCUnavailable, newFacts(t, "[global]\ninvalid users = mallory scorer\n"))
	require.Len(t, fs, 1)
	require.Equal(t, "mallory", fs[0].Fix.Changes[0].Value)
	fs = runOne(t, PatternIPCUnavailable, newFacts(t, "[global]\ninvalid users = scorer\n"))
	require.True(t, fs[0].Fix.Changes[0].Remove)
}
