package test

// End-to-end tests of `agent serve`: the built binary as a whole process,
// against a real smbd (test/harness), watched the way systemd and
// monitoring watch it: sd_notify messages on a NOTIFY_SOCKET the test
// owns, and HTTP /healthz /readyz /status /events /metrics.
//
// The machine may be a loaded 2-core box running other tests: every wait
// polls with a generous deadline, and "within one interval" is asserted in
// rounds (the first round that starts after a change must see it), not in
// wall-clock time.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/agent"
	"github.com/smb-agent/smb-agent/agent/agenttest"
	"github.com/smb-agent/smb-agent/checks"
	"github.com/smb-agent/smb-agent/test/harness"
)

// serveWait bounds every wait for the daemon: a hang detector, not a
// performance bound (a round takes well under a second on an idle host).
const serveWait = 60 * time.Second

// lockedBuffer collects the daemon's stderr (its logs).
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// served is a running `agent serve`.
type served struct {
	cmd    *exec.Cmd
	base   string
	cfg    string // agent.yaml
	notify *agenttest.NotifySocket
	logs   *lockedBuffer
	done   chan struct{}
	err    error // cmd.Wait's, once done is closed
	// netns is the network namespace the agent runs in ("" = this one);
	// its HTTP port is then reached with curl inside the namespace.
	netns string
}

// startServe starts `agent serve` against s with a NOTIFY_SOCKET and a
// watchdog, and waits for READY=1.
func startServe(t *testing.T, s *harness.Smbd, agentYAML string, extra ...string) *served {
	t.Helper()
	return startServeIn(t, "", s, agentYAML, extra...)
}

// startServeIn is startServe with the agent in network namespace netns
// ("" = this one).
func startServeIn(t *testing.T, netns string, s *harness.Smbd, agentYAML string, extra ...string) *served {
	t.Helper()
	bin := requireAgent(t)
	ns := agenttest.ListenNotify(t)
	// Only the agent gets the socket (through cmd.Env below): an smbd the
	// harness (re)starts inherits this process's environment, and smbd
	// speaks sd_notify too. t.Setenv's cleanup restores the old value.
	require.NoError(t, os.Unsetenv("NOTIFY_SOCKET"))
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "agent.yaml")
	port, err := harness.FreePort()
	require.NoError(t, err)
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	// smb.conf's path goes in agent.yaml, not on the command line: the
	// harness's Stop kills, by PID, every process whose command line names
	// a file under smbd's directory (to catch samba-dcerpcd), and that
	// would include the agent.
	agentYAML = "smb_conf: " + s.ConfPath() + "\n" + agentYAML
	args := []string{"serve", "--config", cfgFile, "--listen", listen, "--interval", "1s",
		"--target", s.Addr(), "--user", probeUser, "--share", "data", "--timeout", "5s"}
	args = append(args, extra...)
	require.NoError(t, os.WriteFile(cfgFile, []byte(agentYAML), 0o600))
	cmd := exec.Command(bin, args...)
	if netns != "" {
		cmd = exec.Command("ip", append([]string{"netns", "exec", netns, bin}, args...)...)
	}
	cmd.Env = []string{
		"PATH=" + harness.ReleasePath("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"), "HOME=" + dir,
		"SMB_AGENT_PASSWORD=" + probePass,
		"NOTIFY_SOCKET=" + ns.Path(),
		"WATCHDOG_USEC=1000000", // WatchdogSec=1s: a ping every 0.5 s
	}
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	require.NoError(t, cmd.Start())
	sv := &served{cmd: cmd, base: "http://" + listen, cfg: cfgFile, notify: ns, logs: logs, done: make(chan struct{}), netns: netns}
	go func() {
		sv.err = cmd.Wait()
		close(sv.done)
	}()
	t.Cleanup(func() {
		select {
		case <-sv.done:
		default:
			_ = cmd.Process.Kill()
			<-sv.done
		}
		if t.Failed() {
			t.Logf("agent %s\nlogs:\n%s\nsd_notify: %q", strings.Join(args, " "), tail(logs.String(), 6000), ns.Messages())
		}
		require.NotContains(t, logs.String(), probePass, "the password must never be logged")
	})
	sv.waitFor(t, "READY=1", func() bool { return ns.Count("READY=1") >= 1 })
	return sv
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// waitFor polls cond until it holds, failing after serveWait or when the
// daemon exits.
func (sv *served) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(serveWait)
	for !cond() {
		select {
		case <-sv.done:
			t.Fatalf("agent serve exited (%v) while waiting for %s", sv.err, what)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", serveWait, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (sv *served) get(t *testing.T, path string) (int, string) {
	t.Helper()
	if sv.netns != "" {
		out, err := exec.Command("ip", "netns", "exec", sv.netns, "curl", "-sS", "-m", "10", "-w", "\n%{http_code}", sv.base+path).Output()
		require.NoError(t, err, path)
		i := bytes.LastIndexByte(out, '\n')
		require.GreaterOrEqual(t, i, 0, "curl %s: %q", path, out)
		body, code := string(out[:i]), string(out[i+1:])
		n, err := strconv.Atoi(strings.TrimSpace(code))
		require.NoError(t, err, "curl %s: %q", path, out)
		return n, body
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(sv.base + path)
	require.NoError(t, err, path)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func (sv *served) status(t *testing.T) *checks.Report {
	t.Helper()
	code, body := sv.get(t, "/status")
	require.Equal(t, 200, code, body)
	var rep checks.Report
	require.NoError(t, json.Unmarshal([]byte(body), &rep), body)
	return &rep
}

func (sv *served) metrics(t *testing.T) agenttest.Metrics {
	t.Helper()
	if sv.netns != "" {
		_, body := sv.get(t, "/metrics")
		m, err := agenttest.ParseMetrics(strings.NewReader(body))
		require.NoError(t, err)
		return m
	}
	m, err := agenttest.Scrape(sv.base + "/metrics")
	require.NoError(t, err)
	return m
}

func metric(t *testing.T, m agenttest.Metrics, name string, labels ...string) float64 {
	t.Helper()
	v, ok := m.Value(name, labels...)
	require.True(t, ok, "series %s%v not exported", name, labels)
	return v
}

func hasPattern(rep *checks.Report, pattern string) bool {
	for _, f := range rep.Findings {
		if f.Pattern == pattern {
			return true
		}
	}
	return false
}

// waitStatus waits for the first STATUS= after the first `after` ones that
// satisfies match, and returns its index among all statuses.
func (sv *served) waitStatus(t *testing.T, after int, what string, match func(string) bool) int {
	t.Helper()
	idx := -1
	sv.waitFor(t, what, func() bool {
		st := sv.notify.Statuses()
		for i := after; i < len(st); i++ {
			if match(st[i]) {
				idx = i
				return true
			}
		}
		return false
	})
	return idx
}

// TestServeFaultAppearsAndClears is the daemon's life against a real smbd:
// ready after the first round, a fault introduced while it runs shows in
// the STATUS line, /status, /metrics and /events within one interval (the
// first round that starts after the change), disappears after the repair,
// SIGHUP reloads the agent config, HTTP load runs no probes, and SIGTERM
// ends it with STOPPING=1 within 5 s.
func TestServeFaultAppearsAndClears(t *testing.T) {
	// Not parallel: the notify socket helper sets NOTIFY_SOCKET with
	// t.Setenv (the child gets it through its own environment anyway).
	base := harness.Config{
		Users:  []harness.User{{Name: probeUser, Password: probePass}},
		Shares: []harness.Share{{Name: "data"}},
	}
	s := harness.StartT(t, base)
	sv := startServe(t, s, "logs:\n  journal: false\n")

	// Healthy start: READY=1 follows the first round's STATUS.
	msgs := sv.notify.Messages()
	ready := -1
	for i, m := range msgs {
		if m == "READY=1" {
			ready = i
			break
		}
	}
	require.Greater(t, ready, 0, "%q", msgs)
	require.True(t, strings.HasPrefix(msgs[ready-1], "STATUS=ok: "), "READY=1 follows the first STATUS: %q", msgs)
	code, body := sv.get(t, "/healthz")
	require.Equal(t, 200, code, body)
	code, body = sv.get(t, "/readyz")
	require.Equal(t, 200, code, body)
	rep := sv.status(t)
	require.Equal(t, checks.Schema, rep.Schema, "same schema as diagnose --json")
	require.Equal(t, checks.OK, rep.Status, "findings: %+v", rep.Findings)
	require.Equal(t, s.Addr(), rep.Target)
	m := sv.metrics(t)
	require.Equal(t, 0.0, metric(t, m, "smb_agent_status"))
	require.Equal(t, 1.0, metric(t, m, "smb_agent_up"))
	require.Equal(t, 0.0, metric(t, m, "smb_agent_check_status", "pattern", "protocol-mismatch"))
	require.Equal(t, 1.0, metric(t, m, "smb_agent_dialect_accepted", "dialect", "SMB2_02", "view", "config"))
	require.Equal(t, 1.0, metric(t, m, "smb_agent_dialect_accepted", "dialect", "SMB2_02", "view", "live"))
	require.GreaterOrEqual(t, metric(t, m, "smb_agent_probe_duration_seconds", "step", "probe"), 1.0)
	require.Greater(t, metric(t, m, "smb_agent_last_round_timestamp_seconds"), 0.0)
	sv.waitFor(t, "WATCHDOG=1 pings", func() bool { return sv.notify.Count("WATCHDOG=1") >= 1 })

	// SIGHUP reloads agent.yaml: scoring switched on shows as the
	// points-lost series, after RELOADING=1 ... READY=1.
	require.NoError(t, os.WriteFile(sv.cfg, []byte("smb_conf: "+s.ConfPath()+"\nlogs:\n  journal: false\nserve:\n  scoring:\n    points_per_check: 4.2\n    check_interval: 1m\n"), 0o600))
	require.NoError(t, sv.cmd.Process.Signal(syscall.SIGHUP))
	sv.waitFor(t, "RELOADING=1 and a second READY=1", func() bool {
		reloading := 0
		for _, m := range sv.notify.Messages() {
			if strings.HasPrefix(m, "RELOADING=1\n") {
				reloading++
			}
		}
		return reloading == 1 && sv.notify.Count("READY=1") == 2
	})
	sv.waitFor(t, "the reloaded scoring on /metrics", func() bool {
		_, ok := sv.metrics(t).Value("smb_agent_estimated_points_lost_total", "pattern", "protocol-mismatch")
		return ok
	})
	require.Contains(t, sv.logs.String(), "configuration reloaded")

	// HTTP never probes: a burst of requests costs no rounds beyond the
	// schedule (upper bound only, so a slow machine cannot fail it).
	r0 := metric(t, sv.metrics(t), "smb_agent_rounds_total")
	begin := time.Now()
	for i := 0; i < 300; i++ {
		path := []string{"/status", "/metrics", "/events", "/healthz", "/readyz"}[i%5]
		code, body := sv.get(t, path)
		require.Equal(t, 200, code, "%s: %s", path, body)
	}
	r1 := metric(t, sv.metrics(t), "smb_agent_rounds_total")
	maxRounds := time.Since(begin).Seconds()/(1*0.9) + 2 // interval 1 s, jitter 10%
	require.LessOrEqual(t, r1-r0, maxRounds, "300 requests must not run rounds")

	// Fault: the server's minimum above pysmb's maximum, edited and
	// reloaded as an admin would (smbd's SIGHUP is reload-config). An edit
	// alone is a warning (smb.conf and the live smbd disagree, the
	// stale-config view); the reload makes the live smbd refuse pysmb.
	faulty := base
	faulty.Global = []string{"server min protocol = SMB3"}
	time.Sleep(30 * time.Millisecond) // mtime strictly after the last read
	require.NoError(t, s.WriteConf(faulty))
	require.NoError(t, s.Signal(syscall.SIGHUP))
	n0 := len(sv.notify.Statuses())
	crit := sv.waitStatus(t, n0, "STATUS=critical: protocol-mismatch", func(st string) bool {
		return strings.HasPrefix(st, "critical: protocol-mismatch: ")
	})
	// A round in progress during the write may miss it; the next must not.
	require.LessOrEqual(t, crit, n0+1, "the fault shows within one interval: %q", sv.notify.Statuses()[n0:])
	st := sv.notify.Statuses()[crit]
	require.Contains(t, st, "SMB3", st)
	t.Logf("fault: STATUS=%s", st)
	rep = sv.status(t)
	require.Equal(t, checks.Critical, rep.Status)
	require.True(t, hasPattern(rep, "protocol-mismatch"), "%+v", rep.Findings)
	m = sv.metrics(t)
	require.Equal(t, 2.0, metric(t, m, "smb_agent_status"))
	require.Equal(t, 2.0, metric(t, m, "smb_agent_check_status", "pattern", "protocol-mismatch"))
	require.GreaterOrEqual(t, metric(t, m, "smb_agent_pattern_rounds_total", "pattern", "protocol-mismatch"), 1.0)
	require.Equal(t, 0.0, metric(t, m, "smb_agent_dialect_accepted", "dialect", "SMB2_02", "view", "config"))
	require.Greater(t, metric(t, m, "smb_agent_estimated_points_lost_total", "pattern", "protocol-mismatch"), 0.0)
	code, body = sv.get(t, "/status/protocol-mismatch")
	require.Equal(t, 503, code, body)
	var ev agent.Events
	code, body = sv.get(t, "/events")
	require.Equal(t, 200, code)
	require.NoError(t, json.Unmarshal([]byte(body), &ev))
	require.NotEmpty(t, ev.Patterns)
	var pm *agent.PatternEvents
	for i := range ev.Patterns {
		if ev.Patterns[i].Pattern == "protocol-mismatch" {
			pm = &ev.Patterns[i]
		}
	}
	require.NotNil(t, pm, "events: %s", body)
	require.True(t, pm.Active)
	require.False(t, pm.FirstSeen.IsZero())
	require.Greater(t, pm.PointsLost, 0.0)
	sv.waitFor(t, "the finding logged with its pattern as a field", func() bool {
		return strings.Contains(sv.logs.String(), "pattern=protocol-mismatch")
	})

	// Repair: the original smb.conf. The fault goes away within one
	// interval, and the counters remember it.
	time.Sleep(30 * time.Millisecond)
	require.NoError(t, s.WriteConf(base))
	require.NoError(t, s.Signal(syscall.SIGHUP))
	n1 := len(sv.notify.Statuses())
	okIdx := sv.waitStatus(t, n1, "STATUS=ok after the repair", func(st string) bool { return strings.HasPrefix(st, "ok: ") })
	require.LessOrEqual(t, okIdx, n1+1, "the repair shows within one interval: %q", sv.notify.Statuses()[n1:])
	rep = sv.status(t)
	require.Equal(t, checks.OK, rep.Status, "findings: %+v", rep.Findings)
	m = sv.metrics(t)
	require.Equal(t, 0.0, metric(t, m, "smb_agent_status"))
	require.Equal(t, 0.0, metric(t, m, "smb_agent_check_status", "pattern", "protocol-mismatch"))
	require.GreaterOrEqual(t, metric(t, m, "smb_agent_pattern_rounds_total", "pattern", "protocol-mismatch"), 1.0)
	require.Equal(t, 1.0, metric(t, m, "smb_agent_dialect_accepted", "dialect", "SMB2_02", "view", "config"))
	code, body = sv.get(t, "/status/protocol-mismatch")
	require.Equal(t, 200, code, body)
	sv.waitFor(t, "the resolution logged", func() bool { return strings.Contains(sv.logs.String(), "finding resolved") })

	// SIGTERM: STOPPING=1 last, exit 0 within 5 s.
	begin = time.Now()
	require.NoError(t, sv.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-sv.done:
	case <-time.After(15 * time.Second):
		t.Fatal("agent serve did not exit within 15 s of SIGTERM")
	}
	took := time.Since(begin)
	require.Less(t, took, 5*time.Second, "graceful shutdown within 5 s")
	require.NoError(t, sv.err, "exit status after SIGTERM")
	time.Sleep(100 * time.Millisecond) // a late datagram would arrive by now
	msgs = sv.notify.Messages()
	require.Equal(t, "STOPPING=1", msgs[len(msgs)-1], "STOPPING=1 is the last message: %q", msgs)
	require.Equal(t, 1, sv.notify.Count("STOPPING=1"))
}

// TestServeSmbdStopped: smbd going away while the daemon runs is a
// connection-refused round, and its return clears it.
func TestServeSmbdStopped(t *testing.T) {
	cfg := harness.Config{
		Users:  []harness.User{{Name: probeUser, Password: probePass}},
		Shares: []harness.Share{{Name: "data"}},
	}
	s := harness.StartT(t, cfg)
	sv := startServe(t, s, "logs:\n  journal: false\n")
	require.Equal(t, checks.OK, sv.status(t).Status)

	n0 := len(sv.notify.Statuses())
	require.NoError(t, s.Stop())
	i := sv.waitStatus(t, n0, "STATUS=critical: connection-refused", func(st string) bool {
		return strings.HasPrefix(st, "critical: connection-refused")
	})
	require.LessOrEqual(t, i, n0+1, "%q", sv.notify.Statuses()[n0:])
	require.True(t, hasPattern(sv.status(t), "connection-refused"))
	require.Equal(t, 2.0, metric(t, sv.metrics(t), "smb_agent_check_status", "pattern", "connection-refused"))
	code, _ := sv.get(t, "/healthz")
	require.Equal(t, 200, code, "the daemon itself is healthy while smbd is down")

	n1 := len(sv.notify.Statuses())
	require.NoError(t, s.Restart())
	j := sv.waitStatus(t, n1, "STATUS=ok after smbd is back", func(st string) bool { return strings.HasPrefix(st, "ok: ") })
	require.LessOrEqual(t, j, n1+1, "%q", sv.notify.Statuses()[n1:])
	require.Equal(t, 0.0, metric(t, sv.metrics(t), "smb_agent_check_status", "pattern", "connection-refused"))
}

// TestServeBadInput: what serve refuses to start with exits 3 with one
// line, before any round or READY=1.
func TestServeBadInput(t *testing.T) {
	bin := requireAgent(t)
	// A port in use (by this test's listener).
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--listen", "0.0.0.0:9445"}, "not a loopback address"},
		{[]string{"--listen", "192.0.2.1:9445"}, "--listen-public"},
		{[]string{"--interval", "10ms"}, "serve.interval"},
		{[]string{"--client", "no-such-client"}, "no-such-client"},
		{[]string{"--listen", l.Addr().String()}, "address already in use"},
		{[]string{"--log-level", "loud"}, "--log-level"},
		{[]string{"extra-arg"}, "extra-arg"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), diagHang)
		cmd := exec.CommandContext(ctx, bin, append([]string{"serve", "--config", "/dev/null"}, tc.args...)...)
		cmd.Env = []string{"PATH=" + harness.ReleasePath("/usr/sbin:/usr/bin:/sbin:/bin"), "SMB_AGENT_LOGS_JOURNAL=false"}
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		_ = cmd.Run()
		cancel()
		require.Equal(t, 3, cmd.ProcessState.ExitCode(), "%v: %s", tc.args, errb.String())
		msg := strings.TrimSpace(errb.String())
		require.True(t, strings.HasPrefix(msg, "agent: "), "%v: %q", tc.args, msg)
		require.NotContains(t, msg, "\n", "one line: %q", msg)
		require.Contains(t, msg, tc.want, "%v", tc.args)
		require.Empty(t, out.String())
	}
}
