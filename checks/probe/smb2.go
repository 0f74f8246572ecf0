package probe

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"time"
)

// SMB2 commands and flags (MS-SMB2 2.2.1).
const (
	smb2Negotiate    uint16 = 0x0000
	smb2SessionSetup uint16 = 0x0001
	smb2Logoff       uint16 = 0x0002
	smb2TreeConnect  uint16 = 0x0003
	smb2Create       uint16 = 0x0005
	smb2Read         uint16 = 0x0008
	smb2Write        uint16 = 0x0009
	smb2Ioctl        uint16 = 0x000B

	smb2FlagsServerToRedir = 0x00000001
	smb2FlagsAsync         = 0x00000002
	smb2FlagsSigned        = 0x00000008

	smb2SigningEnabled  = 0x0001
	smb2SigningRequired = 0x0002

	// Global capabilities (MS-SMB2 2.2.3).
	capDFS               = 0x00000001
	capLeasing           = 0x00000002
	capLargeMTU          = 0x00000004
	capMultiChannel      = 0x00000008
	capPersistentHandles = 0x00000010
	capDirectoryLeasing  = 0x00000020
	capEncryption        = 0x00000040

	// Negotiate context types (MS-SMB2 2.2.3.1).
	ctxPreauthIntegrity = 0x0001
	ctxEncryption       = 0x0002
	ctxSigning          = 0x0008

	// Session flags (MS-SMB2 2.2.6).
	sessionFlagIsGuest   = 0x0001
	sessionFlagIsNull    = 0x0002
	sessionFlagEncrypted = 0x0004
)

var cipherNames = map[uint16]string{1: "AES-128-CCM", 2: "AES-128-GCM", 3: "AES-256-CCM", 4: "AES-256-GCM"}

var signingNames = map[uint16]string{0: "HMAC-SHA256", 1: "AES-CMAC", 2: "AES-GMAC"}

// capabilityNames follows nmap's smb2-capabilities wording.
func capabilityNames(c uint32) []string {
	var out []string
	for _, x := range []struct {
		bit  uint32
		name string
	}{
		{capDFS, "DFS"}, {capLeasing, "Leasing"}, {capLargeMTU, "Multi-credit"},
		{capMultiChannel, "Multi-channel"}, {capPersistentHandles, "Persistent handles"},
		{capDirectoryLeasing, "Directory leasing"}, {capEncryption, "Encryption"},
	} {
		if c&x.bit != 0 {
			out = append(out, x.name)
		}
	}
	return out
}

// smb2Header builds a 64-byte sync request header.
func smb2Header(cmd uint16, msgID, sessionID uint64, creditCharge uint16) []byte {
	h := make([]byte, smb2HeaderLen)
	copy(h, smb2Magic)
	binary.LittleEndian.PutUint16(h[4:], smb2HeaderLen)
	binary.LittleEndian.PutUint16(h[6:], creditCharge)
	binary.LittleEndian.PutUint16(h[12:], cmd)
	binary.LittleEndian.PutUint16(h[14:], 31) // credits requested
	binary.LittleEndian.PutUint64(h[24:], msgID)
	binary.LittleEndian.PutUint32(h[32:], 0xFEFF) // process id
	binary.LittleEndian.PutUint64(h[40:], sessionID)
	return h
}

// BuildSMB2Negotiate returns an SMB2 NEGOTIATE request (MS-SMB2 2.2.3)
// offering dialects. When SMB3_11 is offered it carries the preauth
// integrity (SHA-512) and encryption (all four ciphers) contexts, which
// 3.1.1 requires (MS-SMB2 3.3.5.4: a 3.1.1 negotiate without a preauth
// context is refused with STATUS_INVALID_PARAMETER).
func BuildSMB2Negotiate(dialects []Dialect, signingRequired bool) []byte {
	var body bytes.Buffer
	has311 := false
	for _, d := range dialects {
		if d == SMB3_11 {
			has311 = true
		}
	}
	secMode := uint16(smb2SigningEnabled)
	if signingRequired {
		secMode = smb2SigningRequired
	}
	caps := uint32(capDFS | capLeasing | capLargeMTU | capEncryption)
	guid := make([]byte, 16)
	_, _ = rand.Read(guid)
	le := binary.LittleEndian
	_ = binary.Write(&body, le, uint16(36))
	_ = binary.Write(&body, le, uint16(len(dialects)))
	_ = binary.Write(&body, le, secMode)
	_ = binary.Write(&body, le, uint16(0))
	_ = binary.Write(&body, le, caps)
	body.Write(guid)
	ctxOffPos := body.Len()
	body.Write(make([]byte, 8)) // NegotiateContextOffset/Count/Reserved2 or ClientStartTime
	for _, d := range dialects {
		_ = binary.Write(&body, le, uint16(d))
	}
	msg := append(smb2Header(smb2Negotiate, 0, 0, 0), body.Bytes()...)
	if has311 {
		for len(msg)%8 != 0 {
			msg = append(msg, 0)
		}
		off := len(msg)
		salt := make([]byte, 32)
		_, _ = rand.Read(salt)
		var pre bytes.Buffer
		_ = binary.Write(&pre, le, uint16(1))  // HashAlgorithmCount
		_ = binary.Write(&pre, le, uint16(32)) // SaltLength
		_ = binary.Write(&pre, le, uint16(1))  // SHA-512
		pre.Write(salt)
		var enc bytes.Buffer
		_ = binary.Write(&enc, le, uint16(4))
		for _, c := range []uint16{2, 1, 4, 3} {
			_ = binary.Write(&enc, le, c)
		}
		var sig bytes.Buffer
		_ = binary.Write(&sig, le, uint16(2))
		_ = binary.Write(&sig, le, uint16(1)) // AES-CMAC
		_ = binary.Write(&sig, le, uint16(0)) // HMAC-SHA256
		n := 0
		for i, c := range []struct {
			typ  uint16
			data []byte
		}{{ctxPreauthIntegrity, pre.Bytes()}, {ctxEncryption, enc.Bytes()}, {ctxSigning, sig.Bytes()}} {
			if i > 0 {
				for len(msg)%8 != 0 {
					msg = append(msg, 0)
				}
			}
			h := make([]byte, 8)
			le.PutUint16(h[0:], c.typ)
			le.PutUint16(h[2:], uint16(len(c.data)))
			msg = append(msg, h...)
			msg = append(msg, c.data...)
			n++
		}
		p := smb2HeaderLen + ctxOffPos
		le.PutUint32(msg[p:], uint32(off))
		le.PutUint16(msg[p+4:], uint16(n))
	}
	return msg
}

// ParseSMB2Negotiate decodes an SMB2 NEGOTIATE response message (header and
// body, MS-SMB2 2.2.4). It returns the header's NT status; when that is not
// success the info is nil (the body is an ERROR response, 2.2.2). It never
// panics, whatever msg holds.
func ParseSMB2Negotiate(msg []byte) (*NegotiateInfo, NTStatus, error) {
	if len(msg) < smb2HeaderLen {
		return nil, 0, frameErr("SMB2 reply of %d bytes is shorter than a header", len(msg))
	}
	if !bytes.Equal(msg[:4], smb2Magic) {
		return nil, 0, frameErr("reply does not start with 0xFE 'SMB' (% x)", msg[:4])
	}
	le := binary.LittleEndian
	st := NTStatus(le.Uint32(msg[8:12]))
	if cmd := le.Uint16(msg[12:14]); cmd != smb2Negotiate {
		return nil, st, frameErr("SMB2 reply command %d, want NEGOTIATE", cmd)
	}
	if st != StatusSuccess {
		return nil, st, nil
	}
	b := msg[smb2HeaderLen:]
	if len(b) < 64 {
		return nil, st, frameErr("NEGOTIATE response body of %d bytes, want at least 64", len(b))
	}
	if ss := le.Uint16(b[0:2]); ss != 65 {
		return nil, st, frameErr("NEGOTIATE response StructureSize %d, want 65", ss)
	}
	info := &NegotiateInfo{
		SecurityMode:    le.Uint16(b[2:4]),
		Dialect:         Dialect(le.Uint16(b[4:6])),
		Capabilities:    le.Uint32(b[24:28]),
		MaxTransactSize: le.Uint32(b[28:32]),
		MaxReadSize:     le.Uint32(b[32:36]),
		MaxWriteSize:    le.Uint32(b[36:40]),
	}
	info.ServerGUID = fmt.Sprintf("%x", b[8:24])
	info.SigningEnabled = info.SecurityMode&smb2SigningEnabled != 0
	info.SigningRequired = info.SecurityMode&smb2SigningRequired != 0
	info.CapabilityNames = capabilityNames(info.Capabilities)
	info.EncryptionCapable = info.Capabilities&capEncryption != 0 && info.Dialect >= SMB3_00
	if info.Dialect == SMB3_11 {
		count := int(le.Uint16(b[6:8]))
		off := int(le.Uint32(b[60:64]))
		info.ContextCount = count
		if err := parseNegotiateContexts(msg, off, count, info); err != nil {
			return info, st, err
		}
	}
	return info, st, nil
}

// parseNegotiateContexts reads the 3.1.1 contexts (MS-SMB2 2.2.4, 2.2.3.1)
// starting at off (from the start of the header).
func parseNegotiateContexts(msg []byte, off, count int, info *NegotiateInfo) error {
	le := binary.LittleEndian
	if count > 64 {
		return frameErr("%d negotiate contexts", count)
	}
	for i := 0; i < count; i++ {
		if i > 0 {
			off = (off + 7) &^ 7
		}
		if off < smb2HeaderLen || off+8 > len(msg) {
			return frameErr("negotiate context %d at %d outside the %d-byte reply", i, off, len(msg))
		}
		typ := le.Uint16(msg[off:])
		n := int(le.Uint16(msg[off+2:]))
		data := msg[off+8:]
		if n > len(data) {
			return frameErr("negotiate context %d of %d bytes, %d left", i, n, len(data))
		}
		data = data[:n]
		switch typ {
		case ctxEncryption:
			if len(data) >= 4 && le.Uint16(data) >= 1 {
				c := le.Uint16(data[2:])
				if c != 0 {
					info.EncryptionCapable = true
					info.Cipher = cipherNames[c]
					if info.Cipher == "" {
						info.Cipher = fmt.Sprintf("0x%04X", c)
					}
				}
			}
		case ctxSigning:
			if len(data) >= 4 && le.Uint16(data) >= 1 {
				a := le.Uint16(data[2:])
				info.SigningAlgorithm = signingNames[a]
				if info.SigningAlgorithm == "" {
					info.SigningAlgorithm = fmt.Sprintf("0x%04X", a)
				}
			}
		}
		off += 8 + n
	}
	return nil
}

// rawConn is our own minimal SMB2 client: NEGOTIATE and SESSION_SETUP only,
// for what go-smb2 cannot do (a negotiate without login, NTLMv1, anonymous,
// session flags).
type rawConn struct {
	conn      net.Conn
	msgID     uint64
	sessionID uint64
	treeID    uint32 // TreeId of the next request (rawtree.go)
	// sessionKey is the NTLMv2 session key of a user session; signing,
	// when set, signs every request after the session setup with it
	// (HMAC-SHA256, SMB 2.x: MS-SMB2 3.1.4.1).
	sessionKey []byte
	signing    bool
	dialect    Dialect
	info       *NegotiateInfo
}

// dialTCP connects with the context's deadline and sets it on the conn as a
// backstop for every read and write.
func dialTCP(ctx context.Context, addr string) (net.Conn, error) {
	if err := invalidName(addr); err != nil {
		return nil, err
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	// Close the conn when ctx ends, so that no read outlives the run.
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	return &stopConn{Conn: c, stop: stop}, nil
}

type stopConn struct {
	net.Conn
	stop func() bool
}

func (c *stopConn) Close() error {
	c.stop()
	return c.Conn.Close()
}

// roundTrip sends one request and returns the final response message (a
// STATUS_PENDING interim reply is skipped, MS-SMB2 3.2.5.1.5).
func (r *rawConn) roundTrip(cmd uint16, body []byte, extra []byte) ([]byte, NTStatus, error) {
	charge := uint16(1)
	if r.dialect == SMB2_02 || cmd == smb2Negotiate {
		charge = 0
	}
	var msg []byte
	if cmd == smb2Negotiate {
		msg = body
	} else {
		msg = append(smb2Header(cmd, r.msgID, r.sessionID, charge), body...)
		binary.LittleEndian.PutUint32(msg[36:], r.treeID)
		msg = append(msg, extra...)
		if r.signing && cmd != smb2SessionSetup {
			binary.LittleEndian.PutUint32(msg[16:], binary.LittleEndian.Uint32(msg[16:])|smb2FlagsSigned)
			mac := hmac.New(sha256.New, r.sessionKey)
			mac.Write(msg)
			copy(msg[48:64], mac.Sum(nil))
		}
	}
	id := r.msgID
	r.msgID++
	if err := writeFrame(r.conn, msg); err != nil {
		return nil, 0, err
	}
	for i := 0; i < 16; i++ {
		resp, err := readFrame(r.conn, maxRawFrame)
		if err != nil {
			return nil, 0, err
		}
		if len(resp) < smb2HeaderLen || !bytes.Equal(resp[:4], smb2Magic) {
			if len(resp) >= 4 && bytes.Equal(resp[:4], smb1Magic) {
				return nil, 0, frameErr("SMB1 reply to an SMB2 request")
			}
			if len(resp) >= 4 && bytes.Equal(resp[:4], transformMagic) {
				// smbd encrypted its reply to an unencrypted request (an
				// anonymous session it flagged SMB2_SESSION_FLAG_ENCRYPT_DATA,
				// Samba 4.13): this client has no key to read it.
				return nil, 0, frameErr("encrypted reply (SMB2 TRANSFORM_HEADER) to an unencrypted request")
			}
			return nil, 0, frameErr("reply of %d bytes is not an SMB2 message", len(resp))
		}
		le := binary.LittleEndian
		st := NTStatus(le.Uint32(resp[8:12]))
		if le.Uint16(resp[12:14]) != cmd || le.Uint64(resp[24:32]) != id {
			continue // not ours (e.g. an oplock break); keep reading
		}
		if st == StatusPending && le.Uint32(resp[16:20])&smb2FlagsAsync != 0 {
			continue
		}
		return resp, st, nil
	}
	return nil, 0, frameErr("no final reply after 16 frames")
}

// negotiate runs a native SMB2 NEGOTIATE.
func (r *rawConn) negotiate(dialects []Dialect) (*NegotiateInfo, NTStatus, error) {
	resp, st, err := r.roundTrip(smb2Negotiate, BuildSMB2Negotiate(dialects, false), nil)
	if err != nil {
		return nil, st, err
	}
	info, st, err := ParseSMB2Negotiate(resp)
	if err != nil || info == nil {
		return info, st, err
	}
	ok := false
	for _, d := range dialects {
		ok = ok || d == info.Dialect
	}
	if !ok {
		return info, st, frameErr("server chose %s, which was not offered", info.Dialect)
	}
	r.dialect = info.Dialect
	r.info = info
	return info, st, nil
}

// NegotiateSMB2 sends one native SMB2 NEGOTIATE offering dialects to addr and
// decodes the response: the chosen DialectRevision, SecurityMode (signing
// enabled/required), Capabilities (encryption for SMB3_00/SMB3_02) and, for
// SMB3_11, the negotiated cipher and signing algorithm. No login.
func NegotiateSMB2(ctx context.Context, addr string, dialects []Dialect) (res SMB2Result) {
	res = SMB2Result{Offered: append([]Dialect(nil), dialects...)}
	t0 := time.Now()
	defer func() { res.since(t0) }()
	if len(dialects) == 0 {
		res.Class, res.Error = ClassError, "no dialect to offer"
		return res
	}
	for _, d := range dialects {
		if !d.IsSMB2() {
			res.Class, res.Error = ClassError, fmt.Sprintf("%s is not an SMB2 dialect", d)
			return res
		}
	}
	conn, err := dialTCP(ctx, addr)
	if err != nil {
		stepFromErr(&res.Step, fmt.Errorf("negotiate %v with %s: %w", dialects, addr, err))
		return res
	}
	defer conn.Close()
	rc := &rawConn{conn: conn}
	info, st, err := rc.negotiate(dialects)
	fillNegotiate(&res, info, st, err, fmt.Sprintf("negotiate %v with %s", dialects, addr))
	return res
}

// fillNegotiate records a negotiate outcome.
func fillNegotiate(res *SMB2Result, info *NegotiateInfo, st NTStatus, err error, op string) {
	if err != nil {
		stepFromErr(&res.Step, fmt.Errorf("%s: %w", op, err))
		if st != 0 {
			res.setStatus(st)
		}
		return
	}
	if st != StatusSuccess || info == nil {
		res.setStatus(st)
		res.Class = classifyStatus(st)
		if st == StatusNotSupported {
			// smbd smb2_negprot.c: no dialect in common with the offer.
			res.Class = ClassNoCommonDialect
		}
		res.Error = fmt.Sprintf("%s: %s (%s)", op, st.Name(), st.Hex())
		return
	}
	res.Class = ClassOK
	res.Accepted = true
	res.Dialect = info.Dialect
	res.Info = info
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return fmt.Sprintf("%x", os.Getpid())
	}
	return fmt.Sprintf("%x", b)
}
