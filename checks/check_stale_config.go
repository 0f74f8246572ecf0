package checks

import (
	"fmt"
	"strings"

	"github.com/smb-agent/smb-agent/configs/smbconf"
)

// stale-config: the running smbd does not apply what smb.conf says now.
// smbd's children re-read smb.conf on every new connection when a file's
// mtime changed (smbd_process() -> reload_services(), source3/smbd/
// smb2_process.c), so a protocol edit works at once; but the listening
// sockets ("smb ports", "interfaces", "bind interfaces only") are bound
// only at start, the parent checks [global] "hosts allow/deny" with the
// copy it loaded at start or last reload, and smbd only reads the file it
// was started with (source3/smbd/smb2_process.c smbd_process calls
// reload_services in each new child; the sockets are bound once by
// source3/smbd/server.c; reproduced by TestDiagnoseStaleConfig).
func init() {
	RegisterPattern(Pattern{ID: PatternStaleConfig, Fires: staleConfigFires, Causes: map[string]CauseBuilder{
		causeOtherConfig: func(f *Facts, _ Trigger, fd *Finding) {
			fd.Summary = fmt.Sprintf("smbd (pid %d) runs with %s, not with %s: edits to the checked file do not reach it", f.Smbd.Master.PID, f.Smbd.ConfigPath, f.SmbConfPath)
			fd.Evidence = append(fd.Evidence, Evidence{Kind: "process", Text: fmt.Sprintf("smbd pid %d command line: %s", f.Smbd.Master.PID, strings.Join(f.Smbd.Master.Args, " "))})
			if live, cfg := liveDiffersFromConfig(f); live != "" {
				fd.Severity = Critical
				fd.Explanation = fmt.Sprintf("The live dialects (%s) differ from those the checked file allows (%s).", live, cfg)
			}
			fd.Fix = &Fix{Kind: FixManual, Summary: "edit the file smbd really uses, or make smbd start with the checked one (its -s option or the service unit)",
				Steps: []string{"ps -o pid,lstart,args -p " + masterPIDText(f)}}
		},
		causeListenNotApplied2: func(f *Facts, _ Trigger, fd *Finding) {
			changed := configChangedSinceStart(f)
			mm, _ := socketMismatch(f)
			if bound, _ := boundToTarget(f); !bound {
				fd.Severity = Critical
				fd.ScoringMessage = "SMB operation failed: [Errno 111] Connection refused"
			}
			fd.Summary = fmt.Sprintf("smbd's sockets are older than smb.conf: %s", mm)
			fd.Explanation = fmt.Sprintf("smbd started %s; smb ports, interfaces and bind interfaces only are applied only at start, not by reload-config or SIGHUP (%s).", startedText(f), behaviourRange(f, smbconf.BehaviourSocketsNeedRestart))
			if len(changed) > 0 {
				fd.Explanation = joinSentences(fd.Explanation, fmt.Sprintf("smb.conf changed since (%s)", changed[len(changed)-1].ModTime.Format("2006-01-02 15:04:05")))
			}
			_, ports := confSMBPorts(f)
			fd.Evidence = append(fd.Evidence, ports.Evidence(), globalValue(f, "interfaces").Evidence(), globalValue(f, "bind interfaces only").Evidence())
			fd.Evidence = append(fd.Evidence, changedEvidence(f, changed)...)
			fd.Evidence = append(fd.Evidence, socketEvidence(f)...)
			fd.Fix = &Fix{Kind: FixRestart, Summary: "restart smbd so that it binds what smb.conf says",
				Why: "reload-config does not rebind sockets; open sessions are dropped by the restart, clients reconnect"}
		},
		causeGlobalHostsNotReload: func(f *Facts, _ Trigger, fd *Finding) {
			h, _ := hostsExclude(f)
			fd.Summary = fmt.Sprintf("[global] hosts allow/deny changed after smbd started (%s); the parent still applies the old lists", startedText(f))
			fd.Explanation = withRange(f, "The parent decides at accept time with its old lists and each new child applies the new ones at tree connect: the engine gets in, then IPC$ is refused (ipc-unavailable)", smbconf.BehaviourGlobalHostsNeedReload) + "."
			fd.ScoringMessage = ipcMessage
			fd.Evidence = append(fd.Evidence, h.Value.Evidence())
			fd.Evidence = append(fd.Evidence, changedEvidence(f, configChangedSinceStart(f))...)
			fd.Fix = &Fix{Kind: FixReload, Summary: "reload smbd's configuration (smbcontrol smbd reload-config) so that parent and children use the same lists",
				Steps: []string{fmt.Sprintf("smbcontrol -s %s smbd reload-config", smbConfForCommands(f))}}
		},
		causePendingPerConn: func(f *Facts, _ Trigger, fd *Finding) {
			live, cfg := liveDiffersFromConfig(f)
			fd.Summary = fmt.Sprintf("smb.conf changed after smbd started and the probes still saw the old dialects (%s; the file allows %s)", live, cfg)
			fd.Explanation = withRange(f, "Protocol settings are re-read by every new connection, so the next connection picks the change up without a reload or restart", smbconf.BehaviourNewConnectionRereads) + "; run diagnose again to confirm."
			fd.Evidence = append(fd.Evidence, changedEvidence(f, configChangedSinceStart(f))...)
			fd.Fix = &Fix{Kind: FixManual, Summary: "run diagnose again; no restart is needed for per-connection settings"}
		},
	}})
}

// Causes (12-stale-config.yaml).
const (
	causeOtherConfig          = "smbd-other-config"
	causeListenNotApplied2    = "listen-settings-not-applied"
	causeGlobalHostsNotReload = "global-hosts-not-reloaded"
	causePendingPerConn       = "per-connection-change-pending"
)

func startedText(f *Facts) string { return f.Smbd.Master.Started.Format("2006-01-02 15:04:05") }

// staleConfigFires: a running smbd that does not read the checked file,
// whose sockets do not match it, or that started before it changed.
func staleConfigFires(f *Facts) []Trigger {
	if !f.Smbd.Running || f.Smbd.Master == nil {
		return nil
	}
	uses, known := usesThisConfig(f)
	mm, _ := socketMismatch(f)
	if (known && !uses) || mm != "" || len(configChangedSinceStart(f)) > 0 {
		return []Trigger{{}}
	}
	return nil
}

// liveDiffersFromConfig compares the dialects smb.conf allows with those the
// live probes saw ("" when they agree or either is unknown).
func liveDiffersFromConfig(f *Facts) (live, cfg string) {
	pol, ok := ConfigPolicy(f)
	if !ok || f.ConfigErr != nil {
		return "", ""
	}
	acc := LiveAccepted(f.Probe)
	var l, c []string
	differ := false
	for _, d := range TableDialects {
		b := acc[d]
		if b == nil {
			continue
		}
		if *b {
			l = append(l, d)
		}
		if ConfigAccepts(pol, d) {
			c = append(c, d)
		}
		if *b != ConfigAccepts(pol, d) {
			differ = true
		}
	}
	if !differ {
		return "", ""
	}
	return listOr(l, "none"), listOr(c, "none")
}
