package agent

import (
	"context"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/agent/agenttest"
	"github.com/smb-agent/smb-agent/checks"
)

func count(msgs []string, pred func(string) bool) int {
	n := 0
	for _, m := range msgs {
		if pred(m) {
			n++
		}
	}
	return n
}

// TestSdNotifySequence drives the default notifier (go-systemd's SdNotify)
// against a real NOTIFY_SOCKET, with the watchdog taken from WATCHDOG_USEC
// as systemd sets it. A fault appears in STATUS= and disappears after the
// repair.
func TestSdNotifySequence(t *testing.T) {
	ns := agenttest.ListenNotify(t)
	t.Setenv("WATCHDOG_USEC", "100000") // WatchdogSec=100ms: ping every 50 ms
	t.Setenv("WATCHDOG_PID", "")

	f := &fakeRound{}
	f.set(func(n int64) (*checks.Report, error) {
		if n == 2 || n == 3 {
			return mismatchReport(), nil
		}
		return okReport(), nil
	})
	o := testOptions(f)
	o.Notify = nil         // the real sd_notify
	o.WatchdogInterval = 0 // from the environment
	o.Interval = 60 * time.Millisecond
	d, err := New(o)
	require.NoError(t, err)
	r := start(t, d)
	eventually(t, "four rounds and some watchdog pings", func() bool {
		return d.roundCount() >= 4 && ns.Count("WATCHDOG=1") >= 2
	})
	took := r.stop(t)
	require.Less(t, took, 5*time.Second)
	time.Sleep(100 * time.Millisecond) // nothing may follow STOPPING=1
	msgs := ns.Messages()

	require.Equal(t, 1, count(msgs, func(m string) bool { return m == "READY=1" }), "READY once: %q", msgs)
	require.Equal(t, "STOPPING=1", msgs[len(msgs)-1], "STOPPING last: %q", msgs)
	require.Equal(t, 1, count(msgs, func(m string) bool { return m == "STOPPING=1" }))
	ready := -1
	for i, m := range msgs {
		if m == "READY=1" {
			ready = i
		}
	}
	statuses := ns.Statuses()
	require.Greater(t, ready, 0)
	require.True(t, strings.HasPrefix(msgs[ready-1], "STATUS=ok: "), "READY follows the first round's STATUS: %q", msgs)
	// One STATUS per round; a round finishing as shutdown begins may lose
	// its STATUS to STOPPING=1, which is the right order.
	rounds := int(d.roundCount())
	require.True(t, len(statuses) == rounds || len(statuses) == rounds-1, "%d STATUS for %d rounds", len(statuses), rounds)
	require.GreaterOrEqual(t, len(statuses), 4)
	require.Equal(t, "ok: 127.0.0.1:445 serves pysmb", statuses[0])
	require.Equal(t, "critical: protocol-mismatch: server min SMB3_11 > client max SMB2_10 (+1 more)", statuses[1])
	require.Equal(t, statuses[1], statuses[2])
	require.Equal(t, "ok: 127.0.0.1:445 serves pysmb", statuses[3], "the repair shows in STATUS")
	require.GreaterOrEqual(t, count(msgs, func(m string) bool { return m == "WATCHDOG=1" }), 2)
}

// TestWatchdogStopsWhenSchedulerWedges: a round that ignores its deadline
// wedges the scheduler; the pings stop so that systemd restarts the agent,
// and /healthz says why.
func TestWatchdogStopsWhenSchedulerWedges(t *testing.T) {
	nt := &notes{}
	wedge := make(chan struct{})
	t.Cleanup(func() { close(wedge) })
	var calls int
	var mu sync.Mutex
	o := testOptions(nil)
	o.Round = func(ctx context.Context) (*checks.Report, error) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n == 1 {
			return okReport(), nil
		}
		<-wedge // ignores ctx: a bug, not a slow smbd
		return okReport(), nil
	}
	o.Notify = nt.notify
	o.Interval = 20 * time.Millisecond
	o.RoundTimeout = 20 * time.Millisecond
	o.WatchdogInterval = 40 * time.Millisecond
	d, err := New(o)
	require.NoError(t, err)
	d.shutdownTimeout = 200 * time.Millisecond
	r := start(t, d)

	pings := func() int { return count(nt.all(), func(m string) bool { return m == "WATCHDOG=1" }) }
	eventually(t, "the scheduler is reported stuck", func() bool {
		ok, why := d.health()
		return !ok && strings.Contains(why, "stuck") // not "not running" before Run starts
	})
	before := pings()
	time.Sleep(200 * time.Millisecond) // ten ping periods
	require.Equal(t, before, pings(), "no watchdog pings while the scheduler is stuck")
	code, body := get(t, r.base+"/healthz")
	require.Equal(t, 503, code)
	require.Contains(t, body, "the scheduler is stuck")
}

// TestShutdownWithHungRound: Run returns within 5 s of cancellation even if
// the round never returns, using the real shutdown budget.
func TestShutdownWithHungRound(t *testing.T) {
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	started := make(chan struct{})
	var once sync.Once
	nt := &notes{}
	o := testOptions(nil)
	o.Round = func(context.Context) (*checks.Report, error) {
		once.Do(func() { close(started) })
		<-hang
		return okReport(), nil
	}
	o.Notify = nt.notify
	d, err := New(o)
	require.NoError(t, err)
	r := start(t, d)
	<-started
	// A client holding a keep-alive connection must not delay shutdown.
	code, _ := get(t, r.base+"/healthz")
	require.Equal(t, 200, code)
	took := r.stop(t)
	require.Less(t, took, 5*time.Second, "graceful shutdown within 5 s")
	require.GreaterOrEqual(t, took, shutdownTimeout-500*time.Millisecond, "it did wait for the round first")
	require.Equal(t, []string{"STOPPING=1"}, nt.all(), "no READY: the first round never finished")
	_, err = net.DialTimeout("tcp", d.Addr().String(), time.Second)
	require.Error(t, err, "the port is closed after Run returns")
}

// TestShutdownCancelsTheRound: a round that honours ctx ends at once.
func TestShutdownCancelsTheRound(t *testing.T) {
	f := &fakeRound{gate: make(chan struct{})}
	nt := &notes{}
	o := testOptions(f)
	o.Notify = nt.notify
	d, err := New(o)
	require.NoError(t, err)
	r := start(t, d)
	eventually(t, "round starts", func() bool { return f.calls.Load() == 1 })
	took := r.stop(t)
	require.Less(t, took, time.Second)
	require.Zero(t, d.roundCount(), "a round cancelled by shutdown is not recorded")
	require.Equal(t, []string{"STOPPING=1"}, nt.all())
}

func TestStatusLine(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"critical: protocol-mismatch: server min SMB3_11 > client max SMB2_10", "critical: protocol-mismatch: server min SMB3_11 > client max SMB2_10"},
		{"warning: x: line one\nREADY=1\nMAINPID=1", "warning: x: line one READY=1 MAINPID=1"},
		{"a\r\n\tb\x00c", "a b c"},
		{strings.Repeat("é", 150), strings.Repeat("é", 98) + "..."},
	} {
		got := statusLine(tc.in)
		require.Equal(t, tc.want, got)
		require.NotContains(t, got, "\n")
		require.LessOrEqual(t, len(got), maxStatusLen)
	}
}

func TestNotifyFailureLoggedOnce(t *testing.T) {
	logs := &syncBuffer{}
	n := &notifier{fn: func(string) error { return os.ErrPermission }, log: NewLogger(logs, nil)}
	n.send("STATUS=a")
	n.send("STATUS=b")
	n.stop()
	require.Equal(t, 1, strings.Count(logs.String(), "sd_notify failed"))
}
