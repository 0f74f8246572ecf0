package smbconf

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseSambaVersion(t *testing.T) {
	tests := []struct {
		in      string
		want    [3]int
		wantErr bool
	}{
		{in: "Version 4.17.12-Debian", want: [3]int{4, 17, 12}},
		{in: "version 4.17.12-Debian-4.17.12+dfsg-0+deb12u4\n", want: [3]int{4, 17, 12}},
		{in: "4.17.12", want: [3]int{4, 17, 12}},
		{in: "4.17", want: [3]int{4, 17, 0}},
		{in: " 4.21.0rc1 ", want: [3]int{4, 21, 0}},
		{in: "4.18.0pre1-GIT-1234abc", want: [3]int{4, 18, 0}},
		{in: "4.3.11-SerNet-RedHat-52.el7", want: [3]int{4, 3, 11}},
		{in: "3.6.25", want: [3]int{3, 6, 25}},
		{in: "", wantErr: true},
		{in: "Version", wantErr: true},
		{in: "4", wantErr: true},
		{in: "four.seventeen", wantErr: true},
		{in: "v4.17.1", wantErr: true},
		{in: "4.17.1 and more", wantErr: true},
		{in: "4.99999999999999999999", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			v, err := ParseSambaVersion(tc.in)
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, [3]int{v.Major, v.Minor, v.Patch})
			require.Equal(t, strings.TrimSpace(tc.in), v.Raw)
		})
	}
}

func TestSambaVersionOrder(t *testing.T) {
	v := func(s string) SambaVersion {
		x, err := ParseSambaVersion(s)
		require.NoError(t, err)
		return x
	}
	require.Equal(t, -1, v("4.9.18").Compare(v("4.10.0")))
	require.Equal(t, 1, v("4.17.12").Compare(v("4.17.2")))
	require.Equal(t, 0, v("Version 4.17.0-Debian").Compare(v("4.17")))
	require.Equal(t, 1, v("5.0").Compare(v("4.21.9")))
	require.Equal(t, "4.17.0", v("4.17").String())
	require.Equal(t, "4.17", v("4.17.12").Series())
}

// verExpected is the defaults table read from samba-team/samba at each
// release tag (the sources named in versions.go), written out per
// minor version independently of verRows: {first minor, last minor,
// printed, effective}. A missing range means the parameter does not exist.
var verExpected = map[string][]struct {
	from, to           int
	printed, effective string
}{
	"server min protocol": {{0, 10, "LANMAN1", "LANMAN1"}, {11, 21, "SMB2_02", "SMB2_02"}},
	"server max protocol": {{0, 2, "SMB3", "SMB3_00"}, {3, 21, "SMB3", "SMB3_11"}},
	"client min protocol": {{0, 10, "CORE", "CORE"}, {11, 21, "SMB2_02", "SMB2_02"}},
	"client max protocol": {{0, 1, "NT1", "NT1"}, {2, 6, "default", "NT1"}, {7, 21, "default", "SMB3_11"}},
	// x.y.0 releases: the Badlock options exist from 4.5.0 (4.4.1 was a
	// patch release); 4.11 moves the client min protocol to SMB2_02.
	"client ipc min protocol": {{5, 10, "default", "NT1"}, {11, 21, "default", "SMB2_02"}},
	"client ipc max protocol": {{5, 21, "default", "SMB3_11"}},
	"client ipc signing":      {{5, 21, "default", "required"}},
	"ntlm auth":               {{0, 4, "Yes", "ntlmv1-permitted"}, {5, 6, "No", "ntlmv2-only"}, {7, 21, "ntlmv2-only", "ntlmv2-only"}},
	"lanman auth":             {{0, 21, "No", "No"}},
	"raw NTLMv2 auth":         {{5, 21, "No", "No"}},
	"client NTLMv2 auth":      {{0, 21, "Yes", "Yes"}},
	"client lanman auth":      {{0, 21, "No", "No"}},
	"client plaintext auth":   {{0, 21, "No", "No"}},
	"encrypt passwords":       {{0, 21, "Yes", "Yes"}},
	"server signing":          {{0, 21, "default", "if_required"}},
	"client signing":          {{0, 21, "default", "if_required"}},
	"smb encrypt":             {{0, 1, "auto", "if_required"}, {2, 21, "default", "if_required"}},
	"server smb encrypt":      {{14, 21, "default", "if_required"}},
	"client smb encrypt":      {{14, 21, "default", "if_required"}},
	"server multi channel support": {{4, 14, "No", "No"},
		{15, 21, "Yes", "Yes on Linux and FreeBSD, No elsewhere"}},
	"rpc start on demand helpers": {{16, 21, "Yes", "Yes"}},
	"smb ports":                   {{0, 21, "445 139", "445 139"}},
	"bind interfaces only":        {{0, 21, "No", "No"}},
	"interfaces":                  {{0, 21, "", "every interface"}},
	"disable netbios":             {{0, 21, "No", "No"}},
	"restrict anonymous":          {{0, 21, "0", "0"}},
	"map to guest":                {{0, 21, "Never", "Never"}},
	"security":                    {{0, 21, "AUTO", "USER on a standalone server"}},
	"server role":                 {{0, 21, "auto", "auto"}},
	"hosts allow":                 {{0, 21, "", "every host"}},
	"hosts deny":                  {{0, 21, "", "no host"}},
	"max smbd processes":          {{0, 21, "0", "unlimited"}},
	"nt pipe support":             {{0, 21, "Yes", "Yes"}},
}

func TestDefaultsForEveryMinorVersion(t *testing.T) {
	require.ElementsMatch(t, ReachabilityParameters(), verKeysOf(verExpected),
		"the expectation table and verRows must cover the same parameters")
	for minor := 0; minor <= 21; minor++ {
		v := SambaVersion{Major: 4, Minor: minor}
		t.Run(v.Series(), func(t *testing.T) {
			got := DefaultsFor(v)
			require.False(t, got.Clamped)
			require.Equal(t, v, got.Row)
			for name, ranges := range verExpected {
				var want *struct {
					from, to           int
					printed, effective string
				}
				for i := range ranges {
					if minor >= ranges[i].from && minor <= ranges[i].to {
						want = &ranges[i]
					}
				}
				d, ok := got.Params[name]
				if want == nil {
					require.False(t, ok, "%s must not exist in %s", name, v.Series())
					continue
				}
				require.True(t, ok, "%s missing in %s", name, v.Series())
				require.Equal(t, want.printed, d.Printed, "%s printed in %s", name, v.Series())
				require.Equal(t, want.effective, d.Effective, "%s effective in %s", name, v.Series())
				require.Equal(t, name, d.Parameter)
				require.NotEmpty(t, d.Source)
			}
		})
	}
}

func TestVersionBadlockPatchReleases(t *testing.T) {
	// The Badlock options came with patch releases of three series at once;
	// releases of those series before the fix do not have them.
	for _, tc := range []struct {
		version string
		has     bool
		ipcMax  string
	}{
		{"4.2.9", false, ""}, {"4.2.10", true, "SMB3_02"}, {"4.2.14", true, "SMB3_02"},
		{"4.3.6", false, ""}, {"4.3.7", true, "SMB3_11"}, {"4.3.8", true, "SMB3_11"},
		{"4.4.0", false, ""}, {"4.4.1", true, "SMB3_11"}, {"4.4.2", true, "SMB3_11"},
		{"4.5.0", true, "SMB3_11"},
	} {
		v, err := ParseSambaVersion(tc.version)
		require.NoError(t, err)
		p := ReachabilityDefaults(v)
		sig, ok := p["client ipc signing"]
		require.Equal(t, tc.has, ok, tc.version)
		if tc.has {
			require.Equal(t, "required", sig.Effective, tc.version)
			require.Equal(t, tc.ipcMax, p["client ipc max protocol"].Effective, tc.version)
			require.Equal(t, "NT1", p["client ipc min protocol"].Effective, tc.version)
		}
	}
}

func TestVersionClamping(t *testing.T) {
	lo, hi := SupportedVersionRange()
	require.Equal(t, "4.0.0", lo.String())
	require.Equal(t, "4.21", hi.Series())
	for _, tc := range []struct {
		version string
		row     string
		clamped bool
	}{
		{"3.6.25", "4.0", true},
		{"4.0.0", "4.0", false},
		{"4.21.9", "4.21", false},
		{"4.22.1", "4.21", true},
		{"5.0", "4.21", true},
	} {
		v, err := ParseSambaVersion(tc.version)
		require.NoError(t, err)
		d := DefaultsFor(v)
		require.Equal(t, tc.clamped, d.Clamped, tc.version)
		require.Equal(t, tc.row, d.Row.Series(), tc.version)
		require.Equal(t, v, d.Requested)
		for name, p := range d.Params {
			require.Equal(t, tc.clamped, p.Clamped, "%s %s", tc.version, name)
		}
	}
	// A clamped-high version gets the newest row.
	require.Equal(t, "SMB2_02", ReachabilityDefaults(SambaVersion{Major: 4, Minor: 30})["server min protocol"].Printed)
	require.Equal(t, "LANMAN1", ReachabilityDefaults(SambaVersion{Major: 3, Minor: 6})["server min protocol"].Printed)
}

func TestVersionTableIsWellFormed(t *testing.T) {
	for name, rows := range verRows {
		require.NotEmpty(t, rows, name)
		var prev SambaVersion
		for i, r := range rows {
			since, err := ParseSambaVersion(r.Since)
			require.NoError(t, err, "%s row %d", name, i)
			require.GreaterOrEqual(t, since.Compare(prev), 0, "%s rows must be in release order", name)
			prev = since
			require.NotEmpty(t, r.Source, "%s row %d has no source", name, i)
			require.True(t, since.Major == 4 && since.Minor <= 21, "%s row %d outside the table", name, i)
			require.Empty(t, r.Parameter, "Parameter is filled in by DefaultsFor")
		}
		require.False(t, rows[len(rows)-1].SeriesOnly, "%s: the newest row must carry forward", name)
	}
}

// TestDefaultsMatchInstalledTestparm runs the installed testparm for every
// parameter of its own version's row: the table must print what testparm
// prints.
func TestDefaultsMatchInstalledTestparm(t *testing.T) {
	tp, err := exec.LookPath("testparm")
	if err != nil {
		t.Skip("testparm is not installed: cannot compare the table with a real Samba")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, tp, "-V").Output()
	require.NoError(t, err)
	v, err := ParseSambaVersion(strings.TrimSpace(string(out)))
	require.NoError(t, err)
	d := DefaultsFor(v)
	if d.Clamped {
		t.Skipf("installed Samba %s is outside the table", v)
	}
	require.NotEmpty(t, d.Params)
	for name, want := range d.Params {
		cmd := exec.CommandContext(ctx, tp, "-s", "/dev/null", "--parameter-name="+name)
		got, err := cmd.Output()
		require.NoError(t, err, "testparm --parameter-name=%q", name)
		require.Equal(t, want.Printed, strings.TrimRight(string(got), "\n"),
			"Samba %s: default of %q", v, name)
	}
}

func TestDetectSambaVersion(t *testing.T) {
	old := verDetectCommands
	t.Cleanup(func() { verDetectCommands = old })

	echo, err := exec.LookPath("echo")
	require.NoError(t, err)
	tests := []struct {
		name     string
		commands [][]string
		want     string
		wantErr  []string
	}{
		{name: "first command", commands: [][]string{{echo, "Version 4.9.5-Debian"}, {echo, "Version 4.1.0"}}, want: "4.9.5"},
		{name: "fallback after a missing binary", commands: [][]string{{"/nonexistent/smbd", "--version"}, {echo, "Version 4.17.12-Debian"}},
			want: "4.17.12"},
		{name: "fallback after output without a version", commands: [][]string{{echo, "smbd: unknown option"}, {echo, "Version 4.13.17"}},
			want: "4.13.17"},
		{name: "all fail", commands: [][]string{{"/nonexistent/smbd", "--version"}, {"false"}},
			wantErr: []string{"detect Samba version", "/nonexistent/smbd --version", "false: exit status 1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			verDetectCommands = tc.commands
			v, err := DetectSambaVersion(context.Background())
			if tc.wantErr != nil {
				for _, w := range tc.wantErr {
					require.ErrorContains(t, err, w)
				}
				require.NotContains(t, err.Error(), "\n")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, v.String())
		})
	}
}

func TestDetectSambaVersionHonoursDeadline(t *testing.T) {
	old := verDetectCommands
	t.Cleanup(func() { verDetectCommands = old })
	sleep, err := exec.LookPath("sleep")
	require.NoError(t, err)
	verDetectCommands = [][]string{{sleep, "30"}, {sleep, "30"}}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = DetectSambaVersion(ctx)
	require.ErrorContains(t, err, "deadline exceeded")
	require.Less(t, time.Since(start), 5*time.Second)
}

func TestDetectInstalledSamba(t *testing.T) {
	if _, err := exec.LookPath("smbd"); err != nil {
		if _, err := exec.LookPath("testparm"); err != nil {
			t.Skip("no smbd or testparm installed")
		}
	}
	v, err := DetectSambaVersion(context.Background())
	require.NoError(t, err)
	require.Equal(t, 4, v.Major, "installed Samba %s", v.Raw)

	got, err := ResolveSambaVersion(context.Background(), "")
	require.NoError(t, err)
	require.Equal(t, v.String(), got.String())
	got, err = ResolveSambaVersion(context.Background(), "4.10")
	require.NoError(t, err)
	require.Equal(t, "4.10.0", got.String())
	_, err = ResolveSambaVersion(context.Background(), "ten")
	require.Error(t, err)
}

func verKeysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func ExampleDefaultsFor() {
	v, _ := ParseSambaVersion("Version 4.10.18-Debian")
	d := DefaultsFor(v)
	p := d.Params["server min protocol"]
	fmt.Println(p.Printed, p.Since)
	c := d.Params["client max protocol"]
	fmt.Println(c.Printed, "means", c.Effective)
	// Output:
	// LANMAN1 4.0
	// default means SMB3_11
}

// versionExpr is what ParseSambaVersion accepts, as a regular expression.
var versionExpr = regexp.MustCompile(`^(?i:version\s+)?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+~._a-zA-Z][-+~._a-zA-Z0-9]*)?$`)

// checkParseSambaVersion checks the hand-written parser against the
// regular expression it spells out.
func checkParseSambaVersion(t *testing.T, s string) {
	got, err := ParseSambaVersion(s)
	m := versionExpr.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		if err == nil {
			t.Fatalf("ParseSambaVersion(%q) = %+v; the expression does not match", s, got)
		}
		return
	}
	var want [3]int
	for i, part := range m[1:4] {
		if part == "" {
			continue
		}
		n, aerr := strconv.Atoi(part)
		if aerr != nil || n > 1_000_000 {
			if err == nil {
				t.Fatalf("ParseSambaVersion(%q) = %+v; want an out-of-range error", s, got)
			}
			return
		}
		want[i] = n
	}
	if err != nil || [3]int{got.Major, got.Minor, got.Patch} != want || got.Raw != strings.TrimSpace(s) {
		t.Fatalf("ParseSambaVersion(%q) = %+v, %v; the expression gives %v", s, got, err, want)
	}
}

// versionSeeds are inputs FuzzLex starts from for checkParseSambaVersion.
var versionSeeds = []string{"4.17", "4.17.12", "Version 4.17.12-Debian", "4.21.0rc1", "4.18.0pre1-GIT-1234abc",
	" version\t4.1. ", "VERſION 4.2", "version4.17", "4.17.x", "4.17.12.5", "4..1", "4.1/", "99999999999999999999.1", "4.1-", "Version  4.22.0+dfsg"}
