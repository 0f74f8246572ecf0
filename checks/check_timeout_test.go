package checks

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks/probe"
)

func TestTimeoutCauses(t *testing.T) {
	tcpTimeout := withTCP(probe.ClassTimeout, probe.TCPTimeout)
	smbTimeout := withProbe(func(r *probe.Result) {
		r.SMB1[0].Step = failStep(probe.ClassTimeout, 0)
		r.Multi.Step = failStep(probe.ClassTimeout, 0)
		r.Login.Step = failStep(probe.ClassTimeout, 0)
	})
	drop := FirewallRule{Tool: "nft", Chain: "input", Text: "tcp dport 445 drop", Ports: []int{445}, Action: "drop", Packets: 12}
	for _, tc := range []struct {
		name  string
		mods  []factsMod
		cause string
		msg   string
	}{
		{name: "healthy"},
		{name: "firewall drop", mods: []factsMod{tcpTimeout, withRule(drop)}, cause: causeFirewallDrop, msg: msgTCPTimeout},
		{name: "drop rule, loopback passes", mods: []factsMod{withRule(drop)}, cause: causeFirewallDrop, msg: msgTCPTimeout},
		{name: "no route back", mods: []factsMod{tcpTimeout, withRemoteIP("10.9.9.9"), func(f *Facts) {
			no := false
			f.Net = &NetFacts{RouteToClient: &no}
		}}, cause: causeNoRouteBack, msg: msgTCPTimeout},
		{name: "upstream", mods: []factsMod{tcpTimeout, withRemoteIP("10.9.9.9"), func(f *Facts) {
			yes := true
			f.Net = &NetFacts{RouteToClient: &yes}
		}}, cause: causeUpstreamDrop, msg: msgTCPTimeout},
		{name: "no checker address: the route back is unknown", mods: []factsMod{tcpTimeout}, cause: CauseUnexplained},
		{name: "smbd stopped", mods: []factsMod{smbTimeout, func(f *Facts) { f.Smbd.Master.State = "T" }}, cause: causeSmbdStopped, msg: msgSMBTimeout},
		{name: "silent listener", mods: []factsMod{smbTimeout, withoutSmbd(), withListeners(Listener{Addr: "0.0.0.0", Port: 445, PID: 999})}, cause: causeSilentListener, msg: msgSMBTimeout},
		{name: "smbd hangs", mods: []factsMod{smbTimeout, withListeners(Listener{Addr: "0.0.0.0", Port: 445, PID: 100, Backlog: 3})}, cause: causeSmbdUnresponsive, msg: msgSMBTimeout},
		{name: "rpc worker hangs", mods: []factsMod{withShares(probe.ClassTimeout, 0)}, cause: causeRPCDHung, msg: msgSMBTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := runOne(t, PatternTimeout, newFacts(t, "[global]\n", tc.mods...))
			fd, ok := requireCause(t, fs, tc.cause)
			if !ok {
				return
			}
			if tc.msg != "" {
				require.Equal(t, tc.msg, fd.ScoringMessage)
			}
		})
	}
}
