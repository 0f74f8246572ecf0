package configs

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSplitCommand(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{in: "systemctl restart smbd", want: []string{"systemctl", "restart", "smbd"}},
		{in: "  smbcontrol \t smbd   reload-config \n", want: []string{"smbcontrol", "smbd", "reload-config"}},
		{in: "", want: nil},
		{in: "   ", want: nil},
		{in: `sh -c 'systemctl restart smbd || service smbd restart'`,
			want: []string{"sh", "-c", "systemctl restart smbd || service smbd restart"}},
		{in: `echo "a  b" 'c  d'`, want: []string{"echo", "a  b", "c  d"}},
		{in: `a"b"'c'd`, want: []string{"abcd"}},
		{in: `x '' ""`, want: []string{"x", "", ""}},
		{in: `a\ b`, want: []string{"a b"}},
		{in: `a\\b`, want: []string{`a\b`}},
		{in: `'a\nb'`, want: []string{`a\nb`}},
		{in: `"a\"b"`, want: []string{`a"b`}},
		{in: `"a\$b\` + "`" + `c\\d\e"`, want: []string{"a$b`c\\d\\e"}},
		{in: "a\\\nb", want: []string{"ab"}},
		{in: "\"a\\\nb\"", want: []string{"ab"}},
		{in: `$(reboot) ~ *`, want: []string{"$(reboot)", "~", "*"}},
		{in: `"it's"`, want: []string{"it's"}},
		{in: `'say "hi"'`, want: []string{`say "hi"`}},
		{in: `ü 'ß'`, want: []string{"ü", "ß"}},
		{in: `a 'b`, wantErr: "unterminated single quote"},
		{in: `a "b`, wantErr: "unterminated double quote"},
		{in: `a "b\"`, wantErr: "unterminated double quote"},
		{in: `a\`, wantErr: "ends with a backslash"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := SplitCommand(tc.in)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func FuzzSplitCommand(f *testing.F) {
	for _, s := range []string{"a b", `'a' "b\"" c\ d`, "\"", "'", `\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := SplitCommand(s)
		if err != nil {
			return
		}
		// Re-quoting every word with single quotes must give the same words.
		var b []byte
		for _, w := range words {
			b = append(b, '\'')
			// Byte by byte: a word may hold invalid UTF-8, which a
			// range over runes would turn into U+FFFD.
			for i := 0; i < len(w); i++ {
				if w[i] == '\'' {
					b = append(b, `'\''`...)
				} else {
					b = append(b, w[i])
				}
			}
			b = append(b, '\'', ' ')
		}
		again, err := SplitCommand(string(b))
		if err != nil {
			t.Fatalf("requoted %q: %v", b, err)
		}
		if len(again) != len(words) {
			t.Fatalf("%q -> %q -> %q", s, words, again)
		}
		for i := range words {
			if again[i] != words[i] {
				t.Fatalf("%q -> %q -> %q", s, words, again)
			}
		}
	})
}
