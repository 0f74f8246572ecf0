package agent

import (
	"log/slog"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// floodConns is the flood of the attack: idle TCP connections that never
// send a request.
const floodConns = 3000

// rssKiB is this process's resident set (VmRSS).
func rssKiB(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			n, err := strconv.Atoi(f[1])
			require.NoError(t, err)
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// A flood of idle connections is held by the kernel's accept queue, not
// by the daemon: the goroutines serving connections stay at the cap. The
// RSS figures are logged, not asserted (they depend on the machine).
func TestConnectionFloodIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 3,000 connections")
	}
	d, err := New(testOptions(&fakeRound{}))
	require.NoError(t, err)
	r := start(t, d)
	code, _ := get(t, r.base+"/healthz")
	require.Equal(t, 200, code)
	runtime.GC()
	rss0, g0 := rssKiB(t), runtime.NumGoroutine()

	conns := make([]net.Conn, 0, floodConns)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < floodConns; i++ {
		c, err := net.DialTimeout("tcp", d.Addr().String(), 5*time.Second)
		if err != nil {
			t.Logf("dial %d: %v (accept queue full: the kernel refuses the rest)", i, err)
			break
		}
		conns = append(conns, c)
	}
	require.Greater(t, len(conns), MaxConnections, "the flood must exceed the cap to test it")
	// Let the server accept what it will.
	time.Sleep(500 * time.Millisecond)
	runtime.GC()
	rss1, g1 := rssKiB(t), runtime.NumGoroutine()
	t.Logf("%d idle connections: RSS %d KiB -> %d KiB (+%d KiB), goroutines %d -> %d (cap %d connections)",
		len(conns), rss0, rss1, rss1-rss0, g0, g1, MaxConnections)
	// Each served connection is one goroutine (plus a background reader
	// once a request starts); without the cap there would be one per
	// flood connection.
	require.LessOrEqual(t, g1-g0, 2*MaxConnections+8, "goroutines grew with the flood")

	for _, c := range conns {
		c.Close()
	}
	conns = conns[:0]
	eventually(t, "the API answers again after the flood", func() bool {
		code, _ := get(t, r.base+"/healthz")
		return code == 200
	})
}

// --listen-public on every interface says what it exposes.
func TestListenPublicWarns(t *testing.T) {
	var logs syncBuffer
	o := testOptions(&fakeRound{})
	o.Listen, o.ListenPublic = "[::]:0", true
	o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	d, err := New(o)
	require.NoError(t, err)
	require.NoError(t, d.Listen())
	defer d.ln.Close()
	require.Contains(t, logs.String(), "level=WARN")
	require.Contains(t, logs.String(), "reachable from the network (--listen-public)")
	require.Contains(t, logs.String(), "/metrics")

	var quiet syncBuffer
	o = testOptions(&fakeRound{})
	o.Logger = slog.New(slog.NewTextHandler(&quiet, nil))
	d2, err := New(o)
	require.NoError(t, err)
	require.NoError(t, d2.Listen())
	defer d2.ln.Close()
	require.NotContains(t, quiet.String(), "listen-public", "loopback: no warning")
}
