package agent

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/smb-agent/smb-agent/checks"
	"github.com/smb-agent/smb-agent/fixes"
)

// benchDaemon is a daemon after 100 rounds in which every catalog pattern
// and one custom pattern came and went, with scoring on, a probe histogram of 10 steps and an audit log of
// 100 transactions: a /metrics as large as a busy host's.
func benchDaemon(b testing.TB) *Daemon {
	b.Helper()
	patterns := append(append([]string(nil), DefaultPatterns()...), "custom-pattern")
	if len(patterns) < 15 {
		b.Fatalf("%d patterns, want at least 15", len(patterns))
	}
	audit := filepath.Join(b.TempDir(), "audit.jsonl")
	f, err := os.OpenFile(audit, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		fmt.Fprintf(f, `{"time":"2026-01-02T03:04:%02dZ","op":"apply","user":"root","uid":0,"fixes":["protocol-mismatch"],"result":%q}`+"\n",
			i%60, []string{fixes.ResultApplied, fixes.ResultRefused, fixes.ResultRolledBack}[i%3])
	}
	f.Close()
	o := testOptions(&fakeRound{})
	o.Interval = 30 * time.Second
	o.PointsPerCheck, o.CheckInterval = 4.2, time.Minute
	o.Patterns = patterns
	o.AuditLog = audit
	d, err := New(o)
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	cfg := d.cfg.Load()
	steps := []string{"tcp", "negotiate", "session", "tree", "list", "srvsvc", "smb1", "anonymous", "ntlmv1", "probe"}
	for r := 0; r < 100; r++ {
		rep := okReport()
		rep.Timings = nil
		for i, s := range steps {
			rep.Timings = append(rep.Timings, checks.Timing{Step: s, Seconds: float64(i+r%7) / 1000, OK: true})
		}
		for i, p := range patterns {
			if (r+i)%3 == 0 {
				continue
			}
			sev := checks.Warning
			if (r+i)%5 == 0 && r%10 != 0 { // every tenth round passes
				sev = checks.Critical
			}
			rep.Findings = append(rep.Findings, checks.Finding{Pattern: p, Cause: "cause", Client: "pysmb", Severity: sev, Summary: "summary of " + p})
		}
		rep.Finalize()
		res := roundAt(t0, time.Duration(r)*cfg.Interval, rep)
		s, _ := d.tracker.record(res, *cfg)
		d.readAudit(s)
		d.metrics.observeRound(res)
		d.snap.Store(s)
	}
	return d
}

// BenchmarkMetricsScrape is one GET /metrics with 15 patterns and 100
// rounds of history. "uncached" is a Prometheus scrape every 15 s or more
// (the 1 s cache has expired: every collector runs); "cached" is a second
// scraper within the same second.
func BenchmarkMetricsScrape(b *testing.B) {
	for _, mode := range []string{"uncached", "cached"} {
		b.Run(mode, func(b *testing.B) {
			d := benchDaemon(b)
			if mode == "uncached" {
				d.metrics.gatherer.ttl = 0
			}
			h := d.Handler()
			req := httptest.NewRequest("GET", "/metrics", nil)
			size := 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatalf("status %d", rec.Code)
				}
				size = rec.Body.Len()
			}
			b.ReportMetric(float64(size), "bytes/scrape")
		})
	}
}
