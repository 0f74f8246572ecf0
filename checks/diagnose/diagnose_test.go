package diagnose

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/configs"
)

// Input the run cannot start with, or an smb.conf the agent refuses to
// read, is bad input (the commands exit 3), not a finding about Samba.
func TestRunBadInput(t *testing.T) {
	cfg := configs.DefaultConfig()
	cfg.Client = "no-such-client"
	_, _, err := Run(context.Background(), cfg)
	require.ErrorIs(t, err, ErrBadInput)

	cfg = configs.DefaultConfig()
	cfg.SMBConf = filepath.Join(t.TempDir(), "smb.conf")
	require.NoError(t, syscall.Mkfifo(cfg.SMBConf, 0o600))
	cfg.Target = "bad target"
	cfg.SambaVersion = "4.17.12"
	cfg.Logs.Journal = false
	cfg.Timeout = time.Second
	rep, f, err := Run(context.Background(), cfg)
	require.ErrorIs(t, err, ErrBadInput)
	require.Nil(t, rep)
	require.NotNil(t, f)
	require.Contains(t, err.Error(), "smb.conf")
}

// A run over a readable smb.conf: the facts are gathered (the target is
// unparsable, so nothing is dialed) and evaluated into a report.
func TestRunGathersThenEvaluates(t *testing.T) {
	cfg := configs.DefaultConfig()
	cfg.SMBConf = filepath.Join(t.TempDir(), "smb.conf")
	require.NoError(t, os.WriteFile(cfg.SMBConf, []byte("[global]\n"), 0o644))
	cfg.Target = "bad target"
	cfg.SambaVersion = "4.17.12"
	cfg.Logs.Journal = false
	cfg.Timeout = time.Second
	cfg.Credentials.User = "scorer"
	rep, f, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	require.NotNil(t, f.Config)
	require.Equal(t, "scorer", f.User)
	require.Contains(t, rep.Errors, f.Errors[0])
}
