package probe

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/test/harness"
)

// Our own signed listing against a real smbd that requires signing: smbd
// accepts the HMAC-SHA256 signatures (a wrong key would get
// ACCESS_DENIED at the IPC$ tree connect) and the share list comes back;
// with a wrong password there is no session, so no answer.
func TestListSharesSignedRealSmbd(t *testing.T) {
	t.Parallel()
	u := harness.User{Name: "root", Password: "Signed-pw1"}
	s := startSigningMandatory(t, u)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, ok := listSharesSigned(ctx, s.Addr(), Credentials{User: u.Name, Password: u.Password})
	require.True(t, ok)
	require.Equal(t, ClassOK, res.Class, res.Error)
	require.Equal(t, []string{"IPC$", "data"}, res.Names)

	content := []byte("signed read\n")
	require.NoError(t, os.WriteFile(filepath.Join(s.SharePath("data"), "f.txt"), content, 0o644))
	sum := sha256.Sum256(content)
	f := FileResult{Path: "f.txt", Expected: hex.EncodeToString(sum[:])}
	require.True(t, readFileSigned(ctx, s.Addr(), Credentials{User: u.Name, Password: u.Password}, "data", &f))
	require.Equal(t, ClassOK, f.Class, f.Error)
	require.True(t, *f.Match)
	f = FileResult{Path: "missing.txt"}
	require.True(t, readFileSigned(ctx, s.Addr(), Credentials{User: u.Name, Password: u.Password}, "data", &f))
	require.Equal(t, ClassFileMissing, f.Class, f.Error)

	_, ok = listSharesSigned(ctx, s.Addr(), Credentials{User: u.Name, Password: "wrong"})
	require.False(t, ok)
	require.False(t, readFileSigned(ctx, s.Addr(), Credentials{User: u.Name, Password: "wrong"}, "data", &f))
}

// The scorer's chain against a real smbd with "server signing = mandatory",
// cold (its first srvsvc call: samba-dcerpcd starts and smbd answers with
// unsigned STATUS_PENDING interim replies, which go-smb2 v1.1.0 rejects as
// "signing required") and warm: the share list comes back, and a listing
// go-smb2 fails on "signing required" goes straight to the agent's own
// signed client, once, instead of being retried on go-smb2.
func TestChainListsSharesWhenSigningIsMandatory(t *testing.T) {
	t.Parallel()
	u := harness.User{Name: "root", Password: "Signed-pw2"}
	s := startSigningMandatory(t, u)
	cr := Credentials{User: u.Name, Password: u.Password}
	for _, round := range []string{"cold", "warm"} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		t0 := time.Now()
		ch := runChain(ctx, s.Addr(), cr, Options{}, nil)
		took := time.Since(t0) // logged for comparison, never asserted
		cancel()
		require.Equal(t, ClassOK, ch.login.Class, "%s: %s", round, ch.login.Error)
		require.NotNil(t, ch.shares, round)
		sh := ch.shares
		require.Equal(t, ClassOK, sh.Class, "%s: %s", round, sh.Error)
		require.Equal(t, []string{"IPC$", "data"}, sh.Names, round)
		t.Logf("%s: chain %v, %d listing attempt(s) %s", round, took.Round(time.Millisecond), sh.Attempts, sh.Error)
		if strings.Contains(sh.Error, "signed client") {
			require.Equal(t, 2, sh.Attempts, "%s: go-smb2 once, then the signed client once", round)
		} else {
			require.Equal(t, 1, sh.Attempts, "%s: go-smb2 listed at the first attempt", round)
		}
	}
}

// startSigningMandatory is a real smbd that requires signing, with u and a
// share "data".
func startSigningMandatory(t *testing.T, u harness.User) *harness.Smbd {
	t.Helper()
	return harness.StartT(t, harness.Config{
		Users:  []harness.User{u},
		Shares: []harness.Share{{Name: "data"}},
		Global: []string{"server signing = mandatory"},
	})
}
