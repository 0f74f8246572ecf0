package smbconf

// The formatting-preserving editor. An edit changes the bytes of exactly
// the assignment that decides the value (or adds one line, or removes
// lines), and is proven before it is returned: the edited files are parsed
// again in memory, with every other file as it was read, and the target
// parameter must have the new value while every other parameter of every
// section keeps its printed value. An edit that cannot be proven is an
// error, never a wrong edit.

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// FileChange is one edit of one file: its whole content before and after.
type FileChange struct {
	Path string // file that is changed (as in Config.Files())
	// Line is the first physical line of the assignment changed or
	// removed (the first one, when several in the file are removed), or
	// the line of a new assignment.
	Line int
	Desc string // e.g. `/etc/samba/smb.conf:12: server min protocol = SMB3 -> SMB2_02 (written as "min protocol")`
	Kind ChangeKind
	// Name is the parameter's spelling on the changed line: a synonym
	// ("min protocol") when that is what the file says, the asked name
	// for an inserted line, the first removed line's for a removal.
	Name   string
	Before []byte // the file's bytes as the parser read them
	After  []byte
}

// ChangeKind says what a FileChange does to the assignment.
type ChangeKind string

const (
	ChangeReplace ChangeKind = "replace" // the value of the line in effect is rewritten
	ChangeInsert  ChangeKind = "insert"  // a new line is added
	ChangeRemove  ChangeKind = "remove"  // the lines in effect are removed
)

// ErrNotEditable is wrapped by every error for a parameter, section or
// value the editor refuses.
var ErrNotEditable = errors.New("not editable")

func refuse(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrNotEditable)
}

// PlanSet plans setting param (any spelling) to value in section ("" or
// "global" for [global], else a share as named in its section header or
// as testparm finds it). The assignment in effect is rewritten in place,
// in whichever file it is, keeping its spelling and layout; without one,
// a line is added to the section's last occurrence in the main file. A
// value already written exactly so gives no change.
func (c *Config) PlanSet(section, param, value string) ([]FileChange, error) {
	e, err := c.newEdit(section, param)
	if err != nil {
		return nil, err
	}
	if err := checkValue(value); err != nil {
		return nil, fmt.Errorf("set %s = %q: %w", e.p.Name, value, err)
	}
	fc, err := e.set(value)
	if err != nil {
		return nil, fmt.Errorf("set %s = %q in [%s]: %w", e.p.Name, value, e.secName, err)
	}
	if fc == nil {
		return nil, nil
	}
	return []FileChange{*fc}, nil
}

// PlanRemove plans removing every assignment of param (any spelling) that
// is in effect for section, in every file, so that the default applies
// (for a share: the value [global] gives it). One FileChange per file;
// nothing to remove gives no change.
func (c *Config) PlanRemove(section, param string) ([]FileChange, error) {
	e, err := c.newEdit(section, param)
	if err != nil {
		return nil, err
	}
	fcs, err := e.remove()
	if err != nil {
		return nil, fmt.Errorf("remove %s from [%s]: %w", e.p.Name, e.secName, err)
	}
	return fcs, nil
}

// replay is a fresh load of the Config's bytes with every line traced.
type replay struct {
	c     *Config
	lines map[string][]Line
	trace []traceLine
}

// replay loads the Config again from the bytes it read, with over
// replacing some files, tracing every line.
func (c *Config) replay(over map[string][]byte) (*replay, error) {
	if c == nil || c.srcs == nil || len(c.files) == 0 {
		return nil, refuse("the configuration was not read from files")
	}
	l, err := newLoader(c.path, c.opts)
	if err != nil {
		return nil, err
	}
	l.overlay = make(map[string][]byte, len(c.srcs)+len(over))
	for k, v := range c.srcs {
		l.overlay[k] = v
	}
	for k, v := range over {
		l.overlay[k] = v
	}
	l.tracing = true
	src := l.overlay[c.path]
	if int64(len(src)) > l.max {
		return nil, &LoadError{File: c.path, Msg: "file too large"}
	}
	l.noteBinary(c.path, src)
	l.total = int64(len(src))
	nc, err := l.run(c.path, src)
	if err != nil {
		return nil, err
	}
	return &replay{c: nc, lines: l.cache, trace: l.trace}, nil
}

func (r *replay) line(t traceLine) *Line { return &r.lines[t.file][t.idx] }

// edit is one planned change being worked out.
type edit struct {
	c       *Config
	r       *replay // the Config as read, traced
	p       *Param  // as asked
	canon   *Param
	tgt     int // share index in r.c.svcs; -1: [global]
	secName string
}

func (c *Config) newEdit(section, param string) (*edit, error) {
	if c == nil {
		return nil, refuse("no configuration")
	}
	if len(c.Fatal) > 0 {
		return nil, refuse("Samba refuses this configuration (%s); correct it by hand first", c.Fatal[0])
	}
	p, ok := c.LookupParam(param)
	if !ok || strings.HasPrefix(p.Name, "-") {
		return nil, refuse("unknown parameter %q", clip(param))
	}
	switch p.Canonical().Name {
	case "include", "copy", "config file", "config backend":
		return nil, refuse("%q changes which lines are read; edit it by hand", p.Name)
	}
	r, err := c.replay(nil)
	if err != nil {
		return nil, fmt.Errorf("read the configuration again: %w", err)
	}
	e := &edit{c: c, r: r, p: p, canon: p.Canonical(), tgt: -1, secName: "global"}
	if !isGlobalSection(section) {
		s := r.findShare(section)
		if s == nil {
			return nil, refuse("no share [%s]", clip(section))
		}
		e.tgt, e.secName = s.idx, s.name
		if p.Class == ClassGlobal {
			return nil, refuse("%q is a global parameter: Samba ignores it in share [%s]", p.Name, s.name)
		}
	}
	return e, nil
}

// findShare finds a share by the name in its header first, then as
// testparm does (after %-substitution).
func (r *replay) findShare(name string) *service {
	c := r.c
	for i := len(c.svcs) - 1; i >= 0; i-- {
		if s := c.svcs[i]; c.valid(s) && strequal(s.name, name) {
			return s
		}
	}
	return c.findService(name)
}

// slotOf is where the value of p lives for section tgt of c.
func slotOf(c *Config, p *Param, tgt int) slot {
	switch {
	case tgt >= 0:
		return *c.svcs[tgt].get(p.slot)
	case p.Class == ClassGlobal:
		return *c.g[p.slot]
	}
	return *c.sd[p.slot]
}

// checkValue refuses a value that would not survive tini.c as written.
func checkValue(v string) error {
	if i := strings.IndexAny(v, "\n\r\x00"); i >= 0 {
		return refuse("the value contains a newline, carriage return or NUL byte")
	}
	if v != "" && (isSpace(v[0]) || isSpace(v[len(v)-1])) {
		return refuse("the value starts or ends with white space, which Samba trims")
	}
	if strings.HasSuffix(v, "\\") {
		return refuse("the value ends with a backslash, which joins the next line")
	}
	for i := 1; i < len(v); i++ {
		if isSpace(v[i]) && isSpace(v[i-1]) {
			return refuse("the value contains a run of white space, which Samba collapses to one character")
		}
	}
	return nil
}

// assignments are the traced assignments of the edited parameter read in
// the target section, in processing order.
func (e *edit) assignments(r *replay) []traceLine {
	var out []traceLine
	for _, t := range r.trace {
		if t.param != nil && t.param.Canonical() == e.canon && t.ctx == e.tgt && r.line(t).Kind == LineParam {
			out = append(out, t)
		}
	}
	return out
}

// effective is the assignment whose value is in effect, if it is one read
// in the target section.
func (e *edit) effective() (traceLine, bool) {
	as := e.assignments(e.r)
	if locked(e.canon) {
		// testparm ignores smb.conf for it; smbd takes the last one.
		if len(as) == 0 {
			return traceLine{}, false
		}
		return as[len(as)-1], true
	}
	sl := slotOf(e.r.c, e.canon, e.tgt)
	if sl.a == nil || sl.a.o.Note != "" || sl.a.o.Line == 0 {
		return traceLine{}, false
	}
	for i := len(as) - 1; i >= 0; i-- {
		t := as[i]
		if t.file == sl.a.o.File && e.r.line(t).FirstLine == sl.a.o.Line {
			return t, true
		}
	}
	return traceLine{}, false // inherited from [global] or copied
}

func (e *edit) set(value string) (*FileChange, error) {
	if t, ok := e.effective(); ok {
		return e.replace(t, value)
	}
	return e.insert(value)
}

// written is value as it must be written under the spelling lp: an
// inverse boolean synonym (writeable for read only) takes the inverse.
func (e *edit) written(lp *Param, value string) (string, error) {
	if lp == nil || lp.Inverse == e.p.Inverse {
		return value, nil
	}
	b, ok := setBoolean(value)
	if !ok {
		return "", refuse("%q is not a boolean value for %q", value, e.p.Name)
	}
	if b {
		return "no", nil
	}
	return "yes", nil
}

// replace rewrites the value of the assignment t.
func (e *edit) replace(t traceLine, value string) (*FileChange, error) {
	ln := e.r.line(t)
	src := e.c.srcs[t.file]
	w, err := e.written(t.param, value)
	if err != nil {
		return nil, err
	}
	if ln.Value == w && ln.FirstLine == ln.LastLine {
		return nil, nil
	}
	after := replaceValue(src, ln, w)
	desc := fmt.Sprintf("%s:%d: %s = %s -> %s", t.file, ln.FirstLine, e.canon.Name, ln.Value, w)
	if !strequal(ln.Name, e.canon.Name) {
		desc += fmt.Sprintf(" (written as %q)", ln.Name)
	}
	fc := &FileChange{Path: t.file, Line: ln.FirstLine, Desc: desc, Kind: ChangeReplace, Name: ln.Name, Before: src, After: after}
	if err := e.verify(fc, value, w); err != nil {
		return nil, err
	}
	return fc, nil
}

// replaceValue keeps everything up to the '=' and the blanks after it,
// writes v, and ends the line as its first physical line ends (or not at
// all at the end of a file without a final newline). Continuation lines
// are folded into the one line.
func replaceValue(src []byte, ln *Line, v string) []byte {
	i := ln.Eq + 1
	for i < ln.ContentEnd && (src[i] == ' ' || src[i] == '\t') {
		i++
	}
	term := src[ln.ContentEnd:ln.End]
	if ln.FirstLine != ln.LastLine && len(term) > 0 {
		term = []byte("\n")
		if nl := bytes.IndexByte(src[ln.Start:ln.End], '\n'); nl > 0 && src[ln.Start+nl-1] == '\r' {
			term = []byte("\r\n")
		}
	}
	out := make([]byte, 0, len(src)+len(v))
	out = append(out, src[:i]...)
	out = append(out, v...)
	out = append(out, term...)
	return append(out, src[ln.End:]...)
}

// newline is the file's line terminator: that of its first line.
func newline(src []byte) string {
	if i := bytes.IndexByte(src, '\n'); i > 0 && src[i-1] == '\r' {
		return "\r\n"
	}
	return "\n"
}

// indentOf is the blanks that start a line, or def.
func indentOf(src []byte, ln *Line, def string) string {
	i := ln.Start
	for i < ln.End && (src[i] == ' ' || src[i] == '\t') {
		i++
	}
	if i < ln.End && isSpace(src[i]) {
		return def // a \v or \f: do not copy it
	}
	return string(src[ln.Start:i])
}

// insert adds an assignment after the last line that leaves the target
// section in effect: in the main file when it has one, else in the file
// of the section's last occurrence. A local parameter set in [global] goes
// before the first share when it can, so that every share inherits it.
func (e *edit) insert(value string) (*FileChange, error) {
	r := e.r
	main := e.c.path
	var inMain, any, early *traceLine
	for i := range r.trace {
		t := &r.trace[i]
		if t.after != e.tgt {
			continue
		}
		any = t
		if t.file == main {
			inMain = t
			if t.nsvcs == 0 {
				early = t
			}
		}
	}
	anchor := inMain
	if e.tgt < 0 && e.canon.Class == ClassLocal && early != nil {
		anchor = early
	}
	if anchor == nil && e.tgt >= 0 {
		anchor = any
	}
	name := e.p.Name
	if anchor == nil {
		if e.tgt >= 0 {
			return nil, refuse("share [%s] has no section in the files (it is made by Samba)", e.secName)
		}
		return e.insertGlobalSection(name, value)
	}
	src := e.c.srcs[anchor.file]
	lines := r.lines[anchor.file]
	ln := &lines[anchor.idx]
	indent := "\t"
	if ln.Kind == LineParam {
		indent = indentOf(src, ln, indent)
	} else {
		for j := anchor.idx + 1; j < len(lines) && lines[j].Kind != LineSection; j++ {
			if lines[j].Kind == LineParam {
				indent = indentOf(src, &lines[j], indent)
				break
			}
		}
	}
	nl := newline(src)
	text := indent + name + " = " + value
	pos := ln.End
	lineNo := ln.LastLine + 1
	switch {
	case pos == len(src) && ln.Kind == LineParam && endsInBackslash(src[ln.Start:ln.End]):
		// "x = y\" at the end of the file: a line after it would be
		// joined to it, so the new one goes before it.
		pos, lineNo = ln.Start, ln.FirstLine
		text += nl
	case pos == len(src) && (len(src) == 0 || src[len(src)-1] != '\n'):
		text = nl + text // no final newline: keep it so
	default:
		text += nl
	}
	after := splice(src, pos, pos, text)
	fc := &FileChange{Path: anchor.file, Line: lineNo, Kind: ChangeInsert, Name: name, Before: src, After: after,
		Desc: fmt.Sprintf("%s:%d: %s = %s added to [%s] (was the default)", anchor.file, lineNo, name, value, e.secName)}
	if err := e.verify(fc, value, value); err != nil {
		return nil, err
	}
	return fc, nil
}

// insertGlobalSection adds "[global]" and the assignment to the main file,
// before its first section (or at its end when it has none).
func (e *edit) insertGlobalSection(name, value string) (*FileChange, error) {
	main := e.c.path
	src := e.c.srcs[main]
	lines := e.r.lines[main]
	nl := newline(src)
	indent := "\t"
	pos := len(src)
	for i := range lines {
		if lines[i].Kind == LineParam && indent == "\t" {
			indent = indentOf(src, &lines[i], indent)
		}
	}
	for i := range lines {
		if lines[i].Kind == LineSection {
			pos = lines[i].Start
			break
		}
	}
	text := "[global]" + nl + indent + name + " = " + value + nl
	if pos == len(src) && len(src) > 0 && src[len(src)-1] != '\n' {
		text = nl + "[global]" + nl + indent + name + " = " + value
	}
	lineNo := bytes.Count(src[:pos], []byte("\n")) + 2
	if pos == len(src) && len(src) > 0 && src[len(src)-1] != '\n' {
		lineNo++
	}
	after := splice(src, pos, pos, text)
	fc := &FileChange{Path: main, Line: lineNo, Kind: ChangeInsert, Name: name, Before: src, After: after,
		Desc: fmt.Sprintf("%s:%d: %s = %s added in a new [global] section (was the default)", main, lineNo, name, value)}
	if err := e.verify(fc, value, value); err != nil {
		return nil, err
	}
	return fc, nil
}

// endsInBackslash reports a line whose content ends in a backslash,
// perhaps followed by blanks: one that tini.c would continue.
func endsInBackslash(b []byte) bool {
	b = bytes.TrimRight(b, "\r\n")
	if n := len(b); n > 0 && b[n-1] == '\\' {
		return true
	}
	b = bytes.TrimRight(b, " \t\v\f\r")
	return len(b) > 0 && b[len(b)-1] == '\\'
}

func splice(src []byte, from, to int, text string) []byte {
	out := make([]byte, 0, len(src)-(to-from)+len(text))
	out = append(out, src[:from]...)
	out = append(out, text...)
	return append(out, src[to:]...)
}

func (e *edit) remove() ([]FileChange, error) {
	as := e.assignments(e.r)
	if len(as) == 0 {
		return nil, nil
	}
	type cut struct {
		ln   *Line
		desc string
	}
	byFile := map[string][]cut{}
	var order []string
	for _, t := range as {
		ln := e.r.line(t)
		if _, ok := byFile[t.file]; !ok {
			order = append(order, t.file)
		}
		d := fmt.Sprintf("%s:%d: %s = %s removed from [%s]", t.file, ln.FirstLine, ln.Name, ln.Value, e.secName)
		byFile[t.file] = append(byFile[t.file], cut{ln, d})
	}
	var fcs []FileChange
	over := map[string][]byte{}
	for _, f := range order {
		cuts := byFile[f]
		sort.Slice(cuts, func(i, j int) bool { return cuts[i].ln.Start < cuts[j].ln.Start })
		src := e.c.srcs[f]
		var out []byte
		pos := 0
		var descs []string
		for _, c := range cuts {
			if c.ln.Start < pos {
				continue // the same line traced twice (a file included twice)
			}
			out = append(out, src[pos:c.ln.Start]...)
			pos = c.ln.End
			descs = append(descs, c.desc)
		}
		out = append(out, src[pos:]...)
		over[f] = out
		fcs = append(fcs, FileChange{Path: f, Line: cuts[0].ln.FirstLine, Desc: strings.Join(descs, "; "), Kind: ChangeRemove, Name: cuts[0].ln.Name, Before: src, After: out})
	}
	if err := e.verifyOver(over, "", "", "", 0, false); err != nil {
		return nil, err
	}
	return fcs, nil
}

func (e *edit) verify(fc *FileChange, value, written string) error {
	return e.verifyOver(map[string][]byte{fc.Path: fc.After}, value, written, fc.Path, fc.Line, true)
}

// verifyOver parses the configuration with over in place of the files it
// names and checks the result: the target has the new value from the
// edited line (set) or no assignment and its default (remove), and every
// other parameter of every section prints as before. A value that changes
// because of the edited line itself (the print commands "printing" sets,
// the option "idmap backend" sets) is allowed.
func (e *edit) verifyOver(over map[string][]byte, value, written, file string, line int, set bool) error {
	ar, err := e.c.replay(over)
	if err != nil {
		return fmt.Errorf("the edited configuration does not load: %w", err)
	}
	b, a := e.r.c, ar.c
	if strings.Join(b.files, "\x00") != strings.Join(a.files, "\x00") {
		return fmt.Errorf("the edit changes which files are read")
	}
	if len(b.svcs) != len(a.svcs) {
		return fmt.Errorf("the edit changes the shares (%d before, %d after)", len(b.svcs), len(a.svcs))
	}
	for i := range b.svcs {
		if b.svcs[i].name != a.svcs[i].name || b.valid(b.svcs[i]) != a.valid(a.svcs[i]) {
			return fmt.Errorf("the edit changes share [%s]", clip(b.svcs[i].name))
		}
	}
	fromEdit := func(x *assign) bool {
		return set && x != nil && x.o.File == file && x.o.Line == line
	}
	// The target.
	as := e.assignments(ar)
	switch {
	case set && locked(e.canon):
		if len(as) == 0 {
			return fmt.Errorf("verification: the new line is not read in [%s]", e.secName)
		}
		t := as[len(as)-1]
		if ln := ar.line(t); t.file != file || ln.FirstLine != line || ln.Value != written {
			return fmt.Errorf("verification: %s:%d is not the assignment in effect", file, line)
		}
	case set:
		sl := slotOf(a, e.canon, e.tgt)
		if !fromEdit(sl.a) || sl.a.o.Note != "" || sl.a.raw != written {
			return fmt.Errorf("verification: %s:%d does not decide the value (it comes from %s)", file, line, originOf(sl))
		}
		if want, ok := expectedPrinted(e.p, value); ok {
			if got := printVal(e.p, sl.v); got != want {
				return fmt.Errorf("verification: %s is %q after the edit, want %q", e.p.Name, got, want)
			}
		}
	default:
		if len(as) > 0 {
			t := as[0]
			return fmt.Errorf("verification: %s:%d still sets it", t.file, ar.line(t).FirstLine)
		}
		if e.tgt < 0 && !locked(e.canon) {
			sl := slotOf(a, e.canon, -1)
			var d val
			if e.canon.Class == ClassGlobal {
				d = a.dflt.g[e.canon.slot]
			} else {
				d = a.dflt.l[e.canon.slot]
			}
			if !(sl.a == nil || sl.a.o.IsDefault()) && printVal(e.canon, sl.v) != printVal(e.canon, d) {
				return fmt.Errorf("verification: %s is still %q (%s), not the default", e.canon.Name, printVal(e.canon, sl.v), originOf(sl))
			}
		}
	}
	// Everything else.
	t := a.dflt.tab
	skipGlobal := e.tgt < 0
	for _, q := range t.globals {
		if skipGlobal && q == e.canon {
			continue
		}
		if x, y := printVal(q, b.g[q.slot].v), printVal(q, a.g[q.slot].v); x != y && !fromEdit(a.g[q.slot].a) {
			return fmt.Errorf("the edit would also change %s in [global] from %q to %q", q.Name, clip(x), clip(y))
		}
	}
	if err := sameOpts(b.gopts, a.gopts, "global", fromEdit); err != nil {
		return err
	}
	for _, q := range t.locals {
		if skipGlobal && q == e.canon {
			continue
		}
		if x, y := printVal(q, b.sd[q.slot].v), printVal(q, a.sd[q.slot].v); x != y && !fromEdit(a.sd[q.slot].a) {
			return fmt.Errorf("the edit would also change %s in [global] from %q to %q", q.Name, clip(x), clip(y))
		}
	}
	for i, bs := range b.svcs {
		as := a.svcs[i]
		for _, q := range t.locals {
			// A share parameter set in [global] is the default of the
			// shares: theirs may follow.
			if q == e.canon && (i == e.tgt || (e.tgt < 0)) {
				continue
			}
			if x, y := printVal(q, bs.get(q.slot).v), printVal(q, as.get(q.slot).v); x != y && !fromEdit(as.get(q.slot).a) {
				return fmt.Errorf("the edit would also change %s in [%s] from %q to %q", q.Name, clip(bs.name), clip(x), clip(y))
			}
		}
		if err := sameOpts(bs.opts, as.opts, bs.name, fromEdit); err != nil {
			return err
		}
	}
	return nil
}

func originOf(sl slot) string {
	if sl.a == nil {
		return "the default"
	}
	return sl.a.o.String()
}

// expectedPrinted is what testparm prints for p once written as value,
// when the value alone decides it (no special handler, no list edit).
func expectedPrinted(p *Param, value string) (string, bool) {
	if handlers[p.Canonical().Name] != nil {
		return "", false
	}
	if p.Type == TypeList {
		if l := strListMakeV3(value); len(l) > 0 && (strings.HasPrefix(l[0], "+") || strings.HasPrefix(l[0], "-")) {
			return "", false
		}
	}
	v, err := parseTyped(p, value, val{})
	if err != nil {
		return "", false // the load itself would have failed
	}
	return printVal(p, v), true
}

func sameOpts(b, a optList, section string, fromEdit func(*assign) bool) error {
	bm := make(map[string]string, len(b))
	for _, o := range b {
		bm[o.key] = o.value
	}
	am := make(map[string]opt, len(a))
	for _, o := range a {
		am[o.key] = o
	}
	for k, v := range bm {
		o, ok := am[k]
		if !ok {
			return fmt.Errorf("the edit would remove option %q from [%s]", clip(k), clip(section))
		}
		if o.value != v && !fromEdit(o.a) {
			return fmt.Errorf("the edit would also change %s in [%s] from %q to %q", clip(k), clip(section), clip(v), clip(o.value))
		}
	}
	for k, o := range am {
		if _, ok := bm[k]; !ok && !fromEdit(o.a) {
			return fmt.Errorf("the edit would add option %q to [%s]", clip(k), clip(section))
		}
	}
	return nil
}
