package checks

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/smb-agent/smb-agent/configs/smbconf"
)

// connection-refused: "SMB operation failed: [Errno 111] Connection
// refused". The TCP connect got a RST or an ICMP port-unreachable: nothing
// listens on that port and address, or a firewall rejects it (CPython
// socket.create_connection in pysmb's SMBConnection.connect; reproduced in
// test/ by TestDiagnoseConnectionRefused and TestProbeRefusedOnWrongPort).
func init() {
	RegisterPattern(Pattern{ID: PatternConnectionRefused, Deps: StopsConnection, Fires: connectionRefusedFires, Causes: map[string]CauseBuilder{
		causeSmbdWontStart: func(f *Facts, _ Trigger, fd *Finding) {
			fd.Summary = withRange(f, "smbd is not running, and smb.conf does not load, so smbd exits at start", smbconf.BehaviourConfigLoadFailsStart)
			fd.Explanation = "Samba refuses a configuration with an invalid value; smbd then exits right after it starts and nothing listens on the port."
			fd.Evidence = append(fd.Evidence, configLoadEvidence(f)...)
			fd.Evidence = append(fd.Evidence, logEvidence(logLines(f, 3, LogConfigLoadFailed, LogInvalidValue))...)
			fd.Fix = &Fix{Kind: FixStart, Summary: "fix the invalid smb.conf line (see config-invalid), then start smbd",
				Steps: []string{"testparm -s " + smbConfForCommands(f), "systemctl start smbd"},
				Why:   "smbd cannot start until the file loads"}
		},
		causeSmbdNotRunning: func(f *Facts, _ Trigger, fd *Finding) {
			fd.Summary = fmt.Sprintf("smbd is not running: nothing listens on port %d", targetPort(f))
			fd.Explanation = "No smbd master process serves this configuration. Read the journal before starting it: a stop nobody asked for may be a crash or an incident."
			fd.Evidence = append(fd.Evidence, processEvidence(f)...)
			fd.Fix = &Fix{Kind: FixStart, Summary: "start smbd", Steps: []string{"journalctl -u smbd -n 50 --no-pager", "systemctl start smbd"},
				Why: "the configuration loads; only the daemon is missing"}
		},
		causeFirewallReject: func(f *Facts, _ Trigger, fd *Finding) {
			_, r, _ := firewallVerdict(f)
			if r == nil {
				return
			}
			fd.Summary = fmt.Sprintf("a %s rule rejects TCP port %d (%s): the engine gets connection refused", r.Tool, targetPort(f), rejectText(r))
			fd.Evidence = append(fd.Evidence, firewallEvidence(r))
			if d, _ := dialError(f); d == "none" {
				fd.Explanation = "The agent's own connect over loopback got in (the rule does not apply to it); the engine's connection from its address is rejected."
			}
			fd.Fix = &Fix{Kind: FixFirewall, Summary: "accept the engine's address on the SMB port before the reject rule",
				Steps: firewallSteps(f, r), Why: "only the engine's address is opened", Risk: "shown, never applied by the agent"}
		},
		causeWrongPort: func(f *Facts, _ Trigger, fd *Finding) {
			port := targetPort(f)
			if listening, owner, _ := listeningOnPort(f); listening == "other" {
				fd.Summary = fmt.Sprintf("port %d is held by another program (pid %d), not by smbd", port, owner)
				fd.Evidence = append(fd.Evidence, socketEvidence(f)...)
				fd.Fix = &Fix{Kind: FixManual, Summary: "stop or move the program that holds the port, then restart smbd",
					Steps: []string{fmt.Sprintf("ss -ltnp 'sport = :%d'", port)}}
				return
			}
			_, pv := confSMBPorts(f)
			fd.Summary = fmt.Sprintf("smb ports = %s does not include port %d, where the engine connects", pv.Printed, port)
			fd.Explanation = "smbd listens only on the ports of \"smb ports\" (default 445 139) and binds them only when it starts."
			fd.Evidence = append(fd.Evidence, pv.Evidence())
			fd.Evidence = append(fd.Evidence, socketEvidence(f)...)
			newPorts := strings.TrimSpace(strings.Join(append(splitList(pv.Printed), strconv.Itoa(port)), " "))
			fd.Fix = &Fix{Kind: FixConfig, Summary: fmt.Sprintf("set smb ports = %s and restart smbd", newPorts),
				Changes: []Change{configChange(pv, newPorts)},
				Why:     withRange(f, "adds the engine's port and keeps the ports already served; smbd binds ports only at start, so it needs a restart", smbconf.BehaviourSocketsNeedRestart)}
		},
		causeListenNotApplied: func(f *Facts, _ Trigger, fd *Finding) {
			_, pv := confSMBPorts(f)
			fd.Summary = fmt.Sprintf("smb.conf listens on %s, but the running smbd was started before that change", targetAddr(f))
			fd.Explanation = withRange(f, "smb ports, interfaces and bind interfaces only are applied only when smbd starts; reload-config and SIGHUP do not rebind sockets", smbconf.BehaviourSocketsNeedRestart) + "."
			if mm, _ := socketMismatch(f); mm != "" {
				fd.Explanation = joinSentences(fd.Explanation, mm)
			}
			fd.Evidence = append(fd.Evidence, pv.Evidence(), globalValue(f, "interfaces").Evidence(), globalValue(f, "bind interfaces only").Evidence())
			fd.Evidence = append(fd.Evidence, changedEvidence(f, configChangedSinceStart(f))...)
			fd.Evidence = append(fd.Evidence, socketEvidence(f)...)
			fd.Fix = &Fix{Kind: FixRestart, Summary: "restart smbd so that it binds the configured ports and addresses",
				Why: "the configuration is already right; only the sockets are old"}
		},
		causeBoundElsewhere: func(f *Facts, _ Trigger, fd *Finding) {
			iv := globalValue(f, "interfaces")
			fd.Summary = fmt.Sprintf("bind interfaces only = yes and interfaces = %s do not include %s", iv.Printed, targetHost(f))
			fd.Explanation = "With bind interfaces only = yes smbd listens only on the addresses of \"interfaces\"; connections to any other local address are refused."
			fd.Evidence = append(fd.Evidence, globalValue(f, "bind interfaces only").Evidence(), iv.Evidence())
			fd.Evidence = append(fd.Evidence, socketEvidence(f)...)
			val := strings.TrimSpace(iv.Printed + " " + targetHost(f))
			fd.Fix = &Fix{Kind: FixConfig, Summary: fmt.Sprintf("set interfaces = %s (keep bind interfaces only) and restart smbd", val),
				Changes: []Change{configChange(iv, val)},
				Why:     "adds only the address the engine connects to; switching bind interfaces only off would open every address"}
		},
	}})
}

// Causes (02-connection-refused.yaml).
const (
	causeSmbdNotRunning   = "smbd-not-running"
	causeSmbdWontStart    = "smbd-wont-start"
	causeWrongPort        = "wrong-port"
	causeListenNotApplied = "listen-config-not-applied"
	causeBoundElsewhere   = "bound-to-other-interface"
	causeFirewallReject   = "firewall-reject"
)

// connectionRefusedFires: the agent's connect was refused, or a reject
// rule refuses the engine's address (the loopback probe got in).
func connectionRefusedFires(f *Facts) []Trigger {
	if d, ok := dialError(f); ok && d == "refused" {
		return []Trigger{{Evidence: tcpEvidence(f)}}
	}
	if v, r, ok := firewallVerdict(f); ok && v == "reject-refused" && r != nil {
		return []Trigger{{}}
	}
	return nil
}

func smbConfForCommands(f *Facts) string { return catalogVars(f).SmbConf }

// configLoadEvidence lists why Samba refuses the file.
func configLoadEvidence(f *Facts) []Evidence {
	var ev []Evidence
	if f.Config != nil {
		for _, p := range f.Config.Fatal {
			ev = append(ev, Evidence{Kind: "config", File: p.File, Line: p.Line, Text: p.Msg})
		}
	}
	if len(ev) == 0 && f.ConfigErr != nil {
		ev = append(ev, Evidence{Kind: "config", Text: f.ConfigErr.Error()})
	}
	return ev
}

// processEvidence states what the process table shows.
func processEvidence(f *Facts) []Evidence {
	s := f.Smbd
	var ev []Evidence
	switch {
	case s.Master != nil:
		ev = append(ev, Evidence{Kind: "process", Text: fmt.Sprintf("smbd master pid %d, state %s, started %s, config %s",
			s.Master.PID, s.Master.State, s.Master.Started.Format("2006-01-02 15:04:05"), orUnknown(s.ConfigPath))})
	case s.PIDFile != "":
		t := fmt.Sprintf("no smbd master process; pid file %s", s.PIDFile)
		if s.PIDFileErr != "" {
			t += ": " + s.PIDFileErr
		} else if s.PIDFromFile != 0 {
			t += fmt.Sprintf(" names pid %d, which is not running", s.PIDFromFile)
		}
		ev = append(ev, Evidence{Kind: "process", Text: t})
	default:
		ev = append(ev, Evidence{Kind: "process", Text: "no smbd master process for this configuration"})
	}
	for _, o := range s.OtherSmbd {
		ev = append(ev, Evidence{Kind: "process", Text: fmt.Sprintf("another smbd (pid %d) runs with another configuration: %s", o.PID, strings.Join(o.Args, " "))})
	}
	return ev
}

// socketEvidence lists the listeners on the SMB ports.
func socketEvidence(f *Facts) []Evidence {
	if len(f.Sockets.Listeners) == 0 {
		t := "no listening socket on the SMB ports"
		if f.Sockets.Err != "" {
			t += " (" + f.Sockets.Err + ")"
		}
		return []Evidence{{Kind: "socket", Text: t}}
	}
	var ev []Evidence
	for _, l := range f.Sockets.Listeners {
		t := fmt.Sprintf("LISTEN %s port %d", l.Addr, l.Port)
		if l.PID != 0 {
			t += fmt.Sprintf(" (pid %d)", l.PID)
		}
		if l.Backlog > 0 {
			t += fmt.Sprintf(", %d connections waiting to be accepted", l.Backlog)
		}
		ev = append(ev, Evidence{Kind: "socket", Text: t})
	}
	return ev
}

// changedEvidence names the files changed after smbd started.
func changedEvidence(f *Facts, changed []FileStat) []Evidence {
	var ev []Evidence
	for _, c := range changed {
		ev = append(ev, Evidence{Kind: "config", File: c.Path,
			Text: fmt.Sprintf("%s modified %s, after smbd started %s", c.Path, c.ModTime.Format("2006-01-02 15:04:05"), f.Smbd.Master.Started.Format("2006-01-02 15:04:05"))})
	}
	return ev
}

// firewallEvidence shows the deciding rule.
func firewallEvidence(r *FirewallRule) Evidence {
	t := fmt.Sprintf("%s %s %s: %s", r.Tool, r.Table, r.Chain, r.Text)
	if r.Packets > 0 {
		t += fmt.Sprintf(" (%d packets matched)", r.Packets)
	}
	return Evidence{Kind: "firewall", Text: oneLineText(t)}
}

func firewallSteps(f *Facts, r *FirewallRule) []string {
	src := f.RemoteClientIP
	if src == "" {
		src = "ENGINE_IP"
	}
	return []string{
		fmt.Sprintf("# the rule: %s", oneLineText(r.Text)),
		fmt.Sprintf("# allow the engine ahead of it, e.g. iptables -I INPUT -p tcp -s %s --dport %d -j ACCEPT (or the nft/firewalld equivalent), and persist it where this host keeps its rules", src, targetPort(f)),
	}
}

func rejectText(r *FirewallRule) string {
	if r.RejectWith == "" {
		return "reject"
	}
	return "reject with " + r.RejectWith
}
