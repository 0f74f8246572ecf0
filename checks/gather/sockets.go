package gather

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/smb-agent/smb-agent/checks"
)

// tcpListen is the TCP_LISTEN state as /proc/net/tcp prints it (the kernel's
// enum tcp_state, include/net/tcp_states.h).
const tcpListen = "0A"

// gatherSockets reads the listening TCP sockets on the given ports from
// /proc/net/tcp and /proc/net/tcp6 under procRoot, and finds the process
// owning each one through the socket inode in /proc/PID/fd.
//
// Reading /proc instead of running ss keeps this fast and tool-free; it is
// what `ss -ltnp 'sport = :445'` shows (TestGatherSockets):
// no listener, the wrong port, a loopback-only bind, or a Recv-Q > 0 on the
// LISTEN socket (connections waiting for a stopped smbd to accept them).
func gatherSockets(procRoot string, ports []int) checks.SocketFacts {
	var out checks.SocketFacts
	var errs []string
	found := false
	// The live host: ask sock_diag for the listeners (gather_sockets_diag.go
	// says why); /proc/net/tcp{,6} when that fails or /proc is a fixture.
	if procRoot == "/proc" {
		if ls, err := listenersSockDiag(); err == nil {
			found = true
			for _, l := range ls {
				if slices.Contains(ports, l.Port) {
					out.Listeners = append(out.Listeners, l)
				}
			}
			return finishSockets(procRoot, out, found, errs)
		}
	}
	for _, name := range []string{"tcp", "tcp6"} {
		path := filepath.Join(procRoot, "net", name)
		data, err := os.ReadFile(path)
		if err != nil {
			// A kernel without IPv6 has no tcp6: not an error worth
			// reporting unless tcp is missing too.
			if name == "tcp" || !os.IsNotExist(err) {
				errs = append(errs, fmt.Sprintf("read %s: %v", path, err))
			}
			continue
		}
		found = true
		ls, err := parseProcNetTCP(data, name == "tcp6", binary.NativeEndian)
		if err != nil {
			errs = append(errs, fmt.Sprintf("parse %s: %v", path, err))
		}
		for _, l := range ls {
			if slices.Contains(ports, l.Port) {
				out.Listeners = append(out.Listeners, l)
			}
		}
	}
	return finishSockets(procRoot, out, found, errs)
}

// finishSockets finds each listener's owner and orders them.
func finishSockets(procRoot string, out checks.SocketFacts, found bool, errs []string) checks.SocketFacts {
	if len(out.Listeners) > 0 {
		inodes := make(map[uint64]bool, len(out.Listeners))
		for _, l := range out.Listeners {
			inodes[l.Inode] = true
		}
		owners := socketOwners(procRoot, inodes)
		for i := range out.Listeners {
			out.Listeners[i].PID = owners[out.Listeners[i].Inode]
		}
	}
	slices.SortStableFunc(out.Listeners, func(a, b checks.Listener) int {
		if a.Port != b.Port {
			return a.Port - b.Port
		}
		return strings.Compare(a.Family, b.Family)
	})
	if !found || len(errs) > 0 {
		out.Err = strings.Join(errs, "; ")
	}
	if out.Listeners == nil {
		out.Listeners = []checks.Listener{}
	}
	return out
}

// parseProcNetTCP returns the LISTEN sockets of a /proc/net/tcp or tcp6
// file. The kernel prints each address as the raw in-memory words in hex
// (net/ipv4/tcp_ipv4.c get_tcp4_sock: "%08X" of the __be32; tcp6:
// four "%08X" words), so the bytes come out in host order and order says
// how to put them back; the port is printed after ntohs, as a number.
// Malformed lines are skipped and counted in the error.
func parseProcNetTCP(data []byte, v6 bool, order binary.ByteOrder) ([]checks.Listener, error) {
	var out []checks.Listener
	bad := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	first := true
	for sc.Scan() {
		line := sc.Text()
		if first {
			first = false
			if strings.Contains(line, "local_address") {
				continue
			}
		}
		fs := strings.Fields(line)
		if len(fs) == 0 {
			continue
		}
		if len(fs) < 10 {
			bad++
			continue
		}
		if fs[3] != tcpListen {
			continue
		}
		ip, port, err := parseHexAddr(fs[1], order)
		if err != nil {
			bad++
			continue
		}
		// tx_queue:rx_queue; for a listener rx_queue is the accept queue
		// length (sk_ack_backlog), tx_queue its limit.
		q := strings.SplitN(fs[4], ":", 2)
		var backlog uint64
		if len(q) == 2 {
			backlog, _ = strconv.ParseUint(q[1], 16, 32)
		}
		inode, err := strconv.ParseUint(fs[9], 10, 64)
		if err != nil {
			bad++
			continue
		}
		fam := "tcp"
		if v6 {
			fam = "tcp6"
		}
		out = append(out, checks.Listener{
			Addr:    listenAddrString(ip),
			Port:    port,
			Backlog: int(backlog),
			Inode:   inode,
			Family:  fam,
		})
	}
	if err := sc.Err(); err != nil {
		return out, err
	}
	if bad > 0 {
		return out, fmt.Errorf("%d malformed line(s)", bad)
	}
	return out, nil
}

// parseHexAddr decodes "0100007F:01BD" (tcp) or a 32-hex-digit address
// (tcp6) and its port.
func parseHexAddr(s string, order binary.ByteOrder) (net.IP, int, error) {
	host, portHex, ok := strings.Cut(s, ":")
	if !ok {
		return nil, 0, fmt.Errorf("no port in %q", s)
	}
	port, err := strconv.ParseUint(portHex, 16, 16)
	if err != nil {
		return nil, 0, fmt.Errorf("bad port in %q", s)
	}
	raw, err := hex.DecodeString(host)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return nil, 0, fmt.Errorf("bad address in %q", s)
	}
	ip := make(net.IP, len(raw))
	for i := 0; i < len(raw); i += 4 {
		// The hex text is the 32-bit word as a number; the address bytes
		// are that word stored in host order.
		w := binary.BigEndian.Uint32(raw[i : i+4])
		order.PutUint32(ip[i:i+4], w)
	}
	return ip, int(port), nil
}

// listenAddrString prints a listening address: "0.0.0.0" and "::" for the
// wildcard, an IPv4-mapped IPv6 address (::ffff:a.b.c.d, which accepts only
// IPv4 connections to a.b.c.d) as a.b.c.d.
func listenAddrString(ip net.IP) string {
	if len(ip) == net.IPv6len && ip.Equal(net.IPv6unspecified) {
		return "::"
	}
	return ip.String()
}

// socketOwners maps socket inodes to the PID holding them, scanning
// /proc/PID/fd. A listening socket inherited across fork is held by
// several processes (a stopped smbd parent and a child that has not closed
// it yet); the owner is the one whose parent does not hold it too, the
// lowest such PID on a tie.
//
// Reading every fd link of every process is most of the system time of a
// diagnosis on a busy host (thousands of processes, tens of fds each), and
// the listeners asked about are SMB ports, almost always smbd's. So the fds
// of smbd processes (by executable: one readlink each) are read first,
// masters before children, then the ancestors of each holder found (a
// parent holding the socket too is its owner); only an inode no smbd holds
// makes the scan read every other process (an sshd or a silent program on
// the port is still found). A process outside smbd's ancestry that holds
// an smbd socket too (passed to it over a unix socket) is then not seen:
// smbd owns that socket.
func socketOwners(procRoot string, inodes map[uint64]bool) map[uint64]int {
	ents, err := os.ReadDir(procRoot)
	if err != nil {
		return nil
	}
	type procEntry struct {
		pid  int
		smbd bool
	}
	procs := make([]procEntry, 0, len(ents))
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		// The executable, one readlink: smbd's helpers rename their comm
		// (cleanupd) but all run the smbd binary; " (deleted)" after a
		// package upgrade replaced it under a running smbd.
		exe, _ := os.Readlink(filepath.Join(procRoot, e.Name(), "exe"))
		exe = strings.TrimSuffix(exe, " (deleted)")
		procs = append(procs, procEntry{pid: pid, smbd: exe != "" && filepath.Base(exe) == "smbd"})
	}
	ppidOf := map[int]int{}
	parentOf := func(pid int) (int, bool) {
		if pp, ok := ppidOf[pid]; ok {
			return pp, pp > 0
		}
		pp, err := readPPID(procRoot, pid)
		if err != nil {
			pp = -1
		}
		ppidOf[pid] = pp
		return pp, pp > 0
	}
	holders := map[uint64][]int{}
	scanned := make(map[int]bool, len(procs))
	scan := func(pid int, want map[uint64]bool) {
		if scanned[pid] {
			return
		}
		scanned[pid] = true
		fdDir := filepath.Join(procRoot, strconv.Itoa(pid), "fd")
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			return // exited, or not ours to read
		}
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
			if err != nil || !strings.HasPrefix(link, "socket:[") {
				continue
			}
			n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]"), 10, 64)
			if err == nil && want[n] && !slices.Contains(holders[n], pid) {
				holders[n] = append(holders[n], pid)
			}
		}
	}
	// The ancestors of every holder: the owner rule needs to know whether
	// a holder's parent holds the socket too, whatever the parent runs.
	climb := func() {
		for ino := range inodes {
			for i := 0; i < len(holders[ino]); i++ {
				pp, ok := parentOf(holders[ino][i])
				if ok && !scanned[pp] {
					scan(pp, inodes)
				}
			}
		}
	}
	missing := func() map[uint64]bool {
		m := map[uint64]bool{}
		for ino := range inodes {
			if len(holders[ino]) == 0 {
				m[ino] = true
			}
		}
		return m
	}
	// smbd masters (an smbd whose parent is not one) first: a per-client
	// child whose master holds the socket too is never its owner, and a
	// busy server has hundreds of children with dozens of fds each.
	isSmbd := map[int]bool{}
	for _, p := range procs {
		if p.smbd {
			isSmbd[p.pid] = true
		}
	}
	for _, p := range procs {
		if !p.smbd {
			continue
		}
		if pp, _ := parentOf(p.pid); !isSmbd[pp] {
			scan(p.pid, inodes)
		}
	}
	climb()
	if m := missing(); len(m) > 0 {
		for _, p := range procs {
			if p.smbd {
				scan(p.pid, m)
			}
		}
		climb()
	}
	if m := missing(); len(m) > 0 {
		for _, p := range procs {
			scan(p.pid, m)
		}
	}
	out := make(map[uint64]int, len(holders))
	for ino, pids := range holders {
		slices.Sort(pids)
		best := pids[0]
		for _, p := range pids {
			pp, ok := parentOf(p)
			if !ok && pp < 0 {
				continue
			}
			if !slices.Contains(pids, pp) {
				best = p
				break
			}
		}
		out[ino] = best
	}
	return out
}

// readPPID reads field 4 of /proc/PID/stat.
func readPPID(procRoot string, pid int) (int, error) {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	st, err := parseProcStat(string(b))
	if err != nil {
		return 0, err
	}
	return st.ppid, nil
}

const socketsName = "the listening sockets"

// socketsGatherer lists the TCP listeners on the target port and on
// `smb ports`, with the processes that own them.
type socketsGatherer struct{}

func (socketsGatherer) Name() string                  { return socketsName }
func (socketsGatherer) Deadline(e *env) time.Duration { return e.localBudget }
func (socketsGatherer) Failed(f *checks.Facts, why string) {
	f.Sockets = checks.SocketFacts{Listeners: []checks.Listener{}, Err: why}
}

func (socketsGatherer) Gather(_ context.Context, e *env) (func(*checks.Facts), error) {
	s := gatherSockets(e.ProcRoot, uniqueSorted(append([]int{e.port}, e.params.SMBPorts...)))
	return func(f *checks.Facts) {
		f.Sockets = s
		e.listeners = s.Listeners
	}, errIf(s.Err)
}
