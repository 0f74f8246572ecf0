package test

// Scenarios for the registry entries about what smbd logs and keeps across
// a reload, start-only settings, the process limit, the client's
// encryption and the on-demand RPC helpers' lifetime
// (configs/smbconf/behaviours.go).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	smb2 "github.com/hirochachacha/go-smb2"
	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks/probe"
	"github.com/smb-agent/smb-agent/configs/smbconf"
	"github.com/smb-agent/smb-agent/test/conformance"
	"github.com/smb-agent/smb-agent/test/harness"
)

// slowBehavioursEnv runs the observers that wait for smbd's own timers
// (a minute and more); make test-samba sets it, make test does not.
const slowBehavioursEnv = "SMB_AGENT_SLOW"

// slowBehaviours are the entries only observed with SMB_AGENT_SLOW=1.
var slowBehaviours = map[string]bool{smbconf.BehaviourRPCHelpersExitWhenIdle: true}

func slowBehavioursOn() bool { return os.Getenv(slowBehavioursEnv) == "1" }

func init() {
	for id, obs := range map[string]func(*behaviourSeen) (bool, string){
		smbconf.BehaviourLogGuestNotPermittedLvl1: func(s *behaviourSeen) (bool, string) {
			return s.all("guest-ipc-refused", "guest-not-permitted-not-logged-at-0", "guest-not-permitted-logged-at-1")
		},
		smbconf.BehaviourLogNonSMBPacketLevel2: func(s *behaviourSeen) (bool, string) {
			return s.all("nt1-only-refuses-smb2", "non-smb-not-logged-at-1", "non-smb-logged-at-2")
		},
		smbconf.BehaviourStartOnlySettings: func(s *behaviourSeen) (bool, string) {
			return s.all("reload-keeps-pid-file", "reload-keeps-lock-directory", "lock-move-breaks-new-connections", "reload-keeps-passdb",
				"restart-applies-pid-directory", "restart-applies-passdb",
				"reload-keeps-parent-directories", "reload-half-moves-new-connections", "restart-applies-directories")
		},
		smbconf.BehaviourReloadKeepsSessions: func(s *behaviourSeen) (bool, string) {
			return s.all("hosts-refused-after-reload", "session-survives-reload")
		},
		smbconf.BehaviourMaxProcessesCountHelpers: func(s *behaviourSeen) (bool, string) {
			return s.all("max-2-admits-none", "max-3-admits-one", "max-3-refuses-second")
		},
		smbconf.BehaviourNoLogLevelMeansZero: func(s *behaviourSeen) (bool, string) {
			d, dd := s.defaultIs("log level", "1")
			o, od := s.all("no-log-level-line-no-level-1-line")
			return d && o, dd + "; " + od
		},
		smbconf.BehaviourClientEncryptDefault: func(s *behaviourSeen) (bool, string) {
			d, dd := s.defaultIs("client smb encrypt", "default")
			o, od := s.all("smbclient-encrypts-when-required")
			return d && o, dd + "; " + od
		},
		smbconf.BehaviourClientEncryptRefusesSMB2: func(s *behaviourSeen) (bool, string) {
			return s.all("smbclient-e-refuses-smb2_10")
		},
		smbconf.BehaviourLogPipeDisconnectedLvl3: func(s *behaviourSeen) (bool, string) {
			return s.all("pipe-disconnected-not-logged-at-2", "pipe-disconnected-logged-at-3")
		},
		smbconf.BehaviourLogBadSignatureLevel0: func(s *behaviourSeen) (bool, string) {
			return s.all("unsigned-refused", "unsigned-logged-at-0")
		},
		smbconf.BehaviourRPCHelpersExitWhenIdle: func(s *behaviourSeen) (bool, string) {
			return s.all("rpc-helpers-running-after-listing", "rpc-helpers-gone-when-idle", "rpc-helpers-idle-about-a-minute")
		},
		smbconf.BehaviourConfigLoadFailsStart: func(s *behaviourSeen) (bool, string) {
			return s.all("bad-value-testparm-fails", "bad-value-start-fails", "bad-value-ignoring-logged-at-0")
		},
		smbconf.BehaviourLogCantLoadConfig: func(s *behaviourSeen) (bool, string) {
			return s.all("bad-value-start-fails", "bad-value-cant-load-logged-at-0")
		},
		smbconf.BehaviourLogSelectedNT1Level3: func(s *behaviourSeen) (bool, string) {
			return s.all("nt1-accepted", "selected-nt1-not-logged-at-2", "selected-nt1-logged-at-3")
		},
		smbconf.BehaviourDcerpcdUnrunnableDenied: func(s *behaviourSeen) (bool, string) {
			return s.all("dcerpcd-unrunnable-pipe-denied", "dcerpcd-unrunnable-not-logged-at-2", "dcerpcd-unrunnable-logged-at-3")
		},
		smbconf.BehaviourLogRpcdUnrunnableLevel0: func(s *behaviourSeen) (bool, string) {
			return s.all("rpcd-unrunnable-pipe-not-found", "rpcd-unrunnable-logged-at-0")
		},
		smbconf.BehaviourServerRolePerConnection: func(s *behaviourSeen) (bool, string) {
			return s.all("member-role-applies-without-reload", "standalone-role-back-without-reload", "ad-dc-role-refused-at-start")
		},
		smbconf.BehaviourPipeDirFailsStart: func(s *behaviourSeen) (bool, string) {
			return s.all("bad-ncalrpc-dir-start-fails", "pipe-dir-failure-logged-at-0")
		},
	} {
		behaviourObservers[id] = obs
	}
}

// claimScenarios run after the ones in behaviours_e2e_test.go.
var claimScenarios = []struct {
	name string
	run  func(context.Context, *testing.T, *behaviourSeen)
}{
	{"guest", scenarioGuest}, {"non-smb", scenarioNonSMB}, {"start-only", scenarioStartOnly}, {"start-only-dirs", scenarioStartOnlyDirs},
	{"sessions-stay", scenarioSessionsStay}, {"max-processes-helpers", scenarioMaxProcessesHelpers},
	{"no-log-level", scenarioNoLogLevel}, {"client-encryption", scenarioClientEncryption},
	{"pipe-disconnected", scenarioPipeDisconnected}, {"signing", scenarioSigning},
	{"ncalrpc-dir", scenarioNcalrpcDir}, {"config-load", scenarioConfigLoad}, {"selected-nt1", scenarioSelectedNT1},
	{"share-hosts", scenarioShareHosts}, {"rpc-idle", scenarioRPCIdle},
	{"dcerpcd-unrunnable", scenarioDcerpcdUnrunnable}, {"rpcd-unrunnable", scenarioRpcdUnrunnable},
	{"encryption-smb3-no-cap", scenarioEncryptionSMB3NoCap}, {"server-role", scenarioServerRole},
}

// scenarioShareHosts: a share whose own hosts deny excludes the client,
// at log level 0.
func scenarioShareHosts(ctx context.Context, t *testing.T, s *behaviourSeen) {
	cfg := harness.Config{LogLevel: "0", Users: []harness.User{behaviourUser},
		Shares: []harness.Share{{Name: "fenced", Lines: []string{"hosts deny = 127.0.0.1"}}}}
	srv := harness.StartT(t, cfg)
	err := mount(ctx, srv.Addr(), behaviourUser, "fenced")
	s.set("share-hosts-deny-refused", err != nil, "share hosts deny = 127.0.0.1, tree connect: %s", errText(err))
	const line = "Denied connection from"
	n := waitCount(srv, line, 0)
	s.set("share-denied-logged-at-0", n > 0, "log level 0: %d %q lines", n, line)
}

// scenarioConfigLoad: "server min protocol = SMB4" (no such dialect),
// testparm, then a restart at log level 0.
func scenarioConfigLoad(ctx context.Context, t *testing.T, s *behaviourSeen) {
	cfg := harness.Config{LogLevel: "0", StartTimeout: 5 * time.Second}
	srv := harness.StartT(t, cfg)
	cfg.Global = []string{"server min protocol = SMB4"}
	require.NoError(t, srv.WriteConf(cfg))
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, terr := exec.CommandContext(cctx, "testparm", "-s", srv.ConfPath()).CombinedOutput()
	var ee *exec.ExitError
	failed := errors.As(terr, &ee) && ee.ExitCode() == 1 && strings.Contains(string(out), "Error loading services.")
	s.set("bad-value-testparm-fails", failed, "testparm -s with server min protocol = SMB4: %s, %q", errText(terr), firstLine(string(out), "Error loading"))
	err := srv.Restart()
	s.set("bad-value-start-fails", err != nil && dialRefused(ctx, srv.Addr()), "server min protocol = SMB4, restart: %s", errText(err))
	const line, ignoring = "run testparm to debug it", "Ignoring invalid value 'SMB4' for parameter 'server min protocol'"
	s.set("bad-value-cant-load-logged-at-0", strings.Contains(srv.Logs(), line), "log level 0: %s", firstLine(srv.Logs(), line))
	s.set("bad-value-ignoring-logged-at-0", strings.Contains(srv.Logs(), ignoring), "log level 0: %s", firstLine(srv.Logs(), ignoring))
}

// scenarioSelectedNT1: server min protocol = NT1 and an SMB1 NEGOTIATE
// offering only NT LM 0.12, at log level 2 and then 3.
func scenarioSelectedNT1(ctx context.Context, t *testing.T, s *behaviourSeen) {
	cfg := harness.Config{LogLevel: "2", Global: []string{"server min protocol = NT1"}}
	srv := harness.StartT(t, cfg)
	const line = "Selected protocol NT LM 0.12"
	r := probe.NegotiateSMB1(ctx, srv.Addr(), []string{probe.DialectStringNT1})
	s.set("nt1-accepted", r.Accepted, "min NT1, SMB1 NEGOTIATE [NT LM 0.12]: reply %s, accepted %v %s", r.Reply, r.Accepted, r.Error)
	n2 := strings.Count(srv.Logs(), line)
	s.set("selected-nt1-not-logged-at-2", n2 == 0, "log level 2: %d %q lines", n2, line)
	cfg.LogLevel = "3"
	require.NoError(t, srv.WriteConf(cfg))
	probe.NegotiateSMB1(ctx, srv.Addr(), []string{probe.DialectStringNT1})
	n3 := waitCount(srv, line, n2)
	s.set("selected-nt1-logged-at-3", n3 > n2, "log level 3: %d %q lines (%d before)", n3, line, n2)
}

// scenarioNcalrpcDir: "ncalrpc dir" below a regular file (it cannot be
// created), log level 0, then a restart.
func scenarioNcalrpcDir(ctx context.Context, t *testing.T, s *behaviourSeen) {
	cfg := harness.Config{LogLevel: "0", StartTimeout: 5 * time.Second}
	srv := harness.StartT(t, cfg)
	file := filepath.Join(srv.Dir(), "not-a-dir")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	cfg.Global = []string{"ncalrpc dir = " + filepath.Join(file, "np")}
	require.NoError(t, srv.WriteConf(cfg))
	err := srv.Restart()
	s.set("bad-ncalrpc-dir-start-fails", err != nil && dialRefused(ctx, srv.Addr()), "ncalrpc dir below a regular file, restart: %s", errText(err))
	const line = "Failed to create pipe directory"
	s.set("pipe-dir-failure-logged-at-0", strings.Contains(srv.Logs(), line), "log level 0: %s", firstLine(srv.Logs(), line))
}

// scenarioGuest: an unknown user mapped to guest, refused IPC$ by
// restrict anonymous = 2, at log level 0 and then 1.
func scenarioGuest(ctx context.Context, t *testing.T, s *behaviourSeen) {
	cfg := harness.Config{LogLevel: "0", Users: []harness.User{behaviourUser},
		Global: []string{"map to guest = bad user", "restrict anonymous = 2"}}
	srv := harness.StartT(t, cfg)
	stranger := harness.User{Name: "no-such-user", Password: "Behaviour-pw-3"}
	const line = "guest user (from session setup) not permitted to access this share (IPC$)"
	err := mount(ctx, srv.Addr(), stranger, "IPC$")
	s.set("guest-ipc-refused", err != nil, "unknown user (guest), tree connect IPC$: %s", errText(err))
	n0 := strings.Count(srv.Logs(), line)
	s.set("guest-not-permitted-not-logged-at-0", n0 == 0, "log level 0: %d %q lines", n0, line)
	cfg.LogLevel = "1"
	require.NoError(t, srv.WriteConf(cfg))
	_ = mount(ctx, srv.Addr(), stranger, "IPC$")
	n1 := strings.Count(srv.Logs(), line)
	s.set("guest-not-permitted-logged-at-1", n1 > n0, "log level 1: %d %q lines (%d before)", n1, line, n0)
}

// scenarioNonSMB: an SMB1-only smbd (server max protocol = NT1) and an
// SMB2 NEGOTIATE, at log level 1 and then 2.
func scenarioNonSMB(ctx context.Context, t *testing.T, s *behaviourSeen) {
	cfg := harness.Config{LogLevel: "1", Global: []string{"server min protocol = NT1", "server max protocol = NT1"}}
	srv := harness.StartT(t, cfg)
	const line = "Non-SMB packet of length"
	n := probe.NegotiateSMB2(ctx, srv.Addr(), []probe.Dialect{probe.SMB2_02, probe.SMB2_10})
	s.set("nt1-only-refuses-smb2", !n.Accepted, "max NT1, SMB2 NEGOTIATE: %s", negotiateText(n))
	c1 := strings.Count(srv.Logs(), line)
	s.set("non-smb-not-logged-at-1", c1 == 0, "log level 1: %d %q lines", c1, line)
	cfg.LogLevel = "2"
	require.NoError(t, srv.WriteConf(cfg))
	probe.NegotiateSMB2(ctx, srv.Addr(), []probe.Dialect{probe.SMB2_02, probe.SMB2_10})
	c2 := waitCount(srv, line, c1)
	s.set("non-smb-logged-at-2", c2 > c1, "log level 2: %d %q lines (%d before)", c2, line, c1)
}

// waitCount waits briefly for more than before occurrences of line in
// smbd's logs: a child that drops the connection may write its line just
// after the client sees the close.
func waitCount(srv *harness.Smbd, line string, before int) int {
	n := 0
	for i := 0; i < 20; i++ {
		if n = strings.Count(srv.Logs(), line); n > before {
			return n
		}
		time.Sleep(50 * time.Millisecond)
	}
	return n
}

// scenarioStartOnly: pid directory, lock directory and passdb backend
// moved to new, empty places; reload-config, then a restart (the other
// directories: scenarioStartOnlyDirs).
func scenarioStartOnly(ctx context.Context, t *testing.T, s *behaviourSeen) {
	cfg := harness.Config{Users: []harness.User{behaviourUser}, Shares: []harness.Share{{Name: "data"}}}
	srv := harness.StartT(t, cfg)
	d := srv.Dir()
	pid2, lock2 := filepath.Join(d, "pid2"), filepath.Join(d, "lock2")
	passdb2 := filepath.Join(d, "private", "passdb2.tdb")
	for _, p := range []string{pid2, lock2} {
		require.NoError(t, os.MkdirAll(p, 0o755))
	}
	// smbcontrol finds smbd through the lock directory: it reads a copy
	// of the smb.conf smbd started with.
	started := filepath.Join(d, "started.conf")
	b, err := os.ReadFile(srv.ConfPath())
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(started, b, 0o644))
	// pid directory and passdb backend first, lock directory after: a
	// child that re-reads a moved lock directory cannot serve the
	// connection, which would hide what passdb does.
	cfg.Global = []string{"pid directory = " + pid2, "passdb backend = tdbsam:" + passdb2}
	require.NoError(t, srv.WriteConf(cfg))
	reloadConfigVia(ctx, t, srv, started)

	err = mount(ctx, srv.Addr(), behaviourUser, "data")
	s.set("reload-keeps-passdb", err == nil, "passdb backend moved to an empty tdbsam, after reload-config, login and tree connect: %s", errText(err))
	_, perr := os.Stat(filepath.Join(pid2, "smbd.pid"))
	s.set("reload-keeps-pid-file", os.IsNotExist(perr), "after reload-config, smbd.pid in the new pid directory: %v", perr == nil)

	cfg.Global = append(cfg.Global, "lock directory = "+lock2)
	require.NoError(t, srv.WriteConf(cfg))
	reloadConfigVia(ctx, t, srv, started)
	lerr := login(ctx, srv.Addr(), behaviourUser)
	ents, _ := os.ReadDir(lock2)
	s.set("lock-move-breaks-new-connections", lerr != nil, "lock directory moved, after reload-config, a new login: %s", errText(lerr))
	s.set("reload-keeps-lock-directory", len(ents) == 0,
		"lock directory moved, after reload-config: files in the new lock directory: %d; a new login: %s", len(ents), errText(lerr))

	require.NoError(t, srv.Restart())
	_, perr = os.Stat(filepath.Join(pid2, "smbd.pid"))
	s.set("restart-applies-pid-directory", perr == nil, "after a restart, smbd.pid in the new pid directory: %v", perr == nil)
	err = login(ctx, srv.Addr(), behaviourUser)
	s.set("restart-applies-passdb", err != nil, "after a restart, login with the account only the old passdb has: %s", errText(err))
}

// scenarioStartOnlyDirs: state directory, cache directory, private dir
// and ncalrpc dir moved to new, empty places; a connection after
// reload-config, then a restart. What the parent smbd holds open
// (/proc/PID/fd) says which directories it uses.
func scenarioStartOnlyDirs(ctx context.Context, t *testing.T, s *behaviourSeen) {
	cfg := harness.Config{Users: []harness.User{behaviourUser}, Shares: []harness.Share{{Name: "data"}}}
	srv := harness.StartT(t, cfg)
	d := srv.Dir()
	// samba-dcerpcd running, as on a server that has served a listing: one
	// started after the reload would create its sockets in the new place.
	require.NoError(t, listShares(ctx, srv.Addr(), behaviourUser))
	// smbcontrol finds smbd through the messaging directories, which
	// 4.13 keeps under the private dir: it reads the smb.conf smbd
	// started with.
	started := filepath.Join(d, "started.conf")
	b, err := os.ReadFile(srv.ConfPath())
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(started, b, 0o644))
	moved := []struct{ param, dir string }{
		{"state directory", "state2"}, {"cache directory", "cache2"}, {"private dir", "private2"}, {"ncalrpc dir", "ncalrpc2"},
	}
	for _, m := range moved {
		require.NoError(t, os.MkdirAll(filepath.Join(d, m.dir), 0o755))
		cfg.Global = append(cfg.Global, m.param+" = "+filepath.Join(d, m.dir))
	}
	require.NoError(t, srv.WriteConf(cfg))
	reloadConfigVia(ctx, t, srv, started)

	lerr := login(ctx, srv.Addr(), behaviourUser)
	rerr := errors.New("not tried: the login failed")
	if lerr == nil {
		rerr = listSharesOnce(ctx, srv.Addr(), behaviourUser)
	}
	oldOpen := openUnder(srv.PID(), d, "state", "private")
	newOpen := openUnder(srv.PID(), d, "state2", "cache2", "private2")
	sockets := entriesUnder(filepath.Join(d, "ncalrpc2", "np"))
	s.set("reload-keeps-parent-directories", len(oldOpen) > 0 && len(newOpen) == 0 && len(sockets) == 0,
		"after reload-config, the parent smbd has open in the old state/private dirs: %v; in the new state/cache/private dirs: %v; pipe sockets in the new ncalrpc dir: %v",
		oldOpen, newOpen, sockets)
	childFiles := append(entriesUnder(filepath.Join(d, "state2")), entriesUnder(filepath.Join(d, "private2"))...)
	s.set("reload-half-moves-new-connections", lerr != nil || rerr != nil || len(childFiles) > 0,
		"after reload-config, a new login: %s; a share listing: %s; files new children made in the new state/private dirs: %v",
		errText(lerr), errText(rerr), childFiles)

	require.NoError(t, srv.Restart())
	rerr = listShares(ctx, srv.Addr(), behaviourUser)
	newOpen = openUnder(srv.PID(), d, "state2", "private2")
	cache := entriesUnder(filepath.Join(d, "cache2"))
	sockets = entriesUnder(filepath.Join(d, "ncalrpc2", "np"))
	s.set("restart-applies-directories", rerr == nil && len(newOpen) >= 2 && len(cache) > 0 && slices.Contains(sockets, "srvsvc"),
		"after a restart, the parent smbd has open in the new state/private dirs: %v; the new cache dir holds: %v; a share listing: %s; pipe sockets in the new ncalrpc dir: %v",
		newOpen, cache, errText(rerr), sockets)
}

// openUnder is the files process pid has open under the named
// subdirectories of dir, as dir-relative paths. It matches on dir's base
// name: a release root shows the same directory under another prefix.
func openUnder(pid int, dir string, subs ...string) []string {
	fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
	base := "/" + filepath.Base(dir) + "/"
	var out []string
	for _, fd := range fds {
		l, err := os.Readlink(fd)
		i := strings.Index(l, base)
		if err != nil || i < 0 {
			continue
		}
		rel := l[i+len(base):]
		for _, sub := range subs {
			if strings.HasPrefix(rel, sub+"/") {
				out = append(out, rel)
			}
		}
	}
	return out
}

// entriesUnder is the names in dir (none when it is missing).
func entriesUnder(dir string) []string {
	ents, _ := os.ReadDir(dir)
	out := make([]string, 0, len(ents))
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// scenarioSessionsStay: a session with a share open, then [global] hosts
// deny excluding the client and reload-config; the old session reads a
// file, a new connection is refused.
func scenarioSessionsStay(ctx context.Context, t *testing.T, s *behaviourSeen) {
	cfg := harness.Config{Users: []harness.User{behaviourUser}, Shares: []harness.Share{{Name: "data"}}}
	srv := harness.StartT(t, cfg)
	require.NoError(t, os.WriteFile(filepath.Join(srv.SharePath("data"), "f.txt"), []byte("kept"), 0o644))

	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(cctx, "tcp", srv.Addr())
	require.NoError(t, err)
	defer c.Close()
	sess, err := (&smb2.Dialer{Initiator: &smb2.NTLMInitiator{User: behaviourUser.Name, Password: behaviourUser.Password}}).DialContext(cctx, c)
	require.NoError(t, err)
	defer func() { _ = sess.Logoff() }()
	share, err := sess.WithContext(cctx).Mount("data")
	require.NoError(t, err)
	defer func() { _ = share.Umount() }()

	cfg.Global = []string{"hosts deny = 127.0.0.1"}
	require.NoError(t, srv.WriteConf(cfg))
	reloadConfig(ctx, t, srv)
	n := probe.NegotiateSMB2(ctx, srv.Addr(), []probe.Dialect{probe.SMB2_02})
	if _, done := s.facts["hosts-refused-after-reload"]; !done {
		s.set("hosts-refused-after-reload", !n.Accepted, "after reload-config, SMB2 NEGOTIATE: %s", negotiateText(n))
	}
	b, err := share.ReadFile("f.txt")
	s.set("session-survives-reload", err == nil && string(b) == "kept" && !n.Accepted,
		"hosts deny = 127.0.0.1 and reload-config: the session opened before reads a file: %q %s; a new connection: %s",
		b, errText(err), negotiateText(n))
}

// scenarioMaxProcessesHelpers: max smbd processes = 2 at start, then 3
// after reload-config with one connection held.
func scenarioMaxProcessesHelpers(ctx context.Context, t *testing.T, s *behaviourSeen) {
	cfg := harness.Config{Global: []string{"max smbd processes = 2"}}
	srv := harness.StartT(t, cfg)
	n := probe.NegotiateSMB2(ctx, srv.Addr(), []probe.Dialect{probe.SMB2_02})
	s.set("max-2-admits-none", !n.Accepted, "max smbd processes = 2, nothing else connected, SMB2 NEGOTIATE: %s", negotiateText(n))

	cfg.Global = []string{"max smbd processes = 3"}
	require.NoError(t, srv.WriteConf(cfg))
	reloadConfig(ctx, t, srv)
	var d net.Dialer
	held, err := d.DialContext(ctx, "tcp", srv.Addr())
	require.NoError(t, err)
	defer held.Close()
	ok, detail := negotiateOn(held)
	s.set("max-3-admits-one", ok, "max smbd processes = 3 after reload-config, one client negotiates: %s", detail)
	n = probe.NegotiateSMB2(ctx, srv.Addr(), []probe.Dialect{probe.SMB2_02})
	s.set("max-3-refuses-second", !n.Accepted, "max smbd processes = 3, one client connected, a second negotiates: %s", negotiateText(n))
}

// negotiateOn sends an SMB2 NEGOTIATE [SMB2_02] on c and reports whether a
// valid reply came back.
func negotiateOn(c net.Conn) (bool, string) {
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	req := probe.BuildSMB2Negotiate([]probe.Dialect{probe.SMB2_02}, false)
	frame := append([]byte{0, byte(len(req) >> 16), byte(len(req) >> 8), byte(len(req))}, req...)
	if _, err := c.Write(frame); err != nil {
		return false, "write: " + err.Error()
	}
	hdr := make([]byte, 4)
	if _, err := io.ReadFull(c, hdr); err != nil {
		return false, "read: " + err.Error()
	}
	n := int(hdr[1])<<16 | int(hdr[2])<<8 | int(hdr[3])
	if n < 64 || n > 1<<16 {
		return false, fmt.Sprintf("reply length %d", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c, body); err != nil {
		return false, "read: " + err.Error()
	}
	info, st, err := probe.ParseSMB2Negotiate(body)
	if err != nil || info == nil {
		return false, fmt.Sprintf("status %s %v", st, err)
	}
	return info.Dialect == probe.SMB2_02, "dialect " + info.Dialect.String()
}

// scenarioNoLogLevel: an smbd whose smb.conf has no log level line (and no
// -d) and a tree connect refused by valid users, whose line is level 1.
func scenarioNoLogLevel(ctx context.Context, t *testing.T, s *behaviourSeen) {
	cfg := harness.Config{OmitLogLevel: true, Users: []harness.User{behaviourUser},
		Shares: []harness.Share{{Name: "locked", Lines: []string{"valid users = nobody"}}}}
	srv := harness.StartT(t, cfg)
	const line = "not permitted to access this share (locked)"
	err := mount(ctx, srv.Addr(), behaviourUser, "locked")
	n := strings.Count(srv.Logs(), line)
	s.set("no-log-level-line-no-level-1-line", err != nil && n == 0,
		"no log level line: tree connect refused: %s; %d %q lines", errText(err), n, line)
}

// scenarioClientEncryption: the release's smbclient with its defaults
// against an smbd that requires encryption, and with -e against one that
// offers at most SMB2_10.
func scenarioClientEncryption(ctx context.Context, t *testing.T, s *behaviourSeen) {
	cfg := harness.Config{Users: []harness.User{behaviourUser}, Shares: []harness.Share{{Name: "data"}},
		Global: []string{"smb encrypt = required"}}
	srv := harness.StartT(t, cfg)
	out, err := smbclient(ctx, t, srv, "data")
	s.set("smbclient-encrypts-when-required", err == nil, "smbclient with its defaults, server requires encryption, ls: %s %s", errText(err), out)

	cfg.Global = []string{"server max protocol = SMB2_10"}
	require.NoError(t, srv.WriteConf(cfg))
	// -e became --client-protection=encrypt in 4.15's common options.
	flag := "--client-protection=encrypt"
	if s.release.Series() == "4.13" {
		flag = "-e"
	}
	out, err = smbclient(ctx, t, srv, "data", flag)
	refused := err != nil && strings.Contains(out, "Encryption required and server doesn't support SMB3 encryption")
	s.set("smbclient-e-refuses-smb2_10", refused, "smbclient -e, server max protocol SMB2_10: %s %s", errText(err), out)
}

// smbclient runs the release's smbclient on share with an authentication
// file (the password never on a command line) and "ls".
func smbclient(ctx context.Context, t *testing.T, srv *harness.Smbd, share string, args ...string) (string, error) {
	t.Helper()
	auth := filepath.Join(srv.Dir(), "smbclient.auth")
	require.NoError(t, os.WriteFile(auth, []byte("username = "+behaviourUser.Name+"\npassword = "+behaviourUser.Password+"\n"), 0o600))
	cconf := filepath.Join(srv.Dir(), "client.conf")
	require.NoError(t, os.WriteFile(cconf, []byte("[global]\n"), 0o644))
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	argv := append([]string{"-s", cconf, "-A", auth, "-p", strconv.Itoa(srv.Port()), "//127.0.0.1/" + share, "-c", "ls"}, args...)
	b, err := exec.CommandContext(cctx, "smbclient", argv...).CombinedOutput()
	return strings.Join(strings.Fields(tailText(string(b), 300)), " "), err
}

func tailText(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// scenarioPipeDisconnected: srvsvc opened, the RPC workers killed, then a
// write to the pipe, at log level 2 and then 3.
func scenarioPipeDisconnected(ctx context.Context, t *testing.T, s *behaviourSeen) {
	cfg := harness.Config{LogLevel: "2", Users: []harness.User{behaviourUser}}
	srv := harness.StartT(t, cfg)
	require.NoError(t, srv.WarmRPC(behaviourUser, 20*time.Second))
	if w := rpcWorkersUnder(srv.Dir()); len(w) == 0 {
		// smbd serves the pipe itself (before samba-dcerpcd): no
		// worker to kill.
		s.set("pipe-disconnected-not-logged-at-2", true, "after a share listing, no rpcd_* worker runs")
		s.set("pipe-disconnected-logged-at-3", false, "after a share listing, no rpcd_* worker runs")
		return
	}
	const line = "NT_STATUS_PIPE_DISCONNECTED"
	provoke := func() (int, string) {
		err := withSession(ctx, srv.Addr(), behaviourUser, func(ss *smb2.Session) error {
			ipc, err := ss.WithContext(ctx).Mount("IPC$")
			if err != nil {
				return err
			}
			defer func() { _ = ipc.Umount() }()
			f, err := ipc.OpenFile("srvsvc", os.O_RDWR, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			for _, pid := range rpcWorkersUnder(srv.Dir()) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			time.Sleep(300 * time.Millisecond)
			_, err = f.Write([]byte{5, 0, 11, 3, 0x10, 0, 0, 0, 16, 0, 0, 0, 1, 0, 0, 0})
			return err
		})
		return waitCount(srv, line, 0), errText(err)
	}
	n2, e2 := provoke()
	s.set("pipe-disconnected-not-logged-at-2", n2 == 0, "log level 2, worker killed, pipe write: %s; %d %q lines", e2, n2, line)
	cfg.LogLevel = "3"
	require.NoError(t, srv.WriteConf(cfg))
	require.NoError(t, srv.WarmRPC(behaviourUser, 20*time.Second))
	n3, e3 := provoke()
	s.set("pipe-disconnected-logged-at-3", n3 > n2, "log level 3, worker killed, pipe write: %s; %d %q lines", e3, n3, line)
}

// rpcWorkersUnder lists the rpcd_* processes started for the smbd in dir.
func rpcWorkersUnder(dir string) []int {
	var out []int
	for _, pid := range processesUnder(dir) {
		b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
		if strings.Contains(strings.SplitN(string(b), "\x00", 2)[0], "rpcd_") {
			out = append(out, pid)
		}
	}
	return out
}

// processesUnder lists processes whose command line names a path in dir.
func processesUnder(dir string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), dir+"/") {
			out = append(out, pid)
		}
	}
	return out
}

// scenarioSigning: server signing = mandatory; impacket logs in (signed)
// and sends its tree connect unsigned, at log level 0.
func scenarioSigning(ctx context.Context, t *testing.T, s *behaviourSeen) {
	cfg := harness.Config{LogLevel: "0", Users: []harness.User{behaviourUser}, Global: []string{"server signing = mandatory"}}
	srv := harness.StartT(t, cfg)
	const line = "signature for message"
	unsigned := impacketTreeConnect(ctx, t, srv, "unsigned")
	nu := waitCount(srv, line, 0)
	s.set("unsigned-refused", strings.HasPrefix(unsigned, "ERR"), "mandatory signing, signed login, then an unsigned TREE_CONNECT: %s", unsigned)
	s.set("unsigned-logged-at-0", nu > 0 && strings.Contains(firstLine(srv.Logs(), line), "Bad SMB2"), "log level 0: %d %q lines (%s)", nu, line, firstLine(srv.Logs(), line))
}

// impacketSigningScript logs in with signing (the server requires it),
// then sends the IPC$ tree connect unsigned.
const impacketSigningScript = `
import sys
from impacket.smbconnection import SMBConnection
from impacket import smb3
port, user, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
pw = sys.stdin.readline().rstrip("\n")
c = SMBConnection("127.0.0.1", "127.0.0.1", sess_port=port, preferredDialect=smb3.SMB2_DIALECT_21)
c.login(user, pw)
s = c._SMBConnection
if mode == "unsigned":
    s._Session["SigningActivated"] = False
try:
    c.connectTree("IPC$")
    print("OK")
except Exception as e:
    print("ERR", e)
`

func impacketTreeConnect(ctx context.Context, t *testing.T, srv *harness.Smbd, mode string) string {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, conformance.PythonWithImpacket, "-c", impacketSigningScript,
		strconv.Itoa(srv.Port()), behaviourUser.Name, mode)
	cmd.Stdin = strings.NewReader(behaviourUser.Password + "\n")
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "impacket: %s", b)
	return strings.TrimSpace(tailText(string(b), 300))
}

// scenarioRPCIdle (SMB_AGENT_SLOW=1 only): after a share listing, the
// on-demand samba-dcerpcd and its workers are running, and they are gone
// once idle for a while (at most two minutes waited).
func scenarioRPCIdle(ctx context.Context, t *testing.T, s *behaviourSeen) {
	if !slowBehavioursOn() {
		return
	}
	srv := harness.StartT(t, harness.Config{Users: []harness.User{behaviourUser}})
	require.NoError(t, srv.WarmRPC(behaviourUser, 20*time.Second))
	helpers := func() []int {
		var out []int
		for _, pid := range processesUnder(srv.Dir()) {
			if pid != srv.PID() && isRPCHelper(pid) {
				out = append(out, pid)
			}
		}
		return out
	}
	running := helpers()
	s.set("rpc-helpers-running-after-listing", len(running) > 0, "after a share listing, samba-dcerpcd/rpcd_* processes: %v", running)
	t0 := time.Now()
	for time.Since(t0) < 2*time.Minute && len(helpers()) > 0 {
		time.Sleep(time.Second)
	}
	left, idle := helpers(), time.Since(t0)
	s.set("rpc-helpers-gone-when-idle", len(running) > 0 && len(left) == 0,
		"idle: processes left after %.0fs: %v", idle.Seconds(), left)
	s.set("rpc-helpers-idle-about-a-minute", idle > 30*time.Second && idle < 100*time.Second, "they exited after %.0fs idle", idle.Seconds())
}

func isRPCHelper(pid int) bool {
	b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	a0 := strings.SplitN(string(b), "\x00", 2)[0]
	return strings.Contains(a0, "samba-dcerpcd") || strings.Contains(a0, "rpcd_")
}

// firstLine is the first log line holding sub, trimmed.
func firstLine(logs, sub string) string {
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, sub) {
			return strings.TrimSpace(l)
		}
	}
	return "none"
}

// pipeOpenSrvsvc opens the srvsvc pipe on IPC$ as u, once.
func pipeOpenSrvsvc(ctx context.Context, addr string, u harness.User) error {
	return withSession(ctx, addr, u, func(ss *smb2.Session) error {
		ipc, err := ss.WithContext(ctx).Mount("IPC$")
		if err != nil {
			return err
		}
		defer func() { _ = ipc.Umount() }()
		f, err := ipc.OpenFile("srvsvc", os.O_RDWR, 0)
		if err != nil {
			return err
		}
		return f.Close()
	})
}

// scenarioDcerpcdUnrunnable: samba-dcerpcd replaced (for this smbd only)
// by a file without execute permission; the srvsvc pipe opened at log
// level 2, then at 3.
func scenarioDcerpcdUnrunnable(ctx context.Context, t *testing.T, s *behaviourSeen) {
	cfg := harness.Config{LogLevel: "2", Users: []harness.User{behaviourUser},
		Unrunnable: []string{"/usr/libexec/samba/samba-dcerpcd"}}
	srv := harness.StartT(t, cfg)
	const line = "status[NT_STATUS_ACCESS_DENIED]"
	err := pipeOpenSrvsvc(ctx, srv.Addr(), behaviourUser)
	s.set("dcerpcd-unrunnable-pipe-denied", errors.Is(err, os.ErrPermission),
		"samba-dcerpcd not executable, open srvsvc: %s", errText(err))
	n2 := waitCount(srv, line, 0)
	s.set("dcerpcd-unrunnable-not-logged-at-2", n2 == 0, "log level 2: %d %q lines", n2, line)
	cfg.LogLevel = "3"
	require.NoError(t, srv.WriteConf(cfg))
	err = pipeOpenSrvsvc(ctx, srv.Addr(), behaviourUser)
	n3 := waitCount(srv, line, n2)
	s.set("dcerpcd-unrunnable-logged-at-3", errors.Is(err, os.ErrPermission) && n3 > n2,
		"log level 3, open srvsvc: %s; %d %q lines", errText(err), n3, line)
}

// scenarioRpcdUnrunnable: rpcd_classic (which serves srvsvc) replaced
// (for this smbd only) by a file without execute permission; the srvsvc
// pipe opened at log level 0.
func scenarioRpcdUnrunnable(ctx context.Context, t *testing.T, s *behaviourSeen) {
	cfg := harness.Config{LogLevel: "0", Users: []harness.User{behaviourUser},
		Unrunnable: []string{"/usr/libexec/samba/rpcd_classic"}}
	srv := harness.StartT(t, cfg)
	err := pipeOpenSrvsvc(ctx, srv.Addr(), behaviourUser)
	s.set("rpcd-unrunnable-pipe-not-found", errors.Is(err, os.ErrNotExist),
		"rpcd_classic not executable, open srvsvc: %s", errText(err))
	const line = "sys_popenv: ERROR executing command"
	logf := filepath.Join(srv.Dir(), "log", "log.samba-dcerpcd")
	var b []byte
	for i := 0; i < 40; i++ {
		if b, _ = os.ReadFile(logf); strings.Contains(string(b), line) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.set("rpcd-unrunnable-logged-at-0", strings.Contains(string(b), line),
		"log level 0, log.samba-dcerpcd: %s", firstLine(string(b), line))
}

// smb3NoEncryptionLogin is impacket logging in at SMB3_00 without
// offering SMB2_GLOBAL_CAP_ENCRYPTION (MS-SMB2 2.2.3), a client that
// cannot encrypt; it prints "ok" or the error.
const smb3NoEncryptionLogin = `import sys
import impacket.smb3
impacket.smb3.SMB2_GLOBAL_CAP_ENCRYPTION = 0
from impacket.smbconnection import SMBConnection
from impacket.smb3structs import SMB2_DIALECT_30
c = SMBConnection("127.0.0.1", "127.0.0.1", sess_port=int(sys.argv[1]), preferredDialect=SMB2_DIALECT_30)
try:
    c.login(sys.argv[2], sys.argv[3])
    print("ok")
except Exception as e:
    print(e)
`

// scenarioEncryptionSMB3NoCap: encryption required, a login at SMB3_00
// by a client that does not offer encryption.
func scenarioEncryptionSMB3NoCap(ctx context.Context, t *testing.T, s *behaviourSeen) {
	cfg := harness.Config{LogLevel: "1", Users: []harness.User{behaviourUser}, Global: []string{"smb encrypt = required"}}
	srv := harness.StartT(t, cfg)
	py := harness.Tool(t, conformance.PythonWithImpacket, "python3-impacket")
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(cctx, py, "-c", smb3NoEncryptionLogin, strconv.Itoa(srv.Port()), behaviourUser.Name, behaviourUser.Password).CombinedOutput()
	require.NoError(t, err, "%s", out)
	got := strings.TrimSpace(string(out))
	s.set("encrypt-required-refuses-smb3-without-encryption", strings.Contains(got, "STATUS_ACCESS_DENIED"),
		"encryption required, login at SMB3_00 without the encryption capability: %s", got)
}

// scenarioServerRole: a standalone smbd whose passdb account logs in;
// "server role = member server" written with no reload, then removed
// with no reload; then "server role = active directory domain
// controller" and a restart at log level 0.
func scenarioServerRole(ctx context.Context, t *testing.T, s *behaviourSeen) {
	cfg := harness.Config{LogLevel: "0", Users: []harness.User{behaviourUser}, StartTimeout: 5 * time.Second}
	srv := harness.StartT(t, cfg)
	standalone := cfg
	cfg.Global = []string{"server role = member server", "security = ads", "realm = EXAMPLE.TEST", "workgroup = EXAMPLE"}
	require.NoError(t, srv.WriteConf(cfg))
	err := login(ctx, srv.Addr(), behaviourUser)
	var re *smb2.ResponseError
	member := errors.As(err, &re) && probe.NTStatus(re.Code) == probe.StatusNoLogonServers
	s.set("member-role-applies-without-reload", member, "server role = member server (no winbindd), no reload, local account login: %s", errText(err))
	require.NoError(t, srv.WriteConf(standalone))
	err = login(ctx, srv.Addr(), behaviourUser)
	s.set("standalone-role-back-without-reload", err == nil, "server role line removed, no reload, login: %s", errText(err))

	cfg.Global = []string{"server role = active directory domain controller"}
	require.NoError(t, srv.WriteConf(cfg))
	rerr := srv.Restart()
	const line = "not compatible with running smbd standalone"
	s.set("ad-dc-role-refused-at-start", rerr != nil && strings.Contains(srv.Logs(), line),
		"server role = active directory domain controller, restart: %s; log level 0: %s", errText(rerr), firstLine(srv.Logs(), line))
}
