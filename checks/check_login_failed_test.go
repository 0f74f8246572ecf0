package checks

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks/probe"
)

func TestLoginFailedCauses(t *testing.T) {
	failed := withLogin(probe.ClassLogonFailure, probe.StatusLogonFailure)
	authLine := func(status string) factsMod {
		return withLogLines(LogLine{File: "/var/log/samba/log.127.0.0.1", Line: 9, Kind: LogAuthFailure, User: "scorer", Status: status,
			Text: "Auth: [SMB2,(null)] user []\\[scorer] ... status [" + status + "]"})
	}
	for _, tc := range []struct {
		name     string
		mods     []factsMod
		cause    string
		severity Status
	}{
		{name: "healthy"},
		{name: "wrong password from the auth log", mods: []factsMod{failed, withAccount(nil), authLine("NT_STATUS_WRONG_PASSWORD")}, cause: causeWrongPassword, severity: Critical},
		{name: "wrong password from passdb", mods: []factsMod{failed}, cause: causeWrongPassword, severity: Critical},
		{name: "user not in passdb", mods: []factsMod{failed, withAccount(&AccountFacts{User: "scorer", UnixAccount: true})}, cause: causeUserNotInPassdb, severity: Critical},
		{name: "no such user from the auth log", mods: []factsMod{failed, withAccount(nil), authLine("NT_STATUS_NO_SUCH_USER")}, cause: causeUserNotInPassdb, severity: Critical},
		{name: "disabled", mods: []factsMod{withLogin(probe.ClassAccountDisabled, probe.StatusAccountDisabled)}, cause: causeAccountDisabled, severity: Critical},
		{name: "disabled from passdb flags", mods: []factsMod{failed, withAccount(&AccountFacts{User: "scorer", InPassdb: true, UnixAccount: true, Flags: "[DU         ]"})}, cause: causeAccountDisabled, severity: Critical},
		{name: "expired", mods: []factsMod{withLogin(probe.ClassAccountDisabled, probe.StatusAccountExpired)}, cause: causeAccountExpired, severity: Critical},
		{name: "anonymous login refused", mods: []factsMod{failed, func(f *Facts) { f.User = "" }}, cause: causeAnonymousRejected, severity: Critical},
		{name: "trust failure from the auth log", mods: []factsMod{failed, withAccount(nil), authLine("NT_STATUS_NO_TRUST_SAM_ACCOUNT")}, cause: causeAuthBackend, severity: Critical},
		{name: "locked", mods: []factsMod{withLogin(probe.ClassAccountDisabled, probe.StatusAccountLockedOut)}, cause: causeAccountLocked, severity: Critical},
		{name: "unix account gone", mods: []factsMod{failed, withAccount(&AccountFacts{User: "scorer", InPassdb: true})}, cause: causeUnixAccountMissing, severity: Critical},
		{name: "unknown: logs too quiet, no passdb facts", mods: []factsMod{failed, withAccount(nil)}, cause: CauseUnexplained, severity: Critical},
		{name: "guest only", mods: []factsMod{withProbe(func(r *probe.Result) { r.Login.Guest = true })}, cause: causeUserNotInPassdb, severity: Warning},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := runOne(t, PatternLoginFailed, newFacts(t, "[global]\n", tc.mods...))
			fd, ok := requireCause(t, fs, tc.cause)
			if !ok {
				return
			}
			require.Equal(t, tc.severity, fd.Severity)
			if tc.severity == Critical {
				require.Equal(t, "Failed to connect to host: 127.0.0.1", fd.ScoringMessage)
			}
		})
	}
}

func TestLoginFailedNTLMv1Client(t *testing.T) {
	// Windows XP sends NTLMv1; the 4.17 default refuses it. SMB1 is on so
	// that only the NTLM policy blocks it.
	f := newFacts(t, "[global]\nserver min protocol = NT1\n", withClients("windows-xp"))
	fs := runOne(t, PatternLoginFailed, f)
	require.Len(t, fs, 1)
	require.Equal(t, causeNTLMv1Rejected, fs[0].Cause)
	require.Equal(t, "ntlmv1-permitted", fs[0].Fix.Changes[0].Value)
	require.NotEmpty(t, fs[0].Fix.Risk)
	f = newFacts(t, "[global]\nserver min protocol = NT1\nntlm auth = ntlmv1-permitted\n", withClients("windows-xp"))
	require.Empty(t, runOne(t, PatternLoginFailed, f))
}
