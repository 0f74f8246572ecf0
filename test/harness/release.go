package harness

// Running the tests against another Samba release: SAMBA_RELEASE=4.24 puts
// that release's wrappers (built by test/scripts/samba-release.sh) first on
// PATH for this test process and every process it starts, the agent binary
// included, so that "smbd", "testparm", "smbpasswd", "smbcontrol" and
// "smbclient" are that release's everywhere. The harness then checks that
// the smbd it finds really is that release: a test that meant to run
// against 4.24 must never pass against the system Samba by accident.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// ReleaseEnv names the release the tests run against ("" = the system's).
const ReleaseEnv = "SAMBA_RELEASE"

// releaseCacheEnv overrides where samba-release.sh keeps the releases.
const releaseCacheEnv = "SAMBA_RELEASE_CACHE"

// defaultReleaseCache is samba-release.sh's default cache directory.
const defaultReleaseCache = "/var/cache/smb-agent-samba"

// releaseErr says why the requested release cannot be used; Available
// reports it, so StartT fails or skips instead of using the system smbd.
var releaseErr = useRelease()

// Release is the release series the tests run against (SAMBA_RELEASE), or
// "" for the system Samba.
func Release() string { return strings.TrimSpace(os.Getenv(ReleaseEnv)) }

// ReleaseBinDir is the wrappers directory of release rel.
func ReleaseBinDir(rel string) string {
	cache := os.Getenv(releaseCacheEnv)
	if cache == "" {
		cache = defaultReleaseCache
	}
	return filepath.Join(cache, rel, "bin")
}

// useRelease puts the release's wrappers first on PATH (once; a PATH that
// already starts with them is left alone) and checks smbd's version.
func useRelease() error {
	rel := Release()
	if rel == "" {
		return nil
	}
	bin := ReleaseBinDir(rel)
	if _, err := os.Stat(filepath.Join(bin, "smbd")); err != nil {
		return fmt.Errorf("%s=%s: release not built (run test/scripts/samba-release.sh build %s): %w", ReleaseEnv, rel, rel, err)
	}
	path := os.Getenv("PATH")
	if first, _, _ := strings.Cut(path, string(os.PathListSeparator)); first != bin {
		if err := os.Setenv("PATH", bin+string(os.PathListSeparator)+path); err != nil {
			return fmt.Errorf("%s=%s: set PATH: %w", ReleaseEnv, rel, err)
		}
	}
	return CheckRelease(rel)
}

// CheckRelease verifies that the smbd on PATH is release series rel
// ("4.24" matches "Version 4.24.8-Debian-...").
func CheckRelease(rel string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "smbd", "--version").Output()
	if err != nil {
		return fmt.Errorf("%s=%s: smbd --version: %w", ReleaseEnv, rel, err)
	}
	got := strings.TrimSpace(string(bytes.TrimPrefix(bytes.TrimSpace(out), []byte("Version "))))
	if !strings.HasPrefix(got, rel+".") {
		return fmt.Errorf("%s=%s: smbd on PATH is %q", ReleaseEnv, rel, got)
	}
	return nil
}

// ReleasePath returns a PATH value for a child process: path itself, or,
// when a release is asked for (SAMBA_RELEASE), path with that release's
// wrappers first, so that a test that runs the agent or testparm with a
// fixed PATH still runs the release under test.
func ReleasePath(path string) string {
	if rel := Release(); rel != "" {
		return ReleaseBinDir(rel) + string(os.PathListSeparator) + path
	}
	return path
}
