package probe

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// Frame limits. Direct TCP (MS-SMB2 2.1) has a 24-bit length, so 16 MiB is
// the protocol's own ceiling; go-smb2 allocates the whole frame up front, so
// the guard reads the frame itself first (growing its buffer only as bytes
// arrive) and a peer that announces 16 MiB and sends nothing costs nothing.
// Our own negotiate and session setup replies are a few hundred bytes;
// 64 KiB is generous for them.
const (
	maxGuardFrame = 1<<24 - 1
	maxRawFrame   = 64 << 10
	smb2HeaderLen = 64
	transformLen  = 52 // SMB2 TRANSFORM_HEADER (MS-SMB2 2.2.41)
)

var (
	smb2Magic      = []byte{0xFE, 'S', 'M', 'B'}
	smb1Magic      = []byte{0xFF, 'S', 'M', 'B'}
	transformMagic = []byte{0xFD, 'S', 'M', 'B'}
)

// FrameError is a malformed frame from the peer. go-smb2 sees it as a
// TransportError; Classify reports ClassProtocolError.
type FrameError struct{ Reason string }

func (e *FrameError) Error() string { return "malformed SMB frame: " + e.Reason }

func frameErr(format string, args ...any) error {
	return &FrameError{Reason: fmt.Sprintf(format, args...)}
}

// readFrame reads one Direct TCP frame (a zero byte, a 24-bit big-endian
// length, the payload) and returns the payload. NetBIOS keep-alives (0x85)
// are skipped; any other session packet type is an error: smbd's answer to
// a denied host is a NetBIOS NEGATIVE SESSION RESPONSE (0x83), which pysmb
// reports as "Invalid protocol header for Direct TCP session message".
func readFrame(r io.Reader, limit int) ([]byte, error) {
	var h [4]byte
	for {
		if _, err := io.ReadFull(r, h[:]); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, frameErr("truncated frame header")
			}
			return nil, err
		}
		switch h[0] {
		case 0x00:
		case 0x85: // session keep-alive
			continue
		default:
			return nil, frameErr("NetBIOS packet type 0x%02X, want 0x00 (session message)", h[0])
		}
		n := int(h[1])<<16 | int(h[2])<<8 | int(h[3])
		if n > limit {
			return nil, frameErr("frame length %d exceeds %d", n, limit)
		}
		var b bytes.Buffer
		if _, err := io.CopyN(&b, r, int64(n)); err != nil {
			if errors.Is(err, io.EOF) {
				return nil, frameErr("truncated frame: %d of %d bytes", b.Len(), n)
			}
			return nil, err
		}
		return b.Bytes(), nil
	}
}

// writeFrame sends payload with its Direct TCP header in one write.
func writeFrame(w io.Writer, payload []byte) error {
	if len(payload) > maxGuardFrame {
		return fmt.Errorf("frame of %d bytes too large", len(payload))
	}
	b := make([]byte, 4+len(payload))
	b[1], b[2], b[3] = byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
	copy(b[4:], payload)
	_, err := w.Write(b)
	return err
}

// ValidateSMB2Frame checks a frame payload before go-smb2 parses it: an SMB2
// message (FE 'SMB', at least a 64-byte header, StructureSize 64) whose
// compound chain (NextCommand) stays inside the frame, or an encrypted
// TRANSFORM_HEADER (FD 'SMB', at least 52 bytes). go-smb2 v1.1.0 slices by
// NextCommand without checks and panics in its receiver goroutine on a
// short or chained-out-of-bounds frame (internal/smb2/packet.go:160, called
// from conn.go runReciever; reproduced by test/ TestProbeFakeShortFrame),
// which no recover() of ours can catch.
func ValidateSMB2Frame(p []byte) error {
	if len(p) >= 4 && bytes.Equal(p[:4], transformMagic) {
		if len(p) < transformLen {
			return frameErr("transform header of %d bytes", len(p))
		}
		return nil
	}
	off := 0
	for i := 0; ; i++ {
		rest := p[off:]
		if len(rest) < smb2HeaderLen {
			if len(rest) >= 4 && bytes.Equal(rest[:4], smb1Magic) {
				return frameErr("SMB1 reply where SMB2 was expected")
			}
			return frameErr("message %d is %d bytes, shorter than an SMB2 header", i, len(rest))
		}
		if !bytes.Equal(rest[:4], smb2Magic) {
			if bytes.Equal(rest[:4], smb1Magic) {
				return frameErr("SMB1 reply where SMB2 was expected")
			}
			return frameErr("message %d does not start with 0xFE 'SMB' (% x)", i, rest[:4])
		}
		if ss := binary.LittleEndian.Uint16(rest[4:6]); ss != smb2HeaderLen {
			return frameErr("header StructureSize %d, want 64", ss)
		}
		next := binary.LittleEndian.Uint32(rest[20:24])
		if next == 0 {
			return nil
		}
		if next < smb2HeaderLen || uint64(next) >= uint64(len(rest)) {
			return frameErr("NextCommand %d out of bounds (%d bytes left)", next, len(rest))
		}
		off += int(next)
	}
}

// smb2Event is one SMB2 response the tap saw.
type smb2Event struct {
	cmd    uint16
	status NTStatus
	async  bool
}

// tap records what go-smb2 does not expose: the raw NEGOTIATE response, the
// final SESSION_SETUP response and the NT status of every response (go-smb2
// maps ACCESS_DENIED to a bare os.ErrPermission and drops the code).
type tap struct {
	mu           sync.Mutex
	negotiate    []byte
	sessionSetup []byte
	events       []smb2Event
}

const maxTapEvents = 4096

func (t *tap) record(frame []byte) {
	if t == nil || len(frame) < smb2HeaderLen || !bytes.Equal(frame[:4], smb2Magic) {
		return // encrypted or not SMB2: nothing we can read
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for off := 0; off+smb2HeaderLen <= len(frame); {
		m := frame[off:]
		cmd := binary.LittleEndian.Uint16(m[12:14])
		st := NTStatus(binary.LittleEndian.Uint32(m[8:12]))
		flags := binary.LittleEndian.Uint32(m[16:20])
		next := int(binary.LittleEndian.Uint32(m[20:24]))
		msg := m
		if next > 0 && next <= len(m) {
			msg = m[:next]
		}
		switch {
		case cmd == smb2Negotiate && t.negotiate == nil:
			t.negotiate = append([]byte(nil), msg...)
		case cmd == smb2SessionSetup && st != StatusMoreProcessingRequired && st != StatusPending:
			t.sessionSetup = append([]byte(nil), msg...)
		}
		if len(t.events) < maxTapEvents {
			t.events = append(t.events, smb2Event{cmd: cmd, status: st, async: flags&smb2FlagsAsync != 0})
		}
		if next == 0 {
			break
		}
		off += next
	}
}

// mark returns a position in the event log.
func (t *tap) mark() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.events)
}

// lastStatus returns the last final (non-PENDING) status for cmd seen after
// mark, and whether there was one.
func (t *tap) lastStatus(mark int, cmd uint16) (NTStatus, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := len(t.events) - 1; i >= mark && i >= 0; i-- {
		e := t.events[i]
		if e.cmd == cmd && e.status != StatusPending {
			return e.status, true
		}
	}
	return 0, false
}

// isTransform reports whether a frame is an encrypted TRANSFORM_HEADER.
func isTransform(p []byte) bool { return len(p) >= 4 && bytes.Equal(p[:4], transformMagic) }

// sessionEstablished reports whether a SESSION_SETUP succeeded on this
// connection, which is when go-smb2 starts decrypting.
func (t *tap) sessionEstablished() bool {
	if t == nil {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.sessionSetup) >= smb2HeaderLen && NTStatus(binary.LittleEndian.Uint32(t.sessionSetup[8:12])) == 0
}

func (t *tap) negotiateResponse() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.negotiate
}

func (t *tap) sessionSetupResponse() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sessionSetup
}

// guardConn is the net.Conn handed to go-smb2: it reads each frame in full,
// validates it (ValidateSMB2Frame), records it in the tap, and only then lets
// go-smb2 read it. A bad frame becomes a sticky *FrameError.
type guardConn struct {
	net.Conn
	tap *tap
	buf []byte
	err error
	// negotiateOnly makes the first SESSION_SETUP write fail with
	// errNegotiateOnly, so that go-smb2 (which always logs in after its
	// NEGOTIATE) can be used for a negotiate alone: the server never sees
	// the login, which saves it the authentication work.
	negotiateOnly bool
	held          []byte // a 4-byte Direct TCP header held back until its payload shows the command
}

// errNegotiateOnly stops a negotiate-only go-smb2 connection before login.
var errNegotiateOnly = errors.New("negotiate-only probe: stopped before session setup")

func newGuardConn(c net.Conn, t *tap) *guardConn { return &guardConn{Conn: c, tap: t} }

// Write passes frames through. go-smb2 writes the 4-byte header and the
// payload in two calls (transport.go directTCP.Write), so in negotiate-only
// mode the header is held until the payload shows which command it is.
func (g *guardConn) Write(p []byte) (int, error) {
	if !g.negotiateOnly {
		return g.Conn.Write(p)
	}
	if g.held == nil && len(p) == 4 && p[0] == 0 {
		g.held = append([]byte(nil), p...)
		return len(p), nil
	}
	if g.held != nil {
		if len(p) >= smb2HeaderLen && bytes.Equal(p[:4], smb2Magic) &&
			binary.LittleEndian.Uint16(p[12:14]) == smb2SessionSetup {
			return 0, errNegotiateOnly
		}
		b := append(g.held, p...)
		g.held = nil
		if _, err := g.Conn.Write(b); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return g.Conn.Write(p)
}

func (g *guardConn) Read(p []byte) (int, error) {
	if len(g.buf) == 0 {
		if g.err != nil {
			return 0, g.err
		}
		frame, err := readFrame(g.Conn, maxGuardFrame)
		if err == nil {
			err = ValidateSMB2Frame(frame)
		}
		if err == nil && isTransform(frame) && !g.tap.sessionEstablished() {
			// go-smb2 decrypts only once it has a session; before that it
			// parses a TRANSFORM_HEADER as a plain SMB2 header and slices
			// by the "NextCommand" that is really nonce bytes (a panic in
			// its receiver goroutine, found by FuzzGuardedNegotiate). A
			// server never encrypts before the session exists.
			err = frameErr("encrypted (TRANSFORM_HEADER) frame before a session was set up")
		}
		if err != nil {
			g.err = err
			return 0, err
		}
		g.tap.record(frame)
		n := len(frame)
		g.buf = make([]byte, 0, 4+n)
		g.buf = append(g.buf, 0, byte(n>>16), byte(n>>8), byte(n))
		g.buf = append(g.buf, frame...)
	}
	n := copy(p, g.buf)
	g.buf = g.buf[n:]
	return n, nil
}
