package agent

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks"
)

func TestNextDelayBounds(t *testing.T) {
	for _, tc := range []struct {
		name     string
		interval time.Duration
		jitter   float64
		r        float64
		want     time.Duration
	}{
		{"no jitter", 30 * time.Second, 0, 0.9, 30 * time.Second},
		{"lowest", 30 * time.Second, 0.1, 0, 27 * time.Second},
		{"middle", 30 * time.Second, 0.1, 0.5, 30 * time.Second},
		{"near highest", 30 * time.Second, 0.1, 0.999999, 33 * time.Second},
		{"half jitter low", 10 * time.Second, 0.5, 0, 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.InDelta(t, float64(tc.want), float64(nextDelay(tc.interval, tc.jitter, tc.r)), float64(time.Millisecond))
		})
	}
	// With the real generator every delay stays inside the band and the
	// band is actually used (not a constant).
	lo, hi := time.Duration(1<<62), time.Duration(0)
	for range 10000 {
		d := nextDelay(30*time.Second, 0.1, rand.Float64())
		require.GreaterOrEqual(t, d, 27*time.Second)
		require.Less(t, d, 33*time.Second)
		lo, hi = min(lo, d), max(hi, d)
	}
	require.Less(t, lo, 27500*time.Millisecond)
	require.Greater(t, hi, 32500*time.Millisecond)
}

func TestRoundsRunOnTheInterval(t *testing.T) {
	f := &fakeRound{}
	o := testOptions(f)
	o.Interval = 40 * time.Millisecond
	o.Jitter = 0.25
	d, err := New(o)
	require.NoError(t, err)
	r := start(t, d)
	time.Sleep(600 * time.Millisecond)
	r.stop(t)
	// 600 ms / (40 ms ± 25%) ≈ 15 rounds; the race detector on shared
	// cores only ever makes it fewer.
	n := f.calls.Load()
	require.GreaterOrEqual(t, n, int64(5), "rounds must keep coming on the interval")
	require.LessOrEqual(t, n, int64(21), "never faster than interval × (1 - jitter)")
	require.Equal(t, int64(1), f.maxInFlight.Load())
}

func TestTriggersCoalesceAndNeverOverlap(t *testing.T) {
	f := &fakeRound{gate: make(chan struct{})}
	d, err := New(testOptions(f)) // interval 1 h: only the first round and triggers
	require.NoError(t, err)
	start(t, d)
	eventually(t, "the first round starts", func() bool { return f.calls.Load() == 1 })

	// 100 concurrent triggers while the first round is stuck.
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.Trigger(false)
		}()
	}
	wg.Wait()
	require.Equal(t, int64(1), f.calls.Load(), "Trigger never runs a round itself")

	f.gate <- struct{}{}               // finish round 1
	f.gate <- struct{}{}               // round 2, the one queued by the triggers
	time.Sleep(100 * time.Millisecond) // room for a wrong third round
	require.Equal(t, int64(2), f.calls.Load(), "100 triggers during a round queue exactly one more")
	require.Equal(t, int64(1), f.maxInFlight.Load(), "rounds never overlap")

	// Triggers between rounds run one round each.
	d.Trigger(false)
	f.gate <- struct{}{}
	eventually(t, "the triggered round is recorded", func() bool { return d.roundCount() == 3 })
	require.Equal(t, int64(3), f.calls.Load())
	require.Equal(t, int64(1), f.maxInFlight.Load())
}

func TestSlowRoundBlocksNothing(t *testing.T) {
	f := &fakeRound{gate: make(chan struct{})}
	d, err := New(testOptions(f))
	require.NoError(t, err)
	r := start(t, d)
	eventually(t, "the first round starts", func() bool { return f.calls.Load() == 1 })

	client := &http.Client{Timeout: 2 * time.Second}
	for _, path := range []string{"/healthz", "/readyz", "/status", "/events", "/metrics"} {
		begin := time.Now()
		resp, err := client.Get(r.base + path)
		require.NoError(t, err, path)
		resp.Body.Close()
		require.Less(t, time.Since(begin), time.Second, "%s must answer while a round runs", path)
	}
	begin := time.Now()
	for range 1000 {
		d.Trigger(true)
	}
	require.Less(t, time.Since(begin), time.Second, "Trigger must not wait for the round")
	close(f.gate)
}

func TestRoundDeadlineAndErrorsAreRecordedNotFatal(t *testing.T) {
	f := &fakeRound{}
	f.set(func(n int64) (*checks.Report, error) {
		switch n {
		case 1:
			return nil, errors.New("gather facts: testparm: exit status 1")
		case 2:
			panic("nil map in some check")
		case 3:
			rep := mismatchReport()
			return rep, errors.New("read smbd log: permission denied")
		}
		return okReport(), nil
	})
	o := testOptions(f)
	nt := &notes{}
	o.Notify = nt.notify
	d, err := New(o)
	require.NoError(t, err)
	start(t, d)

	eventually(t, "round 1", func() bool { return d.roundCount() == 1 })
	rep := d.Latest()
	require.Equal(t, checks.Unknown, rep.Status)
	require.Equal(t, []string{"gather facts: testparm: exit status 1"}, rep.Errors)
	require.Equal(t, checks.Schema, rep.Schema)
	require.Equal(t, uint64(1), d.Events().RoundErrors)

	d.Trigger(false)
	eventually(t, "round 2", func() bool { return d.roundCount() == 2 })
	rep = d.Latest()
	require.Equal(t, checks.Unknown, rep.Status)
	require.Len(t, rep.Errors, 1)
	require.Contains(t, rep.Errors[0], "check round panicked: nil map in some check")
	require.NotContains(t, rep.Errors[0], "goroutine", "the stack goes to the log, not to /status")

	d.Trigger(false)
	eventually(t, "round 3", func() bool { return d.roundCount() == 3 })
	rep = d.Latest()
	require.Equal(t, checks.Critical, rep.Status, "a report with an error keeps its findings")
	require.Equal(t, []string{"read smbd log: permission denied"}, rep.Errors)
	require.Equal(t, uint64(2), d.Events().RoundErrors)

	msgs := nt.all()
	require.Contains(t, msgs, "STATUS=unknown: gather facts: testparm: exit status 1")
	require.Contains(t, msgs, "STATUS=critical: protocol-mismatch: server min SMB3_11 > client max SMB2_10 (+1 more)")
}

func TestRoundTimeout(t *testing.T) {
	f := &fakeRound{gate: make(chan struct{})} // never opened: rounds wait for their ctx
	o := testOptions(f)
	o.RoundTimeout = 50 * time.Millisecond
	d, err := New(o)
	require.NoError(t, err)
	start(t, d)
	eventually(t, "the timed-out round is recorded", func() bool { return d.roundCount() == 1 })
	rep := d.Latest()
	require.Equal(t, checks.Unknown, rep.Status)
	require.Len(t, rep.Errors, 1)
	require.Contains(t, rep.Errors[0], "check round did not finish within 50ms")
	ok, _ := d.health()
	require.True(t, ok, "a round that honours its deadline leaves the scheduler healthy")
}

func TestReloadAppliesNewOptions(t *testing.T) {
	f1, f2 := &fakeRound{}, &fakeRound{}
	f2.set(func(int64) (*checks.Report, error) { return mismatchReport(), nil })
	o := testOptions(f1)
	nt := &notes{}
	o.Notify = nt.notify
	reloads := 0
	o.Reload = func() (Options, error) {
		reloads++
		if reloads == 1 {
			return Options{}, errors.New("agent.yaml:3: unknown key")
		}
		n := testOptions(f2)
		n.Interval = 2 * time.Hour
		n.Listen = "127.0.0.1:1" // needs a restart: logged, not applied
		n.PointsPerCheck, n.CheckInterval = 4.2, time.Minute
		return n, nil
	}
	logs := &syncBuffer{}
	o.Logger = NewLogger(logs, nil)
	d, err := New(o)
	require.NoError(t, err)
	start(t, d)
	eventually(t, "first round", func() bool { return d.roundCount() == 1 })

	d.Trigger(true) // bad config: kept the old one, still ran a round
	eventually(t, "second round", func() bool { return d.roundCount() == 2 })
	require.Equal(t, int64(2), f1.calls.Load())
	require.Contains(t, logs.String(), "reload failed; keeping the current configuration")

	d.Trigger(true)
	eventually(t, "third round", func() bool { return d.roundCount() == 3 })
	require.Equal(t, int64(1), f2.calls.Load(), "the reloaded round function runs")
	require.Equal(t, checks.Critical, d.Latest().Status)
	cfg := d.cfg.Load()
	require.Equal(t, 2*time.Hour, cfg.Interval)
	require.Equal(t, "127.0.0.1:0", cfg.Listen)
	require.True(t, cfg.scoringEnabled())
	require.Contains(t, logs.String(), "listen address change takes effect after a restart")

	// RELOADING=1 ... READY=1 around each reload once ready.
	var reloading, ready int
	for _, m := range nt.all() {
		if strings.HasPrefix(m, "RELOADING=1\nMONOTONIC_USEC=") {
			reloading++
		}
		if m == "READY=1" {
			ready++
		}
	}
	require.Equal(t, 2, reloading)
	require.Equal(t, 3, ready)
}

func TestRunFailsFastWhenPortTaken(t *testing.T) {
	f := &fakeRound{}
	d1, err := New(testOptions(f))
	require.NoError(t, err)
	require.NoError(t, d1.Listen())
	defer d1.ln.Close()

	o := testOptions(f)
	o.Listen = d1.Addr().String()
	d2, err := New(o)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = d2.Run(ctx)
	require.ErrorContains(t, err, "listen on "+o.Listen)
	require.ErrorContains(t, err, "address already in use")
	require.ErrorContains(t, err, "--listen")
	require.Zero(t, f.calls.Load(), "no round runs when HTTP cannot start")
}

func TestRunTwiceIsAnError(t *testing.T) {
	d, err := New(testOptions(&fakeRound{}))
	require.NoError(t, err)
	start(t, d)
	eventually(t, "the first Run is running", func() bool { return d.roundCount() == 1 })
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // should the check be broken, the second Run must still end
	require.ErrorContains(t, d.Run(ctx), "Run called twice")
}
