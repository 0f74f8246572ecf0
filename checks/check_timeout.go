package checks

import (
	"fmt"

	"github.com/smb-agent/smb-agent/checks/probe"
)

// timeout: two messages, two layers (research scenarios.md rows 5a/5b).
// "SMB operation failed: timed out" is the TCP connect: no SYN-ACK within
// 5 s (a firewall DROP, no route back). "SMB operation timed out in 5
// seconds" is pysmb's SMBTimeout: TCP connected, then no SMB reply (smbd
// stopped or hung, a silent program on the port, a hung RPC worker).
func init() { Register(NewCheck(PatternTimeout, checkTimeout)) }

// Causes (05-timeout.yaml).
const (
	causeFirewallDrop     = "firewall-drop"
	causeNoRouteBack      = "no-route-back"
	causeUpstreamDrop     = "upstream-drop"
	causeSmbdStopped      = "smbd-stopped"
	causeSmbdUnresponsive = "smbd-unresponsive"
	causeSilentListener   = "silent-listener"
	causeRPCDHung         = "rpcd-hung"
)

const (
	msgTCPTimeout = "SMB operation failed: timed out"
	msgSMBTimeout = "SMB operation timed out in 5 seconds"
)

func checkTimeout(f *Facts) []Finding {
	t, probed := tcpPrimary(f)
	verdict, rule, fwKnown := firewallVerdict(f)
	switch {
	case probed && t.Class == probe.ClassTimeout:
		return []Finding{tcpTimeoutFinding(f, t, verdict, rule, fwKnown)}
	case probed && t.Class == probe.ClassOK:
		if fd, ok := smbTimeoutFinding(f); ok {
			return []Finding{fd}
		}
	}
	if fwKnown && verdict == "drop" && rule != nil {
		// The loopback probe got in, but the engine's packets are dropped.
		fd := newFinding(PatternTimeout, causeFirewallDrop, Critical,
			fmt.Sprintf("a %s rule drops TCP port %d: the engine's connect times out", rule.Tool, targetPort(f)))
		fd.ScoringMessage = msgTCPTimeout
		fd.Evidence = []Evidence{firewallEvidence(rule)}
		if probed && t.Class == probe.ClassOK {
			fd.Explanation = "The agent's own connect over loopback got in (the rule does not apply to it); the engine's SYN is dropped."
		}
		fd.Fix = &Fix{Kind: FixFirewall, Summary: "accept the engine's address on the SMB port before the drop rule",
			Steps: firewallSteps(f, rule), Why: "only the engine's address is opened", Risk: "shown, never applied by the agent"}
		return []Finding{fd}
	}
	return nil
}

func tcpTimeoutFinding(f *Facts, t probe.TCPResult, verdict string, rule *FirewallRule, fwKnown bool) Finding {
	fd := newFinding(PatternTimeout, "", Critical, "")
	fd.ScoringMessage = msgTCPTimeout
	fd.Evidence = []Evidence{probeEvidence("TCP connect to %s: %s", t.Addr, stepText(t.Step))}
	route, routeKnown := Answer("net.route_to_client", f, nil)
	switch {
	case fwKnown && verdict == "drop" && rule != nil:
		fd.Cause = causeFirewallDrop
		fd.Summary = fmt.Sprintf("a %s rule drops TCP port %d: the connect times out", rule.Tool, targetPort(f))
		fd.Evidence = append(fd.Evidence, firewallEvidence(rule))
		fd.Fix = &Fix{Kind: FixFirewall, Summary: "accept the engine's address on the SMB port before the drop rule",
			Steps: firewallSteps(f, rule), Why: "only the engine's address is opened", Risk: "shown, never applied by the agent"}
	case routeKnown && route == "no":
		fd.Cause = causeNoRouteBack
		fd.Summary = fmt.Sprintf("this host has no route back to %s, so its SYN-ACKs never arrive", f.RemoteClientIP)
		fd.Fix = &Fix{Kind: FixManual, Summary: "restore the default route (or the route to the engine's network)",
			Steps: []string{"ip route get " + orUnknown(f.RemoteClientIP), "ip route"}}
	default:
		fd.Cause = causeUpstreamDrop
		fd.Summary = "no SYN-ACK within the deadline and nothing on this host drops it: a device on the path does"
		fd.Fix = &Fix{Kind: FixManual, Summary: fmt.Sprintf("capture during a check (tcpdump -ni any tcp port %d): no SYN means the drop is upstream", targetPort(f))}
	}
	return fd
}

// smbTimeoutFinding: TCP connected, then no SMB reply.
func smbTimeoutFinding(f *Facts) (Finding, bool) {
	r := f.Probe
	var step probe.Step
	what := ""
	if s, ok := smb1Probe(f, probe.OfferPysmb); ok && s.Class == probe.ClassTimeout {
		step, what = s.Step, "SMB1 NEGOTIATE (pysmb's offer)"
	} else if r.Multi.Class == probe.ClassTimeout {
		step, what = r.Multi.Step, "SMB2 NEGOTIATE"
	}
	if what == "" {
		// Negotiate and login answered; a hung RPC worker stalls the listing.
		if r.Login != nil && r.Login.OK() && r.Shares != nil && r.Shares.Class == probe.ClassTimeout {
			fd := newFinding(PatternTimeout, causeRPCDHung, Critical,
				"login works, but the share listing hangs in the RPC worker (srvsvc)")
			fd.ScoringMessage = msgSMBTimeout
			fd.Evidence = []Evidence{probeEvidence("share listing: %s", stepText(r.Shares.Step))}
			for _, p := range f.Smbd.Dcerpcd {
				fd.Evidence = append(fd.Evidence, Evidence{Kind: "process", Text: fmt.Sprintf("%s pid %d state %s", p.Comm, p.PID, p.State)})
			}
			fd.Fix = &Fix{Kind: FixManual, Summary: "continue or kill the stuck rpcd worker; samba-dcerpcd starts a new one on the next pipe open",
				Steps: []string{"ps -o pid,stat,lstart,args -C samba-dcerpcd,rpcd_classic"}}
			return fd, true
		}
		return Finding{}, false
	}
	fd := newFinding(PatternTimeout, "", Critical, "")
	fd.ScoringMessage = msgSMBTimeout
	fd.Evidence = []Evidence{probeEvidence("%s: %s", what, stepText(step))}
	listening, owner, _ := listeningOnPort(f)
	state, _ := smbdState(f)
	switch {
	case state == "stopped":
		fd.Cause = causeSmbdStopped
		fd.Summary = fmt.Sprintf("the smbd master (pid %d) is stopped (state T): connections queue and are never answered", f.Smbd.Master.PID)
		fd.Explanation = "Someone or something sent it SIGSTOP; find out who before continuing it (possible tampering)."
		fd.Evidence = append(fd.Evidence, processEvidence(f)...)
		fd.Fix = &Fix{Kind: FixManual, Summary: fmt.Sprintf("continue it: kill -CONT %d (or restart smbd)", f.Smbd.Master.PID),
			Steps: []string{fmt.Sprintf("kill -CONT %d", f.Smbd.Master.PID)}}
	case listening == "other":
		fd.Cause = causeSilentListener
		fd.Summary = fmt.Sprintf("port %d is held by a program that is not smbd (pid %d) and never answers", targetPort(f), owner)
		fd.Evidence = append(fd.Evidence, socketEvidence(f)...)
		fd.Fix = &Fix{Kind: FixManual, Summary: "stop the program holding the port, then restart smbd so that it binds it",
			Steps: []string{fmt.Sprintf("ss -ltnp 'sport = :%d'", targetPort(f))}}
	default:
		fd.Cause = causeSmbdUnresponsive
		fd.Summary = "smbd accepts connections but does not answer within the deadline"
		fd.Evidence = append(fd.Evidence, processEvidence(f)...)
		fd.Evidence = append(fd.Evidence, socketEvidence(f)...)
		fd.Fix = &Fix{Kind: FixManual, Summary: "find what smbd waits on (state D, storage, domain controller, DNS), fix it, then restart smbd if it does not recover",
			Steps: []string{"ps -o pid,stat,wchan:32,lstart,comm --ppid " + masterPIDText(f)}}
	}
	return fd, true
}
