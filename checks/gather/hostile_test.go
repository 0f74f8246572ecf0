package gather

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Files smb.conf points at ("log file", "pid directory") may sit in a
// directory another user can write: a FIFO there must not block the
// agent, and a symlink must not make it read (and quote) another file.
func TestHostileLogAndPIDFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "log.fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o666))
	secret := filepath.Join(dir, "secret")
	require.NoError(t, os.WriteFile(secret, []byte("4242\nroot:Zq9-hash:19000\n"), 0o600))
	link := filepath.Join(dir, "log.link")
	require.NoError(t, os.Symlink(secret, link))

	within := func(what string, f func() error) error {
		t.Helper()
		done := make(chan error, 1)
		go func() { done <- f() }()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			t.Fatalf("%s blocked", what)
			return nil
		}
	}
	for _, p := range []string{fifo, link, "/dev/zero"} {
		err := within("readLogTail "+p, func() error {
			_, err := readLogTail(logSource{Path: p, Size: 100}, 1<<20)
			return err
		})
		require.Error(t, err, p)
		require.NotContains(t, err.Error(), "Zq9")
		err = within("readPIDFile "+p, func() error { _, err := readPIDFile(p); return err })
		require.Error(t, err, p)
	}
	pidFile := filepath.Join(dir, "smbd.pid")
	require.NoError(t, os.WriteFile(pidFile, []byte("4242\n"), 0o644))
	pid, err := readPIDFile(pidFile)
	require.NoError(t, err, "a regular pid file still reads")
	require.Equal(t, 4242, pid)
}
