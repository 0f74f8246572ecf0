package harness

import (
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestStartStopLeavesNothing(t *testing.T) {
	if why := Available(); why != "" {
		t.Skip("real smbd: " + why)
	}
	s, err := Start(Config{
		Users:  []User{{Name: "root", Password: "H4rness!pw"}},
		Shares: []Share{{Name: "data", Lines: []string{"read only = no"}}},
		Global: []string{"server min protocol = SMB2_02"},
	})
	require.NoError(t, err)
	dir := s.Dir()
	require.True(t, strings.HasPrefix(s.Addr(), "127.0.0.1:"))
	require.NotZero(t, s.PID())
	conf, err := os.ReadFile(s.ConfPath())
	require.NoError(t, err)
	require.Contains(t, string(conf), "smb ports = ")
	require.Contains(t, string(conf), "server min protocol = SMB2_02")
	require.Contains(t, string(conf), "[data]")
	c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	require.NoError(t, err)
	c.Close()
	// The first srvsvc call spawns samba-dcerpcd, which Stop must find.
	require.NoError(t, s.WarmRPC(User{Name: "root", Password: "H4rness!pw"}, 15*time.Second))
	require.NotEmpty(t, pidsUnder(dir), "samba-dcerpcd runs with our config")

	require.NoError(t, s.Signal(syscall.SIGSTOP))
	require.NoError(t, s.Restart(), "restart also works on a stopped smbd")
	require.NotZero(t, s.PID())
	require.NoError(t, s.Close())
	require.Empty(t, pidsUnder(dir))
	_, err = os.Stat(dir)
	require.True(t, os.IsNotExist(err), "dir removed")
	_, err = net.DialTimeout("tcp", s.Addr(), time.Second)
	require.Error(t, err, "nothing listens any more")
	require.NoError(t, s.Close(), "Close is idempotent")
}

func TestStartFailsClearly(t *testing.T) {
	if why := Available(); why != "" {
		t.Skip("real smbd: " + why)
	}
	_, err := Start(Config{Global: []string{"server min protocol = SMB4"}})
	require.Error(t, err)
	require.Contains(t, err.Error(), "smbd exited during start")
}

func TestFakePeerClose(t *testing.T) {
	p, err := StartFakePeer(Silent)
	require.NoError(t, err)
	c, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, p.Close())
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err = c.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF, "Close closes open connections")
}
