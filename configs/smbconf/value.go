package smbconf

import (
	"fmt"
	"strconv"
)

// val is the stored value of one parameter, in the representation its
// type needs. Strings and lists are never modified in place, so slots can
// share them.
type val struct {
	s    string   // P_STRING, P_USTRING, P_CHAR (one byte); P_ENUM: the printed name
	n    int      // P_INTEGER, P_BYTES, P_OCTAL; P_BOOL: 0/1
	list []string // P_LIST, P_CMDLIST; nil is Samba's NULL list
	null bool     // a NULL string (strupper of invalid UTF-8)
}

func boolVal(b bool) val {
	if b {
		return val{n: 1}
	}
	return val{}
}

// setBoolean is set_boolean() (lib/util/util.c): yes/true/on/1 and
// no/false/off/0, compared with strwicmp.
func setBoolean(s string) (bool, bool) {
	switch {
	case strwicmpEqual(s, "yes"), strwicmpEqual(s, "true"), strwicmpEqual(s, "on"), strwicmpEqual(s, "1"):
		return true, true
	case strwicmpEqual(s, "no"), strwicmpEqual(s, "false"), strwicmpEqual(s, "off"), strwicmpEqual(s, "0"):
		return false, true
	}
	return false, false
}

// enumLookup is lp_set_enum_parm: the first spelling equal under strwicmp.
func enumLookup(p *Param, s string) (string, bool) {
	for _, e := range p.Enum {
		if strwicmpEqual(s, e.Name) {
			return e.Printed, true
		}
	}
	return "", false
}

// parseTyped is set_variable_helper (lib/param/loadparm.c): the value a
// parameter of p's type gets from the text s, given the current value cur
// (P_LIST edits it). The error is what makes Samba refuse the whole file.
func parseTyped(p *Param, s string, cur val) (val, error) {
	switch p.Type {
	case TypeBool, TypeBoolRev:
		b, ok := setBoolean(s)
		if !ok {
			return val{}, fmt.Errorf("%q is not a boolean value for %q", clip(s), p.Name)
		}
		if p.Type == TypeBoolRev {
			b = !b
		}
		return boolVal(b), nil
	case TypeInteger:
		return val{n: lpInt(s)}, nil
	case TypeChar:
		if s == "" {
			return val{s: "\x00"}, nil
		}
		return val{s: s[:1]}, nil
	case TypeOctal:
		n, ok := sscanfOctal(s)
		if !ok {
			return val{}, fmt.Errorf("invalid octal number %q for %q", clip(s), p.Name)
		}
		return val{n: n}, nil
	case TypeBytes:
		v, ok := convStrSize(s)
		if !ok || v > 1<<31-1 {
			return val{}, fmt.Errorf("%q is not a valid size for %q", clip(s), p.Name)
		}
		return val{n: int(v)}, nil
	case TypeCmdList:
		return val{list: strListMakeV3(s)}, nil
	case TypeList:
		return editList(p, s, cur)
	case TypeString:
		return val{s: s}, nil
	case TypeUString:
		u, ok := toUpperSamba(s)
		if !ok {
			// lpcfg_string_set_upper fails and leaves a NULL string;
			// set_variable_helper ignores the failure.
			return val{null: true}, nil
		}
		return val{s: u}, nil
	case TypeEnum:
		e, ok := enumLookup(p, s)
		if !ok {
			return val{}, fmt.Errorf("invalid value %q for %q", clip(s), p.Name)
		}
		return val{s: e}, nil
	}
	return val{}, fmt.Errorf("parameter %q has unknown type %v", p.Name, p.Type)
}

// editList is the P_LIST case of set_variable_helper: "+x" adds x if
// missing, "-x" removes it, a plain first element replaces the whole list
// (later "+x"/"-x" then stay literal), and a plain element after an edit
// is a syntax error. An empty value leaves the list alone.
func editList(p *Param, s string, cur val) (val, error) {
	nl := strListMakeV3(s)
	if nl == nil {
		return cur, nil
	}
	list := cur.list
	owned := false
	for i, e := range nl {
		switch {
		case list != nil && len(e) > 1 && e[0] == '+':
			if !containsStr(list, e[1:]) {
				if !owned {
					list = append([]string(nil), list...)
					owned = true
				}
				list = append(list, e[1:])
			}
		case list != nil && len(e) > 1 && e[0] == '-':
			for j, x := range list {
				if x == e[1:] {
					if !owned {
						list = append([]string(nil), list...)
						owned = true
					}
					list = append(list[:j], list[j+1:]...)
					break
				}
			}
		default:
			if i != 0 {
				return cur, fmt.Errorf("unsupported list syntax for %q: %q", p.Name, clip(s))
			}
			return val{list: nl}, nil
		}
	}
	return val{list: list}, nil
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// printVal is lpcfg_print_parameter: the text testparm prints for value v
// of parameter p (p's own type decides, so an inverse synonym prints the
// inverted boolean).
func printVal(p *Param, v val) string {
	switch p.Type {
	case TypeEnum, TypeString, TypeUString, TypeChar:
		return v.s
	case TypeBool:
		return yesNo(v.n != 0)
	case TypeBoolRev:
		return yesNo(v.n == 0)
	}
	return string(appendVal(nil, p, v))
}

// appendVal appends printVal(p, v) to dst: the dump writes every value
// into its output buffer without building a string for it.
func appendVal(dst []byte, p *Param, v val) []byte {
	switch p.Type {
	case TypeEnum, TypeString, TypeUString, TypeChar:
		return append(dst, v.s...)
	case TypeBool:
		return append(dst, yesNo(v.n != 0)...)
	case TypeBoolRev:
		return append(dst, yesNo(v.n == 0)...)
	case TypeInteger, TypeBytes:
		return strconv.AppendInt(dst, int64(int32(v.n)), 10)
	case TypeOctal:
		if int32(v.n) == -1 {
			return append(dst, "-1"...)
		}
		// "0%03o": a leading 0, then at least three octal digits.
		var b [12]byte
		d := strconv.AppendUint(b[:0], uint64(uint32(v.n)), 8)
		dst = append(dst, '0')
		for i := len(d); i < 3; i++ {
			dst = append(dst, '0')
		}
		return append(dst, d...)
	case TypeCmdList:
		return appendList(dst, v.list, " ")
	case TypeList:
		return appendList(dst, v.list, ", ")
	}
	return dst
}

func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}

// equalVal is lpcfg_equal_parameter: how the dump decides that a share's
// value is the same as the [global] one. Strings compare
// case-insensitively, and an empty string equals NULL.
func equalVal(t ParamType, a, b val) bool {
	switch t {
	case TypeBool, TypeBoolRev, TypeInteger, TypeOctal, TypeBytes:
		return a.n == b.n
	case TypeEnum, TypeChar:
		return a.s == b.s
	case TypeList, TypeCmdList:
		return listEqual(a.list, b.list)
	case TypeString, TypeUString:
		return strequal(a.s, b.s)
	}
	return false
}

// isDefaultVal is is_default: the saved default def against the current
// value. Unlike equalVal, a NULL string is never the default.
func isDefaultVal(t ParamType, def, cur val) bool {
	switch t {
	case TypeString, TypeUString:
		if cur.null != def.null {
			return false
		}
		return strequal(def.s, cur.s)
	}
	return equalVal(t, def, cur)
}

// parsePrinted turns a printed default back into a value.
func parsePrinted(p *Param, s string) val {
	switch p.Type {
	case TypeBool:
		return boolVal(s == "Yes")
	case TypeBoolRev:
		return boolVal(s == "No")
	case TypeInteger, TypeBytes:
		n, _ := strconv.Atoi(s)
		return val{n: n}
	case TypeOctal:
		if s == "-1" {
			return val{n: -1}
		}
		n, _ := strconv.ParseUint(s, 8, 32)
		return val{n: int(int32(uint32(n)))}
	case TypeCmdList, TypeList:
		return val{list: strListMakeV3(s)}
	case TypeEnum:
		if e, ok := enumLookup(p, s); ok {
			return val{s: e}
		}
		return val{s: s}
	}
	return val{s: s}
}
