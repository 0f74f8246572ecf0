package checks

import (
	"fmt"
	"net/netip"
	"strings"
)

// host-unreachable: "SMB operation failed: [Errno 113] Host is unreachable"
// (musl's text for EHOSTUNREACH): ARP for the target failed, or a fatal
// ICMP came back (host-prohibited, admin-prohibited; linux
// net/ipv4/icmp.c icmp_err_convert). It also covers a target the agent
// could not even dial: a name that does not resolve, a link-local zone
// that names no interface, no route. Not a Samba setting.
func init() {
	RegisterPattern(Pattern{ID: PatternHostUnreachable, Deps: StopsConnection, Fires: hostUnreachableFires, Causes: map[string]CauseBuilder{
		"name-does-not-resolve": func(f *Facts, _ Trigger, fd *Finding) {
			fd.Summary = fmt.Sprintf("the name %s does not resolve: the agent could not look at the live server", targetHost(f))
			fd.ScoringMessage = "SMB operation failed: [Errno -2] Name or service not known"
		},
		"zone-does-not-exist": func(f *Facts, _ Trigger, fd *Finding) {
			fd.Summary = fmt.Sprintf("the zone %q of %s names no interface of this host: the agent could not look at the live server", targetZone(f), targetHost(f))
			// Python's getaddrinfo rejects the unknown scope before any
			// connect (measured with Debian's python3: socket.gaierror).
			fd.ScoringMessage = "SMB operation failed: [Errno -2] Name or service not known"
			fd.Evidence = append(fd.Evidence, interfaceEvidence(f)...)
		},
		"no-route": func(f *Facts, _ Trigger, fd *Finding) {
			fd.Summary = fmt.Sprintf("this host has no route to %s: the agent could not look at the live server", targetHost(f))
			fd.ScoringMessage = "SMB operation failed: [Errno 101] Network unreachable"
		},
		causeAddressMissing: func(f *Facts, _ Trigger, fd *Finding) {
			fd.Summary = fmt.Sprintf("the address %s is not configured on any interface of this host", targetHost(f))
			fd.Evidence = append(fd.Evidence, interfaceEvidence(f)...)
			fd.Fix = &Fix{Kind: FixManual, Summary: "restore the address the engine checks, or tell the scoring side the new one",
				Steps: []string{"ip -br addr", "ip -br link"}}
		},
		causeInterfaceDown: func(f *Facts, _ Trigger, fd *Finding) {
			fd.Summary = fmt.Sprintf("the interface holding %s is down or has no carrier", targetHost(f))
			fd.Evidence = append(fd.Evidence, interfaceEvidence(f)...)
			fd.Fix = &Fix{Kind: FixManual, Summary: "bring the interface up (ip link set IFACE up) and check its cable or virtual switch",
				Steps: []string{"ip -br link", "ip link set IFACE up"}}
		},
		causeFirewallRejectUnre: func(f *Facts, _ Trigger, fd *Finding) {
			_, r, _ := firewallVerdict(f)
			if r == nil {
				return
			}
			fd.Summary = fmt.Sprintf("a %s rule rejects TCP port %d with %s: the engine gets \"Host is unreachable\"", r.Tool, targetPort(f), strings.TrimSpace(r.RejectWith))
			fd.Evidence = append(fd.Evidence, firewallEvidence(r))
			if d, _ := dialError(f); d == "none" {
				fd.Explanation = "The agent's own connect over loopback got in (the rule does not apply to it); the engine's connection is rejected."
			}
			fd.Fix = &Fix{Kind: FixFirewall, Summary: "accept the engine's address on the SMB port before the reject rule",
				Steps: firewallSteps(f, r), Why: "only the engine's address is opened", Risk: "shown, never applied by the agent"}
		},
		causeUpstreamPath: func(f *Facts, _ Trigger, fd *Finding) {
			fd.Summary = "this host has the address and no firewall rule rejects the port; the unreachable comes from the network path"
			fd.Fix = &Fix{Kind: FixManual, Summary: "check the routers and firewalls between the engine and this host",
				Steps: []string{"ip -br addr", "ip route"}}
		},
	}})
}

// Causes (03-host-unreachable.yaml) other packages' code names.
const (
	causeAddressMissing     = "address-missing"
	causeInterfaceDown      = "interface-down"
	causeFirewallRejectUnre = "firewall-reject-unreachable"
	causeUpstreamPath       = "upstream-path"
)

// hostUnreachableFires: the agent's connect failed before reaching any
// listener, or a firewall rule answers the engine with an ICMP unreachable
// (the agent's loopback connect is not subject to it).
func hostUnreachableFires(f *Facts) []Trigger {
	d, known := dialError(f)
	switch {
	case known && (d == "name-does-not-resolve" || d == "no-such-zone" || d == "no-route" || d == "host-unreachable"):
	default:
		if v, r, ok := firewallVerdict(f); !ok || v != "reject-unreachable" || r == nil {
			return nil
		}
	}
	return []Trigger{{Evidence: tcpEvidence(f)}}
}

// interfaceEvidence lists the interfaces and their addresses.
func interfaceEvidence(f *Facts) []Evidence {
	if f.Net == nil {
		return nil
	}
	var ev []Evidence
	for _, i := range f.Net.Interfaces {
		state := "DOWN"
		if i.Up {
			state = "UP"
		}
		ev = append(ev, Evidence{Kind: "network", Text: fmt.Sprintf("%s %s %s", i.Name, state, strings.Join(i.Addrs, " "))})
	}
	return ev
}

// isLoopbackHost reports whether host is a loopback address.
func isLoopbackHost(host string) bool {
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && a.Unmap().IsLoopback()
}
