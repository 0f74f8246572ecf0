package smbconf

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// VersionCache remembers the version an installed Samba binary reported,
// keyed by the binary's identity (path, size, modification time, inode).
//
// Why: `smbd --version` costs as much as the whole rest of `agent config
// dump` (smbd initialises its libraries before it prints one line), so
// running it on every invocation makes the agent slower than testparm.
// A package upgrade replaces the binary, which changes its identity, so a
// stale entry is never used.
type VersionCache struct {
	// Dir holds the cache file; it is created when missing.
	Dir string
}

// versionCacheFile is the file in Dir.
const versionCacheFile = "samba-version.json"

// DefaultVersionCache is the cache the agent's commands use: systemd's
// $CACHE_DIRECTORY (CacheDirectory= in the unit), else the user's cache
// directory. It is nil when neither is known; callers then simply run the
// version command every time.
func DefaultVersionCache() *VersionCache {
	if d := os.Getenv("CACHE_DIRECTORY"); d != "" {
		// systemd may list several, separated by ':'.
		d, _, _ = strings.Cut(d, ":")
		return &VersionCache{Dir: d}
	}
	d, err := os.UserCacheDir()
	if err != nil || d == "" {
		return nil
	}
	return &VersionCache{Dir: filepath.Join(d, "smb-agent")}
}

type versionCacheEntry struct {
	Size    int64  `json:"size"`
	MtimeNS int64  `json:"mtime_ns"`
	Inode   uint64 `json:"inode"`
	Version string `json:"version"`
}

func binaryIdentity(path string) (versionCacheEntry, bool) {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return versionCacheEntry{}, false
	}
	e := versionCacheEntry{Size: fi.Size(), MtimeNS: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		e.Inode = st.Ino
	}
	return e, true
}

func (c *VersionCache) read() map[string]versionCacheEntry {
	m := map[string]versionCacheEntry{}
	if c == nil || c.Dir == "" {
		return m
	}
	b, err := os.ReadFile(filepath.Join(c.Dir, versionCacheFile))
	if err != nil || len(b) > 1<<20 {
		return m
	}
	if json.Unmarshal(b, &m) != nil {
		return map[string]versionCacheEntry{}
	}
	return m
}

// Get returns the cached version of binary (an absolute path, as
// exec.LookPath returns it) when the binary is still the one that
// reported it.
func (c *VersionCache) Get(binary string) (SambaVersion, bool) {
	if c == nil || c.Dir == "" {
		return SambaVersion{}, false
	}
	id, ok := binaryIdentity(binary)
	if !ok {
		return SambaVersion{}, false
	}
	e, ok := c.read()[binary]
	if !ok || e.Size != id.Size || e.MtimeNS != id.MtimeNS || e.Inode != id.Inode {
		return SambaVersion{}, false
	}
	v, err := ParseSambaVersion(e.Version)
	if err != nil {
		return SambaVersion{}, false
	}
	return v, true
}

// Put records what binary reported. The cache is an optimisation: any
// failure to write it is ignored (a read-only home, a full disk), and the
// file is replaced atomically so a concurrent reader never sees half of it.
func (c *VersionCache) Put(binary string, v SambaVersion) {
	if c == nil || c.Dir == "" {
		return
	}
	id, ok := binaryIdentity(binary)
	if !ok {
		return
	}
	m := c.read()
	id.Version = v.String()
	if v.Raw != "" {
		id.Version = v.Raw // what the binary printed, so Get returns the same value
	}
	m[binary] = id
	b, err := json.Marshal(m)
	if err != nil {
		return
	}
	if os.MkdirAll(c.Dir, 0o755) != nil {
		return
	}
	tmp, err := os.CreateTemp(c.Dir, versionCacheFile+".*")
	if err != nil {
		return
	}
	_, werr := tmp.Write(b)
	cerr := tmp.Close()
	if werr != nil || cerr != nil || os.Rename(tmp.Name(), filepath.Join(c.Dir, versionCacheFile)) != nil {
		os.Remove(tmp.Name())
	}
}

// DetectSambaVersionCached is DetectSambaVersion with a cache: a binary
// whose identity is unchanged since it last reported its version is not
// run again. A nil cache means DetectSambaVersion.
func DetectSambaVersionCached(ctx context.Context, cache *VersionCache) (SambaVersion, error) {
	v, _, err := VersionDetector{Cache: cache}.Detect(ctx)
	return v, err
}
