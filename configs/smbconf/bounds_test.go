package smbconf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func loadWithin(t *testing.T, path string, opts LoadOptions) (*Config, error) {
	t.Helper()
	type res struct {
		c   *Config
		err error
	}
	done := make(chan res, 1)
	go func() { c, err := Load(path, opts); done <- res{c, err} }()
	select {
	case r := <-done:
		return r.c, r.err
	case <-time.After(60 * time.Second):
		t.Fatalf("Load(%s) blocked", path)
		return nil, nil
	}
}

func requireRefused(t *testing.T, err error, want string) *LoadError {
	t.Helper()
	var le *LoadError
	require.True(t, errors.As(err, &le), "want a *LoadError, got %v", err)
	assert.True(t, le.Refused, "LoadError.Refused for %q", le.Msg)
	assert.Contains(t, le.Error(), want)
	return le
}

// An attacker with write access to an included directory plants a FIFO
// (smbd would block on it) or points an include at a device.
func TestIncludeOfNonRegularFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.conf")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	conf := filepath.Join(dir, "smb.conf")

	require.NoError(t, os.WriteFile(conf, []byte("[global]\ninclude = "+fifo+"\n"), 0o600))
	_, err := loadWithin(t, conf, LoadOptions{WorkDir: dir, Hostname: "h"})
	requireRefused(t, err, "is a FIFO (named pipe), not a regular file")

	// Samba's file_exist() skips a device: the load goes on, and the
	// warning says what the file is rather than "not found".
	require.NoError(t, os.WriteFile(conf, []byte("[global]\ninclude = /dev/zero\n"), 0o600))
	c, err := loadWithin(t, conf, LoadOptions{WorkDir: dir, Hostname: "h"})
	require.NoError(t, err)
	var msgs []string
	for _, w := range c.Warnings {
		msgs = append(msgs, w.Msg)
	}
	assert.Contains(t, strings.Join(msgs, "\n"), "include file /dev/zero is a character device, not a regular file; Samba skips it silently")
	assert.NotContains(t, strings.Join(msgs, "\n"), "not found")

	// The top-level file itself.
	_, err = loadWithin(t, fifo, LoadOptions{WorkDir: dir, Hostname: "h"})
	requireRefused(t, err, "is a FIFO (named pipe), not a regular file")
	_, err = loadWithin(t, "/dev/zero", LoadOptions{WorkDir: dir, Hostname: "h"})
	requireRefused(t, err, "is a character device, not a regular file")
}

// The attack of the bound: 600,000 one-line sections (6 MB) took over a
// gigabyte to model. Refused before parsing, whether in one file or
// spread over includes.
func TestSectionAndLineBounds(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("[global]\n")
	for i := 0; i < MaxSections+1; i++ {
		fmt.Fprintf(&b, "[s%d]\n", i)
	}
	many := filepath.Join(dir, "many.conf")
	require.NoError(t, os.WriteFile(many, []byte(b.String()), 0o600))
	_, err := loadWithin(t, many, LoadOptions{WorkDir: dir, Hostname: "h"})
	requireRefused(t, err, fmt.Sprintf("too many sections: more than %d", MaxSections))

	// Half in each of two includes: the bound is on the whole load.
	half := filepath.Join(dir, "half.conf")
	var h strings.Builder
	for i := 0; i < MaxSections/2+1; i++ {
		fmt.Fprintf(&h, "[h%d]\n", i)
	}
	require.NoError(t, os.WriteFile(half, []byte(h.String()), 0o600))
	half2 := filepath.Join(dir, "half2.conf")
	require.NoError(t, os.WriteFile(half2, []byte(h.String()), 0o600))
	top := filepath.Join(dir, "top.conf")
	require.NoError(t, os.WriteFile(top, []byte("[global]\ninclude = "+half+"\n[x]\ninclude = "+half2+"\n"), 0o600))
	_, err = loadWithin(t, top, LoadOptions{WorkDir: dir, Hostname: "h"})
	requireRefused(t, err, "too many sections")

	lines := filepath.Join(dir, "lines.conf")
	require.NoError(t, os.WriteFile(lines, []byte("[global]\n"+strings.Repeat("comment = x\n", MaxLines)), 0o600))
	_, err = loadWithin(t, lines, LoadOptions{WorkDir: dir, Hostname: "h"})
	requireRefused(t, err, fmt.Sprintf("too many lines: more than %d", MaxLines))

	// In memory too.
	_, err = Parse([]byte(b.String()), "mem.conf", LoadOptions{WorkDir: dir, Hostname: "h"})
	requireRefused(t, err, "too many sections")

	// Just under the bound still loads: the bound is not a guess at
	// what real files hold.
	var ok strings.Builder
	ok.WriteString("[global]\n")
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&ok, "[share%d]\n\tpath = /srv/%d\n", i, i)
	}
	c, err := Parse([]byte(ok.String()), "ok.conf", LoadOptions{WorkDir: dir, Hostname: "h"})
	require.NoError(t, err)
	assert.Equal(t, 2000, len(c.Sections()))
}

func TestScanCounts(t *testing.T) {
	for _, c := range []struct {
		src             string
		lines, sections int
	}{
		{"", 0, 0},
		{"[a]", 1, 1},
		{"[a]\n  [b]\n\t[c]\nx = [d]\n", 4, 3},
		{"a\r\n[b]\r\n", 2, 1},
		{" \t\r\n\n [x", 3, 1},
		{"\n\n", 2, 0},
		{"a [b]\n\v[c]\n", 2, 0},
	} {
		l, s := scanCounts([]byte(c.src))
		assert.Equal(t, c.lines, l, "%q lines", c.src)
		assert.Equal(t, c.sections, s, "%q sections", c.src)
	}
}

// checkScanCounts checks the line-at-a-time scanCounts against the
// byte-at-a-time definition of what it counts.
func checkScanCounts(t *testing.T, src []byte) {
	wantLines, wantSections := 0, 0
	atStart := true
	for _, c := range src {
		switch {
		case c == '\n':
			wantLines++
			atStart = true
		case !atStart:
		case c == '[':
			wantSections++
			atStart = false
		case c != ' ' && c != '\t' && c != '\r':
			atStart = false
		}
	}
	if len(src) > 0 && src[len(src)-1] != '\n' {
		wantLines++
	}
	lines, sections := scanCounts(src)
	if lines != wantLines || sections != wantSections {
		t.Fatalf("scanCounts(%q) = %d lines, %d sections; want %d, %d", src, lines, sections, wantLines, wantSections)
	}
}

// scanCountsSeeds are inputs FuzzLex starts from for checkScanCounts.
var scanCountsSeeds = []string{"", "[a]", "[a]\n  [b]\n\t[c]\nx = [d]\n", " \t\r\n\n [x", "\r[\n \v["}

// checkLooksBinary checks looksBinary, which skips eight bytes at a time,
// against the byte-at-a-time count it stands for.
func checkLooksBinary(t *testing.T, src []byte) {
	n := min(len(src), 1<<16)
	ctl, first := 0, -1
	for i, c := range src[:n] {
		if (c < 0x20 && !isSpace(c)) || c == 0x7f {
			ctl++
			if first < 0 {
				first = i
			}
		}
	}
	wantBin := ctl >= 16 && ctl*100 >= n
	wantOff := 0
	if wantBin {
		wantOff = first
	}
	if off, bin := looksBinary(src); bin != wantBin || off != wantOff {
		t.Fatalf("looksBinary = %d, %v; want %d, %v (%d control bytes)", off, bin, wantOff, wantBin, ctl)
	}
}

// looksBinarySeeds are inputs FuzzLex starts from for checkLooksBinary.
var looksBinarySeeds = []string{"", "[global]\n\tpath = /x\r\n", strings.Repeat("\x00\x01\x7f abcdefgh", 20), strings.Repeat("abcdefg\x1f", 40), "\x7f"}

// --smb-conf pointed at a secret: it is read as Samba reads it (testparm
// parity holds for any input), and nothing of it appears in a message.
func TestNotSmbConfLikeIsNeverQuoted(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"shadow":   "root:$y$j9T$SecretHash0:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n",
		"password": "Hunter2-Secret\n",
		"key":      "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUSecret\n-----END OPENSSH PRIVATE KEY-----\n",
		"later":    "# comment\n; another\nSecretWord\n[global]\n",
		"badvalue": "SecretFirst\n[global]\nserver min protocol = Secret-Proto\n[Secret-share\n",
		"include":  "[global]\ninclude = " + filepath.Join(dir, "password") + "\n",
	} {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	}
	for _, name := range []string{"shadow", "password", "key", "later", "badvalue", "include"} {
		c, err := Load(filepath.Join(dir, name), LoadOptions{WorkDir: dir, Hostname: "h"})
		if err != nil {
			assert.NotContains(t, err.Error(), "Secret", name)
		}
		require.NotNil(t, c, name)
		var said []string
		for _, w := range append(c.Warnings, c.Fatal...) {
			assert.NotContains(t, w.String(), "Secret", name)
			said = append(said, w.String())
		}
		assert.Contains(t, strings.Join(said, "\n"), "does not look like smb.conf", name)
	}
	// smb.conf-like beginnings are read as before.
	for _, src := range []string{"", "# only a comment\n", "[global]\n", "\xef\xbb\xbf[global]\n",
		"\xef\xbb\xbf# c\n[global]\n", "workgroup = X\n", "  ; c\n\n  [homes]\n"} {
		_, err := Parse([]byte(src), "ok.conf", LoadOptions{WorkDir: dir, Hostname: "h"})
		assert.NoError(t, err, "%q", src)
	}
}

// A line that does not parse is quoted only as a bounded prefix.
func TestUnparsableLineQuotedAsABoundedPrefix(t *testing.T) {
	long := strings.Repeat("A", 5000) + "TAIL"
	c, err := Parse([]byte("[global]\n"+long+"\n"), "x.conf", LoadOptions{WorkDir: t.TempDir(), Hostname: "h"})
	require.NoError(t, err)
	require.NotEmpty(t, c.Warnings)
	for _, w := range c.Warnings {
		assert.Less(t, len(w.Msg), 200)
		assert.NotContains(t, w.Msg, "TAIL")
	}
}
