// Package smbconf reads smb.conf the way Samba's testparm reads it and edits
// it without disturbing anything but the edited parameter.
package smbconf

import (
	"bytes"
	"strings"
)

// This file is a faithful port of Samba's line reader, lib/util/tini.c
// (get_line, parse_section, parse_param, trim_one_space), which every Samba
// tool (smbd, testparm, smbcontrol) uses through pm_process(). Parsing
// "almost like" tini.c is not enough: testparm is our oracle, and its quirks
// (comments only at the start of a line, whitespace runs collapsed to their
// first character, continuation only on "\" or "\ " at the end of a line,
// a NUL ending the line) decide what Samba actually runs with.
//
// Unlike tini.c the lexer also records byte offsets and physical line
// numbers, so that every value can name the file:line it came from and the
// editor can rewrite exactly one logical line.

// LineKind says what a logical line is.
type LineKind int

const (
	// LineParam is "name = value" (the first '=' splits).
	LineParam LineKind = iota
	// LineSection is "[name]"; text after the first ']' is ignored.
	LineSection
	// LineBadSection is a '[' line without ']': tini_parse fails and Samba
	// refuses the whole file.
	LineBadSection
	// LineEmptyName is "= value" (nothing before '='): tini_parse fails and
	// Samba refuses the whole file.
	LineEmptyName
	// LineNoEquals is a non-empty line with no '=' (or only after a NUL):
	// tini.c ignores it silently.
	LineNoEquals
)

// String names the kind for messages and tests.
func (k LineKind) String() string {
	switch k {
	case LineParam:
		return "param"
	case LineSection:
		return "section"
	case LineBadSection:
		return "bad-section"
	case LineEmptyName:
		return "empty-name"
	case LineNoEquals:
		return "no-equals"
	}
	return "unknown"
}

// Line is one logical line: one or more physical lines joined by backslash
// continuation, with comments and blank lines already skipped.
type Line struct {
	Kind LineKind
	// Start is the byte offset of the beginning of the first physical line
	// (its indentation included); End is one past the last byte of the last
	// physical line, its line terminator included (or len(src) at EOF).
	Start, End int
	// FirstLine and LastLine are 1-based physical line numbers.
	FirstLine, LastLine int
	// Text is the logical line exactly as tini.c hands it on: whitespace
	// runs collapsed to their first character, continuations joined,
	// truncated at the first NUL.
	Text string
	// Section is the text between '[' and the first ']' (LineSection),
	// untrimmed: loadparm decides what whitespace means in a section name.
	Section string
	// Name and Value are the two halves of a LineParam after tini.c's
	// trim_one_space (one leading and one trailing blank removed).
	Name, Value string
	// Eq is the byte offset in src of the '=' that splits a LineParam
	// (or LineEmptyName), -1 otherwise. The editor keeps everything before
	// it byte for byte.
	Eq int
	// ContentEnd is the byte offset where the last physical line's content
	// ends, before its line terminator ("\n" or "\r\n"). The editor replaces
	// src[after '=' .. ContentEnd] and keeps the terminator.
	ContentEnd int
}

// isSpace is C's isspace() in the "C" locale, which is what tini.c's
// classification amounts to for every byte Samba compares: only ASCII
// blanks count, so a UTF-8 BOM or a non-breaking space is content.
func isSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\v', '\f', '\r':
		return true
	}
	return false
}

// Lex splits src into logical lines as tini.c's get_line does. It never
// fails: lines Samba would reject are returned with a Kind that says so, so
// that the caller can report the file and line.
func Lex(src []byte) []Line { return lex(src, true) }

// lex is Lex; with plain false every line goes through the content loop,
// which FuzzLex uses as the reference for the plain-line shortcut.
func lex(src []byte, plain bool) []Line {
	z := newLexer(src)
	z.plain = plain
	return z.all()
}

// all returns the lines z has not handed out yet.
func (z *lexer) all() []Line {
	// One Line per physical line at most: sizing the slice once saves the
	// copies of append's doubling on a 15,000-line file.
	lines := make([]Line, 0, bytes.Count(z.src[z.pos:], []byte{'\n'})+1)
	var l Line
	for z.next(&l) {
		lines = append(lines, l)
	}
	return lines
}

// fork is a lexer at the start of the same file that shares z's copy of
// it.
func (z *lexer) fork() *lexer {
	return &lexer{src: z.src, str: z.str, lineNo: 1, plain: z.plain}
}

// lexer hands out the logical lines of src one at a time, so that a load
// that keeps no lines (no editor to serve) never holds more than one.
type lexer struct {
	src    []byte
	str    string // string(src), copied once: Text of a plain line is a substring
	buf    []byte // the content loop's line buffer, reused
	pos    int    // read position in src
	lineNo int    // physical line number at pos
	plain  bool   // take the plain-line shortcut
}

func newLexer(src []byte) *lexer {
	// One copy of the whole file: the Text of a line that needs no
	// rewriting is a substring of it, so most lines allocate nothing.
	return &lexer{src: src, str: string(src), lineNo: 1, plain: true}
}

// next stores the next logical line in *l and reports whether there was
// one.
func (z *lexer) next(l *Line) bool {
	src := z.src
	for {
		// next_content: skip blanks on this line, stop at '\n'.
		lineStart := z.pos
		startLineNo := z.lineNo
		pos := z.pos
		for pos < len(src) && src[pos] != '\n' && isSpace(src[pos]) {
			pos++
		}
		z.pos = pos
		if pos >= len(src) {
			return false
		}
		c := src[pos]
		if c == '#' || c == ';' {
			// A comment line. Its end is the end of the physical line even
			// if it ends in a backslash: tini.c skips it with
			// next_end_of_line, which knows nothing of continuations.
			if i := bytes.IndexByte(src[pos:], '\n'); i >= 0 {
				z.pos = pos + i + 1
				z.lineNo++
			} else {
				z.pos = len(src)
			}
			continue
		}
		if c == '\n' {
			z.pos++
			z.lineNo++
			continue
		}

		// Most lines need none of get_line's rewriting: no run of blanks
		// to collapse, no continuation, no NUL. Their Text is the bytes as
		// they stand, a substring of str; only the others go through the
		// byte-by-byte content loop.
		var eqPos, eqOff int // first '=' in Text and its offset in src (-1: none)
		if tx, eqAt, nl, ok := plainLine(src, pos); z.plain && ok {
			*l = Line{Start: lineStart, FirstLine: startLineNo, Text: z.str[pos : pos+len(tx)], Eq: -1}
			eqPos, eqOff = -1, -1
			if eqAt >= 0 {
				eqPos, eqOff = eqAt, pos+eqAt
			}
			if nl < 0 {
				// EOF without a final newline.
				l.End, l.ContentEnd, l.LastLine = len(src), len(src), z.lineNo
				z.pos = len(src)
			} else {
				l.ContentEnd = nl
				if nl > lineStart && src[nl-1] == '\r' {
					l.ContentEnd = nl - 1
				}
				l.LastLine = z.lineNo
				z.pos = nl + 1
				z.lineNo++
				l.End = z.pos
			}
		} else {
			*l, eqPos, eqOff = contentLoop(src, &z.pos, &z.lineNo, lineStart, startLineNo, &z.buf)
		}
		// Name, Value and Section are substrings of Text.
		t := l.Text
		switch {
		case len(t) == 0:
			// A line that starts with NUL: tini_parse skips it ("case 0").
			continue
		case t[0] == '[':
			if i := strings.IndexByte(t[1:], ']'); i >= 0 {
				l.Kind = LineSection
				l.Section = t[1 : 1+i]
			} else {
				l.Kind = LineBadSection
			}
		case eqPos < 0:
			l.Kind = LineNoEquals
		default:
			name := trimOneSpaceString(t[:eqPos])
			if len(name) == 0 {
				// tini.c tests strlen(buf) after trimming the name's
				// blanks; since a logical line never starts with a blank,
				// an empty name means the line starts with '='.
				l.Kind = LineEmptyName
				l.Eq = eqOff
				break
			}
			l.Kind = LineParam
			l.Name = name
			l.Value = trimOneSpaceString(t[eqPos+1:])
			l.Eq = eqOff
		}
		return true
	}
}

// trimOneSpaceString is tini.c's trim_one_space: at most one blank is
// removed at each end (runs were already collapsed to one).
func trimOneSpaceString(b string) string {
	if len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	if len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// lexClass classifies the bytes plainLine looks at.
var lexClass = func() (t [256]uint8) {
	for _, c := range []byte{' ', '\t', '\n', '\v', '\f', '\r'} {
		t[c] = classSpace
	}
	t[0] = classNUL
	t['='] = classEq
	return t
}()

const (
	classSpace = 1 + iota
	classNUL
	classEq
)

// plainLine looks at the physical line whose content starts at pos (a
// non-blank byte). ok says the line needs none of get_line's rewriting:
// no two blanks in a row, no NUL, no '\\' or "\\ " at the end (a
// continuation). It returns the content (up to the '\n', a '\r' before
// it included, as get_line keeps it), the index of the first '=' in it
// (-1: none) and the offset of the '\n' (-1: EOF).
func plainLine(src []byte, pos int) (text []byte, eq, nl int, ok bool) {
	nl = bytes.IndexByte(src[pos:], '\n')
	end := len(src)
	if nl >= 0 {
		nl += pos
		end = nl
	}
	text = src[pos:end]
	eq = -1
	prevSpace := false
	for i, c := range text {
		switch lexClass[c] {
		case 0:
			prevSpace = false
		case classSpace:
			if prevSpace {
				return nil, 0, 0, false
			}
			prevSpace = true
		case classEq:
			prevSpace = false
			if eq < 0 {
				eq = i
			}
		case classNUL:
			return nil, 0, 0, false
		}
	}
	n := len(text)
	if n > 0 && text[n-1] == '\\' || n > 1 && text[n-2] == '\\' && prevSpace {
		return nil, 0, 0, false
	}
	return text, eq, nl, true
}

// contentLoop is the content loop of get_line, for a logical line that
// needs rewriting: it collapses runs of blanks, joins continuations and
// ends the text at the first NUL. It advances *pos and *lineNo past the
// line and returns it (without Kind) with the index of the first '=' in
// its Text and the offset of that '=' in src (-1, -1: none).
func contentLoop(src []byte, posp, lineNop *int, lineStart, startLineNo int, bufp *[]byte) (Line, int, int) {
	pos, lineNo := *posp, *lineNop
	buf := (*bufp)[:0]
	defer func() { *posp, *lineNop, *bufp = pos, lineNo, buf }()
	eqPos, eqOff := -1, -1 // first '=' in buf and its offset in src
	nulPos := -1           // first NUL in buf: the C string ends there
	end, contentEnd := len(src), len(src)
	lastLine := lineNo
	terminated := false
	for ; pos < len(src); pos++ {
		c := src[pos]
		if c == '\n' {
			n := len(buf)
			if n > 0 && buf[n-1] == '\\' {
				buf = buf[:n-1] // "\" at the end: continuation
				lineNo++
				continue
			}
			if n > 1 && buf[n-2] == '\\' && isSpace(buf[n-1]) {
				// "\ " at the end (runs of blanks were already
				// collapsed, so "\   " and "\<CR>" land here too).
				buf = buf[:n-2]
				lineNo++
				continue
			}
			contentEnd = pos
			if pos > lineStart && src[pos-1] == '\r' {
				contentEnd = pos - 1
			}
			lastLine = lineNo
			pos++
			lineNo++
			end = pos
			terminated = true
			break
		}
		if n := len(buf); n > 0 && isSpace(buf[n-1]) && isSpace(c) {
			continue // collapse a run of blanks to its first byte
		}
		if c == '=' && eqPos < 0 {
			eqPos, eqOff = len(buf), pos
		}
		if c == 0 && nulPos < 0 {
			nulPos = len(buf)
		}
		buf = append(buf, c)
	}
	if !terminated {
		// EOF without a final newline: the content runs to the end
		// (a trailing "\r" is content here, exactly as tini.c sees it).
		lastLine = lineNo
		contentEnd = len(src)
	}
	text := buf
	if nulPos >= 0 {
		text = buf[:nulPos]
		if eqPos >= nulPos {
			eqPos, eqOff = -1, -1
		}
	}
	return Line{
		Start:      lineStart,
		End:        end,
		FirstLine:  startLineNo,
		LastLine:   lastLine,
		Text:       string(text),
		Eq:         -1,
		ContentEnd: contentEnd,
	}, eqPos, eqOff
}
