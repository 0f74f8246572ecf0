package checks

import (
	"fmt"

	"github.com/smb-agent/smb-agent/checks/probe"
	"github.com/smb-agent/smb-agent/configs/smbconf"
)

// timeout: two messages, two layers (pysmb smb/SMBConnection.py: the
// socket timeout of connect, then SMBTimeout from _pollForNetBIOSPacket;
// reproduced by TestDiagnoseTimeout and TestProbeTimeoutWhenSmbdStopped).
// "SMB operation failed: timed out" is the TCP connect: no SYN-ACK within
// 5 s (a firewall DROP, no route back). "SMB operation timed out in 5
// seconds" is pysmb's SMBTimeout: TCP connected, then no SMB reply (smbd
// stopped or hung, a silent program on the port, a hung RPC worker).
func init() {
	RegisterPattern(Pattern{ID: PatternTimeout, Deps: StopsConnection, Fires: timeoutFires, Causes: map[string]CauseBuilder{
		causeFirewallDrop: func(f *Facts, _ Trigger, fd *Finding) {
			_, rule, _ := firewallVerdict(f)
			fd.ScoringMessage = msgTCPTimeout
			if rule == nil {
				return
			}
			fd.Summary = fmt.Sprintf("a %s rule drops TCP port %d: the engine's connect times out", rule.Tool, targetPort(f))
			fd.Evidence = append(fd.Evidence, firewallEvidence(rule))
			if d, _ := dialError(f); d == "none" {
				fd.Explanation = "The agent's own connect over loopback got in (the rule does not apply to it); the engine's SYN is dropped."
			}
			fd.Fix = &Fix{Kind: FixFirewall, Summary: "accept the engine's address on the SMB port before the drop rule",
				Steps: firewallSteps(f, rule), Why: "only the engine's address is opened", Risk: "shown, never applied by the agent"}
		},
		causeNoRouteBack: func(f *Facts, _ Trigger, fd *Finding) {
			fd.ScoringMessage = msgTCPTimeout
			fd.Summary = fmt.Sprintf("this host has no route back to %s, so its SYN-ACKs never arrive", f.RemoteClientIP)
			fd.Fix = &Fix{Kind: FixManual, Summary: "restore the default route (or the route to the engine's network)",
				Steps: []string{"ip route get " + orUnknown(f.RemoteClientIP), "ip route"}}
		},
		causeUpstreamDrop: func(f *Facts, _ Trigger, fd *Finding) {
			fd.ScoringMessage = msgTCPTimeout
			fd.Summary = "no SYN-ACK within the deadline and nothing on this host drops it: a device on the path does"
			fd.Fix = &Fix{Kind: FixManual, Summary: fmt.Sprintf("capture during a check (tcpdump -ni any tcp port %d): no SYN means the drop is upstream", targetPort(f))}
		},
		causeRPCDHung: func(f *Facts, _ Trigger, fd *Finding) {
			fd.ScoringMessage = msgSMBTimeout
			fd.Summary = "login works, but the share listing hangs in the RPC worker (srvsvc)"
			if !releaseDoes(f, smbconf.BehaviourSambaDcerpcd) {
				fd.Summary = "login works, but the share listing hangs in the smbd child, which serves srvsvc itself on this release"
				fd.Explanation = withRange(f, "samba-dcerpcd and its rpcd_classic workers serve RPC pipes", smbconf.BehaviourSambaDcerpcd) + "; before, each smbd child answers the RPC pipes of its own connection."
				for _, p := range f.Smbd.Children {
					if isStoppedOrStuck(p) {
						fd.Evidence = append(fd.Evidence, Evidence{Kind: "process", Text: fmt.Sprintf("smbd child pid %d state %s", p.PID, p.State)})
					}
				}
				fd.Fix = &Fix{Kind: FixManual, Summary: "continue or kill the stuck smbd child (state T or D); find out who stopped it first",
					Steps: []string{"ps -o pid,stat,lstart,args -C smbd"}}
				return
			}
			for _, p := range f.Smbd.Dcerpcd {
				fd.Evidence = append(fd.Evidence, Evidence{Kind: "process", Text: fmt.Sprintf("%s pid %d state %s", p.Comm, p.PID, p.State)})
			}
			fd.Fix = &Fix{Kind: FixManual, Summary: "continue or kill the stuck rpcd worker; samba-dcerpcd starts a new one on the next pipe open",
				Steps: []string{"ps -o pid,stat,lstart,args -C samba-dcerpcd,rpcd_classic"}}
		},
		causeSmbdStopped: func(f *Facts, _ Trigger, fd *Finding) {
			fd.ScoringMessage = msgSMBTimeout
			pid := masterPIDText(f)
			fd.Summary = fmt.Sprintf("the smbd master (pid %s) is stopped (state T): connections queue and are never answered", pid)
			fd.Explanation = "Someone or something sent it SIGSTOP; find out who before continuing it (possible tampering)."
			fd.Evidence = append(fd.Evidence, processEvidence(f)...)
			fd.Fix = &Fix{Kind: FixManual, Summary: fmt.Sprintf("continue it: kill -CONT %s (or restart smbd)", pid),
				Steps: []string{fmt.Sprintf("kill -CONT %s", pid)}}
		},
		causeSilentListener: func(f *Facts, _ Trigger, fd *Finding) {
			_, owner, _ := listeningOnPort(f)
			fd.ScoringMessage = msgSMBTimeout
			fd.Summary = fmt.Sprintf("port %d is held by a program that is not smbd (pid %d) and never answers", targetPort(f), owner)
			fd.Evidence = append(fd.Evidence, socketEvidence(f)...)
			fd.Fix = &Fix{Kind: FixManual, Summary: "stop the program holding the port, then restart smbd so that it binds it",
				Steps: []string{fmt.Sprintf("ss -ltnp 'sport = :%d'", targetPort(f))}}
		},
		causeSmbdUnresponsive: func(f *Facts, _ Trigger, fd *Finding) {
			fd.ScoringMessage = msgSMBTimeout
			fd.Summary = "smbd accepts connections but does not answer within the deadline"
			fd.Evidence = append(fd.Evidence, processEvidence(f)...)
			fd.Evidence = append(fd.Evidence, socketEvidence(f)...)
			fd.Fix = &Fix{Kind: FixManual, Summary: "find what smbd waits on (state D, storage, domain controller, DNS), fix it, then restart smbd if it does not recover",
				Steps: []string{"ps -o pid,stat,wchan:32,lstart,comm --ppid " + masterPIDText(f)}}
		},
	}})
}

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

// timeoutFires: the TCP connect timed out; or it connected and the
// negotiate, or the share listing after a working login, got no answer in
// time; or a drop rule swallows the engine's packets (the loopback probe
// is not subject to it).
func timeoutFires(f *Facts) []Trigger {
	if d, ok := dialError(f); ok && d == "timeout" {
		return []Trigger{{Evidence: tcpEvidence(f)}}
	}
	if r := f.Probe; r != nil {
		if t, ok := tcpPrimary(f); ok && t.Class == probe.ClassOK {
			if s, ok := smb1Probe(f, probe.OfferPysmb); ok && s.Class == probe.ClassTimeout {
				return []Trigger{{Evidence: []Evidence{probeEvidence("SMB1 NEGOTIATE (pysmb's offer): %s", stepText(s.Step))}}}
			}
			if r.Multi.Class == probe.ClassTimeout {
				return []Trigger{{Evidence: []Evidence{probeEvidence("SMB2 NEGOTIATE: %s", stepText(r.Multi.Step))}}}
			}
			if r.Login != nil && r.Login.OK() && r.Shares != nil && r.Shares.Class == probe.ClassTimeout {
				return []Trigger{{Evidence: []Evidence{probeEvidence("share listing: %s", stepText(r.Shares.Step))}}}
			}
		}
	}
	if v, r, ok := firewallVerdict(f); ok && v == "drop" && r != nil {
		return []Trigger{{}}
	}
	return nil
}
