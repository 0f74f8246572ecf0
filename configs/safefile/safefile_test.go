package safefile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The attacker's inputs: a FIFO with no writer (open(2) would block for
// ever), a character device that never ends, a directory, a symlink.
func TestOpenRefusesWhatIsNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	link := filepath.Join(dir, "link")
	reg := filepath.Join(dir, "reg")
	require.NoError(t, os.WriteFile(reg, []byte("x = 1\n"), 0o600))
	require.NoError(t, os.Symlink(reg, link))

	cases := []struct {
		path string
		o    Options
		kind string
	}{
		{fifo, Options{MaxSize: 10}, "a FIFO (named pipe)"},
		{"/dev/zero", Options{MaxSize: 10}, "a character device"},
		{dir, Options{MaxSize: 10}, "a directory"},
		{link, Options{MaxSize: 10, NoFollow: true}, "a symbolic link"},
		{"/dev/null", Options{MaxSize: 10}, "a character device"},
	}
	for _, c := range cases {
		done := make(chan error, 1)
		go func() { _, err := ReadFile(c.path, c.o); done <- err }()
		select {
		case err := <-done:
			var nr *NotRegularError
			require.ErrorAs(t, err, &nr, c.path)
			assert.Equal(t, c.kind, nr.Kind)
			assert.Contains(t, err.Error(), c.kind)
		case <-time.After(30 * time.Second):
			t.Fatalf("ReadFile(%s) blocked", c.path)
		}
	}

	b, err := ReadFile(link, Options{MaxSize: 10})
	require.NoError(t, err, "a symlink is followed unless NoFollow")
	assert.Equal(t, "x = 1\n", string(b))
	b, err = ReadFile("/dev/null", Options{MaxSize: 10, AllowDevNull: true})
	require.NoError(t, err)
	assert.Empty(t, b)
}

func TestReadFileBoundsSize(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big")
	require.NoError(t, os.WriteFile(p, []byte(strings.Repeat("a", 100)), 0o600))
	_, err := ReadFile(p, Options{MaxSize: 99})
	var tl *TooLargeError
	require.ErrorAs(t, err, &tl)
	assert.Equal(t, int64(100), tl.Size)
	b, err := ReadFile(p, Options{MaxSize: 100})
	require.NoError(t, err)
	assert.Len(t, b, 100)
	_, err = ReadFile(p, Options{})
	assert.Error(t, err, "ReadFile without a size limit")
}

// A file that grows between fstat and read is still cut at the limit.
func TestReadAllBoundsAGrowingFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "grow")
	require.NoError(t, os.WriteFile(p, []byte("abc"), 0o600))
	f, _, err := Open(p, Options{MaxSize: 5})
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, os.WriteFile(p, []byte("abcdefgh"), 0o600))
	_, err = ReadAll(f, p, Options{MaxSize: 5})
	var tl *TooLargeError
	require.ErrorAs(t, err, &tl)
}

func TestRequirePrivate(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pw")
	require.NoError(t, os.WriteFile(p, []byte("secret\n"), 0o600))
	for _, mode := range []os.FileMode{0o600, 0o400} {
		require.NoError(t, os.Chmod(p, mode))
		fi, err := os.Stat(p)
		require.NoError(t, err)
		assert.NoError(t, RequirePrivate(p, fi), "%04o", mode)
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o660, 0o700, 0o644} {
		require.NoError(t, os.Chmod(p, mode))
		fi, err := os.Stat(p)
		require.NoError(t, err)
		err = RequirePrivate(p, fi)
		require.Error(t, err, "%04o", mode)
		assert.Contains(t, err.Error(), "chmod 600")
	}
	require.NoError(t, os.Chmod(p, 0o600))
	if os.Geteuid() == 0 {
		require.NoError(t, os.Chown(p, 65534, 65534))
		fi, err := os.Stat(p)
		require.NoError(t, err)
		err = RequirePrivate(p, fi)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "owned by uid 65534")
	}
}

func TestKindNamesEveryType(t *testing.T) {
	fi, err := os.Stat("/dev/zero")
	require.NoError(t, err)
	assert.Equal(t, "a character device", Kind(fi.Mode()))
	fi, err = os.Stat(t.TempDir())
	require.NoError(t, err)
	assert.Equal(t, "a directory", Kind(fi.Mode()))
}

func TestCauseDropsThePathError(t *testing.T) {
	_, err := os.Open(filepath.Join(t.TempDir(), "missing"))
	require.Error(t, err)
	require.Equal(t, "no such file or directory", Cause(err).Error())
	require.ErrorIs(t, Cause(err), fs.ErrNotExist)
	plain := errors.New("plain")
	require.Equal(t, plain, Cause(plain))
	require.Equal(t, syscall.EACCES, Cause(fmt.Errorf("wrapped: %w", &fs.PathError{Op: "open", Path: "/x", Err: syscall.EACCES})))
}
