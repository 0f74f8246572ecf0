package checks

import (
	"net/netip"
	"strings"

	"github.com/smb-agent/smb-agent/checks/probe"
)

// Dial answers: how the probe's TCP connect to the target ended, told
// apart finely enough to name the cause when the live view could not be
// taken at all.

// targetZone is the IPv6 zone of the target ("eth0" in fe80::1%eth0).
func targetZone(f *Facts) string {
	a, err := netip.ParseAddr(strings.Trim(targetHost(f), "[]"))
	if err != nil {
		return ""
	}
	return a.Zone()
}

// zoneExists reports whether an interface of that name is known (known
// false when the interfaces were not read).
func zoneExists(f *Facts, zone string) (exists, known bool) {
	if f.Net == nil || len(f.Net.Interfaces) == 0 {
		return false, false
	}
	for _, i := range f.Net.Interfaces {
		if i.Name == zone {
			return true, true
		}
	}
	return false, true
}

// dialError is probe.dial_error. The probe keeps the dialer's error text;
// Go's resolver and the kernel's errno texts are stable ("no such host"
// from net.DNSError, "network is unreachable" for ENETUNREACH, "invalid
// argument" for EINVAL, which connect(2) returns for a link-local address
// whose scope id names no interface).
func dialError(f *Facts) (string, bool) {
	t, ok := tcpPrimary(f)
	if !ok || t.Class == probe.ClassSkipped {
		return "", false
	}
	msg := strings.ToLower(t.Error)
	switch t.Class {
	case probe.ClassOK:
		return "none", true
	case probe.ClassRefused:
		return "refused", true
	case probe.ClassReset:
		return "refused", true
	case probe.ClassTimeout:
		return "timeout", true
	case probe.ClassUnreachable:
		if strings.Contains(msg, "network is unreachable") {
			return "no-route", true
		}
		return "host-unreachable", true
	}
	if strings.Contains(msg, "no such host") || strings.Contains(msg, "lookup ") {
		return "name-does-not-resolve", true
	}
	if z := targetZone(f); z != "" {
		exists, known := zoneExists(f, z)
		if (known && !exists) || strings.Contains(msg, "invalid argument") || strings.Contains(msg, "no such network interface") {
			return "no-such-zone", true
		}
	}
	return "other", true
}

func ansDialError(c *answerCtx) (string, bool) { return dialError(c.f) }

// tcpEvidence is the probe's TCP connect as evidence.
func tcpEvidence(f *Facts) []Evidence {
	t, ok := tcpPrimary(f)
	if !ok {
		return nil
	}
	return []Evidence{probeEvidence("TCP connect to %s: %s", t.Addr, stepText(t.Step))}
}

// agentAddress is the address the agent's probe connects from: the target
// itself when it is an address of this host (the kernel picks it as the
// source), which is what smbd's hosts allow/deny judge.
func agentAddress(f *Facts) (string, bool) {
	a, err := netip.ParseAddr(strings.Trim(targetHost(f), "[]"))
	if err != nil || a.Zone() != "" {
		return "", false
	}
	a = a.Unmap()
	if a.IsLoopback() {
		return a.String(), true
	}
	if addr, _ := ansTargetAddress(&answerCtx{f: f}); addr == "up" {
		return a.String(), true
	}
	return "", false
}

// hostsExcludeAgent is config.hosts_exclude_agent.
func hostsExcludeAgent(f *Facts) (excluded bool, why string, known bool) {
	ip, ok := agentAddress(f)
	if !ok || f.Config == nil {
		return false, "", false
	}
	allowed, why := f.Config.AllowsHost("global", "", ip, f.Net.HostAddrs())
	return !allowed, why, true
}

func ansHostsExcludeAgent(c *answerCtx) (string, bool) {
	ex, _, ok := hostsExcludeAgent(c.f)
	if !ok {
		return "", false
	}
	return yesNo(ex), true
}
