package smbconf

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeBigConfig writes the same shape of configuration as
// test/bench/genconf.sh: n shares of about 15 lines each, spread over
// include files (relative includes resolved against dir, absolute nested
// ones), and returns the path of the top file and its total line count.
func writeBigConfig(tb testing.TB, dir string, n int) (string, int) {
	tb.Helper()
	must := func(err error) {
		if err != nil {
			tb.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "shares"), 0o755))
	var top strings.Builder
	fmt.Fprintf(&top, "# generated: %d shares\n[global]\n", n)
	for _, l := range []string{
		"workgroup = BENCH", "netbios name = BENCHSRV", "server role = standalone server",
		"server min protocol = SMB2_02", "server max protocol = SMB3", "client min protocol = SMB2",
		"ntlm auth = ntlmv2-only", "server signing = auto", "smb encrypt = if_required",
		"map to guest = Bad User", "load printers = no", "printing = bsd",
		"printcap name = /dev/null", "disable netbios = yes",
	} {
		top.WriteString("   " + l + "\n")
	}
	common := filepath.Join(dir, "common.conf")
	shareCommon := filepath.Join(dir, "share-common.conf")
	fmt.Fprintf(&top, "   include = %s\n", common)
	must(os.WriteFile(common, []byte("   ; global settings\n   socket options = TCP_NODELAY\n   deadtime = 15\n"), 0o644))
	must(os.WriteFile(shareCommon, []byte("   ; share settings\n   oplocks = yes\n   strict locking = auto\n"), 0o644))
	lines := 4 + 3 + 3
	parts := (n + 99) / 100
	for p := 0; p < parts; p++ {
		fmt.Fprintf(&top, "   include = shares/part-%02d.conf\n", p)
		var b strings.Builder
		fmt.Fprintf(&b, "# part %d\n", p)
		for i := p * 100; i < n && i < (p+1)*100; i++ {
			fmt.Fprintf(&b, "[share%04d]\n", i)
			fmt.Fprintf(&b, "   comment = Share number %d \\\n      continued on a second line\n", i)
			fmt.Fprintf(&b, "   path = %s/data/s%04d\n", dir, i)
			fmt.Fprintf(&b, "   read only = %s\n", map[bool]string{true: "no", false: "yes"}[i%2 == 1])
			fmt.Fprintf(&b, "   Browseable = %s\n", map[bool]string{true: "Yes", false: "No"}[i%3 != 0])
			fmt.Fprintf(&b, "   valid users = user%d, @group%d\n", i, i%7)
			fmt.Fprintf(&b, "   writeable = %s\n", map[bool]string{true: "yes", false: "no"}[i%5 != 0])
			fmt.Fprintf(&b, "   create mask = 0%o\n", 420+i%8)
			b.WriteString("   # a comment line\n")
			fmt.Fprintf(&b, "   hosts allow = 127.0.0.1 10.%d.0.0/16\n", i%256)
			b.WriteString("   force user = nobody\n   vfs objects = acl_xattr\n   veto files = /*.tmp/*.bak/\n")
			if i%100 == 99 || i == n-1 {
				fmt.Fprintf(&b, "   include = %s\n", shareCommon)
			}
			b.WriteString("\n")
		}
		s := b.String()
		lines += strings.Count(s, "\n")
		must(os.WriteFile(filepath.Join(dir, "shares", fmt.Sprintf("part-%02d.conf", p)), []byte(s), 0o644))
	}
	s := top.String()
	lines += strings.Count(s, "\n")
	path := filepath.Join(dir, "smb.conf")
	must(os.WriteFile(path, []byte(s), 0o644))
	return path, lines
}

// BenchmarkLoadBig loads a 1,000-share, ~15,000-line configuration with
// includes (the shape make bench compares against testparm -s).
func BenchmarkLoadBig(b *testing.B) {
	dir := b.TempDir()
	path, lines := writeBigConfig(b, dir, 1000)
	opts := LoadOptions{WorkDir: dir, Version: params().release, Hostname: "benchhost"}
	if _, err := Load(path, opts); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(lines), "lines")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Load(path, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDumpBig is the printing half of "agent config dump" on the same
// configuration.
func BenchmarkDumpBig(b *testing.B) {
	dir := b.TempDir()
	path, _ := writeBigConfig(b, dir, 1000)
	c, err := Load(path, LoadOptions{WorkDir: dir, Version: params().release, Hostname: "benchhost"})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := c.Dump(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadDumpBig is what "agent config dump" does after its process
// has started: load the 1,000-share configuration and print it. (The
// command runs with the collector off, see cmd/agent/main.go; here it is
// on, so time/op includes collections the command does not pay for.)
func BenchmarkLoadDumpBig(b *testing.B) {
	dir := b.TempDir()
	path, _ := writeBigConfig(b, dir, 1000)
	opts := LoadOptions{WorkDir: dir, Version: params().release, Hostname: "benchhost"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := Load(path, opts)
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Dump(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLexBig is the tokenizer alone over the concatenated files.
func BenchmarkLexBig(b *testing.B) {
	dir := b.TempDir()
	writeBigConfig(b, dir, 1000)
	var src []byte
	for _, f := range []string{"smb.conf", "common.conf", "share-common.conf"} {
		d, _ := os.ReadFile(filepath.Join(dir, f))
		src = append(src, d...)
	}
	parts, _ := filepath.Glob(filepath.Join(dir, "shares", "*.conf"))
	for _, f := range parts {
		d, _ := os.ReadFile(f)
		src = append(src, d...)
	}
	b.SetBytes(int64(len(src)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = Lex(src)
	}
}
