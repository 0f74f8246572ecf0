package harness

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReleasePath(t *testing.T) {
	t.Setenv(ReleaseEnv, "")
	require.Equal(t, "/usr/bin:/bin", ReleasePath("/usr/bin:/bin"))
	t.Setenv(ReleaseEnv, "4.24")
	t.Setenv(releaseCacheEnv, "/x")
	require.Equal(t, "/x/4.24/bin:/usr/bin:/bin", ReleasePath("/usr/bin:/bin"))
}

// Under SAMBA_RELEASE the smbd on PATH must be that release.
func TestReleaseIsTheOneOnPath(t *testing.T) {
	rel := Release()
	if rel == "" {
		t.Skip("SAMBA_RELEASE is not set")
	}
	require.NoError(t, releaseErr)
	require.NoError(t, CheckRelease(rel))
	require.Error(t, CheckRelease("3.99"), "another release is refused")
}
