package probe

import (
	"bytes"
	"context"
	"crypto/des"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"

	"golang.org/x/crypto/md4" //nolint:staticcheck // NTLM's NT hash is MD4 by definition (MS-NLMP 3.3.1)
)

// Auth selects how our own session setup authenticates.
type Auth string

// Auth modes of Session.
const (
	AuthNTLMv2    Auth = "ntlmv2"
	AuthNTLMv1    Auth = "ntlmv1"    // plain NTLMv1 (no extended session security): what an old client (Windows XP profile, pysmb use_ntlm_v2=False) sends
	AuthAnonymous Auth = "anonymous" // NTLMSSP anonymous (empty user, empty NT response)
)

// Credentials for Session. The password is only used to compute the
// response and never stored in any result.
type Credentials struct {
	User, Password, Domain, Workstation string
	Auth                                Auth
}

// NTLMSSP negotiate flags (MS-NLMP 2.2.2.5).
const (
	ntlmNegotiateUnicode    = 0x00000001
	ntlmRequestTarget       = 0x00000004
	ntlmNegotiateNTLM       = 0x00000200
	ntlmNegotiateAnonymous  = 0x00000800
	ntlmNegotiateAlwaysSign = 0x00008000
	ntlmNegotiateESS        = 0x00080000
	ntlmNegotiateTargetInfo = 0x00800000
	ntlmNegotiate128        = 0x20000000
	ntlmNegotiate56         = 0x80000000
)

var ntlmSignature = []byte("NTLMSSP\x00")

func utf16le(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return b
}

func ntlmNegotiateMsg(auth Auth) []byte {
	flags := uint32(ntlmNegotiateUnicode | ntlmRequestTarget | ntlmNegotiateNTLM |
		ntlmNegotiateAlwaysSign | ntlmNegotiate128 | ntlmNegotiate56)
	if auth != AuthNTLMv1 {
		flags |= ntlmNegotiateESS | ntlmNegotiateTargetInfo
	}
	b := make([]byte, 32)
	copy(b, ntlmSignature)
	binary.LittleEndian.PutUint32(b[8:], 1)
	binary.LittleEndian.PutUint32(b[12:], flags)
	// Domain and workstation fields stay empty (offset 32, length 0).
	binary.LittleEndian.PutUint32(b[20:], 32)
	binary.LittleEndian.PutUint32(b[28:], 32)
	return b
}

// ntlmChallenge is the decoded CHALLENGE_MESSAGE (MS-NLMP 2.2.1.2).
type ntlmChallenge struct {
	Flags      uint32
	Challenge  [8]byte
	TargetInfo []byte
}

// parseNTLMChallenge finds the NTLMSSP CHALLENGE in blob (raw, or inside a
// SPNEGO negTokenResp: we look for the signature rather than decoding DER)
// and decodes it. It never panics.
func parseNTLMChallenge(blob []byte) (ntlmChallenge, error) {
	var c ntlmChallenge
	i := bytes.Index(blob, ntlmSignature)
	if i < 0 {
		return c, frameErr("no NTLMSSP message in the security blob")
	}
	m := blob[i:]
	if len(m) < 32 {
		return c, frameErr("NTLMSSP challenge of %d bytes", len(m))
	}
	le := binary.LittleEndian
	if t := le.Uint32(m[8:12]); t != 2 {
		return c, frameErr("NTLMSSP message type %d, want 2 (CHALLENGE)", t)
	}
	c.Flags = le.Uint32(m[20:24])
	copy(c.Challenge[:], m[24:32])
	if len(m) >= 48 {
		n := int(le.Uint16(m[40:42]))
		off := int(le.Uint32(m[44:48]))
		if n > 0 {
			if off < 0 || off > len(m) || n > len(m)-off {
				return c, frameErr("NTLMSSP target info [%d:+%d] outside %d bytes", off, n, len(m))
			}
			c.TargetInfo = append([]byte(nil), m[off:off+n]...)
		}
	}
	return c, nil
}

func ntHash(password string) []byte {
	h := md4.New()
	h.Write(utf16le(password))
	return h.Sum(nil)
}

// desKey7to8 expands 7 key bytes into a DES key (parity bits unused).
func desKey7to8(k []byte) []byte {
	return []byte{
		k[0] & 0xFE,
		(k[0]<<7 | k[1]>>1) & 0xFE,
		(k[1]<<6 | k[2]>>2) & 0xFE,
		(k[2]<<5 | k[3]>>3) & 0xFE,
		(k[3]<<4 | k[4]>>4) & 0xFE,
		(k[4]<<3 | k[5]>>5) & 0xFE,
		(k[5]<<2 | k[6]>>6) & 0xFE,
		k[6] << 1,
	}
}

// desl is DESL() of MS-NLMP 6: three DES encryptions of the challenge with
// the 16-byte hash padded to 21 bytes.
func desl(hash []byte, challenge []byte) []byte {
	k := make([]byte, 21)
	copy(k, hash)
	out := make([]byte, 0, 24)
	for i := 0; i < 3; i++ {
		c, err := des.NewCipher(desKey7to8(k[7*i : 7*i+7]))
		if err != nil { // cannot happen: the key is always 8 bytes
			return make([]byte, 24)
		}
		b := make([]byte, 8)
		c.Encrypt(b, challenge)
		out = append(out, b...)
	}
	return out
}

func hmacMD5(key []byte, data ...[]byte) []byte {
	m := hmac.New(md5.New, key)
	for _, d := range data {
		m.Write(d)
	}
	return m.Sum(nil)
}

// ntlmAuthenticateMsg builds the AUTHENTICATE_MESSAGE (MS-NLMP 2.2.1.3)
// without Version and MIC (both optional; smbd accepts their absence).
func ntlmAuthenticateMsg(cr Credentials, ch ntlmChallenge, now time.Time) []byte {
	b, _ := ntlmAuthenticate(cr, ch, now)
	return b
}

// ntlmAuthenticate is ntlmAuthenticateMsg that also returns the NTLMv2
// session base key (MS-NLMP 3.3.2), which is the session key SMB2 signs
// with since we never negotiate key exchange (MS-NLMP 3.4.5.1); nil for
// NTLMv1 and anonymous.
func ntlmAuthenticate(cr Credentials, ch ntlmChallenge, now time.Time) ([]byte, []byte) {
	var lm, nt, sessionKey []byte
	flags := ch.Flags & (ntlmNegotiateUnicode | ntlmNegotiateNTLM | ntlmNegotiateAlwaysSign |
		ntlmNegotiateESS | ntlmNegotiateTargetInfo | ntlmNegotiate128 | ntlmNegotiate56)
	flags |= ntlmNegotiateUnicode | ntlmNegotiateNTLM
	user, domain := cr.User, cr.Domain
	switch cr.Auth {
	case AuthAnonymous:
		user, domain = "", ""
		lm = []byte{0}
		flags |= ntlmNegotiateAnonymous
	case AuthNTLMv1:
		// Plain NTLMv1: NT response = DESL(NTOWFv1, challenge); the LM
		// slot repeats it, as clients do when LM is off (MS-NLMP 3.3.1).
		flags &^= ntlmNegotiateESS
		nt = desl(ntHash(cr.Password), ch.Challenge[:])
		lm = nt
	default:
		// NTLMv2 (MS-NLMP 3.3.2).
		key := hmacMD5(ntHash(cr.Password), utf16le(strings.ToUpper(cr.User)+cr.Domain))
		cc := make([]byte, 8)
		_, _ = rand.Read(cc)
		var temp bytes.Buffer
		temp.Write([]byte{1, 1, 0, 0, 0, 0, 0, 0})
		ft := uint64(now.UnixNano()/100) + 116444736000000000 // FILETIME
		_ = binary.Write(&temp, binary.LittleEndian, ft)
		temp.Write(cc)
		temp.Write([]byte{0, 0, 0, 0})
		temp.Write(ch.TargetInfo)
		temp.Write([]byte{0, 0, 0, 0})
		proof := hmacMD5(key, ch.Challenge[:], temp.Bytes())
		sessionKey = hmacMD5(key, proof)
		nt = append(proof, temp.Bytes()...)
		lm = append(hmacMD5(key, ch.Challenge[:], cc), cc...)
	}
	ws := cr.Workstation
	if ws == "" {
		ws = "SMB-AGENT"
	}
	fields := [][]byte{lm, nt, utf16le(domain), utf16le(user), utf16le(ws), nil}
	const hdr = 64
	b := make([]byte, hdr)
	copy(b, ntlmSignature)
	binary.LittleEndian.PutUint32(b[8:], 3)
	off := hdr
	for i, f := range fields {
		p := 12 + 8*i
		binary.LittleEndian.PutUint16(b[p:], uint16(len(f)))
		binary.LittleEndian.PutUint16(b[p+2:], uint16(len(f)))
		binary.LittleEndian.PutUint32(b[p+4:], uint32(off))
		off += len(f)
	}
	binary.LittleEndian.PutUint32(b[60:], flags)
	for _, f := range fields {
		b = append(b, f...)
	}
	return b, sessionKey
}

// sessionSetupReq builds a SESSION_SETUP request body (MS-SMB2 2.2.5); the
// security buffer follows the 24-byte fixed part at offset 64+24.
func sessionSetupReq(blob []byte) []byte {
	b := make([]byte, 24)
	binary.LittleEndian.PutUint16(b[0:], 25)
	b[3] = smb2SigningEnabled
	binary.LittleEndian.PutUint16(b[12:], smb2HeaderLen+24)
	binary.LittleEndian.PutUint16(b[14:], uint16(len(blob)))
	return append(b, blob...)
}

// parseSessionSetupResp decodes a SESSION_SETUP response (MS-SMB2 2.2.6):
// session flags and the security blob. It never panics.
func parseSessionSetupResp(msg []byte) (flags uint16, blob []byte, err error) {
	if len(msg) < smb2HeaderLen+8 {
		return 0, nil, frameErr("SESSION_SETUP response of %d bytes", len(msg))
	}
	b := msg[smb2HeaderLen:]
	le := binary.LittleEndian
	if ss := le.Uint16(b[0:2]); ss != 9 {
		return 0, nil, frameErr("SESSION_SETUP response StructureSize %d, want 9", ss)
	}
	flags = le.Uint16(b[2:4])
	off := int(le.Uint16(b[4:6]))
	n := int(le.Uint16(b[6:8]))
	if n > 0 {
		if off < smb2HeaderLen || off > len(msg) || n > len(msg)-off {
			return flags, nil, frameErr("security buffer [%d:+%d] outside %d bytes", off, n, len(msg))
		}
		blob = msg[off : off+n]
	}
	return flags, blob, nil
}

// Session negotiates (offering dialects; nil means every SMB2/3 dialect) and
// runs a SESSION_SETUP with our own NTLMSSP: NTLMv2, plain NTLMv1 or
// anonymous. go-smb2 is NTLMv2-only and has no anonymous login, so this is
// how the agent sees what an NTLMv1-only or anonymous client sees. The result
// carries the session flags (guest, null). It never logs the password.
func Session(ctx context.Context, addr string, cr Credentials, dialects []Dialect) (res SessionResult) {
	if cr.Auth == "" {
		cr.Auth = AuthNTLMv2
	}
	if len(dialects) == 0 {
		dialects = SMB2Dialects
	}
	res = SessionResult{Auth: string(cr.Auth), User: cr.User, Domain: cr.Domain}
	if cr.Auth == AuthAnonymous {
		res.User, res.Domain = "", ""
	}
	t0 := time.Now()
	defer func() { res.since(t0) }()
	op := fmt.Sprintf("%s session setup with %s", cr.Auth, addr)
	conn, err := dialTCP(ctx, addr)
	if err != nil {
		stepFromErr(&res.Step, fmt.Errorf("%s: %w", op, err))
		return res
	}
	defer conn.Close()
	rc := &rawConn{conn: conn}
	info, st, err := rc.negotiate(dialects)
	if err != nil || st != StatusSuccess || info == nil {
		var n SMB2Result
		fillNegotiate(&n, info, st, err, op+": negotiate")
		res.Step = n.Step
		return res
	}
	res.Dialect = info.Dialect
	rc.authenticate(cr, op, &res)
	return res
}

// sessionOn sets up one more session on a negotiated connection (a new
// SessionId: MS-SMB2 3.2.4.2.3 allows several sessions per connection).
func (rc *rawConn) sessionOn(cr Credentials, addr string) SessionResult {
	if cr.Auth == "" {
		cr.Auth = AuthNTLMv2
	}
	res := SessionResult{Auth: string(cr.Auth), User: cr.User, Domain: cr.Domain, Dialect: rc.dialect}
	if cr.Auth == AuthAnonymous {
		res.User, res.Domain = "", ""
	}
	t0 := time.Now()
	rc.sessionID = 0
	rc.authenticate(cr, fmt.Sprintf("%s session setup with %s", cr.Auth, addr), &res)
	res.since(t0)
	return res
}

// authenticate runs the two SESSION_SETUP round trips of NTLMSSP on a
// negotiated connection and records the outcome in res. Closing the
// connection afterwards ends the session; no LOGOFF round trip is spent.
func (rc *rawConn) authenticate(cr Credentials, op string, res *SessionResult) {
	resp, st, err := rc.roundTrip(smb2SessionSetup, sessionSetupReq(ntlmNegotiateMsg(cr.Auth)), nil)
	if err != nil {
		stepFromErr(&res.Step, fmt.Errorf("%s: %w", op, err))
		return
	}
	if st != StatusMoreProcessingRequired {
		authFail(&res.Step, st, op+" (NTLMSSP negotiate)")
		return
	}
	rc.sessionID = binary.LittleEndian.Uint64(resp[40:48])
	_, blob, err := parseSessionSetupResp(resp)
	if err != nil {
		stepFromErr(&res.Step, fmt.Errorf("%s: %w", op, err))
		return
	}
	ch, err := parseNTLMChallenge(blob)
	if err != nil {
		stepFromErr(&res.Step, fmt.Errorf("%s: %w", op, err))
		return
	}
	msg, key := ntlmAuthenticate(cr, ch, time.Now())
	resp, st, err = rc.roundTrip(smb2SessionSetup, sessionSetupReq(msg), nil)
	if err != nil {
		stepFromErr(&res.Step, fmt.Errorf("%s: %w", op, err))
		return
	}
	if st != StatusSuccess {
		authFail(&res.Step, st, op)
		return
	}
	flags, _, err := parseSessionSetupResp(resp)
	if err != nil {
		stepFromErr(&res.Step, fmt.Errorf("%s: %w", op, err))
		return
	}
	res.SessionFlags = flags
	if flags&(sessionFlagIsGuest|sessionFlagIsNull) == 0 {
		rc.sessionKey = key
	}
	res.Guest = flags&sessionFlagIsGuest != 0
	res.Anonymous = flags&sessionFlagIsNull != 0 || (cr.Auth == AuthAnonymous && !res.Guest)
	res.Encrypted = flags&sessionFlagEncrypted != 0
	res.Class = ClassOK
}

func authFail(s *Step, st NTStatus, op string) {
	s.setStatus(st)
	s.Class = classifyAuthStatus(st)
	s.Error = fmt.Sprintf("%s: %s (%s)", op, st.Name(), st.Hex())
}
