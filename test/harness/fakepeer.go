package harness

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// FakePeer is a TCP listener on a free loopback port that plays a hostile or
// broken SMB server, for what a real smbd cannot do: stay silent, send
// garbage, announce absurd lengths, close in the middle of a reply, reset.
type FakePeer struct {
	l      net.Listener
	handle func(net.Conn)
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

// StartFakePeer listens on 127.0.0.1:0 and runs handle for every connection
// (in its own goroutine). Close stops it and closes every connection.
func StartFakePeer(handle func(net.Conn)) (*FakePeer, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fake peer listen: %w", err)
	}
	p := &FakePeer{l: l, handle: handle, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

func (p *FakePeer) serve() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			_ = c.Close()
			return
		}
		p.conns[c] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go func() {
			defer p.wg.Done()
			defer func() {
				p.mu.Lock()
				delete(p.conns, c)
				p.mu.Unlock()
				_ = c.Close()
			}()
			// No handler may outlive the test by much.
			_ = c.SetDeadline(time.Now().Add(time.Minute))
			p.handle(c)
		}()
	}
}

// Addr is "127.0.0.1:PORT".
func (p *FakePeer) Addr() string { return p.l.Addr().String() }

// Port is the listening port.
func (p *FakePeer) Port() int { return p.l.Addr().(*net.TCPAddr).Port }

// Close stops listening, closes every open connection and waits for the
// handlers.
func (p *FakePeer) Close() error {
	p.mu.Lock()
	p.closed = true
	err := p.l.Close()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

// readRequest reads one Direct TCP frame from the client (at most 1 MiB),
// so that a handler answers after the request, like a server.
func readRequest(c net.Conn) ([]byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(c, h[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint32(h[:]) & 0xFFFFFF)
	if n > 1<<20 {
		return nil, fmt.Errorf("request of %d bytes", n)
	}
	b := make([]byte, n)
	_, err := io.ReadFull(c, b)
	return b, err
}

// Silent accepts and never answers; it reads and discards what comes.
func Silent(c net.Conn) { _, _ = io.Copy(io.Discard, c) }

// CloseAtOnce closes the connection right after accept (the client sees EOF).
func CloseAtOnce(net.Conn) {}

// Reply answers the first request with raw bytes (written as they are, no
// framing added), then waits for the client to hang up.
func Reply(raw []byte) func(net.Conn) {
	return func(c net.Conn) {
		if _, err := readRequest(c); err != nil {
			return
		}
		_, _ = c.Write(raw)
		_, _ = io.Copy(io.Discard, c)
	}
}

// ReplyThenClose answers the first request with raw bytes and closes.
func ReplyThenClose(raw []byte) func(net.Conn) {
	return func(c net.Conn) {
		if _, err := readRequest(c); err != nil {
			return
		}
		_, _ = c.Write(raw)
	}
}

// Reset reads the first request and resets the connection (SO_LINGER 0,
// so close sends RST).
func Reset(c net.Conn) {
	_, _ = readRequest(c)
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
}

// Frame prefixes payload with a Direct TCP header claiming length n (which
// may lie).
func Frame(n int, payload []byte) []byte {
	b := []byte{0, byte(n >> 16), byte(n >> 8), byte(n)}
	return append(b, payload...)
}

// ShortFrame is the frame that makes go-smb2 v1.1.0 panic in its receiver
// goroutine (internal/smb2/packet.go:160, from conn.go runReciever): 8 bytes
// of "HTTP/1.1" as an SMB2 frame.
var ShortFrame = Frame(8, []byte("HTTP/1.1"))

// AbsurdLength announces a 16 MiB frame and sends 4 bytes of it.
var AbsurdLength = Frame(0xFFFFFF, []byte{0xFE, 'S', 'M', 'B'})

// HTTPGarbage is what a web server on the SMB port would say.
var HTTPGarbage = []byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

// SMB2NegotiateHeaderOnly is a frame announcing a 129-byte SMB2 NEGOTIATE
// response of which only the 64-byte header arrives: used with
// ReplyThenClose, the peer closes in the middle of the negotiate.
var SMB2NegotiateHeaderOnly = func() []byte {
	h := make([]byte, 64)
	copy(h, []byte{0xFE, 'S', 'M', 'B'})
	binary.LittleEndian.PutUint16(h[4:], 64)
	binary.LittleEndian.PutUint32(h[16:], 1) // SERVER_TO_REDIR
	return Frame(129, h)
}()

// CompoundOutOfBounds is a 64-byte SMB2 response whose NextCommand points
// past the frame (another slice-out-of-range in go-smb2's receiver).
var CompoundOutOfBounds = func() []byte {
	h := make([]byte, 64)
	copy(h, []byte{0xFE, 'S', 'M', 'B'})
	binary.LittleEndian.PutUint16(h[4:], 64)
	binary.LittleEndian.PutUint32(h[16:], 1)
	binary.LittleEndian.PutUint32(h[20:], 4096) // NextCommand
	return Frame(len(h), h)
}()
