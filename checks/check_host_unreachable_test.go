package checks

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks/probe"
)

func TestHostUnreachableCauses(t *testing.T) {
	unreach := withTCP(probe.ClassUnreachable, probe.TCPUnreachable)
	lan := func(up bool, addr string) factsMod {
		return func(f *Facts) {
			f.Target.Host = "192.0.2.10"
			f.Net = &NetFacts{Interfaces: []NetInterface{{Name: "lo", Up: true, Addrs: []string{"127.0.0.1/8"}}, {Name: "eth0", Up: up, Addrs: []string{addr}}}}
		}
	}
	prohibited := FirewallRule{Tool: "nft", Chain: "input", Text: "tcp dport 445 reject with icmpx admin-prohibited", Ports: []int{445}, Action: "reject", RejectWith: "icmpx admin-prohibited"}
	for _, tc := range []struct {
		name  string
		mods  []factsMod
		cause string
	}{
		{name: "healthy"},
		{name: "firewall host-prohibited", mods: []factsMod{unreach, withRule(prohibited)}, cause: causeFirewallRejectUnre},
		{name: "firewall rule seen with loopback passing", mods: []factsMod{withRule(prohibited)}, cause: causeFirewallRejectUnre},
		{name: "address missing", mods: []factsMod{unreach, lan(true, "192.0.2.99/24")}, cause: causeAddressMissing},
		{name: "interface down", mods: []factsMod{unreach, lan(false, "192.0.2.10/24")}, cause: causeInterfaceDown},
		{name: "nothing on this host", mods: []factsMod{unreach, lan(true, "192.0.2.10/24")}, cause: causeUpstreamPath},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := runOne(t, PatternHostUnreachable, newFacts(t, "[global]\n", tc.mods...))
			if tc.cause == "" {
				require.Empty(t, fs)
				return
			}
			require.Len(t, fs, 1)
			require.Equal(t, tc.cause, fs[0].Cause)
			require.NotNil(t, fs[0].Fix)
		})
	}
}
