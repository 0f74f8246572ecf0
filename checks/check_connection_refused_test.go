package checks

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks/probe"
)

func TestConnectionRefusedCauses(t *testing.T) {
	refused := withTCP(probe.ClassRefused, probe.TCPRefused)
	for _, tc := range []struct {
		name  string
		conf  string
		mods  []factsMod
		cause string
		kind  string
		line  int
	}{
		{name: "healthy", conf: "[global]\n"},
		{name: "smbd not running", conf: "[global]\n", mods: []factsMod{refused, withoutSmbd()}, cause: causeSmbdNotRunning, kind: FixStart},
		{name: "smbd listens and the firewall accepts: refused on the way", conf: "[global]\n", mods: []factsMod{refused}, cause: "refused-on-path", kind: FixManual},
		{name: "config does not load", conf: "[global]\nserver min protocol = SMB4\n", mods: []factsMod{refused, withoutSmbd()}, cause: causeSmbdWontStart, kind: FixStart, line: 2},
		{name: "wrong port", conf: "[global]\nsmb ports = 4455\n",
			mods: []factsMod{refused, withListeners(Listener{Addr: "0.0.0.0", Port: 4455, PID: 100})}, cause: causeWrongPort, kind: FixConfig, line: 2},
		{name: "port edited, not restarted", conf: "[global]\nsmb ports = 445\n",
			mods:  []factsMod{refused, withConfigChangedAfterStart(), withListeners(Listener{Addr: "0.0.0.0", Port: 4455, PID: 100})},
			cause: causeListenNotApplied, kind: FixRestart},
		{name: "bound to another interface", conf: "[global]\ninterfaces = 127.0.0.1\nbind interfaces only = yes\n",
			mods:  []factsMod{refused, func(f *Facts) { f.Target.Host = "::1" }, withListeners(Listener{Addr: "127.0.0.1", Port: 445, PID: 100})},
			cause: causeBoundElsewhere, kind: FixConfig, line: 2},
		{name: "firewall reject", conf: "[global]\n",
			mods:  []factsMod{refused, withRule(FirewallRule{Tool: "nft", Table: "inet filter", Chain: "input", Text: "tcp dport 445 reject", Ports: []int{445}, Action: "reject"})},
			cause: causeFirewallReject, kind: FixFirewall},
		{name: "firewall reject for the remote checker only", conf: "[global]\n",
			mods: []factsMod{withRemoteIP("10.0.0.5"), withRule(FirewallRule{Tool: "iptables", Chain: "INPUT", Text: "-A INPUT -s 10.0.0.0/8 -p tcp --dport 445 -j REJECT --reject-with tcp-reset",
				Ports: []int{445}, Action: "reject", RejectWith: "tcp-reset", Source: "10.0.0.0/8"})},
			cause: causeFirewallReject, kind: FixFirewall},
		{name: "reject rule for another source", conf: "[global]\n",
			mods: []factsMod{withRemoteIP("192.0.2.1"), withRule(FirewallRule{Tool: "iptables", Chain: "INPUT", Ports: []int{445}, Action: "reject", Source: "10.0.0.0/8"})}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := runOne(t, PatternConnectionRefused, newFacts(t, tc.conf, tc.mods...))
			fd, ok := requireCause(t, fs, tc.cause)
			if !ok {
				return
			}
			require.Equal(t, Critical, fd.Severity)
			require.Equal(t, tc.kind, fd.Fix.Kind)
			if tc.line > 0 {
				require.True(t, hasEvidenceAt(fd, testConf, tc.line), "%+v", fd.Evidence)
			}
		})
	}
}

func TestWrongPortFixKeepsPorts(t *testing.T) {
	f := newFacts(t, "[global]\nsmb ports = 4455 139\n", withTCP(probe.ClassRefused, probe.TCPRefused),
		withListeners(Listener{Addr: "0.0.0.0", Port: 4455, PID: 100}))
	fs := runOne(t, PatternConnectionRefused, f)
	require.Len(t, fs, 1)
	require.Equal(t, "4455 139 445", fs[0].Fix.Changes[0].Value)
}
