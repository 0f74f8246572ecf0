package smbconf

// This file judges "hosts allow" / "hosts deny" the way Samba does, so that
// the agent can tell whether a remote client's address gets in without
// probing from that address (the agent itself always connects over
// loopback, which Samba lets through).
//
// It is a port of lib/util/access.c (allow_access_internal, list_match,
// client_match, string_match, masked_match), lib/util/unix_match.c
// (unix_wild_match), make_netmask (lib/socket/interfaces.c) and same_net
// (lib/util/util_net.c), as testparm's host mode uses them
// (source3/utils/testparm.c: for every share,
//
//	allow_access(lp_hosts_deny(-1), lp_hosts_allow(-1), cname, caddr) &&
//	allow_access(lp_hosts_deny(s),  lp_hosts_allow(s),  cname, caddr)
//
// printed as "Allow/Deny connection from NAME (ADDR) to SHARE").
//
// Known differences from Samba, all on inputs that need the network:
//   - Samba hands non-numeric strings in a netmask token ("host/24") to
//     getaddrinfo, which may ask DNS; here they never match.
//   - "@netgroup" tokens need NIS (innetgr); here they never match, which is
//     also what Samba does when no NIS domain is configured.

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"
)

// accessList is a parsed "hosts allow"/"hosts deny" value with where it came
// from, for the reason text.
type accessList struct {
	param  string // "hosts allow" or "hosts deny"
	tokens []string
	origin Origin
}

// accessVerdict is what allowAccess decided and why.
type accessVerdict struct {
	allowed bool
	why     string
}

// AllowsHost reports whether a client called hostname at address ip may
// connect to share, exactly as "testparm FILE HOSTNAME IP" prints it
// ("Allow connection from H (IP) to SHARE" or "Deny ..."), and a one-line
// reason naming the list entry that decided. hostAddrs are the addresses of
// the host smbd runs on (HostAddrs, or the interfaces the agent gathered):
// they decide which address families a list entry may be parsed in (see
// judgeOn). AllowsHost itself reads nothing.
//
// share "" (or "global") applies only the [global] lists, which is the check
// smbd makes when the connection is accepted, before any share is named
// (source3/smbd/process.c check_access calls allow_access with
// lp_hosts_deny(-1)/lp_hosts_allow(-1)). "IPC$" uses the [global] lists when
// the file does not define an [IPC$] section, because smbd's automatic IPC$
// service starts from the [global] defaults (lp_add_ipc). Any other unknown
// share, and a share with available = No, is refused with a reason saying
// so.
func (c *Config) AllowsHost(share, hostname, ip string, hostAddrs []netip.Addr) (allowed bool, reason string) {
	j := judgeOn(hostAddrs)
	gAllow, gDeny := c.accessLists("global")
	global := j.allowAccess(gDeny, gAllow, hostname, ip)
	if share == "" || strings.EqualFold(share, "global") {
		return global.allowed, global.why
	}
	if _, ok := c.Lookup(share, "hosts allow"); !ok {
		if !strings.EqualFold(share, "IPC$") {
			return false, fmt.Sprintf("there is no share [%s] in the configuration", share)
		}
		// The implicit IPC$ has the [global] lists; the second check in
		// testparm would repeat the first.
		return global.allowed, global.why
	}
	if v, ok := c.Lookup(share, "available"); ok && v.Printed == "No" {
		// testparm's host mode does not even list such a share
		// (observed with 4.17, corpus 127 and 167): smbd refuses every
		// connection to it, whatever the host lists say. Samba sets it
		// for a share without a path ("No path in service X - making it
		// unavailable!").
		return false, fmt.Sprintf("[%s] has available = No (%s): smbd refuses every connection to it", share, v.Origin.String())
	}
	if !global.allowed {
		return false, global.why
	}
	sAllow, sDeny := c.accessLists(share)
	local := j.allowAccess(sDeny, sAllow, hostname, ip)
	if !local.allowed {
		return false, local.why
	}
	if accSameList(sAllow, gAllow) && accSameList(sDeny, gDeny) {
		// The share inherits the [global] lists: one reason is enough.
		return true, global.why
	}
	return true, local.why + "; and " + global.why
}

// accessLists returns the effective hosts allow and hosts deny lists of a
// section.
func (c *Config) accessLists(section string) (allow, deny accessList) {
	allow = accessList{param: "hosts allow"}
	deny = accessList{param: "hosts deny"}
	if v, ok := c.Lookup(section, "hosts allow"); ok {
		allow.tokens = strListMakeV3(v.Raw)
		allow.origin = v.Origin
	}
	if v, ok := c.Lookup(section, "hosts deny"); ok {
		deny.tokens = strListMakeV3(v.Raw)
		deny.origin = v.Origin
	}
	return allow, deny
}

func accSameList(a, b accessList) bool {
	if a.origin != b.origin || len(a.tokens) != len(b.tokens) {
		return false
	}
	for i := range a.tokens {
		if a.tokens[i] != b.tokens[i] {
			return false
		}
	}
	return true
}

// describe names a list and where it is set, e.g.
// `hosts allow = 10.0.0.0/8 (/etc/samba/smb.conf:12)`.
func (l accessList) describe() string {
	return fmt.Sprintf("%s = %s (%s)", l.param, strings.Join(l.tokens, " "), l.origin.String())
}

// allowAccess is allow_access_internal.
func (j accessJudge) allowAccess(deny, allow accessList, name, addr string) accessVerdict {
	// "if it is loopback then always allow unless specifically denied";
	// the comparison is on the literal string, so "127.0.0.2" or
	// "::ffff:127.0.0.1" get no special treatment.
	if addr == "127.0.0.1" || addr == "::1" {
		if m := j.listMatch(deny.tokens, name, addr); m.ok {
			if am := j.listMatch(allow.tokens, name, addr); !am.ok {
				return accessVerdict{false, fmt.Sprintf("loopback %s is denied by %s (entry %q) and not in hosts allow", addr, deny.describe(), m.token)}
			}
		}
		return accessVerdict{true, fmt.Sprintf("loopback %s is always allowed unless hosts deny lists it and hosts allow does not", addr)}
	}
	if len(deny.tokens) == 0 && len(allow.tokens) == 0 {
		return accessVerdict{true, "no hosts allow or hosts deny applies"}
	}
	if len(deny.tokens) == 0 {
		if m := j.listMatch(allow.tokens, name, addr); m.ok {
			return accessVerdict{true, fmt.Sprintf("%s matches %s (entry %q)", addr, allow.describe(), m.token)}
		}
		return accessVerdict{false, fmt.Sprintf("%s (%s) is not in %s", addr, name, allow.describe()) + accExceptNote(j.listMatch(allow.tokens, name, addr))}
	}
	if len(allow.tokens) == 0 {
		if m := j.listMatch(deny.tokens, name, addr); m.ok {
			return accessVerdict{false, fmt.Sprintf("%s matches %s (entry %q)", addr, deny.describe(), m.token)}
		}
		return accessVerdict{true, fmt.Sprintf("%s (%s) is not in %s", addr, name, deny.describe())}
	}
	// Both lists: the allow list wins, then the deny list decides.
	if m := j.listMatch(allow.tokens, name, addr); m.ok {
		return accessVerdict{true, fmt.Sprintf("%s matches %s (entry %q), which overrides %s", addr, allow.describe(), m.token, deny.describe())}
	}
	if m := j.listMatch(deny.tokens, name, addr); m.ok {
		return accessVerdict{false, fmt.Sprintf("%s is not in %s and matches %s (entry %q)", addr, allow.describe(), deny.describe(), m.token)}
	}
	return accessVerdict{true, fmt.Sprintf("%s (%s) is in neither %s nor %s", addr, name, allow.describe(), deny.describe())}
}

func accExceptNote(m listResult) string {
	if m.except != "" {
		return fmt.Sprintf(" (entry %q matched but EXCEPT entry %q excludes it)", m.token, m.except)
	}
	return ""
}

// listResult is list_match's answer with the entries that decided it.
type listResult struct {
	ok     bool
	token  string // the entry that matched
	except string // the EXCEPT entry that cancelled the match
}

// listMatch is list_match with client_match: tokens up to "EXCEPT" are
// tried in order; after a match, any match among the tokens after the first
// "EXCEPT" cancels it. Samba does not recurse into a second EXCEPT: every
// token after the first one is an exception.
func (j accessJudge) listMatch(list []string, name, addr string) listResult {
	i := 0
	var r listResult
	for ; i < len(list); i++ {
		if strings.EqualFold(list[i], "EXCEPT") {
			break
		}
		if j.clientMatch(list[i], name, addr) {
			r = listResult{ok: true, token: list[i]}
			break
		}
	}
	if !r.ok {
		return r
	}
	for i < len(list) && !strings.EqualFold(list[i], "EXCEPT") {
		i++
	}
	for ; i < len(list); i++ {
		if j.clientMatch(list[i], name, addr) {
			r.ok = false
			r.except = list[i]
			return r
		}
	}
	return r
}

// clientMatch is client_match: the address first (with an IPv4-mapped
// "::ffff:" prefix dropped from both token and address, Samba bugs 5311 and
// 7383), then the host name if there is one.
func (j accessJudge) clientMatch(tok, name, addr string) bool {
	tokAddr, cliAddr := tok, addr
	if accHasPrefixFold(tokAddr, "::ffff:") {
		tokAddr = tokAddr[7:]
	}
	if accHasPrefixFold(cliAddr, "::ffff:") {
		cliAddr = cliAddr[7:]
	}
	if j.stringMatch(tokAddr, cliAddr) {
		return true
	}
	return name != "" && j.stringMatch(tok, name)
}

func accHasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// stringMatch is string_match. The branches are an else-if chain on the
// token, so a token that takes a branch and fails there never reaches the
// later ones (".example.com" is never compared as a plain name).
func (j accessJudge) stringMatch(tok, s string) bool {
	if tok == "" {
		return false
	}
	switch {
	case tok[0] == '.': // domain: match the last fields
		return len(s) > len(tok) && strings.EqualFold(tok, s[len(s)-len(tok):])
	case tok[0] == '@': // netgroup: needs NIS, see the file comment
		return false
	case strings.EqualFold(tok, "ALL"), strings.EqualFold(tok, "FAIL"):
		return true
	case strings.EqualFold(tok, "LOCAL"): // no dots
		return !strings.Contains(s, ".") && !strings.EqualFold(s, "unknown")
	case strings.EqualFold(tok, s): // host name or address
		return true
	case tok[len(tok)-1] == '.': // network prefix, compared case-sensitively
		return strings.HasPrefix(s, tok)
	case strings.Contains(tok, "/"): // netnumber/netmask
		cut := strings.IndexByte(tok, '/')
		var s0 byte
		if s != "" {
			s0 = s[0]
		}
		if (accIsDigit(s0) && strings.Contains(tok, ".")) ||
			(tok[0] == '[' && cut > 0 && tok[cut-1] == ']') ||
			((accIsXDigit(s0) || s0 == ':') && strings.Contains(tok, ":")) {
			return j.maskedMatch(tok, cut, s)
		}
		return false
	case strings.ContainsAny(tok, "*?"):
		return unixWildMatch(tok, s)
	}
	return false
}

func accIsDigit(c byte) bool { return c >= '0' && c <= '9' }

func accIsXDigit(c byte) bool {
	return accIsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// accSockAddr is the part of a struct sockaddr_storage that same_net reads.
type accSockAddr struct {
	v6   bool
	addr [16]byte // IPv4 in the first 4 bytes
}

// maskedMatch is masked_match: "net/len" or "net/mask".
func (j accessJudge) maskedMatch(tok string, cut int, s string) bool {
	host, ok := j.interpretStringAddr(s)
	if !ok {
		return false
	}
	// For "[addr]/len" Samba copies tok+1 and cuts it at the position of the
	// '/', which leaves the ']' in place (the comment there says it removes
	// it): "[fd00::]/8" asks getaddrinfo for "fd00::]", which fails, so
	// bracketed tokens never match. Faithfully reproduced.
	tokStr := tok[:cut]
	if tok[0] == '[' {
		tokStr = tok[1:cut] // tok_copy: "fd00::]" for "[fd00::]/8"
	}
	tokAddr, ok := j.interpretStringAddr(tokStr)
	if !ok {
		return false
	}
	maskStr := tok[cut+1:]
	var mask accSockAddr
	if len(maskStr) > 2 {
		// Longer than two characters: a dotted (or IPv6) mask, parsed as
		// an address. "/024" or "/128" land here too and are read as
		// the addresses 0.0.0.20 and 0.0.0.128.
		if mask, ok = j.interpretStringAddr(maskStr); !ok {
			return false
		}
	} else {
		n, ok := accStrtoulFull(maskStr)
		if !ok {
			return false
		}
		if mask, ok = makeNetmask(tokAddr, n); !ok {
			return false
		}
	}
	return sameNet(host, tokAddr, mask)
}

// accStrtoulFull is smb_strtoul(s, NULL, 0, &err, SMB_STR_FULL_STR_CONV) for
// the at most two characters masked_match hands it: base 0 (a leading 0 is
// octal, 0x hex), an optional '+', no '-', the whole string converted.
func accStrtoulFull(s string) (uint64, bool) {
	i := 0
	for i < len(s) && accIsCSpace(s[i]) {
		i++
	}
	if i < len(s) && s[i] == '+' {
		i++
	}
	if i >= len(s) || strings.Contains(s, "-") {
		return 0, false
	}
	base := uint64(10)
	if s[i] == '0' {
		base = 8
		if i+1 < len(s) && (s[i+1] == 'x' || s[i+1] == 'X') {
			// "0x" with no hex digit after it: strtoul converts the "0"
			// and stops at 'x', so the string is not fully converted.
			return 0, false
		}
	}
	var n uint64
	for ; i < len(s); i++ {
		d, ok := accDigit(s[i])
		if !ok || d >= base {
			return 0, false
		}
		n = n*base + d
	}
	return n, true
}

func accIsCSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func accDigit(c byte) (uint64, bool) {
	switch {
	case c >= '0' && c <= '9':
		return uint64(c - '0'), true
	case c >= 'a' && c <= 'z':
		return uint64(c-'a') + 10, true
	case c >= 'A' && c <= 'Z':
		return uint64(c-'A') + 10, true
	}
	return 0, false
}

// makeNetmask is make_netmask (lib/socket/interfaces.c). For IPv6 the byte
// after the whole 0xff bytes is the token's own byte ANDed with the partial
// mask ("*p++ &= ..." on a copy of the token), not the partial mask itself:
// "fe80::/10" yields the mask ff80:: and matches fec0::1 too. Reproduced.
func makeNetmask(tok accSockAddr, masklen uint64) (accSockAddr, bool) {
	out := tok
	if tok.v6 {
		if masklen > 128 {
			return out, false
		}
		i := 0
		for ; masklen >= 8; masklen -= 8 {
			out.addr[i] = 0xff
			i++
		}
		if i < 16 {
			out.addr[i] &= byte(0xff &^ (0xff >> masklen))
			i++
		}
		for ; i < 16; i++ {
			out.addr[i] = 0
		}
		return out, true
	}
	if masklen > 32 {
		return out, false
	}
	m := uint32((uint64(0xFFFFFFFF) >> masklen) ^ 0xFFFFFFFF)
	out.addr = [16]byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)}
	return out, true
}

// sameNet is same_net: the families of the two addresses must agree; the
// mask is read as a struct of the addresses' family whatever family it has,
// and a mask of the other family reads as all zeros there (sin6_addr of a
// zeroed sockaddr_in, sin_addr = sin6_flowinfo of a sockaddr_in6), which
// matches everything.
func sameNet(a, b, mask accSockAddr) bool {
	if a.v6 != b.v6 {
		return false
	}
	n := 4
	if a.v6 {
		n = 16
	}
	var m [16]byte
	if mask.v6 == a.v6 {
		m = mask.addr
	}
	for i := 0; i < n; i++ {
		if a.addr[i]&m[i] != b.addr[i]&m[i] {
			return false
		}
	}
	return true
}

// interpretStringAddr is interpret_string_addr(ss, s, 0) for numeric
// strings: getaddrinfo with AI_ADDRCONFIG, which in glibc parses IPv4 with
// inet_aton rules ("10.1" is 10.0.0.1, "012" octal, "0x0a" hex) and IPv6
// with inet_pton, and refuses a family the host has no non-loopback address
// of. Names are not resolved (see the file comment).
func (j accessJudge) interpretStringAddr(s string) (accSockAddr, bool) {
	if strings.Contains(s, ":") {
		if p := strings.IndexByte(s, '%'); p > 0 {
			// A link-local scope ("fe80::1%eth0"): Samba strips it when it
			// names an interface; getaddrinfo accepts numeric scopes.
			s = s[:p]
		}
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is6() || !j.v6 {
			return accSockAddr{}, false
		}
		return accSockAddr{v6: true, addr: a.As16()}, true
	}
	v, ok := accInetAton(s)
	if !ok || !j.v4 {
		return accSockAddr{}, false
	}
	return accSockAddr{addr: [16]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}}, true
}

// accInetAton is glibc's inet_aton as getaddrinfo uses it (__inet_aton_exact:
// nothing may follow the address): one to four parts, each decimal, octal
// (leading 0) or hex (0x), the last part filling the remaining bytes.
func accInetAton(s string) (uint32, bool) {
	if s == "" {
		return 0, false
	}
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return 0, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		v, ok := accAtonPart(p)
		if !ok {
			return 0, false
		}
		vals[i] = v
	}
	last := len(vals) - 1
	for i := 0; i < last; i++ {
		if vals[i] > 0xff {
			return 0, false
		}
	}
	if vals[last] > uint64(0xFFFFFFFF)>>(8*last) {
		return 0, false
	}
	var v uint64
	for i := 0; i < last; i++ {
		v |= vals[i] << (24 - 8*i)
	}
	return uint32(v | vals[last]), true
}

func accAtonPart(p string) (uint64, bool) {
	if p == "" {
		return 0, false
	}
	base := uint64(10)
	switch {
	case len(p) > 1 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'):
		base, p = 16, p[2:]
		// glibc accepts "0x" alone as 0.
		if p == "" {
			return 0, true
		}
	case p[0] == '0':
		base = 8
	}
	var v uint64
	for i := 0; i < len(p); i++ {
		d, ok := accDigit(p[i])
		if !ok || d >= base {
			return 0, false
		}
		v = v*base + d
		if v > 0xFFFFFFFF {
			return 0, false
		}
	}
	return v, true
}

// accessJudge applies the host lists on a host with addresses of the
// families v4 and v6 (judgeOn).
type accessJudge struct{ v4, v6 bool }

// judgeOn says which address families getaddrinfo's AI_ADDRCONFIG lets
// through on a host with addrs (glibc __check_pf: a family counts when the
// host has an address of it other than 127.0.0.1 / ::1; with neither, both
// pass).
func judgeOn(addrs []netip.Addr) accessJudge {
	var j accessJudge
	for _, ip := range addrs {
		ip = ip.Unmap()
		switch {
		case ip.Is4() && ip != netip.AddrFrom4([4]byte{127, 0, 0, 1}):
			j.v4 = true
		case ip.Is6() && ip != netip.IPv6Loopback():
			j.v6 = true
		}
	}
	if !j.v4 && !j.v6 {
		return accessJudge{v4: true, v6: true}
	}
	return j
}

// unixWildMatch is unix_wild_match (lib/util/unix_match.c): case-insensitive
// '*' and '?' matching with Samba's own quirks (a '*' followed by n equal
// characters needs at least n of them, a trailing "." on the string is
// ignored).
func unixWildMatch(pattern, s string) bool {
	p := []byte(accLower(pattern))
	str := []byte(accLower(s))
	// Remove any *? and ** from the pattern as they are meaningless.
	for i := 0; i < len(p); i++ {
		for p[i] == '*' && i+1 < len(p) && (p[i+1] == '?' || p[i+1] == '*') {
			p = append(p[:i+1], p[i+2:]...)
		}
	}
	if len(p) == 1 && p[0] == '*' {
		return true
	}
	return unixDoMatch(p, str)
}

// accLower lower-cases like strlower_talloc: Unicode-aware for valid
// UTF-8, and byte-preserving otherwise (strings.ToLower would turn invalid
// bytes into U+FFFD).
func accLower(s string) string {
	if utf8.ValidString(s) {
		return strings.ToLower(s)
	}
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// cAt returns b[i], or 0 past the end, like reading a C string.
func cAt(b []byte, i int) byte {
	if i < len(b) {
		return b[i]
	}
	return 0
}

func unixDoMatch(re, str []byte) bool {
	p, s := 0, 0
	for cAt(re, p) != 0 && cAt(str, s) != 0 {
		switch re[p] {
		case '?':
			s++
			p++
		case '*':
			p++
			if cAt(re, p) == 0 {
				return true
			}
			for cAt(str, s) != 0 {
				for cAt(str, s) != 0 && re[p] != str[s] {
					s++
				}
				matchcount := 0
				for cAt(str, s) != 0 && re[p] == str[s] {
					s++
					matchcount++
				}
				for cAt(re, p+1) != 0 && re[p+1] == re[p] {
					p++
					matchcount--
				}
				if matchcount <= 0 {
					return false
				}
				s-- // back onto the last matching character
				if unixDoMatch(re[p:], str[s:]) {
					return true
				}
				if cAt(str, s) == 0 {
					return false
				}
				s++
			}
			return false
		default:
			if str[s] != re[p] {
				return false
			}
			s++
			p++
		}
	}
	pc, sc := cAt(re, p), cAt(str, s)
	if pc == 0 && sc == 0 {
		return true
	}
	if pc == 0 && sc == '.' && cAt(str, s+1) == 0 {
		return true
	}
	if sc == 0 && pc == '?' {
		for cAt(re, p) == '?' {
			p++
		}
		return cAt(re, p) == 0
	}
	return sc == 0 && pc == '*' && cAt(re, p+1) == 0
}
