package gather

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smb-agent/smb-agent/checks"
	"github.com/stretchr/testify/require"
)

// fakeProc builds a /proc tree in a temp dir: the files the gatherers
// read, in the kernel's formats.
type fakeProc struct {
	t    testing.TB
	root string
}

func newFakeProc(t testing.TB) *fakeProc {
	t.Helper()
	p := &fakeProc{t: t, root: t.TempDir()}
	p.write("uptime", "1000.00 1900.00\n")
	p.write("stat", "cpu  1 2 3\nbtime 1700000000\nprocesses 10\n")
	return p
}

func (p *fakeProc) write(rel, content string) {
	p.t.Helper()
	path := filepath.Join(p.root, rel)
	require.NoError(p.t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(p.t, os.WriteFile(path, []byte(content), 0o644))
}

// proc adds a process: its stat line (starttime in ticks), cmdline, cwd
// and socket fds.
func (p *fakeProc) proc(pid, ppid int, comm, state string, startTicks int, cwd string, args []string, sockets ...uint64) {
	p.t.Helper()
	stat := fmt.Sprintf("%d (%s) %s %d %d %d 0 -1 4194560 100 0 0 0 1 1 0 0 20 0 1 0 %d 82989056 5583 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n",
		pid, comm, state, ppid, pid, pid, startTicks)
	p.write(fmt.Sprintf("%d/stat", pid), stat)
	cl := ""
	if len(args) > 0 {
		cl = strings.Join(args, "\x00") + "\x00"
	}
	p.write(fmt.Sprintf("%d/cmdline", pid), cl)
	dir := filepath.Join(p.root, fmt.Sprint(pid))
	if cwd != "" {
		require.NoError(p.t, os.Symlink(cwd, filepath.Join(dir, "cwd")))
	}
	require.NoError(p.t, os.MkdirAll(filepath.Join(dir, "fd"), 0o755))
	require.NoError(p.t, os.Symlink("/dev/null", filepath.Join(dir, "fd", "0")))
	for i, ino := range sockets {
		require.NoError(p.t, os.Symlink(fmt.Sprintf("socket:[%d]", ino), filepath.Join(dir, "fd", fmt.Sprint(i+3))))
	}
}

const procNetHeader = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"

// A host with two smbd instances (A on 4450 with config /tmp/a/smb.conf,
// B on 4451 started with a relative -s), their RPC helpers, a zombie smbd
// and an sshd holding 4452.
func hostFixture(t *testing.T) *fakeProc {
	p := newFakeProc(t)
	p.write("net/tcp", procNetHeader+
		"   0: 0100007F:1162 00000000:0000 0A 00000000:00000003 00:00000000 00000000     0        0 5001 1 0000000000000000 100 0 0 10 0\n"+
		"   1: 00000000:1163 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 6001 1 0000000000000000 100 0 0 10 0\n"+
		"   2: 0100007F:1162 0100007F:A000 01 00000000:00000000 00:00000000 00000000     0        0 9001 1 0000000000000000 20 4 30 10 -1\n"+
		"   3: 0100007F:1164 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 7001 1 0000000000000000 100 0 0 10 0\n")
	p.write("net/tcp6", procNetHeader+
		"   0: 00000000000000000000000001000000:1162 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5002 1 0000000000000000 100 0 0 10 0\n"+
		"   1: 0000000000000000FFFF00000100007F:1163 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 6002 1 0000000000000000 100 0 0 10 0\n"+
		"   2: 00000000000000000000000000000000:01BD 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 8001 1 0000000000000000 100 0 0 10 0\n")
	smbdA := []string{"smbd", "--foreground", "--no-process-group", "-s", "/tmp/a/smb.conf"}
	p.proc(100, 1, "smbd", "S", 5000, "/tmp/a", smbdA, 5001, 5002)
	p.proc(101, 100, "smbd-notifyd", "S", 5010, "/tmp/a", smbdA)
	p.proc(102, 100, "cleanupd", "S", 5010, "/tmp/a", smbdA)
	p.proc(103, 100, "smbd", "S", 9000, "/tmp/a", smbdA, 9001)
	smbdB := []string{"/usr/sbin/smbd", "-F", "--configfile", "smb.conf", "-d", "3"}
	p.proc(200, 1, "smbd", "T", 6000, "/tmp/b", smbdB, 6001, 6002)
	p.proc(201, 200, "smbd", "S", 6100, "/tmp/b", smbdB, 6001) // inherited the listener
	p.proc(300, 1, "samba-dcerpcd", "S", 7000, "/", []string{"/usr/libexec/samba/samba-dcerpcd", "--configfile=/tmp/a/smb.conf", "--libexec-rpcds", "--np-helper", "--debuglevel=1"})
	p.proc(301, 300, "rpcd_classic", "S", 7001, "/", []string{"/usr/libexec/samba/rpcd_classic", "--configfile=/tmp/a/smb.conf", "--worker-group=2"})
	p.proc(302, 1, "samba-dcerpcd", "S", 7002, "/", []string{"/usr/libexec/samba/samba-dcerpcd", "--configfile=/tmp/b/smb.conf"})
	p.proc(400, 1, "smbd", "Z", 100, "", nil)
	p.proc(500, 1, "sshd", "S", 100, "/", []string{"sshd", "-D"}, 7001)
	p.proc(501, 1, "weird) name (x", "S", 100, "/", []string{"cat"})
	return p
}

func TestParseProcNetTCP(t *testing.T) {
	p := hostFixture(t)
	v4, err := os.ReadFile(filepath.Join(p.root, "net/tcp"))
	require.NoError(t, err)
	ls, err := parseProcNetTCP(v4, false, binary.LittleEndian)
	require.NoError(t, err)
	require.Equal(t, []checks.Listener{
		{Addr: "127.0.0.1", Port: 4450, Backlog: 3, Inode: 5001, Family: "tcp"},
		{Addr: "0.0.0.0", Port: 4451, Inode: 6001, Family: "tcp"},
		{Addr: "127.0.0.1", Port: 4452, Inode: 7001, Family: "tcp"},
	}, ls, "the ESTABLISHED socket is not a listener")

	v6, err := os.ReadFile(filepath.Join(p.root, "net/tcp6"))
	require.NoError(t, err)
	ls, err = parseProcNetTCP(v6, true, binary.LittleEndian)
	require.NoError(t, err)
	require.Equal(t, []checks.Listener{
		{Addr: "::1", Port: 4450, Inode: 5002, Family: "tcp6"},
		{Addr: "127.0.0.1", Port: 4451, Inode: 6002, Family: "tcp6"}, // ::ffff:127.0.0.1
		{Addr: "::", Port: 445, Inode: 8001, Family: "tcp6"},
	}, ls)

	// On a big-endian host the kernel prints the address bytes in order.
	ip, port, err := parseHexAddr("7F000001:01BD", binary.BigEndian)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1", ip.String())
	require.Equal(t, 445, port)

	_, err = parseProcNetTCP([]byte(procNetHeader+"   0: zz:1 00:0 0A 0:0 0 0 0 0 0 1\n   1: short\n"), false, binary.LittleEndian)
	require.EqualError(t, err, "2 malformed line(s)")
	for _, bad := range []string{"0100007F", "0100007F:XYZ", "01007F:01BD", "GG00007F:01BD"} {
		_, _, err := parseHexAddr(bad, binary.LittleEndian)
		require.Error(t, err, bad)
	}
}

func TestGatherSockets(t *testing.T) {
	p := hostFixture(t)
	s := gatherSockets(p.root, []int{4450, 4451, 4452})
	require.Empty(t, s.Err)
	got := map[string]int{}
	for _, l := range s.Listeners {
		got[fmt.Sprintf("%s/%s:%d", l.Family, l.Addr, l.Port)] = l.PID
	}
	require.Equal(t, map[string]int{
		"tcp/127.0.0.1:4450":  100,
		"tcp6/::1:4450":       100,
		"tcp/0.0.0.0:4451":    200, // held by 200 and its child 201: the parent owns it
		"tcp6/127.0.0.1:4451": 200,
		"tcp/127.0.0.1:4452":  500,
	}, got)

	// No IPv6 in the kernel: tcp6 missing is fine; tcp missing is not.
	require.NoError(t, os.Remove(filepath.Join(p.root, "net/tcp6")))
	s = gatherSockets(p.root, []int{445})
	require.Empty(t, s.Err)
	require.Equal(t, []checks.Listener{}, s.Listeners)
	require.NoError(t, os.Remove(filepath.Join(p.root, "net/tcp")))
	s = gatherSockets(p.root, []int{445})
	require.Contains(t, s.Err, "net/tcp")
}

// socketOwners reads the fds of processes running smbd first, masters
// before children: a parent of an smbd holder is
// still read (a wrapper that opened the socket and forked smbd owns it),
// an unrelated process that also holds an smbd socket (passed over a unix
// socket) is not read at all, and a socket no smbd holds is found by
// reading every process.
func TestSocketOwnersSmbdFirst(t *testing.T) {
	p := newFakeProc(t)
	args := []string{"smbd", "-s", "/tmp/w/smb.conf"}
	p.proc(50, 1, "fdholder", "S", 100, "/", []string{"fdholder"}, 9700)
	p.proc(60, 1, "wrapper", "S", 100, "/", []string{"wrapper"}, 9500)
	p.proc(61, 60, "smbd", "S", 100, "/", args, 9500, 9600)
	p.proc(62, 61, "smbd", "S", 100, "/", args, 9600, 9900)
	p.proc(70, 1, "smbd", "S", 100, "/", args, 9700)
	p.proc(80, 1, "nc", "S", 100, "/", []string{"nc", "-l"}, 9800)
	for pid, exe := range map[int]string{50: "/usr/bin/fdholder", 60: "/usr/bin/wrapper", 61: "/usr/sbin/smbd",
		62: "/usr/sbin/smbd (deleted)", 70: "/opt/samba/sbin/smbd", 80: "/usr/bin/nc"} {
		require.NoError(t, os.Symlink(exe, filepath.Join(p.root, fmt.Sprint(pid), "exe")))
	}
	got := socketOwners(p.root, map[uint64]bool{9500: true, 9600: true, 9700: true, 9800: true, 9900: true})
	require.Equal(t, map[uint64]int{
		9500: 60, // the smbd's parent holds it too
		9600: 61, // the child inherited it from its parent
		9700: 70, // the smbd, not the lower-PID process it was passed to
		9800: 80, // no smbd holds it: found by the full scan
		9900: 62, // only a child holds it: found when no master does
	}, got)
}

// readSambaProcs reads a command line only when the comm or the executable
// may be Samba's, or the executable cannot be read.
func TestReadSambaProcsByExecutable(t *testing.T) {
	p := newFakeProc(t)
	args := []string{"smbd", "-s", "/tmp/x/smb.conf"}
	p.proc(10, 1, "cleanupd", "S", 100, "/", args)                          // renamed helper: exe smbd
	p.proc(11, 1, "smbd-notifyd", "S", 100, "/", args)                      // comm says smbd: no exe link needed
	p.proc(12, 1, "worker", "S", 100, "/", []string{"/usr/sbin/smbd"})      // exe unreadable: cmdline read
	p.proc(13, 1, "python3", "S", 100, "/", []string{"smbd", "--fake"})     // exe python3: argv[0] not read
	p.proc(14, 1, "rpcd_x", "S", 100, "/", []string{"/usr/libexec/x"})      // comm says rpcd_
	p.proc(15, 1, "dcerpc", "S", 100, "/", []string{"samba-dcerpcd", "-s"}) // exe samba-dcerpcd (deleted)
	for pid, exe := range map[int]string{10: "/usr/sbin/smbd", 13: "/usr/bin/python3.11",
		15: "/usr/libexec/samba/samba-dcerpcd (deleted)"} {
		require.NoError(t, os.Symlink(exe, filepath.Join(p.root, fmt.Sprint(pid), "exe")))
	}
	procs, err := readSambaProcs(p.root, time.Time{})
	require.NoError(t, err)
	var pids []int
	for _, sp := range procs {
		pids = append(pids, sp.PID)
	}
	require.Equal(t, []int{10, 11, 12, 14, 15}, pids)
	require.Equal(t, args, procs[0].Args)
}

func TestParseProcStat(t *testing.T) {
	st, err := parseProcStat("29183 (smbd) S 1 29183 29183 0 -1 4194560 2009 25 19 0 1 1 0 0 20 0 1 0 117642 82989056 5583 18446744073709551615 1 1 0 0")
	require.NoError(t, err)
	require.Equal(t, procStat{pid: 29183, comm: "smbd", state: "S", ppid: 1, startTick: 117642}, st)
	st, err = parseProcStat("7 (a) b) (c) R 3 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 42 0 0")
	require.NoError(t, err)
	require.Equal(t, "a) b) (c", st.comm)
	require.Equal(t, 3, st.ppid)
	require.Equal(t, uint64(42), st.startTick)
	for _, bad := range []string{"", "12 smbd S 1", "x (smbd) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20", "1 (s) S 1 2 3"} {
		_, err := parseProcStat(bad)
		require.Error(t, err, bad)
	}
}

func TestOptionValue(t *testing.T) {
	tests := []struct {
		args        []string
		short       byte
		long, want  string
		wantPresent bool
	}{
		{[]string{"smbd", "-s", "/a.conf"}, 's', "configfile", "/a.conf", true},
		{[]string{"smbd", "-s/a.conf"}, 's', "configfile", "/a.conf", true},
		{[]string{"smbd", "--configfile=/a.conf"}, 's', "configfile", "/a.conf", true},
		{[]string{"smbd", "--configfile", "/a.conf", "-s", "/b.conf"}, 's', "configfile", "/b.conf", true},
		{[]string{"smbd", "--foreground"}, 's', "configfile", "", false},
		{[]string{"smbd", "-d", "3"}, 'd', "debuglevel", "3", true},
		{[]string{"smbd", "-d3"}, 'd', "debuglevel", "3", true},
		{[]string{"smbd", "--debuglevel=10"}, 'd', "debuglevel", "10", true},
		{[]string{"smbd", "--debug-stdout"}, 'd', "debuglevel", "", false},
		{[]string{"smbd", "-l", "/x/log"}, 'l', "log-basename", "/x/log", true},
		{[]string{"smbd", "--", "-s", "x"}, 's', "configfile", "", false},
		{[]string{"smbd", "-s"}, 's', "configfile", "", false},
		{nil, 's', "configfile", "", false},
	}
	for _, tc := range tests {
		got, ok := optionValue(tc.args, tc.short, tc.long)
		require.Equal(t, tc.wantPresent, ok, "%q", tc.args)
		require.Equal(t, tc.want, got, "%q", tc.args)
	}
}

func TestGatherProcesses(t *testing.T) {
	now := time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)
	boot := now.Add(-1000 * time.Second) // /proc/uptime says 1000 s
	p := hostFixture(t)
	listeners := gatherSockets(p.root, []int{4450, 4451, 4452, 4453}).Listeners
	pids := func(ps []checks.Process) []int {
		out := []int{}
		for _, x := range ps {
			out = append(out, x.PID)
		}
		return out
	}
	tests := []struct {
		name      string
		in        procInput
		master    int
		running   bool
		conf      string
		children  []int
		dcerpcd   []int
		others    []int
		pidErr    string
		pidInFile int
	}{
		{name: "listener owner on the target port", in: procInput{TargetPort: 4450},
			master: 100, running: true, conf: "/tmp/a/smb.conf", children: []int{101, 102, 103}, dcerpcd: []int{300, 301}, others: []int{200}},
		{name: "relative -s resolved against the cwd; a stopped master still runs", in: procInput{TargetPort: 4451},
			master: 200, running: true, conf: "/tmp/b/smb.conf", children: []int{201}, dcerpcd: []int{302}, others: []int{100}},
		{name: "no listener: the pid file", in: procInput{TargetPort: 4453, PIDFile: "PID:100"},
			master: 100, running: true, conf: "/tmp/a/smb.conf", children: []int{101, 102, 103}, dcerpcd: []int{300, 301}, others: []int{200}, pidInFile: 100},
		{name: "no listener, no pid file: the master with the agent's smb.conf", in: procInput{TargetPort: 4453, ConfPath: "/tmp/b/./smb.conf"},
			master: 200, running: true, conf: "/tmp/b/smb.conf", children: []int{201}, dcerpcd: []int{302}, others: []int{100}},
		{name: "stale pid file, no listener: not running", in: procInput{TargetPort: 4453, PIDFile: "PID:999", ConfPath: "/tmp/c/smb.conf"},
			dcerpcd: []int{}, others: []int{100, 200}, pidInFile: 999},
		{name: "the port belongs to another program", in: procInput{TargetPort: 4452, ConfPath: "/etc/samba/smb.conf"},
			dcerpcd: []int{}, others: []int{100, 200}},
		{name: "unreadable pid file", in: procInput{TargetPort: 4453, PIDFile: "PID:garbage"},
			dcerpcd: []int{}, others: []int{100, 200}, pidErr: "not a PID"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.Root, in.Now, in.Listeners = p.root, now, listeners
			if v, ok := strings.CutPrefix(in.PIDFile, "PID:"); ok {
				in.PIDFile = filepath.Join(t.TempDir(), "smbd.pid")
				require.NoError(t, os.WriteFile(in.PIDFile, []byte(v+"\n"), 0o644))
			}
			s := gatherProcesses(in)
			require.Empty(t, s.Err)
			require.Equal(t, tc.running, s.Running)
			if tc.master == 0 {
				require.Nil(t, s.Master)
			} else {
				require.NotNil(t, s.Master)
				require.Equal(t, tc.master, s.Master.PID)
			}
			require.Equal(t, tc.conf, s.ConfigPath)
			if tc.children == nil {
				tc.children = []int{}
			}
			require.Equal(t, tc.children, pids(s.Children))
			require.Equal(t, tc.dcerpcd, pids(s.Dcerpcd))
			require.Equal(t, tc.others, pids(s.OtherSmbd))
			require.Equal(t, tc.pidInFile, s.PIDFromFile)
			if tc.pidErr != "" {
				require.Contains(t, s.PIDFileErr, tc.pidErr)
			}
		})
	}

	// Details of one master: start time from ticks + uptime, state, args.
	s := gatherProcesses(procInput{Root: p.root, Now: now, TargetPort: 4451, Listeners: listeners})
	require.Equal(t, boot.Add(60*time.Second), s.Master.Started)
	require.Equal(t, "T", s.Master.State)
	require.Equal(t, []string{"/usr/sbin/smbd", "-F", "--configfile", "smb.conf", "-d", "3"}, s.Master.Args)
	require.Equal(t, "smbd", s.Master.Comm)

	// Without /proc/uptime, btime (whole seconds) is the fallback.
	require.NoError(t, os.Remove(filepath.Join(p.root, "uptime")))
	s = gatherProcesses(procInput{Root: p.root, Now: now, TargetPort: 4451, Listeners: listeners})
	require.Equal(t, time.Unix(1700000000+60, 0), s.Master.Started)

	// A missing pid file is reported, not fatal.
	s = gatherProcesses(procInput{Root: p.root, Now: now, TargetPort: 4450, Listeners: listeners, PIDFile: filepath.Join(p.root, "nope.pid")})
	require.Equal(t, 100, s.Master.PID)
	require.Contains(t, s.PIDFileErr, "no such file")

	// No /proc at all.
	s = gatherProcesses(procInput{Root: filepath.Join(p.root, "missing"), Now: now})
	require.NotEmpty(t, s.Err)
	require.Nil(t, s.Master)
}

func TestPIDFilePaths(t *testing.T) {
	require.Equal(t, []string{"/run/samba/smbd.pid"}, pidFilePaths("/run/samba", "/etc/samba/smb.conf"))
	require.Equal(t, []string{"/d/smbd.pid", "/d/smbd-my.conf.pid"}, pidFilePaths("/d", "/x/my.conf"))
	dir := t.TempDir()
	c := pidFilePaths(dir, "/x/my.conf")
	require.Equal(t, c[0], pickPIDFile(c), "none exists: the expected name")
	require.NoError(t, os.WriteFile(c[1], []byte("5\n"), 0o644))
	require.Equal(t, c[1], pickPIDFile(c))
}
