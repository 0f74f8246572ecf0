package configs

import (
	"fmt"
	"strings"
)

// SplitCommand splits a command line into words as a POSIX shell does
// (XCU 2.2 Quoting, 2.6.5 Field Splitting), without any expansion: no
// variables, globs, tildes or command substitution. It is used for
// fix.restart_cmd and friends, which are then run without a shell, so
// "systemctl restart 'smbd.service'" and "sh -c 'a; b'" mean what they
// would mean typed at a prompt, and "$(reboot)" is just a word.
//
// Rules: unquoted blanks (space, tab, newline) separate words; a backslash
// outside quotes keeps the next character literally, and backslash-newline
// is removed; single quotes keep everything up to the next single quote;
// inside double quotes a backslash escapes only $ ` " \ and newline. ""
// and ” make an empty word. An unterminated quote or a trailing backslash
// is an error.
func SplitCommand(s string) ([]string, error) {
	var (
		words  []string
		cur    strings.Builder
		inWord bool
	)
	rs := []byte(s) // every special character is ASCII; other bytes pass through untouched
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case r == '\\':
			if i+1 >= len(rs) {
				return nil, fmt.Errorf("command %q ends with a backslash", s)
			}
			i++
			if rs[i] == '\n' {
				continue // line continuation
			}
			cur.WriteByte(rs[i])
			inWord = true
		case r == '\'':
			end := -1
			for j := i + 1; j < len(rs); j++ {
				if rs[j] == '\'' {
					end = j
					break
				}
			}
			if end < 0 {
				return nil, fmt.Errorf("command %q has an unterminated single quote", s)
			}
			cur.WriteString(string(rs[i+1 : end]))
			i = end
			inWord = true
		case r == '"':
			j := i + 1
			for ; j < len(rs) && rs[j] != '"'; j++ {
				if rs[j] == '\\' && j+1 < len(rs) {
					switch rs[j+1] {
					case '$', '`', '"', '\\':
						cur.WriteByte(rs[j+1])
						j++
						continue
					case '\n':
						j++
						continue
					}
				}
				cur.WriteByte(rs[j])
			}
			if j >= len(rs) {
				return nil, fmt.Errorf("command %q has an unterminated double quote", s)
			}
			i = j
			inWord = true
		default:
			cur.WriteByte(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
