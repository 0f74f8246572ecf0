package smbconf

//go:generate go run ./gen -o params_gen.go

import (
	"fmt"
	"sync"
)

// ParamClass says where a parameter may be set. Share ("local")
// parameters may also be set in [global], where they change the default of
// every share defined after that point; global parameters in a share are
// ignored with a warning.
type ParamClass uint8

const (
	// ClassLocal is a share parameter (P_LOCAL, "(S)" in smb.conf(5)).
	ClassLocal ParamClass = iota
	// ClassGlobal is a [global]-only parameter (P_GLOBAL, "(G)").
	ClassGlobal
)

func (c ParamClass) String() string {
	if c == ClassGlobal {
		return "global"
	}
	return "local"
}

// ParamType is Samba's parm_type (lib/param/loadparm.h).
type ParamType uint8

// The values and their order are those of parm_type, which is also the
// order testparm --show-all-parameters names them in.
const (
	TypeBool ParamType = iota
	TypeBoolRev
	TypeChar
	TypeInteger
	TypeOctal
	TypeList
	TypeString
	TypeUString
	TypeEnum
	TypeBytes
	TypeCmdList
)

var typeNames = [...]string{"P_BOOL", "P_BOOLREV", "P_CHAR", "P_INTEGER", "P_OCTAL", "P_LIST",
	"P_STRING", "P_USTRING", "P_ENUM", "P_BYTES", "P_CMDLIST"}

func (t ParamType) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("ParamType(%d)", t)
}

// ParamFlags are the parameter flags testparm shows.
type ParamFlags uint8

const (
	// FlagDeprecated: Samba logs "The "X" option is deprecated".
	FlagDeprecated ParamFlags = 1 << iota
	// FlagSynonym: another name for the parameter SynonymOf.
	FlagSynonym
)

// EnumValue is one accepted spelling of an enum parameter and what
// testparm prints once it is set (the first table entry with the same
// value: "SMB3" for SMB3_11, "SMB2" for SMB2_10).
type EnumValue struct {
	Name    string
	Printed string
}

// Param describes one smb.conf parameter as the generating Samba knew it.
type Param struct {
	Name      string
	Class     ParamClass
	Type      ParamType
	Flags     ParamFlags
	SynonymOf string // canonical name, for synonyms
	Inverse   bool   // an inverse boolean synonym (writeable -> read only)
	// MarksCanonical is true for a synonym that sits next to its canonical
	// entry in parm_table: setting it in [global] also clears the
	// canonical's "still default" flag, so that the dump shows it. The
	// others (smb encrypt, writeable, enable spoolss, ...) change the
	// value but leave it out of the [global] dump (set_variable,
	// lib/param/loadparm.c: "we have to also unset FLAG_DEFAULT on
	// aliases" only walks neighbours).
	MarksCanonical bool
	Enum           []EnumValue
	// Default is what testparm prints for the parameter on an empty
	// configuration on the generating host.
	Default string
	// Order is the position in parm_table among parameters of the same
	// class; the dump prints in this order.
	Order int

	canon *Param // the canonical parameter (itself if not a synonym)
	slot  int    // storage index within the class
	index int    // position in paramTable
}

// IsSynonym reports whether p is another name of a canonical parameter.
func (p *Param) IsSynonym() bool { return p.Flags&FlagSynonym != 0 }

// Canonical returns the parameter p is a synonym of, or p itself.
func (p *Param) Canonical() *Param {
	if p.canon == nil {
		return p
	}
	return p.canon
}

// tableInfo is built once, lazily, from paramTable.
type tableInfo struct {
	byKey     map[string]*Param
	nGlobal   int      // global storage slots
	nLocal    int      // local storage slots
	globals   []*Param // canonical global parameters by slot
	locals    []*Param // canonical local parameters by slot
	globalDmp []*Param // canonical global parameters in dump order
	localDmp  []*Param // canonical local parameters in dump order (no '-' labels)
}

var (
	tableOnce sync.Once
	table     *tableInfo
)

func params() *tableInfo {
	tableOnce.Do(func() {
		t := &tableInfo{byKey: make(map[string]*Param, len(paramTable))}
		byName := make(map[string]*Param, len(paramTable))
		for i := range paramTable {
			p := &paramTable[i]
			p.index = i
			byName[p.Name] = p
			k := wkey(p.Name)
			if _, dup := t.byKey[k]; !dup {
				// lpcfg_map_parameter returns the first match.
				t.byKey[k] = p
			}
		}
		for i := range paramTable {
			p := &paramTable[i]
			if p.SynonymOf != "" {
				continue
			}
			p.canon = p
			if p.Class == ClassGlobal {
				p.slot = t.nGlobal
				t.nGlobal++
				t.globals = append(t.globals, p)
			} else {
				p.slot = t.nLocal
				t.nLocal++
				t.locals = append(t.locals, p)
			}
		}
		for i := range paramTable {
			p := &paramTable[i]
			if p.SynonymOf == "" {
				continue
			}
			c := byName[p.SynonymOf]
			if c == nil {
				panic("smbconf: generated table: " + p.Name + " is a synonym of unknown " + p.SynonymOf)
			}
			p.canon = c
			p.slot = c.slot
		}
		t.globalDmp = append([]*Param(nil), t.globals...)
		for _, p := range t.locals {
			if len(p.Name) > 0 && p.Name[0] == '-' {
				continue // lpcfg_dump_a_service skips labels starting with '-'
			}
			t.localDmp = append(t.localDmp, p)
		}
		table = t
	})
	return table
}

// LookupParam finds a parameter by any spelling Samba accepts: case and
// whitespace are ignored (strwicmp), synonyms are found under their own
// name. Parametric options ("vfs:opt") are not in the table.
func LookupParam(name string) (*Param, bool) {
	p, ok := params().byKey[wkey(name)]
	return p, ok
}

// Params returns every parameter of the table (synonyms included) in
// table order within each class, local parameters first.
func Params() []*Param {
	params()
	out := make([]*Param, len(paramTable))
	for i := range paramTable {
		out[i] = &paramTable[i]
	}
	return out
}

// printingCommand is one command init_printer_values sets.
type printingCommand struct {
	param, value string
}
