package gather

import (
	"context"
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/smb-agent/smb-agent/checks"
	"github.com/smb-agent/smb-agent/configs/smbconf"
)

// gatherScoredFile stats the scored file under the share's path and looks
// up the scoring user's uid and groups, so that a refused open can be
// judged against the file's mode bits (file.unix_access). The file is
// never opened: only stat and one extended attribute are read. The path is
// cleaned under the share's directory, so "../" in the configured file
// name cannot leave it.
func gatherScoredFile(c *smbconf.Config, share, file, userName string) *checks.ScoredFileFacts {
	if c == nil || share == "" || file == "" {
		return nil
	}
	out := &checks.ScoredFileFacts{Name: file}
	v, ok := c.Lookup(share, "path")
	if !ok || strings.TrimSpace(v.Printed) == "" {
		out.Err = "the share has no path"
		return out
	}
	out.Path = filepath.Join(v.Printed, filepath.Clean("/"+strings.ReplaceAll(file, `\`, "/")))
	fi, err := os.Stat(out.Path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			out.Missing = true
		} else {
			out.Err = err.Error()
		}
	} else {
		out.Exists = true
		out.ModTime, out.Size, out.Mode = fi.ModTime(), fi.Size(), uint32(fi.Mode().Perm())
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			out.UID, out.GID = int(st.Uid), int(st.Gid)
		}
		if n, err := unix.Getxattr(out.Path, "system.posix_acl_access", nil); err == nil && n > 0 {
			out.ACL = true
		}
	}
	if userName != "" {
		if u, err := user.Lookup(userName); err == nil {
			out.UserUID, _ = strconv.Atoi(u.Uid)
			out.UserKnown = true
			if gids, err := u.GroupIds(); err == nil {
				for _, g := range gids {
					if n, err := strconv.Atoi(g); err == nil {
						out.UserGIDs = append(out.UserGIDs, n)
					}
				}
			}
		}
	}
	return out
}

// scoredFileGatherer stats the scored file (gatherScoredFile). What it
// finds, a missing file included, is in ScoredFileFacts, not an error.
type scoredFileGatherer struct{}

func (scoredFileGatherer) Name() string                  { return "the scored file" }
func (scoredFileGatherer) Deadline(e *env) time.Duration { return e.localBudget }
func (scoredFileGatherer) Failed(*checks.Facts, string)  {}

func (scoredFileGatherer) Gather(_ context.Context, e *env) (func(*checks.Facts), error) {
	sf := gatherScoredFile(e.conf, e.Config.Share, e.Config.File.Path, e.Config.Credentials.User)
	return func(f *checks.Facts) { f.ScoredFile = sf }, nil
}
