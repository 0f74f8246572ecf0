package probe

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// negResp builds an SMB2 NEGOTIATE response as MS-SMB2 2.2.4 lays it out,
// with optional 3.1.1 contexts (type, data).
func negResp(status NTStatus, d Dialect, secMode uint16, caps uint32, ctxs ...[2][]byte) []byte {
	h := make([]byte, smb2HeaderLen)
	copy(h, smb2Magic)
	le := binary.LittleEndian
	le.PutUint16(h[4:], 64)
	le.PutUint32(h[8:], uint32(status))
	le.PutUint32(h[16:], smb2FlagsServerToRedir)
	if status != 0 {
		return append(h, 9, 0, 0, 0, 0, 0, 0, 0, 0)
	}
	b := make([]byte, 64)
	le.PutUint16(b[0:], 65)
	le.PutUint16(b[2:], secMode)
	le.PutUint16(b[4:], uint16(d))
	le.PutUint16(b[6:], uint16(len(ctxs)))
	le.PutUint32(b[24:], caps)
	le.PutUint32(b[28:], 8<<20)
	msg := append(h, b...)
	if len(ctxs) > 0 {
		for len(msg)%8 != 0 {
			msg = append(msg, 0)
		}
		le.PutUint32(msg[smb2HeaderLen+60:], uint32(len(msg)))
		for i, c := range ctxs {
			if i > 0 {
				for len(msg)%8 != 0 {
					msg = append(msg, 0)
				}
			}
			ch := make([]byte, 8)
			le.PutUint16(ch[0:], binary.LittleEndian.Uint16(c[0]))
			le.PutUint16(ch[2:], uint16(len(c[1])))
			msg = append(msg, ch...)
			msg = append(msg, c[1]...)
		}
	}
	return msg
}

func u16(v ...uint16) []byte {
	b := make([]byte, 2*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint16(b[2*i:], x)
	}
	return b
}

// smb1Resp builds an SMB1 NEGOTIATE reply with the given words.
func smb1Resp(status NTStatus, words []byte) []byte {
	h := make([]byte, smb1HeaderLen)
	copy(h, smb1Magic)
	h[4] = smb1ComNegotiate
	binary.LittleEndian.PutUint32(h[5:], uint32(status))
	h[9] = 0x98
	msg := append(h, byte(len(words)/2))
	msg = append(msg, words...)
	return append(msg, 0, 0)
}

func nt1Words(secMode byte) []byte {
	w := make([]byte, 34)
	w[2] = secMode
	return w
}

func TestParseSMB2Negotiate(t *testing.T) {
	info, st, err := ParseSMB2Negotiate(negResp(0, SMB3_00, smb2SigningEnabled|smb2SigningRequired, capDFS|capEncryption))
	require.NoError(t, err)
	require.Equal(t, StatusSuccess, st)
	require.Equal(t, SMB3_00, info.Dialect)
	require.True(t, info.SigningRequired)
	require.True(t, info.EncryptionCapable)
	require.Equal(t, []string{"DFS", "Encryption"}, info.CapabilityNames)

	// SMB2_10 never encrypts, whatever the capability bit says.
	info, _, err = ParseSMB2Negotiate(negResp(0, SMB2_10, smb2SigningEnabled, capEncryption))
	require.NoError(t, err)
	require.False(t, info.EncryptionCapable)
	require.False(t, info.SigningRequired)

	// 3.1.1: the cipher comes from the encryption context.
	info, _, err = ParseSMB2Negotiate(negResp(0, SMB3_11, smb2SigningEnabled, 0,
		[2][]byte{u16(ctxPreauthIntegrity), append(u16(1, 32, 1), make([]byte, 32)...)},
		[2][]byte{u16(ctxEncryption), u16(1, 2)},
		[2][]byte{u16(ctxSigning), u16(1, 1)}))
	require.NoError(t, err)
	require.True(t, info.EncryptionCapable)
	require.Equal(t, "AES-128-GCM", info.Cipher)
	require.Equal(t, "AES-CMAC", info.SigningAlgorithm)
	require.Equal(t, 3, info.ContextCount)

	// A 3.1.1 server that picked no cipher (0) cannot encrypt.
	info, _, err = ParseSMB2Negotiate(negResp(0, SMB3_11, smb2SigningEnabled, 0, [2][]byte{u16(ctxEncryption), u16(1, 0)}))
	require.NoError(t, err)
	require.False(t, info.EncryptionCapable)

	// An error response: status, no info.
	info, st, err = ParseSMB2Negotiate(negResp(StatusNotSupported, 0, 0, 0))
	require.NoError(t, err)
	require.Nil(t, info)
	require.Equal(t, StatusNotSupported, st)

	for name, msg := range map[string][]byte{
		"short":     []byte{0xFE, 'S', 'M', 'B'},
		"smb1":      smb1Resp(0, u16(0xFFFF)),
		"truncated": negResp(0, SMB3_00, 0, 0)[:100],
		"context out": func() []byte {
			m := negResp(0, SMB3_11, 0, 0, [2][]byte{u16(2), u16(1, 2)})
			binary.LittleEndian.PutUint32(m[smb2HeaderLen+60:], 9999)
			return m
		}(),
		"context len":   func() []byte { m := negResp(0, SMB3_11, 0, 0, [2][]byte{u16(2), u16(1, 2)}); return m[:len(m)-2] }(),
		"wrong command": func() []byte { m := negResp(0, SMB3_00, 0, 0); m[12] = 1; return m }(),
	} {
		_, _, err := ParseSMB2Negotiate(msg)
		require.Error(t, err, name)
		var fe *FrameError
		require.ErrorAs(t, err, &fe, name)
	}
}

func TestParseSMB1Negotiate(t *testing.T) {
	// Samba 4.17 default, NT LM 0.12 alone: WordCount 1, index 0xFFFF.
	r, err := ParseSMB1Negotiate(smb1Resp(0, u16(0xFFFF)))
	require.NoError(t, err)
	require.Equal(t, "smb1", r.Form)
	require.Equal(t, uint16(0xFFFF), r.DialectIndex)
	require.Equal(t, 1, r.WordCount)

	// An NT1 server: WordCount 17, signing required in SecurityMode.
	r, err = ParseSMB1Negotiate(smb1Resp(0, nt1Words(smb1SecSigningOn|smb1SecSigningRq)))
	require.NoError(t, err)
	require.Equal(t, 17, r.WordCount)
	require.Equal(t, uint16(0), r.DialectIndex)

	// The SMB2 answer to a multi-protocol offer.
	r, err = ParseSMB1Negotiate(negResp(0, SMB2_02, smb2SigningEnabled, 0))
	require.NoError(t, err)
	require.Equal(t, "smb2", r.Form)
	require.Equal(t, SMB2_02, r.SMB2.Dialect)

	for name, msg := range map[string][]byte{
		"empty":      nil,
		"http":       []byte("HTTP/1.1 400 Bad Request\r\n\r\n"),
		"short":      smb1Resp(0, nil)[:20],
		"no words":   smb1Resp(0, nil),
		"words lie":  func() []byte { m := smb1Resp(0, u16(0)); m[smb1HeaderLen] = 40; return m }(),
		"not reply":  func() []byte { m := smb1Resp(0, u16(0)); m[9] = 0; return m }(),
		"other cmd":  func() []byte { m := smb1Resp(0, u16(0)); m[4] = 0x73; return m }(),
		"smb2 short": negResp(0, SMB2_02, 0, 0)[:80],
	} {
		_, err := ParseSMB1Negotiate(msg)
		require.Error(t, err, name)
	}
}

func TestInterpretSMB1(t *testing.T) {
	py := SMB1Offers[OfferPysmb]
	for _, tc := range []struct {
		name     string
		offered  []string
		reply    []byte
		class    Class
		accepted bool
		dialect  Dialect
		signReq  bool
	}{
		{"pysmb gets SMB2_02", py, negResp(0, SMB2_02, 1, 0), ClassOK, true, SMB2_02, false},
		{"pysmb gets none", py, smb1Resp(0, u16(0xFFFF)), ClassNoCommonDialect, false, 0, false},
		{"pysmb gets NT1", py, smb1Resp(0, nt1Words(smb1SecSigningOn|smb1SecSigningRq)), ClassOK, true, NT1, true},
		{"wildcard", []string{DialectStringNT1, DialectStringSMB2FF}, negResp(0, SMB2_FF, 1, 0), ClassOK, true, SMB2_FF, false},
		{"unoffered SMB2 dialect", py, negResp(0, SMB3_11, 1, 0), ClassProtocolError, false, SMB3_11, false},
		{"index out of range", py, smb1Resp(0, u16(7)), ClassProtocolError, false, 0, false},
		{"NT1 with one word", py, smb1Resp(0, u16(0)), ClassProtocolError, false, NT1, false},
		{"error status", py, smb1Resp(StatusAccessDenied, nil), ClassAccessDenied, false, 0, false},
	} {
		reply, err := ParseSMB1Negotiate(tc.reply)
		require.NoError(t, err, tc.name)
		res := SMB1Result{Offered: tc.offered, DialectIndex: -1}
		interpretSMB1(&res, reply)
		require.Equal(t, tc.class, res.Class, tc.name)
		require.Equal(t, tc.accepted, res.Accepted, tc.name)
		require.Equal(t, tc.dialect, res.Dialect, tc.name)
		require.Equal(t, tc.signReq, res.SigningRequired, tc.name)
	}
}

func TestBuildSMB1NegotiateMatchesPysmb(t *testing.T) {
	m := BuildSMB1Negotiate(SMB1Offers[OfferPysmb])
	require.Equal(t, smb1Magic, m[:4])
	require.Equal(t, byte(0x72), m[4])
	require.Equal(t, byte(0x18), m[9])
	require.Equal(t, uint16(0xC841), binary.LittleEndian.Uint16(m[10:12]))
	require.Equal(t, byte(0), m[32]) // WordCount
	data := []byte("\x02NT LM 0.12\x00\x02SMB 2.002\x00")
	require.Equal(t, uint16(len(data)), binary.LittleEndian.Uint16(m[33:35]))
	require.Equal(t, data, m[35:])
}

func TestBuildSMB2NegotiateRoundTrip(t *testing.T) {
	m := BuildSMB2Negotiate([]Dialect{SMB2_02, SMB3_11}, false)
	le := binary.LittleEndian
	require.Equal(t, smb2Magic, m[:4])
	b := m[smb2HeaderLen:]
	require.Equal(t, uint16(36), le.Uint16(b[0:]))
	require.Equal(t, uint16(2), le.Uint16(b[2:]))
	require.Equal(t, uint16(0x0202), le.Uint16(b[36:]))
	require.Equal(t, uint16(0x0311), le.Uint16(b[38:]))
	off := int(le.Uint32(b[28:]))
	require.Equal(t, uint16(3), le.Uint16(b[32:]))
	require.Zero(t, off%8)
	require.Equal(t, uint16(ctxPreauthIntegrity), le.Uint16(m[off:]))
	// Without 3.1.1: no contexts, ClientStartTime zero.
	m = BuildSMB2Negotiate([]Dialect{SMB2_10}, true)
	require.Equal(t, uint16(smb2SigningRequired), le.Uint16(m[smb2HeaderLen+4:]))
	require.Len(t, m, smb2HeaderLen+36+2)
}

func TestValidateSMB2Frame(t *testing.T) {
	ok := negResp(0, SMB3_00, 1, 0)
	require.NoError(t, ValidateSMB2Frame(ok))
	compound := append(append([]byte(nil), ok[:64]...), ok...)
	binary.LittleEndian.PutUint32(compound[20:], 64)
	require.NoError(t, ValidateSMB2Frame(compound))
	require.NoError(t, ValidateSMB2Frame(append(append([]byte(nil), transformMagic...), make([]byte, 48)...)))
	for name, f := range map[string][]byte{
		"http short":      []byte("HTTP/1.1"),
		"empty":           nil,
		"smb1":            smb1Resp(0, u16(0)),
		"short smb2":      ok[:63],
		"transform short": append(append([]byte(nil), transformMagic...), 1, 2),
		"next past end":   func() []byte { c := append([]byte(nil), ok...); binary.LittleEndian.PutUint32(c[20:], 4096); return c }(),
		"next too small": func() []byte {
			c := append([]byte(nil), compound...)
			binary.LittleEndian.PutUint32(c[20:], 8)
			return c
		}(),
		"bad structure": func() []byte { c := append([]byte(nil), ok...); c[4] = 1; return c }(),
		"bad second":    func() []byte { c := append([]byte(nil), compound...); c[64] = 'X'; return c }(),
	} {
		require.Error(t, ValidateSMB2Frame(f), name)
	}
}

func TestReadFrame(t *testing.T) {
	fr := func(b ...byte) *bytes.Reader { return bytes.NewReader(b) }
	got, err := readFrame(fr(0x85, 0, 0, 0, 0, 0, 0, 2, 'h', 'i'), 100)
	require.NoError(t, err, "keep-alive skipped")
	require.Equal(t, []byte("hi"), got)
	_, err = readFrame(fr(0x83, 0, 0, 1, 0x82), 100)
	require.ErrorContains(t, err, "NetBIOS packet type 0x83")
	_, err = readFrame(fr(0, 0xFF, 0xFF, 0xFF), 100)
	require.ErrorContains(t, err, "exceeds")
	_, err = readFrame(fr(0, 0, 0, 9, 1, 2), 100)
	require.ErrorContains(t, err, "truncated frame")
	_, err = readFrame(fr(0, 0), 100)
	require.ErrorContains(t, err, "truncated frame header")
}

func TestGuardConnRecordsAndRejects(t *testing.T) {
	srv, cli := net.Pipe()
	defer srv.Close()
	defer cli.Close()
	tp := &tap{}
	g := newGuardConn(cli, tp)
	resp := negResp(0, SMB3_02, 3, 0)
	setup := make([]byte, smb2HeaderLen+9)
	copy(setup, smb2Magic)
	binary.LittleEndian.PutUint16(setup[4:], 64)
	binary.LittleEndian.PutUint16(setup[12:], smb2SessionSetup)
	binary.LittleEndian.PutUint32(setup[8:], uint32(StatusAccessDenied))
	go func() {
		_ = writeFrame(srv, resp)
		_ = writeFrame(srv, setup)
		_, _ = srv.Write([]byte{0, 0, 0, 8, 'H', 'T', 'T', 'P', '/', '1', '.', '1'})
	}()
	_ = g.SetDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 4+len(resp))
	_, err := readFull(g, buf)
	require.NoError(t, err)
	require.Equal(t, resp, buf[4:])
	buf = make([]byte, 4+len(setup))
	_, err = readFull(g, buf)
	require.NoError(t, err)
	require.Equal(t, resp, tp.negotiateResponse())
	st, ok := tp.lastStatus(0, smb2SessionSetup)
	require.True(t, ok)
	require.Equal(t, StatusAccessDenied, st)
	_, err = g.Read(make([]byte, 4))
	var fe *FrameError
	require.ErrorAs(t, err, &fe)
	_, err2 := g.Read(make([]byte, 4))
	require.Equal(t, err, err2, "the error is sticky")
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// MS-NLMP 4.2.2 (NTLM v1) and 4.2.4 (NTLMv2) test vectors.
func TestNTLMVectors(t *testing.T) {
	h := ntHash("Password")
	require.Equal(t, "a4f49c406510bdcab6824ee7c30fd852", hex.EncodeToString(h))
	ch, _ := hex.DecodeString("0123456789abcdef")
	require.Equal(t, "67c43011f30298a2ad35ece64f16331c44bdbed927841f94", hex.EncodeToString(desl(h, ch)))
	v2 := hmacMD5(h, utf16le("USER"+"Domain"))
	require.Equal(t, "0c868a403bfd7a93a3001ef22ef02e3f", hex.EncodeToString(v2))
}

func TestNTLMMessages(t *testing.T) {
	chMsg := make([]byte, 48)
	copy(chMsg, ntlmSignature)
	binary.LittleEndian.PutUint32(chMsg[8:], 2)
	binary.LittleEndian.PutUint32(chMsg[20:], ntlmNegotiateUnicode|ntlmNegotiateNTLM|ntlmNegotiateESS)
	copy(chMsg[24:], []byte{1, 2, 3, 4, 5, 6, 7, 8})
	ti := []byte{2, 0, 4, 0, 'D', 0, 'M', 0, 0, 0, 0, 0}
	binary.LittleEndian.PutUint16(chMsg[40:], uint16(len(ti)))
	binary.LittleEndian.PutUint32(chMsg[44:], 48)
	chMsg = append(chMsg, ti...)
	// Wrapped in something SPNEGO-like: we look for the signature.
	c, err := parseNTLMChallenge(append([]byte{0xa1, 0x81, 0x99, 0x30}, chMsg...))
	require.NoError(t, err)
	require.Equal(t, [8]byte{1, 2, 3, 4, 5, 6, 7, 8}, c.Challenge)
	require.Equal(t, ti, c.TargetInfo)

	v1 := ntlmAuthenticateMsg(Credentials{User: "u", Password: "p", Auth: AuthNTLMv1}, c, time.Unix(0, 0))
	le := binary.LittleEndian
	require.Equal(t, uint16(24), le.Uint16(v1[20:]), "NTLMv1 NT response is 24 bytes")
	require.Zero(t, le.Uint32(v1[60:])&ntlmNegotiateESS, "plain NTLMv1 has no extended session security")
	v2 := ntlmAuthenticateMsg(Credentials{User: "u", Password: "p"}, c, time.Unix(0, 0))
	require.Equal(t, 16+28+len(ti)+4, int(le.Uint16(v2[20:])), "NTProofStr + blob + target info + 4")
	anon := ntlmAuthenticateMsg(Credentials{User: "ignored", Auth: AuthAnonymous}, c, time.Unix(0, 0))
	require.Equal(t, uint16(1), le.Uint16(anon[12:]), "anonymous LM response is Z(1)")
	require.Zero(t, le.Uint16(anon[20:]))
	require.Zero(t, le.Uint16(anon[36:]), "no user name")
	require.NotZero(t, le.Uint32(anon[60:])&ntlmNegotiateAnonymous)

	for name, b := range map[string][]byte{
		"none":   []byte("no ntlm here"),
		"short":  append([]byte(nil), ntlmSignature...),
		"type 3": func() []byte { m := append([]byte(nil), chMsg...); m[8] = 3; return m }(),
		"ti outside": func() []byte {
			m := append([]byte(nil), chMsg...)
			binary.LittleEndian.PutUint32(m[44:], 999)
			return m
		}(),
	} {
		_, err := parseNTLMChallenge(b)
		require.Error(t, err, name)
	}
}

func TestParseSessionSetupResp(t *testing.T) {
	m := make([]byte, smb2HeaderLen+8)
	copy(m, smb2Magic)
	le := binary.LittleEndian
	le.PutUint16(m[smb2HeaderLen:], 9)
	le.PutUint16(m[smb2HeaderLen+2:], sessionFlagIsGuest)
	le.PutUint16(m[smb2HeaderLen+4:], smb2HeaderLen+8)
	le.PutUint16(m[smb2HeaderLen+6:], 3)
	m = append(m, 'a', 'b', 'c')
	flags, blob, err := parseSessionSetupResp(m)
	require.NoError(t, err)
	require.Equal(t, uint16(sessionFlagIsGuest), flags)
	require.Equal(t, []byte("abc"), blob)
	le.PutUint16(m[smb2HeaderLen+6:], 300)
	_, _, err = parseSessionSetupResp(m)
	require.Error(t, err)
	_, _, err = parseSessionSetupResp(m[:40])
	require.Error(t, err)
}
