package probe

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	smb2 "github.com/hirochachacha/go-smb2"
)

var testTime = time.Unix(1700000000, 0)

// Fuzz targets for every parser of ours that reads peer bytes. Run them
// with `go test -run '^$' -fuzz FuzzName ./checks/probe` (make fuzz); under
// plain `go test` they run their seed corpus only.

func FuzzParseSMB1Negotiate(f *testing.F) {
	f.Add(smb1Resp(0, u16(0xFFFF)))
	f.Add(smb1Resp(0, nt1Words(smb1SecSigningOn)))
	f.Add(smb1Resp(StatusAccessDenied, nil))
	f.Add(negResp(0, SMB2_02, 1, 0))
	f.Add(negResp(0, SMB2_FF, 1, 0))
	f.Add([]byte("HTTP/1.1 400 Bad Request\r\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, msg []byte) {
		r, err := ParseSMB1Negotiate(msg)
		if err != nil {
			return
		}
		res := SMB1Result{Offered: SMB1Offers[OfferPysmb], DialectIndex: -1}
		interpretSMB1(&res, r) // must not panic either
		if res.Accepted && res.Class != ClassOK {
			t.Fatalf("accepted with class %s", res.Class)
		}
	})
}

func FuzzParseSMB2Negotiate(f *testing.F) {
	f.Add(negResp(0, SMB3_00, 3, capEncryption))
	f.Add(negResp(StatusNotSupported, 0, 0, 0))
	f.Add(negResp(0, SMB3_11, 1, 0,
		[2][]byte{u16(ctxPreauthIntegrity), append(u16(1, 32, 1), make([]byte, 32)...)},
		[2][]byte{u16(ctxEncryption), u16(1, 2)},
		[2][]byte{u16(ctxSigning), u16(1, 1)}))
	f.Add(make([]byte, 64))
	f.Fuzz(func(t *testing.T, msg []byte) {
		info, st, err := ParseSMB2Negotiate(msg)
		if err == nil && st == StatusSuccess && info == nil {
			t.Fatal("success without info")
		}
	})
}

func FuzzValidateSMB2Frame(f *testing.F) {
	ok := negResp(0, SMB3_00, 1, 0)
	compound := append(append([]byte(nil), ok[:64]...), ok...)
	binary.LittleEndian.PutUint32(compound[20:], 64)
	f.Add(ok)
	f.Add(compound)
	f.Add([]byte("HTTP/1.1"))
	f.Add(append(append([]byte(nil), transformMagic...), make([]byte, 48)...))
	f.Fuzz(func(t *testing.T, frame []byte) {
		if ValidateSMB2Frame(frame) != nil {
			return
		}
		// What go-smb2's receiver does with a frame we let through
		// (conn.go runReciever): it must not be able to go out of bounds.
		if bytes.HasPrefix(frame, transformMagic) {
			return
		}
		pkt := frame
		for {
			if len(pkt) < smb2HeaderLen {
				t.Fatalf("accepted a %d-byte message", len(pkt))
			}
			off := binary.LittleEndian.Uint32(pkt[20:24])
			if off == 0 {
				break
			}
			if int(off) > len(pkt) {
				t.Fatalf("accepted NextCommand %d beyond %d bytes", off, len(pkt))
			}
			pkt = pkt[off:]
		}
		(&tap{}).record(frame)
	})
}

func FuzzParseNTLMChallenge(f *testing.F) {
	m := make([]byte, 48)
	copy(m, ntlmSignature)
	binary.LittleEndian.PutUint32(m[8:], 2)
	binary.LittleEndian.PutUint16(m[40:], 4)
	binary.LittleEndian.PutUint32(m[44:], 48)
	f.Add(append(m, 0, 0, 0, 0))
	f.Add([]byte("NTLMSSP\x00"))
	f.Fuzz(func(t *testing.T, blob []byte) {
		c, err := parseNTLMChallenge(blob)
		if err != nil {
			return
		}
		_ = ntlmAuthenticateMsg(Credentials{User: "u", Password: "p"}, c, testTime)
	})
}

func FuzzParseSessionSetupResp(f *testing.F) {
	m := make([]byte, smb2HeaderLen+8)
	copy(m, smb2Magic)
	binary.LittleEndian.PutUint16(m[smb2HeaderLen:], 9)
	binary.LittleEndian.PutUint16(m[smb2HeaderLen+4:], smb2HeaderLen+8)
	binary.LittleEndian.PutUint16(m[smb2HeaderLen+6:], 2)
	f.Add(append(m, 1, 2))
	f.Fuzz(func(t *testing.T, msg []byte) {
		_, blob, err := parseSessionSetupResp(msg)
		if err == nil && len(blob) > len(msg) {
			t.Fatal("blob longer than the message")
		}
	})
}

func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{0, 0, 0, 2, 'h', 'i'})
	f.Add([]byte{0x85, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0, 0xFF, 0xFF, 0xFF, 1})
	f.Fuzz(func(t *testing.T, in []byte) {
		b, err := readFrame(bytes.NewReader(in), maxRawFrame)
		if err == nil && len(b) > maxRawFrame {
			t.Fatal("frame over the limit")
		}
	})
}

// FuzzGuardedNegotiate feeds one arbitrary reply to go-smb2's NEGOTIATE
// through our guard, over an in-memory pipe. go-smb2 parses what the guard
// lets through in its own goroutine, where a panic would kill the process
// (and fail this target), so this checks the guard against go-smb2 itself.
func FuzzGuardedNegotiate(f *testing.F) {
	f.Add(negResp(0, SMB3_00, 1, capEncryption))
	f.Add(negResp(0, SMB3_11, 1, 0, [2][]byte{u16(ctxPreauthIntegrity), append(u16(1, 32, 1), make([]byte, 32)...)}, [2][]byte{u16(ctxEncryption), u16(1, 2)}))
	f.Add(negResp(StatusNotSupported, 0, 0, 0))
	f.Add([]byte("HTTP/1.1"))
	f.Fuzz(func(t *testing.T, reply []byte) {
		if len(reply) > 1<<16 {
			return
		}
		srv, cli := net.Pipe()
		defer srv.Close()
		go func() {
			if _, err := readFrame(srv, maxRawFrame); err != nil {
				return
			}
			// Make the reply look like an answer to our request (message
			// id 0, response flag) so that go-smb2 gets to parse it.
			r := append([]byte(nil), reply...)
			if len(r) >= smb2HeaderLen && bytes.Equal(r[:4], smb2Magic) {
				binary.LittleEndian.PutUint64(r[24:], 0)
				binary.LittleEndian.PutUint16(r[12:], smb2Negotiate)
			}
			_ = writeFrame(srv, r)
			_, _ = io.Copy(io.Discard, srv)
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		_ = cli.SetDeadline(time.Now().Add(time.Second))
		g := &gsession{tap: &tap{}, conn: cli}
		gc := newGuardConn(cli, g.tap)
		gc.negotiateOnly = true
		d := &smb2.Dialer{Initiator: &smb2.NTLMInitiator{User: "u"}}
		if s, err := d.DialContext(ctx, gc); err == nil {
			_ = s.Logoff()
		}
		_ = cli.Close()
		_ = g.negotiateResult(SMB2Dialects, nil, "fuzz")
	})
}
