package main

import (
	"errors"
	"io/fs"
	"os"

	"github.com/smb-agent/smb-agent/configs"
	"github.com/smb-agent/smb-agent/configs/safefile"
)

// requireSmbConf turns an smb.conf the one-shot commands cannot even open
// into bad input (exit 3) instead of a diagnosis. A file that exists but
// does not load is a finding (config-invalid, CRITICAL): that is the host's
// problem. A path that names nothing, or names a directory or a FIFO, is
// the caller's: the agent did not get to look at the host's configuration
// at all, and "could not look" is never reported as a verdict on the host.
// `serve` does not use this: a daemon keeps running and reports the missing
// file as a finding each round.
func requireSmbConf(cfg *configs.Config) error {
	path := cfg.SMBConf
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return usageError("smb.conf %s: no such file (set --smb-conf or smb_conf)", path)
	case err != nil:
		return usageError("smb.conf %s: %v", path, safefile.Cause(err))
	case !fi.Mode().IsRegular():
		return usageError("smb.conf %s is %s, not a regular file", path, safefile.Kind(fi.Mode()))
	}
	return nil
}
