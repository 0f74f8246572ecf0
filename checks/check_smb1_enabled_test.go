package checks

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSMB1Enabled(t *testing.T) {
	require.Empty(t, runOne(t, PatternSMB1Enabled, newFacts(t, "[global]\n")))

	fs := runOne(t, PatternSMB1Enabled, newFacts(t, "[global]\nserver min protocol = NT1\n"))
	require.Len(t, fs, 1)
	require.Equal(t, causeSMB1NotNeeded, fs[0].Cause)
	require.Equal(t, Warning, fs[0].Severity)
	require.True(t, hasEvidenceAt(fs[0], testConf, 2))
	require.Equal(t, "SMB2_02", fs[0].Fix.Changes[0].Value, "pysmb needs no more than SMB2_02")

	fs = runOne(t, PatternSMB1Enabled, newFacts(t, "[global]\nserver min protocol = NT1\n", withClients("windows-xp")))
	require.Len(t, fs, 1)
	require.Equal(t, causeSMB1Needed, fs[0].Cause)
	require.Equal(t, Warning, fs[0].Severity, "a warning even when needed")
	require.Equal(t, FixManual, fs[0].Fix.Kind)
	require.Contains(t, fs[0].Summary, "windows-xp")

	// Windows 7 alone: SMB1 not needed, min can be SMB2_10 at most... but
	// the fix never raises the minimum above what the clients can use.
	fs = runOne(t, PatternSMB1Enabled, newFacts(t, "[global]\nserver min protocol = LANMAN1\n", withClients("windows-7")))
	require.Equal(t, "SMB2_10", fs[0].Fix.Changes[0].Value)
}
