package agent

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/test/harness"
)

// promtool's linter (names, units, _total on counters, help text) finds
// nothing in /metrics with every optional family present: scoring, the
// audit log, a failed round's unknowns.
func TestMetricsPassPromtoolLint(t *testing.T) {
	promtool := harness.Tool(t, "promtool", "prometheus")
	d := benchDaemon(t)
	rec := do(d.Handler(), "GET", "/metrics")
	require.Equal(t, 200, rec.Code)
	body := rec.Body.String()
	for _, family := range []string{"smb_agent_estimated_points_lost_total", "smb_agent_fix_transactions_total",
		"smb_agent_last_success_timestamp_seconds", "smb_agent_pattern_consecutive_rounds", "smb_agent_probe_duration_seconds_bucket"} {
		require.True(t, strings.Contains(body, "\n"+family), "family %s missing", family)
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "promtool check metrics:\n%s", out)
	require.Empty(t, strings.TrimSpace(string(out)))
}
