package smbconf

// Samba versions, and the defaults of the parameters that decide whether a
// client can reach smbd, for every release series from 4.0 to 4.21.
//
// Whether "no server min protocol line" means LANMAN1 or SMB2_02 depends on
// the Samba that runs, so the checks read the row of the installed version
// (smbd --version) or of --samba-version. The table holds what testparm of
// that version prints for the default (Printed) and what it means at run
// time (Effective): "client max protocol = default" meant NT1 until 4.6 and
// SMB3_11 from 4.7; "SMB3" meant SMB3_00 before 4.3.
//
// Sources, all in samba-team/samba at the release tag named: WHATSNEW.txt,
// source3/param/loadparm.c init_globals() and the lp_client_* wrappers,
// lib/param/param_table.c enum_protocol, docs-xml/smbdotconf/**.xml
// (<value type="default">). The 4.17 rows are
// checked against the installed testparm by versions_test.go.

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/smb-agent/smb-agent/configs/procenv"
)

// SambaVersion is a Samba release, e.g. 4.17.12. Raw is the text it was
// parsed from ("Version 4.17.12-Debian").
type SambaVersion struct {
	Major, Minor, Patch int
	Raw                 string
}

// ParseSambaVersion parses what `smbd --version` or `testparm -V` prints, or
// what a person types for --samba-version. A missing patch level is 0; a
// pre-release suffix (rc1) is ignored, so 4.21.0rc1 counts as 4.21.0.
//
// It accepts "4.17", "4.17.12", "Version 4.17.12-Debian", "4.21.0rc1",
// "4.18.0pre1-GIT-1234abc": a version at the start, optionally after the
// word Version, and any vendor or pre-release suffix. That is the regular
// expression
//
//	^(?i:version\s+)?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+~._a-zA-Z][-+~._a-zA-Z0-9]*)?$
//
// written out by hand, because every config command parses a version and
// compiling the expression cost more than the rest of the parse
// (FuzzParseSambaVersion checks the two agree).
func ParseSambaVersion(s string) (SambaVersion, error) {
	t := strings.TrimSpace(s)
	invalid := func() (SambaVersion, error) {
		return SambaVersion{}, fmt.Errorf("invalid Samba version %q (want MAJOR.MINOR[.PATCH], e.g. 4.17.12)", s)
	}
	rest := t
	if r, ok := cutVersionWord(rest); ok {
		// (?i:version\s+): \s is [\t\n\f\r ] in Go's syntax.
		n := 0
		for n < len(r) && strings.IndexByte("\t\n\f\r ", r[n]) >= 0 {
			n++
		}
		if n == 0 {
			return invalid()
		}
		rest = r[n:]
	}
	var parts [3]string
	var ok bool
	if parts[0], rest, ok = cutDigits(rest); !ok || !strings.HasPrefix(rest, ".") {
		return invalid()
	}
	if parts[1], rest, ok = cutDigits(rest[1:]); !ok {
		return invalid()
	}
	if len(rest) > 1 && rest[0] == '.' && isDigit(rest[1]) {
		parts[2], rest, _ = cutDigits(rest[1:])
	}
	if rest != "" && !versionSuffix(rest) {
		return invalid()
	}
	nums := [3]int{}
	for i, part := range parts {
		if part == "" {
			continue
		}
		n, err := strconv.Atoi(part)
		if err != nil || n > 1_000_000 {
			return SambaVersion{}, fmt.Errorf("invalid Samba version %q: number %q out of range", s, part)
		}
		nums[i] = n
	}
	return SambaVersion{Major: nums[0], Minor: nums[1], Patch: nums[2], Raw: t}, nil
}

// cutVersionWord removes a leading "version" in any case, as (?i:version)
// matches it: Unicode simple case folding, so "VERſION" counts.
func cutVersionWord(s string) (string, bool) {
	for _, want := range "version" {
		r, n := utf8.DecodeRuneInString(s)
		if n == 0 || (r != want && !strings.EqualFold(string(r), string(want))) {
			return s, false
		}
		s = s[n:]
	}
	return s, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// cutDigits splits a leading run of ASCII digits (\d+) from s.
func cutDigits(s string) (digits, rest string, ok bool) {
	n := 0
	for n < len(s) && isDigit(s[n]) {
		n++
	}
	return s[:n], s[n:], n > 0
}

// versionSuffix is [-+~._a-zA-Z][-+~._a-zA-Z0-9]*.
func versionSuffix(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '-' || c == '+' || c == '~' || c == '.' || c == '_':
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		case i > 0 && isDigit(c):
		default:
			return false
		}
	}
	return true
}

// String prints MAJOR.MINOR.PATCH.
func (v SambaVersion) String() string {
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
}

// Series prints MAJOR.MINOR, the release series a row of defaults belongs to.
func (v SambaVersion) Series() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// Compare orders versions by number; Raw is ignored.
func (v SambaVersion) Compare(o SambaVersion) int {
	if c := cmp.Compare(v.Major, o.Major); c != 0 {
		return c
	}
	if c := cmp.Compare(v.Minor, o.Minor); c != 0 {
		return c
	}
	return cmp.Compare(v.Patch, o.Patch)
}

// verDetectCommands are tried in order; testparm -V is the fallback when
// smbd is not on PATH (a host with only samba-common-bin, or a container).
var verDetectCommands = [][]string{{"smbd", "--version"}, {"testparm", "-V"}}

// verDetectTimeout bounds each command: both print one line at once, but a
// broken NSS or a hung filesystem must not hang the agent.
const verDetectTimeout = 5 * time.Second

// DetectSambaVersion asks the installed Samba for its version: `smbd
// --version`, falling back to `testparm -V`. Commands run without a shell,
// each for at most 5 s (less if ctx ends sooner).
func DetectSambaVersion(ctx context.Context) (SambaVersion, error) {
	v, _, err := VersionDetector{}.Detect(ctx)
	return v, err
}

// VersionDetector finds the installed Samba's version. Its zero value runs
// the commands itself; callers with their own command runner (deadlines,
// fakes in tests) and a cache fill in the fields.
type VersionDetector struct {
	// Run runs argv without a shell and returns its stdout; nil runs it
	// with exec, for at most 5 s, with stderr's first line in the error.
	Run func(ctx context.Context, argv []string) ([]byte, error)
	// LookPath finds a command; nil = exec.LookPath.
	LookPath func(string) (string, error)
	// Cache skips the command for a binary that has not changed since it
	// last reported its version; nil = always ask.
	Cache *VersionCache
}

// Detect tries each version command in order and returns the first version
// found and the command it came from ("smbd --version", with " (cached)"
// when the cache answered).
func (d VersionDetector) Detect(ctx context.Context) (SambaVersion, string, error) {
	run, lookPath := d.Run, d.LookPath
	if run == nil {
		run = verExec
	}
	if lookPath == nil {
		lookPath = exec.LookPath
	}
	var problems []string
	for _, argv := range verDetectCommands {
		name := strings.Join(argv, " ")
		bin, err := lookPath(argv[0])
		if err != nil {
			problems = append(problems, name+": not installed")
			continue
		}
		if abs, err := filepath.Abs(bin); err == nil {
			bin = abs
		}
		if v, ok := d.Cache.Get(bin); ok {
			return v, name + " (cached)", nil
		}
		out, err := run(ctx, argv)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", name, err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		v, ok := verFind(out)
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: no version in output %q", name, verFirstLine(string(out))))
			continue
		}
		d.Cache.Put(bin, v)
		return v, name, nil
	}
	return SambaVersion{}, "", fmt.Errorf("detect Samba version: %s", strings.Join(problems, "; "))
}

// verFind returns the first version line of a command's output.
func verFind(out []byte) (SambaVersion, bool) {
	for _, line := range strings.Split(string(out), "\n") {
		if v, err := ParseSambaVersion(strings.TrimSpace(line)); err == nil {
			return v, true
		}
	}
	return SambaVersion{}, false
}

// verExec runs one version command: bounded by verDetectTimeout, and with
// the first line of its stderr in the error.
func verExec(ctx context.Context, argv []string) ([]byte, error) {
	cctx, cancel := context.WithTimeout(ctx, verDetectTimeout)
	defer cancel()
	cmd := exec.CommandContext(cctx, argv[0], argv[1:]...)
	cmd.Env = procenv.ForChild()
	cmd.WaitDelay = time.Second // do not wait on a child that keeps stdout open
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if cctx.Err() != nil {
			return nil, cctx.Err()
		}
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return nil, fmt.Errorf("%w: %s", err, verFirstLine(msg))
		}
		return nil, err
	}
	return stdout.Bytes(), nil
}

func verFirstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// VersionedDefault is one parameter's default in one Samba version.
type VersionedDefault struct {
	// Parameter is the canonical smb.conf name ("server min protocol").
	Parameter string
	// Printed is what `testparm -s --parameter-name=X` of that version
	// prints when the parameter is not set.
	Printed string
	// Effective is what smbd or the client code does with that default;
	// equal to Printed when there is nothing to translate.
	Effective string
	// Since is the first release with this default ("4.11", "4.4.1").
	Since string
	// SeriesOnly marks a default that a security release brought into one
	// older series only (Badlock: 4.2.10, 4.3.7), so 4.3.0–4.3.6 lack it.
	SeriesOnly bool
	// Source is the file@tag and WHATSNEW section the row comes from.
	Source string
	// Note says what else matters: deprecations, uncertainties.
	Note string
	// Clamped is true when the asked-for version was outside 4.0–4.21 and
	// the nearest row was used.
	Clamped bool
}

// VersionDefaults is the row of defaults for one version.
type VersionDefaults struct {
	// Requested is the version asked for.
	Requested SambaVersion
	// Row is the version whose defaults apply (Requested, clamped into
	// SupportedVersionRange).
	Row SambaVersion
	// Clamped is true when Requested is outside the table.
	Clamped bool
	// Params maps canonical parameter names to their defaults. A parameter
	// that does not exist yet in that version is absent.
	Params map[string]VersionedDefault
}

// Source citations used by several rows.
const (
	verSrcInit40      = "source3/param/loadparm.c@samba-4.0.0 init_globals()"
	verSrcWhatsNew411 = `WHATSNEW.txt@samba-4.11.0 "SMB1 is disabled by default"`
	verSrcWhatsNew413 = "WHATSNEW.txt@samba-4.13.0 smb.conf changes (deprecated options)"
	verSrcWhatsNew414 = `WHATSNEW.txt@samba-4.14.0 smb.conf changes: "smb encrypt" removed, "client smb encrypt" and "server smb encrypt" new, default "default"`
	verSrcBadlock     = "WHATSNEW.txt@samba-4.4.2 (Badlock, CVE-2016-2115 \"SMB IPC traffic is not integrity protected\"); same options in the 4.2.10/4.2.11 and 4.3.7/4.3.8 security releases (samba-announce, 12 April 2016)"
	verNoteDeprecated = "deprecated"
)

// verRows is the table: for each parameter, its defaults in release order.
// A parameter's default in version V is the last row whose Since <= V (for
// SeriesOnly rows: same series and patch >= Since's).
var verRows = map[string][]VersionedDefault{
	"server min protocol": {
		{Since: "4.0", Printed: "LANMAN1", Source: verSrcInit40 + " (srv_minprotocol = PROTOCOL_LANMAN1)",
			Note: "the 4.0 smb.conf manual says CORE; the code sets LANMAN1"},
		{Since: "4.11", Printed: "SMB2_02", Source: verSrcWhatsNew411 + "; server min protocol Changed default SMB2_02",
			Note: "SMB1 clients (NT1) are refused by default"},
	},
	"server max protocol": {
		{Since: "4.0", Printed: "SMB3", Effective: "SMB3_00",
			Source: `lib/param/param_table.c@samba-4.0.0 enum_protocol ({PROTOCOL_SMB3_00, "SMB3"} comes first, so the default prints as SMB3)`},
		{Since: "4.3", Printed: "SMB3", Effective: "SMB3_11",
			Source: "WHATSNEW.txt@samba-4.3.0 smb.conf changes: server max protocol Changed default SMB3_11 (SMB3 now maps to PROTOCOL_SMB3_11)"},
	},
	"client min protocol": {
		{Since: "4.0", Printed: "CORE", Source: verSrcInit40 + " (cli_minprotocol = PROTOCOL_CORE)"},
		{Since: "4.11", Printed: "SMB2_02", Source: verSrcWhatsNew411 + "; client min protocol Changed default SMB2_02"},
	},
	"client max protocol": {
		{Since: "4.0", Printed: "NT1", Source: verSrcInit40 + " (cli_maxprotocol = PROTOCOL_NT1)"},
		{Since: "4.2", Printed: "default", Effective: "NT1",
			Source: `lib/param/param_table.c@samba-4.2.0 enum_protocol gains "default"; lp_client_max_protocol() in source3/param/loadparm.c maps it to PROTOCOL_NT1`,
			Note:   `4.3's WHATSNEW "client max protocol Changed default SMB3_11" is about the SMB3 keyword; default still meant NT1 until 4.6`},
		{Since: "4.7", Printed: "default", Effective: "SMB3_11",
			Source: `WHATSNEW.txt@samba-4.7.0 "The default for client max protocol has changed to SMB3_11"; lp_client_max_protocol() maps default to PROTOCOL_LATEST`},
	},
	"client ipc min protocol": {
		{Since: "4.2.10", SeriesOnly: true, Printed: "default", Effective: "NT1", Source: verSrcBadlock,
			Note: "default means client min protocol, but at least NT1"},
		{Since: "4.3.7", SeriesOnly: true, Printed: "default", Effective: "NT1", Source: verSrcBadlock,
			Note: "default means client min protocol, but at least NT1"},
		{Since: "4.4.1", Printed: "default", Effective: "NT1", Source: verSrcBadlock,
			Note: "default means client min protocol, but at least NT1"},
		{Since: "4.11", Printed: "default", Effective: "SMB2_02",
			Source: "lp_client_ipc_min_protocol() in source3/param/loadparm.c: default = client min protocol (at least NT1), whose default is SMB2_02 since " + verSrcWhatsNew411},
	},
	"client ipc max protocol": {
		{Since: "4.2.10", SeriesOnly: true, Printed: "default", Effective: "SMB3_02", Source: verSrcBadlock,
			Note: "default means the latest protocol of the release (SMB3_02 in 4.2; not checked against 4.2 source)"},
		{Since: "4.3.7", SeriesOnly: true, Printed: "default", Effective: "SMB3_11", Source: verSrcBadlock,
			Note: "default means the latest protocol, at least NT1"},
		{Since: "4.4.1", Printed: "default", Effective: "SMB3_11", Source: verSrcBadlock,
			Note: "default means the latest protocol, at least NT1"},
	},
	"client ipc signing": {
		{Since: "4.2.10", SeriesOnly: true, Printed: "default", Effective: "required", Source: verSrcBadlock},
		{Since: "4.3.7", SeriesOnly: true, Printed: "default", Effective: "required", Source: verSrcBadlock},
		{Since: "4.4.1", Printed: "default", Effective: "required", Source: verSrcBadlock,
			Note: "lp_client_ipc_signing() returns SMB_SIGNING_REQUIRED for default"},
	},
	"server signing": {
		{Since: "4.0", Printed: "default", Effective: "if_required",
			Source: "docs-xml/smbdotconf/security/serversigning.xml (default: required on an AD DC, disabled otherwise; for SMB2 signing cannot be disabled and is treated as auto)",
			Note:   "SMB1 signing off, SMB2 signing offered but not required; on an AD DC required (for SMB1 enforced only since the Badlock release, CVE-2016-2114)"},
	},
	"client signing": {
		{Since: "4.0", Printed: "default", Effective: "if_required",
			Source: `libcli/smb/smbXcli_base.c smbXcli_conn_create(): SMB_SIGNING_DEFAULT signs "if the server requires it"`,
			Note:   "the manual says: offered, but not enforced"},
	},
	"smb encrypt": {
		{Since: "4.0", Printed: "auto", Effective: "if_required",
			Source: "docs-xml/smbdotconf/security/smbencrypt.xml@samba-4.0.0 (default auto)",
			Note:   "printed value taken from the 4.0/4.1 manual, not observed"},
		{Since: "4.2", Printed: "default", Effective: "if_required",
			Source: "docs-xml/smbdotconf/security/smbencrypt.xml@samba-4.2.0 (default default: offered, not enforced)"},
		{Since: "4.14", Printed: "default", Effective: "if_required", Source: verSrcWhatsNew414,
			Note: "kept as a synonym of server smb encrypt"},
	},
	"server smb encrypt": {
		{Since: "4.14", Printed: "default", Effective: "if_required", Source: verSrcWhatsNew414,
			Note: "default is the implicit if_required: encryption offered, not enforced"},
	},
	"client smb encrypt": {
		{Since: "4.14", Printed: "default", Effective: "if_required",
			Source: verSrcWhatsNew414 + "; docs-xml/smbdotconf/security/clientsmbencrypt.xml"},
	},
	"ntlm auth": {
		{Since: "4.0", Printed: "Yes", Effective: "ntlmv1-permitted", Source: verSrcInit40 + " (bNTLMAuth = true)"},
		{Since: "4.5", Printed: "No", Effective: "ntlmv2-only",
			Source: `WHATSNEW.txt@samba-4.5.0 "NTLMv1 authentication disabled by default"`},
		{Since: "4.7", Printed: "ntlmv2-only",
			Source: `WHATSNEW.txt@samba-4.7.0 (the "ntlm auth" default is renamed to ntlmv2-only, reflecting the previous behaviour); docs-xml/smbdotconf/security/ntlmauth.xml`},
	},
	"lanman auth": {
		{Since: "4.0", Printed: "No", Source: verSrcInit40},
		{Since: "4.11", Printed: "No", Source: verSrcWhatsNew411, Note: verNoteDeprecated},
	},
	"raw NTLMv2 auth": {
		{Since: "4.5", Printed: "No", Source: `WHATSNEW.txt@samba-4.5.0 "NTLMv1 authentication disabled by default" (new option raw NTLMv2 auth = no)`},
		{Since: "4.13", Printed: "No", Source: "docs-xml/smbdotconf/security/rawntlmv2auth.xml (\"deprecated since Samba 4.13\")", Note: verNoteDeprecated},
	},
	"client NTLMv2 auth": {
		{Since: "4.0", Printed: "Yes", Source: verSrcInit40},
		{Since: "4.13", Printed: "Yes", Source: verSrcWhatsNew413, Note: verNoteDeprecated},
	},
	"client lanman auth": {
		{Since: "4.0", Printed: "No", Source: verSrcInit40},
		{Since: "4.13", Printed: "No", Source: verSrcWhatsNew413, Note: verNoteDeprecated},
	},
	"client plaintext auth": {
		{Since: "4.0", Printed: "No", Source: verSrcInit40},
		{Since: "4.13", Printed: "No", Source: verSrcWhatsNew413, Note: verNoteDeprecated},
	},
	"encrypt passwords": {
		{Since: "4.0", Printed: "Yes", Source: verSrcInit40},
		{Since: "4.11", Printed: "Yes", Source: verSrcWhatsNew411, Note: verNoteDeprecated},
	},
	"server multi channel support": {
		{Since: "4.4", Printed: "No", Source: "WHATSNEW.txt@samba-4.4.0 (new, experimental)"},
		{Since: "4.15", Printed: "Yes", Effective: "Yes on Linux and FreeBSD, No elsewhere",
			Source: `WHATSNEW.txt@samba-4.15.0 smb.conf changes: server multi channel support Changed default "Yes (on Linux and FreeBSD)"`},
	},
	"smb ports":            {{Since: "4.0", Printed: "445 139", Source: verSrcInit40}},
	"bind interfaces only": {{Since: "4.0", Printed: "No", Source: verSrcInit40}},
	"interfaces":           {{Since: "4.0", Printed: "", Effective: "every interface", Source: verSrcInit40}},
	"disable netbios":      {{Since: "4.0", Printed: "No", Source: verSrcInit40}},
	"restrict anonymous":   {{Since: "4.0", Printed: "0", Source: verSrcInit40}},
	"map to guest":         {{Since: "4.0", Printed: "Never", Source: verSrcInit40}},
	"security": {{Since: "4.0", Printed: "AUTO", Effective: "USER on a standalone server",
		Source: verSrcInit40 + " (security = SEC_AUTO, decided by server role)"}},
	"server role":        {{Since: "4.0", Printed: "auto", Source: verSrcInit40}},
	"hosts allow":        {{Since: "4.0", Printed: "", Effective: "every host", Source: verSrcInit40}},
	"hosts deny":         {{Since: "4.0", Printed: "", Effective: "no host", Source: verSrcInit40}},
	"max smbd processes": {{Since: "4.0", Printed: "0", Effective: "unlimited", Source: verSrcInit40}},
	"nt pipe support":    {{Since: "4.0", Printed: "Yes", Source: verSrcInit40}},
	"rpc start on demand helpers": {
		{Since: "4.16", Printed: "Yes",
			Source: `WHATSNEW.txt@samba-4.16.0 "New samba-dcerpcd binary to provide DCERPC in the member server setup"; docs-xml/smbdotconf/misc/rpcstartondemandhelpers.xml`,
			Note:   "no: smbd expects a samba-dcerpcd started on its own, else share listing fails (rpc-endpoint-missing)"},
	},
}

// verMin and verMax bound the table; any patch level of the 4.21 series is
// in range.
var (
	verMin = SambaVersion{Major: 4, Minor: 0, Patch: 0, Raw: "4.0"}
	verMax = SambaVersion{Major: 4, Minor: 21, Patch: 0, Raw: "4.21"}
)

// SupportedVersionRange returns the first and last release series of the
// table (4.0 and 4.21; every patch level of 4.21 is covered).
func SupportedVersionRange() (minVersion, maxVersion SambaVersion) { return verMin, verMax }

// ReachabilityParameters lists the parameters the table covers, sorted.
func ReachabilityParameters() []string {
	names := make([]string, 0, len(verRows))
	for name := range verRows {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// DefaultsFor returns the row of defaults for a version. A version before
// 4.0 uses the 4.0 row and one after 4.21 the 4.21 row, with Clamped set.
func DefaultsFor(v SambaVersion) VersionDefaults {
	out := VersionDefaults{Requested: v, Row: v, Params: map[string]VersionedDefault{}}
	eff := v
	switch {
	case v.Compare(verMin) < 0:
		out.Row, out.Clamped, eff = verMin, true, verMin
	case v.Major > verMax.Major || (v.Major == verMax.Major && v.Minor > verMax.Minor):
		out.Row, out.Clamped = verMax, true
		eff = SambaVersion{Major: verMax.Major, Minor: verMax.Minor, Patch: math.MaxInt}
	}
	for name, rows := range verRows {
		var pick *VersionedDefault
		for i := range rows {
			if verApplies(rows[i], eff) {
				pick = &rows[i]
			}
		}
		if pick == nil {
			continue // not in that version
		}
		d := *pick
		d.Parameter = name
		if d.Effective == "" {
			d.Effective = d.Printed
		}
		d.Clamped = out.Clamped
		out.Params[name] = d
	}
	return out
}

// ReachabilityDefaults returns DefaultsFor(v).Params.
func ReachabilityDefaults(v SambaVersion) map[string]VersionedDefault {
	return DefaultsFor(v).Params
}

func verApplies(row VersionedDefault, v SambaVersion) bool {
	since, err := ParseSambaVersion(row.Since)
	if err != nil {
		return false // rows are checked by TestVersionTableIsWellFormed
	}
	if v.Compare(since) < 0 {
		return false
	}
	if row.SeriesOnly {
		return v.Major == since.Major && v.Minor == since.Minor
	}
	return true
}

// verErrNoVersion is returned by callers that need a version and got none; kept
// here so that the message is the same everywhere.
var verErrNoVersion = errors.New("no Samba version: set samba_version (--samba-version) or install smbd")

// ResolveSambaVersion returns the version to use: the configured one when
// set (samba_version, --samba-version), otherwise the installed one.
func ResolveSambaVersion(ctx context.Context, configured string) (SambaVersion, error) {
	if strings.TrimSpace(configured) != "" {
		return ParseSambaVersion(configured)
	}
	v, err := DetectSambaVersion(ctx)
	if err != nil {
		return SambaVersion{}, fmt.Errorf("%w: %w", verErrNoVersion, err)
	}
	return v, nil
}
