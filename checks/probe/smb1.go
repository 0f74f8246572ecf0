package probe

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"time"
)

// SMB1 offers. "pysmb" is exactly what the Python pysmb library sends
// (miketeo/pysmb python3/smb/smb_structs.py: DIALECTS + DIALECTS2, in one
// SMB_COM_NEGOTIATE), the library most scoring engines use, so the agent
// replays the scorer's own handshake. "nt1" is an SMB1-only client.
const (
	OfferPysmb = "pysmb"
	OfferNT1   = "nt1"
)

// Dialect strings of the SMB1 NEGOTIATE ([MS-CIFS] 2.2.4.52.1, [MS-SMB2] 2.2.3).
const (
	DialectStringNT1    = "NT LM 0.12"
	DialectStringSMB202 = "SMB 2.002"
	DialectStringSMB2FF = "SMB 2.???"
)

// SMB1Offers maps offer names to their dialect strings.
var SMB1Offers = map[string][]string{
	OfferPysmb: {DialectStringNT1, DialectStringSMB202},
	OfferNT1:   {DialectStringNT1},
}

const (
	smb1ComNegotiate = 0x72
	// pysmb's Payload.initMessage: SMB_FLAGS_CASE_INSENSITIVE |
	// SMB_FLAGS_CANONICALIZED_PATHS, and flags2 UNICODE | NT_STATUS |
	// IS_LONG_NAME | LONG_NAMES | EXTENDED_SECURITY.
	smb1Flags        = 0x18
	smb1Flags2       = 0xC841
	smb1FlagsReply   = 0x80
	smb1HeaderLen    = 32
	smb1SecSigningOn = 0x04 // NEGOTIATE_SECURITY_SIGNATURES_ENABLED
	smb1SecSigningRq = 0x08 // NEGOTIATE_SECURITY_SIGNATURES_REQUIRED
)

// BuildSMB1Negotiate returns the SMB1 NEGOTIATE message (without the Direct
// TCP header) offering dialects in order.
func BuildSMB1Negotiate(dialects []string) []byte {
	var b bytes.Buffer
	b.Write(smb1Magic)
	b.WriteByte(smb1ComNegotiate)
	b.Write(make([]byte, 4)) // status
	b.WriteByte(smb1Flags)
	_ = binary.Write(&b, binary.LittleEndian, uint16(smb1Flags2))
	pid := uint32(os.Getpid())
	_ = binary.Write(&b, binary.LittleEndian, uint16(pid>>16))
	b.Write(make([]byte, 8)) // security features
	b.Write(make([]byte, 2)) // reserved
	b.Write(make([]byte, 2)) // TID
	_ = binary.Write(&b, binary.LittleEndian, uint16(pid))
	b.Write(make([]byte, 2)) // UID
	b.Write(make([]byte, 2)) // MID
	b.WriteByte(0)           // WordCount
	var data bytes.Buffer
	for _, d := range dialects {
		data.WriteByte(0x02) // buffer format: dialect
		data.WriteString(d)
		data.WriteByte(0)
	}
	_ = binary.Write(&b, binary.LittleEndian, uint16(data.Len()))
	b.Write(data.Bytes())
	return b.Bytes()
}

// ParseSMB1Negotiate decodes a reply to an SMB1 NEGOTIATE: either an SMB1
// NEGOTIATE response (DialectIndex, 0xFFFF = none; [MS-CIFS] 2.2.4.52.2) or an
// SMB2 NEGOTIATE response, which a server sends when the offer contains an
// SMB2 dialect string ([MS-SMB2] 3.3.5.3.1; Samba smb2_negprot.c
// smb2_multi_protocol_reply_negprot). msg is the frame payload without the
// 4-byte Direct TCP header. It never panics, whatever msg holds.
func ParseSMB1Negotiate(msg []byte) (SMB1Reply, error) {
	var r SMB1Reply
	if len(msg) >= 4 && bytes.Equal(msg[:4], smb2Magic) {
		r.Form = "smb2"
		info, st, err := ParseSMB2Negotiate(msg)
		r.Status = st
		if err != nil {
			return r, err
		}
		r.SMB2 = info
		return r, nil
	}
	if len(msg) < smb1HeaderLen+1 {
		return r, frameErr("SMB1 reply of %d bytes is shorter than a header", len(msg))
	}
	if !bytes.Equal(msg[:4], smb1Magic) {
		return r, frameErr("reply does not start with 0xFF 'SMB' or 0xFE 'SMB' (% x)", msg[:4])
	}
	r.Form = "smb1"
	if msg[4] != smb1ComNegotiate {
		return r, frameErr("SMB1 reply command 0x%02X, want NEGOTIATE (0x72)", msg[4])
	}
	if msg[9]&smb1FlagsReply == 0 {
		return r, frameErr("SMB1 message is not a reply")
	}
	r.Status = NTStatus(binary.LittleEndian.Uint32(msg[5:9]))
	wc := int(msg[smb1HeaderLen])
	r.WordCount = wc
	words := msg[smb1HeaderLen+1:]
	if len(words) < 2*wc {
		return r, frameErr("SMB1 reply WordCount %d but only %d parameter bytes", wc, len(words))
	}
	if wc == 0 {
		if r.Status != 0 {
			return r, nil // an error reply carries no words
		}
		return r, frameErr("SMB1 NEGOTIATE reply without DialectIndex")
	}
	r.DialectIndex = binary.LittleEndian.Uint16(words[0:2])
	if wc >= 17 {
		// NT LM 0.12 form: DialectIndex(2) SecurityMode(1) MaxMpxCount(2)
		// MaxNumberVcs(2) MaxBufferSize(4) MaxRawSize(4) SessionKey(4)
		// Capabilities(4) ...
		r.SecurityMode = words[2]
		r.Capabilities = binary.LittleEndian.Uint32(words[19:23])
	}
	return r, nil
}

// NegotiateSMB1 sends one SMB1 NEGOTIATE offering dialects (strings such as
// "NT LM 0.12", "SMB 2.002") to addr and decodes the reply. The result's
// Offer is left empty; Run names it.
func NegotiateSMB1(ctx context.Context, addr string, dialects []string) (res SMB1Result) {
	res = newSMB1Result("", dialects)
	t0 := time.Now()
	defer func() { res.since(t0) }()
	conn, err := dialTCP(ctx, addr)
	if err != nil {
		stepFromErr(&res.Step, fmt.Errorf("smb1 negotiate with %s: %w", addr, err))
		return res
	}
	defer conn.Close()
	negotiateSMB1On(conn, addr, &res)
	return res
}

// ReplayPysmb replays the pysmb scoring client's handshake on one
// connection: its exact SMB1 NEGOTIATE (NT LM 0.12 + SMB 2.002) and, when the
// server answers SMB2_02 and cr is not nil, the NTLMv2 SESSION_SETUP that
// pysmb sends next (miketeo/pysmb base.py: _handleNegotiateResponse_SMB2 then
// _handleSessionChallenge_SMB2).
func ReplayPysmb(ctx context.Context, addr string, cr *Credentials) (res SMB1Result) {
	res = newSMB1Result(OfferPysmb, SMB1Offers[OfferPysmb])
	t0 := time.Now()
	defer func() { res.since(t0) }()
	conn, err := dialTCP(ctx, addr)
	if err != nil {
		stepFromErr(&res.Step, fmt.Errorf("smb1 negotiate with %s: %w", addr, err))
		return res
	}
	defer conn.Close()
	_ = replayPysmbOn(conn, addr, cr, &res, nil)
	return res
}

func newSMB1Result(offer string, dialects []string) SMB1Result {
	return SMB1Result{Offer: offer, Offered: append([]string(nil), dialects...), Reply: "none", DialectIndex: -1}
}

// replayPysmbOn runs ReplayPysmb on an open connection. When the server
// answered with SMB2_02 it returns the connection's SMB2 state, on which
// more sessions can be set up (MS-SMB2 allows several per connection).
// negotiated, when not nil, gets the result as it is after the NEGOTIATE,
// before the login.
func replayPysmbOn(conn net.Conn, addr string, cr *Credentials, res *SMB1Result, negotiated func(SMB1Result)) *rawConn {
	negotiateSMB1On(conn, addr, res)
	if negotiated != nil {
		negotiated(*res)
	}
	var rc *rawConn
	if res.OK() && res.Accepted && res.Reply == "smb2" && res.Dialect == SMB2_02 {
		rc = &rawConn{conn: conn, msgID: 1, dialect: SMB2_02}
	}
	if cr == nil || cr.User == "" {
		return rc
	}
	op := fmt.Sprintf("ntlmv2 session setup at SMB2_02 with %s (after pysmb's negotiate)", addr)
	login := SessionResult{Auth: string(AuthNTLMv2), User: cr.User, Domain: cr.Domain}
	switch {
	case !res.OK() || !res.Accepted:
		login.Step = skipped("negotiate failed: " + string(res.Class))
	case rc == nil:
		// An SMB1 server: pysmb would continue with SMB1
		// SESSION_SETUP_ANDX, which this probe does not implement.
		login.Step = skipped(fmt.Sprintf("server chose %s; SMB1 session setup is not probed", res.Chosen))
	default:
		t0 := time.Now()
		c := *cr
		c.Auth = AuthNTLMv2
		login.Dialect = SMB2_02
		rc.authenticate(c, op, &login)
		login.since(t0)
	}
	res.Login = &login
	return rc
}

// negotiateSMB1On sends the NEGOTIATE on an open connection.
func negotiateSMB1On(conn net.Conn, addr string, res *SMB1Result) {
	if err := writeFrame(conn, BuildSMB1Negotiate(res.Offered)); err != nil {
		stepFromErr(&res.Step, fmt.Errorf("smb1 negotiate with %s: send: %w", addr, err))
		return
	}
	msg, err := readFrame(conn, maxRawFrame)
	if err != nil {
		stepFromErr(&res.Step, fmt.Errorf("smb1 negotiate with %s: %w", addr, err))
		return
	}
	reply, err := ParseSMB1Negotiate(msg)
	if err != nil {
		stepFromErr(&res.Step, fmt.Errorf("smb1 negotiate with %s: %w", addr, err))
		return
	}
	interpretSMB1(res, reply)
}

// interpretSMB1 turns a decoded reply into the result's verdict.
func interpretSMB1(res *SMB1Result, reply SMB1Reply) {
	res.Raw = &reply
	res.Reply = reply.Form
	res.Class = ClassOK
	res.setStatus(reply.Status)
	switch reply.Form {
	case "smb2":
		if reply.Status != StatusSuccess || reply.SMB2 == nil {
			res.Class = classifyStatus(reply.Status)
			res.Error = "SMB2 NEGOTIATE reply with " + reply.Status.Name()
			return
		}
		d := reply.SMB2.Dialect
		res.Dialect = d
		res.Chosen = d.String()
		res.SigningRequired = reply.SMB2.SigningRequired
		// The server answers "SMB 2.002" with 0x0202 and "SMB 2.???" with
		// 0x02FF (a wildcard asking for a native SMB2 NEGOTIATE next).
		for i, s := range res.Offered {
			if (s == DialectStringSMB202 && d == SMB2_02) || (s == DialectStringSMB2FF && d == SMB2_FF) {
				res.Accepted = true
				res.DialectIndex = i
			}
		}
		if !res.Accepted {
			res.Class = ClassProtocolError
			res.Error = fmt.Sprintf("server chose %s, which was not offered", d)
		}
	case "smb1":
		res.DialectIndex = int(reply.DialectIndex)
		if reply.Status != StatusSuccess {
			res.Class = classifyStatus(reply.Status)
			res.Error = "SMB1 NEGOTIATE reply with " + reply.Status.Name()
			return
		}
		if reply.DialectIndex == 0xFFFF {
			// Samba reply_negprot / smb2_multi_protocol_reply_negprot:
			// "No protocol supported !"; pysmb raises "Server does not
			// support any of the pysmb dialects".
			res.Class = ClassNoCommonDialect
			res.Error = "server supports none of the offered dialects (DialectIndex 0xFFFF)"
			return
		}
		if int(reply.DialectIndex) >= len(res.Offered) {
			res.Class = ClassProtocolError
			res.Error = fmt.Sprintf("DialectIndex %d out of range of %d offered", reply.DialectIndex, len(res.Offered))
			return
		}
		res.Chosen = res.Offered[reply.DialectIndex]
		if d, err := ParseDialect(res.Chosen); err == nil {
			res.Dialect = d
		}
		if res.Dialect == NT1 && reply.WordCount < 17 {
			res.Class = ClassProtocolError
			res.Error = fmt.Sprintf("NT LM 0.12 chosen but WordCount %d, want 17", reply.WordCount)
			return
		}
		res.SigningRequired = reply.SecurityMode&smb1SecSigningRq != 0
		res.Accepted = true
	}
}
