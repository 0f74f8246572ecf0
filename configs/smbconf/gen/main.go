// Command gen writes params_gen_MAJOR_MINOR.go, the smb.conf parameter
// table of one Samba release, by asking that release's testparm. `make
// gen-params` runs it once per release the project knows, each against the
// testparm of the root test/scripts/samba-release.sh builds for it:
//
//	go run ./gen -testparm /var/cache/smb-agent-samba/4.24/bin/testparm -o params_gen_4_24.go
//
// and its output is committed, with the Samba version it came from in the
// header, so that building and testing never need Samba.
//
// Everything comes from observed testparm behaviour, not from reading the
// sources, because testparm is the oracle the package must match byte for
// byte:
//
//   - names, class, type, flags, synonyms and enum spellings in table order:
//     "testparm --show-all-parameters" (source3/param/loadparm.c
//     show_parameter_list);
//   - printed defaults: "testparm -sv EMPTY" (every non-synonym parameter,
//     globals then share parameters);
//   - what testparm prints for each accepted enum spelling (the first entry
//     of the enum table with the same value, lpcfg_print_parameter): one
//     testparm run per spelling;
//   - whether setting a synonym in [global] also clears the "still default"
//     flag of its canonical parameter (set_variable in lib/param/loadparm.c
//     only clears it on table neighbours with the same offset, so a
//     non-adjacent synonym leaves the canonical parameter out of the dump);
//   - the print commands each "printing" value installs in a share
//     (init_printer_values).
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"go/format"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// param is one line of --show-all-parameters.
type param struct {
	Name      string
	Class     string // "local" or "global"
	Type      string // P_BOOL ...
	Enum      []string
	Flags     []string
	SynonymOf string
	Inverse   bool
	Order     int

	Default        string            // printed default
	EnumPrinted    map[string]string // spelling -> what testparm prints
	MarksCanonical bool              // synonym only: clears the canonical's default flag
}

// printingCommands are the share parameters init_printer_values sets.
var printingCommands = []string{
	"print command", "lpq command", "lprm command", "lppause command",
	"lpresume command", "queuepause command", "queueresume command",
}

func main() {
	out := flag.String("o", "params_gen.go", "output file")
	tp := flag.String("testparm", "testparm", "testparm binary")
	flag.Parse()
	if err := run(*tp, *out); err != nil {
		fmt.Fprintf(os.Stderr, "gen: %v\n", err)
		os.Exit(1)
	}
}

type runner struct {
	testparm string
	dir      string
	mu       sync.Mutex
	seq      int
}

// testparm runs testparm on a config with the given text and returns its
// stdout. The exit status is not an error: testparm exits 1 for logic-check
// failures while still printing.
func (r *runner) run(conf string, args ...string) (string, error) {
	r.mu.Lock()
	r.seq++
	name := filepath.Join(r.dir, fmt.Sprintf("c%d.conf", r.seq))
	r.mu.Unlock()
	if err := os.WriteFile(name, []byte(conf), 0o600); err != nil {
		return "", err
	}
	defer os.Remove(name)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a := append([]string{"-s", name}, args...)
	cmd := exec.CommandContext(ctx, r.testparm, a...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.Dir = r.dir
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return "", fmt.Errorf("run %s: %w", r.testparm, err)
	}
	return stdout.String(), nil
}

func run(tp, out string) error {
	dir, err := os.MkdirTemp("", "smbconf-gen")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	r := &runner{testparm: tp, dir: dir}

	verOut, err := exec.Command(tp, "-V").Output()
	if err != nil {
		return fmt.Errorf("testparm -V: %w", err)
	}
	version := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(verOut)), "Version "))

	listOut, err := exec.Command(tp, "--show-all-parameters").Output()
	if err != nil {
		return fmt.Errorf("testparm --show-all-parameters: %w", err)
	}
	params, err := parseShowAll(string(listOut))
	if err != nil {
		return err
	}
	byName := map[string]*param{}
	for _, p := range params {
		byName[p.Name] = p
	}

	// Defaults of every non-synonym parameter.
	sv, err := r.run("", "-v")
	if err != nil {
		return err
	}
	defaults := parseDump(sv)
	for _, p := range params {
		if p.SynonymOf != "" {
			continue
		}
		d, ok := defaults["global"][p.Name]
		if !ok {
			// Parameters whose label starts with '-' are never dumped.
			d, err = r.run("", "--parameter-name="+p.Name)
			if err != nil {
				return err
			}
			d = strings.TrimSuffix(d, "\n")
		}
		p.Default = d
	}
	for _, p := range params {
		if p.SynonymOf == "" {
			continue
		}
		c := byName[p.SynonymOf]
		if c == nil {
			return fmt.Errorf("%s: synonym of unknown %q", p.Name, p.SynonymOf)
		}
		p.Default = c.Default
		if p.Inverse {
			p.Default = map[string]string{"Yes": "No", "No": "Yes"}[c.Default]
		}
	}

	// What each enum spelling prints as.
	type job struct {
		p     *param
		spell string
	}
	var jobs []job
	for _, p := range params {
		if p.Type == "P_ENUM" && p.SynonymOf == "" {
			p.EnumPrinted = map[string]string{}
			for _, s := range p.Enum {
				jobs = append(jobs, job{p, s})
			}
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	ch := make(chan job)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				var conf string
				var args []string
				if j.p.Class == "local" {
					conf = fmt.Sprintf("[global]\n[s]\npath = /tmp\n%s = %s\n", j.p.Name, j.spell)
					args = []string{"--section-name=s", "--parameter-name=" + j.p.Name}
				} else {
					conf = fmt.Sprintf("[global]\n%s = %s\n", j.p.Name, j.spell)
					args = []string{"--parameter-name=" + j.p.Name}
				}
				got, err := r.run(conf, args...)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				j.p.EnumPrinted[j.spell] = strings.TrimSuffix(got, "\n")
				mu.Unlock()
			}
		}()
	}
	for _, j := range jobs {
		ch <- j
	}
	close(ch)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	for _, p := range params {
		if p.SynonymOf != "" && p.Type == "P_ENUM" {
			p.EnumPrinted = byName[p.SynonymOf].EnumPrinted
		}
		for s, v := range p.EnumPrinted {
			if v == "" {
				return fmt.Errorf("%s = %s: testparm printed nothing (spelling refused?)", p.Name, s)
			}
		}
	}

	// Synonym adjacency: does setting the synonym in [global] make the
	// canonical parameter show up in the dump?
	for _, p := range params {
		if p.SynonymOf == "" {
			continue
		}
		c := byName[p.SynonymOf]
		v, ok := nonDefaultValue(p, c)
		if !ok {
			return fmt.Errorf("%s: no probe value for type %s", p.Name, p.Type)
		}
		// A list whose elements are checked (server smb transports, since
		// 4.23) refuses the free-text probe: try the canonical's own
		// first default element, then a number.
		probes := []string{v}
		if p.Type == "P_LIST" || p.Type == "P_CMDLIST" {
			if first, _, _ := strings.Cut(c.Default, ","); strings.TrimSpace(first) != "" {
				probes = append(probes, strings.TrimSpace(strings.Fields(first)[0]))
			}
			probes = append(probes, "12345")
		}
		loaded := false
		for _, v := range probes {
			got, err := r.run(fmt.Sprintf("[global]\n%s = %s\n", p.Name, v))
			if err != nil {
				return err
			}
			if got == "" {
				continue // refused: try the next probe
			}
			_, shown := parseDump(got)["global"][c.Name]
			p.MarksCanonical, loaded = shown, true
			break
		}
		if !loaded {
			return fmt.Errorf("%s: testparm refused every probe value %q", p.Name, probes)
		}
	}

	// The commands each printing type installs in a share.
	printing := byName["printing"]
	if printing == nil {
		return errors.New("no printing parameter")
	}
	var pre strings.Builder
	for _, c := range printingCommands {
		fmt.Fprintf(&pre, "%s = PRE\n", c)
	}
	printingSets := map[string]map[string]string{}
	for _, spell := range printing.Enum {
		canon := printing.EnumPrinted[spell]
		if _, done := printingSets[canon]; done {
			continue
		}
		got, err := r.run(fmt.Sprintf("[global]\n[s]\npath = /tmp\n%sprinting = %s\n", pre.String(), spell))
		if err != nil {
			return err
		}
		sec := parseDump(got)["s"]
		set := map[string]string{}
		for _, c := range printingCommands {
			v, shown := sec[c]
			switch {
			case !shown:
				set[c] = byName[c].Default // set to the [global] value
			case v != "PRE":
				set[c] = v
			}
		}
		printingSets[canon] = set
	}

	src, err := render(version, params, printingSets)
	if err != nil {
		return err
	}
	return os.WriteFile(out, src, 0o644)
}

// parseShowAll parses "testparm --show-all-parameters":
//
//	[local]
//	name=P_TYPE,[enum|values,]FLAGS[ (synonym of X)| (inverse synonym of X)| (synonyms: a, b[i])]
func parseShowAll(s string) ([]*param, error) {
	var params []*param
	class := ""
	order := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		line := sc.Text()
		switch line {
		case "[local]":
			class = "local"
			continue
		case "[global]":
			class = "global"
			continue
		case "":
			continue
		}
		if class == "" {
			return nil, fmt.Errorf("parameter line before a class: %q", line)
		}
		eq := strings.IndexByte(line, '=')
		if eq <= 0 {
			return nil, fmt.Errorf("bad parameter line %q", line)
		}
		p := &param{Name: line[:eq], Class: class, Order: order[class]}
		order[class]++
		rest := line[eq+1:]
		comma := strings.IndexByte(rest, ',')
		if comma < 0 {
			return nil, fmt.Errorf("bad parameter line %q", line)
		}
		p.Type, rest = rest[:comma], rest[comma+1:]
		if p.Type == "P_ENUM" {
			comma = strings.IndexByte(rest, ',')
			if comma < 0 {
				return nil, fmt.Errorf("bad enum line %q", line)
			}
			p.Enum, rest = strings.Split(rest[:comma], "|"), rest[comma+1:]
		}
		flags := rest
		if i := strings.Index(rest, " ("); i >= 0 {
			flags, rest = rest[:i], rest[i+2:]
			rest = strings.TrimSuffix(rest, ")")
			switch {
			case strings.HasPrefix(rest, "inverse synonym of "):
				p.SynonymOf, p.Inverse = strings.TrimPrefix(rest, "inverse synonym of "), true
			case strings.HasPrefix(rest, "synonym of "):
				p.SynonymOf = strings.TrimPrefix(rest, "synonym of ")
			case strings.HasPrefix(rest, "synonyms: "):
			default:
				return nil, fmt.Errorf("bad synonym note in %q", line)
			}
		}
		if flags != "" {
			p.Flags = strings.Split(flags, "|")
		}
		params = append(params, p)
	}
	return params, sc.Err()
}

// parseDump parses a testparm dump into section -> name -> printed value.
// The [global] section holds both global and share parameters.
func parseDump(s string) map[string]map[string]string {
	res := map[string]map[string]string{}
	sec := ""
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			sec = line[1 : len(line)-1]
			res[sec] = map[string]string{}
			continue
		}
		if !strings.HasPrefix(line, "\t") || sec == "" {
			continue
		}
		kv := line[1:]
		i := strings.Index(kv, " = ")
		if i < 0 {
			continue
		}
		res[sec][kv[:i]] = kv[i+3:]
	}
	return res
}

// nonDefaultValue picks a value for synonym p that changes its canonical c.
func nonDefaultValue(p, c *param) (string, bool) {
	switch p.Type {
	case "P_BOOL":
		if c.Default == "Yes" {
			return "No", true
		}
		return "Yes", true
	case "P_BOOLREV":
		// p stores the inverse into c.
		if c.Default == "Yes" {
			return "Yes", true
		}
		return "No", true
	case "P_ENUM":
		for _, s := range c.Enum {
			if c.EnumPrinted[s] != c.Default {
				return s, true
			}
		}
	case "P_INTEGER", "P_BYTES":
		return "12345", true
	case "P_OCTAL":
		return "0700", true
	case "P_STRING", "P_USTRING", "P_LIST", "P_CMDLIST":
		return "genprobe", true
	case "P_CHAR":
		return "#", true
	}
	return "", false
}

func render(version string, params []*param, printingSets map[string]map[string]string) ([]byte, error) {
	rel, err := releaseVar(version)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by ./gen from testparm %s; DO NOT EDIT.\n\n", version)
	b.WriteString("package smbconf\n\n")
	fmt.Fprintf(&b, "// %s is the parameter table of Samba %s: every parameter in\n// parm_table order within each class (the order the dump uses), and what\n// init_printer_values sets in a share for each \"printing\" value.\n", rel, version)
	fmt.Fprintf(&b, "var %s = releaseTable{\n\tversion: %q,\n", rel, version)
	b.WriteString("\tparams: []Param{\n")
	for _, p := range params {
		fmt.Fprintf(&b, "\t{Name: %q, Class: %s, Type: %s", p.Name, classConst(p.Class), typeConst(p.Type))
		var fl []string
		for _, f := range p.Flags {
			switch f {
			case "FLAG_DEPRECATED":
				fl = append(fl, "FlagDeprecated")
			case "FLAG_SYNONYM":
				fl = append(fl, "FlagSynonym")
			default:
				return nil, fmt.Errorf("%s: unknown flag %s", p.Name, f)
			}
		}
		if len(fl) > 0 {
			fmt.Fprintf(&b, ", Flags: %s", strings.Join(fl, "|"))
		}
		if p.SynonymOf != "" {
			fmt.Fprintf(&b, ", SynonymOf: %q", p.SynonymOf)
			if p.Inverse {
				b.WriteString(", Inverse: true")
			}
			if p.MarksCanonical {
				b.WriteString(", MarksCanonical: true")
			}
		}
		if len(p.Enum) > 0 {
			b.WriteString(", Enum: []EnumValue{")
			for i, s := range p.Enum {
				if i > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "{%q, %q}", s, p.EnumPrinted[s])
			}
			b.WriteString("}")
		}
		fmt.Fprintf(&b, ", Default: %q, Order: %d},\n", p.Default, p.Order)
	}
	b.WriteString("},\n")
	b.WriteString("\tprinting: map[string][]printingCommand{\n")
	var keys []string
	for k := range printingSets {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "\t%q: {", k)
		first := true
		for _, c := range printingCommands {
			v, ok := printingSets[k][c]
			if !ok {
				continue
			}
			if !first {
				b.WriteString(", ")
			}
			first = false
			fmt.Fprintf(&b, "{%q, %q}", c, v)
		}
		b.WriteString("},\n")
	}
	b.WriteString("},\n}\n")
	src, err := format.Source(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("gofmt generated code: %w", err)
	}
	return src, nil
}

// releaseVar names a release's table after its series: "4.24.8-Debian"
// gives release4_24.
func releaseVar(version string) (string, error) {
	maj, rest, ok := strings.Cut(version, ".")
	if !ok {
		return "", fmt.Errorf("testparm -V %q: no MAJOR.MINOR", version)
	}
	minor := rest
	if i := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		minor = rest[:i]
	}
	if _, err := strconv.Atoi(maj); err != nil || minor == "" {
		return "", fmt.Errorf("testparm -V %q: no MAJOR.MINOR", version)
	}
	return "release" + maj + "_" + minor, nil
}

func classConst(c string) string {
	if c == "global" {
		return "ClassGlobal"
	}
	return "ClassLocal"
}

func typeConst(t string) string {
	s := strings.TrimPrefix(t, "P_")
	m := map[string]string{
		"BOOL": "TypeBool", "BOOLREV": "TypeBoolRev", "CHAR": "TypeChar", "INTEGER": "TypeInteger",
		"OCTAL": "TypeOctal", "LIST": "TypeList", "STRING": "TypeString", "USTRING": "TypeUString",
		"ENUM": "TypeEnum", "BYTES": "TypeBytes", "CMDLIST": "TypeCmdList",
	}
	if v, ok := m[s]; ok {
		return v
	}
	return "Type(" + strconv.Quote(t) + ")"
}
