package checks

import (
	"fmt"
	"strings"

	"github.com/smb-agent/smb-agent/checks/probe"
	"github.com/smb-agent/smb-agent/configs/smbconf"
)

// ipc-unavailable: "Failed to list shares: Unable to connect to IPC$".
// The TREE_CONNECT to IPC$ failed after login: IPC$ is a share, so an
// explicit [IPC$] section's hosts lists, [global] valid/invalid users
// (inherited by IPC$), restrict anonymous = 2 against a guest session, and
// [global] hosts lists edited without reload (the parent accepts with its
// old copy, the child refuses with the new one) all refuse it
// (source3/smbd/smb2_tcon.c, source3/lib/access.c; reproduced by
// TestProbeIPCUnavailable and TestDiagnoseIPCUnavailable). Loopback is always let in by hosts lists, so
// those are judged from smb.conf for the remote checker's address.
func init() {
	RegisterPattern(Pattern{ID: PatternIPCUnavailable, Deps: NeedsConnection, Fires: ipcUnavailableFires, Causes: map[string]CauseBuilder{
		causeIPCSectionHosts: func(f *Facts, _ Trigger, fd *Finding) {
			h, _ := hostsExclude(f)
			fd.Summary = fmt.Sprintf("the [IPC$] section's hosts allow/deny refuse the engine's address %s", f.RemoteClientIP)
			fd.Explanation = "Judged from smb.conf as testparm CONF HOST IP does (loopback probes are always let in): " + h.Reason + "."
			fd.Evidence = append(fd.Evidence, h.Value.Evidence())
			fd.Evidence = append(fd.Evidence, logEvidence(logLines(f, 3, LogDenied))...)
			fd.Fix = hostsAllowFix(f, "IPC$", h.Value)
		},
		causeGlobalHostsNoReload: func(f *Facts, _ Trigger, fd *Finding) {
			h, _ := hostsExclude(f)
			fd.Summary = fmt.Sprintf("[global] hosts allow/deny now refuse %s, but smbd has not reloaded: the connection is accepted and IPC$ refused", f.RemoteClientIP)
			fd.Explanation = withRange(f, "The parent checks [global] lists with the copy it loaded at start; each new child re-reads smb.conf and refuses the tree connect", smbconf.BehaviourGlobalHostsNeedReload) + ". " + h.Reason + "."
			fd.Evidence = append(fd.Evidence, h.Value.Evidence())
			fd.Evidence = append(fd.Evidence, changedEvidence(f, configChangedSinceStart(f))...)
			fd.Fix = hostsAllowFix(f, "global", h.Value)
		},
		causeIPCUserDenied: func(f *Facts, _ Trigger, fd *Finding) {
			_, cv, _ := ipcUserDenied(f)
			fd.Summary = fmt.Sprintf("%s in [%s] excludes the scoring user %s, and IPC$ inherits it", cv.Param, sectionOf(cv), f.User)
			fd.Explanation = withRange(f, "smbd logs \"user 'X' (from session setup) not permitted to access this share (IPC$)\" at level 1", smbconf.BehaviourLogNotPermittedLevel1) + "."
			fd.Evidence = append(fd.Evidence, cv.Evidence())
			fd.Evidence = append(fd.Evidence, logEvidence(logLines(f, 3, LogNotPermitted))...)
			fd.Fix = userListFix(f, cv)
		},
		causeGuestSessionDenied: func(f *Facts, _ Trigger, fd *Finding) {
			fd.Summary = fmt.Sprintf("user %s logs in only as guest (map to guest), and restrict anonymous = 2 refuses IPC$ to guests", orUnknown(f.User))
			fd.Evidence = append(fd.Evidence, globalValue(f, "restrict anonymous").Evidence(), globalValue(f, "map to guest").Evidence(),
				probeEvidence("login as %s: accepted as GUEST", orUnknown(f.User)))
			fd.Fix = &Fix{Kind: FixManual, Summary: "add the scoring user to passdb with the engine's password (smbpasswd -a), so that it logs in as itself",
				Steps: []string{fmt.Sprintf("smbpasswd -c %s -a %s", smbConfForCommands(f), catalogVars(f).User)}}
		},
		causeSigningUnsigned: func(f *Facts, t Trigger, fd *Finding) {
			sv := globalValue(f, "server signing")
			fd.Summary = withRange(f, "server signing = mandatory, and the client never signs: smbd refuses its IPC$ tree connect", smbconf.BehaviourLogBadSignatureLevel0)
			fd.ScoringMessage = ipcMessage
			fd.Evidence = append(fd.Evidence, sv.Evidence())
			fd.Fix = &Fix{Kind: FixConfig, Summary: "set server signing = default, or make the client sign",
				Changes: []Change{configChange(sv, "default")},
				Risk:    "clients that do not ask for signing get unsigned sessions"}
		},
		causeIPCUnexplained: func(f *Facts, _ Trigger, fd *Finding) {
			fd.Summary = "the IPC$ tree connect is refused, and smb.conf does not explain it for this user"
			fd.Evidence = append(fd.Evidence, logEvidence(logLines(f, 3, LogNotPermitted, LogDenied, LogBadSignature))...)
			fd.Fix = &Fix{Kind: FixManual, Summary: "read the reason smbd logs (level 1: \"not permitted to access this share (IPC$)\"; level 0: \"Denied connection from\")",
				Steps: []string{fmt.Sprintf("grep -rHE 'IPC\\$|Denied connection' %s", catalogVars(f).LogDir)}}
		},
	}})
}

// Causes (07-ipc-unavailable.yaml).
const (
	causeIPCSectionHosts     = "ipc-section-hosts"
	causeGlobalHostsNoReload = "global-hosts-not-reloaded"
	causeIPCUserDenied       = "ipc-user-denied"
	causeGuestSessionDenied  = "guest-session-denied"
	causeIPCUnexplained      = "ipc-unexplained"
)

// ipcUnavailableFires: the probe's IPC$ tree connect was refused, or the
// config refuses IPC$ to the engine (its address in an [IPC$] list or in
// a [global] list the running smbd has not reloaded, the scoring user in
// a users list IPC$ inherits, a guest session under restrict anonymous =
// 2) although the loopback probe got in.
func ipcUnavailableFires(f *Facts) []Trigger {
	var ev []Evidence
	fires := false
	if f.Probe != nil && f.Probe.IPC != nil && isIPCFailure(f.Probe.IPC.Class) {
		fires = true
		ev = []Evidence{probeEvidence("tree connect to IPC$ as %s: %s", orUnknown(f.User), stepText(*f.Probe.IPC))}
	}
	if h, ok := hostsExclude(f); ok && (h.Where == "ipc-section" || (h.Where == "global" && globalHostsStale(f))) {
		fires = true
	}
	if denied, _, ok := ipcUserDenied(f); ok && denied {
		fires = true
	}
	if f.Probe != nil && f.Probe.Login != nil && f.Probe.Login.OK() && f.Probe.Login.Guest {
		if ra := globalValue(f, "restrict anonymous"); ra.OK && strings.TrimSpace(ra.Printed) == "2" {
			fires = true
		}
	}
	if !fires {
		return nil
	}
	return []Trigger{{Evidence: ev}}
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
