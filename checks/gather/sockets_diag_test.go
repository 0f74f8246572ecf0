//go:build linux

package gather

import (
	"encoding/binary"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/smb-agent/smb-agent/checks"
	"github.com/stretchr/testify/require"
)

// procNetListeners is what the /proc/net fallback reads on this host.
func procNetListeners(t *testing.T) []checks.Listener {
	t.Helper()
	var out []checks.Listener
	for _, name := range []string{"tcp", "tcp6"} {
		data, err := os.ReadFile(filepath.Join("/proc/net", name))
		if os.IsNotExist(err) && name == "tcp6" {
			continue
		}
		require.NoError(t, err)
		ls, err := parseProcNetTCP(data, name == "tcp6", binary.NativeEndian)
		require.NoError(t, err)
		out = append(out, ls...)
	}
	return out
}

// TestSockDiagMatchesProcNet: the two ways of reading the listeners agree,
// socket for socket (address, port, family, inode), on the live host, with
// listeners of our own on loopback so that there is something to compare.
func TestSockDiagMatchesProcNet(t *testing.T) {
	var own []int
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue // no IPv6 on this host
		}
		t.Cleanup(func() { _ = l.Close() })
		own = append(own, l.Addr().(*net.TCPAddr).Port)
	}
	require.NotEmpty(t, own)

	diag, err := listenersSockDiag()
	if err != nil {
		t.Skipf("sock_diag unavailable here (%v): the /proc/net fallback is used", err)
	}
	proc := procNetListeners(t)
	key := func(l checks.Listener) string {
		return l.Family + " " + net.JoinHostPort(l.Addr, strconv.Itoa(l.Port)) + " " + strconv.FormatUint(l.Inode, 10)
	}
	var a, b []string
	for _, l := range diag {
		a = append(a, key(l))
	}
	for _, l := range proc {
		b = append(b, key(l))
	}
	slices.Sort(a)
	slices.Sort(b)
	require.Equal(t, b, a)
	for _, p := range own {
		require.True(t, slices.ContainsFunc(diag, func(l checks.Listener) bool { return l.Port == p && l.Inode != 0 }), "own listener on port %d", p)
	}

	// gatherSockets on the live host takes the sock_diag path and still
	// finds the owner of our socket: this process.
	got := gatherSockets("/proc", own)
	require.Empty(t, got.Err)
	require.NotEmpty(t, got.Listeners)
	for _, l := range got.Listeners {
		require.Equal(t, os.Getpid(), l.PID, "%+v", l)
	}
}

func TestParseSockDiagRejectsBadLength(t *testing.T) {
	b := make([]byte, 16)
	binary.NativeEndian.PutUint32(b[0:4], 4) // shorter than its own header
	_, err := parseSockDiag(b, 2, 1)
	require.Error(t, err)
	binary.NativeEndian.PutUint32(b[0:4], 400) // longer than the datagram
	_, err = parseSockDiag(b, 2, 1)
	require.Error(t, err)
}

// FuzzParseSockDiag: whatever a netlink datagram holds, the parser returns
// (never panics, never loops).
func FuzzParseSockDiag(f *testing.F) {
	msg := make([]byte, 16+inetDiagMsgLen)
	binary.NativeEndian.PutUint32(msg[0:4], uint32(len(msg)))
	binary.NativeEndian.PutUint16(msg[4:6], sockDiagByFamily)
	binary.NativeEndian.PutUint32(msg[8:12], 1)
	msg[16+1] = tcpStateListen
	f.Add(msg, uint8(2))
	f.Add([]byte{}, uint8(10))
	f.Fuzz(func(t *testing.T, b []byte, fam uint8) {
		if fam != 2 {
			fam = 10
		}
		ls, _ := parseSockDiag(b, fam, 1)
		for _, l := range ls {
			if l.Port < 0 || l.Port > 65535 {
				t.Fatalf("port %d", l.Port)
			}
		}
	})
}
