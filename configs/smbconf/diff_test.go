package smbconf

// The differential test: testparm is the oracle. For every hand-written
// config in testdata/diff/ and for a fixed-seed set of generated ones, the
// expected output is produced by running the installed testparm at test
// time (never written down), and compared byte for byte with what this
// package prints:
//
//	testparm -s FILE                                   vs  Config.Dump
//	testparm -s FILE --parameter-name N [--section-name S] vs  Config.PrintParameter
//
// testparm runs with the corpus directory as its working directory, because
// relative "include =" paths resolve against the process's CWD
// (source3/param/loadparm.c lp_include -> file_exist -> fopen), and Load gets
// the same directory as LoadOptions.WorkDir.
//
// The corpus is copied to a temporary directory first, with the token
// @DIFFDIR@ replaced by that directory's absolute path, so that absolute
// "include =" and "config file =" paths can be tested from a checkout
// anywhere.

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
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/test/harness"
)

// diffPlaceholder is replaced by the corpus copy's absolute path.
const diffPlaceholder = "@DIFFDIR@"

// reachabilityParams are the parameters that decide whether a client gets
// in (protocol range, signing, encryption, auth, ports, hosts lists), synonyms
// included, asked with --parameter-name (see queriesFor for which ones on
// which config).
var reachabilityParams = []string{
	"server min protocol", "server max protocol",
	"client min protocol", "client max protocol",
	"client ipc min protocol", "client ipc max protocol",
	"server signing", "client signing",
	"server smb encrypt", "smb encrypt",
	"ntlm auth", "lanman auth",
	"smb ports", "interfaces", "bind interfaces only",
	"hosts allow", "hosts deny",
	"map to guest", "restrict anonymous",
	"rpc start on demand helpers",
	"security", "server role",
	"min protocol", "max protocol", "protocol",
}

// shareParams are asked with --section-name for shares; the last one is
// global-only, which testparm refuses to print for a share.
var shareParams = []string{
	"server smb encrypt", "hosts allow", "hosts deny", "valid users",
	"path", "browseable", "available", "server min protocol",
}

// extraParams are asked (in [global], and in the shares asked when they are
// share parameters) only on configs that write them: the synonyms, inverse
// synonyms and special parameters whose --parameter-name output has quirks
// of its own (an inverse synonym prints the inverted value, include and
// config file print the expanded path).
var extraParams = []string{
	"read only", "writeable", "writable", "write ok", "guest ok", "public",
	"enable spoolss", "disable spoolss", "include", "config file",
	"workgroup", "netbios name", "server string", "log level", "comment",
	"vfs objects", "printable", "copy", "mangling char", "create mask",
}

// extraShareParams are the share parameters among extraParams.
var extraShareParams = []string{
	"read only", "writeable", "writable", "write ok", "guest ok", "public",
	"include", "comment", "vfs objects", "printable", "copy", "mangling char", "create mask",
}

// maxSharesAsked bounds the --section-name queries per config: the first and
// the last share, which is where merging, inheritance and include splicing
// differ.
const maxSharesAsked = 2

// testparmTimeout is a hang detector for one testparm run.
const testparmTimeout = 30 * time.Second

// requireTestparm returns testparm's path or skips the test.
func requireTestparm(t testing.TB) string {
	t.Helper()
	tp, err := exec.LookPath("testparm")
	if err != nil {
		t.Skip("testparm (Samba) is not installed: the differential tests need it as their oracle")
	}
	return tp
}

// tpResult is one testparm run.
type tpResult struct {
	stdout, stderr []byte
	code           int
}

// runTestparm runs testparm in dir. A non-zero exit is a result, not an
// error: testparm exits 1 both when the load fails and when a logic check
// fails after a complete dump (source3/utils/testparm.c: security = ads
// without a realm, for example).
func runTestparm(tp, dir string, args ...string) (tpResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), testparmTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, tp, args...)
	cmd.Dir = dir
	cmd.Stdin = nil // testparm -s never prompts
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := tpResult{stdout: out.Bytes(), stderr: errb.Bytes()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ctx.Err() == nil:
		r.code = ee.ExitCode()
	default:
		return r, fmt.Errorf("testparm %s in %s: %w", strings.Join(args, " "), dir, err)
	}
	return r, nil
}

// lastLine is the last non-empty line of testparm's stderr, for messages.
func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return lines[len(lines)-1]
}

// copyCorpus copies testdata/diff into a new temporary directory, replacing
// the placeholder in every file, and returns the directory and the sorted
// top-level *.conf files (the include files live under inc/).
func copyCorpus(t testing.TB) (string, []string) {
	t.Helper()
	src, err := filepath.Abs(filepath.Join("testdata", "diff"))
	require.NoError(t, err)
	dst := filepath.Join(t.TempDir(), "diff")
	var confs []string
	err = filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		b = bytes.ReplaceAll(b, []byte(diffPlaceholder), []byte(dst))
		if filepath.Dir(rel) == "." && strings.HasSuffix(rel, ".conf") {
			confs = append(confs, rel)
		}
		return os.WriteFile(target, b, 0o644)
	})
	require.NoError(t, err, "copy the corpus")
	sort.Strings(confs)
	return dst, confs
}

// TestDiffCorpusShape keeps the corpus honest: enough hand-written cases,
// each opening with a comment that says what it tests (a UTF-8 BOM may come
// first: that is what some of them test).
func TestDiffCorpusShape(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join("testdata", "diff"))
	require.NoError(t, err)
	n := 0
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".conf") {
			continue
		}
		n++
		b, err := os.ReadFile(filepath.Join("testdata", "diff", e.Name()))
		require.NoError(t, err)
		b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
		require.Truef(t, bytes.HasPrefix(b, []byte("# tests: ")),
			"%s must start with a \"# tests: ...\" comment saying what it tests", e.Name())
	}
	require.GreaterOrEqual(t, n, 110, "hand-written corpus files")
}

// diffCase is one config to compare: a file in dir, and for generated ones
// the source, printed on failure so that the case can be reproduced.
type diffCase struct {
	dir, file string
	source    []byte
}

// parity counts, per test, how many dumps and values were byte-identical
// to testparm's; the totals are logged as the release's parity figure.
type parity struct{ dumps, dumpsOK, values, valuesOK atomic.Int64 }

func (p *parity) report(t *testing.T, what string) {
	t.Cleanup(func() {
		line := fmt.Sprintf("parity with testparm %s on %s: dumps %d/%d, values %d/%d", oracleVersion.Raw, what,
			p.dumpsOK.Load(), p.dumps.Load(), p.valuesOK.Load(), p.values.Load())
		t.Log(line)
		// make test-samba collects the figures of every package here.
		if path := os.Getenv("SAMBA_PARITY_LOG"); path != "" {
			f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
			if err == nil {
				fmt.Fprintln(f, line)
				f.Close()
			}
		}
	})
}

var corpusParity, generatedParity parity

func TestDiffCorpus(t *testing.T) {
	tp := requireTestparm(t)
	corpusParity.report(t, "the corpus")
	dir, files := copyCorpus(t)
	for _, f := range files {
		c := diffCase{dir: dir, file: f}
		t.Run(f, func(t *testing.T) {
			t.Parallel()
			compareWithTestparm(t, tp, c, &corpusParity)
		})
	}
}

// generatedConfigs is how many configs TestDiffGenerated makes, and
// genSeed the fixed seed that makes them the same on every run.
const (
	generatedConfigs = 100
	genSeed          = 20240521
)

func TestDiffGenerated(t *testing.T) {
	tp := requireTestparm(t)
	generatedParity.report(t, "the generated configs")
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "inc"), 0o755))
	for i := 0; i < generatedConfigs; i++ {
		files := generateConfig(i)
		for name, b := range files {
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o644))
		}
		name := fmt.Sprintf("gen-%03d.conf", i)
		c := diffCase{dir: dir, file: name, source: files[name]}
		var incs []string
		for inc := range files {
			if inc != name {
				incs = append(incs, inc)
			}
		}
		sort.Strings(incs)
		for _, inc := range incs {
			c.source = append(c.source, fmt.Sprintf("\n--- %s ---\n%s", inc, files[inc])...)
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			compareWithTestparm(t, tp, c, &generatedParity)
		})
	}
}

// compareWithTestparm runs the dump and every query through testparm and
// through the package, and reports every difference (not just the first).
func compareWithTestparm(t *testing.T, tp string, c diffCase, par *parity) {
	path := filepath.Join(c.dir, c.file)
	want, err := runTestparm(tp, c.dir, "-s", c.file)
	require.NoError(t, err)
	failed := false
	defer func() {
		if failed && c.source != nil {
			t.Logf("source of %s:\n%s", c.file, numbered(c.source))
		}
	}()

	cfg, err := Load(path, LoadOptions{Version: oracleVersion, WorkDir: c.dir})
	if len(want.stdout) == 0 {
		// Samba refuses the file: stdout is empty for the dump and for
		// every --parameter-name (one invalid value of a checked type fails
		// the whole load, source3/param/loadparm.c). Refusing it too counts
		// as an identical (empty) dump.
		par.dumps.Add(1)
		if err != nil {
			par.dumpsOK.Add(1)
		}
		if err == nil {
			failed = true
			t.Errorf("%s: testparm refuses it (exit %d, %q) but Load accepted it", c.file, want.code, lastLine(want.stderr))
			return
		}
		msg := err.Error()
		var le *LoadError
		if !errors.As(err, &le) || strings.Contains(msg, "\n") {
			t.Errorf("%s: Load error must be a one-line *LoadError, got %T %q", c.file, err, msg)
		}
		if cfg == nil {
			t.Errorf("%s: Load must return the partial config alongside a Samba-fatal error (%q)", c.file, msg)
		}
		return
	}
	if err != nil {
		failed = true
		t.Errorf("%s: testparm loads it but Load refused it: %v", c.file, err)
		return
	}
	require.NotNil(t, cfg)

	var got bytes.Buffer
	if err := cfg.Dump(&got); err != nil {
		t.Errorf("%s: Dump: %v", c.file, err)
	}
	par.dumps.Add(1)
	if bytes.Equal(want.stdout, got.Bytes()) {
		par.dumpsOK.Add(1)
	}
	if !bytes.Equal(want.stdout, got.Bytes()) {
		failed = true
		t.Errorf("%s: Dump differs from testparm -s:\n%s", c.file, lineDiff(want.stdout, got.Bytes()))
	}

	text, err := configText(c.dir, c.file)
	require.NoError(t, err)
	for _, q := range queriesFor(c.file, text, want.stdout) {
		args := []string{"-s", c.file, "--parameter-name=" + q.name}
		if q.section != "" {
			args = append(args, "--section-name="+q.section)
		}
		w, err := runTestparm(tp, c.dir, args...)
		require.NoError(t, err)
		var g bytes.Buffer
		perr := cfg.PrintParameter(&g, q.name, q.section)
		what := fmt.Sprintf("%s: --parameter-name=%q --section-name=%q", c.file, q.name, q.section)
		par.values.Add(1)
		if bytes.Equal(w.stdout, g.Bytes()) {
			par.valuesOK.Add(1)
		}
		if !bytes.Equal(w.stdout, g.Bytes()) {
			failed = true
			t.Errorf("%s: testparm printed %q, PrintParameter printed %q (err %v)", what, w.stdout, g.Bytes(), perr)
			continue
		}
		// testparm prints nothing and exits 1 for an unknown parameter or
		// section and for a global parameter asked in a share; the
		// contract says PrintParameter errors exactly then.
		if len(w.stdout) == 0 && perr == nil {
			failed = true
			t.Errorf("%s: testparm printed nothing (%q) but PrintParameter returned no error", what, lastLine(w.stderr))
		}
		if len(w.stdout) > 0 && perr != nil {
			failed = true
			t.Errorf("%s: output matches but PrintParameter returned an error: %v", what, perr)
		}
	}
}

// query is one --parameter-name run; section "" means no --section-name.
type query struct{ name, section string }

// synonymGroups are the spellings of one parameter among the names asked:
// a config that writes any of them gets every one of them asked.
var synonymGroups = [][]string{
	{"server min protocol", "min protocol"},
	{"server max protocol", "max protocol", "protocol"},
	{"server smb encrypt", "smb encrypt"},
	{"hosts allow", "allow hosts"},
	{"hosts deny", "deny hosts"},
	{"path", "directory"},
	{"browseable", "browsable"},
}

// spellings returns every name of the parameter called name.
func spellings(name string) []string {
	for _, g := range synonymGroups {
		for _, n := range g {
			if n == name {
				return g
			}
		}
	}
	return []string{name}
}

// normName drops case, blanks and backslashes, the way Samba compares
// parameter names (whitespace-blind strwicmp) after tini.c has joined
// continued lines.
func normName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f' || c == '\\':
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// configText returns the normalized text of a config and of every include
// file it can reach (any file under inc/ named in text already collected;
// all of them when an include path uses a %-substitution).
func configText(dir, file string) (string, error) {
	main, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return "", err
	}
	raw := string(main)
	incs, _ := filepath.Glob(filepath.Join(dir, "inc", "*"))
	used := map[string]bool{}
	for changed := true; changed; {
		changed = false
		for _, p := range incs {
			base := filepath.Base(p)
			if used[p] || !(strings.Contains(raw, base) || strings.Contains(raw, "%")) {
				continue
			}
			b, err := os.ReadFile(p)
			if err != nil {
				continue // a directory, or unreadable: testparm skips it too
			}
			used[p] = true
			raw += "\n" + string(b)
			changed = true
		}
	}
	return normName(raw), nil
}

// queriesFor chooses the --parameter-name runs for a config whose dump
// testparm printed. testparm costs ~15 ms a run, so asking all 25
// reachability names and 8 share names of every config would take minutes;
// instead each config gets:
//   - in [global], every reachability parameter the config or its includes
//     write under any spelling (with all its spellings), plus three of the
//     others in rotation, so that unset parameters and their defaults are
//     asked across the corpus;
//   - for the first and the last share testparm lists, the share parameters
//     the text mentions, "path", and on the first share one global-only
//     parameter (testparm prints nothing for it there);
//   - the parameters of extraParams the text mentions, in [global] and in
//     the shares asked, and the first parametric option of [global] spelled
//     in upper case with blanks around the ':';
//   - two of the four section-name edge cases in rotation: the first share
//     upper-cased, "GLOBAL", "globals" (not accepted there), an unknown share.
func queriesFor(file, text string, dump []byte) []query {
	seed := 0
	for i := 0; i < len(file); i++ {
		seed = seed*31 + int(file[i])
	}
	if seed < 0 {
		seed = -seed
	}
	mentioned := func(name string) bool {
		for _, n := range spellings(name) {
			if strings.Contains(text, normName(n)) {
				return true
			}
		}
		return false
	}
	var qs []query
	var rest []string
	for _, n := range reachabilityParams {
		if mentioned(n) {
			qs = append(qs, query{name: n})
		} else {
			rest = append(rest, n)
		}
	}
	for k := 0; k < 3 && k < len(rest); k++ {
		qs = append(qs, query{name: rest[(seed+k*7)%len(rest)]})
	}
	for _, n := range extraParams {
		if mentioned(n) {
			qs = append(qs, query{name: n})
		}
	}
	// Parametric options are found case- and blank-insensitively: ask the
	// first one the dump shows in [global] upper-cased with extra blanks.
	if k := firstParametric(dump); k != "" {
		qs = append(qs, query{name: strings.ToUpper(strings.Replace(k, ":", " : ", 1))})
	}
	shares := dumpShares(dump)
	asked := shares
	if len(shares) > maxSharesAsked {
		asked = []string{shares[0], shares[len(shares)-1]}
	}
	for i, s := range asked {
		for _, n := range shareParams {
			if n == "path" || (n == "server min protocol" && i == 0) ||
				(n != "server min protocol" && mentioned(n)) {
				qs = append(qs, query{name: n, section: s})
			}
		}
		for _, n := range extraShareParams {
			if mentioned(n) {
				qs = append(qs, query{name: n, section: s})
			}
		}
	}
	edge := []query{
		// "globals" is accepted as a section header but not as
		// --section-name (observed with testparm 4.17.12).
		{name: "hosts allow", section: "globals"},
		{name: "server max protocol", section: "GLOBAL"},
		{name: "path", section: "no such share"},
	}
	if len(shares) > 0 {
		// Section names match case-insensitively (lp_servicenumber).
		edge = append(edge, query{name: "path", section: strings.ToUpper(shares[0])})
	}
	for k := 0; k < 2; k++ {
		qs = append(qs, edge[(seed+k)%len(edge)])
	}
	return qs
}

// firstParametric returns the key of the first parametric option in the
// [global] part of a dump, other than the "idmap config * : backend" that
// is always there.
func firstParametric(dump []byte) string {
	for _, l := range strings.Split(string(dump), "\n") {
		if strings.HasPrefix(l, "[") && l != "[global]" {
			return ""
		}
		k, _, ok := strings.Cut(strings.TrimPrefix(l, "\t"), " = ")
		if ok && strings.Contains(k, ":") && k != "idmap config * : backend" {
			return k
		}
	}
	return ""
}

// dumpShares returns the share names in the order testparm printed them.
func dumpShares(dump []byte) []string {
	var shares []string
	seenGlobal := false
	for _, l := range strings.Split(string(dump), "\n") {
		if len(l) < 2 || l[0] != '[' || l[len(l)-1] != ']' {
			continue
		}
		if !seenGlobal {
			seenGlobal = true // the first header is always [global]
			continue
		}
		shares = append(shares, l[1:len(l)-1])
	}
	return shares
}

// numbered prefixes each line with its number, for a failing generated
// config.
func numbered(b []byte) string {
	var sb strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for i := 1; sc.Scan(); i++ {
		fmt.Fprintf(&sb, "%4d| %q\n", i, sc.Text())
	}
	return sb.String()
}

// lineDiff renders a unified-style diff of two outputs, "-" for testparm
// and "+" for the package, with three lines of context. Lines are shown
// with %q when they hold bytes a terminal would hide.
func lineDiff(want, got []byte) string {
	a := strings.SplitAfter(string(want), "\n")
	b := strings.SplitAfter(string(got), "\n")
	if len(a)*len(b) > 4_000_000 {
		for i := 0; i < len(a) && i < len(b); i++ {
			if a[i] != b[i] {
				return fmt.Sprintf("first difference at line %d:\n-%s+%s", i+1, showLine(a[i]), showLine(b[i]))
			}
		}
		return fmt.Sprintf("one output is a prefix of the other (%d vs %d lines)", len(a), len(b))
	}
	// Longest common subsequence table, from the end.
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type op struct {
		kind byte
		line string
	}
	var ops []op
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			ops = append(ops, op{' ', a[i]})
			i++
			j++
		case j < len(b) && (i == len(a) || lcs[i][j+1] >= lcs[i+1][j]):
			ops = append(ops, op{'+', b[j]})
			j++
		default:
			ops = append(ops, op{'-', a[i]})
			i++
		}
	}
	var sb strings.Builder
	sb.WriteString("--- testparm\n+++ smbconf\n")
	const context = 3
	shown := 0
	for k, o := range ops {
		if o.kind == ' ' {
			near := false
			for d := -context; d <= context; d++ {
				if k+d >= 0 && k+d < len(ops) && ops[k+d].kind != ' ' {
					near = true
					break
				}
			}
			if !near {
				continue
			}
		}
		if shown++; shown > 60 {
			sb.WriteString("... (diff truncated)\n")
			break
		}
		sb.WriteByte(o.kind)
		sb.WriteString(showLine(o.line))
	}
	return sb.String()
}

func showLine(l string) string {
	body := strings.TrimSuffix(l, "\n")
	for _, r := range body {
		if r == '\uFFFD' || (r < 0x20 && r != '\t') || r == 0x7f {
			return fmt.Sprintf("%q\n", body)
		}
	}
	if !strings.HasSuffix(l, "\n") {
		return body + "  (no newline at end)\n"
	}
	return l
}

// ---- the generator ----

// genParam is one parameter the generator can write: its spellings
// (canonical name first, then synonyms), whether it may stand in a share,
// the values Samba accepts and a few it refuses (used in about one config in
// ten, to check that those configs fail to load on both sides).
type genParam struct {
	names []string
	local bool
	vals  []string
	bad   []string
	enum  bool // values compare whitespace-blind, so inner blanks may be added
}

var (
	genProto = []string{"SMB3", "SMB3_11", "SMB3_02", "SMB3_00", "SMB2", "SMB2_10", "SMB2_02",
		"NT1", "LANMAN2", "LANMAN1", "CORE", "COREPLUS", "CORE+", "default"}
	genSign = []string{"default", "No", "False", "0", "Off", "disabled", "if_required", "Yes",
		"True", "1", "On", "enabled", "auto", "desired", "required", "mandatory", "force",
		"forced", "enforced"}
	genBool = []string{"yes", "no", "true", "false", "on", "off", "1", "0", "Yes", "NO"}
)

var genParams = []genParam{
	{names: []string{"server min protocol", "min protocol"}, vals: genProto, bad: []string{"SMB2_22", "SMB4"}, enum: true},
	{names: []string{"server max protocol", "max protocol", "protocol"}, vals: genProto, bad: []string{"SMB3_10"}, enum: true},
	{names: []string{"client min protocol"}, vals: genProto, bad: []string{"SMB2_24"}, enum: true},
	{names: []string{"client max protocol"}, vals: genProto, enum: true},
	{names: []string{"client ipc min protocol"}, vals: genProto, enum: true},
	{names: []string{"client ipc max protocol"}, vals: genProto, enum: true},
	{names: []string{"server signing"}, vals: genSign, bad: []string{"maybe"}, enum: true},
	{names: []string{"client signing"}, vals: genSign, enum: true},
	{names: []string{"client ipc signing"}, vals: genSign, enum: true},
	{names: []string{"client smb encrypt"}, vals: genSign, enum: true},
	{names: []string{"server smb encrypt", "smb encrypt"}, local: true, vals: genSign, bad: []string{"always"}, enum: true},
	{names: []string{"ntlm auth"}, vals: []string{"yes", "no", "disabled", "ntlmv2-only", "ntlmv1-permitted",
		"mschapv2-and-ntlmv2-only", "true", "0"}, bad: []string{"ntlmv1"}, enum: true},
	{names: []string{"lanman auth"}, vals: genBool, bad: []string{"y"}, enum: true},
	{names: []string{"bind interfaces only"}, vals: genBool, enum: true},
	{names: []string{"rpc start on demand helpers"}, vals: genBool, enum: true},
	{names: []string{"disable netbios"}, vals: genBool, enum: true},
	{names: []string{"smb ports"}, vals: []string{"445", "139", "445 139", "139, 445", "445;139", "4445"}, bad: []string{""}},
	{names: []string{"interfaces"}, vals: []string{"lo", "lo eth0", "127.0.0.1/8", `"lo" 10.0.0.1/24`, "lo, eth0;eth1", ""}},
	{names: []string{"map to guest"}, vals: []string{"Never", "Bad User", "bad user", "BadPassword", "Bad Uid"}, bad: []string{"sometimes"}, enum: true},
	{names: []string{"restrict anonymous"}, vals: []string{"0", "1", "2", "010", "0x2"}},
	{names: []string{"security"}, vals: []string{"auto", "user", "USER", "domain", "ads"}, bad: []string{"share"}, enum: true},
	{names: []string{"server role"}, vals: []string{"auto", "standalone", "standalone server", "member server",
		"member", "classic primary domain controller"}, enum: true},
	{names: []string{"workgroup"}, vals: []string{"WORKGROUP", "corp", "Lab Net", "x"}},
	{names: []string{"server string"}, vals: []string{"Samba %v", "file server", "", "a\tb"}},
	{names: []string{"hosts allow", "allow hosts"}, local: true, vals: []string{"10.0.0.0/8", "192.168.1. 127.0.0.1",
		"ALL EXCEPT 10.1.", "10.0.0.1, 10.0.0.2", "LOCAL .example.com", ""}},
	{names: []string{"hosts deny", "deny hosts"}, local: true, vals: []string{"ALL", "10.9.", "0.0.0.0/0", "192.168.7.0/255.255.255.0", ""}},
	{names: []string{"valid users"}, local: true, vals: []string{"alice", "@staff alice", `"bob smith"`, "", "+grp"}},
	{names: []string{"path", "directory"}, local: true, vals: []string{"/srv/x", "/tmp", "/srv/%S", ""}},
	{names: []string{"browseable", "browsable"}, local: true, vals: genBool, bad: []string{"maybe"}, enum: true},
	{names: []string{"available"}, local: true, vals: genBool, enum: true},
	{names: []string{"read only", "writeable", "writable", "write ok"}, local: true, vals: genBool, enum: true},
	{names: []string{"guest ok", "public"}, local: true, vals: genBool, enum: true},
	{names: []string{"comment"}, local: true, vals: []string{"hello", "a # b", "", "x;y", "two  blanks"}},
	{names: []string{"fruit:aapl", "Fruit : AAPL"}, local: true, vals: []string{"yes", "no"}},
	{names: []string{"rpc_server:srvsvc", "RPC_SERVER:srvsvc"}, vals: []string{"embedded", "external"}},
	{names: []string{"foo bar", "server_min_protocol"}, local: true, vals: []string{"1", "x"}},
}

var genShareNames = []string{"data", "public", "Data", "my share", "homes", "scans", "Share2", "print$"}

// gen wraps the random source with the helpers the generator needs.
type gen struct {
	r   *rand.Rand
	idx int
}

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

func (g *gen) pick(s []string) string { return s[g.r.IntN(len(s))] }

// name spells a parameter name the way people (and typos Samba forgives)
// do: random letter case, blank runs, blanks removed or added (names
// compare ignoring case and all whitespace: lib/param/loadparm.c
// lpcfg_map_parameter uses strwicmp).
func (g *gen) name(p genParam) string {
	n := g.pick(p.names)
	if g.chance(0.25) {
		b := []byte(n)
		for i := range b {
			if g.chance(0.3) && b[i] >= 'a' && b[i] <= 'z' {
				b[i] -= 'a' - 'A'
			}
		}
		n = string(b)
	}
	if g.chance(0.1) {
		n = strings.Replace(n, " ", g.pick([]string{"  ", "\t", ""}), 1)
	}
	if g.chance(0.05) && len(n) > 2 {
		k := 1 + g.r.IntN(len(n)-1)
		n = n[:k] + " " + n[k:]
	}
	return n
}

func (g *gen) value(p genParam, bad bool) string {
	if bad && len(p.bad) > 0 {
		return g.pick(p.bad)
	}
	v := g.pick(p.vals)
	if p.enum && len(v) > 2 {
		if g.chance(0.15) {
			v = strings.ToLower(v)
		}
		if g.chance(0.08) {
			k := 1 + g.r.IntN(len(v)-1)
			v = v[:k] + " " + v[k:]
		}
	}
	return v
}

// line formats "name = value" with random indentation and blanks around
// '=', sometimes trailing blanks, sometimes split by a continuation.
func (g *gen) line(name, value string) string {
	l := g.pick([]string{"", "\t", "   ", " \t"}) + name +
		g.pick([]string{" = ", "=", "  =\t", "= ", " =  "}) + value
	if g.chance(0.1) {
		l += g.pick([]string{" ", "\t", "  "})
	}
	if g.chance(0.06) && len(l) > 3 {
		k := 1 + g.r.IntN(len(l)-2)
		l = l[:k] + "\\\n" + l[k:]
	}
	return l + "\n"
}

func (g *gen) comment() string {
	return g.pick([]string{"# a comment\n", "; semicolon comment\n", "\t# indented = not a param\n",
		"#c \\\n", "\n", "   \n", "words without an equals sign\n"})
}

// params writes n random parameters for a share (local) or [global].
func (g *gen) params(sb *strings.Builder, n int, inShare bool, bad *bool) {
	for i := 0; i < n; i++ {
		p := genParams[g.r.IntN(len(genParams))]
		if inShare && !p.local && !g.chance(0.15) {
			continue // a global parameter in a share is rare (and ignored)
		}
		useBad := *bad && len(p.bad) > 0 && (p.local || !inShare)
		if useBad {
			*bad = false
		}
		sb.WriteString(g.line(g.name(p), g.value(p, useBad)))
		if g.chance(0.12) {
			sb.WriteString(g.comment())
		}
	}
}

// generateConfig returns config number idx and its include files, keyed by
// path relative to the directory testparm runs in. The same idx always
// gives the same bytes.
func generateConfig(idx int) map[string][]byte {
	g := &gen{r: rand.New(rand.NewPCG(genSeed, uint64(idx))), idx: idx}
	files := map[string][]byte{}
	main := fmt.Sprintf("gen-%03d.conf", idx)
	bad := g.chance(0.1)
	var sb strings.Builder
	fmt.Fprintf(&sb, "# generated config %d (seed %d)\n", idx, genSeed)

	if !g.chance(0.1) {
		sb.WriteString(g.pick([]string{"[global]", "[GLOBAL]", "[ global ]", "[globals]", "[Global]"}) + "\n")
	}
	g.params(&sb, 3+g.r.IntN(8), false, &bad)
	if g.chance(0.3) {
		sb.WriteString(g.line("include", g.include(files, false)))
	}

	var opened []string
	for s, n := 0, 1+g.r.IntN(4); s < n; s++ {
		name := g.pick(genShareNames)
		if len(opened) > 0 && g.chance(0.2) {
			// Reopen an earlier share, maybe in another case: it merges.
			name = opened[g.r.IntN(len(opened))]
			if g.chance(0.5) {
				name = strings.ToUpper(name)
			}
		}
		opened = append(opened, name)
		fmt.Fprintf(&sb, "[%s]\n", name)
		if g.chance(0.8) {
			sb.WriteString(g.line("path", "/srv/"+strings.ReplaceAll(name, " ", "_")))
		}
		g.params(&sb, 2+g.r.IntN(5), true, &bad)
		if g.chance(0.15) {
			sb.WriteString(g.line("include", g.include(files, true)))
		}
		if g.chance(0.15) {
			sb.WriteString("[global]\n")
			g.params(&sb, 1+g.r.IntN(3), false, &bad)
		}
	}
	if bad {
		// No parameter with a refused value came up: force one.
		sb.WriteString("[global]\n" + g.line("server min protocol", "SMB2_22"))
	}

	b := []byte(sb.String())
	switch {
	case g.chance(0.15):
		b = bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
	case g.chance(0.05):
		// Mixed line ends: CRLF on every other line.
		lines := bytes.SplitAfter(b, []byte("\n"))
		for i := range lines {
			if i%2 == 1 {
				lines[i] = bytes.Replace(lines[i], []byte("\n"), []byte("\r\n"), 1)
			}
		}
		b = bytes.Join(lines, nil)
	}
	if g.chance(0.03) {
		b = append([]byte("\xef\xbb\xbf"), b...)
	}
	files[main] = b
	return files
}

// include writes an include file (sometimes nesting another one, sometimes
// opening a section of its own) and returns its path.
func (g *gen) include(files map[string][]byte, inShare bool) string {
	name := fmt.Sprintf("inc/gen-%03d-%d.conf", g.idx, len(files))
	files[name] = nil // reserve the name before nesting
	var sb strings.Builder
	fmt.Fprintf(&sb, "# include of generated config %d\n", g.idx)
	noBad := false
	g.params(&sb, 1+g.r.IntN(4), inShare, &noBad)
	if g.chance(0.15) && len(files) < 6 {
		sb.WriteString(g.line("include", g.include(files, inShare)))
	}
	if g.chance(0.1) {
		fmt.Fprintf(&sb, "[inc%d]\n", len(files))
		sb.WriteString(g.line("path", "/srv/inc"))
	}
	files[name] = []byte(sb.String())
	return name
}

// TestGenerateConfigDeterministic: the generator depends only on its seed,
// so a failing generated case can be reproduced from its number.
func TestGenerateConfigDeterministic(t *testing.T) {
	for _, i := range []int{0, 7, 99} {
		require.Equal(t, generateConfig(i), generateConfig(i))
	}
	require.NotEqual(t, generateConfig(1), generateConfig(2))
}

// TestDiffEveryParameter asks that release's testparm for every parameter
// its table holds (synonyms included), in [global] and in a share, on a
// configuration that sets nothing, and compares with PrintParameter: the
// defaults of every parameter, not only those the corpus sets. About 1,000
// testparm runs, so it runs where a release is being proven (make
// test-samba, SAMBA_RELEASE set), not in make test.
func TestDiffEveryParameter(t *testing.T) {
	if harness.Release() == "" {
		t.Skip("runs under make test-samba (SAMBA_RELEASE set)")
	}
	tp := requireTestparm(t)
	dir := t.TempDir()
	conf := "[global]\n[s]\n\tpath = /tmp\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "e.conf"), []byte(conf), 0o644))
	cfg, err := Load(filepath.Join(dir, "e.conf"), LoadOptions{Version: oracleVersion, WorkDir: dir})
	require.NoError(t, err)
	var par parity
	par.report(t, "every parameter's default")
	var qs []query
	for _, p := range ParamsIn(oracleVersion) {
		qs = append(qs, query{p.Name, ""})
		if p.Canonical().Class == ClassLocal {
			qs = append(qs, query{p.Name, "s"})
		}
	}
	require.Greater(t, len(qs), 500)
	work := make(chan query)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for q := range work {
				args := []string{"-s", "e.conf", "--parameter-name=" + q.name}
				if q.section != "" {
					args = append(args, "--section-name="+q.section)
				}
				w, err := runTestparm(tp, dir, args...)
				var g bytes.Buffer
				_ = cfg.PrintParameter(&g, q.name, q.section)
				par.values.Add(1)
				mu.Lock()
				switch {
				case err != nil:
					t.Errorf("%q: %v", q.name, err)
				case !bytes.Equal(w.stdout, g.Bytes()):
					t.Errorf("--parameter-name=%q --section-name=%q: testparm printed %q, PrintParameter %q", q.name, q.section, w.stdout, g.Bytes())
				default:
					par.valuesOK.Add(1)
				}
				mu.Unlock()
			}
		}()
	}
	for _, q := range qs {
		work <- q
	}
	close(work)
	wg.Wait()
}
