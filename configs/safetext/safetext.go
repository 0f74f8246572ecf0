// Package safetext makes untrusted strings safe to print on a terminal.
//
// Share names come from a remote server, process command lines from
// whoever started the process, log lines and smb.conf section names from
// files others may write. Printed raw, an ESC sequence in any of them can
// rewrite the screen, hide a finding, set the window title or, on some
// terminals, answer back; a bidirectional override can make text read
// differently from what it is. Escape shows such characters as Go-style
// escapes (\x1b, \u202e) instead. JSON output needs none of this: the
// encoder escapes control characters, and keeps the exact value.
package safetext

import (
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Escape returns s with every control character (C0 except none, DEL,
// C1), every Unicode format character (bidirectional controls, zero-width
// characters) and every byte that is not valid UTF-8 replaced by an
// escape: \t, \n, \r, \xNN or \uNNNN. Everything else, backslashes
// included, is unchanged, so ordinary text (DOMAIN\user, paths) reads as
// before.
func Escape(s string) string { return escape(s, false) }

// Text is Escape for text whose newlines and tabs are meant (a multi-line
// message, an smb.conf line indented with a tab): those two pass as they
// are, as through Writer; everything else Escape escapes is escaped.
func Text(s string) string { return escape(s, true) }

func escape(s string, keepBreaks bool) string {
	// No fast path that removes the breaks first: "\xe9\n\xb6\xb6" would
	// join into a valid rune and pass unescaped.
	if safe(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case keepBreaks && (r == '\t' || r == '\n'):
			b.WriteRune(r)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case needsEscape(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// EscapeLines is Escape for text whose line breaks are meant (a command
// list, a diff): each line is escaped on its own and the newlines kept.
func EscapeLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = Escape(l)
	}
	return strings.Join(lines, "\n")
}

func safe(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return asciiFree(s)
		}
	}
	return true
}

// asciiFree is the slow path of safe: non-ASCII text is safe when every
// rune is valid and printable-or-space.
func asciiFree(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size <= 1) || r < 0x20 || r == 0x7f || needsEscape(r) {
			return false
		}
		i += size
	}
	return true
}

func needsEscape(r rune) bool {
	return (r >= 0x80 && r < 0xa0) || unicode.Is(unicode.Cf, r) || r == 0x2028 || r == 0x2029
}

// Writer escapes what is written through it as Escape does, except for
// newlines and tabs, which pass (text/tabwriter and line-oriented output
// need them). It is for human output that has no styling of its own (the
// fix plan and result, the probe table). A UTF-8 sequence split across
// writes is held until it is complete; Flush writes out a partial one.
type Writer struct {
	w       io.Writer
	pending []byte
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write escapes p; it reports len(p) on success.
func (e *Writer) Write(p []byte) (int, error) {
	buf := p
	if len(e.pending) > 0 {
		buf = append(e.pending, p...)
		e.pending = nil
	}
	var out []byte
	i := 0
	for i < len(buf) {
		c := buf[i]
		if c >= 0x20 && c < 0x7f || c == '\n' || c == '\t' {
			out = append(out, c)
			i++
			continue
		}
		if c >= 0x80 && !utf8.FullRune(buf[i:]) {
			e.pending = append([]byte(nil), buf[i:]...)
			break
		}
		r, size := utf8.DecodeRune(buf[i:])
		if r == utf8.RuneError && size <= 1 || r < 0x20 || r == 0x7f || needsEscape(r) {
			out = append(out, Escape(string(buf[i:i+size]))...)
		} else {
			out = append(out, buf[i:i+size]...)
		}
		i += size
	}
	if _, err := e.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes a held partial UTF-8 sequence, escaped.
func (e *Writer) Flush() error {
	if len(e.pending) == 0 {
		return nil
	}
	_, err := io.WriteString(e.w, Escape(string(e.pending)))
	e.pending = nil
	return err
}
