package test

// End-to-end differential test of the agent's "config" commands: the built
// binary against the installed testparm, both run as whole processes on the
// smb.conf corpus of configs/smbconf/testdata/diff (the library-level test,
// configs/smbconf/diff_test.go, asks many more parameters; this one checks
// that the command line prints the same bytes), and the bad-input cases:
// one line on stderr starting "agent: ", nothing on stdout, exit 3,
// and no hang.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/test/harness"
)

// cfgDiffPlaceholder is replaced by the corpus copy's absolute path, as in
// the library test.
const cfgDiffPlaceholder = "@DIFFDIR@"

// cfgDiffHang is a hang detector, not a performance bound: a whole process
// on a busy two-core machine.
const cfgDiffHang = 10 * time.Second

// cfgDiffGlobalGets are asked with "agent config get" on every corpus file
// (two in rotation per file, besides the first two always asked): protocol
// synonyms, the hidden smb encrypt synonym, and list values.
var cfgDiffGlobalGets = []string{
	"server min protocol", "protocol", "smb encrypt", "ntlm auth",
	"hosts allow", "smb ports", "client max protocol", "interfaces",
	"server signing", "map to guest",
}

// cfgDiffRun is one finished process.
type cfgDiffRun struct {
	stdout, stderr []byte
	code           int
	elapsed        time.Duration
}

// cfgDiffExec runs a command in dir with the hang detector. cred, if not
// nil, runs it as another user.
func cfgDiffExec(t *testing.T, dir string, cred *syscall.Credential, name string, args ...string) cfgDiffRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cfgDiffHang)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		cmd.Env = []string{"PATH=" + harness.ReleasePath("/usr/sbin:/usr/bin:/sbin:/bin"), "HOME=/nonexistent"}
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := cfgDiffRun{stdout: out.Bytes(), stderr: errb.Bytes(), elapsed: time.Since(start)}
	if ctx.Err() != nil {
		t.Fatalf("%s %s hung: killed after %v", filepath.Base(name), strings.Join(args, " "), cfgDiffHang)
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("run %s %s: %v", name, strings.Join(args, " "), err)
	}
	return r
}

// cfgDiffCopyCorpus copies the corpus to dst with the placeholder replaced,
// and returns the sorted top-level config files.
func cfgDiffCopyCorpus(t *testing.T, dst string) []string {
	t.Helper()
	src, err := filepath.Abs(filepath.Join("..", "configs", "smbconf", "testdata", "diff"))
	require.NoError(t, err)
	var confs []string
	err = filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if filepath.Dir(rel) == "." && strings.HasSuffix(rel, ".conf") {
			confs = append(confs, rel)
		}
		return os.WriteFile(filepath.Join(dst, rel), bytes.ReplaceAll(b, []byte(cfgDiffPlaceholder), []byte(dst)), 0o644)
	})
	require.NoError(t, err)
	sort.Strings(confs)
	return confs
}

// cfgDiffShares lists the shares of a testparm dump, in order.
func cfgDiffShares(dump []byte) []string {
	var shares []string
	for i, l := range strings.Split(string(dump), "\n") {
		if i > 0 && len(l) > 2 && l[0] == '[' && l[len(l)-1] == ']' && l != "[global]" {
			shares = append(shares, l[1:len(l)-1])
		}
	}
	return shares
}

// cfgDiffOneErrorLine checks the bad-input contract: exit 3, nothing on
// stdout, exactly one line on stderr starting "agent: ".
func cfgDiffOneErrorLine(t *testing.T, what string, r cfgDiffRun) {
	t.Helper()
	require.Equalf(t, 3, r.code, "%s: exit code (stderr %q)", what, r.stderr)
	require.Emptyf(t, r.stdout, "%s: stdout", what)
	require.Truef(t, bytes.HasPrefix(r.stderr, []byte("agent: ")), "%s: stderr %q must start with \"agent: \"", what, r.stderr)
	line := bytes.TrimSuffix(r.stderr, []byte("\n"))
	require.NotContainsf(t, string(line), "\n", "%s: stderr must be one line: %q", what, r.stderr)
	require.Greaterf(t, len(line), len("agent: ")+5, "%s: the line must say what is wrong: %q", what, r.stderr)
}

func TestConfigDiffE2E(t *testing.T) {
	tp, err := exec.LookPath("testparm")
	if err != nil {
		t.Skip("testparm (Samba) is not installed: the differential test needs it as its oracle")
	}
	work := t.TempDir()
	bin := requireAgent(t)
	dir := filepath.Join(work, "diff")
	files := cfgDiffCopyCorpus(t, dir)
	require.GreaterOrEqual(t, len(files), 110)

	t.Run("corpus", func(t *testing.T) {
		for i, f := range files {
			t.Run(f, func(t *testing.T) {
				t.Parallel()
				cfgDiffCompare(t, tp, bin, dir, f, i)
			})
		}
	})

	t.Run("bad-input", func(t *testing.T) {
		cfgDiffBadInput(t, tp, bin, dir)
	})
}

// cfgDiffCompare compares "agent config dump" and a few "agent config get"
// with testparm for one corpus file, stdout byte for byte.
func cfgDiffCompare(t *testing.T, tp, bin, dir, f string, i int) {
	want := cfgDiffExec(t, dir, nil, tp, "-s", f)
	got := cfgDiffExec(t, dir, nil, bin, "config", "dump", "--smb-conf", f)
	if f == "156-binary-junk-accepted.conf" {
		// Not smb.conf-like: read as testparm reads it (compared below),
		// but none of its lines is quoted on stderr.
		require.NotContainsf(t, string(got.stderr), "ELF", "%s: quoted the file", f)
	}
	if len(want.stdout) == 0 {
		// Samba refuses this file: the agent must say so, exit 3, and
		// print nothing on stdout. Warnings about earlier lines (unknown
		// parameters, ...) may come first on stderr, as testparm prints
		// them; the error is the last line.
		what := f + ": config dump of a file testparm refuses (" + lastStderrLine(want.stderr) + ")"
		require.Equalf(t, 3, got.code, "%s: exit code (stderr %q)", what, got.stderr)
		require.Emptyf(t, got.stdout, "%s: stdout", what)
		require.Truef(t, strings.HasPrefix(lastStderrLine(got.stderr), "agent: "), "%s: last stderr line of %q", what, got.stderr)
		return
	}
	if !bytes.Equal(want.stdout, got.stdout) {
		t.Errorf("%s: agent config dump differs from testparm -s (agent exit %d, stderr %q):\n%s",
			f, got.code, lastStderrLine(got.stderr), cfgDiffLines(want.stdout, got.stdout))
	}

	type get struct{ name, section string }
	gets := []get{{name: cfgDiffGlobalGets[0]}, {name: cfgDiffGlobalGets[1]}}
	for k := 0; k < 2; k++ {
		gets = append(gets, get{name: cfgDiffGlobalGets[2+(i+k)%(len(cfgDiffGlobalGets)-2)]})
	}
	if shares := cfgDiffShares(want.stdout); len(shares) > 0 {
		s := shares[len(shares)-1]
		gets = append(gets, get{"path", s}, get{"hosts allow", s}, get{"server smb encrypt", s},
			// global-only in a share: testparm prints nothing
			get{"server min protocol", s})
	}
	for _, g := range gets {
		targs := []string{"-s", f, "--parameter-name=" + g.name}
		aargs := []string{"config", "get", g.name, "--smb-conf", f}
		if g.section != "" {
			targs = append(targs, "--section-name="+g.section)
			aargs = append(aargs, "--section", g.section)
		}
		w := cfgDiffExec(t, dir, nil, tp, targs...)
		a := cfgDiffExec(t, dir, nil, bin, aargs...)
		what := fmt.Sprintf("%s: agent config get %q --section %q", f, g.name, g.section)
		if !bytes.Equal(w.stdout, a.stdout) {
			t.Errorf("%s: testparm printed %q, the agent %q (exit %d, stderr %q)", what, w.stdout, a.stdout, a.code, lastStderrLine(a.stderr))
			continue
		}
		if len(w.stdout) == 0 {
			// Nothing to print is an error for both: one line, non-zero.
			require.NotZerof(t, a.code, "%s: testparm exits %d printing nothing", what, w.code)
			require.Truef(t, strings.HasPrefix(lastStderrLine(a.stderr), "agent: "), "%s: last stderr line of %q", what, a.stderr)
		}
	}
}

func lastStderrLine(b []byte) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return lines[len(lines)-1]
}

// cfgDiffLines shows the first differing lines of two outputs, with
// a few lines of context.
func cfgDiffLines(want, got []byte) string {
	a := strings.Split(string(want), "\n")
	b := strings.Split(string(got), "\n")
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	var sb strings.Builder
	sb.WriteString("--- testparm\n+++ agent\n")
	for k := max(0, i-3); k < i; k++ {
		fmt.Fprintf(&sb, " %q\n", a[k])
	}
	for k := i; k < len(a) && k < i+8; k++ {
		fmt.Fprintf(&sb, "-%q\n", a[k])
	}
	for k := i; k < len(b) && k < i+8; k++ {
		fmt.Fprintf(&sb, "+%q\n", b[k])
	}
	return sb.String()
}

// cfgDiffBadInput runs the bad inputs through "config dump" and
// "config get".
func cfgDiffBadInput(t *testing.T, tp, bin, corpus string) {
	tmp := t.TempDir()

	// Binary garbage that Samba refuses: pseudo-random bytes from a fixed
	// seed (random bytes almost surely hold a "[" line without "]").
	garbage := filepath.Join(tmp, "garbage.conf")
	r := rand.New(rand.NewPCG(7, 11))
	g := make([]byte, 64<<10)
	for i := range g {
		g[i] = byte(r.UintN(256))
	}
	require.NoError(t, os.WriteFile(garbage, g, 0o644))
	tr := cfgDiffExec(t, tmp, nil, tp, "-s", garbage)
	require.Emptyf(t, tr.stdout, "the garbage must be something testparm refuses (it printed a dump, exit %d)", tr.code)

	// 100 MB: a valid-looking file far beyond any real smb.conf.
	big := filepath.Join(tmp, "big.conf")
	cfgDiffWriteBig(t, big, 100<<20)

	cases := []struct {
		name, path, dir string
	}{
		{"missing file", filepath.Join(tmp, "does-not-exist.conf"), tmp},
		{"directory", tmp, tmp},
		{"binary garbage", garbage, tmp},
		{"include loop", "140-include-two-file-loop.conf", corpus},
		{"self include", "139-include-self-loop.conf", corpus},
		{"100 MB file", big, tmp},
	}
	for _, c := range cases {
		r := cfgDiffExec(t, c.dir, nil, bin, "config", "dump", "--smb-conf", c.path)
		cfgDiffOneErrorLine(t, "config dump: "+c.name, r)
		r = cfgDiffExec(t, c.dir, nil, bin, "config", "get", "server min protocol", "--smb-conf", c.path)
		cfgDiffOneErrorLine(t, "config get: "+c.name, r)
	}

	t.Run("unreadable", func(t *testing.T) {
		cfgDiffUnreadable(t, bin)
	})
}

// cfgDiffWriteBig writes a file of at least size bytes: [global], then
// comment lines.
func cfgDiffWriteBig(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	w := bufio.NewWriterSize(f, 1<<20)
	_, err = w.WriteString("[global]\n\tworkgroup = BIG\n")
	require.NoError(t, err)
	line := "# " + strings.Repeat("padding ", 12) + "\n"
	for n := int64(0); n <= size; n += int64(len(line)) {
		_, err = w.WriteString(line)
		require.NoError(t, err)
	}
	require.NoError(t, w.Flush())
	require.NoError(t, f.Close())
}

// cfgDiffUnreadable: a file the agent's user may not read. Root reads any
// file, so as root the agent runs as nobody (uid/gid 65534) from a
// directory that user can enter; otherwise chmod 000 is enough.
func cfgDiffUnreadable(t *testing.T, bin string) {
	var cred *syscall.Credential
	dir := t.TempDir()
	if os.Geteuid() == 0 {
		cred = &syscall.Credential{Uid: 65534, Gid: 65534}
		// t.TempDir's parents are 0700: make a world-enterable directory
		// of our own for the binary and the file.
		d, err := os.MkdirTemp("", "cfgdiff-nobody-")
		require.NoError(t, err)
		t.Cleanup(func() { _ = os.RemoveAll(d) })
		require.NoError(t, os.Chmod(d, 0o755))
		dir = d
		b, err := os.ReadFile(bin)
		require.NoError(t, err)
		bin = filepath.Join(d, "agent")
		require.NoError(t, os.WriteFile(bin, b, 0o755))
	}
	p := filepath.Join(dir, "unreadable.conf")
	require.NoError(t, os.WriteFile(p, []byte("[global]\n\tworkgroup = SECRET\n"), 0o644))
	require.NoError(t, os.Chmod(p, 0))
	if cred == nil {
		if f, err := os.Open(p); err == nil {
			_ = f.Close()
			t.Skip("this user can read a mode-000 file and is not root: cannot test an unreadable file")
		}
	}
	r := cfgDiffExec(t, dir, cred, bin, "config", "dump", "--smb-conf", p)
	cfgDiffOneErrorLine(t, "config dump: unreadable file", r)
}
