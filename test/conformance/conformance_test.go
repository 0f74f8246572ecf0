package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/smb-agent/smb-agent/checks"
	"github.com/smb-agent/smb-agent/configs"
	"github.com/smb-agent/smb-agent/configs/smbconf"
	"github.com/smb-agent/smb-agent/test/harness"
)

// The suite's knobs, from the environment (make conformance sets them):
// CONFORMANCE=full runs every case × client; otherwise the subset marked
// in cases.go and clients.go runs (what `make test` runs).
// CONFORMANCE_PARALLEL bounds how many cases (smbd sandboxes) run at once.
// CONFORMANCE_CASES, a regular expression, runs only the cases whose name
// it matches (to re-run one disagreement); a filtered run reports no entry
// of KNOWN_DIFFERENCES stale whose pairs it did not run.
const (
	envMode     = "CONFORMANCE"
	envParallel = "CONFORMANCE_PARALLEL"
	envCases    = "CONFORMANCE_CASES"
)

const (
	probeUser   = "root"
	probePass   = "Conf0rmance-pw"
	wrongPass   = "not-the-password"
	scoredFile  = "flag.txt"
	fileContent = "scored content\n"
	// clientTimeout bounds each network operation of each client and of
	// the agent: what a scorer waits (5 s, the scoring engine's limit).
	// Shorter, a loaded 2-core host makes the agent's probes time out.
	clientTimeout = 5 * time.Second
)

var (
	agentBin      string
	agentBuildErr error
)

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "smbagent-conformance-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance: temp dir:", err)
		os.Exit(1)
	}
	if !testing.Short() {
		agentBin, agentBuildErr = harness.BuildAgent(dir)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// requireTools fails (in CI) or skips (elsewhere) when a real client or
// smbd is missing: a missing tool never passes silently in CI.
func requireTools(t *testing.T) {
	t.Helper()
	var missing []string
	if why := harness.Available(); why != "" {
		missing = append(missing, why)
	}
	if _, err := exec.LookPath("smbclient"); err != nil {
		missing = append(missing, "smbclient (apt-get install smbclient)")
	}
	if err := exec.Command(PythonWithImpacket, "-c", "import impacket.smbconnection").Run(); err != nil {
		missing = append(missing, PythonWithImpacket+" with impacket (apt-get install python3-impacket)")
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("conformance needs: %s", strings.Join(missing, "; "))
	}
	t.Skipf("conformance needs: %s", strings.Join(missing, "; "))
}

// agentConfig writes the agent's config file: the custom profiles of the
// client configurations as `clients:` entries.
func agentConfig(t *testing.T, cls []Client) string {
	var custom []configs.ClientProfile
	for _, c := range cls {
		if c.Custom != nil {
			custom = append(custom, *c.Custom)
		}
	}
	doc := map[string]any{"logs": map[string]any{"journal": false}, "clients": custom}
	b, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatalf("agent config: %v", err)
	}
	p := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatalf("agent config: %v", err)
	}
	return p
}

// predict runs `agent diagnose --json --client P` for client c.
func predict(ctx context.Context, cfgFile string, s *harness.Smbd, c Client, tg Target) (Prediction, string) {
	args := []string{"diagnose", "--config", cfgFile, "--json", "--smb-conf", s.ConfPath(),
		"--target", tg.addr(), "--share", tg.Share, "--file", tg.File, "--file-sha256", tg.SHA256,
		"--timeout", tg.Timeout.String(), "--client", c.Profile}
	if c.Anonymous {
		args = append(args, "--guest")
	} else {
		args = append(args, "--user", tg.User)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*tg.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, agentBin, args...)
	// The test's PATH: with SAMBA_RELEASE it starts with that release's
	// smbd/testparm wrappers, which the agent must read its defaults from.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + tg.Dir}
	if tg.AgentCache != "" {
		cmd.Env = append(cmd.Env, "CACHE_DIRECTORY="+tg.AgentCache)
	}
	if !c.Anonymous {
		cmd.Env = append(cmd.Env, configs.EnvPassword+"="+tg.Password)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	_ = cmd.Run()
	if ctx.Err() != nil {
		return Prediction{Failed: "agent-hung"}, "agent hung"
	}
	var rep checks.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		return Prediction{Failed: "agent-error"}, fmt.Sprintf("exit %d: %s", cmd.ProcessState.ExitCode(), lastLine(errb.String()))
	}
	return Predict(&rep, c.Profile), ""
}

// gathererDeadline is how the agent reports a gatherer that passed its
// budget ("could not read X: did not finish within 1.25s",
// checks/gather/gather.go).
const gathererDeadline = "did not finish within"

// runCase starts one smbd for the case and runs every client and the
// agent's prediction for it.
func runCase(ctx context.Context, t *testing.T, cs Case, cls []Client, cfgFile, agentCache string, release smbconf.SambaVersion) []Row {
	var rows []Row
	fail := func(detail string) []Row {
		for _, c := range cls {
			if cs.Runs(c.Name) {
				rows = append(rows, Row{Case: cs.Name, Client: c.Name, Profile: c.Profile,
					Outcome: Outcome{Failed: "error", Detail: detail}, Prediction: Prediction{Failed: "not-run"}, Verdict: Broken})
			}
		}
		return rows
	}
	work, err := os.MkdirTemp("", "smbagent-conformance-")
	if err != nil {
		return fail(err.Error())
	}
	defer os.RemoveAll(work)
	cfg, err := cs.Config(work, harness.User{Name: probeUser, Password: probePass})
	if err != nil {
		return fail(err.Error())
	}
	s, err := harness.Start(cfg)
	if err != nil {
		return fail("start smbd: " + err.Error())
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Errorf("%s: stop smbd: %v", cs.Name, err)
		}
	}()
	tg := Target{Host: "127.0.0.1", Port: s.Port(), Share: "data", File: scoredFile, User: probeUser,
		Password: probePass, SHA256: sum([]byte(fileContent)), Timeout: clientTimeout, Dir: work, AgentCache: agentCache, Release: release}
	if cs.WrongPassword {
		tg.Password = wrongPass
	}
	if err := os.WriteFile(filepath.Join(s.SharePath("data"), scoredFile), []byte(fileContent), 0o644); err != nil {
		return fail(err.Error())
	}
	// The first srvsvc call after smbd starts races samba-dcerpcd's start
	// (STATUS_PENDING interim replies that go-smb2 rejects when signing
	// is on): warm it once, so that every client meets the server a
	// scorer meets, which has served a round before. Cases where listing
	// cannot work just spend the short wait.
	_ = s.WarmRPC(harness.User{Name: probeUser, Password: probePass}, 2*time.Second)
	if cs.After != nil {
		if err := cs.After(s, &tg); err != nil {
			return fail("after start: " + err.Error())
		}
	}
	for _, c := range cls {
		if !cs.Runs(c.Name) {
			continue
		}
		o := c.Run(ctx, tg)
		p, perr := predict(ctx, cfgFile, s, c, tg)
		// On a 2-core host loaded by other work a local gatherer can pass
		// its budget (a quarter of the timeout); the agent then says
		// unknown, as it must. The suite compares verdicts, so it asks
		// once more, as serve's next round would, and counts the retry in
		// the table: an unknown that repeats stays a disagreement.
		retried := false
		if perr == "" && p.Failed == StepUnknown && strings.Contains(p.Pattern, gathererDeadline) {
			p, perr = predict(ctx, cfgFile, s, c, tg)
			retried = true
		}
		if perr != "" {
			p.Pattern = perr
		}
		rows = append(rows, Row{Case: cs.Name, Client: c.Name, Profile: c.Profile, Outcome: o, Prediction: p, Verdict: Compare(o, p), Retried: retried})
	}
	return rows
}

// TestConformance is the suite: every case × client, the table, the
// agreement line; every disagreement must be listed in KNOWN_DIFFERENCES.
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("conformance starts real smbd instances; not in -short mode")
	}
	requireTools(t)
	if agentBin == "" {
		t.Fatalf("agent binary: %v", agentBuildErr)
	}
	// A run asked for another release must not pass against this one: the
	// harness puts SAMBA_RELEASE's smbd first on PATH where it supports
	// the release matrix; check that the smbd found is that release.
	if rel := os.Getenv("SAMBA_RELEASE"); rel != "" {
		if v := smbdVersion(); !strings.HasPrefix(v, "smbd Version "+rel+".") {
			t.Fatalf("SAMBA_RELEASE=%s but the smbd on PATH is %q", rel, v)
		}
	}
	// The release the cases run against decides how each case is spelled
	// and which KNOWN_DIFFERENCES entries hold.
	release, err := smbconf.ParseSambaVersion(strings.TrimPrefix(smbdVersion(), "smbd "))
	if err != nil {
		t.Fatalf("release of the smbd on PATH: %v", err)
	}
	full := os.Getenv(envMode) == "full"
	par := 2
	if v, err := strconv.Atoi(os.Getenv(envParallel)); err == nil && v > 0 {
		par = v
	}
	f, err := os.Open("KNOWN_DIFFERENCES")
	if err != nil {
		t.Fatalf("KNOWN_DIFFERENCES: %v", err)
	}
	known, err := ParseKnownDifferences(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}

	var only *regexp.Regexp
	if v := os.Getenv(envCases); v != "" {
		if only, err = regexp.Compile(v); err != nil {
			t.Fatalf("%s: %v", envCases, err)
		}
	}
	var cases []Case
	var notApplicable []string
	for _, c := range Cases() {
		if !(full || c.Subset) || (only != nil && !only.MatchString(c.Name)) {
			continue
		}
		rc, na := c.ForRelease(release)
		if na != "" {
			notApplicable = append(notApplicable, fmt.Sprintf("%s (%s)", c.Name, na))
			continue
		}
		cases = append(cases, rc)
	}
	var cls []Client
	for _, c := range Clients() {
		if full || c.Subset {
			cls = append(cls, c)
		}
	}
	cfgFile := agentConfig(t, Clients())
	agentCache := t.TempDir()

	start := time.Now()
	results := make([][]Row, len(cases))
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	ctx := context.Background()
	for i, cs := range cases {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			results[i] = runCase(ctx, t, cs, cls, cfgFile, agentCache, release)
		}()
	}
	wg.Wait()
	wall := time.Since(start)

	var rows []Row
	var b strings.Builder
	fmt.Fprintf(&b, "%-31s %-22s %-8s %-9s %-62s %s\n", "CASE", "CLIENT", "FAILED", "STATUS", "AGENT: FAILS AT (pattern/cause)", "VERDICT")
	for _, rs := range results {
		for _, r := range rs {
			MarkSeen(known, release, r.Case, r.Client)
			if r.Verdict != Agree {
				r.Known = Explain(known, release, r.Case, r.Client)
			}
			rows = append(rows, r)
			fmt.Fprintln(&b, r.String())
		}
	}
	sm := Summarize(rows)
	mode := "subset"
	if full {
		mode = "full"
	}
	fmt.Fprintf(&b, "%s\n", sm.Line())
	fmt.Fprintf(&b, "conformance: against %s (SAMBA_RELEASE=%q); clients: %s, impacket %s, go-smb2 in process\n",
		smbdVersion(), os.Getenv("SAMBA_RELEASE"), smbclientVersion(), impacketVersion())
	for _, na := range notApplicable {
		fmt.Fprintf(&b, "conformance: not applicable on %s: %s\n", release.Series(), na)
	}
	fmt.Fprintf(&b, "conformance: %s run, %d cases x %d client configurations, %d wrong-step, %d agent runs repeated after a gatherer deadline, wall time %.1fs (parallel %d)\n",
		mode, len(cases), len(cls), sm.WrongStep, sm.Retried, wall.Seconds(), par)
	fmt.Print(b.String())

	for _, r := range rows {
		if r.Verdict == Agree {
			continue
		}
		if r.Known != nil {
			t.Logf("known difference %s × %s (KNOWN_DIFFERENCES:%d): %s", r.Case, r.Client, r.Known.Line, r.Known.Reason)
			continue
		}
		t.Errorf("%s × %s: client %s (%s), agent %s (%s/%s, status %s): not in KNOWN_DIFFERENCES",
			r.Case, r.Client, r.Outcome.Failed, r.Outcome.Detail, r.Prediction.Failed, r.Prediction.Pattern, r.Prediction.Cause, r.Prediction.Status)
	}
	for _, k := range Stale(known) {
		t.Errorf("KNOWN_DIFFERENCES:%d (%s | %s) is stale: every pair it covers agreed in this run", k.Line, k.Case, k.Client)
	}
}

// smbclientVersion is the smbclient the smbclient configurations ran: the
// release's own under SAMBA_RELEASE (its wrapper is first on PATH).
func smbclientVersion() string {
	out, err := exec.Command("smbclient", "--version").Output()
	if err != nil {
		return "smbclient (version unknown: " + err.Error() + ")"
	}
	return "smbclient " + strings.TrimSpace(string(out))
}

// impacketVersion is the host's impacket (Debian's python3-impacket): a
// client library, not part of a Samba release.
func impacketVersion() string {
	out, err := exec.Command(PythonWithImpacket, "-c", "from impacket import version; print(version.BANNER.split()[1])").Output()
	if err != nil {
		return "(version unknown: " + err.Error() + ")"
	}
	return strings.TrimSpace(string(out))
}

// smbdVersion is what the smbd on PATH says it is: the release the cases
// really ran against.
func smbdVersion() string {
	out, err := exec.Command("smbd", "--version").Output()
	if err != nil {
		return "smbd (version unknown: " + err.Error() + ")"
	}
	return "smbd " + strings.TrimSpace(string(out))
}
