package smbconf

import (
	"reflect"
	"strings"
	"testing"
)

// checkStrListMakeV3 checks strListMakeV3, which takes unquoted tokens as
// substrings, against the byte-at-a-time definition of next_token
// (lib/util/util_strlist_v3.c): separators skipped, quotes dropped and
// toggling whether a separator ends the token.
func checkStrListMakeV3(t *testing.T, s string) {
	var want []string
	if s != "" {
		want = []string{}
		i := 0
		for {
			for i < len(s) && strings.IndexByte(listSepV3, s[i]) >= 0 {
				i++
			}
			if i >= len(s) {
				break
			}
			var tok []byte
			quoted := false
			for i < len(s) && (quoted || strings.IndexByte(listSepV3, s[i]) < 0) {
				if s[i] == '"' {
					quoted = !quoted
				} else {
					tok = append(tok, s[i])
				}
				i++
			}
			want = append(want, string(tok))
			if i < len(s) {
				i++
			}
		}
	}
	if got := strListMakeV3(s); !reflect.DeepEqual(got, want) {
		t.Fatalf("strListMakeV3(%q) = %q, want %q", s, got, want)
	}
}

// strListSeeds are inputs FuzzLex starts from for checkStrListMakeV3.
var strListSeeds = []string{"", "a b", `"a b",c`, `x"y z"w  ,, "`, "\t\n\r,", `""`}
