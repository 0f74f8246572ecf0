package smbconf

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeSmbd writes an "smbd" script that prints version and appends a line
// to a counter file each time it runs, and puts its directory first on PATH.
func fakeSmbd(t *testing.T, version string) (bin, counter string) {
	t.Helper()
	dir := t.TempDir()
	counter = filepath.Join(dir, "runs")
	bin = filepath.Join(dir, "smbd")
	script := "#!/bin/sh\necho run >> " + counter + "\necho 'Version " + version + "'\n"
	require.NoError(t, os.WriteFile(bin, []byte(script), 0o755))
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return bin, counter
}

func runs(t *testing.T, counter string) int {
	b, err := os.ReadFile(counter)
	if os.IsNotExist(err) {
		return 0
	}
	require.NoError(t, err)
	return strings.Count(string(b), "run\n")
}

func TestDetectSambaVersionCachedRunsOnce(t *testing.T) {
	bin, counter := fakeSmbd(t, "4.13.17-Ubuntu")
	cache := &VersionCache{Dir: filepath.Join(t.TempDir(), "cache")}
	ctx := context.Background()

	v, err := DetectSambaVersionCached(ctx, cache)
	require.NoError(t, err)
	require.Equal(t, "4.13", v.Series())
	require.Equal(t, 1, runs(t, counter))

	v, err = DetectSambaVersionCached(ctx, cache)
	require.NoError(t, err)
	require.Equal(t, "4.13", v.Series())
	require.Equal(t, 1, runs(t, counter), "second call must come from the cache")

	// An upgrade replaces the binary: the cache entry no longer applies.
	script := "#!/bin/sh\necho run >> " + counter + "\necho 'Version 4.21.3'\n"
	require.NoError(t, os.WriteFile(bin, []byte(script), 0o755))
	later := time.Now().Add(2 * time.Second)
	require.NoError(t, os.Chtimes(bin, later, later))
	v, err = DetectSambaVersionCached(ctx, cache)
	require.NoError(t, err)
	require.Equal(t, "4.21", v.Series())
	require.Equal(t, 2, runs(t, counter))
}

func TestVersionCacheIgnoresGarbageAndMissingDir(t *testing.T) {
	bin, _ := fakeSmbd(t, "4.17.12-Debian")
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, versionCacheFile), []byte("{not json"), 0o644))
	c := &VersionCache{Dir: dir}
	_, ok := c.Get(bin)
	require.False(t, ok)
	v, err := ParseSambaVersion("4.17.12-Debian")
	require.NoError(t, err)
	c.Put(bin, v)
	got, ok := c.Get(bin)
	require.True(t, ok)
	require.Equal(t, v, got)

	// A cache that cannot be written is no error, only no cache.
	ro := &VersionCache{Dir: filepath.Join(bin, "not-a-dir")}
	ro.Put(bin, v)
	_, ok = ro.Get(bin)
	require.False(t, ok)

	var nilCache *VersionCache
	_, ok = nilCache.Get(bin)
	require.False(t, ok)
	nilCache.Put(bin, v)
}

func TestDefaultVersionCachePrefersSystemdCacheDirectory(t *testing.T) {
	t.Setenv("CACHE_DIRECTORY", "/var/cache/smb-agent:/other")
	require.Equal(t, "/var/cache/smb-agent", DefaultVersionCache().Dir)
}
