package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/smb-agent/smb-agent/agent"
	"github.com/smb-agent/smb-agent/checks"
	"github.com/smb-agent/smb-agent/checks/diagnose"
	"github.com/smb-agent/smb-agent/configs"
	"github.com/smb-agent/smb-agent/fixes"
)

func init() { registerCommand(newServeCommand) }

func newServeCommand(s *streams) *cobra.Command {
	var logLevel string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run as a daemon: check on an interval, report to systemd and HTTP",
		Long: `serve runs the checks of "agent diagnose" every serve.interval (--interval,
default 30s, with ±serve.jitter spread) and keeps the latest report. It never
changes the host, and its HTTP endpoints never start a probe: they serve the
stored result.

HTTP (serve.listen, --listen; 127.0.0.1:9445 by default, loopback only unless
--listen-public):
  /          the page for a person: the latest report as HTML (findings with
             cause, evidence, commands, decision tree, planned fix and the
             "agent fix --apply --only ID" to run; dialects, events, history)
  /healthz   200 while the scheduler works
  /readyz    200 once the first check round has finished
  /status    the latest report, the same JSON as "agent diagnose --json"
             (/status/PATTERN: one pattern, 200/429/503 by its severity)
  /events    rounds, first and last seen per pattern, points-lost estimate
  /metrics   Prometheus: per-check status, per-dialect config/live
             acceptance, probe latency histograms, events and estimated
             points lost per pattern, last round and last success time,
             fix transactions counted from the audit log (fix.audit_log)

systemd (Type=notify): READY=1 after the first round, STATUS= a one-line
summary after each round, WATCHDOG=1 while the scheduler works when
WatchdogSec is set, STOPPING=1 on shutdown.

Signals: SIGHUP re-reads the agent configuration and runs a round now;
SIGTERM or SIGINT stops within 5 s. Logs are structured (log/slog); under
systemd they go to the journal with each attribute as a field, e.g.
journalctl -u smb-agent PATTERN=protocol-mismatch.

Exit status: 0 after a requested shutdown, 3 when it cannot start (bad
configuration, port taken) or fails.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			level, err := parseLogLevel(logLevel)
			if err != nil {
				return withCode(exitUnknown, err)
			}
			// SIGHUP from the first moment: its default action would kill
			// the daemon before it is ready.
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)

			log := agent.NewLogger(s.err, level)
			fl := cmd.Flags()
			opts, err := serveOptions(fl, log)
			if err != nil {
				return withCode(exitUnknown, err)
			}
			opts.Reload = func() (agent.Options, error) { return serveOptions(fl, log) }
			d, err := agent.New(opts)
			if err != nil {
				return withCode(exitUnknown, err)
			}
			// Bind before anything runs: a taken port fails at once, with
			// the hint, instead of after the first round.
			if err := d.Listen(); err != nil {
				return withCode(exitUnknown, err)
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			go func() {
				for {
					select {
					case <-ctx.Done():
						return
					case <-hup:
						log.Info("SIGHUP: reloading the configuration and running a check round")
						d.Trigger(true)
					}
				}
			}()
			if err := d.Run(ctx); err != nil {
				return withCode(exitUnknown, err)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	configs.AddCommonFlags(fl)
	configs.AddServeFlags(fl)
	fl.String("remote-client-ip", "", "address of the remote checker, to judge hosts allow/deny and firewall rules for it (config remote_client_ip)")
	fl.Bool("guest", false, "also try a guest/anonymous session (config credentials.guest)")
	fl.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	return cmd
}

// serveOptions loads the agent configuration the way diagnose does
// (defaults < file < SMB_AGENT_* < flags) and turns it into daemon options.
// It runs at start and again on every SIGHUP; the flags keep their
// command-line values, the file and environment are read afresh.
func serveOptions(fl *pflag.FlagSet, log *slog.Logger) (agent.Options, error) {
	cfg, err := configs.Load(configs.LoadOptions{File: globals.configFile, Flags: fl})
	if err != nil {
		return agent.Options{}, err
	}
	// What diagnose would refuse as bad input (an unknown client profile,
	// an unreadable password file) is refused here too, at start and on
	// reload, rather than turning every round into an "unknown" one.
	if _, err := cfg.Clients(); err != nil {
		return agent.Options{}, err
	}
	if _, err := cfg.Password(); err != nil {
		return agent.Options{}, err
	}
	return agent.Options{
		PlannedRound:   diagnoseRound(cfg),
		FixCommand:     fixCommand(globals.configFile),
		Interval:       cfg.Serve.Interval,
		Jitter:         cfg.Serve.Jitter,
		Listen:         cfg.Serve.Listen,
		ListenPublic:   cfg.Serve.ListenPublic,
		PointsPerCheck: cfg.Serve.Scoring.PointsPerCheck,
		CheckInterval:  cfg.Serve.Scoring.CheckInterval,
		Logger:         log,
		Version:        version,
		AuditLog:       cfg.Fix.AuditLog,
	}, nil
}

// diagnoseRound is one check round: exactly what `agent diagnose` runs,
// plus, for the page, each proposed fix planned as `agent fix --only ID`
// plans it (a dry run from the same facts; nothing is applied). Each round
// gets the previous round's facts, so that a light round can carry what
// nothing since can have changed (diagnose.RunAfter); a round that
// failed leaves none, and the next one is a full sweep.
func diagnoseRound(cfg *configs.Config) agent.PlannedRoundFunc {
	var mu sync.Mutex
	var prev *checks.Facts
	return func(ctx context.Context) (*checks.Report, map[string]agent.FixPreview, error) {
		mu.Lock()
		defer mu.Unlock()
		rep, facts, err := diagnose.RunAfter(ctx, cfg, prev)
		prev = facts
		if err != nil {
			if errors.Is(err, diagnose.ErrBadInput) {
				err = errors.New(strings.TrimPrefix(err.Error(), diagnose.ErrBadInput.Error()+": "))
			}
			return nil, nil, err
		}
		previews := map[string]agent.FixPreview{}
		for _, f := range rep.Findings {
			if f.Fix == nil || f.Fix.ID == "" {
				continue
			}
			if _, done := previews[f.Fix.ID]; done {
				continue
			}
			plan, err := fixes.MakePlan(rep, facts, fixes.PlanOptions{AllowSMB1: cfg.Fix.AllowSMB1, Only: f.Fix.ID})
			if err != nil {
				previews[f.Fix.ID] = agent.FixPreview{Err: err.Error()}
				continue
			}
			previews[f.Fix.ID] = agent.FixPreview{Plan: plan}
		}
		return rep, previews, nil
	}
}

// fixCommand is the fixer's command line as the page shows it: with the
// same agent configuration file as this daemon, when it has one.
func fixCommand(configFile string) string {
	if configFile == "" {
		return "agent fix"
	}
	return "agent fix --config " + shellQuote(configFile)
}

// shellQuote quotes s for a POSIX shell when it holds anything but safe
// path characters.
func shellQuote(s string) string {
	safe := s != ""
	for _, r := range s {
		if !(r == '/' || r == '.' || r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func parseLogLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.TrimSpace(s))); err != nil {
		return 0, fmt.Errorf("--log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}
