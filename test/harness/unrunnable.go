package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// maskScript bind-mounts $1 over every following path under root $2 that
// exists, then runs the command after "--". It runs inside a fresh private
// mount namespace (unshare -m), so the binds vanish with smbd's last
// process and nobody else sees them.
const maskScript = `set -e
mask=$1 root=$2; shift 2
while [ "$1" != "--" ]; do
  if [ -e "$root$1" ]; then mount --bind "$mask" "$root$1"; fi
  shift
done
shift
exec "$@"`

// smbdCommand is smbd's command line: plain, or for Config.Unrunnable
// wrapped in a private mount namespace that masks those paths. For a
// release of the matrix the namespace is made inside the release's own
// (the wrappers of test/scripts/samba-release.sh enter it and chroot
// into the root), since a wrapper started from a private namespace would
// leave it.
func (s *Smbd) smbdCommand() (*exec.Cmd, error) {
	args := []string{"--foreground", "--no-process-group", "-s", s.ConfPath(), "-l", filepath.Join(s.dir, "log")}
	if len(s.cfg.Unrunnable) == 0 {
		return exec.Command(smbdBinary, args...), nil
	}
	mask := filepath.Join(s.dir, "unrunnable")
	if err := os.WriteFile(mask, nil, 0o644); err != nil {
		return nil, fmt.Errorf("write the mask file: %w", err)
	}
	rel := Release()
	var prefix []string
	root := ""
	smbd := smbdBinary
	if rel != "" {
		bin := ReleaseBinDir(rel)
		root = filepath.Join(filepath.Dir(bin), "root")
		// The release's namespace is made by its wrappers' first run.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, filepath.Join(bin, "smbd"), "-b").CombinedOutput(); err != nil {
			return nil, fmt.Errorf("enter Samba %s's namespace: %w: %s", rel, err, tail(string(out), 500))
		}
		prefix = []string{"nsenter", "--mount=/run/smb-agent-samba/" + rel + ".mnt"}
		smbd = "/usr/sbin/smbd"
	}
	full := append(prefix, "unshare", "-m", "--propagation", "private", "sh", "-c", maskScript, "sh", mask, root)
	full = append(full, s.cfg.Unrunnable...)
	full = append(full, "--")
	if root != "" {
		full = append(full, "chroot", root, "/bin/sh", "-c", `cd "$0" && exec "$@"`, s.dir)
	}
	full = append(full, smbd)
	full = append(full, args...)
	return exec.Command(full[0], full[1:]...), nil
}
