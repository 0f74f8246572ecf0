package test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks/probe"
	"github.com/smb-agent/smb-agent/test/harness"
)

// Without a user, the chain runs as smbclient -N does: an anonymous
// session that Samba accepts (restrict anonymous = 0), IPC$ and the srvsvc
// listing work, and the tree connect of a share without "guest ok" is
// refused; a "guest ok" share is listed and its file read.
func TestProbeAnonymousChain(t *testing.T) {
	t.Parallel()
	s := harness.StartT(t, harness.Config{
		Users:  []harness.User{{Name: probeUser, Password: probePass}},
		Shares: []harness.Share{{Name: "data"}, {Name: "open", Lines: []string{"guest ok = yes"}}},
	})
	content := []byte("scored content\n")
	sum := sha256.Sum256(content)
	for _, sh := range []string{"data", "open"} {
		require.NoError(t, os.WriteFile(filepath.Join(s.SharePath(sh), "flag.txt"), content, 0o644))
	}
	run := func(share string) *probe.Result {
		o := probeOpts(s.Port())
		o.User, o.Password = "", ""
		o.Guest = true
		o.Share, o.File, o.FileSHA256 = share, "flag.txt", hex.EncodeToString(sum[:])
		return runProbe(t, o)
	}

	r := run("data")
	require.Equal(t, probe.ClassOK, r.Login.Class)
	require.True(t, r.Login.Anonymous || r.Login.Guest, "an anonymous (or guest-mapped) session, flags %#x", r.Login.SessionFlags)
	require.Equal(t, "", r.Login.User)
	require.Equal(t, probe.ClassOK, r.IPC.Class)
	require.Equal(t, probe.ClassOK, r.Shares.Class, r.Shares.Error)
	require.Equal(t, []string{"IPC$", "data", "open"}, r.Shares.Names)
	require.Equal(t, probe.ClassShareDenied, r.Share.Class, r.Share.Error)
	require.Equal(t, probe.StatusAccessDenied, r.Share.Status)
	require.Equal(t, probe.ClassSkipped, r.File.Class)
	require.Nil(t, r.SMB1[0].Login, "no NTLMv2 login is replayed without a user")

	r = run("open")
	require.Equal(t, probe.ClassOK, r.Share.Class, r.Share.Error)
	require.Equal(t, probe.ClassOK, r.Share.List.Class, r.Share.List.Error)
	require.Equal(t, 1, r.Share.Entries)
	require.Equal(t, []string{"flag.txt"}, r.Share.Sample)
	require.Equal(t, probe.ClassOK, r.File.Class, r.File.Error)
	require.Equal(t, int64(len(content)), r.File.Size)
	require.True(t, *r.File.Match)
}

// With restrict anonymous = 2 Samba refuses the anonymous IPC$ tree
// connect, as smbclient -N -L sees it.
func TestProbeAnonymousRestricted(t *testing.T) {
	t.Parallel()
	s := startScenario(t, "restrict anonymous = 2")
	o := probeOpts(s.Port())
	o.User, o.Password, o.Guest = "", "", true
	r := runProbe(t, o)
	require.Equal(t, probe.ClassOK, r.Login.Class)
	require.Equal(t, probe.ClassIPCUnavailable, r.IPC.Class, r.IPC.Error)
	require.Equal(t, probe.ClassSkipped, r.Shares.Class)
}
