package smbconf

// The parameters whose parm_table entry has a special handler
// (lib/param/loadparm.c, source3/param/loadparm.c). Each handler here was
// checked against testparm 4.17.12; handlers_test.go keeps the cases.

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"strings"
	"unicode"

	"github.com/smb-agent/smb-agent/configs/safefile"
)

type handler func(l *loader, p *Param, s *service, value string, a *assign) error

var handlers map[string]handler

func init() {
	handlers = map[string]handler{
		"include":                               handleInclude,
		"copy":                                  handleCopy,
		"printing":                              handlePrinting,
		"realm":                                 handleRealm,
		"idmap backend":                         handleIdmap("idmap config * : backend"),
		"idmap uid":                             handleIdmap("idmap config * : range"),
		"idmap gid":                             handleIdmap("idmap config * : range"),
		"smb ports":                             handleSmbPorts,
		"server smb transports":                 handleSmbTransports,
		"client smb transports":                 handleSmbTransports,
		"rpc server dynamic port range":         handleRPCPortRange,
		"name resolve order":                    handleNameResolveOrder,
		"kdc supported enctypes":                handleKdcEnctypes(false),
		"kdc default domain supported enctypes": handleKdcEnctypes(true),
		"dos charset":                           handleDosCharset,
	}
}

func setSlot(l *loader, p *Param, s *service, v val, a *assign) {
	*l.target(p, s) = &slot{v: v, a: a}
}

// handleInclude is lp_include (source3/param/loadparm.c): the value is
// %-substituted, recorded in the "include" parameter of the current
// section, and the file is spliced in place, so that sections it opens
// carry on in the including file. A missing file is skipped silently; more
// than 100 nested includes fail the load. Relative paths are opened from
// the process's working directory, not from the including file's.
func handleInclude(l *loader, p *Param, s *service, value string, a *assign) error {
	if l.depth >= maxIncludeDepth {
		// Samba's own limit (MAX_INCLUDE_DEPTH), so a Samba refusal,
		// not a bound of ours.
		return fmt.Errorf("maximum include depth (%d) exceeded", maxIncludeDepth)
	}
	if strequal(value, "registry") {
		if !l.inGlobal {
			return fmt.Errorf("\"include = registry\" is only effective in [global]")
		}
		l.warn(a.o.File, a.o.Line, "include = registry: the registry configuration is not read (assumed empty)")
		ra := &assign{o: a.o, raw: "yes"}
		ra.o.Name, ra.o.Note = "registry shares", "set by include = registry"
		l.depth++
		ok := l.doGlobal("registry shares", "yes", ra)
		l.depth--
		if !ok {
			return errReported
		}
		return nil
	}
	fname := l.c.subBasic(value)
	setSlot(l, p, s, val{s: fname}, a)
	path := absPath(l.workDir, fname)
	src, inMemory := l.overlay[path]
	if !inMemory {
		fi, err := os.Stat(path)
		switch {
		case err != nil:
			// file_exist() is false: DEBUG(2, "Can't find include file").
			l.warn(a.o.File, a.o.Line, "include file %s not found; Samba skips it silently", path)
			return nil
		case fi.Mode()&fs.ModeNamedPipe != 0:
			// file_exist() (lib/util/util.c) accepts a FIFO, and smbd
			// would block opening it: refuse, never wait on it.
			return refusedError{fmt.Sprintf("include %s is a FIFO (named pipe), not a regular file; refusing to read it (smbd would block on it)", path)}
		case !fi.Mode().IsRegular():
			// file_exist() is false for anything but a regular file or
			// a FIFO: Samba skips it as if it were missing.
			l.warn(a.o.File, a.o.Line, "include file %s is %s, not a regular file; Samba skips it silently", path, safefile.Kind(fi.Mode()))
			return nil
		}
	}
	for i, f := range l.chain {
		if f == path {
			loop := append(append([]string(nil), l.chain[i:]...), path)
			return fmt.Errorf("include loop %s (Samba fails at include depth %d)", strings.Join(loop, " -> "), maxIncludeDepth)
		}
	}
	if inMemory {
		if l.total+int64(len(src)) > l.max {
			return refusedError{fmt.Sprintf("include %s: configuration too large (the limit is %d bytes in all)", path, l.max)}
		}
		l.total += int64(len(src))
	} else {
		var lerr *LoadError
		if src, lerr = l.readFile(path, path); lerr != nil {
			if lerr.Refused {
				return refusedError{fmt.Sprintf("include %s: %s", path, lerr.Msg)}
			}
			return fmt.Errorf("include %s: %s", path, lerr.Msg)
		}
	}
	if !containsStr(l.c.files, path) {
		l.c.files = append(l.c.files, path)
	}
	l.depth++
	l.chain = append(l.chain, path)
	ok := l.process(path, src)
	l.chain = l.chain[:len(l.chain)-1]
	l.depth--
	if !ok {
		return errReported
	}
	return nil
}

// lookupEnv is os.LookupEnv on the environment the Config was loaded with.
func (c *Config) lookupEnv(name string) (string, bool) {
	for _, kv := range c.environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}

// subBasic is talloc_sub_basic() (source3/lib/substitute.c) as testparm
// runs it: no client and no user (smb_name and domain are ""). Every known
// escape is replaced everywhere in the string at once (realloc_string_sub),
// with the unsafe characters $`"';%\r\n of the inserted text turned into
// '_'; scanning goes on one byte after the '%' just handled. %G (no such
// user), %$(VAR) of an unset variable, %LOGONSERVER% and unknown escapes
// stay as written. Checked against testparm 4.17 (edit_test.go
// TestFindServiceSubstitution).
func (c *Config) subBasic(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	for i := 0; i < len(s); {
		j := strings.IndexByte(s[i:], '%')
		if j < 0 {
			break
		}
		p := i + j
		i = p + 1
		if p+1 >= len(s) {
			break
		}
		pat, r := s[p:p+2], ""
		switch s[p+1] {
		case 'U', 'D', 'M', 'm':
			r = ""
		case 'I', 'i':
			r = "0.0.0.0"
		case 'J', 'j':
			r = "0_0_0_0"
		case 'L':
			if len(s)-p >= len("%LOGONSERVER%") && strings.EqualFold(s[p:p+len("%LOGONSERVER%")], "%LOGONSERVER%") {
				continue
			}
			r = c.g[c.mustParam("netbios name").slot].v.s
		case 'N':
			r = c.g[c.mustParam("netbios name").slot].v.s
		case 'h':
			r = hostShort(c.hostname)
		case 'R', 'a':
			r = "UNKNOWN"
		case 'v':
			r = c.dflt.tab.raw
		case 'w':
			r = c.g[c.mustParam("winbind separator").slot].v.s
		case 'T':
			r = c.loadedAt.Format("2006/01/02 15:04:05")
		case 't':
			r = c.loadedAt.Format("20060102_150405")
		case 'd':
			r = strconv.Itoa(c.pid)
		case '$':
			if p+2 >= len(s) || s[p+2] != '(' {
				continue
			}
			q := strings.IndexByte(s[p:], ')')
			if q < 0 {
				continue
			}
			env, ok := c.lookupEnv(s[p+3 : p+q])
			if !ok {
				continue
			}
			pat, r = s[p:p+q+1], env
		default:
			continue
		}
		s = strings.ReplaceAll(s, pat, unsafeToUnderscore(r))
	}
	return s
}

// unsafeToUnderscore is what realloc_string_sub does to the text it
// inserts.
func unsafeToUnderscore(s string) string {
	if !strings.ContainsAny(s, "$`\"';%\r\n") {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		switch c {
		case '$', '`', '"', '\'', ';', '%', '\r', '\n':
			b[i] = '_'
		}
	}
	return string(b)
}

func hostShort(h string) string {
	if i := strings.IndexByte(h, '.'); i >= 0 {
		return h[:i]
	}
	return h
}

// handleCopy is handle_copy: every parameter the share has not set yet is
// copied from the named share (found case-insensitively); copying in
// [global], from a missing share or from itself fails the load.
func handleCopy(l *loader, p *Param, s *service, value string, a *assign) error {
	if s == nil {
		return fmt.Errorf("copy = %s in [global]: \"Unable to copy service - invalid service destination\"", value)
	}
	src, ok := l.c.byName[serviceKey(value)]
	if !ok || !l.c.valid(src) {
		return fmt.Errorf("copy = %s: no such share (\"Unable to copy service - source not found\")", value)
	}
	if src == s {
		return fmt.Errorf("copy = %s: a share cannot copy itself", value)
	}
	// Every slot the share has not set becomes the source's: the
	// source's slots are the new base, and the share keeps only those it
	// set.
	own := s.own
	s.base, s.own = src.slots(), nil
	for _, o := range own {
		if s.set[o.i] {
			s.put(o.i, o.sl)
		}
	}
	for i := len(src.opts) - 1; i >= 0; i-- {
		s.opts.set(src.opts[i].key, src.opts[i].value, src.opts[i].a)
	}
	setSlot(l, p, s, val{s: value}, a)
	return nil
}

// handlePrinting is handle_printing: in a share it also installs the
// print commands of that printing system (init_printer_values). In
// [global] Samba applies them to a scratch copy of the defaults, so they
// do not change.
func handlePrinting(l *loader, p *Param, s *service, value string, a *assign) error {
	e, ok := enumLookup(p, value)
	if !ok {
		return fmt.Errorf("invalid value %q for %q", clip(value), p.Name)
	}
	setSlot(l, p, s, val{s: e}, a)
	if s != nil {
		for _, pc := range l.c.dflt.tab.printing[e] {
			cp := l.c.mustParam(pc.param)
			o := a.o
			o.Name, o.Note = pc.param, "set by "+a.o.Name+" = "+value+" (init_printer_values)"
			s.put(cp.slot, &slot{v: val{s: pc.value}, a: &assign{o: o, raw: pc.value}})
		}
	}
	return nil
}

// handleRealm is handle_realm: the realm is stored upper-cased; a value
// that is not valid UTF-8 cannot be and fails the load.
func handleRealm(l *loader, p *Param, s *service, value string, a *assign) error {
	u, ok := toUpperSamba(value)
	if !ok {
		return fmt.Errorf("realm %q is not valid UTF-8", clip(value))
	}
	setSlot(l, p, s, val{s: u}, a)
	return nil
}

// handleIdmap is handle_idmap_backend/uid/gid: the old parameters also set
// the matching "idmap config * :" option.
func handleIdmap(key string) handler {
	return func(l *loader, p *Param, s *service, value string, a *assign) error {
		setSlot(l, p, s, val{s: value}, a)
		if s == nil {
			l.c.gopts.set(key, value, a)
		}
		return nil
	}
}

// handleSmbPorts is handle_smb_ports: a non-empty list of ports 1-65535.
func handleSmbPorts(l *loader, p *Param, s *service, value string, a *assign) error {
	if value == "" {
		return fmt.Errorf("smb ports is empty")
	}
	list := strListMakeV3(value)
	for _, e := range list {
		v, ok, of, neg, end := cStrtoul(e, 10)
		if !ok || of || neg || end != len(e) || v == 0 || v > 65535 {
			return fmt.Errorf("smb ports: %q is not a port number (1-65535)", clip(e))
		}
	}
	setSlot(l, p, s, val{list: list}, a)
	return nil
}

// handleSmbTransports is the handler of "server smb transports" and "client
// smb transports" (new in 4.23; since then "smb ports" is a synonym of the
// server one): the list is set as any list ("+x" adds, "-x" removes), and
// every element must then be a transport, a transport with a port, or a
// bare port, else the load fails. What was accepted and refused was
// observed on testparm 4.24.8 (handlers_test.go, the diff corpus run with
// SAMBA_RELEASE=4.24): tcp, nbt and quic in lower case only; a port is a
// decimal number (a leading '+' or zeros allowed) whose value truncated to
// 32 bits is 1-65535 (4294967297 passes as 1); an empty list fails.
func handleSmbTransports(l *loader, p *Param, s *service, value string, a *assign) error {
	if strListMakeV3(value) == nil {
		return fmt.Errorf("%s is empty", p.Name)
	}
	t := l.target(p, s)
	v, err := parseTyped(p, value, (*t).v)
	if err != nil {
		return err
	}
	if len(v.list) == 0 {
		return fmt.Errorf("%s is empty", p.Name)
	}
	for _, e := range v.list {
		if !validSmbTransport(e) {
			return fmt.Errorf("%s: %q is not a transport (tcp, nbt, quic, optionally :PORT) or a port", p.Name, clip(e))
		}
	}
	*t = &slot{v: v, a: a}
	return nil
}

func validSmbTransport(e string) bool {
	port := e
	if name, rest, ok := strings.Cut(e, ":"); ok {
		switch name {
		case "tcp", "nbt", "quic":
		default:
			return false
		}
		port = rest
	} else {
		switch e {
		case "tcp", "nbt", "quic":
			return true
		}
	}
	v, ok, of, neg, end := cStrtoul(port, 10)
	if !ok || of || neg || end != len(port) || port == "" || port[0] == ' ' || port[0] == '\t' {
		return false
	}
	n := uint32(v)
	return n >= 1 && n <= 65535
}

// handleRPCPortRange is handle_rpc_server_dynamic_port_range:
// sscanf("%d - %d") with 1024 <= low <= high <= 65535.
func handleRPCPortRange(l *loader, p *Param, s *service, value string, a *assign) error {
	bad := fmt.Errorf("rpc server dynamic port range %q is not LOW-HIGH within 1024-65535", clip(value))
	low, rest, ok := scanInt(value)
	if !ok {
		return bad
	}
	rest = strings.TrimLeftFunc(rest, func(r rune) bool { return r < 0x80 && isSpace(byte(r)) })
	if !strings.HasPrefix(rest, "-") {
		return bad
	}
	high, _, ok := scanInt(rest[1:])
	if !ok || low > high || low < 1024 || high > 65535 {
		return bad
	}
	setSlot(l, p, s, val{s: value}, a)
	return nil
}

// scanInt is sscanf's %d: blanks, a sign, at least one digit.
func scanInt(s string) (int, string, bool) {
	v, ok, of, neg, end := cStrtoul(s, 10)
	if !ok {
		return 0, s, false
	}
	n := int64(v)
	if of || v > 1<<63-1 {
		n = 1<<63 - 1
	}
	if neg {
		n = -n
	}
	return int(int32(n)), s[end:], true
}

// handleNameResolveOrder is handle_name_resolve_order: a non-empty list
// of lmhosts, wins, host and bcast (case matters).
func handleNameResolveOrder(l *loader, p *Param, s *service, value string, a *assign) error {
	list := strListMakeV3(value)
	if len(list) == 0 {
		return fmt.Errorf("name resolve order is empty")
	}
	for _, e := range list {
		switch e {
		case "lmhosts", "wins", "host", "bcast":
		default:
			return fmt.Errorf("invalid name resolve order entry %q (want lmhosts, wins, host or bcast)", clip(e))
		}
	}
	setSlot(l, p, s, val{list: list}, a)
	return nil
}

// handleKdcEnctypes is handle_kdc_supported_enctypes and its
// default-domain twin: encryption type names or numbers, OR-ed.
func handleKdcEnctypes(defaultDomain bool) handler {
	return func(l *loader, p *Param, s *service, value string, a *assign) error {
		var result uint32
		var bad []string
		for _, e := range strListMake(value) {
			switch {
			case strwicmpEqual(e, "arcfour-hmac-md5"), strwicmpEqual(e, "rc4-hmac"):
				result |= 0x4
			case strwicmpEqual(e, "aes128-cts-hmac-sha1-96"), strwicmpEqual(e, "aes128-cts"):
				result |= 0x8
			case strwicmpEqual(e, "aes256-cts-hmac-sha1-96"), strwicmpEqual(e, "aes256-cts"):
				result |= 0x10
			case defaultDomain && (strwicmpEqual(e, "aes256-cts-hmac-sha1-96-sk") || strwicmpEqual(e, "aes256-cts-sk")):
				result |= 0x20
			default:
				v, ok, of, neg, end := cStrtoul(e, 0)
				if !ok || of || neg || end != len(e) {
					bad = append(bad, e)
					continue
				}
				result |= uint32(v)
			}
		}
		if len(bad) > 0 {
			return fmt.Errorf("invalid value %q for %q", clip(strings.Join(bad, " ")), p.Name)
		}
		setSlot(l, p, s, val{n: int(int32(result))}, a)
		return nil
	}
}

// handleDosCharset is handle_dos_charset: UTF-8 cannot be the DOS
// character set, Samba uses CP850 instead.
func handleDosCharset(l *loader, p *Param, s *service, value string, a *assign) error {
	v := value
	if isUTF8Name(v) && (*l.target(p, s)).v.s != v {
		l.warn(a.o.File, a.o.Line, "'dos charset' must not be UTF8; Samba uses CP850 instead")
		v = "CP850"
	}
	setSlot(l, p, s, val{s: v}, a)
	return nil
}

func isUTF8Name(v string) bool {
	if len(v) != 4 && len(v) != 5 {
		return false
	}
	if unicode.ToUpper(rune(v[0])) != 'U' || unicode.ToUpper(rune(v[1])) != 'T' || unicode.ToUpper(rune(v[2])) != 'F' {
		return false
	}
	if len(v) == 4 {
		return v[3] == '8'
	}
	return v[3] == '-' && v[4] == '8'
}

// userHome is get_user_home_dir: the home directory of a user, trying the
// name as given, then lower case, then upper case (Get_Pwnam_alloc).
func userHome(name string) string {
	for _, n := range []string{name, strings.ToLower(name), strings.ToUpper(name)} {
		if u, err := user.Lookup(n); err == nil && u.HomeDir != "" {
			return u.HomeDir
		}
	}
	return ""
}
