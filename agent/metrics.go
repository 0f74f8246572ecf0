package agent

import (
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
)

// metrics is the daemon's private Prometheus registry (never the global
// default one, so that importing packages cannot add series behind our
// back and tests can build many daemons). Everything but the probe
// histogram is read from the latest snapshot at scrape time, so a scrape
// sees one round consistently and costs no probe.
type metrics struct {
	reg   *prometheus.Registry
	probe *prometheus.HistogramVec
	// gatherer is what /metrics serves: reg behind a short cache.
	gatherer *cachedGatherer
}

// metricsCacheTTL bounds how old the Go runtime and process series of a
// scrape may be. Gathering them (runtime/metrics, /proc/self) is most of a
// scrape's cost: without the cache a scrape loop costs the agent far more
// than its check rounds, and a few scrapers can take a core.
const metricsCacheTTL = time.Second

// cachedGatherer serves one gathering to every scrape within ttl, and
// gathers once for concurrent scrapes (they wait on mu). A new round (a new
// snapshot, by key) invalidates it at once, so the agent's own series are
// never stale: a scrape after a STATUS= change shows that round.
type cachedGatherer struct {
	g   prometheus.Gatherer
	ttl time.Duration
	key func() any

	mu  sync.Mutex
	at  time.Time
	k   any
	mfs []*dto.MetricFamily
	err error
}

func (c *cachedGatherer) Gather() ([]*dto.MetricFamily, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now, k := time.Now(), c.key()
	if c.mfs != nil && k == c.k && now.Sub(c.at) < c.ttl && !now.Before(c.at) {
		// The families are shared read-only: promhttp only encodes them.
		return c.mfs, c.err
	}
	c.mfs, c.err = c.g.Gather()
	c.at, c.k = now, k
	return c.mfs, c.err
}

var (
	descStatus = prometheus.NewDesc("smb_agent_status",
		"Overall status of the latest check round: 0 ok, 1 warning, 2 critical, 3 unknown.", nil, nil)
	descCheck = prometheus.NewDesc("smb_agent_check_status",
		"Severity of each pattern in the latest round: 0 absent or ok, 1 warning, 2 critical, 3 unknown (the round failed).",
		[]string{"pattern"}, nil)
	descDialect = prometheus.NewDesc("smb_agent_dialect_accepted",
		"Whether a dialect is accepted: view=config by smb.conf, view=live by the running smbd (1 yes, 0 no).",
		[]string{"dialect", "view"}, nil)
	descPatternRounds = prometheus.NewDesc("smb_agent_pattern_rounds_total",
		"Check rounds in which each pattern was reported.", []string{"pattern"}, nil)
	descRounds = prometheus.NewDesc("smb_agent_rounds_total",
		"Check rounds completed.", nil, nil)
	descRoundErrors = prometheus.NewDesc("smb_agent_round_errors_total",
		"Check rounds that failed to produce a report (error, timeout, panic).", nil, nil)
	descLastTime = prometheus.NewDesc("smb_agent_last_round_timestamp_seconds",
		"Unix time the latest check round finished.", nil, nil)
	descLastDuration = prometheus.NewDesc("smb_agent_last_round_duration_seconds",
		"Duration of the latest check round.", nil, nil)
	descPoints = prometheus.NewDesc("smb_agent_estimated_points_lost_total",
		"Estimated points the remote check lost while a critical finding stood, attributed to the pattern whose message it showed (serve.scoring).",
		[]string{"pattern"}, nil)
	descConsecutive = prometheus.NewDesc("smb_agent_pattern_consecutive_rounds",
		"Rounds in a row, up to the latest, that reported each pattern; 0 when the latest did not.",
		[]string{"pattern"}, nil)
	descLastSuccess = prometheus.NewDesc("smb_agent_last_success_timestamp_seconds",
		"Unix time the latest round without a critical finding finished (the remote check would have passed); absent until one did.", nil, nil)
	descInterval = prometheus.NewDesc("smb_agent_round_interval_seconds",
		"Configured time between check rounds (serve.interval).", nil, nil)
	descFixes = prometheus.NewDesc("smb_agent_fix_transactions_total",
		"Fix transactions recorded in the audit log of agent fix, by result (applied: the host was changed).",
		[]string{"result"}, nil)
	descFixLast = prometheus.NewDesc("smb_agent_fix_last_applied_timestamp_seconds",
		"Unix time of the newest applied fix transaction in the audit log; absent if none.", nil, nil)
	descAuditReadable = prometheus.NewDesc("smb_agent_audit_log_readable",
		"1 when the fix audit log could be read (or does not exist yet), 0 when it could not: fix transactions are then not counted.", nil, nil)
	descReady = prometheus.NewDesc("smb_agent_up",
		"1 once the first check round has finished.", nil, nil)
)

// probeBuckets span loopback answers (a millisecond) to the scoring
// engine's 5 s limit and beyond.
var probeBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

func newMetrics(d *Daemon, version string) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		probe: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "smb_agent_probe_duration_seconds",
			Help:    "Latency of each probe step, observed once per check round.",
			Buckets: probeBuckets,
		}, []string{"step"}),
	}
	if version == "" {
		version = "dev"
	}
	m.gatherer = &cachedGatherer{g: m.reg, ttl: metricsCacheTTL, key: func() any { return d.snap.Load() }}
	m.reg.MustRegister(
		&stateCollector{d: d},
		m.probe,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "smb_agent_build_info",
			Help:        "Version of the running agent.",
			ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()},
		}, func() float64 { return 1 }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// observeRound records the probe latencies of one round. A failed round
// has no timings, so nothing is observed for it.
func (m *metrics) observeRound(res roundResult) {
	for _, t := range res.report.Timings {
		if t.Step == "" || t.Seconds < 0 {
			continue
		}
		m.probe.WithLabelValues(t.Step).Observe(t.Seconds)
	}
}

// stateCollector exports the latest snapshot.
type stateCollector struct{ d *Daemon }

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descStatus, descCheck, descDialect, descPatternRounds,
		descRounds, descRoundErrors, descLastTime, descLastDuration, descPoints, descReady,
		descConsecutive, descLastSuccess, descInterval, descFixes, descFixLast, descAuditReadable} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.d.snap.Load()
	if s == nil {
		// Before the first round: nothing is known, and a status of 0
		// would claim "ok". Counters start at zero, the known patterns are
		// listed so that rate() and absent() behave from the start.
		ch <- prometheus.MustNewConstMetric(descReady, prometheus.GaugeValue, 0)
		ch <- prometheus.MustNewConstMetric(descRounds, prometheus.CounterValue, 0)
		ch <- prometheus.MustNewConstMetric(descRoundErrors, prometheus.CounterValue, 0)
		for _, p := range c.d.cfg.Load().Patterns {
			ch <- prometheus.MustNewConstMetric(descPatternRounds, prometheus.CounterValue, 0, p)
		}
		return
	}
	ch <- prometheus.MustNewConstMetric(descReady, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(descStatus, prometheus.GaugeValue, float64(s.report.Status.ExitCode()))
	for _, p := range s.patterns {
		ev := s.events[p]
		ch <- prometheus.MustNewConstMetric(descCheck, prometheus.GaugeValue, float64(s.patternStatus(p).ExitCode()), p)
		ch <- prometheus.MustNewConstMetric(descPatternRounds, prometheus.CounterValue, float64(ev.Rounds), p)
		ch <- prometheus.MustNewConstMetric(descConsecutive, prometheus.GaugeValue, float64(ev.Consecutive), p)
		if s.scoring {
			ch <- prometheus.MustNewConstMetric(descPoints, prometheus.CounterValue, ev.PointsLost, p)
		}
	}
	dialects := make([]string, 0, len(s.report.Dialects))
	for name := range s.report.Dialects {
		dialects = append(dialects, name)
	}
	sort.Strings(dialects)
	for _, name := range dialects {
		v := s.report.Dialects[name]
		ch <- prometheus.MustNewConstMetric(descDialect, prometheus.GaugeValue, b2f(v.Config), name, "config")
		if v.Live != nil {
			ch <- prometheus.MustNewConstMetric(descDialect, prometheus.GaugeValue, b2f(*v.Live), name, "live")
		}
	}
	ch <- prometheus.MustNewConstMetric(descRounds, prometheus.CounterValue, float64(s.rounds))
	ch <- prometheus.MustNewConstMetric(descRoundErrors, prometheus.CounterValue, float64(s.roundErrors))
	ch <- prometheus.MustNewConstMetric(descLastTime, prometheus.GaugeValue, float64(s.lastEnd.UnixNano())/1e9)
	ch <- prometheus.MustNewConstMetric(descLastDuration, prometheus.GaugeValue, s.lastEnd.Sub(s.lastStart).Seconds())
	if !s.lastSuccess.IsZero() {
		ch <- prometheus.MustNewConstMetric(descLastSuccess, prometheus.GaugeValue, float64(s.lastSuccess.UnixNano())/1e9)
	}
	ch <- prometheus.MustNewConstMetric(descInterval, prometheus.GaugeValue, s.interval.Seconds())
	if s.auditLog {
		// Every result from the start, at 0: an alert on increase() sees
		// the first applied fix as 0 -> 1, not as a new series.
		for _, r := range auditResults {
			ch <- prometheus.MustNewConstMetric(descFixes, prometheus.CounterValue, float64(s.fixes.counts[r]), r)
		}
		if s.fixes.lastApplied > 0 {
			ch <- prometheus.MustNewConstMetric(descFixLast, prometheus.GaugeValue, s.fixes.lastApplied)
		}
		ch <- prometheus.MustNewConstMetric(descAuditReadable, prometheus.GaugeValue, b2f(s.fixes.err == ""))
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
