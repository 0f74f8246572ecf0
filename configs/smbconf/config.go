package smbconf

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Origin says where an effective value comes from.
type Origin struct {
	File string
	// Line is the first physical line of the assignment; 0 for a default.
	Line int
	// LastLine is the last physical line (continuation lines included).
	LastLine int
	// Name is the parameter name exactly as written there, e.g. a synonym
	// such as "min protocol".
	Name string
	// Note explains a value Samba derives rather than reads: "no path:
	// made unavailable", "set by printing = bsd", ... Empty for plain
	// assignments and defaults.
	Note string
}

// IsDefault reports whether the value is the compiled-in default.
func (o Origin) IsDefault() bool { return o.Line == 0 && o.Note == "" }

// String is "FILE:LINE", the note of a derived value, or "default".
func (o Origin) String() string {
	switch {
	case o.Line > 0:
		return o.File + ":" + strconv.Itoa(o.Line)
	case o.Note != "":
		return o.Note
	}
	return "default"
}

// Value is the effective value of one parameter in one section.
type Value struct {
	// Param is the parameter as asked for (a synonym stays a synonym);
	// nil for a parametric option ("vfs:opt").
	Param *Param
	// Raw is the value as written, after tini trimming (for a default:
	// the printed default).
	Raw string
	// Printed is exactly what testparm prints for it.
	Printed string
	Origin  Origin
}

// Problem is a warning or a fatal problem found while loading.
type Problem struct {
	File string
	Line int
	Msg  string
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
	}
	if p.File != "" {
		return p.File + ": " + p.Msg
	}
	return p.Msg
}

// LoadError is returned by Load and Parse when the configuration is
// unusable: it cannot be read, or Samba itself would refuse to load it.
type LoadError struct {
	File string
	Line int
	Msg  string
	// Refused says the agent would not read the input at all (not a
	// regular file, over a size or count bound, not smb.conf-like): bad
	// input, where the other errors are a configuration Samba refuses.
	Refused bool
}

func (e *LoadError) Error() string {
	return Problem{File: e.File, Line: e.Line, Msg: e.Msg}.String()
}

// assign is one assignment: where it was made and the raw text.
type assign struct {
	o   Origin
	raw string
}

// slot is the stored value of one parameter and the assignment it came
// from (nil: the default).
type slot struct {
	v val
	a *assign
}

// opt is a parametric option ("type:option = value"). Samba keeps them in
// a head-inserted list, so they print in reverse order of first
// appearance; a later spelling that matches (strwicmp) replaces only the
// value.
type opt struct {
	key, value string
	a          *assign
}

type optList []opt

func (l *optList) set(key, value string, a *assign) {
	for i := range *l {
		if strwicmpEqual((*l)[i].key, key) {
			(*l)[i].value = value
			(*l)[i].a = a
			return
		}
	}
	*l = append(*l, opt{key: key, value: value, a: a})
}

func (l optList) get(key string) (opt, bool) {
	for i := len(l) - 1; i >= 0; i-- {
		if strwicmpEqual(l[i].key, key) {
			return l[i], true
		}
	}
	return opt{}, false
}

// service is one share.
//
// A share starts as a copy of sDefault (copy_service). Instead of copying
// its ~140 slot pointers, a share refers to the array it was made from
// (base, shared by every share made from the same defaults and never
// written) and keeps only the slots it changed (own). A 1,000-share file
// then holds one array of defaults instead of a thousand, and the dump
// looks only at what each share changed.
type service struct {
	name   string
	base   []*slot   // the slots the share was made from; shared, never written
	own    []ownSlot // the share's own slots, by slot index, ascending
	set    []bool    // set explicitly in this share: "copy =" leaves these alone
	opts   optList
	header Origin // where the section was first opened
	killed bool   // removed by "config backend = registry"
	idx    int    // position in Config.svcs
}

// ownSlot is a slot a share has changed from its base.
type ownSlot struct {
	i  int
	sl *slot
}

// find returns the position of slot i in s.own, and whether it is there
// (if not, where it would be inserted).
func (s *service) find(i int) (int, bool) {
	// own holds the parameters the share sets (a dozen in a typical
	// share): a linear scan beats a binary search at that size.
	for k := range s.own {
		switch {
		case s.own[k].i == i:
			return k, true
		case s.own[k].i > i:
			return k, false
		}
	}
	return len(s.own), false
}

// get is the share's slot i.
func (s *service) get(i int) *slot {
	if k, ok := s.find(i); ok {
		return s.own[k].sl
	}
	return s.base[i]
}

// ref is where the share's slot i is stored, made the share's own first:
// a handler may read it and then replace it.
func (s *service) ref(i int) **slot {
	k, ok := s.find(i)
	if !ok {
		s.own = append(s.own, ownSlot{})
		copy(s.own[k+1:], s.own[k:])
		s.own[k] = ownSlot{i: i, sl: s.base[i]}
	}
	return &s.own[k].sl
}

// put replaces the share's slot i.
func (s *service) put(i int, sl *slot) { *s.ref(i) = sl }

// slots returns all the share's slots in a new array.
func (s *service) slots() []*slot {
	all := append([]*slot(nil), s.base...)
	for _, o := range s.own {
		all[o.i] = o.sl
	}
	return all
}

// Config is smb.conf as testparm reads it.
type Config struct {
	// Warnings are what Samba logs but survives (unknown parameters,
	// global parameters in shares, shares without path, ...).
	Warnings []Problem
	// Fatal lists the problems that make Samba refuse the configuration;
	// Load returns the first as its error.
	Fatal []Problem

	version  SambaVersion      // whose defaults were used
	opts     LoadOptions       // as resolved by newLoader: what the editor re-parses with
	srcs     map[string][]byte // the bytes of every file read, by its name in files
	path     string
	files    []string
	hostname string
	// loadedAt, pid and environ are what %T, %t, %d and %$(VAR) stand
	// for (subBasic), taken when the file is read, so that answering
	// from the Config reads neither the clock nor the environment.
	loadedAt time.Time
	pid      int
	environ  []string

	g      []*slot // [global] values of global parameters
	gDef   []bool  // per global slot: still "default" (FLAG_DEFAULT)
	sd     []*slot // sDefault: share parameters as modified by [global]
	sdDef  []bool
	dflt   *defaults
	gopts  optList
	svcs   []*service
	byName map[string]*service
}

// DefaultsVersion is the Samba version whose defaults the Config uses.
func (c *Config) DefaultsVersion() SambaVersion { return c.version }

// Files returns every file read: the main file first, includes in the
// order they were first read.
func (c *Config) Files() []string { return append([]string(nil), c.files...) }

// Path is the main file.
func (c *Config) Path() string { return c.path }

// Sections returns the share names in testparm's order, as first spelled.
func (c *Config) Sections() []string {
	var out []string
	for _, s := range c.svcs {
		if c.valid(s) {
			out = append(out, s.name)
		}
	}
	return out
}

// HasSection reports whether a share of that name exists, found the way
// Lookup finds it (lp_servicenumber: case-insensitive, after %-substitution).
func (c *Config) HasSection(name string) bool { return c.findService(name) != nil }

// valid is the hidden "-valid" parameter: a share with "-valid = no" is
// skipped by the dump and by every lookup (LP_SNUM_OK).
func (c *Config) valid(s *service) bool {
	if s.killed {
		return false
	}
	if vs := c.dflt.validSlot; vs >= 0 {
		return s.get(vs).v.n != 0
	}
	return true
}

// findService is lp_servicenumber(): the last share whose name, copied
// into an fstring (255 bytes) and %-substituted as testparm does
// (standard_sub_basic), equals name case-insensitively (strequal;
// whitespace counts). So "[%h-share]" is found as "myhost-share", not by
// its raw name.
func (c *Config) findService(name string) *service {
	for i := len(c.svcs) - 1; i >= 0; i-- {
		s := c.svcs[i]
		if c.valid(s) && strequal(c.serviceLookupName(s.name), name) {
			return s
		}
	}
	return nil
}

// fstringMax is sizeof(fstring)-1.
const fstringMax = 255

// serviceLookupName is the name lp_servicenumber compares.
func (c *Config) serviceLookupName(name string) string {
	if len(name) > fstringMax {
		name = name[:fstringMax]
	}
	if strings.IndexByte(name, '%') < 0 {
		return name
	}
	name = c.subBasic(name)
	if len(name) > fstringMax {
		name = name[:fstringMax]
	}
	return name
}

func isGlobalSection(section string) bool {
	return section == "" || strwicmpEqual(section, "global")
}

// Lookup returns the effective value of parameter name (any spelling:
// synonym or canonical, case and blanks ignored) in section ("" or
// "global" for [global], else a share name). A share parameter asked for
// in [global] gives the default for shares as [global] sets it. It
// reports false for an unknown section or parameter, and for a global
// parameter asked for in a share (testparm prints nothing then).
// Parametric options ("vfs_fruit:resource") are found in the share, then
// in [global].
func (c *Config) Lookup(section, name string) (Value, bool) {
	var svc *service
	if !isGlobalSection(section) {
		if svc = c.findService(section); svc == nil {
			return Value{}, false
		}
	}
	p, ok := c.LookupParam(name)
	if !ok {
		if !strings.Contains(name, ":") {
			return Value{}, false
		}
		return c.lookupParametric(svc, name)
	}
	var sl slot
	switch {
	case p.Class == ClassGlobal && svc != nil:
		return Value{}, false
	case p.Class == ClassGlobal:
		sl = *c.g[p.slot]
	case svc != nil:
		sl = *svc.get(p.slot)
	default:
		sl = *c.sd[p.slot]
	}
	return c.value(p, sl), true
}

func (c *Config) value(p *Param, sl slot) Value {
	v := Value{Param: p, Printed: printVal(p, sl.v)}
	if sl.a != nil {
		v.Raw, v.Origin = sl.a.raw, sl.a.o
	} else {
		v.Raw = printVal(p.Canonical(), sl.v)
	}
	return v
}

// lookupParametric is get_parametric_helper: "type:option" in the share's
// options, then in [global]'s.
func (c *Config) lookupParametric(svc *service, name string) (Value, bool) {
	i := strings.IndexByte(name, ':')
	if i < 0 || i == len(name)-1 {
		return Value{}, false
	}
	key := name
	if svc != nil {
		if o, ok := svc.opts.get(key); ok {
			return optValue(o), true
		}
	}
	if o, ok := c.gopts.get(key); ok {
		return optValue(o), true
	}
	return Value{}, false
}

func optValue(o opt) Value {
	v := Value{Raw: o.value, Printed: o.value}
	if o.a != nil {
		v.Origin = o.a.o
	}
	return v
}
