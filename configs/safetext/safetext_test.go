package safetext

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"plain share":                 "plain share",
		`DOMAIN\user`:                 `DOMAIN\user`,
		"Grüße 日本":                    "Grüße 日本",
		"evil\x1b[2J\x1b]0;pwned\x07": `evil\x1b[2J\x1b]0;pwned\x07`,
		"<script>\x1b[31m":            `<script>\x1b[31m`,
		"a\tb\nc\rd":                  `a\tb\nc\rd`,
		"del\x7f":                     `del\x7f`,
		"c1\u009b31m":                 `c1\u009b31m`,
		"bidi\u202eexe.txt":           `bidi\u202eexe.txt`,
		"zw\u200bsp":                  `zw\u200bsp`,
		"bad\xffutf8":                 `bad\xffutf8`,
		"nul\x00":                     `nul\x00`,
	} {
		assert.Equal(t, want, Escape(in), "%q", in)
	}
}

func TestEscapeLines(t *testing.T) {
	assert.Equal(t, "a\n\\x1b[2J\nc", EscapeLines("a\n\x1b[2J\nc"))
	assert.Equal(t, "a\nb", EscapeLines("a\nb"))
	// Bytes that become a valid rune only once the newline is gone.
	assert.Equal(t, `\xe9`+"\n"+`\xb6\xb6`, EscapeLines("\xe9\n\xb6\xb6"))
}

func TestText(t *testing.T) {
	assert.Equal(t, "plain text", Text("plain text"))
	assert.Equal(t, `a\x1b[0mb\u202e\x00c`, Text("a\x1b[0mb\u202e\x00c"))
	assert.Equal(t, `bad\xff`, Text("bad\xff"))
	assert.Equal(t, "two\n\tlines", Text("two\n\tlines"))
	assert.Equal(t, "two\n\\x1b", Text("two\n\x1b"))
	assert.Equal(t, `\xe9`+"\n"+`\xb6\xb6`, Text("\xe9\n\xb6\xb6"))
}

func FuzzEscape(f *testing.F) {
	f.Add("evil\x1b[2J")
	f.Add("\u202e\xff")
	f.Fuzz(func(t *testing.T, s string) {
		out := Escape(s)
		for _, r := range out {
			if r < 0x20 || r == 0x7f || needsEscape(r) || r == 0xfffd && !strings.Contains(s, "\ufffd") {
				t.Fatalf("Escape(%q) = %q keeps %U", s, out, r)
			}
		}
		// Text and Writer are the same rule: breaks kept, the rest as Escape.
		var w strings.Builder
		ew := NewWriter(&w)
		_, _ = ew.Write([]byte(s))
		_ = ew.Flush()
		if txt := Text(s); txt != w.String() {
			t.Fatalf("Text(%q) = %q, Writer wrote %q", s, txt, w.String())
		}
	})
}

func TestWriter(t *testing.T) {
	var b strings.Builder
	w := NewWriter(&b)
	in := "share\x1b[2J\tcol\nGr\xc3"
	n, err := w.Write([]byte(in))
	assert.NoError(t, err)
	assert.Equal(t, len(in), n)
	_, _ = w.Write([]byte("\xbce \u202e\r\n"))
	assert.NoError(t, w.Flush())
	assert.Equal(t, "share\\x1b[2J\tcol\nGrüe \\u202e\\r\n", b.String())

	b.Reset()
	_, _ = w.Write([]byte("end\xe6\x97"))
	assert.NoError(t, w.Flush())
	assert.Equal(t, "end\\xe6\\x97", b.String())
}
