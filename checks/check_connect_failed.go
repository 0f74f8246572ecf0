package checks

import (
	"fmt"

	"github.com/smb-agent/smb-agent/checks/probe"
	"github.com/smb-agent/smb-agent/configs/smbconf"
)

// connect-failed: "Failed to connect to host: IP", the engine's text for a
// connection that TCP accepted but that did not become a session, and
// pysmb's NMBError "Invalid protocol header for Direct TCP session message"
// (nmb/nmb_structs.py, DirectTCPSessionMessage.decode: the first byte of a
// NetBIOS negative session response, 0x83, is not a length) for a session
// smbd refused because hosts allow/deny exclude the client. A dial that
// failed with an unexpected error lands here too: the agent could not look.
func init() {
	RegisterPattern(Pattern{ID: PatternConnectFailed, Fires: connectFailedFires, Causes: map[string]CauseBuilder{
		causeHostsDenyGlobal: buildHostsDenyGlobal,
		causeNonSMBListener: func(f *Facts, _ Trigger, fd *Finding) {
			fd.Summary = fmt.Sprintf("the program on port %d answers with something that is not SMB", targetPort(f))
			fd.Evidence = append(fd.Evidence, socketEvidence(f)...)
			fd.Fix = &Fix{Kind: FixManual, Summary: "stop or move the program that holds the port, then make sure smbd listens there",
				Steps: []string{fmt.Sprintf("ss -ltnp 'sport = :%d'", targetPort(f))}}
		},
		"dial-error": func(f *Facts, _ Trigger, fd *Finding) {
			fd.Summary = fmt.Sprintf("the agent could not connect to %s: the live server was not observed", targetAddr(f))
		},
	}})
}

// Causes (04-connect-failed.yaml) other files name.
const (
	causeHostsDenyGlobal = "hosts-deny-global"
	causeNonSMBListener  = "non-smb-listener"
)

// refusedSessionMessage is what the engine shows for smbd's negative
// session response (pysmb raises NMBError with this text).
const refusedSessionMessage = "SMB operation failed: Invalid protocol header for Direct TCP session message"

// connectFailedFires: [global] hosts lists exclude the engine (the
// agent's loopback probe is let in, so only the config tells), the
// negotiate got an answer that is not SMB or a closed connection, or the
// dial failed with an unclassified error.
func connectFailedFires(f *Facts) []Trigger {
	var ev []Evidence
	fires := false
	if d, ok := dialError(f); ok && d == "other" {
		fires, ev = true, tcpEvidence(f)
	}
	if h, ok := hostsExclude(f); ok && h.Where == "global" && !globalHostsStale(f) {
		fires = true
	}
	if f.Probe != nil {
		if s, ok := smb1Probe(f, probe.OfferPysmb); ok && (s.Class == probe.ClassProtocolError || s.Class == probe.ClassClosed) {
			fires = true
			ev = append(ev, probeEvidence("negotiate: %s", stepText(s.Step)))
		} else if f.Probe.Multi.Class == probe.ClassProtocolError {
			fires = true
			ev = append(ev, probeEvidence("negotiate: %s", stepText(f.Probe.Multi.Step)))
		}
	}
	if !fires {
		return nil
	}
	return []Trigger{{Evidence: ev}}
}

func buildHostsDenyGlobal(f *Facts, _ Trigger, fd *Finding) {
	fd.ScoringMessage = refusedSessionMessage
	if ex, why, ok := hostsExcludeAgent(f); ok && ex {
		ip, _ := agentAddress(f)
		fd.Summary = fmt.Sprintf("[global] hosts allow/deny refuse %s: smbd closes every connection from it at once", ip)
		fd.Explanation = hostsDeniedText(f) + " " + why + "."
		deciding := decidingList(f, "global")
		fd.Evidence = append(fd.Evidence, deciding.Evidence())
		fd.Evidence = append(fd.Evidence, logEvidence(logLines(f, 3, LogDenied))...)
		fd.Fix = hostsAllowFixFor(f, "global", ip)
		return
	}
	h, _ := hostsExclude(f)
	fd.Summary = fmt.Sprintf("[global] hosts allow/deny refuse the engine's address %s: smbd closes its connection at once", f.RemoteClientIP)
	fd.Explanation = hostsDeniedText(f) + " The agent's loopback probes are let in, so this is judged from smb.conf as testparm CONF HOST IP does: " + h.Reason + "."
	fd.Evidence = append(fd.Evidence, h.Value.Evidence())
	fd.Evidence = append(fd.Evidence, logEvidence(logLines(f, 3, LogDenied))...)
	fd.Fix = hostsAllowFix(f, "global", h.Value)
}

// globalHostsStale: smb.conf changed after the running smbd master started,
// so its copy of the [global] hosts lists may be the old one (smbd's parent
// applies [global] hosts lists from the config it last loaded,
// source3/smbd/server.c).
func globalHostsStale(f *Facts) bool {
	return f.Smbd.Running && len(configChangedSinceStart(f)) > 0
}

// hostsDeniedText says what smbd does with a client its [global] lists
// refuse.
func hostsDeniedText(f *Facts) string {
	return fmt.Sprintf("smbd checks the [global] lists when it accepts a connection, sends a NetBIOS negative session response and exits (\"Denied connection from\", level 0, %s); pysmb raises \"Invalid protocol header for Direct TCP session message\".",
		behaviourRange(f, smbconf.BehaviourLogDeniedLevel0))
}

// hostsAllowFix lets the engine's address into a section.
func hostsAllowFix(f *Facts, section string, _ configValue) *Fix {
	return hostsAllowFixFor(f, section, f.RemoteClientIP)
}

// hostsAllowFixFor lets one address into a section: add it to hosts allow
// (hosts allow wins over hosts deny, lib/util/access.c).
func hostsAllowFixFor(f *Facts, section, ip string) *Fix {
	allow := lookup(f, section, "hosts allow")
	val := ip
	if allow.OK && allow.Printed != "" {
		val = allow.Printed + " " + ip
	}
	c := configChange(allow, val)
	c.Section = section
	return &Fix{Kind: FixConfig, Summary: fmt.Sprintf("add %s to hosts allow in [%s], then reload smbd", ip, section),
		Changes: []Change{c},
		Why:     withRange(f, "hosts allow wins over hosts deny, so listing the one address lets only it through; the parent applies [global] lists only after reload-config", smbconf.BehaviourGlobalHostsNeedReload),
		Steps:   []string{"smbcontrol smbd reload-config"}}
}
