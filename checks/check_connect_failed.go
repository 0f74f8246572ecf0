package checks

import (
	"fmt"

	"github.com/smb-agent/smb-agent/checks/probe"
)

// connect-failed: "Failed to connect to host: IP", the engine's text for a
// connection that TCP accepted but that did not become a session. A refused
// login is login-failed (its own check); this check covers the on-host
// causes that close the connection before login: [global] hosts allow/deny
// excluding the engine (smbd sends a NetBIOS negative response and exits;
// pysmb raises "Invalid protocol header for Direct TCP session message"),
// and a program that is not smbd answering on the port (research
// scoring-engine.md §2 and §5).
func init() { Register(NewCheck(PatternConnectFailed, checkConnectFailed)) }

// Causes (04-connect-failed.yaml).
const (
	causeHostsDenyGlobal = "hosts-deny-global"
	causeNonSMBListener  = "non-smb-listener"
)

func checkConnectFailed(f *Facts) []Finding {
	var out []Finding
	if h, ok := hostsExclude(f); ok && h.Where == "global" && !globalHostsStale(f) {
		fd := newFinding(PatternConnectFailed, causeHostsDenyGlobal, Critical,
			fmt.Sprintf("[global] hosts allow/deny refuse the engine's address %s: smbd closes its connection at once", f.RemoteClientIP))
		fd.Explanation = "smbd checks the [global] lists when it accepts a connection, sends a NetBIOS negative session response and exits (\"Denied connection from\", level 0); pysmb raises \"Invalid protocol header for Direct TCP session message\". The agent's loopback probes are always let in, so this is judged from smb.conf as testparm CONF HOST IP does: " + h.Reason + "."
		fd.Evidence = append(fd.Evidence, h.Value.Evidence())
		fd.Evidence = append(fd.Evidence, logEvidence(logLines(f, 3, LogDenied))...)
		fd.Fix = hostsAllowFix(f, "global", h.Value)
		out = append(out, fd)
	}
	if fd, ok := nonSMBFinding(f); ok {
		out = append(out, fd)
	}
	return out
}

// globalHostsStale: smb.conf changed after the running smbd master started,
// so its copy of the [global] hosts lists may be the old one
// (scenarios.md §4: the connection-level check uses the parent's copy).
func globalHostsStale(f *Facts) bool {
	return f.Smbd.Running && len(configChangedSinceStart(f)) > 0
}

// hostsAllowFix lets the engine's address into a section: add it to hosts
// allow when that list is set, else take the section's hosts deny away
// only for it (hosts allow wins over hosts deny, lib/util/access.c).
func hostsAllowFix(f *Facts, section string, deciding configValue) *Fix {
	allow := lookup(f, section, "hosts allow")
	val := f.RemoteClientIP
	if allow.OK && allow.Printed != "" {
		val = allow.Printed + " " + f.RemoteClientIP
	}
	c := configChange(allow, val)
	c.Section = section
	return &Fix{Kind: FixConfig, Summary: fmt.Sprintf("add %s to hosts allow in [%s], then reload smbd", f.RemoteClientIP, section),
		Changes: []Change{c},
		Why:     "hosts allow wins over hosts deny, so listing the one address lets only the engine through; the parent applies [global] lists only after reload-config",
		Steps:   []string{"smbcontrol smbd reload-config"}}
}

// nonSMBFinding: something answered the negotiate with bytes that are not
// SMB.
func nonSMBFinding(f *Facts) (Finding, bool) {
	if f.Probe == nil {
		return Finding{}, false
	}
	var step probe.Step
	found := false
	if s, ok := smb1Probe(f, probe.OfferPysmb); ok && s.Class == probe.ClassProtocolError {
		step, found = s.Step, true
	} else if f.Probe.Multi.Class == probe.ClassProtocolError {
		step, found = f.Probe.Multi.Step, true
	}
	if !found {
		return Finding{}, false
	}
	fd := newFinding(PatternConnectFailed, causeNonSMBListener, Critical,
		fmt.Sprintf("the program on port %d answers with something that is not SMB", targetPort(f)))
	fd.Evidence = []Evidence{probeEvidence("negotiate: %s", stepText(step))}
	fd.Evidence = append(fd.Evidence, socketEvidence(f)...)
	fd.Fix = &Fix{Kind: FixManual, Summary: "stop or move the program that holds the port, then make sure smbd listens there",
		Steps: []string{fmt.Sprintf("ss -ltnp 'sport = :%d'", targetPort(f))}}
	return fd, true
}
