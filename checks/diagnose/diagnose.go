package diagnose

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/smb-agent/smb-agent/checks"
	"github.com/smb-agent/smb-agent/checks/gather"
	"github.com/smb-agent/smb-agent/configs"
	"github.com/smb-agent/smb-agent/configs/smbconf"
)

// ErrBadInput marks Run errors caused by the configuration (an
// unknown client profile, an unreadable password file): the caller exits 3
// with the message, as for any bad input.
var ErrBadInput = errors.New("bad input")

// Run is one diagnosis run: resolve the client profiles and the
// password from the agent configuration, gather the facts (all the run's
// I/O, within cfg.Timeout plus small margins) and evaluate every check.
// The error is only for input the run cannot start with; everything the
// agent could not find out is in Report.Errors instead.
func Run(ctx context.Context, cfg *configs.Config) (*checks.Report, *checks.Facts, error) {
	return RunAfter(ctx, cfg, nil)
}

// RunAfter is Run for a round that follows another (serve):
// prev is that round's facts, from which this round may carry what
// nothing since can have changed (gather.Options.Previous).
func RunAfter(ctx context.Context, cfg *configs.Config, prev *checks.Facts) (*checks.Report, *checks.Facts, error) {
	if cfg == nil {
		cfg = configs.DefaultConfig()
	}
	clients, err := cfg.Clients()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrBadInput, err)
	}
	pw, err := cfg.Password()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrBadInput, err)
	}
	started := time.Now()
	f := gather.Gather(ctx, gather.Options{Config: cfg, Clients: clients, Password: pw,
		VersionCache: smbconf.DefaultVersionCache(), Previous: prev})
	// The scoring account and share name the findings and the commands;
	// the password itself never enters Facts.
	if f.User == "" {
		f.User = cfg.Credentials.User
	}
	if f.Share == "" {
		f.Share = cfg.Share
	}
	f.HasPassword = f.HasPassword || pw != ""
	// An smb.conf the agent refuses to read (a FIFO, a device, over a
	// bound, not smb.conf-like) is bad input, not a finding about Samba.
	var le *smbconf.LoadError
	if errors.As(f.ConfigErr, &le) && le.Refused {
		return nil, f, fmt.Errorf("%w: smb.conf: %w", ErrBadInput, f.ConfigErr)
	}
	r := checks.Evaluate(f)
	r.DurationMS = time.Since(started).Milliseconds()
	return r, f, nil
}
