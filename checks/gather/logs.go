package gather

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/smb-agent/smb-agent/checks"
	"github.com/smb-agent/smb-agent/configs/safefile"
	"github.com/smb-agent/smb-agent/configs/smbconf"
)

// Log gathering: smbd's own log files (and the journal as a fallback), read
// as they were when Gather started, so that the agent's own probes (which
// make smbd log failed negotiations from 127.0.0.1 too) never count as a
// client's evidence.

// Where Debian's Samba logs when smb.conf does not say (`smbd -b`:
// LOGFILEBASE), and the files that ignore `log file`: smbd's own log when
// the config failed to load, and the RPC helpers, which write
// log.samba-dcerpcd and log.rpcd_* there unless smbd runs with -l
// (observed on Samba 4.17.12).
const defaultLogDir = "/var/log/samba"

// logPatterns classify a message by substrings, first match wins. Each
// needs all of its substrings. "max smbd processes" has no entry on
// purpose: smbd closes the connection without logging anything
// (source3/smbd/server.c smbd_accept_connection; test/
// TestProbeResetByMaxSmbdProcesses).
var logPatterns = []struct {
	kind string
	all  []string
}{
	{checks.LogNegotiateOffer, []string{"Requested protocol ["}},
	{checks.LogNoProtocol, []string{"No protocol supported !"}},
	{checks.LogNegotiateNotSupported, []string{"status[NT_STATUS_NOT_SUPPORTED]", "smb2_negprot.c"}},
	{checks.LogNTLMv1Refused, []string{"NTLMv1 passwords NOT PERMITTED"}},
	{checks.LogAuthFailure, []string{"Auth: [", "status [NT_STATUS_"}},
	{checks.LogAuthFailure, []string{"check_ntlm_password", "FAILED with error"}},
	{checks.LogAccountDisabled, []string{"sam_account_ok: Account for user", "was disabled"}},
	{checks.LogDenied, []string{"Denied connection from"}},
	{checks.LogDenied, []string{"Connection denied from"}}, // smb2_process.c smbd_add_connection, level 1
	{checks.LogEncryptionRequired, []string{"as encryption is required"}},
	{checks.LogNotPermitted, []string{"not permitted to access this share"}},
	{checks.LogBadSignature, []string{"Bad SMB2", "signature"}},
	{checks.LogRPCHelper, []string{"Can't connect to a running samba-dcerpcd"}},
	{checks.LogRPCExecFailed, []string{"sys_popenv: ERROR executing command"}},
	{checks.LogConfigLoadFailed, []string{"Failed to load config file"}},
	{checks.LogConfigLoadFailed, []string{"Can't load ", "run testparm"}},
	{checks.LogConfigLoadFailed, []string{"error opening config file"}}, // what 4.13 writes instead (behaviour registry)
	{checks.LogInvalidValue, []string{"Ignoring invalid value"}},
	{checks.LogNonSMBPacket, []string{"Non-SMB packet of length"}},
	{checks.LogSocketFailed, []string{"smbd_open_one_socket: open_socket_in"}},
	{checks.LogPipeDirFailed, []string{"Failed to create pipe directory"}},
}

func classifyLog(msg string) string {
	for _, p := range logPatterns {
		ok := true
		for _, s := range p.all {
			if !strings.Contains(msg, s) {
				ok = false
				break
			}
		}
		if ok {
			return p.kind
		}
	}
	return ""
}

// Limits that keep a run fast on a busy host whatever its logs hold.
const (
	maxLogFiles       = 256 // most recently modified first
	maxLinesPerKind   = 50  // the most recent of each kind
	maxOffers         = 100 // the most recent failed negotiations
	offerGroupTimeout = 2 * time.Second
	journalMaxEntries = 20000
)

// ---- debug levels ----------------------------------------------------

// parseLogLevel parses a `log level` / -d value as Samba's
// debug_parse_levels (lib/util/debug.c) does: the first token without a
// colon is the level of every class ("all"), then "class:level" tokens
// ("1 smb2:3 auth_audit:2"); separators are blanks and commas. A
// "@logfile" suffix (per-class log files, Samba 4.18+) is ignored. It
// reports false when nothing valid was found.
func parseLogLevel(s string) (map[string]int, bool) {
	lv := map[string]int{}
	toks := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' || r == '\n' || r == '\r' })
	for i, t := range toks {
		t, _, _ = strings.Cut(t, "@")
		class, level, hasColon := strings.Cut(t, ":")
		if !hasColon {
			if i != 0 {
				continue
			}
			level, class = class, "all"
		}
		n, err := strconv.Atoi(level)
		if err != nil || n < 0 {
			continue
		}
		lv[strings.ToLower(strings.TrimSpace(class))] = n
	}
	if len(lv) == 0 {
		return nil, false
	}
	return lv, true
}

// logLevelInput is where smbd's effective debug level can come from.
type logLevelInput struct {
	SmbdArgs []string // the master's command line (nil when not running)
	Conf     string   // the `log level` value as written
	ConfSet  bool     // smb.conf has a `log level` (or `debuglevel`) line
	ConfAt   string   // where it is, "FILE:LINE"
}

// levelClasses are always in the Level map: the classes whose level
// decides which evidence exists (the levels are listed with the Log kinds
// in checks/facts_host.go).
var levelClasses = []string{"all", "smb2", "auth_audit", "auth"}

// effectiveLogLevels works out the level smbd logs at, per class:
//   - smbd -d N / --debuglevel=N wins over smb.conf entirely (it is set
//     with lp_set_cmdline; verified on 4.17: `-d 1` with `log level = 1
//     smb2:3` logs no "Requested protocol" lines);
//   - else the `log level` line, which children re-read on every new
//     connection, so the current file counts, not the one smbd started
//     with (source3/smbd/smb2_process.c smbd_process → reload_services);
//   - else 0: an smbd started without -d and without a `log level` line
//     runs at 0 although testparm prints 1 (observed on Samba 4.17.12,
//     test/ TestGatherDefaultLogLevelIsTooLow: no level-1
//     "sam_account_ok ... disabled" line then).
//
// Classes not named inherit "all".
func effectiveLogLevels(in logLevelInput) (map[string]int, string) {
	var lv map[string]int
	var src string
	if d, ok := optionValue(in.SmbdArgs, 'd', "debuglevel"); ok {
		if m, ok := parseLogLevel(d); ok {
			lv, src = m, "smbd -d "+d+" (command line; overrides smb.conf's log level)"
		}
	}
	if lv == nil && in.ConfSet {
		if m, ok := parseLogLevel(in.Conf); ok {
			lv, src = m, "log level = "+in.Conf
			if in.ConfAt != "" {
				src += " (" + in.ConfAt + ")"
			}
		}
	}
	if lv == nil {
		lv = map[string]int{"all": 0}
		src = "no log level line in smb.conf and no -d: smbd logs at level 0 (testparm prints 1; " + noLogLevelQualifier() + ")"
	}
	all, ok := lv["all"]
	if !ok {
		all = 0
		lv["all"] = 0
	}
	for _, c := range levelClasses {
		if _, ok := lv[c]; !ok {
			lv[c] = all
		}
	}
	return lv, src
}

// noLogLevelQualifier names the releases where a missing log level line
// means level 0 (the behaviour registry's entry).
func noLogLevelQualifier() string {
	if b, ok := smbconf.LookupBehaviour(smbconf.BehaviourNoLogLevelMeansZero); ok {
		return b.Qualifier()
	}
	return "not checked on any Samba release"
}

// ---- sources ---------------------------------------------------------

// logFilePattern turns a `log file` value into a glob: every %-macro
// (%m, %I, %$(VAR), ...) can expand to anything, so it becomes "*".
// Glob metacharacters already in the name are escaped.
func logFilePattern(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '%' && i+1 < len(v):
			if v[i+1] == '$' && i+2 < len(v) && v[i+2] == '(' {
				if j := strings.IndexByte(v[i+2:], ')'); j >= 0 {
					i += 2 + j
					b.WriteByte('*')
					continue
				}
			}
			i++
			b.WriteByte('*')
		case c == '*' || c == '?' || c == '[' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// logSourceInput names where logs may be.
type logSourceInput struct {
	LogFile  string   // `log file` as smb.conf has it; "" = compiled-in default
	SmbdArgs []string // the master's command line, for -l DIR
	Extra    []string // logs.paths: files or globs
}

// logGlobs lists the globs to read: the `log file` pattern (and its
// rotated ".old"), smbd's -l DIR (smbd then writes DIR/log.smbd whatever
// `log file` says, and the RPC helpers it starts inherit DIR; verified on
// 4.17), the compiled-in directory's smbd and RPC helper logs, and the
// configured extra paths.
func logGlobs(in logSourceInput) []string {
	var out []string
	add := func(g string) {
		if g != "" && !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	if lf := strings.TrimSpace(in.LogFile); lf != "" {
		p := logFilePattern(lf)
		add(p)
		if !strings.HasSuffix(p, "*") {
			add(p + ".old") // max log size rotation (lib/util/debug.c)
		}
	} else {
		add(filepath.Join(defaultLogDir, "log.smbd"))
	}
	if dir, ok := optionValue(in.SmbdArgs, 'l', "log-basename"); ok && dir != "" {
		add(filepath.Join(dir, "log.*"))
	}
	add(filepath.Join(defaultLogDir, "log.smbd"))
	add(filepath.Join(defaultLogDir, "log.samba-dcerpcd"))
	add(filepath.Join(defaultLogDir, "log.rpcd_*"))
	for _, e := range in.Extra {
		add(e)
	}
	return out
}

// logSource is one log file as it was when gathering started.
type logSource struct {
	Path    string
	Size    int64 // read up to here: lines written later are the probe's
	ModTime time.Time
}

// snapshotLogs expands the globs and records each regular file's size.
// Files not modified within since cannot hold a line that recent and are
// skipped; at most maxLogFiles, the most recently modified, are kept.
func snapshotLogs(globs []string, now time.Time, since time.Duration) ([]logSource, []string) {
	var errs []string
	seen := map[string]bool{}
	var out []logSource
	for _, g := range globs {
		matches, err := filepath.Glob(g)
		if err != nil {
			errs = append(errs, fmt.Sprintf("log glob %q: %v", g, err))
			continue
		}
		for _, m := range matches {
			m = filepath.Clean(m)
			if seen[m] {
				continue
			}
			seen[m] = true
			fi, err := os.Stat(m)
			if err != nil {
				if !os.IsNotExist(err) {
					errs = append(errs, fmt.Sprintf("stat %s: %v", m, err))
				}
				continue
			}
			if !fi.Mode().IsRegular() {
				continue
			}
			if since > 0 && fi.ModTime().Before(now.Add(-since)) {
				continue
			}
			out = append(out, logSource{Path: m, Size: fi.Size(), ModTime: fi.ModTime()})
		}
	}
	slices.SortStableFunc(out, func(a, b logSource) int { return b.ModTime.Compare(a.ModTime) })
	if len(out) > maxLogFiles {
		errs = append(errs, fmt.Sprintf("%d log files changed recently; read the %d most recent", len(out), maxLogFiles))
		out = out[:maxLogFiles]
	}
	slices.SortFunc(out, func(a, b logSource) int { return strings.Compare(a.Path, b.Path) })
	return out, errs
}

// ---- parsing ---------------------------------------------------------

// rawLine is one physical line of a log.
type rawLine struct {
	text     string
	off      int64     // byte offset in the file
	line     int       // 1-based line number; 0 when unknown
	fallback time.Time // time to use when the line has no timestamp (journal)
	pid      int       // journal _PID
}

// readLogTail reads src up to its snapshot size, at most maxBytes from the
// end. When it starts in the middle, the first (partial) line is dropped
// and line numbers are unknown.
func readLogTail(src logSource, maxBytes int64) ([]rawLine, error) {
	// A log path is named by smb.conf ("log file"), and its directory
	// may be writable by others: a FIFO planted there must not block the
	// open, nor a device be read, nor a symlink lead the agent (root) to
	// quote another file's lines as evidence. smbd creates its logs as
	// regular files.
	f, _, err := safefile.Open(src.Path, safefile.Options{NoFollow: true})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", src.Path, err)
	}
	defer f.Close()
	size := src.Size
	start := int64(0)
	if maxBytes > 0 && size > maxBytes {
		start = size - maxBytes
	}
	buf := make([]byte, size-start)
	n, err := f.ReadAt(buf, start)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read %s: %w", src.Path, err)
	}
	buf = buf[:n] // truncated since the snapshot: what is left
	return splitRawLines(buf, start), nil
}

// splitRawLines splits data read at offset start into lines.
func splitRawLines(buf []byte, start int64) []rawLine {
	var out []rawLine
	pos := 0
	lineNo := 1
	if start > 0 {
		lineNo = 0
		// Drop the partial first line unless the read starts right after
		// a newline (we cannot know; the partial line is at most one
		// message, and a header is never split across the boundary).
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			return nil
		}
		pos = i + 1
	}
	for pos < len(buf) {
		end := bytes.IndexByte(buf[pos:], '\n')
		var text []byte
		next := len(buf)
		if end >= 0 {
			text = buf[pos : pos+end]
			next = pos + end + 1
		} else {
			text = buf[pos:]
		}
		text = bytes.TrimRight(text, "\r")
		out = append(out, rawLine{text: string(text), off: start + int64(pos), line: lineNo})
		if lineNo > 0 {
			lineNo++
		}
		pos = next
	}
	return out
}

// logEntry is one debug message: a header and its message lines.
type logEntry struct {
	time   time.Time
	level  int // -1 when the format has none
	pid    int
	msg    string // message lines, trimmed, joined with "\n"
	line   int    // line of the header (or of the message for headerless formats)
	off    int64
	hasHdr bool
}

// parseLogHeader parses Samba's debug header (lib/util/debug.c
// dbghdrclass): "[2026/11/25 06:14:27.313435,  3] file.c:1106(fn)" or, with
// `debug hires timestamp = no`, "[2026/11/25 06:14:31,  3] ...", and with
// `debug pid/uid/class = yes` extra fields before "]". It returns the rest
// after "]" and whether the line is a header at all.
func parseLogHeader(s string, loc *time.Location) (t time.Time, level, pid int, rest string, ok bool) {
	// "[YYYY/MM/DD HH:MM:SS"
	if len(s) < 21 || s[0] != '[' || s[5] != '/' || s[8] != '/' || s[11] != ' ' || s[14] != ':' || s[17] != ':' {
		return
	}
	closeB := strings.IndexByte(s, ']')
	if closeB < 0 {
		return
	}
	inner := s[1:closeB]
	tsPart, after, found := strings.Cut(inner, ",")
	if !found {
		return
	}
	layout := "2006/01/02 15:04:05"
	if strings.Contains(tsPart, ".") {
		layout = "2006/01/02 15:04:05.999999999"
	}
	t, err := time.ParseInLocation(layout, strings.TrimSpace(tsPart), loc)
	if err != nil {
		return
	}
	fields := strings.Split(after, ",")
	level, err = strconv.Atoi(strings.TrimSpace(fields[0]))
	if err != nil {
		return
	}
	for _, f := range fields[1:] {
		if v, ok := strings.CutPrefix(strings.TrimSpace(f), "pid="); ok {
			pid, _ = strconv.Atoi(v)
		}
	}
	return t, level, pid, s[closeB+1:], true
}

// parseSyslogLine parses `debug syslog format = yes` lines:
// "2026-11-25T06:14:35.817905+00:00 host smbd[30153]:   message".
func parseSyslogLine(s string) (t time.Time, pid int, msg string, ok bool) {
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' {
		return
	}
	sp := strings.IndexByte(s, ' ')
	if sp < 0 {
		return
	}
	t, err := time.Parse(time.RFC3339Nano, s[:sp])
	if err != nil {
		return
	}
	rest := strings.TrimLeft(s[sp+1:], " ")
	// host, then "prog[pid]:"
	sp = strings.IndexByte(rest, ' ')
	if sp < 0 {
		return
	}
	rest = rest[sp+1:]
	colon := strings.Index(rest, ": ")
	if colon < 0 {
		if !strings.HasSuffix(rest, ":") {
			return
		}
		colon = len(rest) - 1
	}
	tag := rest[:colon]
	if i := strings.IndexByte(tag, '['); i >= 0 && strings.HasSuffix(tag, "]") {
		pid, _ = strconv.Atoi(tag[i+1 : len(tag)-1])
	}
	return t, pid, strings.TrimSpace(rest[colon+1:]), true
}

// isSourceLocation: the rest of a classic header, "../../source3/x.c:12(fn)".
func isSourceLocation(rest string) bool {
	r := strings.TrimSpace(rest)
	if r == "" {
		return true
	}
	if strings.ContainsAny(r, " \t") || !strings.HasSuffix(r, ")") {
		return false
	}
	i := strings.IndexByte(r, ':')
	return i > 0 && strings.IndexByte(r[i:], '(') > 0
}

// parseLogEntries groups lines into entries. It understands the classic
// two-line format, `debug prefix timestamp = yes` (header and message on
// one line), `debug syslog format = yes`, and `debug timestamp = no` (no
// header at all: every line is its own entry, with no time). In a file
// with headers, lines before the first one (the tail of a message cut by
// reading only the end of the file) are dropped. Journal lines (with a
// fallback time) attach to the previous header of the same process only.
func parseLogEntries(lines []rawLine, loc *time.Location) []logEntry {
	var out []logEntry
	cur := -1
	headed := false
	for _, rl := range lines {
		if rl.fallback.IsZero() && (strings.HasPrefix(rl.text, "[") || len(rl.text) > 10 && rl.text[10] == 'T') {
			if _, _, _, _, ok := parseLogHeader(rl.text, loc); ok {
				headed = true
				break
			}
			if _, _, _, ok := parseSyslogLine(rl.text); ok {
				headed = true
				break
			}
		}
	}
	for _, rl := range lines {
		s := rl.text
		if t, lvl, pid, rest, ok := parseLogHeader(s, loc); ok {
			if pid == 0 {
				pid = rl.pid
			}
			e := logEntry{time: t, level: lvl, pid: pid, line: rl.line, off: rl.off, hasHdr: true}
			if !isSourceLocation(rest) {
				e.msg = strings.TrimSpace(rest) // prefix-timestamp form
			}
			out = append(out, e)
			cur = len(out) - 1
			continue
		}
		if t, pid, msg, ok := parseSyslogLine(s); ok {
			out = append(out, logEntry{time: t.In(loc), level: -1, pid: pid, msg: msg, line: rl.line, off: rl.off, hasHdr: true})
			cur = len(out) - 1
			continue
		}
		msg := strings.TrimSpace(s)
		if msg == "" {
			continue
		}
		journal := !rl.fallback.IsZero()
		// Message lines of a header are indented (debug.c prints them after
		// "  "); an unindented line is a message of its own that was
		// written without a header, e.g. "smbd - Failed to load config
		// file!" and "Can't load X - run testparm to debug it", which
		// smbd prints before its debug settings are loaded.
		indented := s[0] == ' ' || s[0] == '\t'
		if cur >= 0 && out[cur].hasHdr && (out[cur].msg == "" || indented) && (!journal || rl.pid == out[cur].pid) {
			if out[cur].msg == "" {
				out[cur].msg = msg
				out[cur].line = rl.line
			} else {
				out[cur].msg += "\n" + msg
			}
			continue
		}
		if headed && !journal && cur < 0 {
			continue // the cut tail of a message before the first header
		}
		// Headerless: `debug timestamp = no`, a line written without a
		// header (it gets the time of the entry before it), or a journal
		// line.
		e := logEntry{time: rl.fallback, level: -1, pid: rl.pid, msg: msg, line: rl.line, off: rl.off}
		if !journal && cur >= 0 {
			e.time, e.pid = out[cur].time, out[cur].pid
		}
		out = append(out, e)
		cur = len(out) - 1
	}
	return out
}

// ---- evidence --------------------------------------------------------

// ipFromLogName gets the client address from a `log file = .../log.%m`
// name: before authentication %m is the client's IP (after it, the
// client's workstation name; observed on Samba 4.17.12).
func ipFromLogName(path string) string {
	base := filepath.Base(path)
	base = strings.TrimSuffix(base, ".old")
	i := strings.LastIndexByte(base, '.')
	if !strings.HasPrefix(base, "log.") || i < 0 {
		return ""
	}
	cand := strings.TrimPrefix(base, "log.")
	if ip := net.ParseIP(cand); ip != nil {
		return ip.String()
	}
	return ""
}

// clientIPFromMsg finds a client address in a message: Samba's auth_audit
// "remote host [ipv4:127.0.0.1:38564]", lib/util/access.c's "Denied
// connection from NAME (IP)", or smbd_add_connection's "Connection denied
// from ipv4:IP:PORT to ...".
func clientIPFromMsg(msg string) string {
	if i := strings.Index(msg, "remote host ["); i >= 0 {
		rest := msg[i+len("remote host ["):]
		if j := strings.IndexByte(rest, ']'); j >= 0 {
			if ip := tsocketAddrIP(rest[:j]); ip != "" {
				return ip
			}
		}
	}
	if i := strings.Index(msg, "connection from "); i >= 0 {
		rest := msg[i+len("connection from "):]
		if a, b := strings.IndexByte(rest, '('), strings.IndexByte(rest, ')'); a >= 0 && b > a {
			if ip := net.ParseIP(strings.TrimSpace(rest[a+1 : b])); ip != nil {
				return ip.String()
			}
		}
		if f := strings.Fields(rest); len(f) > 0 {
			if ip := net.ParseIP(f[0]); ip != nil {
				return ip.String()
			}
		}
	}
	if i := strings.Index(msg, " from ipv"); i >= 0 {
		if f := strings.Fields(msg[i+len(" from "):]); len(f) > 0 {
			return tsocketAddrIP(f[0])
		}
	}
	return ""
}

// tsocketAddrIP reads a tsocket address string, "ipv4:127.0.0.1:38564" or
// "ipv6:::1:445" (lib/tsocket/tsocket_bsd.c: the port after the last
// colon).
func tsocketAddrIP(a string) string {
	for _, pfx := range []string{"ipv4:", "ipv6:"} {
		if v, ok := strings.CutPrefix(a, pfx); ok {
			if k := strings.LastIndexByte(v, ':'); k > 0 {
				v = v[:k]
			}
			if ip := net.ParseIP(v); ip != nil {
				return ip.String()
			}
		}
	}
	return ""
}

// bracketAfter returns the text in [...] after key ("status [X]" → X).
func bracketAfter(msg, key string) string {
	i := strings.Index(msg, key)
	if i < 0 {
		return ""
	}
	rest := msg[i+len(key):]
	rest = strings.TrimLeft(rest, " ")
	if !strings.HasPrefix(rest, "[") {
		return ""
	}
	j := strings.IndexByte(rest, ']')
	if j < 0 {
		return ""
	}
	return rest[1:j]
}

// authDetails extracts the user and NT status of an auth line.
func authDetails(kind, msg string) (user, status string) {
	switch {
	case kind == checks.LogAuthFailure && strings.Contains(msg, "Auth: ["):
		// auth/auth_log.c: "... user [DOMAIN]\[name] at [...] with [NTLMv2]
		// status [NT_STATUS_X] workstation [...] remote host [...]"
		if i := strings.Index(msg, " user ["); i >= 0 {
			rest := msg[i+len(" user ["):]
			if j := strings.Index(rest, "]\\["); j >= 0 {
				rest = rest[j+3:]
			}
			if k := strings.IndexByte(rest, ']'); k >= 0 {
				user = rest[:k]
			}
		}
		status = bracketAfter(msg, "status")
	case kind == checks.LogAuthFailure:
		// "check_ntlm_password:  Authentication for user [u] -> [m] FAILED
		// with error NT_STATUS_X, authoritative=1"
		user = bracketAfter(msg, "for user")
		if i := strings.Index(msg, "FAILED with error "); i >= 0 {
			f := strings.FieldsFunc(msg[i+len("FAILED with error "):], func(r rune) bool { return r == ',' || r == ' ' })
			if len(f) > 0 {
				status = f[0]
			}
		}
	case kind == checks.LogNTLMv1Refused:
		// "ntlm_password_check: NTLMv1 passwords NOT PERMITTED for user u"
		if i := strings.Index(msg, "for user "); i >= 0 {
			if f := strings.Fields(msg[i+len("for user "):]); len(f) > 0 {
				user = f[0]
			}
		}
	case kind == checks.LogAccountDisabled:
		if i := strings.Index(msg, "user '"); i >= 0 {
			rest := msg[i+len("user '"):]
			if j := strings.IndexByte(rest, '\''); j >= 0 {
				user = rest[:j]
			}
		}
		status = "NT_STATUS_ACCOUNT_DISABLED"
	}
	return user, status
}

// logScan accumulates evidence over every source.
type logScan struct {
	since  time.Time // lines before are ignored (zero: keep all)
	lines  []checks.LogLine
	offers []checks.ClientOffer
}

// offerGroup is one negotiation being read: consecutive "Requested
// protocol" entries of one process (debug pid) or one file.
type offerGroup struct {
	offer checks.ClientOffer
	last  time.Time
}

// scan classifies the entries of one source. fileIP is the client IP the
// file name gives (log.<ip>), used when a line names none.
func (s *logScan) scan(file string, entries []logEntry, fileIP string) {
	groups := map[int]*offerGroup{}
	attempts := authAttempts{}
	for _, e := range entries {
		if !e.time.IsZero() && !s.since.IsZero() && e.time.Before(s.since) {
			continue
		}
		// Classify and show the first line only: level 2 follows each
		// "Auth:" line with its JSON form as an indented continuation.
		first, _, _ := strings.Cut(e.msg, "\n")
		kind := classifyLog(first)
		if kind == "" {
			if strings.Contains(first, "Selected protocol ") {
				delete(groups, e.pid) // negotiation succeeded
			}
			continue
		}
		ip := clientIPFromMsg(first)
		if ip == "" {
			ip = fileIP
		}
		ll := checks.LogLine{File: file, Line: e.line, Time: e.time, Kind: kind, ClientIP: ip, Text: first, Offset: e.off}
		ll.User, ll.Status = authDetails(kind, first)
		if kind == checks.LogAuthFailure && (ll.Status == "NT_STATUS_OK" || ll.Status == "") && strings.Contains(first, "Auth: [") {
			continue // a successful authentication (auth_audit:3+)
		}
		if kind == checks.LogAuthFailure {
			if i, same := attempts.match(e.pid, ll, len(s.lines)); same {
				// The auth_audit line of an attempt already counted by its
				// check_ntlm_password line: it replaces that line, as it
				// names the client's address.
				s.lines[i] = ll
				continue
			}
		}
		s.lines = append(s.lines, ll)

		switch kind {
		case checks.LogNegotiateOffer:
			d := bracketAfter(first, "Requested protocol")
			g := groups[e.pid]
			if g != nil && (slices.Contains(g.offer.Dialects, d) || e.time.Sub(g.last) > offerGroupTimeout) {
				g = nil // a new negotiation: the previous one ended unseen
			}
			if g == nil {
				g = &offerGroup{offer: checks.ClientOffer{ClientIP: ip, Time: e.time, File: file, Line: e.line, Offset: e.off, Dialects: []string{}}}
				groups[e.pid] = g
			}
			g.offer.Dialects = append(g.offer.Dialects, d)
			g.last = e.time
		case checks.LogNoProtocol:
			o := checks.ClientOffer{ClientIP: ip, Time: e.time, File: file, Line: e.line, Offset: e.off, Dialects: []string{}}
			if g := groups[e.pid]; g != nil && e.time.Sub(g.last) <= offerGroupTimeout {
				o = g.offer
				if o.ClientIP == "" {
					o.ClientIP = ip
				}
			}
			delete(groups, e.pid)
			o.NoProtocol = true
			s.offers = append(s.offers, o)
		}
	}
}

// authAttemptWindow bounds how far apart the two lines smbd writes for
// one failed login can be; it writes them from the same call chain, a few
// microseconds apart.
const authAttemptWindow = time.Second

// authAttempts pairs the two lines smbd writes for one failed login when
// both debug classes are at level 2 or above ("log level = 2" and up):
// "check_ntlm_password: ... FAILED with error NT_STATUS_X" (class auth,
// source3/auth/auth.c auth_check_ntlm_password) and then "Auth: [...] user
// [D]\[u] ... status [NT_STATUS_X]" (class auth_audit,
// auth/auth_log.c log_authentication_event_human_readable). Each release
// writes the Auth line at auth_audit:2 and the check_ntlm_password line at
// auth:2, so a count of lines would double with the log level; pairing
// them makes the count of auth-failure lines the count of failed logins
// at every level.
type authAttempts struct {
	// pending holds, per smbd process, the check_ntlm_password lines
	// not yet paired, oldest first (a connection's logins are sequential,
	// but one file interleaves connections when no pid is known).
	pending map[int][]pendingAuth
}

type pendingAuth struct {
	index int // in logScan.lines
	line  checks.LogLine
}

// match records ll, an auth-failure line about to be appended at index
// next. For an Auth line that completes a pending check_ntlm_password
// line of the same process, user and status, it returns that line's index
// and true: the caller replaces the line instead of adding one.
func (a *authAttempts) match(pid int, ll checks.LogLine, next int) (int, bool) {
	if a.pending == nil {
		a.pending = map[int][]pendingAuth{}
	}
	if !strings.Contains(ll.Text, "Auth: [") {
		a.pending[pid] = append(a.pending[pid], pendingAuth{index: next, line: ll})
		return 0, false
	}
	q := a.pending[pid]
	for j, p := range q {
		if sameAuthAttempt(p.line, ll) {
			a.pending[pid] = append(q[:j:j], q[j+1:]...)
			return p.index, true
		}
	}
	return 0, false
}

// sameAuthAttempt: check is a check_ntlm_password line, audit the Auth
// line that may follow it for the same login.
func sameAuthAttempt(check, audit checks.LogLine) bool {
	if !strings.EqualFold(check.User, audit.User) || check.Status != audit.Status {
		return false
	}
	if check.Time.IsZero() || audit.Time.IsZero() {
		return true // `debug timestamp = no`: order alone pairs them
	}
	d := audit.Time.Sub(check.Time)
	return d >= 0 && d <= authAttemptWindow
}

// finish sorts by time and keeps the most recent lines of each kind.
func (s *logScan) finish() ([]checks.LogLine, []checks.ClientOffer) {
	slices.SortStableFunc(s.lines, func(a, b checks.LogLine) int { return a.Time.Compare(b.Time) })
	count := map[string]int{}
	keep := make([]bool, len(s.lines))
	for i := len(s.lines) - 1; i >= 0; i-- {
		k := s.lines[i].Kind
		if count[k] < maxLinesPerKind {
			keep[i] = true
			count[k]++
		}
	}
	lines := []checks.LogLine{}
	for i, l := range s.lines {
		if keep[i] {
			lines = append(lines, l)
		}
	}
	slices.SortStableFunc(s.offers, func(a, b checks.ClientOffer) int { return a.Time.Compare(b.Time) })
	offers := s.offers
	if len(offers) > maxOffers {
		offers = offers[len(offers)-maxOffers:]
	}
	if offers == nil {
		offers = []checks.ClientOffer{}
	}
	return lines, offers
}

// ---- journal ---------------------------------------------------------

// journalEntry is the part of `journalctl -o json` the agent reads.
type journalEntry struct {
	Message  json.RawMessage `json:"MESSAGE"`
	Realtime string          `json:"__REALTIME_TIMESTAMP"`
	PID      string          `json:"_PID"`
}

// parseJournalJSON turns `journalctl -o json` output (one object a line)
// into raw lines. MESSAGE is a string, or an array of bytes when it is not
// valid UTF-8 (journalctl(1), JSON output).
func parseJournalJSON(data []byte) ([]rawLine, error) {
	var out []rawLine
	bad := 0
	for _, l := range bytes.Split(data, []byte("\n")) {
		l = bytes.TrimSpace(l)
		if len(l) == 0 {
			continue
		}
		var je journalEntry
		if err := json.Unmarshal(l, &je); err != nil {
			bad++
			continue
		}
		var msg string
		if err := json.Unmarshal(je.Message, &msg); err != nil {
			var bs []byte
			var arr []int
			if err := json.Unmarshal(je.Message, &arr); err != nil {
				continue
			}
			for _, b := range arr {
				bs = append(bs, byte(b))
			}
			msg = string(bs)
		}
		var t time.Time
		if us, err := strconv.ParseInt(je.Realtime, 10, 64); err == nil {
			t = time.UnixMicro(us)
		}
		pid, _ := strconv.Atoi(je.PID)
		for _, part := range strings.Split(msg, "\n") {
			out = append(out, rawLine{text: part, fallback: t, pid: pid})
		}
	}
	if bad > 0 {
		return out, fmt.Errorf("%d journal line(s) were not JSON", bad)
	}
	return out, nil
}

// ---- the gatherer ----------------------------------------------------

// logInput is what the log gatherer needs.
type logInput struct {
	Sources  []logSource // snapshot taken before the probes ran
	Started  time.Time   // when gathering started (journal --until)
	Since    time.Duration
	MaxBytes int64
	Level    logLevelInput
	Journal  bool // read the journal when no file has evidence
	// NoJournal reports that the host keeps no journal files at all, so
	// that journalctl (a process start, a few ms of CPU next to the probe)
	// is not run to read nothing; nil runs it.
	NoJournal func() bool
	Run       func(ctx context.Context, name string, args ...string) ([]byte, error)
	LookPath  func(string) (string, error)
	Loc       *time.Location
}

// gatherLogs reads the snapshot's files and, when they hold no evidence
// and the journal is enabled, smbd's journal.
func gatherLogs(ctx context.Context, in logInput) checks.LogFacts {
	out := checks.LogFacts{Sources: []string{}}
	out.Level, out.LevelSource = effectiveLogLevels(in.Level)
	loc := in.Loc
	if loc == nil {
		loc = time.Local // smbd stamps its log with local time (debug.c: timeval_str_buf, utc=false)
	}
	var errs []string
	sc := &logScan{}
	if in.Since > 0 {
		sc.since = in.Started.Add(-in.Since)
	}
	for _, src := range in.Sources {
		if ctx.Err() != nil {
			errs = append(errs, fmt.Sprintf("stopped reading logs: %v", ctx.Err()))
			break
		}
		lines, err := readLogTail(src, in.MaxBytes)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		out.Sources = append(out.Sources, src.Path)
		sc.scan(src.Path, parseLogEntries(lines, loc), ipFromLogName(src.Path))
	}
	if len(sc.lines) == 0 && len(sc.offers) == 0 && in.Journal && ctx.Err() == nil {
		jl, jerr := readJournal(ctx, in)
		if jerr != nil && !errors.Is(jerr, errNoJournalctl) {
			errs = append(errs, jerr.Error())
		}
		if jerr == nil || len(jl) > 0 {
			out.Sources = append(out.Sources, "journal")
		}
		if len(jl) > 0 {
			sc.scan("journal", parseLogEntries(jl, loc), "")
		}
	}
	out.Lines, out.Offers = sc.finish()
	if len(errs) > 0 {
		out.Err = strings.Join(errs, "; ")
	}
	return out
}

var errNoJournalctl = errors.New("journalctl not installed")

// journalDirs are where journald keeps the system journal, the files
// journalctl reads by default (journalctl(1), systemd-journald(8)):
// DIR/MACHINE-ID/*.journal.
var journalDirs = []string{"/run/log/journal", "/var/log/journal"}

// noJournalFiles reports that no journal file exists in dirs. Anything it
// cannot read counts as a journal, so that journalctl decides.
func noJournalFiles(dirs []string) bool {
	for _, d := range dirs {
		ents, err := os.ReadDir(d)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return false
		}
		for _, e := range ents {
			if isJournalFile(e.Name()) {
				return false
			}
			if !e.IsDir() {
				continue
			}
			sub, err := os.ReadDir(filepath.Join(d, e.Name()))
			if err != nil {
				return false
			}
			for _, f := range sub {
				if isJournalFile(f.Name()) {
					return false
				}
			}
		}
	}
	return true
}

func isJournalFile(name string) bool {
	return strings.HasSuffix(name, ".journal") || strings.HasSuffix(name, ".journal~")
}

// readJournal runs journalctl for smbd's units over the same window,
// ending when gathering started (the probes come after).
func readJournal(ctx context.Context, in logInput) ([]rawLine, error) {
	if _, err := in.LookPath("journalctl"); err != nil {
		return nil, errNoJournalctl
	}
	if in.NoJournal != nil && in.NoJournal() {
		return nil, nil // read: it is empty
	}
	args := []string{"-u", "smbd", "-u", "samba", "-o", "json", "--no-pager", "-q",
		"-n", strconv.Itoa(journalMaxEntries),
		"--until=@" + strconv.FormatInt(in.Started.Unix(), 10)}
	if in.Since > 0 {
		args = append(args, "--since=@"+strconv.FormatInt(in.Started.Add(-in.Since).Unix(), 10))
	}
	data, err := in.Run(ctx, "journalctl", args...)
	if err != nil {
		return nil, fmt.Errorf("read the journal: %w", err)
	}
	lines, err := parseJournalJSON(data)
	if err != nil {
		return lines, fmt.Errorf("read the journal: %w", err)
	}
	return lines, nil
}

const (
	logSnapshotName = "the log files"
	logsName        = "the logs"
)

// logSnapshotGatherer finds smbd's log files and notes their sizes
// (snapshotLogs): logsGatherer reads them only up to there.
type logSnapshotGatherer struct{}

func (logSnapshotGatherer) Name() string                  { return logSnapshotName }
func (logSnapshotGatherer) Deadline(e *env) time.Duration { return e.localBudget }
func (logSnapshotGatherer) Failed(*checks.Facts, string)  {}

func (logSnapshotGatherer) Gather(_ context.Context, e *env) (func(*checks.Facts), error) {
	var args []string
	if e.master != nil {
		args = e.master.Args
	}
	globs := logGlobs(logSourceInput{LogFile: e.params.LogFile, SmbdArgs: args, Extra: e.Config.Logs.Paths})
	sources, errs := snapshotLogs(globs, e.started, e.Config.Logs.Since)
	// What could not be listed is part of the logs' own error
	// (logsGatherer), next to what could not be read.
	return func(*checks.Facts) { e.logSources, e.logSrcErrs = sources, errs }, nil
}

// logsGatherer reads the snapshot's files and, when they hold no evidence
// and the journal is enabled, smbd's journal (gatherLogs).
type logsGatherer struct{}

func (logsGatherer) Name() string                  { return logsName }
func (logsGatherer) Deadline(e *env) time.Duration { return e.untilEnd() }
func (logsGatherer) Failed(f *checks.Facts, why string) {
	f.Logs = checks.LogFacts{Sources: []string{}, Lines: []checks.LogLine{}, Offers: []checks.ClientOffer{}, Err: why}
}

func (logsGatherer) Gather(ctx context.Context, e *env) (func(*checks.Facts), error) {
	var masterArgs []string
	if e.master != nil {
		masterArgs = e.master.Args
	}
	lf := gatherLogs(ctx, logInput{
		Sources:  e.logSources,
		Started:  e.started,
		Since:    e.Config.Logs.Since,
		MaxBytes: e.Config.Logs.MaxBytes,
		Level: logLevelInput{
			SmbdArgs: masterArgs,
			Conf:     e.params.LogLevel,
			ConfSet:  e.params.LogLevelSet,
			ConfAt:   e.params.LogLevelAt,
		},
		Journal:   e.Config.Logs.Journal,
		NoJournal: func() bool { return noJournalFiles(journalDirs) },
		Run:       e.run,
		LookPath:  e.LookPath,
	})
	if len(e.logSrcErrs) > 0 {
		lf.Err = strings.TrimSuffix(strings.Join(append(slices.Clone(e.logSrcErrs), lf.Err), "; "), "; ")
	}
	return func(f *checks.Facts) { f.Logs = lf }, errIf(lf.Err)
}
