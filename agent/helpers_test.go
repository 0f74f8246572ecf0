package agent

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks"
)

// fakeRound stands in for the diagnosis. It counts calls and the number of
// rounds running at once, and returns what next says for call n (1-based).
type fakeRound struct {
	calls       atomic.Int64
	inFlight    atomic.Int64
	maxInFlight atomic.Int64
	// gate, when set, makes every call wait for a value (or its ctx).
	gate chan struct{}
	mu   sync.Mutex
	next func(n int64) (*checks.Report, error)
}

func (f *fakeRound) round(ctx context.Context) (*checks.Report, error) {
	n := f.calls.Add(1)
	cur := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		m := f.maxInFlight.Load()
		if cur <= m || f.maxInFlight.CompareAndSwap(m, cur) {
			break
		}
	}
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	next := f.next
	f.mu.Unlock()
	if next == nil {
		return okReport(), nil
	}
	return next(n)
}

func (f *fakeRound) set(next func(n int64) (*checks.Report, error)) {
	f.mu.Lock()
	f.next = next
	f.mu.Unlock()
}

func boolp(b bool) *bool { return &b }

// okReport is a healthy report with dialect views and probe timings.
func okReport() *checks.Report {
	r := &checks.Report{
		Target:       "127.0.0.1:445",
		SambaVersion: "4.17.12",
		SmbConf:      "/etc/samba/smb.conf",
		Generated:    time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		DurationMS:   12,
		Clients:      []string{"pysmb"},
		Dialects: map[string]checks.DialectView{
			"NT1":     {Config: false, Live: boolp(false), Clients: map[string]bool{"pysmb": true}},
			"SMB2_02": {Config: true, Live: boolp(true), Clients: map[string]bool{"pysmb": true}},
			"SMB3_11": {Config: true},
		},
		Timings: []checks.Timing{{Step: "tcp", Seconds: 0.002, OK: true}, {Step: "negotiate", Seconds: 0.03, OK: true}},
	}
	r.Finalize()
	return r
}

// mismatchReport is the seed's failure: the server's minimum is above
// what pysmb offers.
func mismatchReport() *checks.Report {
	r := okReport()
	r.Dialects["SMB2_02"] = checks.DialectView{Config: false, Live: boolp(false), Clients: map[string]bool{"pysmb": true}}
	r.Findings = []checks.Finding{
		{Pattern: "smb1-enabled", Severity: checks.Warning, Summary: "SMB1 is enabled"},
		{Pattern: "protocol-mismatch", Cause: "min-protocol-too-high", Client: "pysmb", Severity: checks.Critical,
			Summary: "server min SMB3_11 > client max SMB2_10"},
	}
	r.Finalize()
	return r
}

// notes records sd_notify messages.
type notes struct {
	mu  sync.Mutex
	msg []string
}

func (n *notes) notify(s string) error {
	n.mu.Lock()
	n.msg = append(n.msg, s)
	n.mu.Unlock()
	return nil
}

func (n *notes) all() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.msg...)
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testOptions are fast options around a fake round; callers adjust them.
func testOptions(f *fakeRound) Options {
	if f == nil {
		f = &fakeRound{}
	}
	return Options{
		Round:            f.round,
		Interval:         time.Hour, // only the first round unless a test says otherwise
		Listen:           "127.0.0.1:0",
		Logger:           discardLogger(),
		Notify:           func(string) error { return nil },
		WatchdogInterval: -1,
		fastIntervals:    true,
	}
}

// running is a daemon whose Run is in progress.
type running struct {
	d      *Daemon
	cancel context.CancelFunc
	done   chan error
	base   string
}

// start runs d until the test ends (or stop is called).
func start(t *testing.T, d *Daemon) *running {
	t.Helper()
	require.NoError(t, d.Listen())
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{d: d, cancel: cancel, done: make(chan error, 1), base: "http://" + d.Addr().String()}
	go func() { r.done <- d.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels Run and returns how long it took to return.
func (r *running) stop(t *testing.T) time.Duration {
	t.Helper()
	begin := time.Now()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok {
			require.NoError(t, err)
			close(r.done)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10 s of cancellation")
	}
	return time.Since(begin)
}

// eventually waits up to 5 s for cond (the race detector on 2 shared cores
// makes millisecond timings unreliable, so waits are generous and tests
// assert what happened, not exact times).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}
