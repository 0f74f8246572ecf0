package gather

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks"
	"github.com/smb-agent/smb-agent/checks/probe"
	"github.com/smb-agent/smb-agent/configs"
	"github.com/smb-agent/smb-agent/configs/smbconf"
)

// gatherHost is a fake host for Gather: an smb.conf in a temp dir, a
// /proc tree with one smbd started with it, listening on 4450, and a log
// directory holding the level3 fixture.
type gatherHost struct {
	dir, conf string
	proc      *fakeProc
	cfg       *configs.Config
}

func newGatherHost(t testing.TB, globals ...string) *gatherHost {
	t.Helper()
	h := &gatherHost{dir: t.TempDir(), proc: newFakeProc(t)}
	h.conf = filepath.Join(h.dir, "smb.conf")
	for _, d := range []string{"pid", "log"} {
		require.NoError(t, os.MkdirAll(filepath.Join(h.dir, d), 0o755))
	}
	lines := append([]string{
		"[global]",
		"  smb ports = 4450 139",
		"  pid directory = " + h.dir + "/pid",
		"  log file = " + h.dir + "/log/log.%m",
	}, globals...)
	lines = append(lines, "[share]", "  path = /tmp")
	require.NoError(t, os.WriteFile(h.conf, []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(h.dir, "pid", "smbd.pid"), []byte("100\n"), 0o644))
	logs, err := os.ReadFile("testdata/logs/level3/log.127.0.0.1")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(h.dir, "log", "log.127.0.0.1"), logs, 0o644))

	h.proc.write("net/tcp", procNetHeader+
		"   0: 0100007F:1162 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5001 1 0000000000000000 100 0 0 10 0\n")
	args := []string{"/usr/sbin/smbd", "--foreground", "--no-process-group", "-s", h.conf}
	h.proc.proc(100, 1, "smbd", "S", 5000, h.dir, args, 5001)
	h.proc.proc(101, 100, "smbd-notifyd", "S", 5001, h.dir, args)

	h.cfg = configs.DefaultConfig()
	h.cfg.SMBConf = h.conf
	h.cfg.Target = "127.0.0.1:4450"
	h.cfg.Timeout = 2 * time.Second
	h.cfg.Logs.Since = 0 // the fixture's lines are old
	h.cfg.Logs.Journal = false
	return h
}

func (h *gatherHost) opts(run runFunc, look func(string) (string, error)) Options {
	return Options{
		Config: h.cfg, ProcRoot: h.proc.root, Run: run, LookPath: look, SkipProbe: true,
		Clients: []configs.ClientProfile{{Name: "pysmb"}},
		Now:     func() time.Time { return time.Date(2026, 11, 25, 7, 0, 0, 0, time.UTC) },
	}
}

// onlySmbd: smbd --version answers; no other tool is installed.
func onlySmbd(version string) (runFunc, func(string) (string, error)) {
	run := func(_ context.Context, name string, args ...string) ([]byte, error) {
		if name == "smbd" && len(args) == 1 && args[0] == "--version" {
			return []byte(version), nil
		}
		return nil, fmt.Errorf("unexpected %s", name)
	}
	look := func(n string) (string, error) {
		if n == "smbd" {
			return "/usr/sbin/smbd", nil
		}
		return "", errors.New("not found")
	}
	return run, look
}

func TestGatherFakeHost(t *testing.T) {
	h := newGatherHost(t, "  log level = 1 smb2:3 auth_audit:2")
	run, look := onlySmbd("Version 4.17.12-Debian\n")
	f := Gather(context.Background(), h.opts(run, look))

	require.Empty(t, f.Errors)
	require.Equal(t, checks.Target{Host: "127.0.0.1", Port: 4450}, f.Target)
	require.Equal(t, 4, f.SambaVersion.Major)
	require.Equal(t, 17, f.SambaVersion.Minor)
	require.Equal(t, "smbd --version", f.SambaVersionSource)
	require.NotNil(t, f.Config)
	require.NoError(t, f.ConfigErr)
	require.Len(t, f.ConfigFiles, 1)
	require.Equal(t, h.conf, f.ConfigFiles[0].Path)
	require.False(t, f.ConfigFiles[0].ModTime.IsZero())
	require.Equal(t, "pysmb", f.Clients[0].Name)

	require.Len(t, f.Sockets.Listeners, 1)
	require.Equal(t, 100, f.Sockets.Listeners[0].PID)
	require.True(t, f.Smbd.Running)
	require.Equal(t, 100, f.Smbd.Master.PID)
	require.Equal(t, h.conf, f.Smbd.ConfigPath)
	require.Equal(t, filepath.Join(h.dir, "pid", "smbd.pid"), f.Smbd.PIDFile)
	require.Equal(t, 100, f.Smbd.PIDFromFile)
	require.Len(t, f.Smbd.Children, 1)

	require.Contains(t, f.Logs.Sources, filepath.Join(h.dir, "log", "log.127.0.0.1"))
	require.Equal(t, 3, f.Logs.Level["smb2"])
	require.Equal(t, 2, f.Logs.Level["auth_audit"])
	require.Equal(t, 1, f.Logs.Level["all"])
	require.Contains(t, f.Logs.LevelSource, h.conf+":")
	require.Len(t, f.Logs.Offers, 1)
	require.Equal(t, "127.0.0.1", f.Logs.Offers[0].ClientIP)

	require.Equal(t, []string{}, f.Firewall.Tools)
	require.Nil(t, f.Probe)
}

func TestGatherDefaultLogLevelAndConfiguredVersion(t *testing.T) {
	h := newGatherHost(t)
	h.cfg.SambaVersion = "4.15.13"
	run := func(context.Context, string, ...string) ([]byte, error) {
		t.Fatal("no command may run: the version is configured and no tool exists")
		return nil, nil
	}
	f := Gather(context.Background(), h.opts(run, func(string) (string, error) { return "", errors.New("none") }))
	require.Empty(t, f.Errors)
	require.Equal(t, "config", f.SambaVersionSource)
	require.Equal(t, 15, f.SambaVersion.Minor)
	// No log level line and no -d: level 0 for every class.
	require.Equal(t, 0, f.Logs.Level["smb2"])
	require.Equal(t, 0, f.Logs.Level["all"])
	require.Contains(t, f.Logs.LevelSource, "no log level line")
}

func TestGatherMissingConfig(t *testing.T) {
	h := newGatherHost(t)
	h.cfg.SMBConf = filepath.Join(h.dir, "missing.conf")
	run, look := onlySmbd("Version 4.17.12-Debian\n")
	f := Gather(context.Background(), h.opts(run, look))
	require.Nil(t, f.Config)
	require.Error(t, f.ConfigErr)
	require.Len(t, f.ConfigFiles, 1)
	require.NotEmpty(t, f.ConfigFiles[0].Err)
	require.Len(t, f.Errors, 1)
	require.True(t, strings.HasPrefix(f.Errors[0], "could not read smb.conf: load "), f.Errors[0])
	require.NotContains(t, f.Errors[0], "\n")
	// The listener still finds smbd (its -s differs from the agent's).
	require.Equal(t, 100, f.Smbd.Master.PID)
}

func TestGatherPartialConfigOnSambaFatalError(t *testing.T) {
	h := newGatherHost(t, "  server min protocol = SMB4")
	run, look := onlySmbd("Version 4.17.12-Debian\n")
	f := Gather(context.Background(), h.opts(run, look))
	require.NotNil(t, f.Config, "a partial config is kept")
	require.Error(t, f.ConfigErr)
	require.Contains(t, f.Errors[0], "could not read smb.conf: ")
	require.Contains(t, f.Errors[0], "SMB4")
}

func TestGatherBadTarget(t *testing.T) {
	h := newGatherHost(t)
	h.cfg.Target = "nonsense"
	run, look := onlySmbd("Version 4.17.12-Debian\n")
	o := h.opts(run, look)
	o.SkipProbe = false
	f := Gather(context.Background(), o)
	require.Nil(t, f.Probe, "no probe without a target")
	require.Contains(t, f.Errors[0], "target: invalid target")
}

// Every tool hangs: Gather still returns within the timeout plus its
// margin, with each blind spot named.
func TestGatherBoundedWhenToolsHang(t *testing.T) {
	h := newGatherHost(t)
	h.cfg.Timeout = time.Second
	h.cfg.Logs.Journal = true
	hang := func(ctx context.Context, name string, _ ...string) ([]byte, error) {
		<-ctx.Done()
		return nil, fmt.Errorf("%s: %w", name, ctx.Err())
	}
	all := func(n string) (string, error) { return "/usr/bin/" + n, nil }
	start := time.Now()
	f := Gather(context.Background(), h.opts(hang, all))
	took := time.Since(start)
	require.Less(t, took, h.cfg.Timeout+gatherMargin+200*time.Millisecond)
	joined := strings.Join(f.Errors, "\n")
	require.Contains(t, joined, "could not read the Samba version: ")
	require.Contains(t, joined, "could not read the firewall: ")
	require.NotNil(t, f.Config, "smb.conf still loads after the version command timed out")
	for _, e := range f.Errors {
		require.NotContains(t, e, "\n")
	}
}

// A probe against a closed loopback port: Gather wires the probe options
// (target port first) and returns its result.
func TestGatherRunsProbe(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())

	h := newGatherHost(t)
	h.cfg.Target = fmt.Sprintf("127.0.0.1:%d", port)
	run, look := onlySmbd("Version 4.17.12-Debian\n")
	o := h.opts(run, look)
	o.SkipProbe = false
	o.Password = "s3cret-never-stored"
	h.cfg.Credentials.User = "scorer"
	f := Gather(context.Background(), o)
	require.NotNil(t, f.Probe)
	require.Equal(t, port, f.Probe.TCP[0].Port)
	require.Equal(t, probe.TCPRefused, f.Probe.TCP[0].Outcome)
	require.Equal(t, []string{"could not read the account: pdbedit not installed; getent not installed"}, f.Errors)
	require.Equal(t, "scorer", f.User)
	require.True(t, f.HasPassword)
	require.NotContains(t, fmt.Sprintf("%+v", *f), "s3cret-never-stored")
}

func TestProbeOptions(t *testing.T) {
	cfg := configs.DefaultConfig()
	cfg.Credentials = configs.Credentials{User: "u", Domain: "D", Guest: true}
	cfg.Share, cfg.File = "data", configs.FileCheck{Path: "a.txt", SHA256: "ab"}
	o := probeOptions(cfg, nil, "pw", 445, []int{445, 139}, 3*time.Second)
	require.Equal(t, probe.Options{Ports: []int{445, 139}, Timeout: 3 * time.Second, User: "u", Password: "pw", Domain: "D",
		Guest: true, Share: "data", File: "a.txt", FileSHA256: "ab"}, o)
	require.Equal(t, []int{445}, probeOptions(cfg, nil, "", 445, []int{445}, time.Second).Ports)
	require.Equal(t, []int{4450}, probeOptions(cfg, nil, "", 4450, []int{4450, 139}, time.Second).Ports)
	o = probeOptions(cfg, []configs.ClientProfile{{Name: "xp", Auth: configs.AuthNTLMv1}}, "", 445, nil, time.Second)
	require.True(t, o.NTLMv1)
}

func TestExecRun(t *testing.T) {
	out, err := execRun(context.Background(), "sh", "-c", "echo out; echo err >&2")
	require.NoError(t, err)
	require.Equal(t, "out\n", string(out))
	_, err = execRun(context.Background(), "sh", "-c", "echo 'first problem' >&2; echo more >&2; exit 3")
	require.EqualError(t, err, "sh: exit status 3: first problem")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = execRun(ctx, "sleep", "10")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 2*time.Second)
	_, err = execRun(context.Background(), "/nonexistent/tool")
	require.Error(t, err)
}

func TestConfLogLevel(t *testing.T) {
	dir := t.TempDir()
	inc := filepath.Join(dir, "inc.conf")
	main := filepath.Join(dir, "smb.conf")
	require.NoError(t, os.WriteFile(inc, []byte("[global]\n  log level = 1 smb2:3\n"), 0o644))
	require.NoError(t, os.WriteFile(main, []byte("[global]\n  Debug Level = 2\n  include = "+inc+"\n[share]\n  path = /tmp\n  log level = 9\n"), 0o644))
	c, err := loadSmbConf(main, smbconf.SambaVersion{})
	require.NoError(t, err)
	v, set, at := confLogLevel(c)
	require.True(t, set)
	require.Equal(t, "1 smb2:3", v, "the include comes after debuglevel; the share's line is ignored")
	require.Equal(t, inc+":2", at)

	// the synonym, spelled loosely, last
	require.NoError(t, os.WriteFile(main, []byte("[global]\n  include = "+inc+"\n  Debug Level = 2\n"), 0o644))
	c, err = loadSmbConf(main, smbconf.SambaVersion{})
	require.NoError(t, err)
	v, _, at = confLogLevel(c)
	require.Equal(t, "2", v)
	require.Equal(t, main+":3", at)

	require.NoError(t, os.WriteFile(main, []byte("[global]\n  workgroup = X\n"), 0o644))
	c, err = loadSmbConf(main, smbconf.SambaVersion{})
	require.NoError(t, err)
	_, set, _ = confLogLevel(c)
	require.False(t, set)
}

func TestGatherAccount(t *testing.T) {
	now := time.Date(2026, 11, 25, 7, 0, 0, 0, time.UTC)
	pdb := "Unix username:        scorer\nAccount Flags:        [DU         ]\nKickoff time:         Wed, 06 Feb 2036 15:06:39 UTC\nPassword must change: Mon, 02 Nov 2026 10:00:00 UTC\n"
	all := func(n string) (string, error) { return "/usr/bin/" + n, nil }
	tests := []struct {
		name string
		pdb  string // "" = not found (exit 255)
		unix bool
		want checks.AccountFacts
	}{
		{"disabled, password expired", pdb, true,
			checks.AccountFacts{User: "scorer", InPassdb: true, UnixAccount: true, Flags: "[DU         ]", MustChange: true}},
		{"not in passdb, no unix account", "", false, checks.AccountFacts{User: "scorer"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			run := func(ctx context.Context, name string, args ...string) ([]byte, error) {
				switch name {
				case "pdbedit":
					require.Equal(t, []string{"-s", "/etc/samba/smb.conf", "-L", "-v", "-u", "scorer"}, args)
					if tc.pdb == "" {
						return execRun(ctx, "sh", "-c", "echo 'Username not found!' >&2; exit 255")
					}
					return []byte(tc.pdb), nil
				case "getent":
					if !tc.unix {
						return execRun(ctx, "sh", "-c", "exit 2")
					}
					return []byte("scorer:x:1001:1001::/home/scorer:/bin/sh\n"), nil
				}
				return nil, errors.New("unexpected")
			}
			a := gatherAccount(context.Background(), "scorer", "/etc/samba/smb.conf", now, run, all)
			require.Equal(t, tc.want, *a)
		})
	}
	// passdb unreadable: an error, not "not in passdb"
	run := func(ctx context.Context, name string, args ...string) ([]byte, error) {
		if name == "pdbedit" {
			return execRun(ctx, "sh", "-c", "echo 'Unable to initialize passdb' >&2; exit 1")
		}
		return []byte("scorer:x:1::/:/bin/sh\n"), nil
	}
	a := gatherAccount(context.Background(), "scorer", "/x.conf", now, run, all)
	require.Contains(t, a.Err, "Unable to initialize passdb")
	require.Nil(t, gatherAccount(context.Background(), "", "/x.conf", now, run, all))

	var acc checks.AccountFacts
	parsePdbedit(&acc, "Unix username: u\nKickoff time: Mon, 02 Nov 2026 10:00:00 UTC\nPassword must change: never\n", now)
	require.True(t, acc.Expired)
	require.False(t, acc.MustChange)
}

func TestGatherHostBits(t *testing.T) {
	dir := t.TempDir()
	for name, mode := range map[string]os.FileMode{"samba-dcerpcd": 0o755, "rpcd_classic": 0o644} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), mode))
	}
	require.Equal(t, []checks.BinaryFacts{
		{Path: filepath.Join(dir, "samba-dcerpcd"), Exists: true, Executable: true},
		{Path: filepath.Join(dir, "rpcd_classic"), Exists: true, Executable: false},
	}, gatherRPCHelpers(dir))
	require.Equal(t, []checks.BinaryFacts{{Path: "/nonexistent/samba-dcerpcd"}, {Path: "/nonexistent/rpcd_classic"}}, gatherRPCHelpers("/nonexistent"))

	conf := filepath.Join(dir, "smb.conf")
	require.NoError(t, os.WriteFile(conf, []byte("[global]\n[ok]\n path = "+dir+"\n[file]\n path = "+conf+"\n[gone]\n path = "+dir+"/gone\n"), 0o644))
	c, err := loadSmbConf(conf, smbconf.SambaVersion{})
	require.NoError(t, err)
	require.Empty(t, gatherSharePath(c, "ok").Err)
	require.Equal(t, "not a directory", gatherSharePath(c, "file").Err)
	require.Contains(t, gatherSharePath(c, "gone").Err, "no such file")
	require.Contains(t, gatherSharePath(c, "missing").Err, "not in the configuration")
	require.Nil(t, gatherSharePath(c, ""))

	// Interfaces from the kernel; the route from "ip route get".
	var asked []string
	run := func(ctx context.Context, name string, args ...string) ([]byte, error) {
		asked = append(asked, name+" "+strings.Join(args, " "))
		if args[2] == "192.0.2.1" {
			return execRun(ctx, "sh", "-c", "echo 'RTNETLINK answers: Network is unreachable' >&2; exit 2")
		}
		return []byte("10.0.0.1 dev eth0 src 10.0.0.2\n"), nil
	}
	look := func(n string) (string, error) { return "/sbin/" + n, nil }
	n := gatherNet(context.Background(), "192.0.2.1", run, look)
	require.NotNil(t, n.RouteToClient)
	require.False(t, *n.RouteToClient)
	require.Empty(t, n.Err)
	lo := false
	for _, i := range n.Interfaces {
		if i.Name == "lo" {
			lo = i.Up && len(i.Addrs) > 0
		}
	}
	require.True(t, lo, "loopback is up with an address")
	n = gatherNet(context.Background(), "10.0.0.1", run, look)
	require.True(t, *n.RouteToClient)
	n = gatherNet(context.Background(), "", run, look)
	require.Nil(t, n.RouteToClient)
	require.Equal(t, []string{"ip route get 192.0.2.1", "ip route get 10.0.0.1"}, asked)
}

// BenchmarkGatherFakeHost: one run without the probe over the fake host
// (smb.conf, /proc fixture, log fixture, no external tool): the cost of
// the local gatherers and of the wrapper that runs them.
func BenchmarkGatherFakeHost(b *testing.B) {
	h := newGatherHost(b)
	run, look := onlySmbd("Version 4.17.12-Debian\n")
	o := h.opts(run, look)
	b.ResetTimer()
	for b.Loop() {
		if f := Gather(context.Background(), o); len(f.Errors) > 0 {
			b.Fatal(f.Errors)
		}
	}
}
