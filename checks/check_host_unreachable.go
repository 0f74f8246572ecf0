package checks

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/smb-agent/smb-agent/checks/probe"
)

// host-unreachable: "SMB operation failed: [Errno 113] Host is unreachable"
// (musl's text for EHOSTUNREACH): ARP for the target failed, or a fatal
// ICMP came back (host-prohibited, admin-prohibited; linux
// net/ipv4/icmp.c icmp_err_convert). Not a Samba setting: a firewall
// reject type, or the address or interface is gone (research
// scoring-engine.md §2, scenarios.md row 3).
func init() { Register(NewCheck(PatternHostUnreachable, checkHostUnreachable)) }

// Causes (03-host-unreachable.yaml).
const (
	causeAddressMissing     = "address-missing"
	causeInterfaceDown      = "interface-down"
	causeFirewallRejectUnre = "firewall-reject-unreachable"
	causeUpstreamPath       = "upstream-path"
)

func checkHostUnreachable(f *Facts) []Finding {
	t, probed := tcpPrimary(f)
	unreachable := probed && t.Class == probe.ClassUnreachable
	verdict, rule, fwKnown := firewallVerdict(f)
	if !unreachable {
		if fwKnown && verdict == "reject-unreachable" && rule != nil {
			fd := firewallUnreachableFinding(f, rule)
			if probed && t.Class == probe.ClassOK {
				fd.Explanation = joinSentences(fd.Explanation, "The agent's own connect over loopback got in (the rule does not apply to it); the engine's connection is rejected.")
			}
			return []Finding{fd}
		}
		return nil
	}
	fd := newFinding(PatternHostUnreachable, "", Critical, "")
	fd.Evidence = []Evidence{probeEvidence("TCP connect to %s: %s", t.Addr, stepText(t.Step))}
	addr, addrKnown := Answer("net.target_address", f, nil)
	switch {
	case fwKnown && verdict == "reject-unreachable" && rule != nil:
		return []Finding{firewallUnreachableFinding(f, rule)}
	case addrKnown && addr == "missing":
		fd.Cause = causeAddressMissing
		fd.Summary = fmt.Sprintf("the address %s is not configured on any interface of this host", targetHost(f))
		fd.Evidence = append(fd.Evidence, interfaceEvidence(f)...)
		fd.Fix = &Fix{Kind: FixManual, Summary: "restore the address the engine checks, or tell the scoring side the new one",
			Steps: []string{"ip -br addr", "ip -br link"}}
	case addrKnown && addr == "link-down":
		fd.Cause = causeInterfaceDown
		fd.Summary = fmt.Sprintf("the interface holding %s is down or has no carrier", targetHost(f))
		fd.Evidence = append(fd.Evidence, interfaceEvidence(f)...)
		fd.Fix = &Fix{Kind: FixManual, Summary: "bring the interface up (ip link set IFACE up) and check its cable or virtual switch",
			Steps: []string{"ip -br link", "ip link set IFACE up"}}
	default:
		fd.Cause = causeUpstreamPath
		fd.Summary = "this host has the address and no firewall rule rejects the port; the unreachable comes from the network path"
		fd.Fix = &Fix{Kind: FixManual, Summary: "check the routers and firewalls between the engine and this host",
			Steps: []string{"ip -br addr", "ip route"}}
	}
	return []Finding{fd}
}

func firewallUnreachableFinding(f *Facts, r *FirewallRule) Finding {
	fd := newFinding(PatternHostUnreachable, causeFirewallRejectUnre, Critical,
		fmt.Sprintf("a %s rule rejects TCP port %d with %s: the engine gets \"Host is unreachable\"", r.Tool, targetPort(f), strings.TrimSpace(r.RejectWith)))
	fd.Evidence = []Evidence{firewallEvidence(r)}
	fd.Fix = &Fix{Kind: FixFirewall, Summary: "accept the engine's address on the SMB port before the reject rule",
		Steps: firewallSteps(f, r), Why: "only the engine's address is opened", Risk: "shown, never applied by the agent"}
	return fd
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
