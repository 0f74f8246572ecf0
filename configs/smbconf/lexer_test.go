package smbconf

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"
)

// Each case is a rule of lib/util/tini.c; the ones tagged #NNN were
// observed against testparm 4.17.12 by hand (the tag numbers that hand-run
// case; TestDiffCorpus checks testdata/diff against the installed testparm).
func TestLexRules(t *testing.T) {
	type want struct {
		kind        LineKind
		name, value string
		section     string
		first, last int
	}
	cases := []struct {
		name string
		src  string
		want []want
	}{
		{"plain param", "a = b\n", []want{{kind: LineParam, name: "a", value: "b", first: 1, last: 1}}},
		{"comments only at line start (#027)", "  # c\n;c\nworkgroup = FOO # x\n",
			[]want{{kind: LineParam, name: "workgroup", value: "FOO # x", first: 3, last: 3}}},
		{"comment ending in backslash is not continued", "# c \\\na = b\n",
			[]want{{kind: LineParam, name: "a", value: "b", first: 2, last: 2}}},
		{"blank runs collapse to their first byte", "a\t\tc  =  x \t y\n",
			[]want{{kind: LineParam, name: "a\tc", value: "x y", first: 1, last: 1}}},
		{"continuation joins without a blank (#025)", "a = CONT\\\nINUED\n",
			[]want{{kind: LineParam, name: "a", value: "CONTINUED", first: 1, last: 2}}},
		{"continuation keeps the next line's leading blank", "a = one \\\n    two\n",
			[]want{{kind: LineParam, name: "a", value: "one two", first: 1, last: 2}}},
		{"backslash-blank continuation", "a = one\\  \n two\n",
			[]want{{kind: LineParam, name: "a", value: "one two", first: 1, last: 2}}},
		{"continuation inside a name", "server min \\\nprotocol = SMB3\n",
			[]want{{kind: LineParam, name: "server min protocol", value: "SMB3", first: 1, last: 2}}},
		{"continued line starting with # is content", "a = x\\\n#y\n",
			[]want{{kind: LineParam, name: "a", value: "x#y", first: 1, last: 2}}},
		{"CRLF (#075)", "[global]\r\nserver min protocol = SMB3\r\n",
			[]want{{kind: LineSection, section: "global", first: 1, last: 1},
				{kind: LineParam, name: "server min protocol", value: "SMB3", first: 2, last: 2}}},
		{"CRLF continuation", "a = x\\\r\ny\r\n",
			[]want{{kind: LineParam, name: "a", value: "xy", first: 1, last: 2}}},
		{"section text after ] ignored (#096)", "[share] # c\n[other]]\n",
			[]want{{kind: LineSection, section: "share", first: 1, last: 1},
				{kind: LineSection, section: "other", first: 2, last: 2}}},
		{"section name untrimmed", "[ my  share ]\n",
			[]want{{kind: LineSection, section: " my share ", first: 1, last: 1}}},
		{"no equals is ignored (#029)", "just words\n",
			[]want{{kind: LineNoEquals, first: 1, last: 1}}},
		{"empty name (#094)", "= x\n", []want{{kind: LineEmptyName, first: 1, last: 1}}},
		{"bracket without close (#093)", "[global\n", []want{{kind: LineBadSection, first: 1, last: 1}}},
		{"first = splits", "a = b = c\n", []want{{kind: LineParam, name: "a", value: "b = c", first: 1, last: 1}}},
		{"NUL ends the value (#114)", "a = AB\x00CD\n", []want{{kind: LineParam, name: "a", value: "AB", first: 1, last: 1}}},
		{"NUL before = hides the =", "a\x00 = b\n", []want{{kind: LineNoEquals, first: 1, last: 1}}},
		{"line starting with NUL is skipped", "\x00a = b\nc = d\n",
			[]want{{kind: LineParam, name: "c", value: "d", first: 2, last: 2}}},
		{"BOM is content (#077, #078)", "\xef\xbb\xbf[share]\n\xef\xbb\xbfa = b\n",
			[]want{{kind: LineNoEquals, first: 1, last: 1},
				{kind: LineParam, name: "\xef\xbb\xbfa", value: "b", first: 2, last: 2}}},
		{"no final newline", "a = b", []want{{kind: LineParam, name: "a", value: "b", first: 1, last: 1}}},
		{"trailing backslash at EOF stays", "a = b\\", []want{{kind: LineParam, name: "a", value: "b\\", first: 1, last: 1}}},
		{"vertical tab and form feed are blanks", "\va\f=\fb\n", []want{{kind: LineParam, name: "a", value: "b", first: 1, last: 1}}},
		{"empty value", "a =\n", []want{{kind: LineParam, name: "a", value: "", first: 1, last: 1}}},
		{"line numbers across blanks", "\n\n  \n[s]\n\n x = 1\n",
			[]want{{kind: LineSection, section: "s", first: 4, last: 4},
				{kind: LineParam, name: "x", value: "1", first: 6, last: 6}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Lex([]byte(tc.src))
			require.Len(t, got, len(tc.want))
			for i, w := range tc.want {
				g := got[i]
				require.Equal(t, w.kind, g.Kind, "kind of line %d", i)
				require.Equal(t, w.first, g.FirstLine, "first line of line %d", i)
				require.Equal(t, w.last, g.LastLine, "last line of line %d", i)
				if w.kind == LineParam {
					require.Equal(t, w.name, g.Name)
					require.Equal(t, w.value, g.Value)
				}
				if w.kind == LineSection {
					require.Equal(t, w.section, g.Section)
				}
			}
		})
	}
}

// The offsets are what the editor relies on: Start..End covers the logical
// line and its terminator, Eq points at the '=', ContentEnd stops before
// "\r\n" or "\n".
func TestLexOffsets(t *testing.T) {
	src := "[global]\r\n   min protocol = SMB3 \\\r\n  x\r\nlast = 1"
	lines := Lex([]byte(src))
	require.Len(t, lines, 3)
	p := lines[1]
	require.Equal(t, "   min protocol = SMB3 \\\r\n  x\r\n", src[p.Start:p.End])
	require.Equal(t, byte('='), src[p.Eq])
	require.Equal(t, "   min protocol = SMB3 \\\r\n  x", src[p.Start:p.ContentEnd])
	require.Equal(t, "SMB3 x", p.Value)
	last := lines[2]
	require.Equal(t, "last = 1", src[last.Start:last.End])
	require.Equal(t, len(src), last.ContentEnd)
	// The logical lines and the skipped lines between them tile the file.
	require.Equal(t, 0, lines[0].Start)
	require.Equal(t, lines[0].End, lines[1].Start)
}

func FuzzLex(f *testing.F) {
	for _, s := range []string{"[global]\na = b\n", "a = b\\\nc", "\x00", "[", "=", "a=\r\n\\\r\n", "#\\\n[x]", "a = b \\ \nc", "a  =\tb\r\n", "x = \\", "n=v\x00w\n", " [s] \r\n= v"} {
		f.Add([]byte(s))
	}
	// The other byte-level shortcuts of reading a file (and the version
	// parser) are fuzzed here too, on the same inputs: each is checked
	// against the plain definition it replaces.
	for _, s := range scanCountsSeeds {
		f.Add([]byte(s))
	}
	for _, s := range looksBinarySeeds {
		f.Add([]byte(s))
	}
	for _, s := range strListSeeds {
		f.Add([]byte(s))
	}
	for _, s := range versionSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		checkScanCounts(t, src)
		checkLooksBinary(t, src)
		checkStrListMakeV3(t, string(src))
		checkParseSambaVersion(t, string(src))
		prevEnd := 0
		lines := Lex(src)
		// The plain-line shortcut must give what tini.c's content loop
		// gives for every line.
		if ref := lex(src, false); !reflect.DeepEqual(lines, ref) {
			t.Fatalf("plain-line shortcut differs from the content loop:\n got %+v\nwant %+v", lines, ref)
		}
		for _, l := range lines {
			if l.Start < prevEnd || l.End < l.Start || l.End > len(src) || l.ContentEnd > l.End || l.ContentEnd < l.Start {
				t.Fatalf("bad offsets %+v (prev end %d, len %d)", l, prevEnd, len(src))
			}
			if l.FirstLine > l.LastLine {
				t.Fatalf("line numbers backwards: %+v", l)
			}
			if l.Kind == LineParam && (l.Eq < l.Start || l.Eq >= l.End || src[l.Eq] != '=') {
				t.Fatalf("Eq does not point at '=': %+v", l)
			}
			prevEnd = l.End
		}
	})
}
