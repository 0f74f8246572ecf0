package gather

import (
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/smb-agent/smb-agent/checks"
	"github.com/smb-agent/smb-agent/checks/probe"
)

// A light round (serve): the NT1 offer is the one probe whose answer is not
// implied by the client's own path (pysmb's handshake, the all-dialect
// negotiate, login, IPC$, srvsvc, share, file), and it depends only on
// smb.conf and on the smbd that read it. So a round may carry it from the
// round before instead of costing smbd a fork, as long as nothing it
// depends on has changed. Every other round is a full sweep: the first, one
// after any failure, error or change, and at least every fullSweepEvery
// rounds, so that a carried answer never goes stale for long.

// fullSweepEvery bounds how many rounds in a row carry an answer.
const fullSweepEvery = 10

// carryNT1 returns the NT1 answer this round may carry from prev, or nil
// when it must probe it: prev probed or carried a clear answer, found no
// failure and no error, smb.conf and every file it includes have the same
// size and modification time as then, and the same smbd master (PID and
// start time) still runs.
func carryNT1(prev *checks.Facts, procRoot string, now time.Time) *probe.SMB1Result {
	if prev == nil || prev.Probe == nil || len(prev.Errors) > 0 || len(prev.Probe.Failures()) > 0 {
		return nil
	}
	var nt1 *probe.SMB1Result
	for i := range prev.Probe.SMB1 {
		if prev.Probe.SMB1[i].Offer == probe.OfferNT1 {
			nt1 = &prev.Probe.SMB1[i]
		}
	}
	if nt1 == nil || (nt1.Class != probe.ClassOK && nt1.Class != probe.ClassNoCommonDialect) {
		return nil
	}
	if nt1.Carried != nil && nt1.Carried.Runs+1 >= fullSweepEvery {
		return nil
	}
	if len(prev.ConfigFiles) == 0 || !sameFiles(prev.ConfigFiles) {
		return nil
	}
	if !sameMaster(prev.Smbd.Master, procRoot, now) {
		return nil
	}
	c := *nt1
	c.Carried = &probe.Carried{ProbedAt: prev.Probe.Started}
	if nt1.Carried != nil {
		c.Carried.ProbedAt, c.Carried.Runs = nt1.Carried.ProbedAt, nt1.Carried.Runs
	}
	c.Carried.Runs++
	return &c
}

// sameFiles: every file still has the size and modification time recorded.
func sameFiles(was []checks.FileStat) bool {
	now := statFiles(filePaths(was))
	for i, f := range was {
		if f.Err != "" || now[i].Err != "" || !now[i].ModTime.Equal(f.ModTime) || now[i].Size != f.Size {
			return false
		}
	}
	return true
}

func filePaths(fs []checks.FileStat) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Path
	}
	return out
}

// sameMaster: the process with the master's PID started when the master
// did. Start times come from the boot time, which /proc/uptime gives to
// 10 ms, so they match within a second; a new process with a recycled PID
// a second apart is not the same smbd.
func sameMaster(m *checks.Process, procRoot string, now time.Time) bool {
	if m == nil || m.Started.IsZero() {
		return false
	}
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(m.PID), "stat"))
	if err != nil {
		return false
	}
	st, err := parseProcStat(string(b))
	if err != nil || st.pid != m.PID {
		return false
	}
	boot, err := bootTime(procRoot, now)
	if err != nil {
		return false
	}
	started := boot.Add(time.Duration(st.startTick) * time.Second / clockTicks)
	d := started.Sub(m.Started)
	return d < time.Second && d > -time.Second
}
