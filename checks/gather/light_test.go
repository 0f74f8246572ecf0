package gather

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks"
	"github.com/smb-agent/smb-agent/checks/probe"
)

// selfAsMaster describes the test process the way gatherProcesses
// describes an smbd master, so that sameMaster has a live process to check.
func selfAsMaster(t *testing.T) *checks.Process {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(os.Getpid()), "stat"))
	require.NoError(t, err)
	st, err := parseProcStat(string(b))
	require.NoError(t, err)
	boot, err := bootTime("/proc", time.Now())
	require.NoError(t, err)
	return &checks.Process{PID: st.pid, Started: boot.Add(time.Duration(st.startTick) * time.Second / clockTicks)}
}

func TestCarryNT1(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "smb.conf")
	require.NoError(t, os.WriteFile(conf, []byte("[global]\n"), 0o644))
	started := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	prevFacts := func() *checks.Facts {
		return &checks.Facts{
			ConfigFiles: statFiles([]string{conf}),
			Smbd:        checks.SmbdFacts{Running: true, Master: selfAsMaster(t)},
			Probe: &probe.Result{Started: started, Multi: probe.SMB2Result{Step: probe.Step{Class: probe.ClassOK}}, SMB1: []probe.SMB1Result{
				{Offer: probe.OfferPysmb, Accepted: true, Step: probe.Step{Class: probe.ClassOK}},
				{Offer: probe.OfferNT1, Step: probe.Step{Class: probe.ClassNoCommonDialect}},
			}},
		}
	}
	now := time.Now()

	c := carryNT1(prevFacts(), "/proc", now)
	require.NotNil(t, c, "nothing changed: carried")
	require.Equal(t, probe.OfferNT1, c.Offer)
	require.Equal(t, probe.ClassNoCommonDialect, c.Class)
	require.Equal(t, &probe.Carried{ProbedAt: started, Runs: 1}, c.Carried)

	// Carried again: the time of the probe stays, the count grows, up to
	// the full sweep.
	p := prevFacts()
	p.Probe.SMB1[1] = *c
	c2 := carryNT1(p, "/proc", now)
	require.Equal(t, &probe.Carried{ProbedAt: started, Runs: 2}, c2.Carried)
	p.Probe.SMB1[1].Carried = &probe.Carried{ProbedAt: started, Runs: fullSweepEvery - 1}
	require.Nil(t, carryNT1(p, "/proc", now), "full sweep every %d rounds", fullSweepEvery)

	require.Nil(t, carryNT1(nil, "/proc", now), "first round")

	p = prevFacts()
	p.Errors = []string{"logs: something"}
	require.Nil(t, carryNT1(p, "/proc", now), "after an error")

	p = prevFacts()
	p.Probe.SMB1[0].Class = probe.ClassNoCommonDialect
	require.Nil(t, carryNT1(p, "/proc", now), "after a failure")

	p = prevFacts()
	p.Probe.SMB1[1].Class = probe.ClassTimeout
	require.Nil(t, carryNT1(p, "/proc", now), "no clear answer to carry")

	p = prevFacts()
	p.Smbd.Master.Started = p.Smbd.Master.Started.Add(-time.Hour)
	require.Nil(t, carryNT1(p, "/proc", now), "smbd restarted (same PID, other start)")
	p.Smbd.Master = nil
	require.Nil(t, carryNT1(p, "/proc", now), "no smbd master seen")

	p = prevFacts()
	require.NoError(t, os.WriteFile(conf, []byte("[global]\nserver min protocol = NT1\n"), 0o644))
	require.Nil(t, carryNT1(p, "/proc", now), "smb.conf changed")
	require.NoError(t, os.Remove(conf))
	require.Nil(t, carryNT1(p, "/proc", now), "smb.conf gone")
}
