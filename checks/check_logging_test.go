package checks

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks/probe"
)

func TestLoggingInsufficient(t *testing.T) {
	// Healthy: nothing to record, no warning whatever the level.
	require.Empty(t, runOne(t, PatternLogging, newFacts(t, "[global]\n", withLogLevel(map[string]int{"all": 0}))))

	// pysmb refused and the level hides the offer.
	f := newFacts(t, "[global]\nserver min protocol = SMB3\n", withLogLevel(map[string]int{"all": 0, "smb2": 0, "auth_audit": 0}))
	fs := runOne(t, PatternLogging, f)
	require.Len(t, fs, 1)
	require.Equal(t, Warning, fs[0].Severity)
	require.Equal(t, "1 auth_audit:2 smb2:3", fs[0].Fix.Changes[0].Value)

	// The same probe result, but the only client negotiates SMB2 directly
	// and smb.conf admits it: the refused pysmb-style probe is no client's
	// failure, so there is nothing the smb2:3 lines would have to record.
	f = newFacts(t, "[global]\nserver min protocol = SMB2_10\n", withLogLevel(map[string]int{"all": 0, "smb2": 0, "auth_audit": 0}),
		withClientProfiles(dialectClient(t, "SMB2_02-SMB2_10")))
	require.Empty(t, runOne(t, PatternLogging, f))

	// Level already 3 for smb2: no warning.
	f = newFacts(t, "[global]\nserver min protocol = SMB3\n", withLogLevel(map[string]int{"all": 1, "smb2": 3, "auth_audit": 2}))
	require.Empty(t, runOne(t, PatternLogging, f))

	// A failed login with auth_audit at 1.
	f = newFacts(t, "[global]\n", withLogin(probe.ClassLogonFailure, probe.StatusLogonFailure))
	fs = runOne(t, PatternLogging, f)
	require.Len(t, fs, 1)
	require.Contains(t, fs[0].Summary, "auth_audit")

	// The note attached to other findings.
	require.Contains(t, loggingNote(PatternProtocolMismatch, newFacts(t, "[global]\n")), "log level = 1 auth_audit:2 smb2:3")
	require.Empty(t, loggingNote(PatternProtocolMismatch, newFacts(t, "[global]\n", withLogLevel(map[string]int{"all": 3}))))
}

func TestMergedLogLevel(t *testing.T) {
	for _, tc := range []struct {
		in   map[string]int
		want string
	}{
		{map[string]int{"all": 0, "smb2": 0, "auth": 0}, "1 auth_audit:2 smb2:3"},
		{map[string]int{"all": 1, "passdb": 5}, "1 auth_audit:2 passdb:5 smb2:3"},
		{map[string]int{"all": 3}, "3"},
		{map[string]int{"all": 2, "smb2": 10}, "2 smb2:10"},
	} {
		require.Equal(t, tc.want, mergedLogLevel(tc.in, "smb2"), "%v", tc.in)
	}
}
