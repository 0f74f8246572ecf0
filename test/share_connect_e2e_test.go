package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/test/harness"
)

// TestDiagnoseShareConnect: what smbd did at the scored share's tree
// connect decides the cause, not the failure alone. A dropped connection,
// an anonymous session on a share without guest ok and a share ACL that
// denies the user all fail the tree connect; only the last is an ACL.
func TestDiagnoseShareConnect(t *testing.T) {
	t.Parallel()
	t.Run("dropped", func(t *testing.T) {
		t.Parallel()
		// smbd runs "root preexec" (lib/util/smbrun.c: sh -c, with shell
		// metacharacters escaped, hence a script) in a child of the
		// connection's smbd and waits for it: killing that smbd drops the
		// connection in the middle of the tree connect.
		script := filepath.Join(t.TempDir(), "kill-smbd")
		require.NoError(t, os.WriteFile(script, []byte(killConnectionSmbd), 0o755))
		s := startDiag(t, harness.Config{Shares: []harness.Share{{Name: "data", Lines: []string{"root preexec = " + script}}}})
		r := diagnose(t, shareConnectArgs(s)...)
		require.Equal(t, 2, r.code, r.why())
		f := finding(t, r, "share-unavailable", "share-connection-dropped")
		require.Contains(t, f.Summary, "dropped the connection")
	})
	t.Run("anonymous", func(t *testing.T) {
		t.Parallel()
		s := startDiag(t, harness.Config{})
		r := diagnose(t, "--smb-conf", s.ConfPath(), "--target", s.Addr(), "--guest", "--share", "data", "--timeout", shareConnectTimeout)
		require.Equal(t, 2, r.code, r.why())
		f := finding(t, r, "share-unavailable", "share-guest-not-allowed")
		require.Contains(t, f.Summary, "anonymous")
		require.Empty(t, f.Fix.Changes, "the fix is an account, not a config change")
	})
	t.Run("guest", func(t *testing.T) {
		t.Parallel()
		// An unknown user mapped to guest gets a guest session, which a
		// share without guest ok refuses like an anonymous one.
		s := startDiag(t, harness.Config{Global: []string{"map to guest = bad user"}})
		args := shareConnectArgs(s)
		args[5] = "nosuchscorer" // --user
		r := diagnose(t, args...)
		require.Equal(t, 2, r.code, r.why())
		f := finding(t, r, "share-unavailable", "share-guest-not-allowed")
		require.Contains(t, f.Summary, "guest")
		require.Empty(t, f.Fix.Changes, "the fix is an account, not a config change")
	})
	t.Run("encrypted reply", func(t *testing.T) {
		t.Parallel()
		// smbd flags the anonymous session for encryption ("desired"); a
		// release that then encrypts its replies (4.13) answers the
		// probe's unencrypted tree connect in a form it cannot read. That
		// is rpc-endpoint-missing's anonymous-session-encrypted, never a
		// refusal of the share.
		s := startDiag(t, harness.Config{Global: []string{"smb encrypt = desired"}, Shares: []harness.Share{{Name: "data", Lines: []string{"guest ok = yes"}}}})
		r := diagnose(t, "--smb-conf", s.ConfPath(), "--target", s.Addr(), "--guest", "--client", "smbclient", "--share", "data", "--timeout", shareConnectTimeout)
		require.NotNil(t, r.report, r.why())
		finding(t, r, "rpc-endpoint-missing", "anonymous-session-encrypted")
		for _, f := range r.report.Findings {
			require.NotEqual(t, "share-unavailable", f.Pattern, r.why())
		}
	})
	t.Run("acl", func(t *testing.T) {
		t.Parallel()
		s := startDiag(t, harness.Config{})
		// The release under test's sharesec writes the share_info.tdb its
		// smbd reads.
		out, err := exec.Command(releaseTool(t, "sharesec"), "-s", s.ConfPath(), "data", "--replace=S-1-1-0:DENIED/0x0/FULL").CombinedOutput()
		require.NoError(t, err, "%s", out)
		r := diagnose(t, shareConnectArgs(s)...)
		require.Equal(t, 2, r.code, r.why())
		finding(t, r, "share-unavailable", "share-acl-denied")
	})
}

// killConnectionSmbd kills the nearest smbd among the script's ancestors
// (sh may or may not sit between them), never one above it.
const killConnectionSmbd = `#!/bin/sh
p=$PPID
while [ "$p" -gt 1 ]; do
	case "$(cat /proc/$p/comm)" in
	smbd*) kill -9 "$p"; exit 0 ;;
	esac
	p=$(cut -d' ' -f4 /proc/$p/stat)
done
exit 1
`

// shareConnectTimeout bounds each probe step; longer than diagArgs' so that
// a loaded machine (a slow samba-dcerpcd start) does not turn the scenario
// into a timeout finding. A passing run takes about a second.
const shareConnectTimeout = "15s"

func shareConnectArgs(s *harness.Smbd) []string {
	args := diagArgs(s)
	args[len(args)-1] = shareConnectTimeout
	return args
}

// releaseTool is the path of a Samba tool of the release under test (the
// host's without SAMBA_RELEASE).
func releaseTool(t *testing.T, name string) string {
	t.Helper()
	for _, dir := range filepath.SplitList(harness.ReleasePath("/usr/sbin:/usr/bin:/sbin:/bin")) {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	t.Fatalf("%s not found (Debian package samba)", name)
	return ""
}
