package test

import (
	"context"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks/probe"
	"github.com/smb-agent/smb-agent/test/harness"
)

// Hostile peers: what smbd cannot do. Every case runs the whole probe set
// with credentials, so that go-smb2 (behind the framing guard) and our own
// parsers both meet the peer, and checks: no panic, no hang past the budget,
// and the right class.

const fakeBudget = 1 * time.Second

func runAgainstPeer(t *testing.T, handle func(net.Conn)) *probe.Result {
	t.Helper()
	p, err := harness.StartFakePeer(handle)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	o := probe.Options{
		Ports: []int{p.Port()}, User: "u", Password: "p", Share: "data", File: "f",
		Timeout: fakeBudget, Guest: true, NTLMv1: true,
	}
	t0 := time.Now()
	r := runProbe(t, o)
	took := time.Since(t0)
	require.Less(t, took, fakeBudget+500*time.Millisecond, "the run must end within its budget plus a small margin")
	require.Equal(t, probe.TCPAccepted, r.TCP[0].Outcome)
	return r
}

// everyNegotiate returns the classes of every SMB-level first step.
func everyNegotiate(r *probe.Result) []probe.Class {
	var out []probe.Class
	for _, s := range r.SMB1 {
		out = append(out, s.Class)
	}
	for _, d := range r.Dialects {
		out = append(out, d.Negotiate.Class)
	}
	out = append(out, r.Multi.Class, r.GuestMapping.Session.Class, r.Anonymous.Class, r.NTLMv1.Class)
	return out
}

func requireAll(t *testing.T, got []probe.Class, want ...probe.Class) {
	t.Helper()
	for i, c := range got {
		require.Contains(t, want, c, "step %d", i)
	}
}

func TestProbeFakeSilentPeer(t *testing.T) {
	t.Parallel()
	r := runAgainstPeer(t, harness.Silent)
	requireAll(t, everyNegotiate(r), probe.ClassTimeout)
	require.Equal(t, probe.ClassSkipped, r.Login.Class)
	require.Equal(t, probe.ClassSkipped, r.Shares.Class)
}

func TestProbeFakeShortFrame(t *testing.T) {
	t.Parallel()
	// go-smb2 v1.1.0 panics in its receiver goroutine on this frame
	// (internal/smb2/packet.go:160); the guard must turn it into a protocol
	// error.
	r := runAgainstPeer(t, harness.Reply(harness.ShortFrame))
	requireAll(t, everyNegotiate(r), probe.ClassProtocolError)
	require.Contains(t, r.Multi.Error, "malformed SMB frame")
}

func TestProbeFakeCompoundOutOfBounds(t *testing.T) {
	t.Parallel()
	r := runAgainstPeer(t, harness.Reply(harness.CompoundOutOfBounds))
	require.Equal(t, probe.ClassProtocolError, r.Multi.Class)
	for _, d := range r.Dialects {
		require.Equal(t, probe.ClassProtocolError, d.Negotiate.Class, d.Dialect)
	}
}

func TestProbeFakeHTTPGarbage(t *testing.T) {
	t.Parallel()
	// "HTTP" is not a Direct TCP header: the first byte 'H' is no NetBIOS
	// session message type.
	r := runAgainstPeer(t, harness.Reply(harness.HTTPGarbage))
	requireAll(t, everyNegotiate(r), probe.ClassProtocolError)
}

func TestProbeFakeAbsurdLength(t *testing.T) {
	t.Parallel()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := runAgainstPeer(t, harness.Reply(harness.AbsurdLength))
	runtime.ReadMemStats(&after)
	// Our own parsers refuse a 16 MiB frame at once; go-smb2's connections
	// (guarded) wait for bytes that never come, until the deadline.
	for _, s := range r.SMB1 {
		require.Equal(t, probe.ClassProtocolError, s.Class)
	}
	require.Equal(t, probe.ClassTimeout, r.Multi.Class)
	// Twelve connections announcing 16 MiB each must not cost 16 MiB each.
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(32<<20))
}

func TestProbeFakeCloseMidNegotiate(t *testing.T) {
	t.Parallel()
	r := runAgainstPeer(t, harness.ReplyThenClose(harness.SMB2NegotiateHeaderOnly))
	requireAll(t, everyNegotiate(r), probe.ClassProtocolError, probe.ClassClosed)
	require.Equal(t, probe.ClassProtocolError, r.Multi.Class, "a truncated frame is a protocol error")
}

func TestProbeFakeCloseAtOnce(t *testing.T) {
	t.Parallel()
	r := runAgainstPeer(t, harness.CloseAtOnce)
	// The peer's FIN may arrive before or after our write: EOF or EPIPE/RST.
	requireAll(t, everyNegotiate(r), probe.ClassClosed, probe.ClassReset)
}

func TestProbeFakeReset(t *testing.T) {
	t.Parallel()
	r := runAgainstPeer(t, harness.Reset)
	requireAll(t, everyNegotiate(r), probe.ClassReset)
}

func TestProbeRunHonoursParentContext(t *testing.T) {
	t.Parallel()
	p, err := harness.StartFakePeer(harness.Silent)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	r := probe.Run(ctx, "127.0.0.1", probe.Options{Ports: []int{p.Port()}, User: "u", Timeout: 10 * time.Second})
	require.Less(t, time.Since(t0), 2*time.Second)
	require.Equal(t, probe.ClassTimeout, r.Multi.Class)
}

// The anonymous chain (no user) runs on the agent's own client: against
// hostile peers it ends within the budget with a failed negotiate, never a
// panic or a hang.
func TestProbeFakeAnonymousChain(t *testing.T) {
	t.Parallel()
	for name, h := range map[string]func(net.Conn){
		"silent": harness.Silent, "garbage": harness.Reply(harness.HTTPGarbage),
		"absurd": harness.Reply(harness.AbsurdLength), "close": harness.CloseAtOnce,
	} {
		p, err := harness.StartFakePeer(h)
		require.NoError(t, err)
		o := probe.Options{Ports: []int{p.Port()}, Share: "data", File: "f", Timeout: fakeBudget, Guest: true}
		t0 := time.Now()
		r := runProbe(t, o)
		require.Less(t, time.Since(t0), fakeBudget+500*time.Millisecond, name)
		_ = p.Close()
		require.False(t, r.Multi.OK(), name)
		require.Equal(t, probe.ClassSkipped, r.Login.Class, name)
		for _, s := range []probe.Step{*r.IPC, r.Shares.Step, r.Share.Step, r.File.Step} {
			require.Equal(t, probe.ClassSkipped, s.Class, name)
		}
	}
}
