package gather

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/smb-agent/smb-agent/checks"
	"github.com/smb-agent/smb-agent/checks/probe"
	"github.com/smb-agent/smb-agent/configs"
	"github.com/smb-agent/smb-agent/configs/procenv"
	"github.com/smb-agent/smb-agent/configs/smbconf"
)

// runFunc runs an external command without a shell and returns its stdout.
type runFunc func(ctx context.Context, name string, args ...string) ([]byte, error)

// Options configure Gather.
type Options struct {
	// Config is the resolved agent configuration (target, timeout,
	// credentials, share, file, logs, smb_conf, samba_version,
	// remote_client_ip); nil means configs.DefaultConfig().
	Config *configs.Config
	// Clients are the client profiles, resolved by the caller
	// (cfg.Clients()).
	Clients []configs.ClientProfile
	// Password is the SMB password, resolved by the caller. It goes to the
	// probes only: it is never stored in Facts and never logged.
	Password string
	// ProcRoot is /proc ("" = /proc); tests point it at a fixture tree.
	ProcRoot string
	// Run runs external commands (no shell); nil = exec with the context.
	Run func(ctx context.Context, name string, args ...string) ([]byte, error)
	// LookPath finds commands; nil = exec.LookPath.
	LookPath func(string) (string, error)
	// Now is the clock; nil = time.Now.
	Now func() time.Time
	// SkipProbe leaves Facts.Probe nil (no network I/O).
	SkipProbe bool
	// VersionCache remembers what the installed smbd reported, so that
	// `smbd --version` (as costly as a whole probe run) runs once per
	// installed binary; nil runs it every time.
	VersionCache *smbconf.VersionCache
	// Previous is the previous round's facts (serve), nil for a one-shot
	// run. A round may carry answers from it that nothing since can have
	// changed (carryNT1), which saves smbd a fork per round.
	Previous *checks.Facts
}

// Budget of the local gatherers, and what Gather may take beyond the
// configured timeout to assemble its result.
const (
	// gatherMargin: the probe run ends within Timeout + 300 ms (its own
	// margin); Gather returns at most this long after Timeout, whatever
	// any tool does.
	gatherMargin = 600 * time.Millisecond
	// maxLocalBudget bounds the local gatherers that run before the probe
	// (the Samba version and smb.conf together, then each /proc or stat
	// gatherer), a quarter of the timeout when that is less: they take
	// milliseconds, but a hung NFS mount or a wedged smbd --version must
	// not eat the probe's time.
	maxLocalBudget = 1500 * time.Millisecond
	// cmdTimeout bounds each external command (nft, iptables-save,
	// journalctl, smbd --version).
	cmdTimeout = 2 * time.Second
	// maxCmdOutput caps what one command may print (a huge nft set).
	maxCmdOutput = 32 << 20
)

// Gather collects every fact of one run. It never returns nil and never
// panics: a gatherer that fails records why in its own Err field and, as
// "could not read X: why", in Facts.Errors. smb.conf and the Samba version
// come first (the others need `pid directory`, `log file`, `log level`,
// `smb ports`); then sockets and processes (from /proc) and a snapshot of
// the log files' sizes; then the firewall, the logs and the probe run
// concurrently. The logs are read only up to the snapshot, so the probe's
// own failed negotiations are never taken for a client's. Gather returns
// within the configured timeout plus gatherMargin even if a tool hangs.
func Gather(ctx context.Context, opts Options) (f *checks.Facts) {
	o := opts.withDefaults()
	cfg := o.Config
	f = &checks.Facts{
		Now:            o.Now(),
		RemoteClientIP: cfg.RemoteClientIP,
		Clients:        slices.Clone(o.Clients),
		SmbConfPath:    cfg.SMBConf,
		User:           cfg.Credentials.User,
		Share:          cfg.Share,
		HasPassword:    opts.Password != "",
	}
	defer func() {
		if r := recover(); r != nil {
			f.Errors = append(f.Errors, fmt.Sprintf("gather: internal error: %v", r))
		}
	}()
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = probe.DefaultTimeout
	}
	e := &env{
		Options:     o,
		started:     f.Now,
		began:       time.Now(),
		timeout:     timeout,
		run:         boundedRun(o.Run),
		localBudget: min(maxLocalBudget, timeout/4),
		user:        cfg.Credentials.User,
		params:      paramsOf(nil),
	}
	hard := e.began.Add(timeout + gatherMargin)
	ctx, cancel := context.WithDeadline(ctx, hard.Add(-100*time.Millisecond))
	defer cancel()
	e.end, _ = ctx.Deadline()

	var terr error
	e.host, e.port, terr = splitTarget(cfg.Target)
	f.Target = checks.Target{Host: e.host, Port: e.port}
	if terr != nil {
		addErr(f, "target", terr)
	}
	e.probing = !o.SkipProbe && terr == nil
	runGatherers(ctx, e, f, steps(), hard)
	return f
}

// steps are the run's gatherers, in the order their failures are listed,
// each with the gatherers whose results it needs.
func steps() []step {
	return []step{
		{g: versionGatherer{}},
		{g: smbConfGatherer{}, after: []string{versionName}},
		{g: socketsGatherer{}, after: []string{smbConfName}},
		{g: processesGatherer{}, after: []string{smbConfName, socketsName}},
		// The snapshot comes before the probe, whose own failed
		// negotiations smbd logs too.
		{g: logSnapshotGatherer{}, after: []string{smbConfName, processesName}},
		{g: rpcHelpersGatherer{}},
		{g: sharePathGatherer{}, after: []string{smbConfName}},
		{g: scoredFileGatherer{}, after: []string{smbConfName}},
		{g: firewallGatherer{}, after: []string{smbConfName}},
		{g: logsGatherer{}, after: []string{logSnapshotName}},
		{g: netGatherer{}},
		{g: probeGatherer{}, after: []string{smbConfName, logSnapshotName}},
		// The account explains a failed or guest login: with a probe it
		// waits for the probe's answer (probeNeedsAccount).
		{g: accountGatherer{}, after: []string{probeName}},
	}
}

// env is one run's input to every gatherer, and what earlier gatherers
// found that later ones need. The fields below the line are written only
// by commits, before any gatherer that comes after them starts.
type env struct {
	Options
	started     time.Time // Facts.Now
	began       time.Time // the monotonic start of the budgets
	end         time.Time // when every gatherer's context ends
	timeout     time.Duration
	localBudget time.Duration
	run         runFunc // o.Run, each command bounded by cmdTimeout
	host        string
	port        int
	probing     bool
	user        string // the scoring account, read once

	version       smbconf.SambaVersion
	versionSource string
	conf          *smbconf.Config
	params        smbParams
	listeners     []checks.Listener
	master        *checks.Process
	logSources    []logSource
	logSrcErrs    []string
	probeResult   *probe.Result
}

// untilEnd is the deadline of the gatherers that may use the rest of the run.
func (e *env) untilEnd() time.Duration { return time.Until(e.end) }

func (o Options) withDefaults() Options {
	if o.Config == nil {
		o.Config = configs.DefaultConfig()
	}
	if o.ProcRoot == "" {
		o.ProcRoot = "/proc"
	}
	if o.Run == nil {
		o.Run = execRun
	}
	if o.LookPath == nil {
		o.LookPath = exec.LookPath
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// addErr records a failure that is not a gatherer's (the target) as one line.
func addErr(f *checks.Facts, what string, err error) {
	line := strings.Join(strings.Fields(err.Error()), " ")
	f.Errors = append(f.Errors, what+": "+line)
}

// splitTarget reads HOST:PORT.
func splitTarget(t string) (string, int, error) {
	host, p, err := net.SplitHostPort(t)
	if err != nil {
		return t, 445, fmt.Errorf("invalid target %q (want HOST:PORT): %w", t, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return host, 445, fmt.Errorf("invalid target %q: port must be 1-65535", t)
	}
	return host, n, nil
}

func uniqueSorted(xs []int) []int {
	out := make([]int, 0, len(xs))
	for _, x := range xs {
		if x > 0 && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	slices.Sort(out)
	return out
}

// boundedRun gives every command its own deadline (cmdTimeout, or less
// when the run's context ends sooner).
func boundedRun(run runFunc) runFunc {
	return func(ctx context.Context, name string, args ...string) ([]byte, error) {
		cctx, cancel := context.WithTimeout(ctx, cmdTimeout)
		defer cancel()
		out, err := run(cctx, name, args...)
		if err != nil && cctx.Err() != nil && ctx.Err() == nil {
			return out, fmt.Errorf("%w (no answer within %s)", err, cmdTimeout)
		}
		return out, err
	}
}

// execRun runs a command without a shell, in the C locale, and returns
// its stdout (at most maxCmdOutput bytes). A failure carries the first
// line of stderr.
func execRun(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = procenv.ForChild("LC_ALL=C")
	// Do not wait for a grandchild that keeps the pipes open.
	cmd.WaitDelay = 200 * time.Millisecond
	var stdout, stderr capBuffer
	stdout.max, stderr.max = maxCmdOutput, 64<<10
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		if ctx.Err() != nil {
			return stdout.Bytes(), fmt.Errorf("%s: %w", name, ctx.Err())
		}
		if msg := firstLine(stderr.String()); msg != "" {
			return stdout.Bytes(), fmt.Errorf("%s: %w: %s", name, err, msg)
		}
		return stdout.Bytes(), fmt.Errorf("%s: %w", name, err)
	}
	if stdout.over {
		return stdout.Bytes(), fmt.Errorf("%s: output larger than %d bytes", name, maxCmdOutput)
	}
	return stdout.Bytes(), nil
}

// capBuffer keeps at most max bytes and drops the rest.
type capBuffer struct {
	bytes.Buffer
	max  int
	over bool
}

func (b *capBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room < len(p) {
		b.over = true
		if room > 0 {
			b.Buffer.Write(p[:room])
		}
		return len(p), nil
	}
	return b.Buffer.Write(p)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}
