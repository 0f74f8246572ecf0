package checks

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStatusExitCodesAndNames(t *testing.T) {
	for _, tc := range []struct {
		s    Status
		name string
		code int
	}{{OK, "ok", 0}, {Warning, "warning", 1}, {Critical, "critical", 2}, {Unknown, "unknown", 3}} {
		require.Equal(t, tc.name, tc.s.String())
		require.Equal(t, tc.code, tc.s.ExitCode())
		got, err := ParseStatus(tc.name)
		require.NoError(t, err)
		require.Equal(t, tc.s, got)
	}
	_, err := ParseStatus("fine")
	require.Error(t, err)
}

func TestWorstRanksCriticalAboveUnknown(t *testing.T) {
	require.Equal(t, Critical, Worst(Unknown, Critical))
	require.Equal(t, Critical, Worst(Critical, Unknown))
	require.Equal(t, Unknown, Worst(Warning, Unknown))
	require.Equal(t, Warning, Worst(OK, Warning))
	require.Equal(t, OK, Worst(OK, OK))
}

func TestFinalizeOrdersAndAggregates(t *testing.T) {
	r := &Report{Target: "127.0.0.1:445", Findings: []Finding{
		{Pattern: "smb1-enabled", Severity: Warning, Summary: "SMB1 is on"},
		{Pattern: "protocol-mismatch", Severity: Critical, Summary: "server min SMB3_11 > client max SMB2_02"},
	}}
	r.Finalize()
	require.Equal(t, Critical, r.Status)
	require.Equal(t, "protocol-mismatch", r.Findings[0].Pattern)
	require.Equal(t, "critical: protocol-mismatch: server min SMB3_11 > client max SMB2_02 (+1 more)", r.Headline())

	r = &Report{Target: "t", Errors: []string{"firewall: nft: permission denied"}}
	r.Finalize()
	require.Equal(t, Unknown, r.Status, "an agent error with no finding is unknown")

	r = &Report{Target: "t", Errors: []string{"x"}, Findings: []Finding{{Pattern: "timeout", Severity: Critical}}}
	r.Finalize()
	require.Equal(t, Critical, r.Status, "a known critical finding outranks the agent's own error")
}

func TestReportJSONShape(t *testing.T) {
	live := false
	r := &Report{Target: "127.0.0.1:445", SambaVersion: "4.17.12",
		Dialects: map[string]DialectView{"SMB2_10": {Config: true, Live: &live}},
		Findings: []Finding{{Pattern: "protocol-mismatch", Severity: Critical, Summary: "s", ScoringMessage: "SMB connection failed: protocol error"}}}
	r.Finalize()
	b, err := json.Marshal(r)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	require.Equal(t, "smb-agent/report/v1", m["schema"])
	require.Equal(t, "critical", m["status"])
	require.Equal(t, map[string]any{"config": true, "live": false}, m["dialects"].(map[string]any)["SMB2_10"])
	f := m["findings"].([]any)[0].(map[string]any)
	require.Equal(t, "critical", f["severity"])
	require.Equal(t, "SMB connection failed: protocol error", f["scoring_message"])
}
