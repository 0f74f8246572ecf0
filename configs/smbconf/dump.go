package smbconf

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Dump writes exactly what "testparm -s FILE" prints on stdout
// (lp_dump: lpcfg_dump_globals, then lpcfg_dump_a_service for the share
// defaults and for each share).
func (c *Config) Dump(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	c.walkDump(func(section string, start bool, name string, p *Param, sl *slot, o *opt) {
		switch {
		case start && section == "":
			bw.WriteString("\n")
		case start && section == "global":
			bw.WriteString("# Global parameters\n[global]\n")
		case start:
			bw.WriteString("\n\n[")
			bw.WriteString(section)
			bw.WriteString("]\n")
		default:
			// One line: name and value appended to the writer's free
			// space (it grows when a line is longer than what is left).
			b := bw.AvailableBuffer()
			b = append(b, '\t')
			b = append(b, name...)
			b = append(b, " = "...)
			if o != nil {
				b = append(b, o.value...)
			} else {
				b = appendVal(b, p, sl.v)
			}
			b = append(b, '\n')
			bw.Write(b)
		}
	})
	return bw.Flush()
}

// Entry is one line of the dump with where its value comes from.
type Entry struct {
	Name string // as testparm prints it: canonical, or the option key
	Value
}

// Section is one section of the dump.
type Section struct {
	Name    string
	Entries []Entry
}

// DumpEntries returns what Dump prints, section by section ("global"
// first), with the origin of every value.
func (c *Config) DumpEntries() []Section {
	var out []Section
	c.walkDump(func(section string, start bool, name string, p *Param, sl *slot, o *opt) {
		switch {
		case start && section == "":
		case start:
			out = append(out, Section{Name: section})
		case o != nil:
			out[len(out)-1].Entries = append(out[len(out)-1].Entries, Entry{Name: name, Value: optValue(*o)})
		default:
			p, _ := c.LookupParam(name)
			out[len(out)-1].Entries = append(out[len(out)-1].Entries, Entry{Name: name, Value: c.value(p, *sl)})
		}
	})
	return out
}

// walkDump visits the dump in order. A section start has start set (an
// invalid share slot, which testparm prints as an empty line, has section
// ""); every parameter line comes with its parameter and slot, or its
// parametric option.
func (c *Config) walkDump(f func(section string, start bool, name string, p *Param, sl *slot, o *opt)) {
	t := c.dflt.tab
	f("global", true, "", nil, nil, nil)
	for _, p := range t.globalDmp {
		sl := c.g[p.slot]
		if c.gDef[p.slot] || isDefaultVal(p.Type, c.dflt.g[p.slot], sl.v) {
			continue
		}
		f("global", false, p.Name, p, sl, nil)
	}
	for i := len(c.gopts) - 1; i >= 0; i-- {
		f("global", false, c.gopts[i].key, nil, nil, &c.gopts[i])
	}
	for _, p := range t.localDmp {
		sl := c.sd[p.slot]
		if c.sdDef[p.slot] || isDefaultVal(p.Type, c.dflt.l[p.slot], sl.v) {
			continue
		}
		f("global", false, p.Name, p, sl, nil)
	}
	for _, s := range c.svcs {
		if !c.valid(s) || s.name == "" {
			f("", true, "", nil, nil, nil)
			continue
		}
		f(s.name, true, "", nil, nil, nil)
		// Slots in order are localDmp in order (buildTable). A share
		// made from the final defaults differs from them only in its own
		// slots (a slot shared with the defaults is the same value); one
		// made from an earlier copy of them (a [global] after the share,
		// "copy =", [homes]) is compared slot by slot.
		own := s.own
		if len(s.base) == 0 || len(c.sd) == 0 || &s.base[0] != &c.sd[0] {
			own = make([]ownSlot, len(s.base))
			for i := range own {
				own[i] = ownSlot{i: i, sl: s.get(i)}
			}
		}
		for _, o := range own {
			sl, def := o.sl, c.sd[o.i]
			if sl == def {
				continue
			}
			p := t.dmpBySlot[o.i]
			if p == nil || equalVal(p.Type, sl.v, def.v) {
				continue
			}
			f(s.name, false, p.Name, p, sl, nil)
		}
		for i := len(s.opts) - 1; i >= 0; i-- {
			f(s.name, false, s.opts[i].key, nil, nil, &s.opts[i])
		}
	}
}

// ErrNoSuchSection and ErrNoSuchParameter are what PrintParameter returns
// where testparm prints nothing and exits 1.
type ErrNoSuchSection struct{ Section string }

func (e *ErrNoSuchSection) Error() string { return fmt.Sprintf("unknown section %q", e.Section) }

// ErrNoSuchParameter: the parameter is unknown, unset (parametric), or
// global and asked for in a share.
type ErrNoSuchParameter struct{ Name, Section string }

func (e *ErrNoSuchParameter) Error() string {
	return fmt.Sprintf("parameter %q unknown for section %q", e.Name, e.Section)
}

// PrintParameter writes exactly what
// "testparm -s FILE --parameter-name NAME [--section-name S]" prints on
// stdout. Where testparm prints nothing and exits 1 it returns an error and
// writes nothing.
func (c *Config) PrintParameter(w io.Writer, name, section string) error {
	var svc *service
	secName := section
	if section == "" {
		secName = "global"
	} else if !strwicmpEqual(section, "global") {
		if svc = c.findService(section); svc == nil {
			return &ErrNoSuchSection{Section: section}
		}
	}
	out, ok := c.parameterText(svc, name)
	if !ok {
		return &ErrNoSuchParameter{Name: name, Section: secName}
	}
	_, err := io.WriteString(w, out+"\n")
	return err
}

// parameterText is lpcfg_dump_a_parameter.
func (c *Config) parameterText(svc *service, name string) (string, bool) {
	if i := strings.IndexByte(name, ':'); i >= 0 {
		if i == len(name)-1 {
			return "", false
		}
		v, ok := c.lookupParametric(svc, name)
		return v.Printed, ok
	}
	p, ok := c.LookupParam(name)
	if !ok {
		return "", false
	}
	switch {
	case svc != nil && p.Class == ClassGlobal:
		return "", false
	case svc != nil:
		return printVal(p, svc.get(p.slot).v), true
	case p.Class == ClassGlobal:
		return printVal(p, c.g[p.slot].v), true
	}
	return printVal(p, c.sd[p.slot].v), true
}
