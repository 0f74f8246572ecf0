package test

// The behaviour registry (configs/smbconf/behaviours.go) against the real
// smbd and testparm of the release under test: every entry is observed on
// the running server and must be seen exactly on the releases its range
// says (Behaviour.Holds). SAMBA_RELEASE=4.13 go test -run TestBehaviours
// ./test/ checks release 4.13 (test/scripts/samba-release.sh).

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	smb2 "github.com/hirochachacha/go-smb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks/probe"
	"github.com/smb-agent/smb-agent/configs/smbconf"
	"github.com/smb-agent/smb-agent/test/harness"
)

// behaviourUser is the passdb account the scenarios log in with.
var behaviourUser = harness.User{Name: "root", Password: "Behaviour-pw-1"}

// behaviourSeen is what the scenarios observed on one release: one bool
// per fact, named for what was seen, and a line of detail each.
type behaviourSeen struct {
	release  smbconf.SambaVersion
	defaults map[string]string // testparm -sv of a config that sets none of them
	facts    map[string]bool
	detail   map[string]string
}

func (s *behaviourSeen) set(name string, v bool, format string, args ...any) {
	s.facts[name] = v
	s.detail[name] = fmt.Sprintf(format, args...)
}

// all reports whether every named fact was seen, with their details.
func (s *behaviourSeen) all(names ...string) (bool, string) {
	ok := true
	var d []string
	for _, n := range names {
		v, known := s.facts[n]
		if !known {
			return false, "scenario did not record " + n
		}
		ok = ok && v
		d = append(d, fmt.Sprintf("%s=%v (%s)", n, v, s.detail[n]))
	}
	return ok, strings.Join(d, "; ")
}

// defaultIs is a fact from testparm -sv: the parameter is known and its
// default is want (case-insensitive).
func (s *behaviourSeen) defaultIs(param, want string) (bool, string) {
	got, ok := s.defaults[param]
	if !ok {
		return false, fmt.Sprintf("testparm -sv does not list %q", param)
	}
	return strings.EqualFold(got, want), fmt.Sprintf("testparm -sv: %s = %s", param, got)
}

// behaviourObservers observe each registry entry: true when the release
// under test does what the entry claims. Every entry has one
// (TestBehaviourObserversCoverTheRegistry).
var behaviourObservers = map[string]func(*behaviourSeen) (bool, string){
	smbconf.BehaviourSambaDcerpcd: func(s *behaviourSeen) (bool, string) {
		return s.all("dcerpcd-serves-srvsvc")
	},
	smbconf.BehaviourRPCStartOnDemand: func(s *behaviourSeen) (bool, string) {
		d, dd := s.defaultIs("rpc start on demand helpers", "Yes")
		o, od := s.all("ondemand-no-fails-listing")
		return d && o, dd + "; " + od
	},
	smbconf.BehaviourServerSMBEncrypt: func(s *behaviourSeen) (bool, string) {
		_, ok := s.defaults["server smb encrypt"]
		return ok, fmt.Sprintf("testparm -sv lists server smb encrypt: %v", ok)
	},
	smbconf.BehaviourSMB1NegotiateClamps: func(s *behaviourSeen) (bool, string) {
		return s.all("smb1-min-smb3-answers-wildcard", "smb1-min-smb3-refuses-2002")
	},
	smbconf.BehaviourNewConnectionRereads: func(s *behaviourSeen) (bool, string) {
		return s.all("min-smb3-refuses-smb2_02", "edit-lets-smb2_02-in-without-reload")
	},
	smbconf.BehaviourGlobalHostsNeedReload: func(s *behaviourSeen) (bool, string) {
		return s.all("hosts-edit-still-accepted", "hosts-refused-after-reload")
	},
	smbconf.BehaviourSocketsNeedRestart: func(s *behaviourSeen) (bool, string) {
		return s.all("hosts-refused-after-reload", "new-port-closed-after-reload", "old-port-open-after-reload")
	},
	smbconf.BehaviourOnDemandPerConnection: func(s *behaviourSeen) (bool, string) {
		return s.all("ondemand-no-fails-listing", "ondemand-edit-lists-without-reload")
	},
	smbconf.BehaviourSMB1OffByDefault: func(s *behaviourSeen) (bool, string) {
		d, dd := s.defaultIs("server min protocol", "SMB2_02")
		o, od := s.all("default-refuses-nt1")
		return d && o, dd + "; " + od
	},
	smbconf.BehaviourDefaultServerSigning: func(s *behaviourSeen) (bool, string) {
		d, dd := s.defaultIs("server signing", "default")
		o, od := s.all("default-signing-enabled-not-required")
		return d && o, dd + "; " + od
	},
	smbconf.BehaviourDefaultEncryption: func(s *behaviourSeen) (bool, string) {
		name := "server smb encrypt"
		if _, ok := s.defaults[name]; !ok {
			name = "smb encrypt"
		}
		d, dd := s.defaultIs(name, "default")
		o, od := s.all("default-smb3-encryption-capable", "default-login-unencrypted")
		return d && o, dd + "; " + od
	},
	smbconf.BehaviourDefaultNTLMAuth: func(s *behaviourSeen) (bool, string) {
		d, dd := s.defaultIs("ntlm auth", "ntlmv2-only")
		o, od := s.all("default-login-unencrypted", "default-refuses-ntlmv1", "ntlmv1-permitted-accepts-ntlmv1")
		return d && o, dd + "; " + od
	},
	smbconf.BehaviourLogNTLMv1RefusedLevel2: func(s *behaviourSeen) (bool, string) {
		return s.all("ntlmv1-refusal-not-logged-at-1", "ntlmv1-refusal-logged-at-2")
	},
	smbconf.BehaviourNTLMDisabledBlocks: func(s *behaviourSeen) (bool, string) {
		return s.all("ntlm-disabled-blocks-ntlmv2")
	},
	smbconf.BehaviourEncryptRequiredRefuses: func(s *behaviourSeen) (bool, string) {
		return s.all("encrypt-required-refuses-smb2_02", "encrypt-required-admits-smb3", "encrypt-required-refuses-smb3-without-encryption")
	},
	smbconf.BehaviourLogEncryptRequiredLvl1: func(s *behaviourSeen) (bool, string) {
		return s.all("encrypt-refusal-not-logged-at-0", "encrypt-refusal-logged-at-1")
	},
	smbconf.BehaviourLogNotPermittedLevel1: func(s *behaviourSeen) (bool, string) {
		return s.all("not-permitted-refused", "not-permitted-not-logged-at-0", "not-permitted-logged-at-1")
	},
	smbconf.BehaviourLogAccountDisabledLevel1: func(s *behaviourSeen) (bool, string) {
		return s.all("disabled-refused", "disabled-not-logged-at-0", "disabled-logged-at-1")
	},
	smbconf.BehaviourMaxProcessesNeedReload: func(s *behaviourSeen) (bool, string) {
		return s.all("max-processes-edit-not-applied", "max-processes-applied-after-reload")
	},
	smbconf.BehaviourDefaultLanmanAuthOff: func(s *behaviourSeen) (bool, string) {
		return s.defaultIs("lanman auth", "No")
	},
	smbconf.BehaviourLogOfferSMB2Level3: func(s *behaviourSeen) (bool, string) {
		return s.all("offer-not-logged-at-smb2-2", "offer-logged-at-smb2-3")
	},
	smbconf.BehaviourLogOfferAllLevel3: func(s *behaviourSeen) (bool, string) {
		n, nd := s.all("offer-logged-at-smb2-3")
		o, od := s.all("offer-logged-at-3")
		return !n && o, nd + "; " + od
	},
	smbconf.BehaviourLogAuthFailureLevel2: func(s *behaviourSeen) (bool, string) {
		return s.all("auth-failure-not-logged-at-1", "auth-failure-logged-at-2")
	},
	smbconf.BehaviourLogDeniedLevel0: func(s *behaviourSeen) (bool, string) {
		return s.all("denied-logged-at-0", "share-hosts-deny-refused", "share-denied-logged-at-0")
	},
	smbconf.BehaviourLogDcerpcdMissingLevel0: func(s *behaviourSeen) (bool, string) {
		return s.all("ondemand-no-fails-listing", "dcerpcd-missing-logged-at-0")
	},
}

func TestBehaviourObserversCoverTheRegistry(t *testing.T) {
	var ids []string
	for _, b := range smbconf.Behaviours() {
		ids = append(ids, b.ID)
		assert.Contains(t, behaviourObservers, b.ID, "registry entry %s has no observer: add one to behaviourObservers", b.ID)
	}
	for id := range behaviourObservers {
		assert.Contains(t, ids, id, "observer %s has no registry entry", id)
	}
}

// TestBehaviours observes every registry entry on the release under test
// and asserts it is seen exactly where Holds says.
func TestBehaviours(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts several smbd")
	}
	s := observeBehaviours(t)
	agree, holds := 0, 0
	for _, b := range smbconf.Behaviours() {
		obs := behaviourObservers[b.ID]
		require.NotNil(t, obs, b.ID)
		want := b.Holds(s.release)
		if want {
			holds++
		}
		if slowBehaviours[b.ID] && !slowBehavioursOn() {
			t.Run(b.ID, func(t *testing.T) {
				t.Skipf("waits for smbd's own idle timers (minutes): observed with %s=1 (make test-samba)", slowBehavioursEnv)
			})
			continue
		}
		seen, detail := obs(s)
		if seen == want {
			agree++
		}
		t.Logf("%s: %v: %s", b.ID, seen, detail)
		t.Run(b.ID, func(t *testing.T) {
			assert.Equal(t, want, seen, "Samba %s: %s (%s)\nregistry says it holds: %v; observed: %v\n%s",
				s.release, b.Claim, b.Range(), want, seen, detail)
		})
	}
	t.Logf("Samba %s: %d/%d registry entries observed as the registry says (%d hold on this release)",
		s.release, agree, len(smbconf.Behaviours()), holds)
}

// observeBehaviours runs the scenarios, one smbd each, and testparm.
func observeBehaviours(t *testing.T) *behaviourSeen {
	t.Helper()
	budget := 3 * time.Minute
	if slowBehavioursOn() {
		budget += 3 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	s := &behaviourSeen{facts: map[string]bool{}, detail: map[string]string{}}
	v, err := smbconf.DetectSambaVersion(ctx)
	if err != nil && harness.Available() != "" {
		t.Skip("real smbd: " + harness.Available())
	}
	require.NoError(t, err)
	s.release = v

	for _, sc := range append([]struct {
		name string
		run  func(context.Context, *testing.T, *behaviourSeen)
	}{
		{"defaults", scenarioDefaults}, {"reread", scenarioReread}, {"reload", scenarioReload},
		{"on-demand", scenarioOnDemand}, {"log-levels", scenarioLogLevels},
		{"ntlm", scenarioNTLM}, {"encryption", scenarioEncryption}, {"max-processes", scenarioMaxProcesses},
		{"access", scenarioAccess},
	}, claimScenarios...) {
		t0 := time.Now()
		sc.run(ctx, t, s)
		t.Logf("scenario %s: %.1fs", sc.name, time.Since(t0).Seconds())
	}
	return s
}

// scenarioDefaults: an smbd that sets none of the parameters; testparm -sv
// of its smb.conf for the defaults, and what it answers on the wire.
func scenarioDefaults(ctx context.Context, t *testing.T, s *behaviourSeen) {
	srv := harness.StartT(t, harness.Config{Users: []harness.User{behaviourUser}})
	s.defaults = testparmDefaults(ctx, t, srv.ConfPath())

	r := probe.NegotiateSMB1(ctx, srv.Addr(), []string{probe.DialectStringNT1})
	s.set("default-refuses-nt1", !r.Accepted, "SMB1 NEGOTIATE [NT LM 0.12]: reply %s, accepted %v, %s", r.Reply, r.Accepted, r.Error)

	n := probe.NegotiateSMB2(ctx, srv.Addr(), []probe.Dialect{probe.SMB2_02, probe.SMB2_10})
	s.set("default-signing-enabled-not-required", n.Info != nil && n.Info.SigningEnabled && !n.Info.SigningRequired,
		"SMB2 NEGOTIATE: %s", negotiateText(n))

	e := probe.NegotiateSMB2(ctx, srv.Addr(), []probe.Dialect{probe.SMB3_00})
	s.set("default-smb3-encryption-capable", e.Info != nil && e.Info.EncryptionCapable, "SMB3_00 NEGOTIATE: %s", negotiateText(e))

	// go-smb2 logs in with NTLMv2 and does not encrypt unless the server
	// requires it.
	err := login(ctx, srv.Addr(), behaviourUser)
	s.set("default-login-unencrypted", err == nil, "NTLMv2 login without encryption: %v", errText(err))
}

// scenarioReread: server min protocol = SMB3_00, then edited to SMB2_02
// with no reload.
func scenarioReread(ctx context.Context, t *testing.T, s *behaviourSeen) {
	cfg := harness.Config{Global: []string{"server min protocol = SMB3_00"}}
	srv := harness.StartT(t, cfg)

	offer := []string{probe.DialectStringNT1, probe.DialectStringSMB202, probe.DialectStringSMB2FF}
	r := probe.NegotiateSMB1(ctx, srv.Addr(), offer)
	s.set("smb1-min-smb3-answers-wildcard", r.Accepted && r.Dialect == probe.SMB2_FF,
		"min SMB3_00, SMB1 NEGOTIATE %q: reply %s, dialect %s, %s", offer, r.Reply, r.Chosen, r.Error)
	r = probe.NegotiateSMB1(ctx, srv.Addr(), probe.SMB1Offers[probe.OfferPysmb])
	s.set("smb1-min-smb3-refuses-2002", !r.Accepted, "min SMB3_00, pysmb's SMB1 NEGOTIATE: reply %s, accepted %v", r.Reply, r.Accepted)

	n := probe.NegotiateSMB2(ctx, srv.Addr(), []probe.Dialect{probe.SMB2_02})
	s.set("min-smb3-refuses-smb2_02", !n.Accepted, "min SMB3_00, SMB2 NEGOTIATE [SMB2_02]: %s", negotiateText(n))

	cfg.Global = []string{"server min protocol = SMB2_02"}
	require.NoError(t, srv.WriteConf(cfg))
	n = probe.NegotiateSMB2(ctx, srv.Addr(), []probe.Dialect{probe.SMB2_02})
	s.set("edit-lets-smb2_02-in-without-reload", n.Accepted && n.Dialect == probe.SMB2_02,
		"edited to SMB2_02, no reload, SMB2 NEGOTIATE [SMB2_02]: %s", negotiateText(n))
}

// scenarioReload: [global] hosts deny and smb ports edited; connect
// before and after reload-config.
func scenarioReload(ctx context.Context, t *testing.T, s *behaviourSeen) {
	cfg := harness.Config{LogLevel: "0"}
	srv := harness.StartT(t, cfg)
	newPort, err := harness.FreePort()
	require.NoError(t, err)
	cfg.Global = []string{"hosts deny = 127.0.0.1", "smb ports = " + strconv.Itoa(newPort)}
	require.NoError(t, srv.WriteConf(cfg))

	n := probe.NegotiateSMB2(ctx, srv.Addr(), []probe.Dialect{probe.SMB2_02})
	s.set("hosts-edit-still-accepted", n.Accepted, "hosts deny = 127.0.0.1 written, no reload, SMB2 NEGOTIATE: %s", negotiateText(n))

	reloadConfig(ctx, t, srv)
	n = probe.NegotiateSMB2(ctx, srv.Addr(), []probe.Dialect{probe.SMB2_02})
	s.set("hosts-refused-after-reload", !n.Accepted, "after reload-config, SMB2 NEGOTIATE: %s", negotiateText(n))
	denied := strings.Contains(srv.Logs(), "Denied connection from")
	s.set("denied-logged-at-0", denied, "log level 0, refused connection: \"Denied connection from\" in the logs: %v", denied)

	newAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(newPort))
	s.set("new-port-closed-after-reload", dialRefused(ctx, newAddr), "after reload-config, connect to smb ports' new %d refused: %v", newPort, dialRefused(ctx, newAddr))
	s.set("old-port-open-after-reload", !dialRefused(ctx, srv.Addr()), "after reload-config, the old port %d still accepts: %v", srv.Port(), !dialRefused(ctx, srv.Addr()))
}

// scenarioOnDemand: rpc start on demand helpers = no, then the line
// removed with no reload.
func scenarioOnDemand(ctx context.Context, t *testing.T, s *behaviourSeen) {
	cfg := harness.Config{LogLevel: "0", Users: []harness.User{behaviourUser},
		Global: []string{"rpc start on demand helpers = no"}}
	srv := harness.StartT(t, cfg)
	err := listShares(ctx, srv.Addr(), behaviourUser)
	s.set("ondemand-no-fails-listing", err != nil, "rpc start on demand helpers = no, list shares: %v", errText(err))
	line := strings.Contains(srv.Logs(), "Can't connect to a running samba-dcerpcd")
	s.set("dcerpcd-missing-logged-at-0", line, "log level 0: \"Can't connect to a running samba-dcerpcd\" in the logs: %v", line)

	cfg.Global = nil
	require.NoError(t, srv.WriteConf(cfg))
	err = listShares(ctx, srv.Addr(), behaviourUser)
	s.set("ondemand-edit-lists-without-reload", err == nil, "line removed, no reload, list shares: %v", errText(err))
	pids := dcerpcdUnder(srv.Dir())
	s.set("dcerpcd-serves-srvsvc", err == nil && len(pids) > 0, "after a share listing, samba-dcerpcd processes of this smbd: %v", pids)
}

// scenarioLogLevels: an SMB1 offer and a failed login at smb2:2 and
// auth_audit:1, then both again at smb2:3 and auth_audit:2, then the offer
// at level 3 for every class.
func scenarioLogLevels(ctx context.Context, t *testing.T, s *behaviourSeen) {
	cfg := harness.Config{LogLevel: "1 smb2:2 auth_audit:1", Users: []harness.User{behaviourUser}}
	srv := harness.StartT(t, cfg)
	bad := harness.User{Name: behaviourUser.Name, Password: "not-" + behaviourUser.Password}
	provoke := func() (offers, fails int) {
		probe.NegotiateSMB1(ctx, srv.Addr(), probe.SMB1Offers[probe.OfferPysmb])
		_ = login(ctx, srv.Addr(), bad)
		logs := srv.Logs()
		return strings.Count(logs, "Requested protocol ["), countAuthFailures(logs)
	}
	o1, f1 := provoke()
	s.set("offer-not-logged-at-smb2-2", o1 == 0, "log level 1 smb2:2: %d \"Requested protocol [\" lines", o1)
	s.set("auth-failure-not-logged-at-1", f1 == 0, "auth_audit:1: %d failed-login lines", f1)

	cfg.LogLevel = "1 smb2:3 auth_audit:2"
	require.NoError(t, srv.WriteConf(cfg))
	o2, f2 := provoke()
	s.set("offer-logged-at-smb2-3", o2 > o1, "log level 1 smb2:3: %d \"Requested protocol [\" lines (%d before)", o2, o1)
	s.set("auth-failure-logged-at-2", f2 > f1, "auth_audit:2: %d failed-login lines (%d before)", f2, f1)

	cfg.LogLevel = "3"
	require.NoError(t, srv.WriteConf(cfg))
	o3, _ := provoke()
	s.set("offer-logged-at-3", o3 > o2, "log level 3: %d \"Requested protocol [\" lines (%d before)", o3, o2)
}

// scenarioNTLM: an NTLMv1 login at the defaults (log level 1, then 2),
// then with ntlm auth = ntlmv1-permitted, then an NTLMv2 login with ntlm
// auth = disabled. The NTLMv1 login is the probe's (checks/probe/ntlm.go);
// ntlmv1-permitted accepting it shows it is a well-formed NTLMv1 login.
func scenarioNTLM(ctx context.Context, t *testing.T, s *behaviourSeen) {
	cfg := harness.Config{Users: []harness.User{behaviourUser}}
	srv := harness.StartT(t, cfg)
	creds := func(a probe.Auth) probe.Credentials {
		return probe.Credentials{User: behaviourUser.Name, Password: behaviourUser.Password, Auth: a}
	}
	smb2Only := []probe.Dialect{probe.SMB2_02, probe.SMB2_10, probe.SMB3_00, probe.SMB3_02, probe.SMB3_11}
	const refused = "NTLMv1 passwords NOT PERMITTED"

	r := probe.Session(ctx, srv.Addr(), creds(probe.AuthNTLMv1), smb2Only)
	s.set("default-refuses-ntlmv1", !r.OK(), "defaults, NTLMv1 login: %s %s", r.Class, r.StatusName)
	n1 := strings.Count(srv.Logs(), refused)
	s.set("ntlmv1-refusal-not-logged-at-1", n1 == 0, "log level 1: %d %q lines", n1, refused)

	cfg.LogLevel = "2"
	require.NoError(t, srv.WriteConf(cfg))
	probe.Session(ctx, srv.Addr(), creds(probe.AuthNTLMv1), smb2Only)
	n2 := strings.Count(srv.Logs(), refused)
	s.set("ntlmv1-refusal-logged-at-2", n2 > n1, "log level 2: %d %q lines (%d before)", n2, refused, n1)

	cfg.Global = []string{"ntlm auth = ntlmv1-permitted"}
	require.NoError(t, srv.WriteConf(cfg))
	r = probe.Session(ctx, srv.Addr(), creds(probe.AuthNTLMv1), smb2Only)
	s.set("ntlmv1-permitted-accepts-ntlmv1", r.OK(), "ntlm auth = ntlmv1-permitted, NTLMv1 login: %s %s %s", r.Class, r.StatusName, r.Error)

	cfg.Global = []string{"ntlm auth = disabled"}
	require.NoError(t, srv.WriteConf(cfg))
	r = probe.Session(ctx, srv.Addr(), creds(probe.AuthNTLMv2), smb2Only)
	s.set("ntlm-disabled-blocks-ntlmv2", r.Status == probe.StatusNTLMBlocked, "ntlm auth = disabled, NTLMv2 login: %s %s", r.Class, r.StatusName)
}

// scenarioEncryption: "smb encrypt = required" (the synonym every release
// knows) at log level 0, then 1; logins at SMB2_02 and SMB3_11.
func scenarioEncryption(ctx context.Context, t *testing.T, s *behaviourSeen) {
	cfg := harness.Config{LogLevel: "0", Users: []harness.User{behaviourUser}, Global: []string{"smb encrypt = required"}}
	srv := harness.StartT(t, cfg)
	cr := &probe.Credentials{User: behaviourUser.Name, Password: behaviourUser.Password}
	const line = "as encryption is required"

	d := probe.ProbeDialect(ctx, srv.Addr(), probe.SMB2_02, cr)
	s.set("encrypt-required-refuses-smb2_02", d.Login != nil && d.Login.Class == probe.ClassAccessDenied,
		"encryption required, login at SMB2_02: %s", loginText(d))
	d3 := probe.ProbeDialect(ctx, srv.Addr(), probe.SMB3_11, cr)
	s.set("encrypt-required-admits-smb3", d3.Login != nil && d3.Login.OK(), "encryption required, login at SMB3_11: %s", loginText(d3))
	n0 := strings.Count(srv.Logs(), line)
	s.set("encrypt-refusal-not-logged-at-0", n0 == 0, "log level 0: %d %q lines", n0, line)

	cfg.LogLevel = "1"
	require.NoError(t, srv.WriteConf(cfg))
	probe.ProbeDialect(ctx, srv.Addr(), probe.SMB2_02, cr)
	n1 := strings.Count(srv.Logs(), line)
	s.set("encrypt-refusal-logged-at-1", n1 > n0, "log level 1: %d %q lines (%d before)", n1, line, n0)
}

// scenarioMaxProcesses: "max smbd processes = 1" written while one client
// holds a connection; a second client before and after reload-config.
func scenarioMaxProcesses(ctx context.Context, t *testing.T, s *behaviourSeen) {
	cfg := harness.Config{}
	srv := harness.StartT(t, cfg)
	var d net.Dialer
	held, err := d.DialContext(ctx, "tcp", srv.Addr())
	require.NoError(t, err)
	defer held.Close()
	// The held connection's child exists once it answers a negotiate.
	n := probe.NegotiateSMB2(ctx, srv.Addr(), []probe.Dialect{probe.SMB2_02})
	require.True(t, n.Accepted, "baseline negotiate: %s", negotiateText(n))

	cfg.Global = []string{"max smbd processes = 1"}
	require.NoError(t, srv.WriteConf(cfg))
	n = probe.NegotiateSMB2(ctx, srv.Addr(), []probe.Dialect{probe.SMB2_02})
	s.set("max-processes-edit-not-applied", n.Accepted, "max smbd processes = 1 written, no reload, one connection held, a second negotiates: %s", negotiateText(n))

	reloadConfig(ctx, t, srv)
	n = probe.NegotiateSMB2(ctx, srv.Addr(), []probe.Dialect{probe.SMB2_02})
	s.set("max-processes-applied-after-reload", !n.Accepted, "after reload-config, one connection held, a second negotiates: %s", negotiateText(n))
}

// scenarioAccess: a share whose valid users exclude the user, and a
// disabled account ("nobody", a unix account every Debian host has), at
// log level 0 and then 1.
func scenarioAccess(ctx context.Context, t *testing.T, s *behaviourSeen) {
	disabled := harness.User{Name: "nobody", Password: "Behaviour-pw-2"}
	cfg := harness.Config{LogLevel: "0", Users: []harness.User{behaviourUser, disabled},
		Shares: []harness.Share{{Name: "locked", Lines: []string{"valid users = " + disabled.Name}}}}
	srv := harness.StartT(t, cfg)
	require.NoError(t, srv.DisableUser(disabled.Name))
	const notPermitted, wasDisabled = "not permitted to access this share (locked)", "was disabled."
	attempt := func() (mountErr, loginErr error, np, dis int) {
		mountErr = mount(ctx, srv.Addr(), behaviourUser, "locked")
		loginErr = login(ctx, srv.Addr(), disabled)
		logs := srv.Logs()
		return mountErr, loginErr, strings.Count(logs, notPermitted), strings.Count(logs, wasDisabled)
	}
	m0, l0, np0, dis0 := attempt()
	s.set("not-permitted-refused", m0 != nil, "valid users = nobody, tree connect as root: %s", errText(m0))
	s.set("disabled-refused", l0 != nil, "disabled account, login: %s", errText(l0))
	s.set("not-permitted-not-logged-at-0", np0 == 0, "log level 0: %d %q lines", np0, notPermitted)
	s.set("disabled-not-logged-at-0", dis0 == 0, "log level 0: %d %q lines", dis0, wasDisabled)

	cfg.LogLevel = "1"
	require.NoError(t, srv.WriteConf(cfg))
	_, _, np1, dis1 := attempt()
	s.set("not-permitted-logged-at-1", np1 > np0, "log level 1: %d %q lines (%d before)", np1, notPermitted, np0)
	s.set("disabled-logged-at-1", dis1 > dis0, "log level 1: %d %q lines (%d before)", dis1, wasDisabled, dis0)
}

func mount(ctx context.Context, addr string, u harness.User, share string) error {
	return withSession(ctx, addr, u, func(s *smb2.Session) error {
		fs, err := s.WithContext(ctx).Mount(share)
		if err == nil {
			_ = fs.Umount()
		}
		return err
	})
}

func loginText(d probe.DialectResult) string {
	if d.Login == nil {
		return "no login (" + negotiateText(d.Negotiate) + ")"
	}
	return fmt.Sprintf("%s %s %s", d.Login.Class, d.Login.StatusName, d.Login.Error)
}

// countAuthFailures counts auth_audit's human-readable failure lines
// ("Auth: [SMB2,(null)] user [...] ... status [NT_STATUS_WRONG_PASSWORD]").
func countAuthFailures(logs string) int {
	n := 0
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if strings.Contains(l, "Auth:") && strings.Contains(l, "NT_STATUS_WRONG_PASSWORD") {
			n++
		}
	}
	return n
}

// testparmDefaults runs the release's testparm -sv on conf and returns
// every [global] parameter it prints.
func testparmDefaults(ctx context.Context, t *testing.T, conf string) map[string]string {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out, err := exec.CommandContext(cctx, "testparm", "-s", "-v", conf).Output()
	require.NoError(t, err, "testparm -sv %s", conf)
	m := map[string]string{}
	inGlobal := false
	for _, l := range strings.Split(string(out), "\n") {
		tl := strings.TrimSpace(l)
		if strings.HasPrefix(tl, "[") {
			inGlobal = tl == "[global]"
			continue
		}
		if k, v, ok := strings.Cut(tl, " = "); ok && inGlobal {
			m[k] = v
		} else if k, ok := strings.CutSuffix(tl, " ="); ok && inGlobal {
			m[k] = ""
		}
	}
	require.NotEmpty(t, m, "testparm -sv printed no [global] parameter")
	return m
}

// reloadConfig sends reload-config to the parent with the release's
// smbcontrol, then a ping: the parent handles messages in order, so the
// pong means the reload is done.
func reloadConfig(ctx context.Context, t *testing.T, srv *harness.Smbd) {
	t.Helper()
	reloadConfigVia(ctx, t, srv, srv.ConfPath())
}

// reloadConfigVia is reloadConfig with smbcontrol reading conf, for an
// smb.conf whose edit moved the directories smbcontrol finds smbd through.
func reloadConfigVia(ctx context.Context, t *testing.T, srv *harness.Smbd, conf string) {
	t.Helper()
	pid := strconv.Itoa(srv.PID())
	for _, msg := range []string{"reload-config", "ping"} {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		out, err := exec.CommandContext(cctx, "smbcontrol", "-s", conf, pid, msg).CombinedOutput()
		cancel()
		require.NoError(t, err, "smbcontrol %s %s: %s", pid, msg, out)
	}
}

// listShares lists shares over srvsvc. The first listing after start can
// fail while samba-dcerpcd starts (go-smb2 rejects its interim replies), so
// it retries for a while, except on OBJECT_NAME_NOT_FOUND, which is the
// pipe refused for good.
func listShares(ctx context.Context, addr string, u harness.User) error {
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var last error
	for cctx.Err() == nil {
		last = listSharesOnce(cctx, addr, u)
		// go-smb2 turns OBJECT_NAME_NOT_FOUND into os.ErrNotExist.
		var re *smb2.ResponseError
		if last == nil || errors.Is(last, os.ErrNotExist) || errors.As(last, &re) && probe.NTStatus(re.Code) == probe.StatusObjectNameNotFound {
			return last
		}
		time.Sleep(100 * time.Millisecond)
	}
	return last
}

func listSharesOnce(ctx context.Context, addr string, u harness.User) error {
	return withSession(ctx, addr, u, func(s *smb2.Session) error {
		_, err := s.WithContext(ctx).ListSharenames()
		return err
	})
}

func login(ctx context.Context, addr string, u harness.User) error {
	return withSession(ctx, addr, u, func(*smb2.Session) error { return nil })
}

func withSession(ctx context.Context, addr string, u harness.User, f func(*smb2.Session) error) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return harness.WithSession(cctx, addr, u, f)
}

func dialRefused(ctx context.Context, addr string) bool {
	var d net.Dialer
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := d.DialContext(cctx, "tcp", addr)
	if err != nil {
		return true
	}
	_ = c.Close()
	return false
}

// dcerpcdUnder lists the samba-dcerpcd processes started for the smbd in
// dir (their command line names its smb.conf).
func dcerpcdUnder(dir string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) > 0 && strings.Contains(args[0], "samba-dcerpcd") &&
			slices.ContainsFunc(args, func(a string) bool { return strings.Contains(a, dir+"/") }) {
			out = append(out, pid)
		}
	}
	sort.Ints(out)
	return out
}

func negotiateText(n probe.SMB2Result) string {
	if n.Info == nil {
		return fmt.Sprintf("accepted %v, %s %s", n.Accepted, n.Class, n.Error)
	}
	return fmt.Sprintf("accepted %v, dialect %s, signing enabled %v required %v, encryption %v",
		n.Accepted, n.Dialect, n.Info.SigningEnabled, n.Info.SigningRequired, n.Info.EncryptionCapable)
}

func errText(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}
