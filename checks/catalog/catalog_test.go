package catalog

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// designIDs are the stable pattern ids of docs/architecture.md, in the
// scoring dashboard's order followed by the agent's own.
var designIDs = []string{
	"protocol-mismatch", "connection-refused", "host-unreachable", "connect-failed", "timeout",
	"rpc-endpoint-missing", "ipc-unavailable", "rpc-bind-failed", "connection-reset",
	"login-failed", "share-unavailable", "stale-config", "smb1-enabled", "config-invalid",
	"file-check-failed", "logging-insufficient", "samba-release-unknown",
}

func mustLoad(t *testing.T) *Catalog {
	t.Helper()
	c, err := Load()
	require.NoError(t, err)
	require.NotNil(t, c)
	return c
}

func TestLoadEmbeddedCatalog(t *testing.T) {
	c := mustLoad(t)
	var ids []string
	for _, p := range c.All() {
		ids = append(ids, p.ID)
	}
	require.Equal(t, designIDs, ids, "All() must return the stable ids in catalog order")
	// The package-level helpers use the same catalog.
	require.Len(t, All(), len(designIDs))
	p, ok := Get("timeout")
	require.True(t, ok)
	require.Equal(t, "timeout", p.ID)
	_, ok = Get("no-such-pattern")
	require.False(t, ok)
}

func TestAllReturnsACopy(t *testing.T) {
	a := All()
	a[0] = nil
	require.NotNil(t, All()[0])
}

// seedMessages are the engine lines on the seed page (the headline, its
// dashboard title and the "Other patterns on this service" list), verbatim.
var seedMessages = []struct{ msg, id string }{
	{"SMB connection failed: protocol error", "protocol-mismatch"},
	{"SMB. protocol version mismatch between client and server", "protocol-mismatch"},
	{"SMB operation failed: [Errno 111] Connection refused", "connection-refused"},
	{"SMB operation failed: [Errno 113] Host is unreachable", "host-unreachable"},
	{"Failed to connect to host: IP", "connect-failed"},
	{"SMB operation failed: timed out", "timeout"},
	{"SMB operation failed: Failed to list shares: Unable to locate Server Service RPC endpoint", "rpc-endpoint-missing"},
	{"SMB operation timed out in 5 seconds", "timeout"},
	{"SMB operation failed: Failed to list shares: Unable to connect to IPC$", "ipc-unavailable"},
	{"SMB operation failed: Failed to list shares: Unable to bind to Server Service RPC endpoint", "rpc-bind-failed"},
	{"SMB operation failed: [Errno 104] Connection reset by peer", "connection-reset"},
}

func ids(ps []*Pattern) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	return out
}

func TestSeedMessagesMatchExactlyOnePattern(t *testing.T) {
	for _, tc := range seedMessages {
		t.Run(tc.msg, func(t *testing.T) {
			require.Equal(t, []string{tc.id}, ids(Match(tc.msg)))
			// As pasted from the dashboard: with the row's numbers and status
			// word before it, a real address, other spacing and case.
			variants := []string{
				"183.3 failure " + tc.msg,
				strings.ReplaceAll(tc.msg, ": IP", ": 10.20.30.40"),
				"  " + strings.ToUpper(tc.msg) + "\n",
				strings.ReplaceAll(tc.msg, " ", "\n  "),
			}
			for _, v := range variants {
				require.Equal(t, []string{tc.id}, ids(Match(v)), "variant %q", v)
			}
		})
	}
}

func TestSeedPatternsCarryTheSeedMessages(t *testing.T) {
	for _, tc := range seedMessages {
		p, ok := Get(tc.id)
		require.True(t, ok)
		require.True(t, p.OnSeedPage, "%s carries a seed-page message", p.ID)
	}
	p, _ := Get("connect-failed")
	require.Equal(t, "Failed to connect to host: IP", p.Message(""))
	require.Equal(t, "Failed to connect to host: 10.0.0.5", p.Message("10.0.0.5"))
	// login-failed shows as connect-failed's line, not one of its own.
	lf, _ := Get("login-failed")
	require.Equal(t, p.EngineMessage, lf.EngineMessage)
	require.Equal(t, []string{"connect-failed"}, lf.ShowsAs)
}

func TestMatchClientOutputs(t *testing.T) {
	// First lines as pysmb, impacket and smbclient print them.
	cases := []struct{ msg, want string }{
		{"smb.smb_structs.ProtocolError: Server does not support any of the pysmb dialects. Please email pysmb to add in support for your OS", "protocol-mismatch"},
		{"ProtocolError: Unknown status value (0xC0000022) in SMB_COM_SESSION_SETUP_ANDX (with extended security)", "protocol-mismatch"},
		{"smbXcli_negprot_smb1_done: No compatible protocol selected by server.", "protocol-mismatch"},
		{"session setup failed: NT_STATUS_NTLM_BLOCKED", "protocol-mismatch"},
		{"do_connect: Connection to 127.0.0.1 failed (Error NT_STATUS_CONNECTION_REFUSED)", "connection-refused"},
		{"OSError: [Errno Connection error (127.0.0.1:4464)] [Errno 111] Connection refused", "connection-refused"},
		{"OSError: [Errno 113] No route to host", "host-unreachable"},
		{"do_connect: Connection to fileserver failed (Error NT_STATUS_HOST_UNREACHABLE)", "host-unreachable"},
		{"nmb.nmb_structs.NMBError: Invalid protocol header for Direct TCP session message", "connect-failed"},
		{"OSError: [Errno Connection error (10.200.3.2:4467)] timed out", "timeout"},
		{"protocol negotiation failed: NT_STATUS_IO_TIMEOUT", "timeout"},
		{"smb.smb_structs.OperationFailure: Failed to list shares: Unable to locate Server Service RPC endpoint", "rpc-endpoint-missing"},
		{"tree connect failed: NT_STATUS_ACCESS_DENIED", "ipc-unavailable"},
		{"cli_rpc_pipe_open_noauth: rpc_pipe_bind for pipe srvsvc failed with error NT_STATUS_CONNECTION_DISCONNECTED", "rpc-bind-failed"},
		{"ConnectionResetError: [Errno 104] Connection reset by peer", "connection-reset"},
		{"session setup failed: NT_STATUS_ACCOUNT_DISABLED", "login-failed"},
		{"SMB operation failed: SMB connection not authenticated", "login-failed"},
		{"SMB operation failed: Failed to retrieve /flag.txt on ScoredShare: Unable to connect to shared device", "share-unavailable"},
		{"tree connect failed: NT_STATUS_BAD_NETWORK_NAME", "share-unavailable"},
		// A fragment of a known message.
		{"Unable to locate Server Service RPC endpoint", "rpc-endpoint-missing"},
		{"[Errno 113] Host is unreachable", "host-unreachable"},
	}
	for _, tc := range cases {
		got := ids(Match(tc.msg))
		require.NotEmpty(t, got, tc.msg)
		require.Equal(t, tc.want, got[0], "best match for %q (all: %v)", tc.msg, got)
	}
}

func TestMatchSharedClientLineListsBothPatterns(t *testing.T) {
	// smbclient prints this both for an SMB1-only client against an SMB2
	// server and for a [global] hosts deny; both patterns are offered.
	got := ids(Match("protocol negotiation failed: NT_STATUS_INVALID_NETWORK_RESPONSE"))
	require.ElementsMatch(t, []string{"protocol-mismatch", "connect-failed"}, got)
}

func TestMatchEveryCatalogMessage(t *testing.T) {
	fill := strings.NewReplacer("{ip}", "192.0.2.7", "{host}", "srv1", "{n}", "42", "{hex}", "C0000022", "{any}", "x/y")
	for _, p := range All() {
		for _, m := range p.ScoringMessages {
			got := ids(Match(fill.Replace(m)))
			require.Equal(t, []string{p.ID}, got, "scoring message %q", m)
		}
		for _, m := range p.ClientMessages {
			got := ids(Match(fill.Replace(m.Text)))
			require.Contains(t, got, p.ID, "client message %q", m.Text)
		}
	}
}

func TestMatchRejectsNoise(t *testing.T) {
	for _, s := range []string{"", "   \n", "failed", "error", "hello world, nothing to see"} {
		require.Empty(t, Match(s), "%q", s)
	}
}

func TestFactKeys(t *testing.T) {
	c := mustLoad(t)
	keys := FactKeys()
	require.NotEmpty(t, keys)
	seen := map[string]bool{}
	for _, k := range keys {
		require.False(t, seen[k], "duplicate fact key %s", k)
		seen[k] = true
		f, ok := c.Fact(k)
		require.True(t, ok)
		require.NotEmpty(t, f.Description)
		require.GreaterOrEqual(t, len(f.Answers), 2)
	}
	for _, p := range All() {
		for _, n := range p.Decision.Nodes {
			require.True(t, seen[n.Fact], "%s node %s uses undocumented fact %s", p.ID, n.ID, n.Fact)
		}
		for _, cs := range p.Causes {
			for _, f := range cs.Facts {
				require.True(t, seen[f], "%s cause %s names undocumented fact %s", p.ID, cs.ID, f)
			}
		}
	}
	// Facts() hands out copies.
	fs := Facts()
	fs[0].Answers[0] = "mutated"
	require.NotEqual(t, "mutated", Facts()[0].Answers[0])
}

func TestCauseLookup(t *testing.T) {
	p, ok := Get("protocol-mismatch")
	require.True(t, ok)
	c, ok := p.Cause("server-min-above-client-max")
	require.True(t, ok)
	require.Equal(t, SeverityCritical, p.CauseSeverity(c))
	_, ok = p.Cause("nope")
	require.False(t, ok)

	ci, _ := Get("config-invalid")
	ign, ok := ci.Cause("ignored-settings")
	require.True(t, ok)
	require.Equal(t, SeverityWarning, ci.CauseSeverity(ign), "a cause may lower the pattern's severity")
}

func TestSeverities(t *testing.T) {
	want := map[string]Severity{"smb1-enabled": SeverityWarning, "stale-config": SeverityWarning, "logging-insufficient": SeverityWarning, "samba-release-unknown": SeverityWarning}
	for _, p := range All() {
		exp, ok := want[p.ID]
		if !ok {
			exp = SeverityCritical
		}
		require.Equal(t, exp, p.Severity, p.ID)
	}
}

func TestProtocolMismatchNamesTheNarrowFix(t *testing.T) {
	p, _ := Get("protocol-mismatch")
	for _, id := range []string{"server-min-above-client-max", "smb1-only-client", "server-max-below-client-min",
		"min-above-max", "encryption-required", "ntlm-disabled", "signing-required-unsigned-client", "unknown-session-status"} {
		_, ok := p.Cause(id)
		require.True(t, ok, "cause %s", id)
	}
	var seedAdvice *UnsafeAdvice
	for i := range p.UnsafeAdvice {
		if strings.Contains(p.UnsafeAdvice[i].Advice, "server min protocol = NT1") {
			seedAdvice = &p.UnsafeAdvice[i]
		}
	}
	require.NotNil(t, seedAdvice, "the seed's blanket NT1 advice is flagged")
	require.Contains(t, seedAdvice.Instead, "SMB2_02")
	require.Contains(t, seedAdvice.Why, "client min protocol")
}

func TestNoPasswordsInCommands(t *testing.T) {
	forEachStep(t, func(where string, s Step) {
		lc := strings.ToLower(s.Command)
		require.NotContains(t, s.Command, "{{.User}}%", where)
		require.NotContains(t, lc, "--password", where)
		require.NotContains(t, lc, "passwd=", where)
	})
}

func forEachStep(t *testing.T, f func(where string, s Step)) {
	t.Helper()
	for _, p := range All() {
		for i, s := range p.Commands {
			f(p.ID+" command "+strconv.Itoa(i+1), s)
		}
		for _, c := range p.Causes {
			for _, s := range c.Fix.Steps {
				f(p.ID+"/"+c.ID+" fix step "+s.Title, s)
			}
		}
	}
}

func sampleVars() Vars {
	return Vars{
		SmbConf:  "/etc/samba/smb.conf",
		Port:     445,
		Host:     "192.0.2.10",
		User:     "scorer",
		Share:    "ScoredShare",
		LogDir:   "/var/log/samba",
		PidDir:   "/run/samba",
		ClientIP: "192.0.2.99",
	}
}

func TestEveryTemplateRenders(t *testing.T) {
	odd := sampleVars()
	odd.SmbConf = "/srv/my samba/smb.conf"
	odd.Share = "team's share"
	odd.User = `CORP\scorer`
	for _, v := range []Vars{sampleVars(), odd} {
		n := 0
		forEachStep(t, func(where string, s Step) {
			out, err := s.Render(v)
			require.NoError(t, err, where)
			require.NotContains(t, out, "{{", where)
			require.NotContains(t, out, "<no value>", where)
			n++
		})
		require.Greater(t, n, 50)
	}
}

func TestRenderQuotesValues(t *testing.T) {
	s := Step{Title: "t", Command: "testparm -s {{.SmbConf}} --section-name={{.Share}} && ss 'sport = :{{.Port}}'"}
	v := sampleVars()
	v.SmbConf = "/srv/my samba/smb.conf"
	v.Share = "it's"
	out, err := s.Render(v)
	require.NoError(t, err)
	require.Equal(t, `testparm -s '/srv/my samba/smb.conf' --section-name='it'\''s' && ss 'sport = :445'`, out)

	plain, err := s.Render(sampleVars())
	require.NoError(t, err)
	require.Equal(t, "testparm -s /etc/samba/smb.conf --section-name=ScoredShare && ss 'sport = :445'", plain)
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/etc/samba/smb.conf": "/etc/samba/smb.conf",
		"user@REALM":          "user@REALM",
		"a b":                 "'a b'",
		"it's":                `'it'\''s'`,
		"$(reboot)":           "'$(reboot)'",
		"x;y":                 "'x;y'",
	} {
		require.Equal(t, want, shellQuote(in), in)
	}
}

func TestRenderErrors(t *testing.T) {
	step := Step{Title: "t", Command: "ip route get {{.ClientIP}}; ss 'sport = :{{.Port}}'"}
	cases := []struct {
		name string
		mod  func(*Vars)
		want error
	}{
		{"no client ip", func(v *Vars) { v.ClientIP = "" }, ErrMissingVar},
		{"bad client ip", func(v *Vars) { v.ClientIP = "1.2.3.4; reboot" }, ErrBadVar},
		{"no port", func(v *Vars) { v.Port = 0 }, ErrMissingVar},
		{"port too big", func(v *Vars) { v.Port = 70000 }, ErrBadVar},
		{"negative port", func(v *Vars) { v.Port = -1 }, ErrBadVar},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := sampleVars()
			tc.mod(&v)
			_, err := step.Render(v)
			require.Error(t, err)
			require.True(t, errors.Is(err, tc.want), "%v", err)
		})
	}
	_, err := Step{Title: "t", Command: "ls {{.LogDir}}"}.Render(Vars{LogDir: "/var/log\nrm -rf /"})
	require.ErrorIs(t, err, ErrBadVar)
	_, err = Step{Title: "t", Command: "smbclient -L //{{.Host}}"}.Render(Vars{Host: "a b"})
	require.ErrorIs(t, err, ErrBadVar)
	// A variable the command does not use may be empty.
	out, err := Step{Title: "t", Command: "ls {{.LogDir}}"}.Render(Vars{LogDir: "/var/log/samba"})
	require.NoError(t, err)
	require.Equal(t, "ls /var/log/samba", out)
}

func TestStepUses(t *testing.T) {
	s := Step{Command: "smbclient -L //{{.Host}} -p {{.Port}} -U {{.User}} && echo {{.Host}}"}
	require.Equal(t, []string{"Host", "Port", "User"}, s.Uses())
	require.Nil(t, Step{Command: "{{if}}"}.Uses())
}

func TestParseTemplateAcceptsOnlyVars(t *testing.T) {
	for _, bad := range []string{
		"echo {{.Password}}",
		"{{if .Host}}x{{end}}",
		`{{printf "%s" .Host}}`,
		"{{.Host | html}}",
		"{{$x := .Host}}",
		"{{.Host",
	} {
		_, err := parseTemplate(bad)
		require.Error(t, err, bad)
	}
	_, err := parseTemplate("plain text, no actions")
	require.NoError(t, err)
}

func TestCheckQuoting(t *testing.T) {
	ok := []string{
		"ss -ltnp 'sport = :{{.Port}}'",
		"grep -F 'Denied connection from {{.ClientIP}}' {{.LogDir}}",
		`grep -rHE "Can't connect" {{.LogDir}}`,
		`echo \' {{.SmbConf}}`,
	}
	for _, s := range ok {
		require.NoError(t, checkQuoting(s), s)
	}
	bad := []string{
		"grep x '{{.LogDir}}/log.smbd'",
		`testparm -s "{{.SmbConf}}"`,
		"echo 'unbalanced",
		"echo {{.Host",
	}
	for _, s := range bad {
		require.Error(t, checkQuoting(s), s)
	}
}

func TestJSONIsSnakeCase(t *testing.T) {
	p, _ := Get("protocol-mismatch")
	b, err := json.Marshal(p)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	for _, k := range []string{"id", "scoring_messages", "client_messages", "engine_message", "on_seed_page", "unsafe_advice", "causes", "commands", "decision", "references", "roles"} {
		require.Contains(t, m, k)
	}
	s := string(b)
	for _, k := range []string{`"read_only"`, `"log_lines"`, `"answers"`} {
		require.Contains(t, s, k)
	}
	require.NotContains(t, s, `"ReadOnly"`)
	require.NotContains(t, s, `"ScoringMessages"`)
}

func TestRolesResolved(t *testing.T) {
	c := mustLoad(t)
	titles := map[string]string{}
	for _, r := range c.Roles() {
		titles[r.Code] = r.Title
	}
	require.Equal(t, map[string]string{
		"CE-463": "Host Analyst",
		"CS-462": "Control Systems Security Specialist",
		"CS-521": "Cyber Defense Infrastructure Support Specialist",
		"CS-531": "Cyber Defense Incident Responder",
		"IT-411": "Technical Support Specialist",
		"IT-451": "System Administrator",
	}, titles)
	for _, p := range All() {
		for _, r := range p.Roles {
			require.Equal(t, titles[r.Code], r.Title, "%s role %s", p.ID, r.Code)
		}
	}
}

func TestCommandsAreReadOnlyFirst(t *testing.T) {
	for _, p := range All() {
		require.True(t, p.Commands[0].ReadOnly, "%s must start with a read-only command", p.ID)
		changed := false
		for _, s := range p.Commands {
			if !s.ReadOnly {
				changed = true
			}
			require.False(t, changed && s.ReadOnly, "%s: read-only %q after a change", p.ID, s.Title)
		}
	}
}

func TestCausesForSplitsTheTwoTimeoutMessages(t *testing.T) {
	p, _ := Get("timeout")
	causeIDs := func(cs []*Cause) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	require.Equal(t, []string{"firewall-drop", "no-route-back", "upstream-drop"},
		causeIDs(p.CausesFor("SMB operation failed: timed out")))
	require.Equal(t, []string{"smbd-stopped", "smbd-unresponsive", "silent-listener", "rpcd-hung"},
		causeIDs(p.CausesFor("  smb operation timed out in 5 seconds")))
	require.Len(t, p.CausesFor("something else"), len(p.Causes), "an unknown line keeps every cause")

	pm, _ := Get("protocol-mismatch")
	require.Len(t, pm.CausesFor("SMB connection failed: protocol error"), len(pm.Causes))
}

func TestLeafCause(t *testing.T) {
	p, _ := Get("config-invalid")
	path := p.Walk(answers(map[string]string{"config.loads": "no"}))
	c, ok := p.LeafCause(path)
	require.True(t, ok)
	require.Equal(t, "load-fails", c.ID)
	_, ok = p.LeafCause(p.Walk(nil))
	require.False(t, ok)
	_, ok = p.LeafCause(p.Walk(answers(map[string]string{"config.loads": "yes", "config.warnings": "no"})))
	require.False(t, ok, "an action-only leaf has no cause")
}
