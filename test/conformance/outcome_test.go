package conformance

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks"
	"github.com/smb-agent/smb-agent/configs/smbconf"
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
	v417, v424 := mustVersion(t, "4.17.12"), mustVersion(t, "4.24.8")
	k, err := ParseKnownDifferences(strings.NewReader("# comment\n\nfile-* | smbclient* | * | agent gap: x\ndefault | impacket | * | y\n" +
		"encrypt-* | go-smb2 | 4.22- | z\n"))
	require.NoError(t, err)
	require.Len(t, k, 3)
	for _, v := range []smbconf.SambaVersion{v417} {
		MarkSeen(k, v, "file-missing", "smbclient-nt1")
		MarkSeen(k, v, "default", "impacket")
		MarkSeen(k, v, "encrypt-off", "go-smb2")
	}
	require.Same(t, k[0], Explain(k, v417, "file-missing", "smbclient-nt1"))
	require.Nil(t, Explain(k, v417, "file-missing", "go-smb2"))
	// An entry for later releases neither explains a 4.17 run nor goes
	// stale in it.
	require.Nil(t, Explain(k, v417, "encrypt-off", "go-smb2"))
	require.Equal(t, []*KnownDifference{k[1]}, Stale(k))
	// In a 4.24 run that agreed on its pair it is stale.
	MarkSeen(k, v424, "encrypt-off", "go-smb2")
	require.Equal(t, []*KnownDifference{k[1], k[2]}, Stale(k))

	for _, bad := range []string{"a | b | reason\n", "a | | * | reason\n", "[ | b | * | reason\n", "a | b | | reason\n",
		"a | b | 4.17.2 | reason\n", "a | b | 4.22-4.13 | reason\n", "a | b | - | reason\n", "a | b | four | reason\n"} {
		_, err := ParseKnownDifferences(strings.NewReader(bad))
		require.Error(t, err, bad)
	}
	for spec, want := range map[string][2]bool{ // holds for 4.17, 4.24
		"*": {true, true}, "4.17": {true, false}, "4.22-": {false, true}, "-4.17": {true, false}, "4.13-4.24": {true, true},
	} {
		rg, err := parseReleases(spec)
		require.NoError(t, err, spec)
		require.Equal(t, want, [2]bool{rg.Holds(v417), rg.Holds(v424)}, spec)
	}
}

func mustVersion(t *testing.T, s string) smbconf.SambaVersion {
	t.Helper()
	v, err := smbconf.ParseSambaVersion(s)
	require.NoError(t, err)
	return v
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

// Every case that rests on a release behaviour names one the registry has,
// and is either spelled for an older release or reported not applicable
// there with the behaviour's range: never skipped in silence.
func TestCasesFollowTheBehaviourRegistry(t *testing.T) {
	v413, v417 := mustVersion(t, "4.13.13"), mustVersion(t, "4.17.12")
	seen := map[string]bool{}
	for _, c := range Cases() {
		if c.Behaviour == "" {
			continue
		}
		b, ok := smbconf.LookupBehaviour(c.Behaviour)
		require.True(t, ok, "%s: behaviour %q is not in the registry", c.Name, c.Behaviour)
		seen[c.Name] = true
		same, na := c.ForRelease(v417)
		require.Empty(t, na)
		require.Equal(t, c.Global, same.Global)
		old, na := c.ForRelease(v413)
		if c.Before == nil {
			require.Contains(t, na, b.Range(), c.Name)
			continue
		}
		require.Empty(t, na, c.Name)
		for _, l := range append(old.Global, old.Data...) {
			require.NotContains(t, l, "server smb encrypt", c.Name)
		}
	}
	require.True(t, seen["encrypt-desired"] && seen["rpc-on-demand-off"], "%v", seen)
	c, na := caseNamed(t, "encrypt-desired").ForRelease(v413)
	require.Empty(t, na)
	require.Equal(t, []string{"smb encrypt = desired"}, c.Global)
}

func caseNamed(t *testing.T, name string) Case {
	t.Helper()
	for _, c := range Cases() {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no case %s", name)
	return Case{}
}

// A hung smbclient failed where its output stops: at the connect when it
// printed nothing that says it got further.
func TestHungStep(t *testing.T) {
	require.Equal(t, StepConnect, hungStep("", StepList))
	require.Equal(t, StepConnect, hungStep("Protocol negotiation to server 127.0.0.1 (for a protocol between NT1 and NT1) failed: NT_STATUS_CONNECTION_RESET", StepList))
	require.Equal(t, StepList, hungStep("Anonymous login successful\n\n\tSharename       Type      Comment\n", StepList))
	require.Equal(t, StepShare, hungStep("Anonymous login successful\n", StepShare))
}

// A client option the release's smbclient does not have is given in its
// older form, decided by the release's parameter table.
func TestSmbclientOptionsFollowTheRelease(t *testing.T) {
	opts := []string{"client smb encrypt = required", "client use kerberos = disabled", "client signing = required"}
	require.Equal(t, []string{"--option=client smb encrypt = required", "--option=client use kerberos = disabled", "--option=client signing = required"},
		smbclientOptions(opts, mustVersion(t, "4.17.12")))
	require.Equal(t, []string{"--encrypt", "--option=client signing = required"}, smbclientOptions(opts, mustVersion(t, "4.13.13")))
}

// The suite's own KNOWN_DIFFERENCES parses, and every entry names a kind.
func TestKnownDifferencesFileParses(t *testing.T) {
	f, err := os.Open("KNOWN_DIFFERENCES")
	require.NoError(t, err)
	defer f.Close()
	k, err := ParseKnownDifferences(f)
	require.NoError(t, err)
	for _, e := range k {
		require.True(t, strings.HasPrefix(e.Reason, "agent gap:") || e.Nondeterministic(), "KNOWN_DIFFERENCES:%d: %s", e.Line, e.Reason)
	}
}
