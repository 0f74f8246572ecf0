package checks

import (
	"strconv"
	"strings"

	"github.com/smb-agent/smb-agent/checks/probe"
	"github.com/smb-agent/smb-agent/configs/smbconf"
)

// Answer functions of the process.* facts (see answers.go).

// smbdState is process.smbd_state.
func smbdState(f *Facts) (string, bool) {
	if f.Smbd.Err != "" && !f.Smbd.Running {
		return "", false
	}
	if !f.Smbd.Running || f.Smbd.Master == nil {
		return "not-running", true
	}
	switch f.Smbd.Master.State {
	case "T", "t":
		return "stopped", true
	case "D":
		return "unresponsive", true
	}
	if connected, known := tcpConnected(f); known && connected && f.Probe != nil && f.Probe.Multi.Class == probe.ClassTimeout {
		return "unresponsive", true
	}
	return "responsive", true
}

func ansSmbdState(c *answerCtx) (string, bool) { return smbdState(c.f) }

func ansUsesConf(c *answerCtx) (string, bool) {
	u, ok := usesThisConfig(c.f)
	if !ok {
		return "", false
	}
	return yesNo(u), true
}

func ansStartedBeforeChange(c *answerCtx) (string, bool) {
	if c.f.Smbd.Master == nil || c.f.Smbd.Master.Started.IsZero() || len(c.f.ConfigFiles) == 0 {
		return "", false
	}
	return yesNo(len(configChangedSinceStart(c.f)) > 0), true
}

// maxSmbd is "max smbd processes" and whether the children reached it
// (smbd-notifyd and smbd-cleanupd count, source3/smbd/server.c).
func maxSmbd(f *Facts) (limit, children int, reached, known bool) {
	cv := globalValue(f, "max smbd processes")
	if !cv.OK {
		return 0, 0, false, false
	}
	limit, _ = strconv.Atoi(strings.TrimSpace(cv.Printed))
	// smbd-notifyd and smbd-cleanupd take two of the slots
	// (source3/smbd/server.c counts every child), so 1 or 2 lets no client
	// in whether or not smbd runs now; otherwise the next client's child
	// must fit under the limit.
	if limit > 0 && limit <= 2 {
		return limit, len(f.Smbd.Children), true, true
	}
	if !f.Smbd.Running {
		return limit, 0, false, limit <= 0
	}
	children = len(f.Smbd.Children)
	return limit, children, limit > 0 && children+1 >= limit, true
}

func ansMaxSmbdReached(c *answerCtx) (string, bool) {
	_, _, reached, ok := maxSmbd(c.f)
	if !ok {
		return "", false
	}
	return yesNo(reached), true
}

func isStoppedOrStuck(p Process) bool { return p.State == "T" || p.State == "t" || p.State == "D" }

func ansChildDied(c *answerCtx) (string, bool) {
	for _, p := range c.f.Smbd.Children {
		if isStoppedOrStuck(p) {
			return "yes", true
		}
	}
	if len(logLines(c.f, 1, "panic", "smbd-panic", "oom")) > 0 {
		return "yes", true
	}
	if !c.f.Smbd.Running {
		return "", false
	}
	return "no", true
}

func dcerpcdRunning(f *Facts) bool {
	for _, p := range f.Smbd.Dcerpcd {
		if strings.HasPrefix(p.Comm, "samba-dcerpcd") || strings.Contains(strings.Join(p.Args, " "), "samba-dcerpcd") {
			return true
		}
	}
	return false
}

// notInRelease answers a question about samba-dcerpcd on a release without
// it: smbd serves RPC pipes itself there, so its absence explains nothing.
const notInRelease = "not-in-release"

func ansDcerpcdRunning(c *answerCtx) (string, bool) {
	if !releaseDoes(c.f, smbconf.BehaviourSambaDcerpcd) {
		return notInRelease, true
	}
	if c.f.Smbd.Err != "" && len(c.f.Smbd.Dcerpcd) == 0 {
		return "", false
	}
	return yesNo(dcerpcdRunning(c.f)), true
}

func ansRPCHelpersOK(c *answerCtx) (string, bool) {
	if !releaseDoes(c.f, smbconf.BehaviourSambaDcerpcd) {
		return notInRelease, true
	}
	if c.f.RPCHelpers == nil {
		return "", false
	}
	for _, b := range c.f.RPCHelpers {
		if !b.Exists || !b.Executable {
			return "no", true
		}
	}
	return "yes", true
}

// ansRPCWorkerDied: the process serving srvsvc is an rpcd_classic worker
// of samba-dcerpcd where the release has it, else the smbd child of the
// connection itself.
func ansRPCWorkerDied(c *answerCtx) (string, bool) {
	if !releaseDoes(c.f, smbconf.BehaviourSambaDcerpcd) {
		return ansChildDied(c)
	}
	for _, p := range c.f.Smbd.Dcerpcd {
		if isStoppedOrStuck(p) {
			return "yes", true
		}
	}
	if len(logLines(c.f, 1, "rpc-panic", "rpc-worker-died")) > 0 {
		return "yes", true
	}
	if c.f.Smbd.Err != "" {
		return "", false
	}
	return "no", true
}
