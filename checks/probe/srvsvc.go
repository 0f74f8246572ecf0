package probe

import (
	"encoding/binary"
	"fmt"
)

// The srvsvc share listing of our own client: a DCE/RPC bind to the
// srvsvc interface and NetrShareEnum at level 1 over the named pipe, the
// calls smbclient -L and impacket's listShares make (MS-SRVS 3.1.4.8,
// DCE 1.1 RPC chapter 12 PDU layouts, MS-RPCE 2.2.2).

const (
	rpcBind     = 11
	rpcBindAck  = 12
	rpcBindNak  = 13
	rpcRequest  = 0
	rpcResponse = 2
	rpcFault    = 3

	rpcFirstFrag = 0x01
	rpcLastFrag  = 0x02

	rpcMaxFrag = 4280 // what Windows and Samba's clients propose

	opNetrShareEnum = 15
)

// srvsvc 4b324fc8-1670-01d3-1278-5a47bf6ee188 v3.0 and NDR
// 8a885d04-1ceb-11c9-9fe8-08002b104860 v2, in their wire (little-endian
// first three fields) form.
var (
	srvsvcSyntax = []byte{0xc8, 0x4f, 0x32, 0x4b, 0x70, 0x16, 0xd3, 0x01, 0x12, 0x78, 0x5a, 0x47, 0xbf, 0x6e, 0xe1, 0x88, 3, 0, 0, 0}
	ndrSyntax    = []byte{0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11, 0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60, 2, 0, 0, 0}
)

// rpcHeader is the 16-byte common header of a connection-oriented PDU.
func rpcHeader(ptype byte, body []byte, callID uint32) []byte {
	h := []byte{5, 0, ptype, rpcFirstFrag | rpcLastFrag, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.LittleEndian.PutUint16(h[8:], uint16(16+len(body)))
	binary.LittleEndian.PutUint32(h[12:], callID)
	return append(h, body...)
}

// srvsvcBindPDU binds presentation context 0 to srvsvc over NDR.
func srvsvcBindPDU() []byte {
	b := make([]byte, 12)
	le := binary.LittleEndian
	le.PutUint16(b[0:], rpcMaxFrag)
	le.PutUint16(b[2:], rpcMaxFrag)
	b[8] = 1 // one context element
	ctx := []byte{0, 0, 1, 0}
	ctx = append(ctx, srvsvcSyntax...)
	ctx = append(ctx, ndrSyntax...)
	return rpcHeader(rpcBind, append(b, ctx...), 1)
}

// checkBindAck accepts a bind_ack whose first result is acceptance.
func checkBindAck(p []byte) error {
	if len(p) < 16 {
		return frameErr("DCE/RPC reply of %d bytes", len(p))
	}
	switch p[2] {
	case rpcBindAck:
	case rpcBindNak:
		return fmt.Errorf("srvsvc bind refused (bind_nak)")
	default:
		return frameErr("DCE/RPC reply type %d to a bind", p[2])
	}
	le := binary.LittleEndian
	if len(p) < 26 {
		return frameErr("bind_ack of %d bytes", len(p))
	}
	off := 24 + int(le.Uint16(p[24:26])) + 2 // secondary address
	off = (off + 3) &^ 3
	if len(p) < off+8 {
		return frameErr("bind_ack of %d bytes has no result list", len(p))
	}
	if p[off] == 0 {
		return frameErr("bind_ack with no result")
	}
	if r := le.Uint16(p[off+4:]); r != 0 {
		return fmt.Errorf("srvsvc bind: presentation context rejected (result %d, reason %d)", r, le.Uint16(p[off+6:]))
	}
	return nil
}

// ndrWriter builds an NDR stub.
type ndrWriter struct{ b []byte }

func (w *ndrWriter) u32(v uint32) { w.b = binary.LittleEndian.AppendUint32(w.b, v) }

func (w *ndrWriter) align4() {
	for len(w.b)%4 != 0 {
		w.b = append(w.b, 0)
	}
}

// wstring writes a conformant varying, NUL-terminated UTF-16 string.
func (w *ndrWriter) wstring(s string) {
	u := utf16le(s)
	n := uint32(len(u)/2 + 1)
	w.u32(n)
	w.u32(0)
	w.u32(n)
	w.b = append(w.b, u...)
	w.b = append(w.b, 0, 0)
	w.align4()
}

// netrShareEnumPDU asks for the level-1 share list of server.
func netrShareEnumPDU(server string) []byte {
	var w ndrWriter
	w.u32(0x00020000) // ServerName: unique pointer
	w.wstring(`\\` + server)
	w.u32(1)          // InfoStruct.Level
	w.u32(1)          // union switch
	w.u32(0x00020004) // pointer to SHARE_INFO_1_CONTAINER
	w.u32(0)          // EntriesRead
	w.u32(0)          // Buffer: null
	w.u32(0xFFFFFFFF) // PreferedMaximumLength
	w.u32(0)          // ResumeHandle: null
	hdr := make([]byte, 8)
	binary.LittleEndian.PutUint32(hdr[0:], uint32(len(w.b))) // alloc hint
	binary.LittleEndian.PutUint16(hdr[6:], opNetrShareEnum)
	return rpcHeader(rpcRequest, append(hdr, w.b...), 2)
}

// rpcStub joins the stub data of the response PDUs in b (one or more
// fragments); it reports a fault with its status.
func rpcStub(b []byte) (stub []byte, complete bool, err error) {
	le := binary.LittleEndian
	for len(b) > 0 {
		if len(b) < 24 {
			return stub, false, nil
		}
		n := int(le.Uint16(b[8:10]))
		if n < 24 || n > len(b) {
			if n < 24 {
				return nil, false, frameErr("DCE/RPC fragment length %d", n)
			}
			return stub, false, nil
		}
		switch b[2] {
		case rpcResponse:
		case rpcFault:
			return nil, true, fmt.Errorf("srvsvc NetrShareEnum: DCE/RPC fault 0x%08x", le.Uint32(b[24:28]))
		default:
			return nil, true, frameErr("DCE/RPC reply type %d to a request", b[2])
		}
		auth := int(le.Uint16(b[10:12]))
		end := n
		if auth > 0 {
			end = n - auth - 8
			if end < 24 {
				return nil, true, frameErr("DCE/RPC auth trailer of %d bytes in %d", auth, n)
			}
		}
		stub = append(stub, b[24:end]...)
		last := b[3]&rpcLastFrag != 0
		b = b[n:]
		if last {
			return stub, true, nil
		}
	}
	return stub, false, nil
}

// ndrReader reads an NDR stub; every read is bounds-checked.
type ndrReader struct {
	b   []byte
	off int
	err error
}

func (r *ndrReader) u32() uint32 {
	if r.err != nil || r.off+4 > len(r.b) {
		r.err = errShortNDR
		return 0
	}
	v := binary.LittleEndian.Uint32(r.b[r.off:])
	r.off += 4
	return v
}

func (r *ndrReader) wstring() string {
	max, _, n := r.u32(), r.u32(), r.u32()
	if r.err != nil {
		return ""
	}
	if n > max || int(n) > (len(r.b)-r.off)/2 {
		r.err = errShortNDR
		return ""
	}
	s := utf16String(r.b[r.off : r.off+2*int(n)])
	r.off += 2 * int(n)
	r.off = (r.off + 3) &^ 3
	return s
}

// parseShareEnum decodes NetrShareEnum's level-1 reply: the share names.
func parseShareEnum(stub []byte) ([]string, error) {
	r := &ndrReader{b: stub}
	if lvl := r.u32(); r.err == nil && lvl != 1 {
		return nil, frameErr("NetrShareEnum reply at level %d", lvl)
	}
	r.u32() // union switch
	var names []string
	if ptr := r.u32(); ptr != 0 {
		count := r.u32()
		if arr := r.u32(); arr != 0 {
			max := r.u32()
			if r.err != nil {
				// A short reply leaves count unread and possibly huge:
				// never size anything from it.
				return nil, r.err
			}
			if max != count || int(count) > len(stub)/12 {
				return nil, frameErr("NetrShareEnum reply: %d entries in an array of %d", count, max)
			}
			type entry struct{ name, remark uint32 }
			es := make([]entry, 0, count)
			for i := uint32(0); i < count && r.err == nil; i++ {
				e := entry{name: r.u32()}
				r.u32() // type
				e.remark = r.u32()
				es = append(es, e)
			}
			for _, e := range es {
				if e.name != 0 {
					names = append(names, r.wstring())
				}
				if e.remark != 0 {
					r.wstring()
				}
			}
		}
	}
	r.u32() // TotalEntries
	if ptr := r.u32(); ptr != 0 {
		r.u32() // ResumeHandle
	}
	werr := r.u32()
	if r.err != nil {
		return nil, r.err
	}
	if werr != 0 {
		return nil, fmt.Errorf("srvsvc NetrShareEnum: WERROR 0x%08x", werr)
	}
	return names, nil
}

// shareEnumRPC binds to srvsvc on an open pipe and lists the shares.
// bindErr reports whether a failure happened at the bind.
func (r *rawConn) shareEnumRPC(tree uint32, pipe fileID, host string) (names []string, bindFailed bool, err error) {
	reply, err := r.transceive(tree, pipe, srvsvcBindPDU())
	if err != nil {
		return nil, true, err
	}
	if err := checkBindAck(reply); err != nil {
		return nil, true, err
	}
	reply, err = r.transceive(tree, pipe, netrShareEnumPDU(host))
	if err != nil {
		return nil, false, err
	}
	for i := 0; ; i++ {
		stub, complete, err := rpcStub(reply)
		if err != nil {
			return nil, false, err
		}
		if complete {
			names, err := parseShareEnum(stub)
			return names, false, err
		}
		if i > 1024 || len(reply) > maxRawPipeReply {
			return nil, false, frameErr("srvsvc reply never ends")
		}
		// More fragments: read them from the pipe.
		more, st, err := r.read(tree, pipe, 0, rawChunk, "srvsvc read")
		if err != nil {
			return nil, false, err
		}
		if st != StatusSuccess && st != StatusBufferOverflow {
			return nil, false, statusErr("srvsvc read", st)
		}
		if len(more) == 0 {
			return nil, false, errShortNDR
		}
		reply = append(reply, more...)
	}
}
