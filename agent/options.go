// Package agent is the smb-agent daemon: it runs the diagnosis on an
// interval, keeps the latest report, counts events per pattern, tells
// systemd how the host is doing (sd_notify READY/STATUS/WATCHDOG/STOPPING)
// and serves the result on loopback HTTP (/healthz, /readyz, /status,
// /events, /metrics). It never changes the host and its HTTP handlers never
// start a probe: they only read the stored result (the lesson of
// node_exporter #244/#868, where a hung collector blocked every scrape).
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/smb-agent/smb-agent/checks"
	"github.com/smb-agent/smb-agent/checks/catalog"
	"github.com/smb-agent/smb-agent/fixes"
)

// Defaults, the same as configs' serve.* defaults, for callers that build
// Options by hand.
const (
	// DefaultListen is loopback only: the API is for this host's monitoring
	// (Consul's enable_script_checks lesson: a health API reachable from the
	// network is an attack surface).
	DefaultListen = "127.0.0.1:9445"
	// DefaultInterval is how often a check round runs.
	DefaultInterval = 30 * time.Second
	// DefaultJitter spreads rounds by ±10% so that many hosts started
	// together do not probe in lockstep (Consul's RandomStagger).
	DefaultJitter = 0.1
	// MinInterval keeps a typo ("30ms") from turning the daemon into a
	// probe storm against smbd (Consul's MinInterval is 1 s as well).
	MinInterval = time.Second
	// minRoundTimeout: the default round deadline is the interval, but
	// never below the 5 s the scoring engine waits per operation plus the
	// other steps of a round, so that a slow-but-answering smbd shows up as
	// a "timeout" finding rather than as a cancelled round.
	minRoundTimeout = 30 * time.Second
	// DefaultHistory is how many rounds the page lists and draws.
	DefaultHistory = 100
	maxHistory     = 10000
	// shutdownTimeout bounds everything Run does after its context ends,
	// under the 5 s the issue allows (systemd's TimeoutStopSec is larger).
	shutdownTimeout = 4 * time.Second
	// MaxConnections caps the HTTP connections served at once. The
	// API's users are a Prometheus scraper, a health check and a person
	// with curl: 64 is ample, and bounds the daemon's memory under a
	// connection flood.
	MaxConnections = 64
)

// DefaultPatterns returns the catalog's pattern ids, in catalog order. They
// are exported on /metrics with value 0 even before they are seen, so that
// an alert on smb_agent_check_status{pattern="..."} never silently matches
// nothing. Computed once, on first use.
var DefaultPatterns = sync.OnceValue(func() []string {
	var ids []string
	for _, p := range catalog.All() {
		ids = append(ids, p.ID)
	}
	return ids
})

// RoundFunc runs one diagnosis. It must honour ctx (the round's deadline
// and shutdown). The daemon takes ownership of the returned report: it must
// not be modified afterwards.
type RoundFunc func(ctx context.Context) (*checks.Report, error)

// PlannedRoundFunc is a RoundFunc that also returns, for each fix the
// report proposes, the dry run of `agent fix --only ID` made from the same
// round's facts (fixes.MakePlan is pure), keyed by fix id. The page at /
// shows them; the daemon never applies anything.
type PlannedRoundFunc func(ctx context.Context) (*checks.Report, map[string]FixPreview, error)

// FixPreview is one fix's dry-run plan, or why it could not be planned.
type FixPreview struct {
	Plan *fixes.Plan
	Err  string
}

// Options configure a Daemon. Only Round is required.
type Options struct {
	// Round runs one diagnosis (the same engine as `agent diagnose`).
	Round RoundFunc
	// PlannedRound, when set, is used instead of Round: the same diagnosis
	// plus the fix previews the page shows.
	PlannedRound PlannedRoundFunc
	// FixCommand is how the page tells a person to run the fixer on this
	// host ("agent fix", with --config when serve has one); "" = "agent fix".
	FixCommand string
	// History is how many rounds the page lists; 0 = DefaultHistory.
	History int
	// Interval between the end of one round and the start of the next,
	// before jitter. 0 = DefaultInterval; at least MinInterval.
	Interval time.Duration
	// Jitter is the random spread of each interval as a fraction of it:
	// 0.1 = ±10%. 0 = none. Must be in [0, 0.5].
	Jitter float64
	// RoundTimeout is each round's deadline. 0 = max(Interval, 30 s).
	RoundTimeout time.Duration
	// Listen is the HTTP address. "" = DefaultListen. Must be loopback
	// unless ListenPublic is set.
	Listen       string
	ListenPublic bool
	// PointsPerCheck and CheckInterval describe the remote scoring check
	// (points per check, how often it checks). When both are set the daemon
	// estimates the points lost; see pointsForRound.
	PointsPerCheck float64
	CheckInterval  time.Duration
	// Patterns are the pattern ids exported on /metrics even when absent.
	// nil = DefaultPatterns. Ids seen in reports are added automatically.
	Patterns []string
	// Logger receives the daemon's structured logs. nil = slog.Default().
	Logger *slog.Logger
	// Notify sends one sd_notify state. nil = go-systemd's
	// daemon.SdNotify(false, state), a no-op outside systemd.
	Notify func(state string) error
	// WatchdogInterval is systemd's WatchdogSec. 0 = read it from the
	// environment (daemon.SdWatchdogEnabled); negative = no watchdog pings.
	WatchdogInterval time.Duration
	// Reload re-reads the agent configuration on Trigger(true) (SIGHUP).
	// nil = nothing to reload. See (*Daemon).applyReload for what can
	// change at run time.
	Reload func() (Options, error)
	// Now is the clock for timestamps. nil = time.Now.
	Now func() time.Time
	// Version is exported as smb_agent_build_info{version}.
	Version string
	// AuditLog is `agent fix`'s audit log (fix.audit_log), read after each
	// round to count fix transactions; "" = none.
	AuditLog string

	// fastIntervals lets this package's tests use millisecond intervals.
	fastIntervals bool
}

// withDefaults fills the zero values and validates the result. It does not
// resolve the listen address (see ResolveListen).
func (o Options) withDefaults() (Options, error) {
	if o.Round == nil && o.PlannedRound == nil {
		return o, errors.New("agent options: no round function")
	}
	if o.History == 0 {
		o.History = DefaultHistory
	}
	if o.History < 0 || o.History > maxHistory {
		return o, fmt.Errorf("agent options: history %d is outside 1..%d", o.History, maxHistory)
	}
	if o.FixCommand == "" {
		o.FixCommand = "agent fix"
	}
	if o.Interval == 0 {
		o.Interval = DefaultInterval
	}
	if o.Interval < MinInterval && !(o.fastIntervals && o.Interval > 0) {
		return o, fmt.Errorf("agent options: interval %s is below the minimum %s", o.Interval, MinInterval)
	}
	if o.Jitter < 0 || o.Jitter > 0.5 || o.Jitter != o.Jitter {
		return o, fmt.Errorf("agent options: jitter %v must be between 0 and 0.5 (a fraction of the interval)", o.Jitter)
	}
	if o.RoundTimeout < 0 {
		return o, fmt.Errorf("agent options: round timeout %s is negative", o.RoundTimeout)
	}
	if o.RoundTimeout == 0 {
		o.RoundTimeout = max(o.Interval, minRoundTimeout)
	}
	if o.PointsPerCheck < 0 || o.PointsPerCheck != o.PointsPerCheck {
		return o, fmt.Errorf("agent options: points per check %v is negative", o.PointsPerCheck)
	}
	if o.CheckInterval < 0 {
		return o, fmt.Errorf("agent options: scoring check interval %s is negative", o.CheckInterval)
	}
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	if o.Patterns == nil {
		o.Patterns = DefaultPatterns()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, nil
}

// scoringEnabled: the estimate needs both numbers (configs documents
// "0 = no estimate; set both").
func (o Options) scoringEnabled() bool {
	return o.PointsPerCheck > 0 && o.CheckInterval > 0
}

// ResolveListen validates a listen address and returns the address to bind.
// Unless public is set, the host must be loopback: an IP literal in
// 127.0.0.0/8 or ::1, or a name (such as "localhost") all of whose
// addresses are loopback; a name is replaced by its first loopback address
// (IPv4 first) so that the address checked is the address bound. An empty
// host (":9445") or an unspecified one ("0.0.0.0", "[::]") means every
// interface and is refused.
func ResolveListen(ctx context.Context, addr string, public bool) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("listen address %q: %w (want HOST:PORT, e.g. %s)", addr, err, DefaultListen)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return "", fmt.Errorf("listen address %q: port %q is not a number from 0 to 65535", addr, port)
	}
	if public {
		return addr, nil
	}
	notLoopback := func(why string) error {
		return fmt.Errorf("listen address %q %s; the HTTP API serves this host only: use a loopback address such as %s, or --listen-public to expose it",
			addr, why, DefaultListen)
	}
	if host == "" {
		return "", notLoopback("listens on every interface")
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		switch {
		case ip.IsUnspecified():
			return "", notLoopback("listens on every interface")
		case !ip.Unmap().IsLoopback():
			return "", notLoopback("is not a loopback address")
		}
		return addr, nil
	}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(rctx, "ip", host)
	if err != nil {
		return "", fmt.Errorf("listen address %q: resolve %s: %w", addr, host, err)
	}
	if len(ips) == 0 {
		return "", fmt.Errorf("listen address %q: %s has no address", addr, host)
	}
	var bind netip.Addr
	for _, ip := range ips {
		ip = ip.Unmap()
		if !ip.IsLoopback() {
			return "", notLoopback(fmt.Sprintf("resolves to %s, which is not loopback", ip))
		}
		if !bind.IsValid() || (ip.Is4() && !bind.Is4()) {
			bind = ip
		}
	}
	return net.JoinHostPort(bind.String(), port), nil
}
