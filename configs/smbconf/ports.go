package smbconf

import (
	"strconv"
	"strings"
)

// Where smbd's listening ports come from changed in Samba 4.23: up to 4.22
// "smb ports" (P_CMDLIST of port numbers, default "445 139"); from 4.23 the
// new "server smb transports" (P_LIST of tcp, nbt and quic, each with an
// optional ":PORT", or a bare port; default "tcp, nbt"), of which "smb
// ports" is a synonym, so testparm names it in the dump. Checks reasoning
// about ports read them through SMBListeners, never by the parameter name.

// SMBListener is one socket smbd listens on for SMB.
type SMBListener struct {
	// Transport is "tcp" (raw SMB over TCP, 445 by default), "nbt"
	// (NetBIOS session service over TCP, 139) or "quic" (UDP, 443).
	Transport string
	// Port is the port number.
	Port int
}

// TCP reports whether the listener is a TCP socket (tcp or nbt).
func (l SMBListener) TCP() bool { return l.Transport == "tcp" || l.Transport == "nbt" }

// SMBPortsParameter is the canonical parameter that holds the listening
// ports in the configuration's release: "server smb transports" from 4.23,
// "smb ports" before.
func (c *Config) SMBPortsParameter() string {
	if p, ok := c.LookupParam("smb ports"); ok {
		return p.Canonical().Name
	}
	return "smb ports"
}

// SMBListeners returns the sockets smbd listens on for SMB, read from the
// release's own parameter, and that parameter's value (name, printed
// value, origin). An element that names no listener is left out.
func (c *Config) SMBListeners() ([]SMBListener, Value) {
	name := c.SMBPortsParameter()
	v, _ := c.Lookup("global", name)
	var out []SMBListener
	for _, e := range strings.FieldsFunc(v.Printed, func(r rune) bool {
		return r == ' ' || r == ',' || r == '\t' || r == ';'
	}) {
		if l, ok := parseListener(e, name == "server smb transports"); ok {
			out = append(out, l)
		}
	}
	return out, v
}

// SMBTCPPorts is the TCP ports of SMBListeners, in order, without repeats.
func (c *Config) SMBTCPPorts() []int {
	ls, _ := c.SMBListeners()
	var out []int
	seen := map[int]bool{}
	for _, l := range ls {
		if l.TCP() && !seen[l.Port] {
			seen[l.Port] = true
			out = append(out, l.Port)
		}
	}
	return out
}

// parseListener reads one element. A bare port (every element before
// 4.23) is a TCP listener; 139 is named nbt because smbd has always spoken
// NetBIOS session framing there. Both are TCP, which is what the port
// reasoning needs.
func parseListener(e string, transports bool) (SMBListener, bool) {
	defaults := map[string]int{"tcp": 445, "nbt": 139, "quic": 443}
	name, port, hasPort := strings.Cut(e, ":")
	if transports {
		if d, ok := defaults[name]; ok {
			if !hasPort {
				return SMBListener{Transport: name, Port: d}, true
			}
			n, ok := portNumber(port)
			return SMBListener{Transport: name, Port: n}, ok
		}
	}
	if hasPort {
		return SMBListener{}, false
	}
	n, ok := portNumber(e)
	if !ok {
		return SMBListener{}, false
	}
	if n == 139 {
		return SMBListener{Transport: "nbt", Port: n}, true
	}
	return SMBListener{Transport: "tcp", Port: n}, true
}

// portNumber is a port as Samba reads it: decimal, truncated to 32 bits,
// 1-65535.
func portNumber(s string) (int, bool) {
	v, err := strconv.ParseUint(strings.TrimPrefix(s, "+"), 10, 64)
	if err != nil {
		return 0, false
	}
	n := uint32(v)
	if n < 1 || n > 65535 {
		return 0, false
	}
	return int(n), true
}
