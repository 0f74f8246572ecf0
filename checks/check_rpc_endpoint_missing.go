package checks

import (
	"fmt"

	"github.com/smb-agent/smb-agent/checks/probe"
	"github.com/smb-agent/smb-agent/configs/smbconf"
)

// rpc-endpoint-missing: "Failed to list shares: Unable to locate Server
// Service RPC endpoint". The IPC$ tree connect worked, the CREATE of the
// "srvsvc" pipe failed. Since Samba 4.16 smbd hands pipes to samba-dcerpcd,
// which it starts on demand unless "rpc start on demand helpers = no"
// (source3/rpc_client/local_np.c: "Can't connect to a running
// samba-dcerpcd"); "nt pipe support = no" refuses every pipe
// (docs-xml/smbdotconf/protocol/ntpipesupport.xml; reproduced by
// TestProbeRPCEndpointMissing and TestDiagnoseRPCEndpointMissing).
func init() {
	RegisterPattern(Pattern{ID: PatternRPCEndpointMissing, Deps: NeedsConnection, Fires: rpcEndpointMissingFires, Causes: map[string]CauseBuilder{
		causeNTPipeOff: func(f *Facts, _ Trigger, fd *Finding) {
			_, cv, _ := rpcPipes(f)
			fd.Summary = "nt pipe support = no refuses every named pipe, srvsvc included"
			fd.Evidence = append(fd.Evidence, cv.Evidence())
			fd.Fix = &Fix{Kind: FixConfig, Summary: "remove nt pipe support (the default is yes)",
				Changes: []Change{removeChange(cv)}, Why: "share listing needs the srvsvc pipe"}
		},
		causeOnDemandOff: func(f *Facts, _ Trigger, fd *Finding) {
			_, cv, _ := rpcPipes(f)
			fd.Summary = "rpc start on demand helpers = no and no samba-dcerpcd runs, so nothing serves srvsvc"
			fd.Explanation = withRange(f, "smbd serves named pipes through samba-dcerpcd", smbconf.BehaviourSambaDcerpcd) + "; with on-demand start off it must run as its own service."
			fd.Evidence = append(fd.Evidence, cv.Evidence(), Evidence{Kind: "process", Text: "no samba-dcerpcd process for this configuration"})
			fd.Evidence = append(fd.Evidence, logEvidence(logLines(f, 2, LogRPCHelper))...)
			fd.Fix = &Fix{Kind: FixConfig, Summary: "set rpc start on demand helpers = yes (the default)",
				Changes: []Change{configChange(cv, "yes")},
				Why:     "smbd then starts samba-dcerpcd itself when a client opens a pipe; alternatively run samba-dcerpcd --libexec-rpcds as a service"}
			if cv.OK && !cv.Origin.IsDefault() {
				fd.Fix.Changes = []Change{removeChange(cv)}
				fd.Fix.Summary = "remove rpc start on demand helpers (the default is yes)"
			}
		},
		causeRPCHelperBroken: func(f *Facts, _ Trigger, fd *Finding) {
			fd.Summary = "samba-dcerpcd or rpcd_classic is missing, not executable, or fails to start"
			for _, b := range f.RPCHelpers {
				fd.Evidence = append(fd.Evidence, Evidence{Kind: "process", Text: fmt.Sprintf("%s: exists=%v executable=%v", b.Path, b.Exists, b.Executable)})
			}
			fd.Evidence = append(fd.Evidence, logEvidence(logLines(f, 3, LogRPCExecFailed, LogRPCHelper))...)
			fd.Fix = &Fix{Kind: FixManual, Summary: "reinstall the RPC helpers (apt-get install --reinstall samba-common-bin) and clear AppArmor/SELinux denials",
				Steps: []string{"apt-get install --reinstall samba-common-bin"}}
		},
		causeRPCUnexplained: func(f *Facts, _ Trigger, fd *Finding) {
			fd.Summary = "the srvsvc pipe could not be opened, and smb.conf and the helpers look right"
			if f.Probe != nil && f.Probe.Shares != nil && f.Probe.Shares.Status == probe.StatusConnectionDisconnected {
				fd.Explanation = "STATUS_CONNECTION_DISCONNECTED on the pipe open means samba-dcerpcd died while starting; one known trigger is smbd started with a relative -s path, which the helper cannot resolve from its own directory."
			}
			fd.Fix = &Fix{Kind: FixConfig, Summary: "raise the log level to catch the next failure (log level = 1 smb2:3 rpc_srv:3)",
				Changes: []Change{configChange(globalValue(f, "log level"), "1 smb2:3 rpc_srv:3")},
				Risk:    "verbose logs: remove the line after the diagnosis"}
		},
	}})
}

// Causes (06-rpc-endpoint-missing.yaml).
const (
	causeOnDemandOff     = "on-demand-helpers-off"
	causeNTPipeOff       = "nt-pipe-support-off"
	causeRPCHelperBroken = "rpc-helper-broken"
	causeRPCUnexplained  = "rpc-unexplained"
)

// rpcEndpointMissingFires: the probe could not open the srvsvc pipe, or
// smb.conf leaves nothing to serve it (and the listing did not work).
func rpcEndpointMissingFires(f *Facts) []Trigger {
	listing, listed := shareListing(f)
	failed := listed && listing == "pipe-open-failed"
	pipes, _, pipesKnown := rpcPipes(f)
	configBroken := pipesKnown && ((pipes == "on-demand-off" && !dcerpcdRunning(f)) || pipes == "nt-pipe-support-off")
	if !failed && !(configBroken && !(listed && listing == "ok")) {
		return nil
	}
	var ev []Evidence
	if failed {
		ev = []Evidence{probeEvidence("open of the srvsvc pipe on IPC$: %s", stepText(f.Probe.Shares.Step))}
	}
	return []Trigger{{Evidence: ev}}
}
