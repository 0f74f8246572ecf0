package test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/smb-agent/smb-agent/checks/probe"
)

// TestProbeHostUnreachableInNetns reproduces "[Errno 113] Host is
// unreachable" without sending a packet anywhere: in a network namespace the
// test creates, an "unreachable" route makes connect() fail with
// EHOSTUNREACH, exactly what a firewall's icmp host-unreachable produces
// (Linux net/ipv4/icmp.c icmp_err_convert). A destination with no route at all gives
// ENETUNREACH ("Network is unreachable"), classified the same way.
func TestProbeHostUnreachableInNetns(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2 (ip) to create a network namespace")
	}
	ns := fmt.Sprintf("agtprobe%d", os.Getpid())
	ip := func(args ...string) {
		t.Helper()
		out, err := exec.Command("ip", args...).CombinedOutput()
		require.NoError(t, err, "ip %v: %s", args, out)
	}
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace here: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	ip("-n", ns, "link", "set", "lo", "up")
	ip("-n", ns, "route", "add", "unreachable", "10.254.7.0/24")

	cases := map[string]string{
		"unreachable route": "10.254.7.1:445",
		"no route":          "10.254.8.1:445",
	}
	for name, addr := range cases {
		res, err := tcpConnectInNetns(ns, addr)
		require.NoError(t, err)
		require.Equal(t, probe.ClassUnreachable, res.Class, "%s: %s", name, res.Error)
		require.Equal(t, probe.TCPUnreachable, res.Outcome, name)
	}
}

// tcpConnectInNetns runs probe.TCPConnect on an OS thread moved into the
// namespace: the socket is created there, so no packet can leave through the
// host's routes. The thread returns to the original namespace afterwards, or
// is left locked (and so discarded by the runtime) if that fails.
func tcpConnectInNetns(ns, addr string) (probe.TCPResult, error) {
	var res probe.TCPResult
	target, err := os.Open("/var/run/netns/" + ns)
	if err != nil {
		return res, err
	}
	defer target.Close()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return res, err
	}
	defer orig.Close()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := setns(target); err != nil {
			runtime.UnlockOSThread()
			done <- err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		res = probe.TCPConnect(ctx, addr)
		cancel()
		if err := setns(orig); err != nil {
			done <- fmt.Errorf("return to the original namespace: %w", err)
			return // stays locked: the runtime kills this thread
		}
		runtime.UnlockOSThread()
		done <- nil
	}()
	return res, <-done
}

func setns(f *os.File) error {
	if _, _, e := syscall.RawSyscall(unix.SYS_SETNS, f.Fd(), unix.CLONE_NEWNET, 0); e != 0 {
		return fmt.Errorf("setns: %w", e)
	}
	return nil
}
