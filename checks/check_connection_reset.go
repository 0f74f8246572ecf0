package checks

import (
	"fmt"

	"github.com/smb-agent/smb-agent/checks/probe"
)

// connection-reset: "SMB operation failed: [Errno 104] Connection reset by
// peer". smbd closed an established connection with the engine's request
// unread: the parent accepts and closes when "max smbd processes" is
// reached (smbd-notifyd and smbd-cleanupd count; nothing is logged), or the
// child serving the engine died (research scenarios.md row 9).
func init() { Register(NewCheck(PatternConnectionReset, checkConnectionReset)) }

// Causes (09-connection-reset.yaml).
const (
	causeMaxSmbdProcesses = "max-smbd-processes"
	causeSmbdChildDied    = "smbd-child-died"
	causeMiddleboxReset   = "middlebox-reset"
)

func checkConnectionReset(f *Facts) []Finding {
	if c, known := tcpConnected(f); !known || !c {
		return maxProcsConfigFinding(f)
	}
	var step probe.Step
	what := ""
	if s, ok := smb1Probe(f, probe.OfferPysmb); ok && (s.Class == probe.ClassReset || s.Class == probe.ClassClosed) {
		step, what = s.Step, "SMB1 NEGOTIATE (pysmb's offer)"
	} else if m := f.Probe.Multi; m.Class == probe.ClassReset || m.Class == probe.ClassClosed {
		step, what = m.Step, "SMB2 NEGOTIATE"
	}
	if what == "" {
		return maxProcsConfigFinding(f)
	}
	fd := newFinding(PatternConnectionReset, "", Critical, "")
	fd.Evidence = []Evidence{probeEvidence("%s: %s", what, stepText(step))}
	limit, children, reached, known := maxSmbd(f)
	died, _ := Answer("process.smbd_child_died", f, nil)
	switch {
	case known && limit > 0 && (reached || limit <= 2 || children+1 >= limit):
		fd.Cause = causeMaxSmbdProcesses
		fd.Summary = fmt.Sprintf("max smbd processes = %d is reached (%d smbd children, smbd-notifyd and smbd-cleanupd included): smbd accepts and closes new connections", limit, children)
		fd.Explanation = "The parent refuses to fork beyond the limit and closes the accepted socket without logging anything; the client sees a reset or an empty close."
		fd.Evidence = append(fd.Evidence, globalValue(f, "max smbd processes").Evidence(),
			Evidence{Kind: "process", Text: fmt.Sprintf("%d smbd children now", children)})
		fd.Fix = maxProcsFix(f)
	case died == "yes":
		fd.Cause = causeSmbdChildDied
		fd.Summary = "an smbd child died or hangs with the client's request unread"
		fd.Evidence = append(fd.Evidence, processEvidence(f)...)
		fd.Fix = &Fix{Kind: FixManual, Summary: "find why the child dies (panic lines, dmesg OOM kills, a child stuck in state D/T) and fix that",
			Steps: []string{"ps -o pid,stat,wchan:32,lstart,comm --ppid " + masterPIDText(f), "dmesg | grep -i -e oom -e smbd"}}
	default:
		fd.Cause = causeMiddleboxReset
		fd.Summary = "the connection was closed before the negotiate reply, and nothing on this host explains it"
		fd.Fix = &Fix{Kind: FixManual, Summary: "capture the engine's traffic on this host to see who sends the reset",
			Steps: []string{fmt.Sprintf("tcpdump -ni any 'tcp port %d and tcp[tcpflags] & tcp-rst != 0'", targetPort(f))}}
	}
	return []Finding{fd}
}

// maxProcsConfigFinding: with "max smbd processes" at 2 or less no client
// ever gets a session (notifyd and cleanupd use up the slots), whatever
// the probes saw.
func maxProcsConfigFinding(f *Facts) []Finding {
	cv := globalValue(f, "max smbd processes")
	if !cv.OK {
		return nil
	}
	limit, _, _, _ := maxSmbd(f)
	if !f.Smbd.Running {
		fmt.Sscan(cv.Printed, &limit)
	}
	if limit <= 0 || limit > 2 {
		return nil
	}
	fd := newFinding(PatternConnectionReset, causeMaxSmbdProcesses, Critical,
		fmt.Sprintf("max smbd processes = %d: smbd-notifyd and smbd-cleanupd take those slots, so no client gets in", limit))
	fd.Evidence = []Evidence{cv.Evidence()}
	fd.Fix = maxProcsFix(f)
	return []Finding{fd}
}

func maxProcsFix(f *Facts) *Fix {
	return &Fix{Kind: FixConfig, Summary: "remove max smbd processes (0 = no limit), or set it well above the real need",
		Changes: []Change{removeChange(globalValue(f, "max smbd processes"))},
		Why:     "the limit counts smbd-notifyd and smbd-cleanupd, so small values starve clients",
		Risk:    "if the limit was set against a connection flood, find the flood's source first (smbstatus -p)"}
}
