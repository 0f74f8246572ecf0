package fixes

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks"
	"github.com/smb-agent/smb-agent/configs"
	"github.com/smb-agent/smb-agent/configs/smbconf"
)

// confDir writes files (name → content; "smb.conf" is the main one, and
// "@DIR@" in any content becomes the directory) and loads smb.conf.
func confDir(t *testing.T, files map[string]string) (string, *checks.Facts) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(strings.ReplaceAll(content, "@DIR@", dir)), 0o644))
		// Written a while ago: Apply waits out the second of a file's
		// last write (pastMtimeSecond), which a test need not.
		old := time.Now().Add(-time.Minute)
		require.NoError(t, os.Chtimes(filepath.Join(dir, name), old, old))
	}
	path := filepath.Join(dir, "smb.conf")
	c, err := smbconf.Load(path, smbconf.LoadOptions{})
	require.NoError(t, err)
	return dir, &checks.Facts{SmbConfPath: path, Config: c, Smbd: checks.SmbdFacts{Running: true, ConfigPath: path}}
}

func report(fds ...checks.Finding) *checks.Report {
	r := &checks.Report{Findings: fds}
	for i := range r.Findings {
		if fx := r.Findings[i].Fix; fx != nil && fx.ID == "" {
			fx.ID = r.Findings[i].Pattern + "/" + r.Findings[i].Cause
		}
	}
	r.Finalize()
	return r
}

func configFix(pattern, cause string, sev checks.Status, changes ...checks.Change) checks.Finding {
	return checks.Finding{Pattern: pattern, Cause: cause, Severity: sev, Summary: pattern,
		Fix: &checks.Fix{Kind: checks.FixConfig, Summary: "change", Changes: changes}}
}

const minSMB3 = "[global]\n   # hardening\n   server min protocol = SMB3\n\n[data]\n   path = /srv/data\n"

// TestPlanProtocolMinimum: the minimum is lowered only as far as the
// clients need (checks.NeededMin), on the line where it is set.
func TestPlanProtocolMinimum(t *testing.T) {
	pysmb, ok := configs.Preset("pysmb")
	require.True(t, ok)
	for _, tc := range []struct {
		name      string
		clients   []configs.ClientProfile
		allowSMB1 bool
		want      string
		refused   bool
	}{
		{name: "pysmb gets SMB2_02", clients: []configs.ClientProfile{pysmb}, want: "SMB2_02"},
		{name: "a client that stops at SMB2_10 gets SMB2_10, not NT1", clients: []configs.ClientProfile{{Name: "win7", MinDialect: "SMB2_02", MaxDialect: "SMB2_10"}}, want: "SMB2_10"},
		{name: "two clients: the lower need wins", clients: []configs.ClientProfile{{Name: "win7", MinDialect: "SMB2_02", MaxDialect: "SMB2_10"}, pysmb}, want: "SMB2_02"},
		// The SMB1-only client's need (NT1) as the check proposes it.
		{name: "an SMB1 fix is refused without AllowSMB1", want: "NT1", refused: true},
		{name: "an SMB1 fix with AllowSMB1", allowSMB1: true, want: "NT1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			need := tc.want
			if tc.clients != nil {
				var ok bool
				need, ok = checks.NeededMin(tc.clients, "SMB3_11")
				require.True(t, ok)
				require.Equal(t, tc.want, need)
			}
			_, f := confDir(t, map[string]string{"smb.conf": minSMB3})
			fd := configFix("protocol-mismatch", "server-min-above-client-max", checks.Critical,
				checks.Change{Section: "global", Param: "server min protocol", Value: need, From: "SMB3"})
			fd.Fix.EnablesSMB1 = need == "NT1"
			if fd.Fix.EnablesSMB1 {
				fd.Fix.Risk = "enables SMB1"
			}
			p, err := MakePlan(report(fd), f, PlanOptions{AllowSMB1: tc.allowSMB1})
			require.NoError(t, err)
			if tc.refused {
				require.True(t, p.Empty())
				require.Len(t, p.Refused, 1)
				require.Contains(t, p.Refused[0].Refusal, "--allow-smb1")
				require.Contains(t, p.Refused[0].Refusal, "enables SMB1")
				require.Empty(t, p.Files)
				return
			}
			require.Len(t, p.Fixes, 1)
			require.Len(t, p.Files, 1)
			e := p.Fixes[0].Edits[0]
			require.Equal(t, f.SmbConfPath, e.Path)
			require.Equal(t, 3, e.Line)
			require.Equal(t, "server min protocol", e.Name)
			require.Equal(t, need, e.To)
			require.Equal(t, strings.Replace(minSMB3, "SMB3", need, 1), string(p.Files[0].After))
			require.Equal(t, ActionNone, p.Action, "protocol settings are re-read by each new connection")
			require.Contains(t, p.Files[0].Diff, "-   server min protocol = SMB3\n+   server min protocol = "+need+"\n")
		})
	}
}

// TestPlanIncludedFileAndSynonym: the edit is made where the parser says
// the value is in effect, an included file, keeping the synonym.
func TestPlanIncludedFileAndSynonym(t *testing.T) {
	dir, f := confDir(t, map[string]string{
		"smb.conf":   "[global]\n   workgroup = X\n   include = @DIR@/proto.conf\n\n[data]\n   path = /srv\n",
		"proto.conf": "# protocol policy\n\tmin protocol = SMB3\n# end\n",
	})
	fd := configFix("protocol-mismatch", "server-min-above-client-max", checks.Critical,
		checks.Change{Section: "global", Param: "server min protocol", Value: "SMB2_02"})
	p, err := MakePlan(report(fd), f, PlanOptions{})
	require.NoError(t, err)
	require.Len(t, p.Files, 1)
	inc := filepath.Join(dir, "proto.conf")
	require.Equal(t, inc, p.Files[0].Path)
	e := p.Fixes[0].Edits[0]
	require.Equal(t, inc, e.Path)
	require.Equal(t, 2, e.Line)
	require.Equal(t, "min protocol", e.Name, "the synonym is kept")
	require.Equal(t, "server min protocol", e.Param)
	require.False(t, e.Insert)
	require.Equal(t, "# protocol policy\n\tmin protocol = SMB2_02\n# end\n", string(p.Files[0].After))
	require.Equal(t, []string{inc}, p.Changed())
}

// TestPlanReleaseName: a change is resolved in the release's own table.
// Before 4.14 "smb encrypt" is the parameter itself, and "server smb
// encrypt" (its canonical name in later tables) is unknown there.
func TestPlanReleaseName(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "smb.conf")
	require.NoError(t, os.WriteFile(path, []byte("[global]\n   smb encrypt = required\n"), 0o644))
	old := time.Now().Add(-time.Minute)
	require.NoError(t, os.Chtimes(path, old, old))
	v413 := smbconf.SambaVersion{Major: 4, Minor: 13, Patch: 13}
	c, err := smbconf.Load(path, smbconf.LoadOptions{Version: v413})
	require.NoError(t, err)
	f := &checks.Facts{SmbConfPath: path, Config: c, SambaVersion: v413, Smbd: checks.SmbdFacts{Running: true, ConfigPath: path}}
	fd := configFix("protocol-mismatch", "encryption-required", checks.Critical,
		checks.Change{Section: "global", Param: "smb encrypt", Value: "desired"})
	p, err := MakePlan(report(fd), f, PlanOptions{})
	require.NoError(t, err)
	require.Empty(t, p.Refused)
	require.Len(t, p.Files, 1)
	require.Equal(t, "smb encrypt", p.Fixes[0].Edits[0].Param)
	require.Equal(t, "[global]\n   smb encrypt = desired\n", string(p.Files[0].After))
}

// TestPlanEditKind: an edit says whether it rewrites the line in effect
// (under the spelling written there), adds one, or removes one, as the
// editor did it; the line's value cannot mislead it ("log level" printed
// from a "debuglevel" line with several classes).
func TestPlanEditKind(t *testing.T) {
	for _, tc := range []struct {
		name, conf     string
		change         checks.Change
		line           int
		spelled        string
		insert, remove bool
	}{
		{name: "replace under a synonym", conf: "[global]\n   debuglevel = 0 auth:1\n",
			change: checks.Change{Section: "global", Param: "log level", Value: "1 smb2:3"}, line: 2, spelled: "debuglevel"},
		{name: "replace a continued line", conf: "[global]\n   log level = 1 \\\n      auth:2\n",
			change: checks.Change{Section: "global", Param: "log level", Value: "1 smb2:3"}, line: 2, spelled: "log level"},
		{name: "insert", conf: "[global]\n   workgroup = X\n",
			change: checks.Change{Section: "global", Param: "log level", Value: "1 smb2:3"}, line: 3, spelled: "log level", insert: true},
		{name: "remove", conf: "[global]\n   workgroup = X\n   protocol = SMB3\n",
			change: checks.Change{Section: "global", Param: "server max protocol", Remove: true}, line: 3, spelled: "protocol", remove: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, f := confDir(t, map[string]string{"smb.conf": tc.conf})
			fd := configFix("logging", "level-too-low", checks.Warning, tc.change)
			p, err := MakePlan(report(fd), f, PlanOptions{})
			require.NoError(t, err)
			require.Len(t, p.Fixes, 1)
			require.Len(t, p.Fixes[0].Edits, 1)
			e := p.Fixes[0].Edits[0]
			require.Equal(t, tc.line, e.Line)
			require.Equal(t, tc.spelled, e.Name)
			require.Equal(t, tc.insert, e.Insert, "insert")
			require.Equal(t, tc.remove, e.Remove, "remove")
		})
	}
}

// TestPlanAction: the lightest smbd action that makes each change work.
func TestPlanAction(t *testing.T) {
	for _, tc := range []struct {
		name    string
		running bool
		section string
		param   string
		value   string
		want    Action
	}{
		{"protocol: none", true, "global", "server min protocol", "SMB2_02", ActionNone},
		{"encryption: none", true, "global", "server smb encrypt", "desired", ActionNone},
		{"global hosts allow: reload", true, "global", "hosts allow", "127.0.0.1 10.0.0.5", ActionReload},
		{"share hosts allow: none", true, "data", "hosts allow", "127.0.0.1 10.0.0.5", ActionNone},
		{"smb ports: restart", true, "global", "smb ports", "445 4450", ActionRestart},
		{"interfaces: restart", true, "global", "interfaces", "lo eth0", ActionRestart},
		{"bind interfaces only: restart", true, "global", "bind interfaces only", "no", ActionRestart},
		{"smbd stopped: start", false, "global", "smb ports", "445 4450", ActionStart},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, f := confDir(t, map[string]string{"smb.conf": minSMB3})
			f.Smbd.Running = tc.running
			fd := configFix("x", "y", checks.Critical, checks.Change{Section: tc.section, Param: tc.param, Value: tc.value})
			p, err := MakePlan(report(fd), f, PlanOptions{})
			require.NoError(t, err)
			require.Len(t, p.Fixes, 1, "%+v", p.Refused)
			require.Equal(t, tc.want, p.Action)
		})
	}
	t.Run("stale config: a restart, no edit", func(t *testing.T) {
		_, f := confDir(t, map[string]string{"smb.conf": minSMB3})
		fd := checks.Finding{Pattern: "stale-config", Cause: "listen-settings-not-applied", Severity: checks.Warning,
			Fix: &checks.Fix{Kind: checks.FixRestart, Summary: "restart smbd"}}
		p, err := MakePlan(report(fd), f, PlanOptions{})
		require.NoError(t, err)
		require.Equal(t, ActionRestart, p.Action)
		require.Empty(t, p.Files)
	})
	t.Run("firewall and manual fixes are shown, never applied", func(t *testing.T) {
		_, f := confDir(t, map[string]string{"smb.conf": minSMB3})
		p, err := MakePlan(report(
			checks.Finding{Pattern: "timeout", Cause: "firewall-drop", Severity: checks.Critical, Fix: &checks.Fix{Kind: checks.FixFirewall, Summary: "accept", Steps: []string{"nft ..."}}},
			checks.Finding{Pattern: "login-failed", Cause: "wrong-password", Severity: checks.Critical, Fix: &checks.Fix{Kind: checks.FixManual, Summary: "smbpasswd"}},
		), f, PlanOptions{})
		require.NoError(t, err)
		require.True(t, p.Empty())
		require.Len(t, p.Manual, 2)
	})
	t.Run("--only names no fix", func(t *testing.T) {
		_, f := confDir(t, map[string]string{"smb.conf": minSMB3})
		_, err := MakePlan(report(configFix("x", "y", checks.Critical, checks.Change{Section: "global", Param: "server min protocol", Value: "SMB2_02"})), f, PlanOptions{Only: "nope"})
		require.ErrorIs(t, err, ErrNoSuchFix)
	})
}

func TestActionFor(t *testing.T) {
	for _, tc := range []struct {
		section, param string
		want           Action
	}{
		{"global", "min protocol", ActionNone}, // synonym
		{"global", "server max protocol", ActionNone},
		{"global", "hosts deny", ActionReload},
		{"global", "smb ports", ActionRestart},
		{"data", "read only", ActionNone},
		{"global", "workgroup", ActionReload},
	} {
		got, why := ActionFor(tc.section, tc.param)
		require.Equal(t, tc.want, got, "%s in [%s]", tc.param, tc.section)
		require.NotEmpty(t, why)
	}
	// A rule that rests on a behaviour of the registry names its releases.
	_, why := ActionFor("global", "hosts deny")
	b, ok := smbconf.LookupBehaviour(smbconf.BehaviourGlobalHostsNeedReload)
	require.True(t, ok)
	require.Contains(t, why, "("+b.Qualifier()+")")
	// server role: new connections take it at once, the restart is for
	// main()'s start-time check; the text says so, with its releases.
	act, why := ActionFor("global", "server role")
	require.Equal(t, ActionRestart, act)
	require.Contains(t, why, "at the next connection, with no reload")
	rb, ok := smbconf.LookupBehaviour(smbconf.BehaviourServerRolePerConnection)
	require.True(t, ok)
	require.Contains(t, why, "("+rb.Qualifier()+")")
	for src, id := range ruleBehaviour {
		_, ok := smbconf.LookupBehaviour(id)
		require.True(t, ok, "rule source %q rests on unknown behaviour %q", src, id)
	}
}
