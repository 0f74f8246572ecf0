package probe

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"
)

// shareEnumReply is a NetrShareEnum level-1 reply stub as Samba marshals
// it (MS-SRVS 2.2.4.38, NDR): container, array, then the deferred strings.
func shareEnumReply(names ...string) []byte {
	var w ndrWriter
	w.u32(1)
	w.u32(1)
	w.u32(0x20000)
	w.u32(uint32(len(names)))
	w.u32(0x20004)
	w.u32(uint32(len(names)))
	for i := range names {
		w.u32(uint32(0x20008 + 8*i))
		w.u32(0)
		w.u32(uint32(0x2000c + 8*i))
	}
	for _, n := range names {
		w.wstring(n)
		w.wstring("remark of " + n)
	}
	w.u32(uint32(len(names)))
	w.u32(0x20100)
	w.u32(0)
	w.u32(0) // WERR_OK
	return w.b
}

// responsePDU wraps a stub in DCE/RPC response fragments of at most frag
// stub bytes each.
func responsePDU(stub []byte, frag int) []byte {
	var out []byte
	for first := true; first || len(stub) > 0; first = false {
		n := min(frag, len(stub))
		body := make([]byte, 8)
		binary.LittleEndian.PutUint32(body[0:], uint32(len(stub)))
		p := rpcHeader(rpcResponse, append(body, stub[:n]...), 2)
		p[3] = 0
		if first {
			p[3] |= rpcFirstFrag
		}
		stub = stub[n:]
		if len(stub) == 0 {
			p[3] |= rpcLastFrag
		}
		out = append(out, p...)
	}
	return out
}

func TestParseShareEnum(t *testing.T) {
	stub := shareEnumReply("IPC$", "data", "prïv")
	names, err := parseShareEnum(stub)
	require.NoError(t, err)
	require.Equal(t, []string{"IPC$", "data", "prïv"}, names)

	// Fragmented: the stubs join into the same reply.
	got, complete, err := rpcStub(responsePDU(stub, 40))
	require.NoError(t, err)
	require.True(t, complete)
	require.Equal(t, stub, got)
	_, complete, err = rpcStub(responsePDU(stub, 40)[:100])
	require.NoError(t, err)
	require.False(t, complete, "a reply cut after its first fragments is not complete")

	// A WERROR and a truncated stub are errors, never a short list.
	bad := append([]byte(nil), stub...)
	binary.LittleEndian.PutUint32(bad[len(bad)-4:], 5) // WERR_ACCESS_DENIED
	_, err = parseShareEnum(bad)
	require.ErrorContains(t, err, "WERROR 0x00000005")
	_, err = parseShareEnum(stub[:len(stub)-10])
	require.Error(t, err)

	fault := rpcHeader(rpcFault, []byte{0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0}, 2)
	_, _, err = rpcStub(fault)
	require.ErrorContains(t, err, "fault 0x00000005")
}

func TestBindAck(t *testing.T) {
	ack := func(result uint16) []byte {
		b := make([]byte, 8)
		binary.LittleEndian.PutUint16(b[0:], rpcMaxFrag)
		binary.LittleEndian.PutUint16(b[2:], rpcMaxFrag)
		addr := []byte("\\PIPE\\srvsvc\x00")
		b = binary.LittleEndian.AppendUint16(b, uint16(len(addr)))
		b = append(b, addr...)
		for (16+len(b))%4 != 0 {
			b = append(b, 0)
		}
		b = append(b, 1, 0, 0, 0)
		b = binary.LittleEndian.AppendUint16(b, result)
		b = binary.LittleEndian.AppendUint16(b, 0)
		b = append(b, ndrSyntax...)
		return rpcHeader(rpcBindAck, b, 1)
	}
	require.NoError(t, checkBindAck(ack(0)))
	require.ErrorContains(t, checkBindAck(ack(2)), "rejected")
	require.ErrorContains(t, checkBindAck(rpcHeader(rpcBindNak, []byte{0, 0}, 1)), "bind_nak")
	require.Error(t, checkBindAck(ack(0)[:30]))
	// The bind we send is what the ack answers: srvsvc v3 over NDR.
	b := srvsvcBindPDU()
	require.Equal(t, byte(rpcBind), b[2])
	require.Equal(t, len(b), int(binary.LittleEndian.Uint16(b[8:])))
}

func TestParseFileNames(t *testing.T) {
	entry := func(name string, last bool) []byte {
		n := utf16le(name)
		e := make([]byte, 12, 12+len(n)+8)
		binary.LittleEndian.PutUint32(e[8:], uint32(len(n)))
		e = append(e, n...)
		for len(e)%8 != 0 {
			e = append(e, 0)
		}
		if !last {
			binary.LittleEndian.PutUint32(e[0:], uint32(len(e)))
		}
		return e
	}
	b := append(append(entry(".", false), entry("..", false)...), entry("flag.txt", true)...)
	names, err := parseFileNames(b)
	require.NoError(t, err)
	require.Equal(t, []string{".", "..", "flag.txt"}, names)
	_, err = parseFileNames(b[:len(b)-12])
	require.Error(t, err)
}

// FuzzSrvsvcReply feeds peer bytes to every parser of our anonymous
// chain's replies: DCE/RPC fragments, the bind ack, the share list and a
// directory listing. None may panic; a parsed share list is never longer
// than its bytes allow.
func FuzzSrvsvcReply(f *testing.F) {
	f.Add(responsePDU(shareEnumReply("IPC$", "data"), 4280))
	f.Add(responsePDU(shareEnumReply("a", "b", "c"), 16))
	f.Add(shareEnumReply("x"))
	f.Add(srvsvcBindPDU())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = checkBindAck(b)
		_, _ = parseFileNames(b)
		if stub, complete, err := rpcStub(b); err == nil && complete {
			b = stub
		}
		names, err := parseShareEnum(b)
		if err == nil && len(names) > len(b)/12 {
			t.Fatalf("%d names from %d bytes", len(names), len(b))
		}
	})
}
