package conformance

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks"
)

func TestPredictTakesTheEarliestFailingStepOfTheClient(t *testing.T) {
	r := &checks.Report{Status: checks.Critical, Findings: []checks.Finding{
		{Pattern: "rpc-endpoint-missing", Cause: "nt-pipe-support-off", Severity: checks.Critical},
		{Pattern: "protocol-mismatch", Cause: "server-min-above-client-max", Severity: checks.Critical, Client: "other"},
		{Pattern: "protocol-mismatch", Cause: "encryption-required", Severity: checks.Critical, Client: "me"},
		{Pattern: "smb1-enabled", Severity: checks.Warning},
	}}
	p := Predict(r, "me")
	require.Equal(t, StepLogin, p.Failed)
	require.Equal(t, "encryption-required", p.Cause)
	// Another client's mismatch is not this client's.
	p = Predict(r, "third")
	require.Equal(t, StepList, p.Failed)

	// A warning alone predicts success; unknown never does.
	require.True(t, Predict(&checks.Report{Status: checks.Warning, Findings: []checks.Finding{{Pattern: "smb1-enabled", Severity: checks.Warning}}}, "me").OK())
	require.Equal(t, StepUnknown, Predict(&checks.Report{Status: checks.Unknown}, "me").Failed)
	// Critical with no finding that names a step is not success either.
	require.Equal(t, StepUnknown, Predict(&checks.Report{Status: checks.Critical,
		Findings: []checks.Finding{{Pattern: "new-pattern", Severity: checks.Critical}}}, "me").Failed)
}

func TestCompare(t *testing.T) {
	ok := Outcome{Failed: StepNone}
	require.Equal(t, Agree, Compare(ok, Prediction{Failed: StepNone}))
	require.Equal(t, FalseAlarm, Compare(ok, Prediction{Failed: StepList}))
	require.Equal(t, Missed, Compare(Outcome{Failed: StepRead}, Prediction{Failed: StepNone}))
	require.Equal(t, WrongStep, Compare(Outcome{Failed: StepShare}, Prediction{Failed: StepLogin}))
	require.Equal(t, FalseAlarm, Compare(ok, Prediction{Failed: StepUnknown}))
	s := Summarize([]Row{{Verdict: Agree}, {Verdict: FalseAlarm}, {Verdict: Missed}, {Verdict: WrongStep}})
	require.Equal(t, "conformance: 1/4 agree (false alarms 1, missed 1)", s.Line())
}

func TestKnownDifferences(t *testing.T) {
	k, err := ParseKnownDifferences(strings.NewReader("# comment\n\nfile-* | smbclient* | agent gap: x\ndefault | impacket | y\n"))
	require.NoError(t, err)
	require.Len(t, k, 2)
	MarkSeen(k, "file-missing", "smbclient-nt1")
	MarkSeen(k, "default", "impacket")
	require.Same(t, k[0], Explain(k, "file-missing", "smbclient-nt1"))
	require.Nil(t, Explain(k, "file-missing", "go-smb2"))
	require.Equal(t, []*KnownDifference{k[1]}, Stale(k))

	for _, bad := range []string{"a | b\n", "a | | reason\n", "[ | b | reason\n"} {
		_, err := ParseKnownDifferences(strings.NewReader(bad))
		require.Error(t, err, bad)
	}
}

func TestSmbclientShares(t *testing.T) {
	out := "\n\tSharename       Type      Comment\n\t---------       ----      -------\n\tdata            Disk      \n\tIPC$            IPC       IPC Service (Samba)\nSMB1 disabled -- no workgroup available\n"
	require.Equal(t, []string{"data", "IPC$"}, smbclientShares(out))
	require.Empty(t, smbclientShares("\n\tSharename       Type      Comment\n\t---------       ----      -------\n"))
}

// smbclient's negotiate failure is worded differently across releases; each
// wording is a failed connect, never a failed listing.
func TestSmbclientStepReadsEveryReleasesNegotiateFailure(t *testing.T) {
	for _, out := range []string{
		"protocol negotiation failed: NT_STATUS_CONNECTION_RESET",                                                                  // 4.13, 4.17
		"Protocol negotiation to server 127.0.0.1 (for a protocol between NT1 and NT1) failed: NT_STATUS_INVALID_NETWORK_RESPONSE", // 4.22, 4.24
		"Protocol negotiation (with timeout 20000 ms) timed out against server 127.0.0.1",
	} {
		require.Equal(t, StepConnect, smbclientStep(out, StepList), out)
	}
	require.Equal(t, StepLogin, smbclientStep("session setup failed: NT_STATUS_LOGON_FAILURE", StepList))
	require.Equal(t, StepList, smbclientStep("Anonymous login successful", StepList))
}
