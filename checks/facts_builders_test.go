package checks

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks/probe"
	"github.com/smb-agent/smb-agent/configs"
	"github.com/smb-agent/smb-agent/configs/smbconf"
)

// Helpers that build Facts concisely for the checks' table tests. A test
// writes smb.conf text and a few modifiers; the rest is a healthy host:
// smbd running with that file since T0, listening on 0.0.0.0:445 and
// 0.0.0.0:139, no firewall rule, logs read at level 1, and live probes
// that agree with the config (what a correct smbd answers).

const testConf = "/etc/samba/smb.conf"

var (
	t0     = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	v41712 = smbconf.SambaVersion{Major: 4, Minor: 17, Patch: 12, Raw: "Version 4.17.12-Debian"}
)

type factsMod func(*Facts)

// newFacts builds facts from smb.conf text (a [global] header is added
// when the text does not start with a section) and modifiers.
func newFacts(t *testing.T, conf string, mods ...factsMod) *Facts {
	t.Helper()
	cfg, err := smbconf.Parse([]byte(conf), testConf, smbconf.LoadOptions{Version: v41712, Hostname: "testhost"})
	f := &Facts{
		Now:          t0.Add(2 * time.Hour),
		Target:       Target{Host: "127.0.0.1", Port: 445},
		SmbConfPath:  testConf,
		Config:       cfg,
		ConfigErr:    err,
		ConfigFiles:  []FileStat{{Path: testConf, ModTime: t0.Add(-time.Hour)}},
		SambaVersion: v41712,
		Smbd: SmbdFacts{
			Running:    true,
			Master:     &Process{PID: 100, PPID: 1, Comm: "smbd", State: "S", Started: t0, Args: []string{"/usr/sbin/smbd", "--foreground", "--no-process-group"}},
			ConfigPath: testConf,
			Children: []Process{
				{PID: 101, PPID: 100, Comm: "smbd-notifyd", State: "S", Started: t0},
				{PID: 102, PPID: 100, Comm: "smbd-cleanupd", State: "S", Started: t0},
			},
		},
		Sockets: SocketFacts{Listeners: []Listener{
			{Addr: "0.0.0.0", Port: 445, PID: 100}, {Addr: "::", Port: 445, PID: 100},
			{Addr: "0.0.0.0", Port: 139, PID: 100}, {Addr: "::", Port: 139, PID: 100},
		}},
		Firewall: FirewallFacts{Tools: []string{"nft"}, Rules: []FirewallRule{}},
		Logs:     LogFacts{Sources: []string{"/var/log/samba/log.smbd"}, Level: map[string]int{"all": 1, "smb2": 1, "auth_audit": 1}},
		User:     "scorer",
		Share:    "data",
		Account:  &AccountFacts{User: "scorer", InPassdb: true, UnixAccount: true, Flags: "[U          ]"},
		RPCHelpers: []BinaryFacts{
			{Path: "/usr/libexec/samba/samba-dcerpcd", Exists: true, Executable: true},
			{Path: "/usr/libexec/samba/rpcd_classic", Exists: true, Executable: true},
		},
	}
	f.HasPassword = true
	if cfg != nil {
		f.Probe = consistentProbe(f)
	}
	for _, m := range mods {
		m(f)
	}
	return f
}

// consistentProbe is what a correct smbd running f's config answers: the
// dialects smb.conf allows, pysmb's offer judged by NegotiateModel, a
// working login, listing and share.
func consistentProbe(f *Facts) *probe.Result {
	pol, ok := ConfigPolicy(f)
	r := &probe.Result{Target: "127.0.0.1:445", Host: "127.0.0.1", DurationMS: 42}
	r.TCP = []probe.TCPResult{{Addr: "127.0.0.1:445", Port: 445, Outcome: probe.TCPAccepted, Step: okStep()}}
	py, _ := configs.Preset("pysmb")
	n := NegotiateModel(py, pol.Min, pol.Max)
	pys := probe.SMB1Result{Offer: probe.OfferPysmb, Offered: probe.SMB1Offers[probe.OfferPysmb], Step: okStep(), DialectIndex: -1}
	if ok && n.OK() {
		d, _ := probe.ParseDialect(n.Dialect)
		pys.Accepted, pys.Dialect, pys.Reply, pys.DialectIndex = true, d, "smb2", 1
		if d == probe.NT1 {
			pys.Reply, pys.DialectIndex = "smb1", 0
		}
	} else {
		pys.Step = probe.Step{Class: probe.ClassNoCommonDialect, Error: "server supports none of the offered dialects (DialectIndex 0xFFFF)"}
		pys.Reply, pys.DialectIndex = "smb1", 0xFFFF
	}
	nt1 := probe.SMB1Result{Offer: probe.OfferNT1, Offered: probe.SMB1Offers[probe.OfferNT1], Reply: "smb1", DialectIndex: 0xFFFF,
		Step: probe.Step{Class: probe.ClassNoCommonDialect}}
	if ok && ConfigAccepts(pol, "NT1") {
		nt1 = probe.SMB1Result{Offer: probe.OfferNT1, Offered: probe.SMB1Offers[probe.OfferNT1], Reply: "smb1", Accepted: true, Dialect: probe.NT1, Step: okStep()}
	}
	r.SMB1 = []probe.SMB1Result{pys, nt1}
	for _, d := range probe.SMB2Dialects {
		dr := probe.DialectResult{Dialect: d, Negotiate: probe.SMB2Result{Offered: []probe.Dialect{d}}}
		login := okStep()
		if ok && ConfigAccepts(pol, d.String()) {
			dr.Negotiate.Step, dr.Negotiate.Accepted, dr.Negotiate.Dialect = okStep(), true, d
			dr.Negotiate.Info = &probe.NegotiateInfo{Dialect: d, SigningEnabled: true, SigningRequired: pol.SigningMandatory, EncryptionCapable: d >= probe.SMB3_00}
			if pol.EncryptRequired && d < probe.SMB3_00 {
				login = probe.Step{Class: probe.ClassAccessDenied, Status: probe.StatusAccessDenied, StatusName: "STATUS_ACCESS_DENIED"}
			}
			if pol.NTLMAuth == "disabled" {
				login = probe.Step{Class: probe.ClassError, Status: probe.StatusNTLMBlocked, StatusName: "STATUS_NTLM_BLOCKED"}
			}
		} else {
			dr.Negotiate.Step = probe.Step{Class: probe.ClassNoCommonDialect, Status: probe.StatusNotSupported, StatusName: "STATUS_NOT_SUPPORTED"}
			login = probe.Step{Class: probe.ClassSkipped}
		}
		dr.Login = &login
		r.Dialects = append(r.Dialects, dr)
	}
	r.Multi = probe.SMB2Result{Offered: probe.SMB2Dialects, Accepted: true, Dialect: probe.SMB3_11, Step: okStep()}
	login := okStep()
	if ok && pol.NTLMAuth == "disabled" {
		login = probe.Step{Class: probe.ClassError, Status: probe.StatusNTLMBlocked, StatusName: "STATUS_NTLM_BLOCKED"}
	}
	r.Login = &probe.LoginResult{User: f.User, Dialect: probe.SMB3_11, Step: login}
	ipc, shares := okStep(), okStep()
	r.IPC = &ipc
	r.Shares = &probe.SharesResult{Names: []string{"IPC$", "data"}, Step: shares}
	r.Share = &probe.ShareResult{Name: "data", Entries: 1, Step: okStep(), List: okStep()}
	if !login.OK() {
		sk := probe.Step{Class: probe.ClassSkipped}
		*r.IPC, r.Shares.Step, r.Share.Step = sk, sk, sk
	}
	return r
}

func okStep() probe.Step { return probe.Step{Class: probe.ClassOK, LatencyMS: 1.5} }

func failStep(c probe.Class, st probe.NTStatus) probe.Step {
	s := probe.Step{Class: c, Status: st, Error: string(c)}
	if st != 0 {
		s.StatusName = st.Name()
	}
	return s
}

// Modifiers.

func withClients(names ...string) factsMod {
	return func(f *Facts) {
		f.Clients = nil
		for _, n := range names {
			p, ok := configs.Preset(n)
			if !ok {
				panic("no preset " + n)
			}
			f.Clients = append(f.Clients, p)
		}
	}
}

func withClientProfiles(ps ...configs.ClientProfile) factsMod {
	return func(f *Facts) { f.Clients = ps }
}

// dialectClient is what --client-dialects MIN-MAX describes.
func dialectClient(t *testing.T, rng string) configs.ClientProfile {
	t.Helper()
	c := configs.DefaultConfig()
	c.ClientDialects = rng
	ps, err := c.Clients()
	require.NoError(t, err)
	return ps[0]
}

func withTCP(c probe.Class, outcome string) factsMod {
	return func(f *Facts) {
		f.Probe.TCP[0].Class, f.Probe.TCP[0].Outcome = c, outcome
		skip := probe.Step{Class: probe.ClassSkipped, Error: "tcp connect failed"}
		for i := range f.Probe.SMB1 {
			f.Probe.SMB1[i].Step, f.Probe.SMB1[i].Accepted = skip, false
		}
		for i := range f.Probe.Dialects {
			f.Probe.Dialects[i].Negotiate.Step, f.Probe.Dialects[i].Negotiate.Accepted = skip, false
			*f.Probe.Dialects[i].Login = skip
		}
		f.Probe.Multi.Step = skip
		f.Probe.Login.Step = skip
		*f.Probe.IPC = skip
		f.Probe.Shares.Step, f.Probe.Share.Step = skip, skip
	}
}

func withLogin(c probe.Class, st probe.NTStatus) factsMod {
	return func(f *Facts) {
		f.Probe.Login.Step = failStep(c, st)
		sk := probe.Step{Class: probe.ClassSkipped}
		*f.Probe.IPC, f.Probe.Shares.Step, f.Probe.Share.Step = sk, sk, sk
	}
}

func withIPC(c probe.Class, st probe.NTStatus) factsMod {
	return func(f *Facts) {
		*f.Probe.IPC = failStep(c, st)
		f.Probe.Shares.Step = probe.Step{Class: probe.ClassSkipped}
	}
}

func withShares(c probe.Class, st probe.NTStatus) factsMod {
	return func(f *Facts) { f.Probe.Shares.Step = failStep(c, st) }
}

func withShareStep(c probe.Class, st probe.NTStatus) factsMod {
	return func(f *Facts) { f.Probe.Share.Step = failStep(c, st) }
}

func withoutSmbd() factsMod {
	return func(f *Facts) {
		f.Smbd = SmbdFacts{PIDFile: "/run/samba/smbd.pid", PIDFileErr: "no such file"}
		f.Sockets.Listeners = nil
	}
}

func withListeners(ls ...Listener) factsMod {
	return func(f *Facts) { f.Sockets.Listeners = ls }
}

func withRule(r FirewallRule) factsMod {
	return func(f *Facts) { f.Firewall.Rules = append(f.Firewall.Rules, r) }
}

func withRemoteIP(ip string) factsMod { return func(f *Facts) { f.RemoteClientIP = ip } }

func withConfigChangedAfterStart() factsMod {
	return func(f *Facts) { f.ConfigFiles[0].ModTime = t0.Add(time.Hour) }
}

func withLogLevel(lv map[string]int) factsMod { return func(f *Facts) { f.Logs.Level = lv } }

func withLogLines(ls ...LogLine) factsMod {
	return func(f *Facts) { f.Logs.Lines = append(f.Logs.Lines, ls...) }
}

func withAccount(a *AccountFacts) factsMod { return func(f *Facts) { f.Account = a } }

func withProbe(fn func(r *probe.Result)) factsMod { return func(f *Facts) { fn(f.Probe) } }

func withoutProbe() factsMod { return func(f *Facts) { f.Probe = nil } }

// run evaluates one check.
func runOne(t *testing.T, id string, f *Facts) []Finding {
	t.Helper()
	for _, c := range Registered() {
		if c.ID() == id {
			fs := c.Evaluate(f)
			for _, fd := range fs {
				requireDecisionEndsAtCause(t, fd)
				seenCauses.Store(fd.Pattern+"/"+fd.Cause, true)
			}
			return fs
		}
	}
	t.Fatalf("no check %q", id)
	return nil
}

// causes lists pattern/cause of findings.
// requireCause checks what one check returned in a table test: no finding
// when cause is "", else exactly one finding, with that cause. It returns
// the finding and whether there is one to look at further.
func requireCause(t *testing.T, fs []Finding, cause string) (Finding, bool) {
	t.Helper()
	if cause == "" {
		require.Empty(t, fs, "%v", causes(fs))
		return Finding{}, false
	}
	require.Len(t, fs, 1, "%v", causes(fs))
	require.Equal(t, cause, fs[0].Cause, fs[0].Summary)
	return fs[0], true
}

func causes(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Pattern+"/"+f.Cause)
	}
	return out
}

// findingFor returns the finding with that cause.
func findingFor(t *testing.T, fs []Finding, cause string) Finding {
	t.Helper()
	for _, f := range fs {
		if f.Cause == cause {
			return f
		}
	}
	t.Fatalf("no finding with cause %q in %v", cause, causes(fs))
	return Finding{}
}

// hasEvidenceAt reports whether some evidence points at file:line.
func hasEvidenceAt(fd Finding, file string, line int) bool {
	for _, e := range fd.Evidence {
		if e.File == file && e.Line == line {
			return true
		}
	}
	return false
}

func smbconf417() smbconf.SambaVersion { return v41712 }

func smbconfVersion(major, minor int) smbconf.SambaVersion {
	return smbconf.SambaVersion{Major: major, Minor: minor}
}
