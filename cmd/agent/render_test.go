package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func boolp(b bool) *bool { return &b }

// goldenReport is a fixed report with every part a renderer shows.
func goldenReport() *checks.Report {
	clients := func(py, w7 bool) map[string]bool { return map[string]bool{"pysmb": py, "windows-7": w7} }
	r := &checks.Report{
		Target:       "127.0.0.1:445",
		SambaVersion: "4.17.12-Debian",
		SmbConf:      "/etc/samba/smb.conf",
		Generated:    time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		DurationMS:   57,
		Clients:      []string{"pysmb", "windows-7"},
		Dialects: map[string]checks.DialectView{
			"NT1":     {Config: false, Live: boolp(false), Clients: clients(true, true)},
			"SMB2_02": {Config: false, Live: boolp(false), Clients: clients(true, true)},
			"SMB2_10": {Config: false, Live: boolp(false), Clients: clients(false, true)},
			"SMB3_00": {Config: false, Live: boolp(false), Clients: clients(false, false)},
			"SMB3_02": {Config: false, Live: boolp(false), Clients: clients(false, false)},
			"SMB3_11": {Config: true, Live: boolp(true), Clients: clients(false, false)},
		},
		Findings: []checks.Finding{
			{
				Pattern: "protocol-mismatch", Cause: "server-min-above-client-max", Severity: checks.Critical, Client: "pysmb",
				Summary:        "pysmb (NT1-SMB2_02 via an SMB1 NEGOTIATE) shares no dialect with smb.conf, which accepts SMB3_11 only",
				ScoringMessage: "SMB connection failed: protocol error",
				Explanation:    "on the SMB1 NEGOTIATE path smbd clamps server min protocol SMB3_11 to SMB2_10; the client offers \"NT LM 0.12\" (NT1), \"SMB 2.002\" (SMB2_02), none of them SMB2_10 or later, so smbd answers DialectIndex 0xFFFF (no protocol) and closes.",
				Evidence: []checks.Evidence{
					{Kind: "config", Text: "server min protocol = SMB3 (Samba reads SMB3 as SMB3_11)", File: "/etc/samba/smb.conf", Line: 12, Param: "server min protocol", Value: "SMB3"},
					{Kind: "probe", Text: "SMB1 NEGOTIATE with pysmb's offer (NT LM 0.12, SMB 2.002): no-common-dialect (DialectIndex 0xFFFF)"},
					{Kind: "log", Text: "client 10.0.0.5 offered NT LM 0.12, SMB 2.002; smbd: no protocol supported", File: "/var/log/samba/log.10.0.0.5", Line: 3},
				},
				Decision: []checks.DecisionStep{
					{Question: "Does smb.conf load?", Fact: "config.loads", Answer: "yes"},
					{Question: "Do the server's min/max protocol and the client's dialects meet?", Fact: "config.dialect_gap", Answer: "min-above-client-max"},
					{Question: "conclusion", Answer: "cause server-min-above-client-max"},
				},
				Commands: []string{"# Effective server min protocol\ntestparm -s /etc/samba/smb.conf --parameter-name='server min protocol'\n#   expect: SMB2_02"},
				Fix: &checks.Fix{ID: "protocol-mismatch/server-min-above-client-max", Kind: checks.FixConfig, Summary: "set server min protocol = SMB2_02",
					Why:     "SMB2_02 is the highest minimum every configured client can negotiate",
					Changes: []checks.Change{{Section: "global", Param: "server min protocol", Value: "SMB2_02", From: "SMB3", Origin: "/etc/samba/smb.conf:12"}}},
			},
			{
				Pattern: "smb1-enabled", Cause: "smb1-needed", Severity: checks.Warning,
				Summary: "SMB1 (NT1) is enabled (smb.conf allows it) because windows-xp speaks only SMB1",
				Fix:     &checks.Fix{ID: "smb1-enabled/smb1-needed", Kind: checks.FixManual, Summary: "plan the client's upgrade", EnablesSMB1: true, Risk: "keep NT1 only as long as the client exists"},
			},
		},
		Timings: []checks.Timing{{Step: "probe", Seconds: 0.041, OK: false}, {Step: "tcp:445", Seconds: 0.0002, OK: true}},
		Errors:  []string{"firewall: nft not installed"},
	}
	r.Finalize()
	return r
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./cmd/agent -run TestRenderGolden -update")
	require.Equal(t, string(want), string(got))
}

func TestRenderGolden(t *testing.T) {
	r := goldenReport()
	var b bytes.Buffer
	require.NoError(t, renderText(&b, r, textOptions{}))
	golden(t, "diagnose.txt.golden", b.Bytes())
	require.NotContains(t, b.String(), "\x1b[", "no colour unless asked")
	require.True(t, strings.HasPrefix(b.String(), "CRITICAL protocol-mismatch: pysmb"))

	b.Reset()
	require.NoError(t, renderText(&b, r, textOptions{Color: true}))
	golden(t, "diagnose.color.golden", b.Bytes())
	require.Contains(t, b.String(), ansiRed)

	b.Reset()
	require.NoError(t, renderJSON(&b, r))
	golden(t, "diagnose.json.golden", b.Bytes())
	var back checks.Report
	require.NoError(t, json.Unmarshal(b.Bytes(), &back))
	require.Equal(t, checks.Critical, back.Status)

	b.Reset()
	require.NoError(t, renderNagios(&b, r))
	golden(t, "diagnose.nagios.golden", b.Bytes())
	require.Equal(t, 1, strings.Count(b.String(), "\n"), "one line")
	require.Equal(t, 1, strings.Count(b.String(), "|"), "one perfdata separator")
}

func TestRenderHealthy(t *testing.T) {
	r := &checks.Report{Target: "127.0.0.1:445", Clients: []string{"pysmb"}}
	r.Finalize()
	var b bytes.Buffer
	require.NoError(t, renderNagios(&b, r))
	require.True(t, strings.HasPrefix(b.String(), "SMB OK - 127.0.0.1:445 serves pysmb | "), b.String())
	b.Reset()
	require.NoError(t, renderText(&b, r, textOptions{}))
	require.True(t, strings.HasPrefix(b.String(), "OK 127.0.0.1:445 serves pysmb\n"), b.String())
}

func TestRenderNagiosSanitises(t *testing.T) {
	r := &checks.Report{Target: "t", Findings: []checks.Finding{{Pattern: "p", Severity: checks.Critical, Summary: "a | b\nc"}}}
	r.Finalize()
	var b bytes.Buffer
	require.NoError(t, renderNagios(&b, r))
	require.Equal(t, 1, strings.Count(b.String(), "|"))
	require.Equal(t, 1, strings.Count(b.String(), "\n"))
}

func TestPickFormat(t *testing.T) {
	for _, tc := range []struct {
		format             string
		formatSet, jsonCfg bool
		jsonSet            bool
		want               string
		err                bool
	}{
		{"", false, false, false, formatText, false},
		{"", false, true, true, formatJSON, false},
		{"", false, true, false, formatJSON, false},
		{"nagios", true, true, false, formatNagios, false}, // --format beats output.json from the file
		{"nagios", true, true, true, "", true},             // --json --format nagios
		{"JSON", true, false, false, formatJSON, false},
		{"xml", true, false, false, "", true},
	} {
		got, err := pickFormat(tc.format, tc.formatSet, tc.jsonCfg, tc.jsonSet)
		if tc.err {
			require.Error(t, err, "%+v", tc)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tc.want, got, "%+v", tc)
	}
}

func TestUseColor(t *testing.T) {
	env := func(v string, set bool) func(string) (string, bool) {
		return func(string) (string, bool) { return v, set }
	}
	var buf bytes.Buffer
	require.True(t, useColor("always", &buf, env("1", true)))
	require.False(t, useColor("never", &buf, env("", false)))
	require.False(t, useColor("auto", &buf, env("", false)), "a buffer is not a terminal")
	f, err := os.CreateTemp(t.TempDir(), "out")
	require.NoError(t, err)
	defer f.Close()
	require.False(t, useColor("auto", f, env("", false)), "a regular file is not a terminal")
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		defer tty.Close()
		require.True(t, useColor("auto", tty, env("", false)))
		require.False(t, useColor("auto", tty, env("1", true)), "NO_COLOR")
	}
}

// Every untrusted string of the report is printed escaped in text: a
// process command line, a log line, a share and section name, a command
// with them; the renderer's own colours still work. JSON keeps the bytes.
func TestRenderTextEscapesUntrustedStrings(t *testing.T) {
	r := goldenReport()
	f := &r.Findings[0]
	f.Summary = "share [evil\x1b[2J] refuses"
	f.ScoringMessage = "on evil\x1b]0;title\x07"
	f.Evidence = append(f.Evidence,
		checks.Evidence{Kind: "process", Text: "smbd\x1b[31m --fake \u202eexe"},
		checks.Evidence{Kind: "log", Text: "log line \x9b2J", File: "/var/log/samba/log.\x1b[1m", Line: 1})
	f.Decision = append(f.Decision, checks.DecisionStep{Question: "Share\x1b[8m?", Answer: "hidden\x1b[0m"})
	f.Commands = append(f.Commands, "# comment\x1b[2J\nsmbclient //h/evil\x1b[2J")
	f.Fix.Changes[0].Section = "evil\x1b[2J"
	r.Errors = append(r.Errors, "log: \x1b[2J")
	for _, color := range []bool{false, true} {
		var b bytes.Buffer
		require.NoError(t, renderText(&b, r, textOptions{Color: color}))
		out := b.String()
		for _, raw := range []string{"\x1b[2J", "\x1b]0", "\x07", "\x1b[31m --fake", "\u202e", "\x9b", "\x1b[8m", "log.\x1b[1m"} {
			require.NotContains(t, out, raw, "color=%v", color)
		}
		for _, shown := range []string{`[evil\x1b[2J]`, `evil\x1b]0;title\x07`, `smbd\x1b[31m --fake \u202eexe`, `log.\x1b[1m`, `Share\x1b[8m?`, `smbclient //h/evil\x1b[2J`} {
			require.Contains(t, out, shown, "color=%v", color)
		}
		if color {
			require.Contains(t, out, ansiBold+ansiRed, "the renderer's own styles remain")
		}
	}
	var js bytes.Buffer
	require.NoError(t, renderJSON(&js, r))
	require.Contains(t, js.String(), `share [evil\u001b[2J] refuses`)
}
