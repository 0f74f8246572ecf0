package checks

import (
	"fmt"
	"github.com/smb-agent/smb-agent/configs/smbconf"
)

// rpc-bind-failed: "Failed to list shares: Unable to bind to Server Service
// RPC endpoint". The srvsvc pipe opened, then reading the bind reply failed:
// the rpcd_classic worker behind it died or restarted (pysmb smb/base.py
// raises this when the READ of the bind reply fails; smbd logs
// NT_STATUS_PIPE_DISCONNECTED at level 3, source3/smbd/smb2_read.c;
// reproduced by TestDiagnoseRPCBindFailed). Usually
// transient: samba-dcerpcd starts a new worker.
func init() {
	RegisterPattern(Pattern{ID: PatternRPCBindFailed, Deps: NeedsConnection, Fires: rpcBindFailedFires, Causes: map[string]CauseBuilder{
		causeRPCWorkerDied: func(f *Facts, _ Trigger, fd *Finding) {
			if !releaseDoes(f, smbconf.BehaviourSambaDcerpcd) {
				fd.Summary = "the smbd child serving the connection, which serves srvsvc itself on this release, died, hangs or restarted during the bind"
				fd.Explanation = withRange(f, "samba-dcerpcd and its rpcd_classic workers serve RPC pipes", smbconf.BehaviourSambaDcerpcd) + "; before, each smbd child answers the RPC pipes of its own connection."
				fd.Fix = &Fix{Kind: FixManual, Summary: "find why the smbd child dies (dmesg OOM kills, PANIC lines in the smbd logs, a stopped process) and fix that",
					Steps: []string{"ps -o pid,stat,lstart,args -C smbd", "dmesg | grep -i -e oom -e smbd"}}
				return
			}
			fd.Summary = "the RPC worker serving srvsvc (rpcd_classic / samba-dcerpcd) died, hangs or restarted during the bind"
			fd.Fix = &Fix{Kind: FixManual, Summary: "find why the worker dies (dmesg OOM kills, panic lines in log.rpcd_classic, a stopped process) and fix that",
				Steps: []string{"ps -o pid,stat,lstart,args -C samba-dcerpcd,rpcd_classic", "dmesg | grep -i -e oom -e rpcd"}}
		},
		causeRPCBindTransient: func(f *Facts, _ Trigger, fd *Finding) {
			fd.Summary = "the srvsvc bind failed, and the RPC workers look healthy now: a transient failure"
			fd.Fix = &Fix{Kind: FixConfig, Summary: "raise the log level to catch the next failure (log level = 1 smb2:3 rpc_srv:5)",
				Changes: []Change{configChange(globalValue(f, "log level"), "1 smb2:3 rpc_srv:5")},
				Risk:    "verbose logs: remove the line after the diagnosis"}
		},
	}})
}

// Causes (08-rpc-bind-failed.yaml).
const (
	causeRPCWorkerDied    = "rpc-worker-died"
	causeRPCBindTransient = "rpc-bind-transient"
)

// rpcBindFailedFires: the srvsvc pipe opened, then the bind or
// NetrShareEnum failed.
func rpcBindFailedFires(f *Facts) []Trigger {
	listing, ok := shareListing(f)
	if !ok || (listing != "bind-failed" && listing != "enum-failed") {
		return nil
	}
	t := Trigger{Evidence: []Evidence{probeEvidence("srvsvc bind / NetrShareEnum: %s", stepText(f.Probe.Shares.Step))}}
	if listing == "enum-failed" {
		t.ScoringMessage = "SMB operation failed: Failed to list shares: Unable to retrieve shared device list"
	}
	for _, p := range f.Smbd.Dcerpcd {
		t.Evidence = append(t.Evidence, Evidence{Kind: "process", Text: fmt.Sprintf("%s pid %d state %s started %s", p.Comm, p.PID, p.State, p.Started.Format("15:04:05"))})
	}
	return []Trigger{t}
}
