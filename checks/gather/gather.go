package gather

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
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
	// maxLocalBudget bounds loading smb.conf (with the version commands),
	// and then reading /proc, each (a quarter of the timeout when that is
	// less): both take milliseconds, but a hung NFS mount or a wedged
	// smbd --version must not eat the probe's time.
	maxLocalBudget = 1500 * time.Millisecond
	// cmdTimeout bounds each external command (nft, iptables-save,
	// journalctl, smbd --version).
	cmdTimeout = 2 * time.Second
	// maxCmdOutput caps what one command may print (a huge nft set).
	maxCmdOutput = 32 << 20
)

// Gather collects every fact of one run. It never returns nil and never
// panics: a gatherer that fails records its error in its own Err field and
// in Facts.Errors. smb.conf and the Samba version come first (the others
// need `pid directory`, `log file`, `log level`, `smb ports`); then
// sockets and processes (from /proc) and a snapshot of the log files' sizes;
// then the firewall, the logs and the probe run concurrently. The logs are
// read only up to the snapshot, so the probe's own failed negotiations are
// never taken for a client's. Gather returns within the configured timeout
// plus gatherMargin even if a tool hangs.
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
	// Gatherers still running when Gather returns must not write into f:
	// commit drops their results once closed is set (also on a panic).
	var mu sync.Mutex
	closed := false
	defer func() {
		r := recover()
		mu.Lock()
		defer mu.Unlock()
		closed = true
		if r != nil {
			f.Errors = append(f.Errors, fmt.Sprintf("gather: internal error: %v", r))
		}
	}()
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = probe.DefaultTimeout
	}
	began := time.Now()
	hard := began.Add(timeout + gatherMargin)
	ctx, cancel := context.WithDeadline(ctx, hard.Add(-100*time.Millisecond))
	defer cancel()
	run := boundedRun(o.Run)
	localBudget := min(maxLocalBudget, timeout/4)

	// Target.
	host, port, terr := splitTarget(cfg.Target)
	f.Target = checks.Target{Host: host, Port: port}
	if terr != nil {
		addErr(f, "target", terr)
	}

	// Concurrent gatherers: each commits its result under mu.
	var wg sync.WaitGroup
	commit := func(fn func()) {
		mu.Lock()
		defer mu.Unlock()
		if !closed {
			fn()
		}
	}
	spawn := func(name string, fn func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					commit(func() {
						f.Errors = append(f.Errors, fmt.Sprintf("%s: internal error: %v: %s", name, r, firstStackLine(debug.Stack())))
					})
				}
			}()
			fn()
		}()
	}

	// 1. Samba version and smb.conf.
	type confResult struct {
		version   smbconf.SambaVersion
		source    string
		verErr    error
		config    *smbconf.Config
		configErr error
		files     []checks.FileStat
	}
	localCtx, localCancel := context.WithTimeout(ctx, localBudget)
	cr, ok := within(localCtx, func() confResult {
		var r confResult
		// A wedged version command leaves a third of the budget to load
		// smb.conf with the generated table's defaults.
		vctx, vcancel := context.WithTimeout(localCtx, localBudget*2/3)
		r.version, r.source, r.verErr = resolveVersion(vctx, cfg, run, o.LookPath, o.VersionCache)
		vcancel()
		r.config, r.configErr = loadSmbConf(cfg.SMBConf, r.version)
		files := []string{cfg.SMBConf}
		if r.config != nil {
			files = r.config.Files()
		}
		r.files = statFiles(files)
		return r
	})
	localCancel()
	if !ok {
		addErr(f, "smb.conf", fmt.Errorf("loading %s and detecting the Samba version did not finish within %s", cfg.SMBConf, localBudget))
		f.ConfigErr = errors.New("not loaded: timed out")
	} else {
		f.SambaVersion, f.SambaVersionSource = cr.version, cr.source
		if cr.verErr != nil {
			addErr(f, "samba version", cr.verErr)
		}
		f.Config, f.ConfigErr, f.ConfigFiles = cr.config, cr.configErr, cr.files
		if cr.configErr != nil {
			addErr(f, "smb.conf", cr.configErr)
		}
	}
	params := paramsOf(f.Config)

	// 2. Sockets, processes, the log snapshot: /proc and stat only.
	sockPorts := uniqueSorted(append([]int{port}, params.SMBPorts...))
	type hostResult struct {
		sockets checks.SocketFacts
		smbd    checks.SmbdFacts
		sources []logSource
		srcErrs []string
		globs   []string
		helpers []checks.BinaryFacts
		share   *checks.FileStat
		file    *checks.ScoredFileFacts
	}
	localCtx, localCancel = context.WithTimeout(ctx, localBudget)
	hr, ok := within(localCtx, func() hostResult {
		var r hostResult
		r.sockets = gatherSockets(o.ProcRoot, sockPorts)
		r.smbd = gatherProcesses(procInput{
			Root:       o.ProcRoot,
			Now:        o.Now(),
			PIDFile:    pickPIDFile(pidFilePaths(params.PIDDir, cfg.SMBConf)),
			TargetPort: port,
			Listeners:  r.sockets.Listeners,
			ConfPath:   cfg.SMBConf,
		})
		var args []string
		if r.smbd.Master != nil {
			args = r.smbd.Master.Args
		}
		r.globs = logGlobs(logSourceInput{LogFile: params.LogFile, SmbdArgs: args, Extra: cfg.Logs.Paths})
		r.sources, r.srcErrs = snapshotLogs(r.globs, f.Now, cfg.Logs.Since)
		r.helpers = gatherRPCHelpers(rpcHelperDir)
		r.share = gatherSharePath(f.Config, cfg.Share)
		r.file = gatherScoredFile(f.Config, cfg.Share, cfg.File.Path, cfg.Credentials.User)
		return r
	})
	localCancel()
	if !ok {
		msg := fmt.Sprintf("reading %s did not finish within %s", o.ProcRoot, localBudget)
		hr.sockets = checks.SocketFacts{Listeners: []checks.Listener{}, Err: msg}
		hr.smbd = checks.SmbdFacts{Err: msg}
	}
	f.Sockets, f.Smbd = hr.sockets, hr.smbd
	f.RPCHelpers, f.SharePath, f.ScoredFile = hr.helpers, hr.share, hr.file
	if f.Sockets.Err != "" {
		addErr(f, "sockets", errors.New(f.Sockets.Err))
	}
	if f.Smbd.Err != "" {
		addErr(f, "processes", errors.New(f.Smbd.Err))
	}

	// 3. The probe, as soon as the log snapshot is taken (so that the
	// probe's own lines in smbd's log are never read as a client's), and
	// the firewall, the logs and the account concurrently with it. The
	// probe gets what is left of the configured timeout, so that the run
	// as a whole stays within it (plus the margins).
	probing := !o.SkipProbe && terr == nil
	accountSkipped := false
	user := f.User // read once: the caller may fill f.User after Gather returns
	lookupAccount := func() {
		a := gatherAccount(ctx, user, cfg.SMBConf, f.Now, run, o.LookPath)
		commit(func() { f.Account = a })
	}
	if probing {
		budget := timeout - time.Since(began)
		if budget < timeout/2 {
			budget = timeout / 2
		}
		popts := probeOptions(cfg, o.Clients, o.Password, port, params.SMBPorts, budget)
		popts.CarryNT1 = carryNT1(o.Previous, o.ProcRoot, f.Now)
		spawn("probe", func() {
			r := probe.Run(ctx, host, popts)
			commit(func() { f.Probe = r })
			if user == "" {
				return
			}
			// The account lookup (pdbedit, a Samba binary start that costs
			// about what a whole smbclient -L does) only explains a failed
			// or guest login: it runs only when the probe found something
			// wrong (probeNeedsAccount).
			if !probeNeedsAccount(r) {
				commit(func() { accountSkipped = true })
				return
			}
			lookupAccount()
		})
	}
	late := func(what string) string {
		return fmt.Sprintf("%s did not finish within the run's %s budget", what, timeout+gatherMargin)
	}
	f.Firewall = checks.FirewallFacts{Tools: []string{}, Rules: []checks.FirewallRule{}, Err: late("reading the firewall")}
	f.Logs = checks.LogFacts{Sources: []string{}, Lines: []checks.LogLine{}, Offers: []checks.ClientOffer{}, Err: late("reading the logs")}
	fwPorts := uniqueSorted(append([]int{445, 139, port}, params.SMBPorts...))
	spawn("firewall", func() {
		fw := gatherFirewall(ctx, fwInput{Ports: fwPorts, Run: run, LookPath: o.LookPath, ProcRoot: o.ProcRoot, ReadFile: os.ReadFile})
		commit(func() { f.Firewall = fw })
	})
	spawn("network", func() {
		n := gatherNet(ctx, cfg.RemoteClientIP, run, o.LookPath)
		commit(func() { f.Net = n })
	})
	// Without a probe, the account is looked up unconditionally.
	if f.User != "" && !probing {
		spawn("account", lookupAccount)
	}
	var masterArgs []string
	if f.Smbd.Master != nil {
		masterArgs = f.Smbd.Master.Args
	}
	spawn("logs", func() {
		lf := gatherLogs(ctx, logInput{
			Sources:  hr.sources,
			Started:  f.Now,
			Since:    cfg.Logs.Since,
			MaxBytes: cfg.Logs.MaxBytes,
			Level: logLevelInput{
				SmbdArgs: masterArgs,
				Conf:     params.LogLevel,
				ConfSet:  params.LogLevelSet,
				ConfAt:   params.LogLevelAt,
			},
			Journal:   cfg.Logs.Journal,
			NoJournal: func() bool { return noJournalFiles(journalDirs) },
			Run:       run,
			LookPath:  o.LookPath,
		})
		if len(hr.srcErrs) > 0 {
			lf.Err = strings.Join(append(hr.srcErrs, lf.Err), "; ")
			lf.Err = strings.TrimSuffix(lf.Err, "; ")
		}
		commit(func() { f.Logs = lf })
	})
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Until(hard)):
	}
	mu.Lock()
	defer mu.Unlock()
	closed = true
	if f.Firewall.Err != "" {
		addErr(f, "firewall", errors.New(f.Firewall.Err))
	}
	if f.Logs.Err != "" {
		addErr(f, "logs", errors.New(f.Logs.Err))
	}
	if f.Net == nil {
		addErr(f, "network", errors.New(late("reading the interfaces")))
	} else if f.Net.Err != "" {
		addErr(f, "network", errors.New(f.Net.Err))
	}
	if f.User != "" && f.Account == nil && !accountSkipped {
		addErr(f, "account", errors.New(late("looking up "+f.User)))
	} else if f.Account != nil && f.Account.Err != "" {
		addErr(f, "account", errors.New(f.Account.Err))
	}
	if !o.SkipProbe && terr == nil && f.Probe == nil {
		addErr(f, "probe", errors.New(late("the probe run")))
	}
	return f
}

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

// addErr records a gatherer's failure as one line.
func addErr(f *checks.Facts, what string, err error) {
	line := strings.Join(strings.Fields(err.Error()), " ")
	f.Errors = append(f.Errors, what+": "+line)
}

// within runs fn and waits for it until ctx ends; on timeout it returns
// the zero value and false (fn goes on in the background and its result is
// dropped).
func within[T any](ctx context.Context, fn func() T) (T, bool) {
	ch := make(chan T, 1)
	panicked := make(chan any, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				panicked <- r
			}
		}()
		ch <- fn()
	}()
	var zero T
	select {
	case v := <-ch:
		return v, true
	case r := <-panicked:
		panic(r) // re-raised in the caller, where Gather recovers it
	case <-ctx.Done():
		// A result that arrived at the same moment still counts.
		select {
		case v := <-ch:
			return v, true
		default:
		}
		return zero, false
	}
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

func firstStackLine(st []byte) string {
	for _, l := range strings.Split(string(st), "\n") {
		l = strings.TrimSpace(l)
		if strings.Contains(l, "smb-agent/") && strings.Contains(l, ".go:") && !strings.Contains(l, "gather.go") {
			return l
		}
	}
	return ""
}

// probeNeedsAccount: the account facts (passdb flags, Unix account) explain
// a login that failed or fell back to guest, and what followed from it
// (IPC$, shares); a clean probe run with a real login needs none.
func probeNeedsAccount(r *probe.Result) bool {
	if r == nil || r.Login == nil || !r.Login.OK() || r.Login.Guest || r.Login.Anonymous {
		return true
	}
	return len(r.Failures()) > 0
}
