package test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/configs/smbconf"
)

// The release the end-to-end tests run against is the smbd on PATH (the
// system Samba, or SAMBA_RELEASE's, which test/harness puts first). A test
// whose scenario rests on a behaviour only some releases have asks the
// registry (configs/smbconf/behaviours.go) whether that release has it,
// names the range in its messages, and on another release asserts what the
// agent does there instead.

var (
	sambaOnce sync.Once
	sambaVer  smbconf.SambaVersion
	sambaErr  error
)

// sambaUnderTest is the version of the smbd on PATH.
func sambaUnderTest(t *testing.T) smbconf.SambaVersion {
	t.Helper()
	sambaOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		sambaVer, sambaErr = smbconf.DetectSambaVersion(ctx)
	})
	require.NoError(t, sambaErr, "the Samba release under test")
	return sambaVer
}

// releaseHas reports whether the release under test does behaviour id, and
// returns the behaviour for its Range.
func releaseHas(t *testing.T, id string) (smbconf.Behaviour, bool) {
	t.Helper()
	b, ok := smbconf.LookupBehaviour(id)
	require.True(t, ok, "behaviour %q is not in configs/smbconf/behaviours.go", id)
	v := sambaUnderTest(t)
	return b, b.Holds(v)
}

// encryptParam is the name the release under test gives the server's
// encryption setting: "server smb encrypt" since 4.14, "smb encrypt"
// before (an unknown parameter there, ignored with a warning).
func encryptParam(t *testing.T) string {
	t.Helper()
	if _, ok := releaseHas(t, "server-smb-encrypt"); ok {
		return "server smb encrypt"
	}
	return "smb encrypt"
}

// rpcOffScenario is a smb.conf line that makes the srvsvc pipe open fail on
// the release under test, and the rpc-endpoint-missing cause the agent
// must name: "rpc start on demand helpers = no" where the release has that
// parameter (rpc-start-on-demand-helpers), else "nt pipe support = no",
// which every release honours.
func rpcOffScenario(t *testing.T) (line, cause string) {
	t.Helper()
	if _, ok := releaseHas(t, "rpc-start-on-demand-helpers"); ok {
		return "rpc start on demand helpers = no", "on-demand-helpers-off"
	}
	return "nt pipe support = no", "nt-pipe-support-off"
}
