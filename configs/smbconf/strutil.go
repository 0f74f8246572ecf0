package smbconf

// C-library and Samba string helpers, ported for exactness: which values
// Samba accepts and how it prints them depends on strtol, sscanf("%o"),
// strwicmp, strcasecmp_m and str_list_make_v3, quirks included.

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// foldByte is toupper_m() applied to one byte, as strwicmp
// (lib/util/util_str.c) does: ASCII letters are upper-cased and bytes
// 0x80-0xFF are treated as Latin-1 code points. The result is a code point,
// so that 'ÿ' (0xFF -> U+0178) never equals a byte.
var foldByte = func() (t [256]rune) {
	for i := range t {
		r := rune(i)
		switch {
		case r >= 'a' && r <= 'z':
			r -= 'a' - 'A'
		case r >= 0x80:
			r = unicode.ToUpper(r)
		}
		t[i] = r
	}
	return t
}()

// strwicmpEqual is strwicmp(a, b) == 0: equal ignoring case and every
// whitespace byte (C isspace). Samba matches parameter names, [global],
// enum values and parametric option keys this way.
func strwicmpEqual(a, b string) bool {
	i, j := 0, 0
	for {
		for i < len(a) && isSpace(a[i]) {
			i++
		}
		for j < len(b) && isSpace(b[j]) {
			j++
		}
		if i >= len(a) || j >= len(b) {
			return i >= len(a) && j >= len(b)
		}
		if foldByte[a[i]] != foldByte[b[j]] {
			return false
		}
		i++
		j++
	}
}

// wkey is the strwicmp equivalence class of a name, usable as a map key:
// blanks removed, bytes folded as strwicmp folds them. Two names are
// strwicmp-equal exactly when their keys are equal.
func wkey(s string) string {
	if wkeyIsIdentity(s) {
		return s
	}
	return string(appendWkey(make([]byte, 0, len(s)), s))
}

// wkeyIsIdentity says whether s is its own key: no blanks, no lower-case
// or non-ASCII bytes.
func wkeyIsIdentity(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; isSpace(c) || (c >= 'a' && c <= 'z') || c >= 0x80 {
			return false
		}
	}
	return true
}

// appendWkey appends the key of s to dst. A lookup builds the key in a
// buffer on its stack and indexes the map with string(key), which the
// compiler does without a copy: one parameter line costs no allocation.
func appendWkey(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isSpace(c) {
			continue
		}
		r := foldByte[c]
		if r < 0x80 {
			dst = append(dst, byte(r))
		} else {
			// Keep folded non-ASCII bytes distinct from ASCII and from
			// each other: encode the code point.
			dst = utf8.AppendRune(dst, 0xE000+r) // private use area, never in input keys
		}
	}
	return dst
}

// strequal is Samba's strequal(): strcasecmp_m() == 0, a case-insensitive
// comparison by Unicode code point that falls back to a byte-wise ASCII
// comparison at the first invalid UTF-8 sequence
// (lib/util/charset/util_str.c strcasecmp_m_handle).
func strequal(a, b string) bool {
	if a == b {
		return true
	}
	for len(a) > 0 && len(b) > 0 {
		c1, n1 := utf8.DecodeRuneInString(a)
		c2, n2 := utf8.DecodeRuneInString(b)
		if (c1 == utf8.RuneError && n1 == 1) || (c2 == utf8.RuneError && n2 == 1) {
			return asciiFoldEqual(a, b)
		}
		a, b = a[n1:], b[n2:]
		if c1 == c2 || unicode.ToUpper(c1) == unicode.ToUpper(c2) || unicode.ToLower(c1) == unicode.ToLower(c2) {
			continue
		}
		return false
	}
	return len(a) == 0 && len(b) == 0
}

// asciiFoldEqual is C strcasecmp() == 0 in the "C" locale.
func asciiFoldEqual(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x >= 'A' && x <= 'Z' {
			x += 'a' - 'A'
		}
		if y >= 'A' && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// caseMap is strupper_talloc/strlower_talloc: code point by code point
// through the case table. An invalid UTF-8 sequence cannot be pushed back,
// and Samba then returns NULL (ok == false).
func caseMap(s string, upper bool) (string, bool) {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		if upper {
			return strings.ToUpper(s), true
		}
		return strings.ToLower(s), true
	}
	if !utf8.ValidString(s) {
		return "", false
	}
	if upper {
		return strings.Map(unicode.ToUpper, s), true
	}
	return strings.Map(unicode.ToLower, s), true
}

// toUpperSamba upper-cases like strupper_talloc.
func toUpperSamba(s string) (string, bool) { return caseMap(s, true) }

// toLowerSamba lower-cases like strlower_talloc.
func toLowerSamba(s string) (string, bool) { return caseMap(s, false) }

// cStrtoul parses like C strtoul/strtol with base 0 (or the given base):
// leading blanks, an optional sign, "0x"/"0" prefixes. It returns the value
// as an unsigned 64-bit number (negated for '-', as strtoul does), whether
// any digit was converted, whether it overflowed 64 bits, the sign, and the
// index just past the number.
func cStrtoul(s string, base int) (v uint64, digits bool, overflow bool, neg bool, end int) {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	if base == 0 {
		switch {
		case i+1 < len(s) && s[i] == '0' && (s[i+1] == 'x' || s[i+1] == 'X') && i+2 < len(s) && hexVal(s[i+2]) < 16:
			base = 16
			i += 2
		case i < len(s) && s[i] == '0':
			base = 8
		default:
			base = 10
		}
	} else if base == 16 && i+1 < len(s) && s[i] == '0' && (s[i+1] == 'x' || s[i+1] == 'X') && i+2 < len(s) && hexVal(s[i+2]) < 16 {
		i += 2
	}
	start := i
	for i < len(s) {
		d := hexVal(s[i])
		if d >= base {
			break
		}
		if !overflow {
			if v > (^uint64(0)-uint64(d))/uint64(base) {
				overflow = true
			} else {
				v = v*uint64(base) + uint64(d)
			}
		}
		i++
	}
	digits = i > start
	if !digits {
		return 0, false, false, false, 0
	}
	return v, true, overflow, neg, i
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	}
	return 99
}

// lpInt is lp_int() (lib/param/loadparm.c): strtol(s, NULL, 0) truncated to
// a C int; an empty string gives -1. strtol saturates at LONG_MIN/LONG_MAX
// on overflow before the truncation.
func lpInt(s string) int {
	if s == "" {
		return -1
	}
	v, ok, of, neg, _ := cStrtoul(s, 0)
	if !ok {
		return 0
	}
	var l int64
	switch {
	case of || (!neg && v > 1<<63-1):
		l = 1<<63 - 1
		if neg {
			l = -1 << 63
		}
	case neg && v > 1<<63:
		l = -1 << 63
	case neg:
		l = -int64(v)
	default:
		l = int64(v)
	}
	return int(int32(l))
}

// sscanfOctal is sscanf(s, "%o", &int): glibc converts with strtoul
// semantics (saturating at ULONG_MAX, negating for '-') and stores the low
// 32 bits. ok is false when no digit was converted, which Samba treats as
// an invalid value.
func sscanfOctal(s string) (int, bool) {
	v, ok, of, neg, _ := cStrtoul(s, 8)
	if !ok {
		return 0, false
	}
	if of {
		v = ^uint64(0)
	}
	if neg {
		v = -v
	}
	return int(int32(uint32(v))), true
}

// convStrSize is conv_str_size_error() (lib/util/util.c): a non-negative
// decimal number with an optional K/M/G/T/P suffix compared with strwicmp.
func convStrSize(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	v, ok, of, _, end := cStrtoul(s, 10)
	if !ok || of {
		return 0, false
	}
	// smb_strtoull refuses a '-' anywhere before the end of the number.
	if i := strings.IndexByte(s, '-'); i >= 0 && i < end {
		return 0, false
	}
	if rest := s[end:]; rest != "" {
		mult := uint64(1)
		switch {
		case strwicmpEqual(rest, "K"):
			mult = 1 << 10
		case strwicmpEqual(rest, "M"):
			mult = 1 << 20
		case strwicmpEqual(rest, "G"):
			mult = 1 << 30
		case strwicmpEqual(rest, "T"):
			mult = 1 << 40
		case strwicmpEqual(rest, "P"):
			mult = 1 << 50
		default:
			return 0, false
		}
		v *= mult // wraps like unsigned long long in C
	}
	return v, true
}

// listSepV3 is the separator set of str_list_make_v3 (lib/util/util_strlist_v3.c).
const listSepV3 = " \t,;\n\r"

// isListSepV3 is listSepV3 as a table: the split looks at every byte of
// every list value.
var isListSepV3 = func() (t [256]bool) {
	for i := 0; i < len(listSepV3); i++ {
		t[listSepV3[i]] = true
	}
	return t
}()

// listSepV4 is LIST_SEP of lib/util/util_strlist.c, used by str_list_make.
const listSepV4 = " \t,\n\r"

// strListMakeV3 is str_list_make_v3(s, NULL): NULL (nil) for an empty
// string, otherwise the tokens of next_token_talloc, which skips leading
// separators and treats "..." as grouping (the quotes are dropped). A value
// made only of separators gives an empty but non-NULL list.
func strListMakeV3(s string) []string {
	if s == "" {
		return nil
	}
	list := make([]string, 0, 4)
	i := 0
	var tok []byte
	for {
		for i < len(s) && isListSepV3[s[i]] {
			i++
		}
		if i >= len(s) {
			return list
		}
		// A token without quotes is a substring of s; only one with
		// quotes to drop is built byte by byte.
		start, hadQuote := i, false
		tok = tok[:0]
		quoted := false
		for i < len(s) && (quoted || !isListSepV3[s[i]]) {
			if s[i] == '"' {
				quoted = !quoted
				if !hadQuote {
					tok = append(tok, s[start:i]...)
					hadQuote = true
				}
			} else if hadQuote {
				tok = append(tok, s[i])
			}
			i++
		}
		if hadQuote {
			list = append(list, string(tok))
		} else {
			list = append(list, s[start:i])
		}
		if i < len(s) {
			i++ // next_token skips the one separator it stopped at
		}
	}
}

// strListMake is str_list_make(s, NULL) of lib/util/util_strlist.c: split
// on LIST_SEP without quote handling.
func strListMake(s string) []string {
	list := make([]string, 0, 4)
	for len(s) > 0 {
		n := strings.IndexAny(s, listSepV4)
		if n < 0 {
			n = len(s)
		}
		if n == 0 {
			s = s[1:]
			continue
		}
		list = append(list, s[:n])
		s = s[n:]
	}
	return list
}

// listEqual is str_list_equal(): a NULL list equals only a NULL list;
// elements compare with strcmp.
func listEqual(a, b []string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// printList is the P_LIST/P_CMDLIST case of lpcfg_print_parameter: elements
// joined by sep, each element containing a space wrapped in double quotes.
func printList(list []string, sep string) string {
	return string(appendList(nil, list, sep))
}

// appendList appends printList(list, sep) to dst.
func appendList(dst []byte, list []string, sep string) []byte {
	for i, e := range list {
		if i > 0 {
			dst = append(dst, sep...)
		}
		if strings.IndexByte(e, ' ') >= 0 {
			dst = append(dst, '"')
			dst = append(dst, e...)
			dst = append(dst, '"')
		} else {
			dst = append(dst, e...)
		}
	}
	return dst
}
