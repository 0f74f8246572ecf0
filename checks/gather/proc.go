package gather

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/smb-agent/smb-agent/checks"
	"github.com/smb-agent/smb-agent/configs/safefile"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat's starttime. It is 100
// on every Linux architecture Samba runs on (the kernel exports it as
// sysconf(_SC_CLK_TCK), which Go cannot read without cgo).
const clockTicks = 100

// defaultSmbConf is smbd's compiled-in configuration file (`smbd -b`:
// CONFIGFILE on Debian), used when its command line has no -s.
const defaultSmbConf = "/etc/samba/smb.conf"

// procStat is the part of /proc/PID/stat the agent needs.
type procStat struct {
	pid       int
	comm      string
	state     string
	ppid      int
	startTick uint64 // field 22: start time in clock ticks since boot
}

// parseProcStat parses /proc/PID/stat. comm (field 2) is in parentheses
// and may itself contain spaces and ')', so the fields after it are found
// from the last ')' (as procps does).
func parseProcStat(s string) (procStat, error) {
	open := strings.IndexByte(s, '(')
	closeP := strings.LastIndexByte(s, ')')
	if open < 0 || closeP < open {
		return procStat{}, errors.New("no (comm) in stat")
	}
	pid, err := strconv.Atoi(strings.TrimSpace(s[:open]))
	if err != nil {
		return procStat{}, fmt.Errorf("bad pid in stat: %w", err)
	}
	rest := strings.Fields(s[closeP+1:])
	// rest[0] is field 3 (state); field N is rest[N-3].
	if len(rest) < 20 {
		return procStat{}, fmt.Errorf("stat has %d fields after comm, want at least 20", len(rest))
	}
	ppid, err := strconv.Atoi(rest[1])
	if err != nil {
		return procStat{}, fmt.Errorf("bad ppid in stat: %w", err)
	}
	start, err := strconv.ParseUint(rest[19], 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("bad starttime in stat: %w", err)
	}
	return procStat{pid: pid, comm: s[open+1 : closeP], state: rest[0], ppid: ppid, startTick: start}, nil
}

// bootTime is when the machine booted, as wall-clock time. starttime in
// /proc/PID/stat counts from boot on CLOCK_BOOTTIME, and so does
// /proc/uptime, with 10 ms resolution; /proc/stat's btime is the same
// instant truncated to the second, which would make every start time up
// to a second early (and a config written just before smbd started look
// newer than smbd). So uptime first, btime as the fallback.
func bootTime(procRoot string, now time.Time) (time.Time, error) {
	if b, err := os.ReadFile(filepath.Join(procRoot, "uptime")); err == nil {
		if fs := strings.Fields(string(b)); len(fs) > 0 {
			if up, err := strconv.ParseFloat(fs[0], 64); err == nil && up >= 0 {
				return now.Add(-time.Duration(up * float64(time.Second))), nil
			}
		}
	}
	b, err := os.ReadFile(filepath.Join(procRoot, "stat"))
	if err != nil {
		return time.Time{}, fmt.Errorf("read boot time: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			sec, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return time.Time{}, fmt.Errorf("bad btime %q: %w", v, err)
			}
			return time.Unix(sec, 0), nil
		}
	}
	return time.Time{}, fmt.Errorf("no btime in %s", filepath.Join(procRoot, "stat"))
}

// sambaProc is a Process plus what the gatherer needs to place it.
type sambaProc struct {
	checks.Process
	cwd string // /proc/PID/cwd, to resolve a relative -s
}

// isSmbdProc: smbd and its helpers. The per-client children keep comm
// "smbd"; the helpers rename themselves ("smbd-notifyd", and "cleanupd"
// on 4.17), but all keep argv[0] "smbd".
func isSmbdProc(p checks.Process) bool {
	if p.Comm == "smbd" || strings.HasPrefix(p.Comm, "smbd-") || strings.HasPrefix(p.Comm, "smbd[") {
		return true
	}
	return len(p.Args) > 0 && filepath.Base(p.Args[0]) == "smbd"
}

// isDcerpcdProc: samba-dcerpcd and its rpcd_* workers (Samba 4.16+).
func isDcerpcdProc(p checks.Process) bool {
	if p.Comm == "samba-dcerpcd" || strings.HasPrefix(p.Comm, "rpcd_") {
		return true
	}
	if len(p.Args) > 0 {
		b := filepath.Base(p.Args[0])
		return b == "samba-dcerpcd" || strings.HasPrefix(b, "rpcd_")
	}
	return false
}

// readSambaProcs lists the smbd, samba-dcerpcd and rpcd_* processes.
// Processes that vanish while being read are skipped.
func readSambaProcs(procRoot string, boot time.Time) ([]sambaProc, error) {
	ents, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var out []sambaProc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		dir := filepath.Join(procRoot, e.Name())
		b, err := os.ReadFile(filepath.Join(dir, "stat"))
		if err != nil {
			continue
		}
		st, err := parseProcStat(string(b))
		if err != nil {
			continue
		}
		p := checks.Process{PID: st.pid, PPID: st.ppid, Comm: st.comm, State: st.state}
		if mayBeSamba(p, dir) {
			if cl, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil {
				p.Args = splitCmdline(cl)
			}
		}
		if !isSmbdProc(p) && !isDcerpcdProc(p) {
			continue
		}
		if !boot.IsZero() {
			p.Started = boot.Add(time.Duration(st.startTick) * time.Second / clockTicks)
		}
		sp := sambaProc{Process: p}
		sp.cwd, _ = os.Readlink(filepath.Join(dir, "cwd"))
		out = append(out, sp)
	}
	slices.SortFunc(out, func(a, b sambaProc) int { return a.PID - b.PID })
	return out, nil
}

// mayBeSamba says whether a process's command line is worth reading: its
// comm is a Samba one, or its executable is smbd, samba-dcerpcd or an
// rpcd_* worker, or the executable cannot be read (a kernel thread, or a
// process we may not inspect). Reading every process's cmdline is the
// larger part of this walk on a host with thousands of processes; one
// readlink rules out nearly all of them. A process whose argv[0] says smbd
// while it runs another binary is then not taken for smbd.
func mayBeSamba(p checks.Process, dir string) bool {
	if isSmbdProc(p) || isDcerpcdProc(p) {
		return true
	}
	exe, err := os.Readlink(filepath.Join(dir, "exe"))
	if err != nil || exe == "" {
		return true
	}
	b := filepath.Base(strings.TrimSuffix(exe, " (deleted)"))
	return b == "smbd" || b == "samba-dcerpcd" || strings.HasPrefix(b, "rpcd_")
}

// splitCmdline splits /proc/PID/cmdline (NUL-separated; empty for a
// zombie or a kernel thread).
func splitCmdline(b []byte) []string {
	s := strings.TrimRight(string(b), "\x00")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\x00")
}

// optionValue finds a popt option's value in args: "-s X", "-sX",
// "--configfile=X", "--configfile X". It reports the last occurrence, as
// popt does.
func optionValue(args []string, short byte, long string) (string, bool) {
	val, found := "", false
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		switch {
		case long != "" && a == "--"+long:
			if i+1 < len(args) {
				val, found = args[i+1], true
				i++
			}
		case long != "" && strings.HasPrefix(a, "--"+long+"="):
			val, found = strings.TrimPrefix(a, "--"+long+"="), true
		case short != 0 && len(a) >= 2 && a[0] == '-' && a[1] == short:
			if len(a) > 2 {
				val, found = strings.TrimPrefix(a[2:], "="), true
			} else if i+1 < len(args) {
				val, found = args[i+1], true
				i++
			}
		}
	}
	return val, found
}

// configPathOf is the smb.conf a Samba process reads: -s/--configfile,
// relative to its working directory, else the compiled-in default.
func configPathOf(p sambaProc) string {
	v, ok := optionValue(p.Args, 's', "configfile")
	if !ok || v == "" {
		return defaultSmbConf
	}
	if !filepath.IsAbs(v) && p.cwd != "" {
		v = filepath.Join(p.cwd, v)
	}
	return filepath.Clean(v)
}

// samePath reports whether two paths name the same file: equal once
// cleaned, or the same inode (a symlinked /etc/samba).
func samePath(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

// procInput is what the process gatherer needs from the other gatherers.
type procInput struct {
	Root       string
	Now        time.Time
	PIDFile    string            // the smbd pid file in `pid directory`; "" = unknown
	TargetPort int               // the port the probes use
	Listeners  []checks.Listener // from gatherSockets
	ConfPath   string            // the smb.conf the agent reads
}

// gatherProcesses finds the smbd serving the target and its relatives.
// Several smbd instances may run on one host (one per config, or the tests'
// many), so the master is the process that owns the listening socket of
// the target port; without a listener it is the PID in the pid file, and
// without that the smbd master started with the agent's smb.conf.
func gatherProcesses(in procInput) checks.SmbdFacts {
	var out checks.SmbdFacts
	var errs []string
	boot, err := bootTime(in.Root, in.Now)
	if err != nil {
		errs = append(errs, err.Error())
	}
	procs, err := readSambaProcs(in.Root, boot)
	if err != nil {
		out.Err = err.Error()
		return out
	}
	byPID := make(map[int]*sambaProc, len(procs))
	for i := range procs {
		byPID[procs[i].PID] = &procs[i]
	}
	// top climbs from an smbd process to the smbd master it belongs to.
	top := func(p *sambaProc) *sambaProc {
		for i := 0; i < 64 && p != nil; i++ {
			parent := byPID[p.PPID]
			if parent == nil || !isSmbdProc(parent.Process) {
				return p
			}
			p = parent
		}
		return p
	}

	if in.PIDFile != "" {
		out.PIDFile = in.PIDFile
		out.PIDFromFile, err = readPIDFile(in.PIDFile)
		if err != nil {
			out.PIDFileErr = err.Error()
		}
	}

	var master *sambaProc
	// 1. The owner of the listener on the target port (IPv4 first).
	for _, l := range in.Listeners {
		if l.Port != in.TargetPort || l.PID == 0 {
			continue
		}
		if p := byPID[l.PID]; p != nil && isSmbdProc(p.Process) {
			master = top(p)
			break
		}
	}
	// 2. The pid file (smbd writes `pid directory`/smbd.pid whatever its
	// -s; verified on 4.17: source3/smbd/server.c pidfile_create(..., "smbd")).
	if master == nil && out.PIDFromFile > 0 {
		if p := byPID[out.PIDFromFile]; p != nil && isSmbdProc(p.Process) {
			master = top(p)
		}
	}
	// 3. An smbd master started with the agent's smb.conf.
	if master == nil && in.ConfPath != "" {
		for i := range procs {
			p := &procs[i]
			if isSmbdProc(p.Process) && top(p) == p && p.State != "Z" && samePath(configPathOf(*p), in.ConfPath) {
				master = p
				break
			}
		}
	}

	if master != nil {
		m := master.Process
		out.Master = &m
		out.Running = master.State != "Z"
		out.ConfigPath = configPathOf(*master)
	}
	confFor := out.ConfigPath
	if confFor == "" {
		confFor = in.ConfPath
	}
	for i := range procs {
		p := &procs[i]
		switch {
		case master != nil && p.PID == master.PID:
		case master != nil && p.PPID == master.PID:
			out.Children = append(out.Children, p.Process)
		case isDcerpcdProc(p.Process):
			if samePath(configPathOf(*p), confFor) {
				out.Dcerpcd = append(out.Dcerpcd, p.Process)
			}
		case isSmbdProc(p.Process) && top(p) == p && p.State != "Z":
			// a zombie master is dead, not "another smbd running"
			out.OtherSmbd = append(out.OtherSmbd, p.Process)
		}
	}
	if len(errs) > 0 {
		out.Err = strings.Join(errs, "; ")
	}
	return out
}

// readPIDFile reads a Samba pid file (the PID in decimal, then a newline).
func readPIDFile(path string) (int, error) {
	// "pid directory" comes from smb.conf: the file there may be a FIFO,
	// a device or a symlink someone planted (smbd writes a regular file).
	// A PID is a few bytes.
	b, err := safefile.ReadFile(path, safefile.Options{MaxSize: 64, NoFollow: true})
	if err != nil {
		return 0, fmt.Errorf("read pid file: %w", err)
	}
	s := strings.TrimSpace(string(b))
	pid, err := strconv.Atoi(s)
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pid file %s: not a PID: %q", path, truncate(s, 40))
	}
	return pid, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

const processesName = "the smbd processes"

// processesGatherer finds the smbd serving the target (gatherProcesses).
type processesGatherer struct{}

func (processesGatherer) Name() string                  { return processesName }
func (processesGatherer) Deadline(e *env) time.Duration { return e.localBudget }
func (processesGatherer) Failed(f *checks.Facts, why string) {
	f.Smbd = checks.SmbdFacts{Err: why}
}

func (processesGatherer) Gather(_ context.Context, e *env) (func(*checks.Facts), error) {
	s := gatherProcesses(procInput{
		Root:       e.ProcRoot,
		Now:        e.Now(),
		PIDFile:    pickPIDFile(pidFilePaths(e.params.PIDDir, e.Config.SMBConf)),
		TargetPort: e.port,
		Listeners:  e.listeners,
		ConfPath:   e.Config.SMBConf,
	})
	return func(f *checks.Facts) {
		f.Smbd = s
		e.master = s.Master
	}, errIf(s.Err)
}
