package checks

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks/probe"
)

func TestShareUnavailableCauses(t *testing.T) {
	for _, tc := range []struct {
		name     string
		conf     string
		mods     []factsMod
		cause    string
		severity Status
		line     int
	}{
		{name: "healthy", conf: "[global]\n[data]\npath = /srv/data\n"},
		{name: "missing", conf: "[global]\n[Data2]\npath = /srv/data\n", mods: []factsMod{withShareStep(probe.ClassShareMissing, probe.StatusBadNetworkName)}, cause: causeShareMissing, severity: Critical},
		{name: "available = no", conf: "[global]\n[data]\npath = /srv/data\navailable = no\n", cause: causeShareFlag, severity: Critical, line: 4},
		{name: "no path", conf: "[global]\n[data]\ncomment = x\n", cause: causeShareFlag, severity: Critical},
		{name: "path missing", conf: "[global]\n[data]\npath = /srv/gone\n", mods: []factsMod{func(f *Facts) { f.SharePath = &FileStat{Path: "/srv/gone", Err: "no such file or directory"} }}, cause: causeSharePath, severity: Critical, line: 3},
		{name: "valid users without the user", conf: "[global]\n[data]\npath = /srv/data\nvalid users = alice\n", cause: causeShareUserDenied, severity: Critical, line: 4},
		{name: "global invalid users: IPC$ first", conf: "[global]\ninvalid users = scorer\n[data]\npath = /srv/data\n"},
		{name: "share hosts deny", conf: "[global]\n[data]\npath = /srv/data\nhosts deny = 10.0.0.0/8\n", mods: []factsMod{withRemoteIP("10.0.0.5")}, cause: causeShareHostDenied, severity: Critical, line: 4},
		{name: "share requires encryption", conf: "[global]\n[data]\npath = /srv/data\nserver smb encrypt = required\n", cause: causeShareEncrypt, severity: Critical, line: 4},
		{name: "share encryption fine for smbclient", conf: "[global]\n[data]\npath = /srv/data\nserver smb encrypt = required\n", mods: []factsMod{withClients("smbclient")}},
		// Required in [global] refuses the session setup: protocol-mismatch.
		{name: "global encryption is not the share's", conf: "[global]\nserver smb encrypt = required\n[data]\npath = /srv/data\n"},
		{name: "hidden", conf: "[global]\n[data]\npath = /srv/data\nbrowseable = no\n", cause: causeShareHidden, severity: Warning, line: 4},
		{name: "refused by ACL", conf: "[global]\n[data]\npath = /srv/data\n", mods: []factsMod{withShareStep(probe.ClassShareDenied, probe.StatusAccessDenied)}, cause: causeShareACL, severity: Critical},
		// What the probe saw at the tree connect decides, not the failure
		// alone.
		{name: "connection dropped", conf: "[global]\n[data]\npath = /srv/data\n", mods: []factsMod{withShareStep(probe.ClassClosed, 0)}, cause: causeShareDropped, severity: Critical},
		{name: "connection reset", conf: "[global]\n[data]\npath = /srv/data\n", mods: []factsMod{withShareStep(probe.ClassReset, 0)}, cause: causeShareDropped, severity: Critical},
		{name: "anonymous without guest ok", conf: "[global]\n[data]\npath = /srv/data\n", mods: []factsMod{withShareStep(probe.ClassShareDenied, probe.StatusAccessDenied), withSessionKind(true, false)}, cause: causeShareGuest, severity: Critical},
		{name: "guest without guest ok", conf: "[global]\n[data]\npath = /srv/data\nguest ok = no\n", mods: []factsMod{withShareStep(probe.ClassShareDenied, probe.StatusAccessDenied), withSessionKind(false, true)}, cause: causeShareGuest, severity: Critical, line: 4},
		{name: "anonymous with guest ok: the ACL", conf: "[global]\n[data]\npath = /srv/data\nguest ok = yes\n", mods: []factsMod{withShareStep(probe.ClassShareDenied, probe.StatusAccessDenied), withSessionKind(true, false)}, cause: causeShareACL, severity: Critical},
		{name: "other status", conf: "[global]\n[data]\npath = /srv/data\n", mods: []factsMod{withShareStep(probe.ClassError, probe.StatusRequestNotAccepted)}, cause: causeShareRefused, severity: Critical},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := runOne(t, PatternShareUnavailable, newFacts(t, tc.conf, tc.mods...))
			fd, ok := requireCause(t, fs, tc.cause)
			if !ok {
				return
			}
			require.Equal(t, tc.severity, fd.Severity)
			if tc.line > 0 {
				require.True(t, hasEvidenceAt(fd, testConf, tc.line), "%+v", fd.Evidence)
			}
			if fd.Fix != nil {
				for _, c := range fd.Fix.Changes {
					require.Equal(t, "data", c.Section, "share fixes change the share")
				}
			}
		})
	}
}

func TestShareMissingSuggestsSimilar(t *testing.T) {
	fs := runOne(t, PatternShareUnavailable, newFacts(t, "[global]\n[dta]\npath = /x\n"))
	require.Len(t, fs, 1)
	require.Contains(t, fs[0].Explanation, "[dta]")
}

func withSessionKind(anonymous, guest bool) factsMod {
	return withProbe(func(r *probe.Result) { r.Login.Anonymous, r.Login.Guest = anonymous, guest })
}

// The guest fix is the least permissive one: log in with an account;
// guest ok only as a conditional step, never map to guest.
func TestShareGuestFixIsLeastPermissive(t *testing.T) {
	fs := runOne(t, PatternShareUnavailable, newFacts(t, "[global]\n[data]\npath = /srv/data\n",
		withShareStep(probe.ClassShareDenied, probe.StatusAccessDenied), withSessionKind(true, false)))
	fd, _ := requireCause(t, fs, causeShareGuest)
	require.NotNil(t, fd.Fix)
	require.Empty(t, fd.Fix.Changes, "no config change is proposed: the account is the fix")
	require.Contains(t, fd.Fix.Summary, "log in with an account")
	require.Contains(t, fd.Summary, "anonymous")
}

// An unreadable (encrypted) reply on a session flagged for encryption is
// the anonymous-session-encrypted cause of rpc-endpoint-missing, not a
// refusal of the share.
// Later releases drop the connection instead (NT_STATUS_ENCRYPTION_FAILED):
// on such a session that is the same cause, not share-connection-dropped.
func TestShareEncryptedReplyIsRPCEndpointMissing(t *testing.T) {
	for _, c := range []probe.Class{probe.ClassProtocolError, probe.ClassClosed} {
		t.Run(string(c), func(t *testing.T) { testShareEncryptionFailed(t, c) })
	}
}

func testShareEncryptionFailed(t *testing.T, c probe.Class) {
	f := newFacts(t, "[global]\nserver smb encrypt = desired\n[data]\npath = /srv/data\n", withClients("smbclient"),
		withShareStep(c, 0), withProbe(func(r *probe.Result) {
			r.Login.User, r.Login.Anonymous, r.Login.Encrypted, r.Login.SessionFlags = "", true, true, 0x0004
			r.IPC.Class = probe.ClassProtocolError
		}))
	fs := runOne(t, PatternShareUnavailable, f)
	require.Len(t, fs, 1)
	require.Equal(t, CauseUnexplained, fs[0].Cause, "alone, share-unavailable points elsewhere")
	last := fs[0].Decision[len(fs[0].Decision)-1]
	require.Equal(t, "see rpc-endpoint-missing", last.Answer)
	var got []string
	for _, fd := range Evaluate(f).Findings {
		got = append(got, fd.Pattern+"/"+fd.Cause)
	}
	require.Contains(t, got, PatternRPCEndpointMissing+"/"+causeAnonymousEncrypted)
	require.NotContains(t, got, PatternShareUnavailable+"/"+causeShareACL)
	require.NotContains(t, got, PatternShareUnavailable+"/"+CauseUnexplained)
}
