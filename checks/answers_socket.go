package checks

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Answer functions of the socket.* facts (see answers.go).

// smbdPIDs are the PIDs of smbd processes (master, children, other
// masters).
func smbdPIDs(f *Facts) map[int]bool {
	m := map[int]bool{}
	if f.Smbd.Master != nil {
		m[f.Smbd.Master.PID] = true
	}
	for _, p := range f.Smbd.Children {
		m[p.PID] = true
	}
	for _, p := range f.Smbd.OtherSmbd {
		m[p.PID] = true
	}
	return m
}

// listenersOn returns the listeners on port.
func listenersOn(f *Facts, port int) []Listener {
	var out []Listener
	for _, l := range f.Sockets.Listeners {
		if l.Port == port {
			out = append(out, l)
		}
	}
	return out
}

// listeningOnPort is socket.listening_on_port with the owner's PID.
func listeningOnPort(f *Facts) (string, int, bool) {
	if f.Sockets.Err != "" && len(f.Sockets.Listeners) == 0 {
		return "", 0, false
	}
	ls := listenersOn(f, targetPort(f))
	if len(ls) == 0 {
		return "no", 0, true
	}
	pids := smbdPIDs(f)
	for _, l := range ls {
		if l.PID != 0 && pids[l.PID] {
			return "smbd", l.PID, true
		}
	}
	for _, l := range ls {
		if l.PID != 0 {
			return "other", l.PID, true
		}
	}
	// Owner unknown (the socket's fd could not be read): smbd when it runs
	// and smb.conf lists the port.
	ports, _ := confSMBPorts(f)
	if f.Smbd.Running && slices.Contains(ports, targetPort(f)) {
		return "smbd", 0, true
	}
	return "", 0, false
}

func ansListeningOnPort(c *answerCtx) (string, bool) {
	a, _, ok := listeningOnPort(c.f)
	return a, ok
}

func isWildcard(addr string) bool { return addr == "0.0.0.0" || addr == "::" || addr == "" }

// listenerCovers reports whether a listener accepts connections to host.
func listenerCovers(l Listener, host string) bool {
	if isWildcard(l.Addr) {
		if l.Addr == "::" {
			return true // a v6 wildcard socket also takes v4 unless v6only
		}
		a, err := netip.ParseAddr(strings.Trim(host, "[]"))
		return err != nil || a.Unmap().Is4()
	}
	a, err1 := netip.ParseAddr(l.Addr)
	b, err2 := netip.ParseAddr(strings.Trim(host, "[]"))
	return err1 == nil && err2 == nil && a.Unmap() == b.Unmap()
}

func boundToTarget(f *Facts) (bool, bool) {
	if f.Sockets.Err != "" && len(f.Sockets.Listeners) == 0 {
		return false, false
	}
	for _, l := range listenersOn(f, targetPort(f)) {
		if listenerCovers(l, targetHost(f)) {
			return true, true
		}
	}
	return false, true
}

func ansBoundToTarget(c *answerCtx) (string, bool) {
	b, ok := boundToTarget(c.f)
	if !ok {
		return "", false
	}
	return yesNo(b), true
}

// socketMismatch describes how smbd's listening sockets differ from what
// smb.conf says now ("" when they match).
func socketMismatch(f *Facts) (string, bool) {
	if !f.Smbd.Running || f.Smbd.Master == nil {
		return "", false
	}
	ports, pv := confSMBPorts(f)
	if !pv.OK || (f.Sockets.Err != "" && len(f.Sockets.Listeners) == 0) {
		return "", false
	}
	pids := smbdPIDs(f)
	live := map[int]bool{}
	var liveAddrs []Listener
	for _, l := range f.Sockets.Listeners {
		if l.PID == f.Smbd.Master.PID || (l.PID == 0 && slices.Contains(ports, l.Port)) || (l.PID != 0 && pids[l.PID] && l.PID == f.Smbd.Master.PID) {
			live[l.Port] = true
			liveAddrs = append(liveAddrs, l)
		}
	}
	var livePorts []int
	for p := range live {
		livePorts = append(livePorts, p)
	}
	sort.Ints(livePorts)
	want := slices.Clone(ports)
	sort.Ints(want)
	want = slices.Compact(want)
	if !slices.Equal(livePorts, want) {
		return fmt.Sprintf("smb ports = %s, but smbd listens on %s", joinInts(want), joinIntsOr(livePorts, "no port")), true
	}
	bio := boolValue(globalValue(f, "bind interfaces only"))
	for _, l := range liveAddrs {
		if !bio && !isWildcard(l.Addr) {
			return fmt.Sprintf("bind interfaces only = no (listen on every address), but smbd listens on %s only", l.Addr), true
		}
		if bio && isWildcard(l.Addr) {
			return "bind interfaces only = yes, but smbd listens on the wildcard address: it was started before the change", true
		}
		if bio {
			if ok, known := bindCovers(f, l.Addr); known && !ok {
				return fmt.Sprintf("interfaces = %s does not include %s, where smbd listens", globalValue(f, "interfaces").Printed, l.Addr), true
			}
		}
	}
	return "", true
}

func joinInts(ns []int) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, " ")
}

func joinIntsOr(ns []int, none string) string {
	if len(ns) == 0 {
		return none
	}
	return joinInts(ns)
}

func ansSocketsMatchConfig(c *answerCtx) (string, bool) {
	m, ok := socketMismatch(c.f)
	if !ok {
		return "", false
	}
	return yesNo(m == ""), true
}

func ansAcceptBacklog(c *answerCtx) (string, bool) {
	if c.f.Sockets.Err != "" && len(c.f.Sockets.Listeners) == 0 {
		return "", false
	}
	for _, l := range listenersOn(c.f, targetPort(c.f)) {
		if l.Backlog > 0 {
			return "yes", true
		}
	}
	return "no", true
}
