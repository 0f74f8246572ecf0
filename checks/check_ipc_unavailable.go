package checks

import (
	"fmt"
	"strings"

	"github.com/smb-agent/smb-agent/checks/probe"
)

// ipc-unavailable: "Failed to list shares: Unable to connect to IPC$".
// The TREE_CONNECT to IPC$ failed after login: IPC$ is a share, so an
// explicit [IPC$] section's hosts lists, [global] valid/invalid users
// (inherited by IPC$), restrict anonymous = 2 against a guest session, and
// [global] hosts lists edited without reload (the parent accepts with its
// old copy, the child refuses with the new one) all refuse it (research
// scenarios.md row 7, §4). Loopback is always let in by hosts lists, so
// those are judged from smb.conf for the remote checker's address.
func init() { Register(NewCheck(PatternIPCUnavailable, checkIPCUnavailable)) }

// Causes (07-ipc-unavailable.yaml).
const (
	causeIPCSectionHosts     = "ipc-section-hosts"
	causeGlobalHostsNoReload = "global-hosts-not-reloaded"
	causeIPCUserDenied       = "ipc-user-denied"
	causeGuestSessionDenied  = "guest-session-denied"
	causeIPCUnexplained      = "ipc-unexplained"
)

func checkIPCUnavailable(f *Facts) []Finding {
	var out []Finding
	probeFailed := f.Probe != nil && f.Probe.IPC != nil && isIPCFailure(f.Probe.IPC.Class)
	var probeEv []Evidence
	if probeFailed {
		probeEv = []Evidence{probeEvidence("tree connect to IPC$ as %s: %s", orUnknown(f.User), stepText(*f.Probe.IPC))}
	}
	explained := false
	if h, ok := hostsExclude(f); ok {
		switch {
		case h.Where == "ipc-section":
			fd := newFinding(PatternIPCUnavailable, causeIPCSectionHosts, Critical,
				fmt.Sprintf("the [IPC$] section's hosts allow/deny refuse the engine's address %s", f.RemoteClientIP))
			fd.Explanation = "Judged from smb.conf as testparm CONF HOST IP does (loopback probes are always let in): " + h.Reason + "."
			fd.Evidence = append(append([]Evidence{h.Value.Evidence()}, probeEv...), logEvidence(logLines(f, 3, LogDenied))...)
			fd.Fix = hostsAllowFix(f, "IPC$", h.Value)
			out, explained = append(out, fd), true
		case h.Where == "global" && globalHostsStale(f):
			fd := newFinding(PatternIPCUnavailable, causeGlobalHostsNoReload, Critical,
				fmt.Sprintf("[global] hosts allow/deny now refuse %s, but smbd has not reloaded: the connection is accepted and IPC$ refused", f.RemoteClientIP))
			fd.Explanation = "The parent checks [global] lists with the copy it loaded at start; each new child re-reads smb.conf and refuses the tree connect. " + h.Reason + "."
			fd.Evidence = append([]Evidence{h.Value.Evidence()}, changedEvidence(f, configChangedSinceStart(f))...)
			fd.Evidence = append(fd.Evidence, probeEv...)
			fd.Fix = hostsAllowFix(f, "global", h.Value)
			out, explained = append(out, fd), true
		}
	}
	if denied, cv, ok := ipcUserDenied(f); ok && denied {
		fd := newFinding(PatternIPCUnavailable, causeIPCUserDenied, Critical,
			fmt.Sprintf("%s in [%s] excludes the scoring user %s, and IPC$ inherits it", cv.Param, sectionOf(cv), f.User))
		fd.Explanation = "smbd logs \"user 'X' (from session setup) not permitted to access this share (IPC$)\" at level 1."
		fd.Evidence = append([]Evidence{cv.Evidence()}, probeEv...)
		fd.Evidence = append(fd.Evidence, logEvidence(logLines(f, 3, LogNotPermitted))...)
		fd.Fix = userListFix(f, cv)
		out, explained = append(out, fd), true
	}
	if f.Probe != nil && f.Probe.Login != nil && f.Probe.Login.OK() && f.Probe.Login.Guest {
		if ra := globalValue(f, "restrict anonymous"); ra.OK && strings.TrimSpace(ra.Printed) == "2" {
			fd := newFinding(PatternIPCUnavailable, causeGuestSessionDenied, Critical,
				fmt.Sprintf("user %s logs in only as guest (map to guest), and restrict anonymous = 2 refuses IPC$ to guests", orUnknown(f.User)))
			fd.Evidence = append([]Evidence{ra.Evidence(), globalValue(f, "map to guest").Evidence(),
				probeEvidence("login as %s: accepted as GUEST", orUnknown(f.User))}, probeEv...)
			fd.Fix = &Fix{Kind: FixManual, Summary: "add the scoring user to passdb with the engine's password (smbpasswd -a), so that it logs in as itself",
				Steps: []string{fmt.Sprintf("smbpasswd -c %s -a %s", smbConfForCommands(f), catalogVars(f).User)}}
			out, explained = append(out, fd), true
		}
	}
	if probeFailed && !explained {
		fd := newFinding(PatternIPCUnavailable, causeIPCUnexplained, Critical,
			"the IPC$ tree connect is refused, and smb.conf does not explain it for this user")
		fd.Evidence = append(probeEv, logEvidence(logLines(f, 3, LogNotPermitted, LogDenied, LogBadSignature))...)
		fd.Fix = &Fix{Kind: FixManual, Summary: "read the reason smbd logs (level 1: \"not permitted to access this share (IPC$)\"; level 0: \"Denied connection from\")",
			Steps: []string{fmt.Sprintf("grep -rHE 'IPC\\$|Denied connection' %s", catalogVars(f).LogDir)}}
		out = append(out, fd)
	}
	return out
}

func isIPCFailure(c probe.Class) bool {
	switch c {
	case probe.ClassIPCUnavailable, probe.ClassAccessDenied, probe.ClassShareDenied, probe.ClassShareMissing:
		return true
	}
	return false
}

func sectionOf(cv configValue) string {
	if cv.Section == "" {
		return "global"
	}
	return cv.Section
}

// userListFix takes the user out of an invalid users list, or adds it to a
// valid users list.
func userListFix(f *Facts, cv configValue) *Fix {
	var kept []string
	for _, t := range splitList(cv.Printed) {
		if !strings.EqualFold(t, f.User) {
			kept = append(kept, t)
		}
	}
	if strings.EqualFold(cv.Param, "invalid users") {
		c := configChange(cv, strings.Join(kept, " "))
		if len(kept) == 0 {
			c = removeChange(cv)
		}
		return &Fix{Kind: FixConfig, Summary: fmt.Sprintf("take %s out of invalid users in [%s]", f.User, sectionOf(cv)),
			Changes: []Change{c}, Why: "only the scoring user is let back in; the rest of the list stays"}
	}
	return &Fix{Kind: FixConfig, Summary: fmt.Sprintf("add %s to valid users in [%s]", f.User, sectionOf(cv)),
		Changes: []Change{configChange(cv, strings.TrimSpace(cv.Printed+" "+f.User))},
		Why:     "only the scoring user is added",
		Risk:    "a valid users list in [global] applies to every share including IPC$; consider moving it to the data shares it is meant for"}
}
