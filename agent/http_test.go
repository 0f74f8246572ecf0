package agent

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/agent/agenttest"
	"github.com/smb-agent/smb-agent/checks"
)

// serve runs the handler in-process (no scheduler) over the given rounds.
func handlerAfter(t *testing.T, o Options, reps ...*checks.Report) (*Daemon, http.Handler) {
	t.Helper()
	d, err := New(o)
	require.NoError(t, err)
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	cfg := d.cfg.Load()
	for i, rep := range reps {
		res := roundAt(t0, time.Duration(i)*cfg.Interval, rep)
		s, _ := d.tracker.record(res, *cfg)
		d.readAudit(s)
		d.metrics.observeRound(res) // as runRound: histogram, then snapshot
		d.snap.Store(s)
	}
	return d, d.Handler()
}

func do(h http.Handler, method, target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec
}

func TestEndpointsBeforeTheFirstRound(t *testing.T) {
	f := &fakeRound{}
	_, h := handlerAfter(t, testOptions(f))
	for _, tc := range []struct {
		path string
		code int
		body string
	}{
		{"/readyz", 503, "not ready"},
		{"/status", 503, `"error":"no check round has finished yet`},
		{"/status/protocol-mismatch", 503, "no check round"},
		{"/events", 200, `"rounds":0`},
		{"/metrics", 200, "smb_agent_up 0"},
		// No scheduler runs in this test: healthz says so.
		{"/healthz", 503, "scheduler is not running"},
	} {
		rec := do(h, "GET", tc.path)
		require.Equal(t, tc.code, rec.Code, tc.path)
		require.Contains(t, rec.Body.String(), tc.body, tc.path)
	}
	require.NotContains(t, do(h, "GET", "/metrics").Body.String(), "smb_agent_status ",
		"no overall status before anything is known: 0 would claim ok")
	require.Zero(t, f.calls.Load())
}

func TestStatusIsTheReportJSON(t *testing.T) {
	rep := mismatchReport()
	_, h := handlerAfter(t, testOptions(&fakeRound{}), okReport(), rep)
	rec := do(h, "GET", "/status")
	require.Equal(t, 200, rec.Code)
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	require.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	want, err := json.Marshal(rep)
	require.NoError(t, err)
	require.Equal(t, string(want)+"\n", rec.Body.String(), "/status is exactly the diagnose --json report")

	var back checks.Report
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &back))
	require.Equal(t, checks.Critical, back.Status)
	require.Equal(t, checks.Schema, back.Schema)

	head := do(h, "HEAD", "/status")
	require.Equal(t, 200, head.Code)
}

func TestStatusPerPattern(t *testing.T) {
	_, h := handlerAfter(t, testOptions(&fakeRound{}), mismatchReport(), mismatchReport())
	for _, tc := range []struct {
		target   string
		code     int
		status   string
		findings int
	}{
		{"/status/protocol-mismatch", 503, "critical", 1},
		{"/status?pattern=protocol-mismatch", 503, "critical", 1},
		{"/status/smb1-enabled", 429, "warning", 1},
		{"/status/connection-refused", 200, "ok", 0},
		{"/status?pattern=login-failed", 200, "ok", 0},
	} {
		t.Run(tc.target, func(t *testing.T) {
			rec := do(h, "GET", tc.target)
			require.Equal(t, tc.code, rec.Code)
			var v struct {
				Pattern  string           `json:"pattern"`
				Status   string           `json:"status"`
				Findings []checks.Finding `json:"findings"`
				Events   *PatternEvents   `json:"events"`
			}
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &v))
			require.Equal(t, tc.status, v.Status)
			require.Len(t, v.Findings, tc.findings)
			if tc.findings > 0 {
				require.Equal(t, uint64(2), v.Events.Rounds)
			}
		})
	}
	rec := do(h, "GET", "/status/protocl-mismatch")
	require.Equal(t, 404, rec.Code, "a typo must not read as ok")
	require.Contains(t, rec.Body.String(), `unknown pattern \"protocl-mismatch\"`)
}

func TestStatusPerPatternAfterAFailedRound(t *testing.T) {
	d, err := New(testOptions(&fakeRound{}))
	require.NoError(t, err)
	t0 := time.Now()
	s, _ := d.tracker.record(roundResult{report: failedReport(fmt.Errorf("x"), t0, t0), failed: true, err: fmt.Errorf("x"), start: t0, end: t0}, *d.cfg.Load())
	d.snap.Store(s)
	rec := do(d.Handler(), "GET", "/status/protocol-mismatch")
	require.Equal(t, 503, rec.Code)
	require.Contains(t, rec.Body.String(), `"status":"unknown"`)
}

func TestEventsEndpoint(t *testing.T) {
	o := testOptions(&fakeRound{})
	o.Interval = 30 * time.Second
	o.PointsPerCheck, o.CheckInterval = 4.2, 30*time.Second
	_, h := handlerAfter(t, o, mismatchReport(), mismatchReport(), okReport())
	rec := do(h, "GET", "/events")
	require.Equal(t, 200, rec.Code)
	var ev Events
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &ev))
	require.Equal(t, uint64(3), ev.Rounds)
	require.NotNil(t, ev.PointsLostEstimate)
	// Two critical rounds 30 s apart, 4.2 points per 30 s check.
	require.InDelta(t, 8.4, *ev.PointsLostEstimate, 1e-9)
	require.InDelta(t, 4.2, ev.PointsPerCheck, 1e-9)
	require.InDelta(t, 30, ev.CheckIntervalSeconds, 1e-9)
	require.Len(t, ev.Patterns, 2)
	require.Equal(t, uint64(2), ev.Patterns[0].Rounds)
	require.False(t, ev.Patterns[0].Active)
}

func TestOnlyGetAndHead(t *testing.T) {
	_, h := handlerAfter(t, testOptions(&fakeRound{}), okReport())
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH", "OPTIONS"} {
		for _, p := range []string{"/status", "/metrics", "/healthz", "/events"} {
			rec := do(h, m, p)
			require.Equal(t, 405, rec.Code, "%s %s", m, p)
			require.Equal(t, "GET, HEAD", rec.Header().Get("Allow"))
		}
	}
	require.Equal(t, 404, do(h, "GET", "/nope").Code)
	require.Equal(t, 200, do(h, "GET", "/").Code)
}

// scrape parses the handler's /metrics.
func scrape(t *testing.T, h http.Handler) agenttest.Metrics {
	t.Helper()
	rec := do(h, "GET", "/metrics")
	require.Equal(t, 200, rec.Code)
	m, err := agenttest.ParseMetrics(rec.Body)
	require.NoError(t, err)
	return m
}

// value returns the value of the series name{labels}, failing when absent.
func value(t *testing.T, m agenttest.Metrics, name string, labels ...string) float64 {
	t.Helper()
	v, ok := m.Value(name, labels...)
	require.True(t, ok, "series %s%v not exported", name, labels)
	return v
}

func TestMetrics(t *testing.T) {
	o := testOptions(&fakeRound{})
	o.Interval = 30 * time.Second
	o.PointsPerCheck, o.CheckInterval = 4.2, time.Minute
	o.Version = "1.2.3"
	_, h := handlerAfter(t, o, okReport(), mismatchReport(), mismatchReport())
	fams := scrape(t, h)

	require.Equal(t, 2.0, value(t, fams, "smb_agent_status"))
	require.Equal(t, 1.0, value(t, fams, "smb_agent_up"))
	require.Equal(t, 2.0, value(t, fams, "smb_agent_check_status", "pattern", "protocol-mismatch"))
	require.Equal(t, 1.0, value(t, fams, "smb_agent_check_status", "pattern", "smb1-enabled"))
	for _, p := range DefaultPatterns() {
		_, ok := fams.Value("smb_agent_check_status", "pattern", p)
		require.True(t, ok, "known pattern %s exported even when absent", p)
		_, ok = fams.Value("smb_agent_pattern_rounds_total", "pattern", p)
		require.True(t, ok, "rounds counter for %s", p)
	}
	require.Equal(t, 0.0, value(t, fams, "smb_agent_check_status", "pattern", "connection-refused"))
	require.Equal(t, 2.0, value(t, fams, "smb_agent_pattern_rounds_total", "pattern", "protocol-mismatch"))
	require.Equal(t, 0.0, value(t, fams, "smb_agent_pattern_rounds_total", "pattern", "timeout"))

	require.Equal(t, 0.0, value(t, fams, "smb_agent_dialect_accepted", "dialect", "SMB2_02", "view", "config"))
	require.Equal(t, 0.0, value(t, fams, "smb_agent_dialect_accepted", "dialect", "SMB2_02", "view", "live"))
	require.Equal(t, 1.0, value(t, fams, "smb_agent_dialect_accepted", "dialect", "SMB3_11", "view", "config"))
	_, ok := fams.Value("smb_agent_dialect_accepted", "dialect", "SMB3_11", "view", "live")
	require.False(t, ok, "a dialect that was not probed has no live series")

	require.Equal(t, 3.0, value(t, fams, "smb_agent_probe_duration_seconds", "step", "tcp"), "one observation per round")
	require.Equal(t, "HISTOGRAM", fams["smb_agent_probe_duration_seconds"].GetType().String())
	require.Equal(t, 3.0, value(t, fams, "smb_agent_rounds_total"))
	require.Equal(t, 0.0, value(t, fams, "smb_agent_round_errors_total"))
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	require.InDelta(t, float64(t0.Add(60*time.Second+10*time.Millisecond).Unix()), value(t, fams, "smb_agent_last_round_timestamp_seconds"), 1)
	require.InDelta(t, 0.01, value(t, fams, "smb_agent_last_round_duration_seconds"), 1e-6)
	// Two critical rounds, 30 s apart, 4.2 points per 60 s check.
	require.InDelta(t, 4.2, value(t, fams, "smb_agent_estimated_points_lost_total", "pattern", "protocol-mismatch"), 1e-9)
	require.Equal(t, 0.0, value(t, fams, "smb_agent_estimated_points_lost_total", "pattern", "timeout"))
	require.Equal(t, 2.0, value(t, fams, "smb_agent_pattern_consecutive_rounds", "pattern", "protocol-mismatch"))
	require.Equal(t, 0.0, value(t, fams, "smb_agent_pattern_consecutive_rounds", "pattern", "timeout"))
	// The first round (ok) was the last without a critical finding.
	require.InDelta(t, float64(t0.Unix()), value(t, fams, "smb_agent_last_success_timestamp_seconds"), 1)
	require.Equal(t, 30.0, value(t, fams, "smb_agent_round_interval_seconds"))
	_, ok = fams.Value("smb_agent_fix_transactions_total", "result", "applied")
	require.False(t, ok, "no audit log configured: no fix series")
	require.Equal(t, 1.0, value(t, fams, "smb_agent_build_info", "version", "1.2.3"))
	// Go and process collectors.
	_, ok = fams.Value("go_goroutines")
	require.True(t, ok)
	_, ok = fams.Value("process_resident_memory_bytes")
	require.True(t, ok)
}

func TestMetricsWithoutScoringHasNoPointsSeries(t *testing.T) {
	_, h := handlerAfter(t, testOptions(&fakeRound{}), mismatchReport())
	fams := scrape(t, h)
	_, ok := fams.Value("smb_agent_estimated_points_lost_total", "pattern", "protocol-mismatch")
	require.False(t, ok)
	_, ok = fams.Value("smb_agent_last_success_timestamp_seconds")
	require.False(t, ok, "no round without a critical finding yet")
}

// TestHandlersNeverRunRounds hammers every endpoint concurrently over real
// HTTP while the scheduler idles: the round count must not move.
func TestHandlersNeverRunRounds(t *testing.T) {
	f := &fakeRound{}
	d, err := New(testOptions(f))
	require.NoError(t, err)
	r := start(t, d)
	eventually(t, "first round", func() bool { return d.roundCount() == 1 })

	paths := []string{"/healthz", "/readyz", "/status", "/status/protocol-mismatch", "/status?pattern=timeout", "/events", "/metrics", "/"}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				p := paths[(w+i)%len(paths)]
				resp, err := client.Get(r.base + p)
				if err != nil {
					errs <- err
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs <- fmt.Errorf("%s: %d", p, resp.StatusCode)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, int64(1), f.calls.Load(), "400 requests, still one round")
}

// TestBindsOnlyWhereTold: a daemon told 127.0.0.1 is not reachable on
// another loopback address of the same host (127.0.0.2 is routed to lo
// without any setup, so the test talks to nothing outside this host).
func TestBindsOnlyWhereTold(t *testing.T) {
	d, err := New(testOptions(&fakeRound{}))
	require.NoError(t, err)
	r := start(t, d)
	addr := d.Addr().(*net.TCPAddr)
	require.Equal(t, "127.0.0.1", addr.IP.String())
	code, _ := get(t, r.base+"/healthz")
	require.Equal(t, 200, code)
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.2:%d", addr.Port), time.Second)
	if err == nil {
		conn.Close()
	}
	require.Error(t, err, "nothing may answer on 127.0.0.2:%d", addr.Port)
}

func TestHealthz(t *testing.T) {
	clock := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }

	f := &fakeRound{gate: make(chan struct{})}
	o := testOptions(f)
	o.Interval = 10 * time.Second
	o.RoundTimeout = 10 * time.Second
	o.Now = now
	d, err := New(o)
	require.NoError(t, err)
	r := start(t, d)
	eventually(t, "first round starts", func() bool { return f.calls.Load() == 1 })

	code, body := get(t, r.base+"/healthz")
	require.Equal(t, 200, code, body)
	require.Equal(t, "ok\n", body)

	// The round hangs past 3 × interval by the daemon's clock.
	advance(31 * time.Second)
	code, body = get(t, r.base+"/healthz")
	require.Equal(t, 503, code)
	require.Contains(t, body, "last check round started 31s ago, more than 30s")
	close(f.gate)
}

// TestMetricsCacheFollowsRounds: scrapes within the cache's lifetime share
// one gathering, but a new round shows at once.
func TestMetricsCacheFollowsRounds(t *testing.T) {
	d, h := handlerAfter(t, testOptions(&fakeRound{}), okReport())
	require.Equal(t, 0.0, value(t, scrape(t, h), "smb_agent_status"))
	first, err := d.metrics.gatherer.Gather()
	require.NoError(t, err)
	again, err := d.metrics.gatherer.Gather()
	require.NoError(t, err)
	require.Same(t, &first[0], &again[0], "a scrape within the TTL reuses the gathering")

	cfg := d.cfg.Load()
	res := roundAt(time.Now(), 0, mismatchReport())
	s, _ := d.tracker.record(res, *cfg)
	d.metrics.observeRound(res)
	d.snap.Store(s)
	m := scrape(t, h)
	require.Equal(t, 2.0, value(t, m, "smb_agent_status"), "a new round invalidates the cache")
	require.Equal(t, 2.0, value(t, m, "smb_agent_probe_duration_seconds", "step", "tcp"))
}
