package prometheus

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/smb-agent/smb-agent/test/harness"
)

// promtool (Debian's prometheus package) checks the rules and runs their
// unit tests, rules_test.yml.
func TestRulesPassPromtool(t *testing.T) {
	promtool := harness.Tool(t, "promtool", "prometheus")
	for _, args := range [][]string{
		{"check", "rules", RulesFile},
		{"test", "rules", "rules_test.yml"},
	} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		require.NoError(t, err, "promtool %s:\n%s", strings.Join(args, " "), out)
		t.Logf("promtool %s: %s", strings.Join(args, " "), strings.TrimSpace(string(out)))
	}
}

// Every recording rule is evaluated by a promql_expr_test, every alert by
// an alert_rule_test.
func TestEveryRuleHasAUnitTest(t *testing.T) {
	var rules struct {
		Groups []struct {
			Rules []struct {
				Record string `yaml:"record"`
				Alert  string `yaml:"alert"`
				For    string `yaml:"for"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	require.NoError(t, yaml.Unmarshal(Rules, &rules))
	b, err := os.ReadFile("rules_test.yml")
	require.NoError(t, err)
	var tests struct {
		Tests []struct {
			Promql []struct {
				Expr string `yaml:"expr"`
			} `yaml:"promql_expr_test"`
			Alerts []struct {
				Alertname string `yaml:"alertname"`
				Exp       []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	require.NoError(t, yaml.Unmarshal(b, &tests))
	exprs := map[string]bool{}
	fires := map[string]bool{}
	quiet := map[string]bool{}
	for _, tc := range tests.Tests {
		for _, p := range tc.Promql {
			exprs[strings.TrimSpace(p.Expr)] = true
		}
		for _, a := range tc.Alerts {
			if len(a.Exp) > 0 {
				fires[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			switch {
			case r.Record != "":
				require.True(t, exprs[r.Record], "recording rule %s has no promql_expr_test", r.Record)
			case r.Alert != "":
				require.NotEmpty(t, r.For, "alert %s has no for: duration", r.Alert)
				require.True(t, fires[r.Alert], "alert %s: no test where it fires", r.Alert)
				require.True(t, quiet[r.Alert], "alert %s: no test where it stays quiet", r.Alert)
			}
		}
	}
	require.Greater(t, n, 10)
	require.Contains(t, string(Rules), "runbook_url: \"http://{{ $labels.instance }}/#pattern-{{ $labels.pattern }}\"")
}

// The dashboard is provisioning-ready: no numeric id, a fixed uid, the
// datasource a variable that every panel and query uses.
func TestDashboardIsProvisioningReady(t *testing.T) {
	var d map[string]any
	require.NoError(t, json.Unmarshal(Dashboard, &d))
	require.NotContains(t, d, "id")
	require.Equal(t, "smb-agent-fleet", d["uid"])
	vars := d["templating"].(map[string]any)["list"].([]any)
	require.Equal(t, "datasource", vars[0].(map[string]any)["type"])
	require.Equal(t, "prometheus", vars[0].(map[string]any)["query"])
	for _, p := range d["panels"].([]any) {
		panel := p.(map[string]any)
		require.Equal(t, "${datasource}", panel["datasource"].(map[string]any)["uid"], "panel %v", panel["title"])
		for _, tg := range panel["targets"].([]any) {
			require.Equal(t, "${datasource}", tg.(map[string]any)["datasource"].(map[string]any)["uid"], "panel %v", panel["title"])
		}
	}
	exprs, err := DashboardExpressions(Dashboard)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(exprs), 10)
	// The seed's page for the fleet: status per host, hosts hit per
	// pattern, points missed, top patterns.
	all := strings.Join(exprs, "\n")
	for _, want := range []string{"instance:smb_agent_status:max", "pattern:smb_agent_hosts_hit:sum",
		"pattern:smb_agent_estimated_points_lost:sum", "topk("} {
		require.Contains(t, all, want)
	}
}
