package checks

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks/probe"
)

// dialFailed is a probe whose TCP connect to host failed with err.
func dialFailed(host string, c probe.Class, err string) factsMod {
	return func(f *Facts) {
		f.Target.Host = host
		f.Probe.TCP[0].Step = probe.Step{Class: c, Error: err}
		f.Probe.TCP[0].Outcome = "error"
	}
}

// A target the agent could not even dial is never healthy.
func TestUnobservedTargetIsCritical(t *testing.T) {
	f := newFacts(t, "[global]\n", dialFailed("nonexist.invalid", probe.ClassError, "dial tcp: lookup nonexist.invalid: no such host"))
	r := Evaluate(f)
	require.Equal(t, Critical, r.Status, "%v", causes(r.Findings))
	require.Equal(t, PatternHostUnreachable, r.Findings[0].Pattern)
	require.Equal(t, "name-does-not-resolve", r.Findings[0].Cause)
	last := r.Findings[0].Decision[len(r.Findings[0].Decision)-1]
	require.Equal(t, "cause name-does-not-resolve", last.Answer)
	require.Equal(t, "dial", r.Findings[0].Decision[0].Node)
}

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
		{name: "name does not resolve", mods: []factsMod{dialFailed("nonexist.invalid", probe.ClassError, "tcp connect nonexist.invalid:445: dial tcp: lookup nonexist.invalid on 10.0.0.53:53: no such host")}, cause: "name-does-not-resolve"},
		{name: "zone names no interface", mods: []factsMod{dialFailed("fe80::1%nosuch0", probe.ClassError, "tcp connect [fe80::1%nosuch0]:445: dial tcp [fe80::1%nosuch0]:445: connect: invalid argument")}, cause: "zone-does-not-exist"},
		{name: "no route", mods: []factsMod{dialFailed("198.51.100.7", probe.ClassUnreachable, "tcp connect 198.51.100.7:445: dial tcp 198.51.100.7:445: connect: network is unreachable")}, cause: "no-route"},
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

// LiveViewError (what `agent fix` refuses on) agrees with the report: a
// refused or accepted connect is an observation, anything else is not.
func TestLiveViewError(t *testing.T) {
	require.Empty(t, newFacts(t, "[global]\n").LiveViewError())
	require.Empty(t, newFacts(t, "[global]\n", withTCP(probe.ClassRefused, probe.TCPRefused)).LiveViewError())
	for _, mod := range []factsMod{
		dialFailed("nonexist.invalid", probe.ClassError, "dial tcp: lookup nonexist.invalid: no such host"),
		withTCP(probe.ClassTimeout, probe.TCPTimeout),
		withTCP(probe.ClassUnreachable, probe.TCPUnreachable),
	} {
		f := newFacts(t, "[global]\n", mod)
		require.NotEmpty(t, f.LiveViewError())
		require.Equal(t, Critical, Evaluate(f).Status)
	}
	require.NotEmpty(t, (&Facts{}).LiveViewError())
}
