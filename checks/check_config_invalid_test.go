package checks

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestConfigInvalid(t *testing.T) {
	require.Empty(t, runOne(t, PatternConfigInvalid, newFacts(t, "[global]\nworkgroup = X\nlog level = 1 smb2:3\n")),
		"testparm's own log level note is not a dropped setting")

	f := newFacts(t, "[global]\nworkgroup = X\nserver min protocol = SMB2_22\n")
	require.Error(t, f.ConfigErr)
	fs := runOne(t, PatternConfigInvalid, f)
	require.Len(t, fs, 1)
	require.Equal(t, causeLoadFails, fs[0].Cause)
	require.Equal(t, Critical, fs[0].Severity)
	require.True(t, hasEvidenceAt(fs[0], testConf, 3), "%+v", fs[0].Evidence)
	require.Contains(t, fs[0].Explanation, "restart", "smbd is running: a restart would fail")

	fs = runOne(t, PatternConfigInvalid, newFacts(t, "[global]\nserver_min_protocol = SMB3\n[data]\npath = /x\nsmb ports = 1\n"))
	require.Len(t, fs, 1)
	require.Equal(t, causeIgnoredSettings, fs[0].Cause)
	require.Equal(t, Warning, fs[0].Severity)
	require.True(t, hasEvidenceAt(fs[0], testConf, 2))
	require.True(t, hasEvidenceAt(fs[0], testConf, 5))
}
