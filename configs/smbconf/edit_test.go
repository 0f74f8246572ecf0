package smbconf

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// editCase is one editor call on a set of files. Files are written to a
// temporary directory ("@DIR@" in their text is that directory); the main
// file is smb.conf.
type editCase struct {
	name   string
	files  map[string]string
	remove bool
	// section, param and value of the call.
	section, param, value string
	// want is the expected new content of every file that changes; any
	// other file must be left alone. Empty with no wantErr: no change.
	want map[string]string
	// wantLine is the FileChange.Line of the change of smb.conf (0: not
	// checked); wantDesc a substring of its Desc.
	wantLine int
	wantDesc string
	wantErr  string
}

var editCases = []editCase{
	{
		name:  "replace keeps a synonym's spelling",
		files: map[string]string{"smb.conf": "# c\n[global]\n\tmin protocol = SMB3\n\tworkgroup = W\n"},
		param: "server min protocol", value: "SMB2_02",
		want:     map[string]string{"smb.conf": "# c\n[global]\n\tmin protocol = SMB2_02\n\tworkgroup = W\n"},
		wantLine: 3, wantDesc: `smb.conf:3: server min protocol = SMB3 -> SMB2_02 (written as "min protocol")`,
	},
	{
		name:  "replace keeps odd spacing and case",
		files: map[string]string{"smb.conf": "[GLOBAL]\n   Server  MIN protocol=SMB3   \n"},
		param: "server min protocol", value: "SMB2_02",
		want: map[string]string{"smb.conf": "[GLOBAL]\n   Server  MIN protocol=SMB2_02\n"},
	},
	{
		name:  "replace asked by a synonym",
		files: map[string]string{"smb.conf": "[global]\n\tserver max protocol = SMB2\n"},
		param: "max protocol", value: "SMB3",
		want: map[string]string{"smb.conf": "[global]\n\tserver max protocol = SMB3\n"},
	},
	{
		name:  "CRLF replace",
		files: map[string]string{"smb.conf": "[global]\r\n\tserver min protocol = SMB3\r\n\tworkgroup = X\r\n"},
		param: "server min protocol", value: "SMB2_02",
		want: map[string]string{"smb.conf": "[global]\r\n\tserver min protocol = SMB2_02\r\n\tworkgroup = X\r\n"},
	},
	{
		name:  "CRLF insert",
		files: map[string]string{"smb.conf": "[global]\r\n\tworkgroup = X\r\n\r\n[s]\r\n\tpath = /s\r\n"},
		param: "server min protocol", value: "SMB2_02",
		want:     map[string]string{"smb.conf": "[global]\r\n\tworkgroup = X\r\n\tserver min protocol = SMB2_02\r\n\r\n[s]\r\n\tpath = /s\r\n"},
		wantLine: 3,
	},
	{
		// testparm ignores a header that starts with a BOM: the
		// parameters after it are leading [global] parameters.
		name:  "BOM before [global]",
		files: map[string]string{"smb.conf": "\xef\xbb\xbf[global]\n\tworkgroup = X\n[s]\n\tpath = /s\n"},
		param: "server min protocol", value: "SMB2_02",
		want: map[string]string{"smb.conf": "\xef\xbb\xbf[global]\n\tworkgroup = X\n\tserver min protocol = SMB2_02\n[s]\n\tpath = /s\n"},
	},
	{
		name:  "BOM file replace",
		files: map[string]string{"smb.conf": "\xef\xbb\xbf# c\n[global]\n\tserver min protocol = SMB3\n"},
		param: "server min protocol", value: "SMB2_02",
		want: map[string]string{"smb.conf": "\xef\xbb\xbf# c\n[global]\n\tserver min protocol = SMB2_02\n"},
	},
	{
		name:  "no trailing newline: insert",
		files: map[string]string{"smb.conf": "[global]\n\tworkgroup = X"},
		param: "server min protocol", value: "SMB2_02",
		want:     map[string]string{"smb.conf": "[global]\n\tworkgroup = X\n\tserver min protocol = SMB2_02"},
		wantLine: 3,
	},
	{
		name:  "no trailing newline: replace",
		files: map[string]string{"smb.conf": "[global]\n\tserver min protocol = SMB3"},
		param: "server min protocol", value: "SMB2_02",
		want: map[string]string{"smb.conf": "[global]\n\tserver min protocol = SMB2_02"},
	},
	{
		name:  "insert next to a backslash at the end of the file goes before it",
		files: map[string]string{"smb.conf": "[global]\n\tworkgroup = W\n\tserver string = ends here\\"},
		param: "server min protocol", value: "SMB2_02",
		want:     map[string]string{"smb.conf": "[global]\n\tworkgroup = W\n\tserver min protocol = SMB2_02\n\tserver string = ends here\\"},
		wantLine: 3,
	},
	{
		name:  "continuation lines collapse",
		files: map[string]string{"smb.conf": "[global]\n\tserver min protocol = \\\n\t\tSMB3\n\tworkgroup = X\n"},
		param: "server min protocol", value: "SMB2_02",
		want: map[string]string{"smb.conf": "[global]\n\tserver min protocol = SMB2_02\n\tworkgroup = X\n"},
	},
	{
		name:  "continuation lines collapse, CRLF",
		files: map[string]string{"smb.conf": "[global]\r\n\tserver min protocol = SM\\\r\nB3\r\n"},
		param: "server min protocol", value: "SMB2_02",
		want: map[string]string{"smb.conf": "[global]\r\n\tserver min protocol = SMB2_02\r\n"},
	},
	{
		name:  "duplicate keys: the last one is edited",
		files: map[string]string{"smb.conf": "[global]\n\tserver min protocol = SMB3\n\tmin protocol = NT1\n"},
		param: "server min protocol", value: "SMB2_02",
		want:     map[string]string{"smb.conf": "[global]\n\tserver min protocol = SMB3\n\tmin protocol = SMB2_02\n"},
		wantLine: 3,
	},
	{
		name:   "duplicate keys: remove all",
		files:  map[string]string{"smb.conf": "[global]\n\tserver min protocol = SMB3\n# keep\n\tmin protocol = NT1\n\tworkgroup = W\n"},
		remove: true, param: "server min protocol",
		want:     map[string]string{"smb.conf": "[global]\n# keep\n\tworkgroup = W\n"},
		wantLine: 2,
	},
	{
		name:  "repeated [global]: insert into the last",
		files: map[string]string{"smb.conf": "[global]\n\tworkgroup = A\n[s]\n\tpath = /s\n[global]\n  netbios name = N\n\n"},
		param: "server min protocol", value: "SMB2_02",
		want:     map[string]string{"smb.conf": "[global]\n\tworkgroup = A\n[s]\n\tpath = /s\n[global]\n  netbios name = N\n  server min protocol = SMB2_02\n\n"},
		wantLine: 7,
	},
	{
		name:  "share parameter in [global] goes before the first share",
		files: map[string]string{"smb.conf": "[global]\n\tworkgroup = A\n[s]\n\tpath = /s\n[global]\n\tnetbios name = N\n"},
		param: "hosts allow", value: "10.0.0.0/8",
		want: map[string]string{"smb.conf": "[global]\n\tworkgroup = A\n\thosts allow = 10.0.0.0/8\n[s]\n\tpath = /s\n[global]\n\tnetbios name = N\n"},
	},
	{
		name:    "insert into a share, indented like its neighbours",
		files:   map[string]string{"smb.conf": "[global]\n\tworkgroup = A\n[s]\n    path = /s\n# c\n[t]\n\tpath = /t\n"},
		section: "s", param: "browseable", value: "no",
		want: map[string]string{"smb.conf": "[global]\n\tworkgroup = A\n[s]\n    path = /s\n    browseable = no\n# c\n[t]\n\tpath = /t\n"},
	},
	{
		name:    "repeated share: insert into its last occurrence",
		files:   map[string]string{"smb.conf": "[s]\n\tpath = /s\n[t]\n\tpath = /t\n[S]\n\tcomment = c\n"},
		section: "s", param: "browseable", value: "no",
		want: map[string]string{"smb.conf": "[s]\n\tpath = /s\n[t]\n\tpath = /t\n[S]\n\tcomment = c\n\tbrowseable = no\n"},
	},
	{
		name:    "a share that inherits from [global] gets its own line",
		files:   map[string]string{"smb.conf": "[global]\n\tbrowseable = no\n[s]\n\tpath = /s\n"},
		section: "s", param: "browseable", value: "yes",
		want: map[string]string{"smb.conf": "[global]\n\tbrowseable = no\n[s]\n\tpath = /s\n\tbrowseable = yes\n"},
	},
	{
		name:    "share with %-macros in its name, by its raw name",
		files:   map[string]string{"smb.conf": "[%h-share]\n\tpath = /srv/%h\n"},
		section: "%h-share", param: "read only", value: "no",
		want: map[string]string{"smb.conf": "[%h-share]\n\tpath = /srv/%h\n\tread only = no\n"},
	},
	{
		name:    "inverse synonym keeps its spelling and inverts the value",
		files:   map[string]string{"smb.conf": "[s]\n\tpath = /s\n\twriteable = yes\n"},
		section: "s", param: "read only", value: "yes",
		want: map[string]string{"smb.conf": "[s]\n\tpath = /s\n\twriteable = no\n"},
	},
	{
		name:  "insert when there is no [global]",
		files: map[string]string{"smb.conf": "# comment\n\n[s]\n\tpath = /s\n"},
		param: "server min protocol", value: "SMB2_02",
		want:     map[string]string{"smb.conf": "# comment\n\n[global]\n\tserver min protocol = SMB2_02\n[s]\n\tpath = /s\n"},
		wantLine: 4,
	},
	{
		name:  "leading parameters are [global]",
		files: map[string]string{"smb.conf": "workgroup = X\n[s]\npath = /s\n"},
		param: "server min protocol", value: "SMB2_02",
		want: map[string]string{"smb.conf": "workgroup = X\nserver min protocol = SMB2_02\n[s]\npath = /s\n"},
	},
	{
		name:  "empty file",
		files: map[string]string{"smb.conf": ""},
		param: "server min protocol", value: "SMB2_02",
		want:     map[string]string{"smb.conf": "[global]\n\tserver min protocol = SMB2_02\n"},
		wantLine: 2,
	},
	{
		name:  "comments only, no final newline",
		files: map[string]string{"smb.conf": "# only a comment"},
		param: "server min protocol", value: "SMB2_02",
		want:     map[string]string{"smb.conf": "# only a comment\n[global]\n\tserver min protocol = SMB2_02"},
		wantLine: 3,
	},
	{
		name: "included file is edited",
		files: map[string]string{
			"smb.conf": "[global]\n\tinclude = @DIR@/inc.conf\n[s]\n\tpath = /s\n",
			"inc.conf": "\tserver min protocol = SMB3\n",
		},
		param: "server min protocol", value: "SMB2_02",
		want: map[string]string{"inc.conf": "\tserver min protocol = SMB2_02\n"},
	},
	{
		name: "include through a macro that testparm expands to nothing; config file is not followed",
		files: map[string]string{
			"smb.conf":   "[global]\n\tinclude = @DIR@/%m.conf\n\tconfig file = @DIR@/other.conf\n\tworkgroup = W\n",
			".conf":      "\tserver min protocol = SMB3\n",
			"other.conf": "[global]\n\tserver min protocol = NT1\n",
		},
		param: "server min protocol", value: "SMB2_02",
		want: map[string]string{".conf": "\tserver min protocol = SMB2_02\n"},
	},
	{
		name: "remove duplicates across files",
		files: map[string]string{
			"smb.conf": "[global]\n\tmin protocol = NT1\n\tinclude = @DIR@/inc.conf\n\tserver min protocol = SMB2_10\n[s]\n\tpath = /s\n\tserver min protocol = SMB3\n",
			"inc.conf": "# inc\nserver min protocol = SMB3\n",
		},
		remove: true, param: "server min protocol",
		want: map[string]string{
			// The line in [s] is ignored by Samba and stays.
			"smb.conf": "[global]\n\tinclude = @DIR@/inc.conf\n[s]\n\tpath = /s\n\tserver min protocol = SMB3\n",
			"inc.conf": "# inc\n",
		},
		wantLine: 2,
	},
	{
		// An included file that opens a share leaves it open: the line
		// after the include is in [s], where Samba ignores it.
		name: "remove: a line after an include that opens a share is in that share",
		files: map[string]string{
			"smb.conf": "[global]\n\tinclude = @DIR@/inc.conf\n\tserver min protocol = SMB2_10\n",
			"inc.conf": "server min protocol = SMB3\n[s]\n\tpath = /s\n",
		},
		remove: true, param: "server min protocol",
		want: map[string]string{"inc.conf": "[s]\n\tpath = /s\n"},
	},
	{
		name:    "remove in a share only",
		files:   map[string]string{"smb.conf": "[global]\n\tbrowseable = no\n[s]\n\tbrowseable = yes\n\tpath = /s\n"},
		remove:  true,
		section: "s", param: "browsable",
		want: map[string]string{"smb.conf": "[global]\n\tbrowseable = no\n[s]\n\tpath = /s\n"},
	},
	{
		name:   "remove: nothing set",
		files:  map[string]string{"smb.conf": "[global]\n\tworkgroup = W\n"},
		remove: true, param: "server min protocol",
	},
	{
		name:  "set: already so",
		files: map[string]string{"smb.conf": "[global]\n\tserver min protocol = SMB2_02\n"},
		param: "server min protocol", value: "SMB2_02",
	},
	{
		name:  "log level, which testparm ignores, is still edited",
		files: map[string]string{"smb.conf": "[global]\n\tlog level = 1\n\tdebuglevel = 2\n"},
		param: "log level", value: "1 smb2:3",
		want: map[string]string{"smb.conf": "[global]\n\tlog level = 1\n\tdebuglevel = 1 smb2:3\n"},
	},
	{
		name:    "global-only parameter in a share",
		files:   map[string]string{"smb.conf": "[s]\n\tpath = /s\n"},
		section: "s", param: "server min protocol", value: "SMB2_02",
		wantErr: "global parameter",
	},
	{
		name:    "unknown share",
		files:   map[string]string{"smb.conf": "[s]\n\tpath = /s\n"},
		section: "nope", param: "path", value: "/x",
		wantErr: "no share [nope]",
	},
	{
		name:  "unknown parameter",
		files: map[string]string{"smb.conf": "[s]\n\tpath = /s\n"},
		param: "no such thing", value: "x", wantErr: "unknown parameter",
	},
	{
		name: "value with a newline", files: map[string]string{"smb.conf": "[global]\n"},
		param: "workgroup", value: "A\nB", wantErr: "newline",
	},
	{
		name: "value with NUL", files: map[string]string{"smb.conf": "[global]\n"},
		param: "workgroup", value: "A\x00B", wantErr: "NUL",
	},
	{
		name: "value with a trailing backslash", files: map[string]string{"smb.conf": "[global]\n"},
		param: "workgroup", value: `A\`, wantErr: "backslash",
	},
	{
		name: "value with leading blank", files: map[string]string{"smb.conf": "[global]\n"},
		param: "workgroup", value: " A", wantErr: "white space",
	},
	{
		name: "value with a run of blanks", files: map[string]string{"smb.conf": "[global]\n"},
		param: "server string", value: "a  b", wantErr: "run of white space",
	},
	{
		name: "invalid enum value", files: map[string]string{"smb.conf": "[global]\n\tserver min protocol = SMB3\n"},
		param: "server min protocol", value: "SMB9", wantErr: "does not load",
	},
	{
		name:    "a derived value cannot be set",
		files:   map[string]string{"smb.conf": "[s]\n\tcomment = no path\n"},
		section: "s", param: "available", value: "yes", wantErr: "does not decide",
	},
	{
		name:  "a configuration Samba refuses is not edited",
		files: map[string]string{"smb.conf": "[global]\n\tserver min protocol = SMB9\n"},
		param: "server min protocol", value: "SMB2_02", wantErr: "Samba refuses",
	},
}

// writeFiles writes the files of a case into a new directory.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(strings.ReplaceAll(text, "@DIR@", dir)), 0o644))
	}
	return dir
}

func TestEdit(t *testing.T) {
	for _, tc := range editCases {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, tc.files)
			main := filepath.Join(dir, "smb.conf")
			cfg, lerr := Load(main, LoadOptions{Version: oracleVersion, WorkDir: dir, Hostname: "edithost"})
			if tc.wantErr == "" {
				require.NoError(t, lerr)
			}
			var fcs []FileChange
			var err error
			if tc.remove {
				fcs, err = cfg.PlanRemove(tc.section, tc.param)
			} else {
				fcs, err = cfg.PlanSet(tc.section, tc.param, tc.value)
			}
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				assert.Empty(t, fcs)
				return
			}
			require.NoError(t, err)
			got := map[string]string{}
			for _, fc := range fcs {
				rel, rerr := filepath.Rel(dir, fc.Path)
				require.NoError(t, rerr)
				_, dup := got[rel]
				require.Falsef(t, dup, "two FileChanges for %s", rel)
				before, rerr := os.ReadFile(fc.Path)
				require.NoError(t, rerr)
				assert.Equal(t, string(before), string(fc.Before), "Before is the file as read")
				got[rel] = string(fc.After)
				if rel == "smb.conf" {
					if tc.wantLine > 0 {
						assert.Equal(t, tc.wantLine, fc.Line, "Line")
					}
					if tc.wantDesc != "" {
						assert.Contains(t, fc.Desc, tc.wantDesc)
					}
				}
				assert.NotEmpty(t, fc.Desc)
			}
			want := map[string]string{}
			for k, v := range tc.want {
				want[k] = strings.ReplaceAll(v, "@DIR@", dir)
			}
			assert.Equal(t, want, got)
		})
	}
}

// TestEditDescribes checks the description of an insert and a removal.
func TestEditDescribes(t *testing.T) {
	dir := writeFiles(t, map[string]string{"smb.conf": "[global]\n\tworkgroup = W\n\tmin protocol = NT1\n"})
	cfg, err := Load(filepath.Join(dir, "smb.conf"), LoadOptions{Version: oracleVersion, WorkDir: dir})
	require.NoError(t, err)
	fcs, err := cfg.PlanSet("", "server max protocol", "SMB3")
	require.NoError(t, err)
	require.Len(t, fcs, 1)
	assert.Contains(t, fcs[0].Desc, "smb.conf:4: server max protocol = SMB3 added to [global]")
	fcs, err = cfg.PlanRemove("global", "server min protocol")
	require.NoError(t, err)
	require.Len(t, fcs, 1)
	assert.Contains(t, fcs[0].Desc, "smb.conf:3: min protocol = NT1 removed from [global]")
	assert.Equal(t, 3, fcs[0].Line)
}

// TestEditErrorsWrap: the editor's refusals wrap ErrNotEditable.
func TestEditErrorsWrap(t *testing.T) {
	dir := writeFiles(t, map[string]string{"smb.conf": "[s]\n\tpath = /s\n"})
	cfg, err := Load(filepath.Join(dir, "smb.conf"), LoadOptions{Version: oracleVersion, WorkDir: dir})
	require.NoError(t, err)
	_, err = cfg.PlanSet("s", "server min protocol", "SMB3")
	assert.True(t, errors.Is(err, ErrNotEditable), "%v", err)
	var nilCfg *Config
	_, err = nilCfg.PlanSet("", "workgroup", "W")
	assert.Error(t, err)
	_, err = (&Config{}).PlanRemove("", "workgroup")
	assert.Error(t, err)
}

// TestFindServiceSubstitution asks testparm for shares whose names hold
// every %-macro, by raw and by substituted name: lp_servicenumber
// compares the substituted names (standard_sub_basic), truncated to an
// fstring.
func TestFindServiceSubstitution(t *testing.T) {
	tp := requireTestparm(t)
	host, err := os.Hostname()
	require.NoError(t, err)
	long := strings.Repeat("a", 300)
	text := "[global]\n\tnetbios name = NBNAME\n" +
		"[1%U]\npath = /p1\n[2%G]\npath = /p2\n[3%D]\npath = /p3\n[4%I]\npath = /p4\n[5%j]\npath = /p5\n" +
		"[6%L]\npath = /p6\n[7%N]\npath = /p7\n[8%m]\npath = /p8\n[9%R]\npath = /p9\n[10%a]\npath = /p10\n" +
		"[11%h]\npath = /p11\n[12%v]\npath = /p12\n[13%w]\npath = /p13\n[14%Z]\npath = /p14\n" +
		"[15%$(SMBCONF_TEST_VAR)]\npath = /p15\n[16%$(SMBCONF_TEST_UNSET)]\npath = /p16\n" +
		"[17%LOGONSERVER%-%L]\npath = /p17\n[18%h%U%h]\npath = /p18\n[19%%L]\npath = /p19\n[20%P%S%u]\npath = /p20\n" +
		"[" + long + "]\npath = /long\n"
	t.Setenv("SMBCONF_TEST_VAR", "a;b%c$d")
	os.Unsetenv("SMBCONF_TEST_UNSET")
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "m.conf"), []byte(text), 0o644))
	cfg, err := Load(filepath.Join(dir, "m.conf"), LoadOptions{Version: oracleVersion, WorkDir: dir, Hostname: host})
	require.NoError(t, err)
	h := hostShort(host)
	queries := []string{
		"1%U", "1", "2%G", "2", "3%D", "3", "4%I", "40.0.0.0", "5%j", "50_0_0_0",
		"6%L", "6NBNAME", "6nbname", "7NBNAME", "8%m", "8", "9UNKNOWN", "10unknown",
		"11%h", "11" + h, "12" + TableSambaVersion, "13\\", "14%Z", "15a_b_c_d", "15a;b%c$d",
		"16%$(SMBCONF_TEST_UNSET)", "16", "17NBNAMEOGONSERVER%-NBNAME", "17%LOGONSERVER%-NBNAME",
		"18" + h + h, "19%NBNAME", "20%P%S%u", long, long[:255], long[:256],
	}
	for _, q := range queries {
		w, err := runTestparm(tp, dir, "-s", "m.conf", "--section-name="+q, "--parameter-name=path")
		require.NoError(t, err)
		var g bytes.Buffer
		_ = cfg.PrintParameter(&g, "path", q)
		assert.Equalf(t, string(w.stdout), g.String(), "--section-name=%q", q)
		// Every share has a path, so testparm prints one exactly when it
		// finds the section.
		assert.Equalf(t, len(w.stdout) > 0, cfg.HasSection(q), "HasSection(%q)", q)
	}
}

// TestEditCorpus plans edits on every corpus config Samba loads: setting
// the reachability parameters in [global] and "read only" in every share
// must succeed (a share made by Samba, not written in a file, aside), and
// so must removing them.
func TestEditCorpus(t *testing.T) {
	dir, files := copyCorpus(t)
	n := 0
	for _, f := range files {
		cfg, err := Load(filepath.Join(dir, f), LoadOptions{Version: oracleVersion, WorkDir: dir})
		if err != nil {
			continue
		}
		n++
		for _, q := range [][2]string{{"server min protocol", "SMB2_02"}, {"server max protocol", "SMB3"},
			{"hosts allow", "10.0.0.0/8"}, {"log level", "1 smb2:3"}, {"server signing", "mandatory"}} {
			_, err := cfg.PlanSet("", q[0], q[1])
			assert.NoErrorf(t, err, "%s: set %s", f, q[0])
			_, err = cfg.PlanRemove("", q[0])
			assert.NoErrorf(t, err, "%s: remove %s", f, q[0])
		}
		for _, s := range cfg.Sections() {
			_, err := cfg.PlanSet(s, "read only", "no")
			if err != nil && strings.Contains(err.Error(), "made by Samba") {
				continue
			}
			assert.NoErrorf(t, err, "%s: [%s] set read only", f, s)
			_, err = cfg.PlanRemove(s, "read only")
			if err != nil && strings.Contains(err.Error(), "would also change read only in [root]") {
				// [root] is the auto service made from [homes] (238):
				// the removal would change it too, and is refused.
				continue
			}
			assert.NoErrorf(t, err, "%s: [%s] remove read only", f, s)
		}
	}
	assert.Greater(t, n, 150)
}

// TestEditDiffTestparm edits corpus configs and asks testparm: the new
// values are printed, and the dump is otherwise unchanged.
func TestEditDiffTestparm(t *testing.T) {
	tp := requireTestparm(t)
	_, files := copyCorpus(t)
	// Every seventh config: a few dozen across the corpus.
	var picked []string
	for i, f := range files {
		if i%7 == 0 {
			picked = append(picked, f)
		}
	}
	require.GreaterOrEqual(t, len(picked), 30)
	edited := 0
	for _, f := range picked {
		t.Run(f, func(t *testing.T) {
			dir, _ := copyCorpus(t)
			before, err := runTestparm(tp, dir, "-s", f)
			require.NoError(t, err)
			if len(before.stdout) == 0 {
				t.Skip("testparm refuses it")
			}
			sets := [][2]string{{"server min protocol", "SMB2_02"}, {"server max protocol", "SMB3"}}
			for _, s := range sets {
				cfg, err := Load(filepath.Join(dir, f), LoadOptions{Version: oracleVersion, WorkDir: dir})
				require.NoError(t, err)
				fcs, err := cfg.PlanSet("", s[0], s[1])
				if err != nil {
					t.Skipf("refused: %v", err) // the reason is in the log
				}
				for _, fc := range fcs {
					p := fc.Path
					if !filepath.IsAbs(p) {
						p = filepath.Join(dir, p)
					}
					require.NoError(t, os.WriteFile(p, fc.After, 0o644))
				}
			}
			edited++
			for _, s := range sets {
				w, err := runTestparm(tp, dir, "-s", f, "--parameter-name="+s[0])
				require.NoError(t, err)
				assert.Equal(t, s[1]+"\n", string(w.stdout), s[0])
			}
			after, err := runTestparm(tp, dir, "-s", f)
			require.NoError(t, err)
			strip := func(b []byte) string {
				var out []string
				inGlobal := false
				for _, l := range strings.Split(string(b), "\n") {
					if strings.HasPrefix(l, "[") {
						inGlobal = l == "[global]"
					}
					if inGlobal && (strings.HasPrefix(l, "\tserver min protocol = ") || strings.HasPrefix(l, "\tserver max protocol = ")) {
						continue
					}
					out = append(out, l)
				}
				return strings.Join(out, "\n")
			}
			assert.Equal(t, strip(before.stdout), strip(after.stdout), "dump apart from the two parameters")
		})
	}
	t.Logf("%d of %d configs edited and checked with testparm", edited, len(picked))
	assert.GreaterOrEqual(t, edited, len(picked)*3/4, "most configs must be editable")
}

// fuzzTargets are the edits FuzzEdit tries: global-only parameters in
// [global] and share parameters in the first share, whose effect on the
// dump is confined to their own line.
var fuzzTargets = []struct {
	share        bool
	param, value string
	remove       bool
}{
	{false, "server min protocol", "SMB2_02", false},
	{false, "min protocol", "SMB3", false},
	{false, "server max protocol", "", true},
	{false, "workgroup", "FUZZ", false},
	{false, "netbios name", "", true},
	{false, "server signing", "mandatory", false},
	{true, "path", "/srv/fuzz", false},
	{true, "read only", "no", false},
	{true, "writeable", "", true},
	{true, "hosts allow", "10.0.0.1", false},
}

func FuzzEdit(f *testing.F) {
	for _, tc := range editCases {
		if main, ok := tc.files["smb.conf"]; ok && !strings.Contains(main, "@DIR@") {
			f.Add([]byte(main), uint8(len(tc.name)))
		}
	}
	f.Add([]byte("[global]\r\n\tmin protocol = SMB3 \\\r\n\r\n[s]\npath=/s"), uint8(3))
	f.Fuzz(func(t *testing.T, src []byte, which uint8) {
		if len(src) > 1<<16 {
			return
		}
		dir := t.TempDir()
		cfg, err := Parse(src, filepath.Join(dir, "fuzz.conf"), LoadOptions{Version: oracleVersion, WorkDir: dir, Hostname: "fuzzhost"})
		if err != nil {
			return
		}
		ft := fuzzTargets[int(which)%len(fuzzTargets)]
		section := ""
		if ft.share {
			secs := cfg.Sections()
			if len(secs) == 0 {
				return
			}
			section = secs[0]
		}
		var fcs []FileChange
		if ft.remove {
			fcs, err = cfg.PlanRemove(section, ft.param)
		} else {
			fcs, err = cfg.PlanSet(section, ft.param, ft.value)
		}
		if err != nil {
			return
		}
		over := map[string][]byte{}
		for _, fc := range fcs {
			if _, dup := over[fc.Path]; dup {
				t.Fatalf("two changes of %s", fc.Path)
			}
			if !bytes.Equal(fc.Before, cfg.srcs[fc.Path]) {
				t.Fatalf("Before of %s is not the file as read", fc.Path)
			}
			over[fc.Path] = fc.After
		}
		if len(fcs) == 0 {
			return
		}
		r, err := cfg.replay(over)
		if err != nil {
			t.Fatalf("edited config does not load: %v\n%q", err, fcs[0].After)
		}
		after := r.c
		p, _ := LookupParam(ft.param)
		canonP := p.Canonical()
		var v Value
		if ft.share {
			s := r.findShare(section)
			if s == nil {
				t.Fatalf("share [%s] lost", section)
			}
			v = after.value(p, *s.get(p.slot))
		} else {
			v, _ = after.Lookup("", ft.param)
		}
		switch {
		case ft.remove && !ft.share:
			d := printVal(canonP, after.dflt.g[canonP.slot])
			if canonP.Class == ClassLocal {
				d = printVal(canonP, after.dflt.l[canonP.slot])
			}
			if !v.Origin.IsDefault() && printVal(canonP, slotOf(after, canonP, -1).v) != d {
				t.Fatalf("%s = %q (%s) after removal", ft.param, v.Printed, v.Origin)
			}
		case !ft.remove:
			if want, ok := expectedPrinted(p, ft.value); ok && v.Printed != want {
				t.Fatalf("%s = %q after the edit, want %q\n%q", ft.param, v.Printed, want, fcs[0].After)
			}
		}
		// The dump, minus the target parameter's lines, is unchanged.
		var b1, b2 bytes.Buffer
		require.NoError(t, cfg.Dump(&b1))
		require.NoError(t, after.Dump(&b2))
		canon := p.Canonical().Name
		if x, y := dumpWithout(b1.String(), canon, section), dumpWithout(b2.String(), canon, section); x != y {
			t.Fatalf("dump changed beyond %s:\n%s", canon, lineDiff([]byte(x), []byte(y)))
		}
	})
}

// dumpWithout drops the lines of param from a dump's section ("" for
// [global]).
func dumpWithout(dump, param, section string) string {
	head := "[global]"
	if section != "" {
		head = "[" + section + "]"
	}
	var out []string
	in := false
	for _, l := range strings.Split(dump, "\n") {
		if strings.HasPrefix(l, "[") {
			in = l == head
		}
		if in && strings.HasPrefix(l, "\t"+param+" = ") {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}
