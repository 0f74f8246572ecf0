package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/net/netutil"

	"github.com/smb-agent/smb-agent/checks"
)

var errAddrInUse = syscall.EADDRINUSE

// Daemon runs check rounds on a schedule and serves their result. Create it
// with New, then call Run once.
type Daemon struct {
	// cfg holds the options in force; SIGHUP reloads swap it.
	cfg      atomic.Pointer[Options]
	bindAddr string
	log      *slog.Logger
	now      func() time.Time
	rand     func() float64

	trigger       chan struct{}
	reloadPending atomic.Bool
	running       atomic.Bool

	lnMu sync.Mutex
	ln   net.Listener

	started   time.Time
	loopAlive atomic.Bool
	// lastStart is when the latest round started (unix ns by d.now), or the
	// scheduler's own start before the first round: /healthz and the
	// watchdog use it to notice a wedged scheduler.
	lastStart atomic.Int64
	snap      atomic.Pointer[snapshot]
	// nextRound is when the scheduler plans the next round (unix ns by
	// d.now), 0 while a round runs or before the first: the page shows it.
	nextRound atomic.Int64
	// pageCache is the last rendered page; pageMu lets one request render
	// it while the others wait for the result.
	pageCache atomic.Pointer[renderedPage]
	pageMu    sync.Mutex
	ready     atomic.Bool

	tracker *tracker     // scheduler goroutine only
	audit   *auditReader // scheduler goroutine only
	metrics *metrics
	notif   *notifier
	handler http.Handler

	// shutdownTimeout bounds Run's exit; tests shorten it.
	shutdownTimeout time.Duration
}

// New validates opts and prepares a daemon. It resolves the listen address
// (refusing a non-loopback one unless ListenPublic) but does not bind it:
// Run or Listen does.
func New(opts Options) (*Daemon, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	bind, err := ResolveListen(context.Background(), o.Listen, o.ListenPublic)
	if err != nil {
		return nil, err
	}
	notify := o.Notify
	if notify == nil {
		notify = func(state string) error {
			_, err := daemon.SdNotify(false, state)
			return err
		}
	}
	d := &Daemon{
		bindAddr:        bind,
		log:             o.Logger,
		now:             o.Now,
		rand:            rand.Float64,
		trigger:         make(chan struct{}, 1),
		shutdownTimeout: shutdownTimeout,
	}
	d.cfg.Store(&o)
	d.notif = &notifier{fn: notify, log: o.Logger}
	d.started = d.now()
	d.tracker = newTracker(d.started, o.Patterns)
	d.audit = newAuditReader(o.AuditLog)
	d.metrics = newMetrics(d, o.Version)
	d.handler = d.routes()
	return d, nil
}

// Listen binds the HTTP address if it is not bound yet. Run calls it; call
// it earlier to fail fast (port taken) before anything else starts.
func (d *Daemon) Listen() error {
	d.lnMu.Lock()
	defer d.lnMu.Unlock()
	if d.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", d.bindAddr)
	if err != nil {
		hint := ""
		if errors.Is(err, errAddrInUse) {
			hint = " (another agent serve, or another service, uses this port: stop it or choose another with --listen)"
		}
		return fmt.Errorf("listen on %s: %w%s", d.bindAddr, err, hint)
	}
	// A flood of idle connections must not grow the daemon: beyond
	// MaxConnections the rest wait in the kernel's accept queue, costing
	// the process nothing, and each accepted one that sends no request is
	// closed after ReadHeaderTimeout.
	d.ln = netutil.LimitListener(ln, MaxConnections)
	if o := d.cfg.Load(); o.ListenPublic && !isLoopbackAddr(ln.Addr()) {
		d.log.Warn("the HTTP API is reachable from the network (--listen-public): anyone who can connect reads /status, /events and /metrics (findings, smb.conf paths and lines, share and user names, the Samba version); there is no authentication, so restrict it with a firewall",
			"listen", ln.Addr().String())
	}
	return nil
}

// isLoopbackAddr reports whether a bound address is loopback only.
func isLoopbackAddr(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// Addr is the bound HTTP address, nil before Listen.
func (d *Daemon) Addr() net.Addr {
	d.lnMu.Lock()
	defer d.lnMu.Unlock()
	if d.ln == nil {
		return nil
	}
	return d.ln.Addr()
}

// Handler is the HTTP API, for tests and for embedding.
func (d *Daemon) Handler() http.Handler { return d.handler }

// Events returns the per-pattern counters as /events serves them.
func (d *Daemon) Events() Events {
	s := d.snap.Load()
	if s == nil {
		return Events{Since: d.started, Patterns: []PatternEvents{}}
	}
	return s.eventsView(d.started)
}

// Latest returns the latest report, nil before the first round. The report
// is shared: do not modify it.
func (d *Daemon) Latest() *checks.Report {
	if s := d.snap.Load(); s != nil {
		return s.report
	}
	return nil
}

// Trigger asks for a round now (SIGHUP does, with reload). It never blocks
// and never runs a round itself: the scheduler runs rounds one at a time,
// and triggers that arrive during a round collapse into one more round.
// With reload, Options.Reload runs first.
func (d *Daemon) Trigger(reload bool) {
	if reload {
		d.reloadPending.Store(true)
	}
	select {
	case d.trigger <- struct{}{}:
	default: // a round is already queued
	}
}

// Run serves HTTP, runs the first round at once, tells systemd READY=1 when
// it has finished, then runs a round every Interval ± Jitter until ctx
// ends. It then shuts down within 5 s, even if a round ignores
// cancellation: STOPPING=1, cancel the round, stop HTTP. It returns nil
// after a requested shutdown, or the error that stopped it.
func (d *Daemon) Run(ctx context.Context) error {
	if !d.running.CompareAndSwap(false, true) {
		return errors.New("agent: Run called twice")
	}
	if err := d.Listen(); err != nil {
		return err
	}
	o := d.cfg.Load()
	srv := &http.Server{
		Handler: d.handler,
		// Slowloris and oversized requests: the endpoints take no body and
		// a few short headers.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    8 << 10,
		ErrorLog:          slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	d.lnMu.Lock()
	ln := d.ln
	d.lnMu.Unlock()
	srvErr := make(chan error, 1)
	go func() { srvErr <- srv.Serve(ln) }()
	d.log.Info("serving", "listen", ln.Addr().String(), "interval", o.Interval.String(), "jitter", o.Jitter)

	loopCtx, cancelLoop := context.WithCancel(ctx)
	defer cancelLoop()
	var wg sync.WaitGroup
	loopDone := make(chan struct{})
	d.lastStart.Store(d.now().UnixNano())
	d.loopAlive.Store(true)
	go func() {
		defer close(loopDone)
		defer d.loopAlive.Store(false)
		d.loop(loopCtx)
	}()
	if wd := d.watchdogInterval(); wd > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.watchdog(loopCtx, wd)
		}()
	}

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-srvErr:
		runErr = fmt.Errorf("http server on %s: %w", ln.Addr(), err)
	}
	// Shutdown: tell systemd first, so that it does not take the silence
	// that follows for a hang, then stop everything against one deadline.
	d.notif.stop()
	cancelLoop()
	sctx, cancel := context.WithTimeout(context.Background(), d.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		d.log.Warn("http shutdown did not finish in time; connections closed", "error", err)
	}
	select {
	case <-loopDone:
	case <-sctx.Done():
		d.log.Error("check round did not stop after cancellation; exiting anyway", "timeout", d.shutdownTimeout.String())
	}
	wg.Wait()
	d.log.Info("stopped", "rounds", d.roundCount())
	return runErr
}

// loop is the scheduler: one goroutine, rounds strictly one after another.
func (d *Daemon) loop(ctx context.Context) {
	timer := time.NewTimer(0) // the first round runs at once
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-d.trigger:
		}
		if d.reloadPending.Swap(false) {
			d.applyReload()
		}
		d.runRound(ctx)
		if ctx.Err() != nil {
			return
		}
		o := d.cfg.Load()
		// Go 1.23+ timers: Reset discards a pending expiry, so a trigger
		// that ran this round leaves no stale tick behind.
		delay := nextDelay(o.Interval, o.Jitter, d.rand())
		d.nextRound.Store(d.now().Add(delay).UnixNano())
		timer.Reset(delay)
	}
}

// nextDelay spreads the interval uniformly over interval × [1-jitter,
// 1+jitter), given r uniform in [0, 1).
func nextDelay(interval time.Duration, jitter, r float64) time.Duration {
	return time.Duration(float64(interval) * (1 + jitter*(2*r-1)))
}

// runRound runs one round under its deadline and publishes the result. A
// round cancelled by shutdown is dropped: it says nothing about the host.
func (d *Daemon) runRound(ctx context.Context) {
	o := d.cfg.Load()
	start := d.now()
	d.lastStart.Store(start.UnixNano())
	d.nextRound.Store(0)
	rctx, cancel := context.WithTimeout(ctx, o.RoundTimeout)
	round := o.PlannedRound
	if round == nil {
		round = func(ctx context.Context) (*checks.Report, map[string]FixPreview, error) {
			rep, err := o.Round(ctx)
			return rep, nil, err
		}
	}
	rep, previews, err := callRound(rctx, round)
	deadlineHit := errors.Is(rctx.Err(), context.DeadlineExceeded)
	cancel()
	end := d.now()
	if ctx.Err() != nil {
		return
	}
	res := roundResult{start: start, end: end, err: err, previews: previews}
	switch {
	case rep == nil:
		if err == nil {
			err = errors.New("round returned no report")
		}
		if deadlineHit {
			err = fmt.Errorf("check round did not finish within %s: %w", o.RoundTimeout, err)
		}
		res.err = err
		res.failed = true
		res.report = failedReport(err, start, end)
	case err != nil:
		// A report with an error: keep what was found, add the error. Copy
		// the slices: the round's report must not change under its owner.
		r := *rep
		r.Findings = append([]checks.Finding(nil), rep.Findings...)
		r.Errors = append(append([]string(nil), rep.Errors...), err.Error())
		r.Finalize()
		res.report = &r
	default:
		res.report = rep
	}
	snap, changes := d.tracker.record(res, *o)
	d.readAudit(snap)
	// Histogram first: a new snapshot invalidates the /metrics cache, so a
	// scrape never caches the new round's state with the old latencies.
	d.metrics.observeRound(res)
	d.snap.Store(snap)
	d.logRound(res, changes)
	states := []string{"STATUS=" + statusLine(res.report.Headline())}
	if !d.ready.Load() {
		d.ready.Store(true)
		states = append(states, "READY=1")
	}
	d.notif.send(states...)
}

// readAudit counts the fix transactions `agent fix` recorded so far into
// the round's snapshot (before it is published), and logs when the audit
// log becomes unreadable or readable again.
func (d *Daemon) readAudit(snap *snapshot) {
	prev := ""
	if old := d.snap.Load(); old != nil {
		prev = old.fixes.err
	}
	snap.fixes = d.audit.read()
	snap.auditLog = d.audit.path != ""
	switch {
	case snap.fixes.err != "" && snap.fixes.err != prev:
		d.log.Warn("cannot read the fix audit log; fix transactions are not counted", "error", snap.fixes.err)
	case snap.fixes.err == "" && prev != "":
		d.log.Info("fix audit log readable again", "path", d.audit.path)
	}
}

// callRound runs the round function, turning a panic into an error: the
// diagnosis is the biggest piece of code the daemon runs, and one bad fact
// should cost one round, not the service.
func callRound(ctx context.Context, round PlannedRoundFunc) (rep *checks.Report, previews map[string]FixPreview, err error) {
	defer func() {
		if p := recover(); p != nil {
			rep, previews = nil, nil
			err = fmt.Errorf("check round panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return round(ctx)
}

// failedReport stands in for the report of a round that produced none, so
// that /status, the STATUS line and the metrics all say "unknown" and why.
func failedReport(err error, start, end time.Time) *checks.Report {
	msg := err.Error()
	if i := indexNewline(msg); i >= 0 {
		msg = msg[:i] // the panic stack goes to the log, not to /status
	}
	r := &checks.Report{
		Generated:  end,
		DurationMS: end.Sub(start).Milliseconds(),
		Clients:    []string{},
		Errors:     []string{msg},
	}
	r.Finalize()
	return r
}

func indexNewline(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return i
		}
	}
	return -1
}

// applyReload re-reads the configuration (SIGHUP). What a running daemon
// can take over: the round function (new target, credentials, clients),
// interval, jitter, round timeout, scoring and pattern list. The listen
// address and the hooks (logger, notify, clock) stay: changing them needs a
// restart, which the log says.
func (d *Daemon) applyReload() {
	old := d.cfg.Load()
	if old.Reload == nil {
		d.log.Info("reload requested; nothing to reload")
		return
	}
	readyNow := d.ready.Load()
	if readyNow {
		// sd_notify(3): RELOADING=1 ... READY=1 brackets a reload.
		d.notif.send("RELOADING=1\n" + daemon.SdNotifyMonotonicUsec())
		defer d.notif.send("READY=1")
	}
	next, err := old.Reload()
	if err == nil {
		next.fastIntervals = old.fastIntervals
		next, err = next.withDefaults()
	}
	if err != nil {
		d.log.Error("reload failed; keeping the current configuration", "error", err)
		return
	}
	if next.Listen != old.Listen || next.ListenPublic != old.ListenPublic {
		d.log.Warn("listen address change takes effect after a restart", "listen", old.Listen, "configured", next.Listen)
	}
	merged := *old
	merged.Round = next.Round
	merged.PlannedRound = next.PlannedRound
	merged.FixCommand = next.FixCommand
	merged.Interval = next.Interval
	merged.Jitter = next.Jitter
	merged.RoundTimeout = next.RoundTimeout
	merged.PointsPerCheck = next.PointsPerCheck
	merged.CheckInterval = next.CheckInterval
	merged.Patterns = next.Patterns
	if next.AuditLog != old.AuditLog {
		merged.AuditLog = next.AuditLog
		d.audit = newAuditReader(next.AuditLog)
	}
	for _, p := range next.Patterns {
		d.tracker.known[p] = true
	}
	d.cfg.Store(&merged)
	d.log.Info("configuration reloaded", "interval", merged.Interval.String(), "jitter", merged.Jitter)
}

// health reports whether the scheduler works: its goroutine is alive and
// the latest round started recently. "Recently" is 3 × the interval (the
// issue's rule), stretched when the round deadline is long, so that a round
// that legitimately uses its whole deadline never counts as a hang. A round
// that ignores its deadline ends up here, and the watchdog pings stop.
func (d *Daemon) health() (bool, string) {
	if !d.loopAlive.Load() {
		return false, "scheduler is not running"
	}
	o := d.cfg.Load()
	limit := max(3*o.Interval, o.RoundTimeout+2*o.Interval)
	last := time.Unix(0, d.lastStart.Load())
	if age := d.now().Sub(last); age > limit {
		return false, fmt.Sprintf("last check round started %s ago, more than %s: the scheduler is stuck",
			age.Round(time.Millisecond), limit)
	}
	return true, ""
}

// watchdogInterval is systemd's WatchdogSec for this process, 0 for none.
func (d *Daemon) watchdogInterval() time.Duration {
	o := d.cfg.Load()
	switch {
	case o.WatchdogInterval < 0:
		return 0
	case o.WatchdogInterval > 0:
		return o.WatchdogInterval
	}
	wd, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		d.log.Warn("systemd watchdog settings unreadable; not pinging", "error", err)
		return 0
	}
	return wd
}

// watchdog pings systemd at half the watchdog interval (sd_watchdog_enabled(3)
// recommends it), but only while the scheduler is healthy: a wedged
// scheduler must let the watchdog fire so that systemd restarts us.
func (d *Daemon) watchdog(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every / 2)
	defer t.Stop()
	warned := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if ok, why := d.health(); !ok {
			if !warned {
				d.log.Error("withholding watchdog pings; systemd will restart the agent", "reason", why)
				warned = true
			}
			continue
		}
		warned = false
		d.notif.send("WATCHDOG=1")
	}
}

// roundCount reads the round count from the published snapshot (the
// tracker itself belongs to the scheduler goroutine).
func (d *Daemon) roundCount() uint64 {
	if s := d.snap.Load(); s != nil {
		return s.rounds
	}
	return 0
}
