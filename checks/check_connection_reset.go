package checks

import (
	"fmt"

	"github.com/smb-agent/smb-agent/checks/probe"
	"github.com/smb-agent/smb-agent/configs/smbconf"
)

// connection-reset: "SMB operation failed: [Errno 104] Connection reset by
// peer". smbd closed an established connection with the engine's request
// unread: the parent accepts and closes when "max smbd processes" is
// reached (smbd-notifyd and smbd-cleanupd count; nothing is logged), or the
// child serving the engine died (source3/smbd/server.c
// smbd_accept_connection; observed on Samba 4.17.12, reproduced by
// TestProbeResetByMaxSmbdProcesses and TestDiagnoseConnectionReset).
func init() {
	RegisterPattern(Pattern{ID: PatternConnectionReset, Deps: NeedsConnection, Fires: connectionResetFires, Causes: map[string]CauseBuilder{
		causeMaxSmbdProcesses: func(f *Facts, _ Trigger, fd *Finding) {
			limit, children, _, _ := maxSmbd(f)
			if limit <= 2 {
				fd.Summary = withRange(f, fmt.Sprintf("max smbd processes = %d: smbd-notifyd and smbd-cleanupd take those slots, so no client gets in", limit), smbconf.BehaviourMaxProcessesCountHelpers)
			} else {
				fd.Summary = withRange(f, fmt.Sprintf("max smbd processes = %d is reached (%d smbd children, smbd-notifyd and smbd-cleanupd included): smbd accepts and closes new connections", limit, children), smbconf.BehaviourMaxProcessesCountHelpers)
			}
			fd.Explanation = "The parent refuses to fork beyond the limit and closes the accepted socket without logging anything; the client sees a reset or an empty close."
			fd.Evidence = append(fd.Evidence, globalValue(f, "max smbd processes").Evidence(),
				Evidence{Kind: "process", Text: fmt.Sprintf("%d smbd children now", children)})
			fd.Fix = maxProcsFix(f)
		},
		causeSmbdChildDied: func(f *Facts, _ Trigger, fd *Finding) {
			fd.Summary = "an smbd child died or hangs with the client's request unread"
			fd.Evidence = append(fd.Evidence, processEvidence(f)...)
			fd.Fix = &Fix{Kind: FixManual, Summary: "find why the child dies (panic lines, dmesg OOM kills, a child stuck in state D/T) and fix that",
				Steps: []string{"ps -o pid,stat,wchan:32,lstart,comm --ppid " + masterPIDText(f), "dmesg | grep -i -e oom -e smbd"}}
		},
		causeMiddleboxReset: func(f *Facts, _ Trigger, fd *Finding) {
			fd.Summary = "the connection was closed before the negotiate reply, and nothing on this host explains it"
			fd.Fix = &Fix{Kind: FixManual, Summary: "capture the engine's traffic on this host to see who sends the reset",
				Steps: []string{fmt.Sprintf("tcpdump -ni any 'tcp port %d and tcp[tcpflags] & tcp-rst != 0'", targetPort(f))}}
		},
	}})
}

// Causes (09-connection-reset.yaml).
const (
	causeMaxSmbdProcesses = "max-smbd-processes"
	causeSmbdChildDied    = "smbd-child-died"
	causeMiddleboxReset   = "middlebox-reset"
)

// connectionResetFires: TCP connected and the negotiate was reset or
// closed; or max smbd processes is so low (1 or 2) that no client can get
// in, whether or not the probe saw it.
func connectionResetFires(f *Facts) []Trigger {
	if c, known := tcpConnected(f); known && c {
		if s, ok := smb1Probe(f, probe.OfferPysmb); ok && (s.Class == probe.ClassReset || s.Class == probe.ClassClosed) {
			return []Trigger{{Evidence: []Evidence{probeEvidence("SMB1 NEGOTIATE (pysmb's offer): %s", stepText(s.Step))}}}
		}
		if m := f.Probe.Multi; m.Class == probe.ClassReset || m.Class == probe.ClassClosed {
			return []Trigger{{Evidence: []Evidence{probeEvidence("SMB2 NEGOTIATE: %s", stepText(m.Step))}}}
		}
	}
	if limit, _, _, ok := maxSmbd(f); ok && limit > 0 && limit <= 2 {
		return []Trigger{{}}
	}
	return nil
}

func maxProcsFix(f *Facts) *Fix {
	return &Fix{Kind: FixConfig, Summary: "remove max smbd processes (0 = no limit), or set it well above the real need",
		Changes: []Change{removeChange(globalValue(f, "max smbd processes"))},
		Why:     withRange(f, "the limit counts smbd-notifyd and smbd-cleanupd, so small values starve clients", smbconf.BehaviourMaxProcessesCountHelpers),
		Risk:    "if the limit was set against a connection flood, find the flood's source first (smbstatus -p)"}
}
