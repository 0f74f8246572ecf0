package checks

import (
	"net/netip"
	"slices"
	"strings"
)

// Answer functions of the firewall.* and net.* facts (see answers.go).

// firewallVerdict is what the first firewall rule matching a new TCP
// connection from the remote checker (any source when unknown) to the
// target port does, with that rule. Rules of output/forward chains do not
// see incoming connections.
func firewallVerdict(f *Facts) (string, *FirewallRule, bool) {
	if len(f.Firewall.Tools) == 0 {
		return "", nil, false
	}
	port := targetPort(f)
	for i := range f.Firewall.Rules {
		r := &f.Firewall.Rules[i]
		ch := strings.ToLower(r.Chain)
		if strings.Contains(ch, "output") || strings.Contains(ch, "forward") || strings.Contains(ch, "postrouting") {
			continue
		}
		if len(r.Ports) > 0 && !slices.Contains(r.Ports, port) {
			continue
		}
		if !sourceMatches(r.Source, f.RemoteClientIP) {
			continue
		}
		switch strings.ToLower(r.Action) {
		case "accept":
			return "accept", r, true
		case "drop":
			return "drop", r, true
		case "reject":
			return rejectKind(r.RejectWith), r, true
		}
	}
	return "accept", nil, true
}

// sourceMatches: a rule without a source matches everyone; with one, it
// matches the client address when known (and is assumed not to when the
// address is unknown).
func sourceMatches(src, client string) bool {
	src = strings.TrimSpace(src)
	if src == "" || src == "0.0.0.0/0" || src == "::/0" {
		return true
	}
	if client == "" {
		return false
	}
	neg := strings.HasPrefix(src, "!")
	src = strings.TrimSpace(strings.TrimPrefix(src, "!"))
	c, err := netip.ParseAddr(client)
	if err != nil {
		return false
	}
	m := false
	if p, err := netip.ParsePrefix(src); err == nil {
		m = p.Contains(c.Unmap())
	} else if a, err := netip.ParseAddr(src); err == nil {
		m = a.Unmap() == c.Unmap()
	}
	return m != neg
}

// rejectKind maps a reject type to what the client sees: errno 111 for a
// TCP reset or ICMP port-unreachable (the iptables and nft default), 113
// for host-unreachable / host- or admin-prohibited (linux
// net/ipv4/icmp.c icmp_err_convert).
func rejectKind(with string) string {
	w := strings.ToLower(with)
	switch {
	case w == "", strings.Contains(w, "reset"), strings.Contains(w, "port-unreach"), strings.Contains(w, "port unreach"):
		return "reject-refused"
	}
	return "reject-unreachable"
}

func ansFirewallVerdict(c *answerCtx) (string, bool) {
	v, _, ok := firewallVerdict(c.f)
	return v, ok
}

func ansTargetAddress(c *answerCtx) (string, bool) {
	a, err := netip.ParseAddr(strings.Trim(targetHost(c.f), "[]"))
	if err != nil {
		return "", false
	}
	if a.Unmap().IsLoopback() {
		return "up", true
	}
	if c.f.Net == nil {
		return "", false
	}
	for _, ifc := range c.f.Net.Interfaces {
		for _, s := range ifc.Addrs {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				continue
			}
			if p.Addr().Unmap() == a.Unmap() {
				if ifc.Up {
					return "up", true
				}
				return "link-down", true
			}
		}
	}
	return "missing", true
}

func ansRouteToClient(c *answerCtx) (string, bool) {
	if c.f.Net == nil || c.f.Net.RouteToClient == nil {
		return "", false
	}
	return yesNo(*c.f.Net.RouteToClient), true
}
