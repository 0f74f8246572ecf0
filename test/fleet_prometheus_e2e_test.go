package test

// The fleet view end to end: a real Prometheus (Debian's binary, loopback,
// a free port, its configuration and the shipped rules written by the test
// into a temp dir) scrapes three `agent serve` processes, one per real
// smbd: healthy, `server min protocol = SMB3` (protocol-mismatch) and
// `rpc start on demand helpers = no` (rpc-endpoint-missing; `nt pipe
// support = no` on a release without that parameter). The test then
// asks Prometheus's HTTP API what an operator's Grafana and Alertmanager
// would see.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	promcfg "github.com/smb-agent/smb-agent/configs/prometheus"
	"github.com/smb-agent/smb-agent/fixes"
	"github.com/smb-agent/smb-agent/test/harness"
)

// testRules is the shipped rule file with every non-zero `for:` shortened
// to 2 s. The shipped durations are sized for the default 30 s rounds
// (SmbHostCritical holds 30 s after two critical rounds, SmbAgentDown 90 s
// = three intervals); the agents here run 1 s rounds and Prometheus
// evaluates every second, so 2 s still makes each alert pass through
// "pending" first, and the expressions, the part that decides who is
// alerted, are exactly the shipped ones.
func testRules(t *testing.T) []byte {
	t.Helper()
	re := regexp.MustCompile(`(?m)^(\s+for: )(\d+[smh])\s*$`)
	n := 0
	out := re.ReplaceAllFunc(promcfg.Rules, func(m []byte) []byte {
		sub := re.FindSubmatch(m)
		if string(sub[2]) == "0s" {
			return m
		}
		n++
		return append(append([]byte(nil), sub[1]...), "2s"...)
	})
	require.Greater(t, n, 3, "for: durations templated")
	return out
}

// promServer is a running Prometheus.
type promServer struct {
	base string
	cmd  *exec.Cmd
	logs *lockedBuffer
}

func startPrometheus(t *testing.T, targets []string) *promServer {
	t.Helper()
	bin := harness.Tool(t, "prometheus", "prometheus")
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "rules.yml"), testRules(t), 0o600))
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: smb-agent
    static_configs:
      - targets: [%s]
`, filepath.Join(dir, "rules.yml"), `"`+strings.Join(targets, `", "`)+`"`)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600))
	port, err := harness.FreePort()
	require.NoError(t, err)
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+listen, "--log.level=warn")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + harness.ReleasePath("/usr/sbin:/usr/bin:/sbin:/bin"), "HOME=" + dir}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	p := &promServer{base: "http://" + listen, cmd: cmd, logs: logs}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("prometheus logs:\n%s", tail(logs.String(), 4000))
		}
	})
	waitUntil(t, "prometheus ready", func() (bool, string) {
		select {
		case <-done:
			t.Fatalf("prometheus exited:\n%s", logs.String())
		default:
		}
		resp, err := http.Get(p.base + "/-/ready")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	return p
}

// waitUntil polls cond (every 250 ms) until it holds; after serveWait it
// fails with cond's last explanation.
func waitUntil(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(serveWait)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s: %s", serveWait, what, why)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// query runs an instant query and returns its vector (or scalar as one
// sample).
func (p *promServer) query(t *testing.T, expr string) []promSample {
	t.Helper()
	resp, err := http.Get(p.base + "/api/v1/query?query=" + url.QueryEscape(expr))
	require.NoError(t, err)
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&r))
	require.Equal(t, "success", r.Status, "%s: %s", expr, r.Error)
	var out []promSample
	switch r.Data.ResultType {
	case "vector":
		require.NoError(t, json.Unmarshal(r.Data.Result, &out))
	case "scalar":
		var v [2]any
		require.NoError(t, json.Unmarshal(r.Data.Result, &v))
		out = []promSample{{Value: v}}
	default:
		t.Fatalf("%s: result type %s", expr, r.Data.ResultType)
	}
	return out
}

// firing returns the instances for which alertname fires, sorted.
func (p *promServer) firing(t *testing.T, alertname string) []string {
	t.Helper()
	var out []string
	for i := range p.firingPatterns(t, alertname) {
		out = append(out, i)
	}
	sort.Strings(out)
	return out
}

// firingPatterns returns, per instance, the pattern labels of alertname's
// firing alerts ("" for an alert without one).
func (p *promServer) firingPatterns(t *testing.T, alertname string) map[string][]string {
	t.Helper()
	resp, err := http.Get(p.base + "/api/v1/alerts")
	require.NoError(t, err)
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Alerts []struct {
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
				State       string            `json:"state"`
			} `json:"alerts"`
		} `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&r))
	out := map[string][]string{}
	for _, a := range r.Data.Alerts {
		if a.Labels["alertname"] == alertname && a.State == "firing" {
			out[a.Labels["instance"]] = append(out[a.Labels["instance"]], a.Labels["pattern"])
			require.True(t, strings.HasPrefix(a.Annotations["runbook_url"], "http://"+a.Labels["instance"]+"/"),
				"runbook link to the host's page: %v", a.Annotations)
		}
	}
	return out
}

func sampleValue(s promSample) string { return fmt.Sprint(s.Value[1]) }

func TestFleetOnPrometheus(t *testing.T) {
	begin := time.Now()
	harness.Tool(t, "prometheus", "prometheus")
	promtool := harness.Tool(t, "promtool", "prometheus")
	base := harness.Config{
		Users:  []harness.User{{Name: probeUser, Password: probePass}},
		Shares: []harness.Share{{Name: "data"}},
	}
	rpcOffLine, _ := rpcOffScenario(t)
	hosts := []struct {
		name   string
		global []string
	}{
		{"healthy", nil},
		{"protocol-mismatch", []string{"server min protocol = SMB3"}},
		{"rpc-endpoint-missing", []string{rpcOffLine}},
	}
	instance := map[string]string{}
	var targets []string
	var audits []string
	var agents []*served
	for _, h := range hosts {
		cfg := base
		cfg.Global = h.global
		s := harness.StartT(t, cfg)
		audit := filepath.Join(t.TempDir(), "audit.jsonl")
		sv := startServe(t, s, "logs:\n  journal: false\nfix:\n  audit_log: "+audit+
			"\nserve:\n  scoring:\n    points_per_check: 4.2\n    check_interval: 1m\n")
		inst := strings.TrimPrefix(sv.base, "http://")
		instance[h.name] = inst
		targets = append(targets, inst)
		audits = append(audits, audit)
		agents = append(agents, sv)
	}

	// What Prometheus scrapes passes promtool's lint: names, units,
	// counters' _total, help text.
	for i, sv := range agents {
		code, body := sv.get(t, "/metrics")
		require.Equal(t, 200, code)
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(body)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "promtool check metrics on %s's /metrics:\n%s", hosts[i].name, out)
		require.Empty(t, strings.TrimSpace(string(out)), "promtool check metrics on %s's /metrics", hosts[i].name)
	}

	p := startPrometheus(t, targets)
	hit := func(pattern string) string {
		s := p.query(t, fmt.Sprintf(`pattern:smb_agent_hosts_hit:sum{pattern=%q}`, pattern))
		if len(s) != 1 {
			return fmt.Sprintf("%d series", len(s))
		}
		return sampleValue(s[0])
	}
	waitUntil(t, "hosts hit: 1 for protocol-mismatch, 1 for rpc-endpoint-missing", func() (bool, string) {
		a, b := hit("protocol-mismatch"), hit("rpc-endpoint-missing")
		return a == "1" && b == "1", "protocol-mismatch " + a + ", rpc-endpoint-missing " + b
	})
	broken := []string{instance["protocol-mismatch"], instance["rpc-endpoint-missing"]}
	sort.Strings(broken)
	waitUntil(t, "SmbHostCritical firing for the two broken hosts", func() (bool, string) {
		got := p.firing(t, "SmbHostCritical")
		return fmt.Sprint(got) == fmt.Sprint(broken), fmt.Sprintf("firing for %v, want %v", got, broken)
	})
	// Each broken host is alerted for its own pattern, with a link to that
	// pattern's section of its page.
	patterns := p.firingPatterns(t, "SmbHostCritical")
	require.Contains(t, patterns[instance["protocol-mismatch"]], "protocol-mismatch", "%v", patterns)
	require.Contains(t, patterns[instance["rpc-endpoint-missing"]], "rpc-endpoint-missing", "%v", patterns)
	// Points are being missed on both patterns, and nowhere else.
	for _, pat := range []string{"protocol-mismatch", "rpc-endpoint-missing"} {
		waitUntil(t, "points missed for "+pat, func() (bool, string) {
			s := p.query(t, fmt.Sprintf(`pattern:smb_agent_estimated_points_lost:sum{pattern=%q} > 0`, pat))
			return len(s) == 1, fmt.Sprintf("%v", s)
		})
	}
	// The healthy host's series appears with the rule's next evaluation,
	// which may come after the broken hosts' (seen once under load).
	var s []promSample
	waitUntil(t, "the healthy host's points series", func() (bool, string) {
		s = p.query(t, `instance:smb_agent_estimated_points_lost:sum{instance=`+fmt.Sprintf("%q", instance["healthy"])+`}`)
		return len(s) == 1, fmt.Sprintf("%v", s)
	})
	require.Equal(t, "0", sampleValue(s[0]), "the healthy host misses no points")
	status := func(name string) string {
		s := p.query(t, fmt.Sprintf(`instance:smb_agent_status:max{instance=%q}`, instance[name]))
		require.Len(t, s, 1)
		return sampleValue(s[0])
	}
	require.Equal(t, "0", status("healthy"))
	require.Equal(t, "2", status("protocol-mismatch"))
	require.Equal(t, "2", status("rpc-endpoint-missing"))
	require.Equal(t, "3", sampleValue(p.query(t, `job:smb_agent_hosts:count`)[0]))

	// A fix transaction recorded by `agent fix` (its audit log, appended
	// as fixes does) reaches Prometheus as an alert, for that host only.
	rec, err := json.Marshal(fixes.AuditRecord{Time: time.Now().UTC(), Op: "apply", User: "root",
		Fixes: []string{"protocol-mismatch"}, Result: fixes.ResultApplied})
	require.NoError(t, err)
	f, err := os.OpenFile(audits[1], os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	require.NoError(t, err)
	_, err = f.Write(append(rec, '\n'))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	waitUntil(t, "SmbFixApplied firing for the host whose audit log grew", func() (bool, string) {
		got := p.firing(t, "SmbFixApplied")
		return fmt.Sprint(got) == fmt.Sprint([]string{instance["protocol-mismatch"]}), fmt.Sprintf("firing for %v", got)
	})

	// Every expression of the Grafana dashboard returns data.
	exprs, err := promcfg.DashboardExpressions(promcfg.Dashboard)
	require.NoError(t, err)
	waitUntil(t, "every dashboard expression returns data", func() (bool, string) {
		var empty []string
		for _, e := range exprs {
			if len(p.query(t, e)) == 0 {
				empty = append(empty, e)
			}
		}
		return len(empty) == 0, fmt.Sprintf("no data for %q", empty)
	})
	// The critical alert still names exactly the two broken hosts.
	require.Equal(t, broken, p.firing(t, "SmbHostCritical"))
	t.Logf("fleet on Prometheus: %d dashboard expressions answered; %.1f s", len(exprs), time.Since(begin).Seconds())
}
