package smbconf

// Loading follows source3/param/loadparm.c lp_load_ex() as testparm runs
// it (lp_load_with_registry_shares): defaults, then the file through
// tini.c (Lex) into lp_do_section/do_parameter, the post-processing of the
// last share, then auto services, set_allowed_client_auth and the AD DC
// settings. State that Samba keeps in globals (bInGlobalSection,
// iServiceIndex, include_depth) lives in loader.

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/smb-agent/smb-agent/configs/safefile"
)

// DefaultMaxFileSize limits each file read, and all files of one load
// together, unless LoadOptions.MaxFileSize says otherwise. Real smb.conf
// files are kilobytes; a 15,000-line configuration is under 1 MiB.
const DefaultMaxFileSize int64 = 16 << 20

// Bounds on what one load builds, across smb.conf and all its includes.
// Samba has none, but every share costs the model about 2 KB (a slot
// pointer per local parameter) and every line a few hundred bytes: a
// 6 MB file of 600,000 "[sN]" lines would take over a gigabyte. The
// limits sit far above any real configuration (the 1,000-share bench
// file has 1,001 sections and about 15,000 lines) and are checked by a
// scan of each file before it is parsed, so the failure itself costs one
// pass over the bytes and no allocation.
const (
	MaxSections = 50_000
	MaxLines    = 500_000
)

// maxIncludeDepth is MAX_INCLUDE_DEPTH of source3/param/loadparm.c.
const maxIncludeDepth = 100

// LoadOptions tune Load and Parse.
type LoadOptions struct {
	// WorkDir resolves relative "include =" paths, as the smbd or
	// testparm process's current directory does; "" means os.Getwd.
	WorkDir string
	// Version picks the defaults of that Samba release for the
	// parameters that decide reachability; zero means the generated
	// table's version.
	Version SambaVersion
	// MaxFileSize limits each file and the total read; 0 means
	// DefaultMaxFileSize.
	MaxFileSize int64
	// Hostname is used for the "netbios name" default and for %h/%L in
	// include paths; "" means os.Hostname.
	Hostname string
}

// errReported stops processing after a problem already recorded.
var errReported = errors.New("reported")

// refusedError is an input the agent refuses to read (a FIFO, a bound
// exceeded), as opposed to a line Samba refuses: the load fails with
// LoadError.Refused.
type refusedError struct{ msg string }

func (e refusedError) Error() string { return e.msg }

type loader struct {
	c        *Config
	workDir  string
	inGlobal bool
	cur      *service
	depth    int
	chain    []string // include chain, for loop detection
	total    int64
	max      int64
	lines    int // physical lines read, for MaxLines
	sections int // section header lines read, for MaxSections
	cache    map[string][]Line
	binary   map[string]int // files that look binary: offset of the first control byte
	// refused is set when an input is refused rather than parsed (not
	// a regular file, over a bound, not smb.conf-like): bad input to the
	// agent, not a configuration Samba would refuse.
	refused bool
	// overlay, when set, is read instead of the disk for the files it
	// holds (the editor's verification); tracing records every section
	// and assignment line in trace.
	overlay map[string][]byte
	tracing bool
	trace   []traceLine
	// assigns and slots are slabs the loader takes its records from: one
	// allocation per few hundred lines instead of one or two per line,
	// which is most of the allocator's work on a big file. A slab is
	// never grown in place, so the pointers handed out stay valid.
	assigns  []assign
	slots    []slot
	svcSlab  []service
	ownSlab  []ownSlot
	flagSlab []bool
	// sdShared is set while a share's base is the defaults' array
	// (Config.sd): it must then be copied before it is written.
	sdShared bool
	// names remembers the parameter each recently seen spelling named.
	names [64]nameEntry
}

// nameEntry is a spelling of a parameter name and the parameter.
type nameEntry struct {
	name string
	p    *Param
}

// lookupParam is Config.LookupParam through a small cache of spellings:
// a big file repeats the same dozen names in every share, and comparing
// the spelling with the one cached is cheaper than building its key and
// hashing it. The answer for a spelling never changes during a load.
func (l *loader) lookupParam(name string) (*Param, bool) {
	if name == "" {
		return l.c.LookupParam(name)
	}
	n := len(name)
	e := &l.names[(n*131+int(name[0])*31+int(name[n/2])*7+int(name[n-1]))&(len(l.names)-1)]
	if e.p != nil && e.name == name {
		return e.p, true
	}
	p, ok := l.c.LookupParam(name)
	if ok {
		*e = nameEntry{name: name, p: p}
	}
	return p, ok
}

const slabSize = 256

// svcSlabSize is how many shares one slab of share records holds.
const svcSlabSize = 32

func (l *loader) newAssign(a assign) *assign {
	if len(l.assigns) == cap(l.assigns) {
		l.assigns = make([]assign, 0, slabSize)
	}
	l.assigns = append(l.assigns, a)
	return &l.assigns[len(l.assigns)-1]
}

// newService, newSlotPtrs and newFlags take a share's record and its
// per-parameter arrays from slabs too: a share costs three allocations
// per slab of shares instead of three of its own. Each array is cut with
// its capacity equal to its length, so an append can never run into the
// next share's.
func (l *loader) newService() *service {
	if len(l.svcSlab) == cap(l.svcSlab) {
		l.svcSlab = make([]service, 0, svcSlabSize)
	}
	l.svcSlab = l.svcSlab[:len(l.svcSlab)+1]
	return &l.svcSlab[len(l.svcSlab)-1]
}

// newOwn is an empty list of own slots with room for ownSlabCap; a share
// that sets more grows its own list.
func (l *loader) newOwn() []ownSlot {
	if len(l.ownSlab)+ownSlabCap > cap(l.ownSlab) {
		l.ownSlab = make([]ownSlot, 0, svcSlabSize*ownSlabCap)
	}
	i := len(l.ownSlab)
	l.ownSlab = l.ownSlab[:i+ownSlabCap]
	return l.ownSlab[i : i : i+ownSlabCap]
}

// ownSlabCap is the room newOwn gives a share: a typical share sets a
// dozen parameters.
const ownSlabCap = 16

func (l *loader) newFlags(n int) []bool {
	if len(l.flagSlab)+n > cap(l.flagSlab) {
		l.flagSlab = make([]bool, 0, max(n, svcSlabSize*n))
	}
	i := len(l.flagSlab)
	l.flagSlab = l.flagSlab[:i+n]
	return l.flagSlab[i : i+n : i+n]
}

func (l *loader) newSlot(v val, a *assign) *slot {
	if len(l.slots) == cap(l.slots) {
		l.slots = make([]slot, 0, slabSize)
	}
	l.slots = append(l.slots, slot{v: v, a: a})
	return &l.slots[len(l.slots)-1]
}

// traceLine is one section or assignment line as the loader processed
// it, with the section in effect (index into Config.svcs; -1: [global]).
type traceLine struct {
	file  string
	idx   int    // index in the lexed lines of file
	param *Param // for an assignment: the parameter (nil: unknown, parametric)
	ctx   int    // section the line is read in (for a header: the one it opens)
	after int    // section in effect after the line (an include may change it)
	nsvcs int    // shares opened after the line
}

// context is the section in effect: -1 for [global].
func (l *loader) context() int {
	if l.inGlobal || l.cur == nil {
		return -1
	}
	return l.cur.idx
}

// Load reads smb.conf at path the way testparm reads it. The error is a
// *LoadError for anything that makes the configuration unusable: the file
// is missing, a directory, unreadable, too large or binary, or Samba would
// refuse to load it (an invalid enum or boolean value, a '[' line without
// ']', an include loop, ...). When the files could be read, a partial
// Config is returned with the error, with the problems in Config.Fatal.
func Load(path string, opts LoadOptions) (*Config, error) {
	l, err := newLoader(path, opts)
	if err != nil {
		return nil, err
	}
	src, lerr := l.readFile(path, path)
	if lerr != nil {
		return nil, lerr
	}
	return l.run(path, src)
}

// Parse is Load for a configuration already in memory; name is used in
// origins and messages. Includes are read from disk.
func Parse(src []byte, name string, opts LoadOptions) (*Config, error) {
	l, err := newLoader(name, opts)
	if err != nil {
		return nil, err
	}
	if int64(len(src)) > l.max {
		return nil, &LoadError{File: name, Msg: fmt.Sprintf("file too large (%d bytes; the limit is %d)", len(src), l.max)}
	}
	// Keep a copy: the editor's FileChange.Before must be the bytes as
	// read, whatever the caller does with src later.
	src = append([]byte(nil), src...)
	if lerr := l.account(name, src); lerr != nil {
		return nil, lerr
	}
	l.noteBinary(name, src)
	l.total = int64(len(src))
	return l.run(name, src)
}

func newLoader(path string, opts LoadOptions) (*loader, error) {
	wd := opts.WorkDir
	if wd == "" {
		var err error
		if wd, err = os.Getwd(); err != nil {
			return nil, &LoadError{File: path, Msg: fmt.Sprintf("current directory: %v", err)}
		}
	}
	host := opts.Hostname
	if host == "" {
		host, _ = os.Hostname()
	}
	max := opts.MaxFileSize
	if max <= 0 {
		max = DefaultMaxFileSize
	}
	d := getDefaults(opts.Version, host)
	c := &Config{
		version:  d.version,
		opts:     LoadOptions{WorkDir: wd, Version: opts.Version, MaxFileSize: max, Hostname: host},
		srcs:     map[string][]byte{},
		path:     path,
		hostname: host,
		loadedAt: time.Now(),
		pid:      os.Getpid(),
		environ:  os.Environ(),
		dflt:     d,
		byName:   map[string]*service{},
	}
	c.reset()
	return &loader{c: c, workDir: wd, max: max, cache: map[string][]Line{}, binary: map[string]int{}, inGlobal: true}, nil
}

// reset is init_globals + lp_save_defaults: every value at its default,
// every flag "default", and the "idmap config * : backend" option that
// lp_load_ex always sets.
func (c *Config) reset() {
	d := c.dflt
	c.g = make([]*slot, len(d.g))
	for i, v := range d.g {
		c.g[i] = &slot{v: v}
	}
	c.sd = make([]*slot, len(d.l))
	for i, v := range d.l {
		c.sd[i] = &slot{v: v}
	}
	c.gDef = make([]bool, len(d.g))
	for i := range c.gDef {
		c.gDef[i] = true
	}
	c.sdDef = make([]bool, len(d.l))
	for i := range c.sdDef {
		c.sdDef[i] = true
	}
	// testparm runs lp_set_cmdline("log level", "1"): the parameter is
	// FLAG_CMDLINE, never FLAG_DEFAULT, and smb.conf cannot change it.
	if p, ok := c.LookupParam("log level"); ok {
		c.gDef[p.slot] = false
	}
	c.gopts = nil
	idmap := c.g[c.mustParam("idmap backend").slot].v.s
	c.gopts.set("idmap config * : backend", idmap,
		&assign{o: Origin{Note: "set by Samba from idmap backend (lp_load_ex)"}, raw: idmap})
}

// LookupParam finds a parameter in the table of the Samba release the
// configuration was loaded for, by any spelling that release accepts.
func (c *Config) LookupParam(name string) (*Param, bool) { return c.table().lookup(name) }

// mustParam is a parameter every Samba 4 table has.
func (c *Config) mustParam(name string) *Param { return c.table().must(name) }

// tableSince reports whether the configuration's table comes from release
// major.minor or later: behaviour that changed between releases follows
// the release whose testparm the table was generated from.
func (c *Config) tableSince(major, minor int) bool {
	return seriesCmp(c.table().release, SambaVersion{Major: major, Minor: minor}) >= 0
}

// table is the configuration's parameter table; a Config that was never
// loaded has the default one.
func (c *Config) table() *tableInfo {
	if c == nil || c.dflt == nil || c.dflt.tab == nil {
		return params()
	}
	return c.dflt.tab
}

func (l *loader) run(name string, src []byte) (*Config, error) {
	c := l.c
	c.files = append(c.files, name)
	l.chain = append(l.chain, absPath(l.workDir, name))
	ok := l.process(name, src)
	l.finish(ok)
	for i := range c.Fatal {
		if off, bin := l.binary[c.Fatal[i].File]; bin {
			c.Fatal[i].Msg = fmt.Sprintf("binary data, not an smb.conf file (control bytes from byte %d); %s", off, c.Fatal[i].Msg)
		}
	}
	if len(c.Fatal) > 0 {
		f := c.Fatal[0]
		return c, &LoadError{File: f.File, Line: f.Line, Msg: f.Msg, Refused: l.refused}
	}
	return c, nil
}

func absPath(wd, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(wd, p)
}

// readFile reads one file under the size limits. display names the file in
// messages. The open cannot block (a FIFO is refused, not waited on) and
// the type is checked on the open descriptor: see configs/safefile.
func (l *loader) readFile(path, display string) ([]byte, *LoadError) {
	fail := func(format string, args ...any) ([]byte, *LoadError) {
		return nil, &LoadError{File: display, Msg: fmt.Sprintf(format, args...)}
	}
	refuse := func(format string, args ...any) ([]byte, *LoadError) {
		l.refused = true
		return nil, &LoadError{File: display, Msg: fmt.Sprintf(format, args...), Refused: true}
	}
	o := safefile.Options{AllowDevNull: true, MaxSize: l.max - l.total, Timeout: safefile.DefaultReadTimeout}
	f, fi, err := safefile.Open(path, safefile.Options{AllowDevNull: true})
	var nr *safefile.NotRegularError
	switch {
	case errors.As(err, &nr) && nr.Kind == "a directory":
		return fail("is a directory, not an smb.conf file")
	case errors.As(err, &nr):
		return refuse("is %s, not a regular file; refusing to read it", nr.Kind)
	case errors.Is(err, fs.ErrNotExist):
		return fail("no such file")
	case errors.Is(err, fs.ErrPermission):
		return fail("permission denied")
	case err != nil:
		return fail("%v", safefile.Cause(err))
	}
	defer f.Close()
	switch {
	case fi.Size() > l.max:
		return refuse("file too large (%d bytes; the limit is %d)", fi.Size(), l.max)
	case l.total+fi.Size() > l.max:
		return refuse("configuration too large: with this file %d bytes are read in all (the limit is %d)", l.total+fi.Size(), l.max)
	}
	src, err := safefile.ReadAll(f, path, o)
	var tl *safefile.TooLargeError
	switch {
	case errors.As(err, &tl):
		return refuse("file too large (more than %d bytes)", l.max-l.total)
	case err != nil:
		return refuse("%v", safefile.Cause(err))
	}
	if lerr := l.account(display, src); lerr != nil {
		return nil, lerr
	}
	l.noteBinary(display, src)
	l.total += int64(len(src))
	return src, nil
}

// account adds a file's lines and section headers to the load's totals
// and refuses the file when a bound is passed. The scan is one pass with
// no allocation; it may count a few lines a parse would not (a '[' after a
// continuation), which only makes the bound stricter by as much.
func (l *loader) account(display string, src []byte) *LoadError {
	lines, sections := scanCounts(src)
	l.lines += lines
	l.sections += sections
	var msg string
	switch {
	case l.sections > MaxSections:
		msg = fmt.Sprintf("too many sections: more than %d section headers in this configuration; refusing to parse it", MaxSections)
	case l.lines > MaxLines:
		msg = fmt.Sprintf("too many lines: more than %d lines in this configuration; refusing to parse it", MaxLines)
	default:
		return nil
	}
	l.refused = true
	return &LoadError{File: display, Msg: msg, Refused: true}
}

// scanCounts counts physical lines and lines whose first non-blank byte
// is '['.
func scanCounts(src []byte) (lines, sections int) {
	// Line by line: bytes.IndexByte finds each end of line many bytes
	// at a time, and only the first bytes of a line are looked at.
	for i := 0; i < len(src); {
		for i < len(src) && (src[i] == ' ' || src[i] == '\t' || src[i] == '\r') {
			i++
		}
		if i < len(src) && src[i] == '[' {
			sections++
		}
		j := bytes.IndexByte(src[i:], '\n')
		if j < 0 {
			break
		}
		lines++
		i += j + 1
	}
	if len(src) > 0 && src[len(src)-1] != '\n' {
		lines++
	}
	return lines, sections
}

// smbConfLike says whether a file's first line that is not a comment or
// blank is a section header or a "name = value" line (a BOM before it
// allowed). Anything else (a password, a key, /etc/shadow) is refused
// without quoting a byte of it: the warnings for unparsable lines would
// otherwise show the file's content.
func smbConfLike(z *lexer) bool {
	const bom = "\xef\xbb\xbf"
	var ln Line
	for i := 0; z.next(&ln); i++ {
		switch ln.Kind {
		case LineSection, LineBadSection, LineParam, LineEmptyName:
			return true
		case LineNoEquals:
			// A BOM hides the first line from tini.c: "BOM[global]"
			// is smb.conf-like; "BOM# comment" is a comment, and the
			// next line decides.
			rest, hadBOM := strings.CutPrefix(ln.Text, bom)
			rest = strings.TrimLeft(rest, " \t")
			switch {
			case !hadBOM || i > 0:
				return false
			case strings.HasPrefix(rest, "["):
				return true
			case rest == "" || rest[0] == '#' || rest[0] == ';':
				continue
			}
			return false
		}
		return false
	}
	return true
}

// noteBinary remembers, and warns about, a file that looks binary. Samba
// reads such a file like any other and often refuses it; when it does, the
// error says the file is binary.
func (l *loader) noteBinary(file string, src []byte) {
	if off, bin := looksBinary(src); bin {
		l.binary[file] = off
		l.warn(file, 0, "binary data, not text (control bytes from byte %d)", off)
	}
}

// looksBinary reports a file that is not text: many control bytes (other
// than blanks), as in random or compiled data. A few NUL bytes in a text
// file are accepted; tini.c ends the line there and so do we.
func looksBinary(src []byte) (int, bool) {
	n := len(src)
	if n > 1<<16 {
		n = 1 << 16
	}
	ctl, first := 0, -1
	for i, c := range src[:n] {
		if controlByte[c] {
			ctl++
			if first < 0 {
				first = i
			}
		}
	}
	if ctl >= 16 && ctl*100 >= n {
		return first, true
	}
	return 0, false
}

// controlByte marks the control bytes looksBinary counts: below 0x20 but
// not a blank, and DEL. A table lookup per byte instead of a chain of
// comparisons: the scan covers every file read.
var controlByte = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = !isSpace(byte(c))
	}
	t[0x7f] = true
	return t
}()

func (l *loader) warn(file string, line int, format string, args ...any) {
	l.c.Warnings = append(l.c.Warnings, Problem{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// unquote rewrites the problems reported for file since the counts nw and
// nf (warnings, fatal) so that none quotes the file's content: the line
// number stays, the text is replaced.
func (l *loader) unquote(file string, nw, nf int) {
	for i := nw + 1; i < len(l.c.Warnings); i++ {
		if w := &l.c.Warnings[i]; w.File == file {
			w.Msg = "Samba ignores this line (not quoted: the file does not look like smb.conf)"
		}
	}
	for i := nf; i < len(l.c.Fatal); i++ {
		if f := &l.c.Fatal[i]; f.File == file {
			f.Msg = "Samba refuses the file at this line (not quoted: the file does not look like smb.conf)"
		}
	}
}

func (l *loader) fatal(file string, line int, format string, args ...any) {
	l.c.Fatal = append(l.c.Fatal, Problem{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// process is pm_process/tini_parse over one file: it stops at the first
// line Samba refuses, as tini_parse does.
func (l *loader) process(file string, src []byte) bool {
	if _, ok := l.c.srcs[file]; !ok {
		l.c.srcs[file] = src
	}
	// The editor's replay (tracing) needs every file's lines afterwards;
	// a plain load looks at each line once, so it lexes one at a time and
	// keeps none: a 15,000-line configuration never has 15,000 Line
	// records in memory.
	var lines []Line
	z := newLexer(src)
	if l.tracing {
		var ok bool
		if lines, ok = l.cache[file]; !ok {
			lines = z.fork().all()
			l.cache[file] = lines
		}
	}
	if !smbConfLike(z.fork()) {
		// Read it as Samba does (testparm parity holds for any input),
		// but quote nothing of it: --smb-conf pointed at a password file
		// or a key must not print the secret in a warning.
		nw, nf := len(l.c.Warnings), len(l.c.Fatal)
		defer func() { l.unquote(file, nw, nf) }()
		l.warn(file, 0, "does not look like smb.conf: its first line that is not a comment is neither a [section] header nor a \"name = value\" line; read as Samba reads it, none of its lines is quoted")
	}
	var cur Line
	for i := 0; ; i++ {
		ln := &cur
		switch {
		case !l.tracing:
			if !z.next(ln) {
				return true
			}
		case i < len(lines):
			ln = &lines[i]
		default:
			return true
		}
		switch ln.Kind {
		case LineSection:
			// Text is "[" + Section + "]" and what follows the ']', so
			// the header as written is a substring of it.
			o := Origin{File: file, Line: ln.FirstLine, LastLine: ln.LastLine, Name: ln.Text[:len(ln.Section)+2]}
			ok := l.doSection(ln.Section, o)
			if l.tracing {
				ctx := l.context()
				l.trace = append(l.trace, traceLine{file: file, idx: i, ctx: ctx, after: ctx, nsvcs: len(l.c.svcs)})
			}
			if !ok {
				return false
			}
		case LineBadSection:
			l.fatal(file, ln.FirstLine, "section header %q has no closing ']'; Samba refuses the file", clip(ln.Text))
			return false
		case LineEmptyName:
			l.fatal(file, ln.FirstLine, "line %q has no parameter name before '='; Samba refuses the file", clip(ln.Text))
			return false
		case LineNoEquals:
			if strings.HasPrefix(ln.Text, "\xef\xbb\xbf") {
				l.warn(file, ln.FirstLine, "line starts with a UTF-8 byte order mark and is ignored: %q", clip(ln.Text))
			} else {
				l.warn(file, ln.FirstLine, "line without '=' ignored: %q", clip(ln.Text))
			}
		case LineParam:
			a := l.newAssign(assign{o: Origin{File: file, Line: ln.FirstLine, LastLine: ln.LastLine, Name: ln.Name}, raw: ln.Value})
			t := -1
			if l.tracing {
				p, _ := l.c.LookupParam(ln.Name)
				t = len(l.trace)
				l.trace = append(l.trace, traceLine{file: file, idx: i, param: p, ctx: l.context()})
			}
			ok := l.doParameter(ln.Name, ln.Value, a)
			if t >= 0 {
				l.trace[t].after, l.trace[t].nsvcs = l.context(), len(l.c.svcs)
			}
			if !ok {
				return false
			}
		}
	}
}

// clip shortens text quoted in a message (a garbage line or name can be
// kilobytes long) to about 60 bytes.
func clip(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}

// doSection is lp_do_section.
func (l *loader) doSection(name string, o Origin) bool {
	isGlobal := strwicmpEqual(name, "global") || strwicmpEqual(name, "globals")
	if l.inGlobal && !isGlobal {
		l.initLocals(o)
	}
	l.inGlobal = isGlobal
	if isGlobal {
		return true
	}
	if l.cur != nil && !l.serviceOK(l.cur) {
		return false
	}
	if _, ok := toLowerSamba(name); !ok && l.c.tableSince(4, 24) {
		// Observed on 4.24: canonicalize_servicename (source3/param/
		// loadparm.c) asserts that the lower-cased name is not NULL, so
		// testparm and smbd panic; 4.13-4.22 hash the NULL name instead.
		l.fatal(o.File, o.Line, "share name %q is not valid UTF-8; Samba %s panics on it", clip(name), l.c.table().release.Series())
		return false
	}
	l.cur = l.addService(name, o, l.c.sd, nil)
	// lp_do_section: "Clean all parametric options for service. They
	// will be added during parsing again."
	l.cur.opts = nil
	return true
}

// serviceKey is canonicalize_servicename: the lower-cased name. A name
// that is not valid UTF-8 cannot be lower-cased; Samba then hashes a NULL
// name, so all such shares are one.
func serviceKey(name string) string {
	k, ok := toLowerSamba(name)
	if !ok {
		return "\x00invalid"
	}
	return k
}

// addService is add_a_service: an existing share of that name (any case)
// is returned as is; a new one starts as a copy of base.
func (l *loader) addService(name string, o Origin, base []*slot, set []bool) *service {
	c := l.c
	key := serviceKey(name)
	if s, ok := c.byName[key]; ok {
		return s
	}
	s := l.newService()
	*s = service{name: name, header: o, idx: len(c.svcs), base: base}
	if len(base) > 0 && len(c.sd) > 0 && &base[0] == &c.sd[0] {
		// The share refers to the defaults' array: the next write to
		// the defaults must go to a copy (target).
		l.sdShared = true
	}
	s.own = l.newOwn()
	s.set = l.newFlags(len(base))
	if set != nil {
		copy(s.set, set)
	}
	c.svcs = append(c.svcs, s)
	c.byName[key] = s
	return s
}

// serviceOK is lpcfg_service_ok, run when a share's section ends.
func (l *loader) serviceOK(s *service) bool {
	o := s.header
	if s.name == "" {
		l.fatal(o.File, o.Line, "section [] has no name (\"No service name in service entry\"); Samba refuses the file")
		return false
	}
	d := l.c.dflt
	if strwicmpEqual(s.name, "printers") {
		if s.get(d.printable).v.n == 0 {
			l.warn(o.File, o.Line, "[%s] service MUST be printable; Samba sets printable = yes", s.name)
			s.put(d.printable, &slot{v: boolVal(true), a: derived(o, "printable", "forced for [printers] (lpcfg_service_ok)")})
		}
		if s.get(d.browseable).v.n != 0 {
			s.put(d.browseable, &slot{v: boolVal(false), a: derived(o, "browseable", "forced for [printers] (lpcfg_service_ok)")})
		}
	}
	if s.get(d.path).v.s == "" && !strwicmpEqual(s.name, "homes") && s.get(d.msdfsProxy).v.s == "" {
		l.warn(o.File, o.Line, "no path in share [%s]: Samba makes it unavailable", s.name)
		s.put(d.available, &slot{v: boolVal(false), a: derived(o, "available", "no path: made unavailable (lpcfg_service_ok)")})
	}
	return true
}

// derived is the origin of a value Samba sets itself because of the line
// or section at o.
func derived(o Origin, name, note string) *assign {
	o.Name = name
	o.Note = note
	return &assign{o: o}
}

// doParameter is do_parameter.
func (l *loader) doParameter(name, value string, a *assign) bool {
	if l.inGlobal {
		return l.doGlobal(name, value, a)
	}
	return l.doService(l.cur, name, value, a)
}

// locked says whether testparm ignores smb.conf for p: it runs
// lp_set_cmdline("log level", "1"), which marks "log level" and its
// adjacent synonym FLAG_CMDLINE.
func locked(p *Param) bool { return p.Canonical().Name == "log level" }

// doGlobal is lpcfg_do_global_parameter.
func (l *loader) doGlobal(name, value string, a *assign) bool {
	p, ok := l.lookupParam(name)
	if !ok {
		if strings.IndexByte(name, ':') >= 0 {
			return l.parametric(nil, name, value, a)
		}
		l.warn(a.o.File, a.o.Line, "unknown parameter %q ignored", clip(name))
		return true
	}
	if locked(p) {
		l.warn(a.o.File, a.o.Line, "%q is ignored by testparm, which runs with log level 1", name)
		return true
	}
	if p.Flags&FlagDeprecated != 0 {
		l.warn(a.o.File, a.o.Line, "the %q option is deprecated", name)
	}
	return l.setVariable(p, nil, value, a, true)
}

// doService is lpcfg_do_service_parameter.
func (l *loader) doService(s *service, name, value string, a *assign) bool {
	p, ok := l.lookupParam(name)
	if !ok {
		if strings.IndexByte(name, ':') >= 0 {
			return l.parametric(s, name, value, a)
		}
		l.warn(a.o.File, a.o.Line, "unknown parameter %q ignored", clip(name))
		return true
	}
	if locked(p) {
		return true
	}
	if p.Flags&FlagDeprecated != 0 {
		l.warn(a.o.File, a.o.Line, "the %q option is deprecated", name)
	}
	if p.Class == ClassGlobal {
		l.warn(a.o.File, a.o.Line, "global parameter %q in share [%s] is ignored", name, clip(s.name))
		return true
	}
	s.set[p.slot] = true
	return l.setVariable(p, s, value, a, false)
}

// parametric is lp_do_parameter_parametric: the key is lower-cased after
// leading blanks; a name that cannot be lower-cased (invalid UTF-8) makes
// the load fail.
func (l *loader) parametric(s *service, name, value string, a *assign) bool {
	i := 0
	for i < len(name) && isSpace(name[i]) {
		i++
	}
	key, ok := toLowerSamba(name[i:])
	if !ok {
		l.fatal(a.o.File, a.o.Line, "parametric option name %q is not valid UTF-8; Samba refuses the file", clip(name))
		return false
	}
	if s == nil {
		l.c.gopts.set(key, value, a)
	} else {
		s.opts.set(key, value, a)
	}
	return true
}

// target is where p is stored for a share (s != nil) or in [global].
//
// Slots are replaced whole, never changed in place: a share starts with
// sDefault's pointers (copy_service without copying 150 values per share),
// so writing through one would change every share that shares it.
func (l *loader) target(p *Param, s *service) **slot {
	switch {
	case s != nil:
		return s.ref(p.slot)
	case p.Class == ClassGlobal:
		return &l.c.g[p.slot]
	}
	if l.sdShared {
		// Shares made so far keep the defaults they were made from.
		l.c.sd = append([]*slot(nil), l.c.sd...)
		l.sdShared = false
	}
	return &l.c.sd[p.slot]
}

// setVariable is set_variable: a special handler or the typed parse, then
// the "no longer default" mark for values set in [global].
func (l *loader) setVariable(p *Param, s *service, value string, a *assign, onGlobals bool) bool {
	var err error
	if h := p.handle; h != nil {
		err = h(l, p, s, value, a)
	} else {
		t := l.target(p, s)
		var v val
		if v, err = parseTyped(p, value, (*t).v); err == nil {
			*t = l.newSlot(v, a)
		}
	}
	var re refusedError
	switch {
	case err == nil:
	case errors.As(err, &re):
		l.refused = true
		l.fatal(a.o.File, a.o.Line, "%s", re.msg)
		return false
	case err != errReported:
		l.fatal(a.o.File, a.o.Line, "%v; Samba refuses the file", err)
		return false
	default:
		return false
	}
	if onGlobals && (!p.IsSynonym() || p.MarksCanonical) {
		if p.Class == ClassGlobal {
			l.c.gDef[p.slot] = false
		} else {
			l.c.sdDef[p.slot] = false
		}
	}
	return true
}

// initLocals is init_locals(), run when a share section follows global
// ones: an AD DC forces the VFS modules and DOS attribute mapping it needs.
func (l *loader) initLocals(o Origin) {
	if l.c.serverRole() != roleADDC {
		return
	}
	note := "forced on an AD DC (init_locals)"
	set := func(name, value string) {
		l.doGlobal(name, value, &assign{o: Origin{File: o.File, Line: o.Line, LastLine: o.LastLine, Name: name, Note: note}, raw: value})
	}
	vfs := l.c.mustParam("vfs objects")
	if l.c.sd[vfs.slot].v.list != nil {
		have := map[string]bool{}
		for _, m := range l.c.sd[vfs.slot].v.list {
			have[wkey(m)] = true
		}
		for _, m := range []string{"dfs_samba4", "acl_xattr"} {
			if !have[wkey(m)] {
				l.warn(o.File, o.Line, "vfs objects specified without required AD DC module: %s", m)
				break
			}
		}
	} else {
		switch {
		case l.hasGlobalOpt("xattr_tdb:file"):
			set("vfs objects", "dfs_samba4 acl_xattr xattr_tdb")
		case l.hasGlobalOpt("posix:eadb"):
			set("vfs objects", "dfs_samba4 acl_xattr posix_eadb")
		default:
			set("vfs objects", "dfs_samba4 acl_xattr")
		}
	}
	set("map hidden", "no")
	set("map system", "no")
	set("map readonly", "no")
	set("map archive", "no")
	set("store dos attributes", "yes")
}

func (l *loader) hasGlobalOpt(key string) bool {
	_, ok := l.c.gopts.get(key)
	return ok
}

// finish is the rest of lp_load_ex after pm_process.
func (l *loader) finish(ok bool) {
	c := l.c
	if ok && l.cur != nil {
		ok = l.serviceOK(l.cur)
	}
	if c.g[l.c.mustParam("config backend").slot].v.s == "registry" {
		l.registryBackend()
		ok = len(c.Fatal) == 0
	}
	if !ok {
		return
	}
	if c.g[l.c.mustParam("registry shares").slot].v.n != 0 {
		l.warn(c.path, 0, "registry shares = yes: shares stored in the registry are not read (assumed none)")
	}
	l.autoServices()
	l.allowedClientAuth()
	if c.serverRole() == roleADDC {
		l.enforceADDC()
	}
	l.protocolCheck()
}

// registryBackend is what lp_load_ex does for "config backend = registry":
// it forgets the file, kills the shares (their slots stay, so the dump
// still prints an empty line for each) and loads the registry instead,
// which this package cannot read; it is taken as empty.
func (l *loader) registryBackend() {
	c := l.c
	cb := c.g[l.c.mustParam("config backend").slot]
	file, line := c.path, 0
	if cb.a != nil {
		file, line = cb.a.o.File, cb.a.o.Line
	}
	l.warn(file, line, "config backend = registry: Samba reads its configuration from the registry instead of this file; the registry is not read (assumed empty)")
	c.reset()
	for _, s := range c.svcs {
		s.killed = true
	}
	c.byName = map[string]*service{}
	l.cur = nil
	l.inGlobal = true
	a := &assign{o: Origin{File: file, Line: line, Name: "registry shares", Note: "set by config backend = registry"}, raw: "yes"}
	l.doGlobal("registry shares", "yes", a)
}

// autoServices is lp_add_auto_services: each user named in "auto services"
// gets a copy of [homes] pointing at the home directory.
func (l *loader) autoServices() {
	c := l.c
	d := c.dflt
	as := c.g[l.c.mustParam("auto services").slot]
	if as.v.s == "" {
		return
	}
	homes := c.findService("homes")
	for _, name := range strings.FieldsFunc(as.v.s, func(r rune) bool { return strings.ContainsRune(listSepV3, r) }) {
		if c.findService(name) != nil {
			continue
		}
		home := userHome(name)
		if home == "" || homes == nil {
			continue
		}
		o := Origin{Name: "auto services", Note: "added for auto services = " + as.v.s}
		if as.a != nil {
			o.File, o.Line, o.LastLine = as.a.o.File, as.a.o.Line, as.a.o.LastLine
		}
		s := l.addService(name, o, homes.slots(), homes.set)
		for i := len(homes.opts) - 1; i >= 0; i-- {
			s.opts.set(homes.opts[i].key, homes.opts[i].value, homes.opts[i].a)
		}
		hp := homes.get(d.path).v.s
		if hp == "" || strequal(hp, c.sd[d.path].v.s) {
			s.put(d.path, &slot{v: val{s: home}, a: &assign{o: o, raw: home}})
		}
		if s.get(d.comment).v.s == "" {
			cm := "Home directory of " + name
			s.put(d.comment, &slot{v: val{s: cm}, a: &assign{o: o, raw: cm}})
		}
		s.put(d.browseable, c.sd[d.browseable])
		s.put(d.abse, c.sd[d.abse])
	}
}

// allowedClientAuth is set_allowed_client_auth.
func (l *loader) allowedClientAuth() {
	c := l.c
	v2, lm, pt := l.c.mustParam("client NTLMv2 auth"), l.c.mustParam("client lanman auth"), l.c.mustParam("client plaintext auth")
	if c.g[v2.slot].v.n != 0 && c.g[lm.slot].v.n != 0 {
		c.g[lm.slot] = &slot{v: boolVal(false), a: derivedFrom(c.g[v2.slot].a, "client lanman auth", "forced off by client NTLMv2 auth = yes (set_allowed_client_auth)")}
	}
	if c.g[lm.slot].v.n == 0 && c.g[pt.slot].v.n != 0 {
		c.g[pt.slot] = &slot{v: boolVal(false), a: derivedFrom(c.g[lm.slot].a, "client plaintext auth", "forced off by client lanman auth = no (set_allowed_client_auth)")}
	}
}

func derivedFrom(a *assign, name, note string) *assign {
	var o Origin
	if a != nil {
		o = a.o
	}
	return derived(o, name, note)
}

// enforceADDC is lp_enforce_ad_dc_settings.
func (l *loader) enforceADDC() {
	c := l.c
	role := c.g[l.c.mustParam("server role").slot]
	var o Origin
	if role.a != nil {
		o = role.a.o
	}
	for _, kv := range [][2]string{
		{"passdb backend", "samba_dsdb"},
		{"winbindd:use external pipes", "true"},
		{"rpc_server:default", "external"},
		{"rpc_server:svcctl", "embedded"},
		{"rpc_server:srvsvc", "embedded"},
		{"rpc_server:eventlog", "embedded"},
		{"rpc_server:ntsvcs", "embedded"},
		{"rpc_server:winreg", "embedded"},
		{"rpc_server:spoolss", "embedded"},
		{"rpc_daemon:spoolssd", "embedded"},
		{"rpc_server:tcpip", "no"},
	} {
		a := derived(o, kv[0], "forced on an AD DC (lp_enforce_ad_dc_settings)")
		a.raw = kv[1]
		l.doGlobal(kv[0], kv[1], a)
	}
}

// protocolRank orders the protocol enum (enum protocol_types).
var protocolRank = map[string]int{
	"default": -1, "CORE": 1, "COREPLUS": 2, "LANMAN1": 3, "LANMAN2": 4, "NT1": 5,
	"SMB2_02": 6, "SMB2": 7, "SMB2_10": 7, "SMB3_00": 8, "SMB3_02": 9, "SMB3": 10, "SMB3_11": 10,
}

// protocolCheck is the end of lp_load_ex: it only warns, and only about
// the client pair.
func (l *loader) protocolCheck() {
	c := l.c
	maxp := c.g[l.c.mustParam("client max protocol").slot]
	minp := c.g[l.c.mustParam("client min protocol").slot]
	mx := maxp.v.s
	if mx == "default" {
		mx = "SMB3_11" // lp_client_max_protocol: PROTOCOL_LATEST
	}
	if protocolRank[mx] < protocolRank[minp.v.s] {
		file, line := c.path, 0
		if maxp.a != nil {
			file, line = maxp.a.o.File, maxp.a.o.Line
		}
		l.warn(file, line, "client max protocol %s is less than client min protocol %s", maxp.v.s, minp.v.s)
	}
}

// Samba server roles (lp_find_server_role, lib/param/loadparm_server_role.c).
const (
	roleStandalone = iota
	roleMember
	rolePDC
	roleBDC
	roleADDC
	roleIPADC
	roleAuto
)

var roleNames = map[string]int{
	"auto": roleAuto, "standalone server": roleStandalone, "member server": roleMember,
	"classic primary domain controller": rolePDC, "classic backup domain controller": roleBDC,
	"active directory domain controller": roleADDC, "IPA primary domain controller": roleIPADC,
}

// serverRole is lp_server_role(): the configured role if security allows
// it, otherwise one derived from security and domain logons.
func (c *Config) serverRole() int {
	role, ok := roleNames[c.g[c.mustParam("server role").slot].v.s]
	if !ok {
		role = roleAuto
	}
	sec := c.g[c.mustParam("security").slot].v.s
	if role != roleAuto {
		valid := sec == "AUTO"
		switch role {
		case roleMember:
			valid = valid || sec == "ADS" || sec == "DOMAIN"
		case roleStandalone, rolePDC, roleBDC, roleADDC, roleIPADC:
			valid = valid || sec == "USER"
		}
		if valid {
			return role
		}
	}
	switch sec {
	case "DOMAIN", "ADS":
		return roleMember
	case "AUTO", "USER":
		if c.g[c.mustParam("domain logons").slot].v.n != 0 {
			if c.g[c.mustParam("domain master").slot].v.s != "No" {
				return rolePDC
			}
			return roleBDC
		}
	}
	return roleStandalone
}
