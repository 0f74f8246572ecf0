package smbconf

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes through the whole loader (lexer, include
// handling, parameter handlers, the post-load rules), then the dump and the
// lookups the agent makes. Whatever the input, Parse must not panic, must
// return either a Config or a *LoadError, and must be deterministic: the
// same bytes give the same dump and the same problems. Includes resolve in
// an empty temp directory, so an "include =" line reads nothing outside it.
func FuzzParse(f *testing.F) {
	seeds := []string{
		"[global]\nserver min protocol = SMB3\n[share]\npath = /srv\n",
		"min protocol = SMB2\r\n[a]\r\ncopy = a\r\n",
		"\xef\xbb\xbf[global]\n\tinclude = inc.conf\n",
		"[x]\nhosts allow = 127. EXCEPT 127.0.0.2\nvfs objects = fruit\nfruit:resource = xattr\n",
		"[global]\nlog level = 1 smb2:3\nsmb ports = 445 139\n[homes]\n[printers]\n",
		"config file = /nonexistent\n",
		"a = b\\\n c \\\n",
		"[global]\nserver role = dc\n",
		"[\n",
		"= x\n",
		"\x00\xff\xfe",
	}
	if matches, _ := filepath.Glob(filepath.Join("testdata", "diff", "*.conf")); len(matches) > 0 {
		for _, m := range matches[:min(len(matches), 40)] {
			if b, err := os.ReadFile(m); err == nil {
				seeds = append(seeds, string(b))
			}
		}
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	opts := LoadOptions{WorkDir: dir, Hostname: "fuzzhost", MaxFileSize: 1 << 20}
	f.Fuzz(func(t *testing.T, src []byte) {
		if bytes.Contains(src, []byte("/")) {
			// Absolute or relative include paths could read this
			// machine's files; the loader's include handling is
			// exercised with bare names in dir.
			src = bytes.ReplaceAll(src, []byte("/"), []byte("_"))
		}
		c1, err1 := Parse(src, filepath.Join(dir, "smb.conf"), opts)
		c2, err2 := Parse(src, filepath.Join(dir, "smb.conf"), opts)
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("not deterministic: %v vs %v", err1, err2)
		}
		if err1 != nil {
			if _, ok := err1.(*LoadError); !ok {
				t.Fatalf("error is %T, not *LoadError: %v", err1, err1)
			}
			if strings.Contains(err1.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err1.Error())
			}
		}
		if c1 == nil {
			return
		}
		var d1, d2 bytes.Buffer
		_ = c1.Dump(&d1)
		_ = c2.Dump(&d2)
		if !bytes.Equal(d1.Bytes(), d2.Bytes()) {
			t.Fatalf("dump not deterministic")
		}
		for _, sec := range append([]string{"global"}, c1.Sections()...) {
			for _, p := range []string{"server min protocol", "server max protocol", "min protocol",
				"server smb encrypt", "ntlm auth", "hosts allow", "path", "available", "smb ports"} {
				v, ok := c1.Lookup(sec, p)
				if ok && v.Origin.Line < 0 {
					t.Fatalf("negative origin line for %s in [%s]", p, sec)
				}
				var b bytes.Buffer
				_ = c1.PrintParameter(&b, p, sec)
			}
		}
	})
}
