package probe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf16"
)

// The requests our own SMB2 client sends after an anonymous session setup:
// an anonymous session is neither signed nor encrypted (smbd clears the
// signing requirement for guest and anonymous sessions and refuses them
// outright when encryption is required, source3/smbd/smb2_sesssetup.c
// smbd_smb2_auth_generic_return; MS-SMB2 3.3.5.5.3), so plain requests are
// what a real anonymous client (smbclient -N) sends too. go-smb2 has no
// anonymous login, hence this code.

const (
	smb2Close          uint16 = 0x0006
	smb2QueryDirectory uint16 = 0x000E

	fsctlPipeTransceive = 0x0011C017
	ioctlIsFSCTL        = 0x00000001

	fileNamesInformation = 0x0C
	queryRestartScans    = 0x01

	// Create options and access masks (MS-SMB2 2.2.13, MS-FSCC 2.4).
	createDirectoryFile    = 0x00000001
	createNonDirectoryFile = 0x00000040
	accessPipeReadWrite    = 0x0012019F // what smbclient asks for on a pipe
	accessListDirectory    = 0x00100081 // LIST_DIRECTORY | READ_ATTRIBUTES | SYNCHRONIZE
	accessReadFile         = 0x00120089 // READ_DATA | READ_EA | READ_ATTRIBUTES | READ_CONTROL | SYNCHRONIZE

	sessionFlagEncryptData = sessionFlagEncrypted

	// rawChunk bounds each read and each IOCTL reply below maxRawFrame, so
	// one credit covers it (MS-SMB2 3.1.5.2: 64 KiB per credit).
	rawChunk = 32 << 10

	// maxRawPipeReply bounds a whole srvsvc reply (all fragments).
	maxRawPipeReply = 4 << 20
)

// StatusEndOfFile ends a READ past the last byte.
const StatusEndOfFile = NTStatus(0xC0000011)

func statusErr(op string, st NTStatus) error {
	return &StatusError{Op: op, Status: st, Class: classifyStatus(st)}
}

// fileID is an SMB2_FILEID (persistent and volatile, 16 bytes).
type fileID [16]byte

// request sends one request on tree and returns the final response.
func (r *rawConn) request(cmd uint16, tree uint32, body []byte, op string) ([]byte, NTStatus, error) {
	r.treeID = tree
	resp, st, err := r.roundTrip(cmd, body, nil)
	if err != nil {
		return nil, st, fmt.Errorf("%s: %w", op, err)
	}
	return resp, st, nil
}

// treeConnect connects \\host\share (MS-SMB2 2.2.9) and returns the TreeId.
func (r *rawConn) treeConnect(host, share string) (uint32, error) {
	op := "tree connect " + share
	path := utf16le(`\\` + host + `\` + share)
	b := make([]byte, 8, 8+len(path))
	le := binary.LittleEndian
	le.PutUint16(b[0:], 9)
	le.PutUint16(b[4:], smb2HeaderLen+8)
	le.PutUint16(b[6:], uint16(len(path)))
	b = append(b, path...)
	resp, st, err := r.request(smb2TreeConnect, 0, b, op)
	if err != nil {
		return 0, err
	}
	if st != StatusSuccess {
		return 0, statusErr(op, st)
	}
	return le.Uint32(resp[36:40]), nil
}

// create opens name on tree (MS-SMB2 2.2.13) for reading (and writing, for
// a pipe).
func (r *rawConn) create(tree uint32, name string, access, options uint32) (fileID, error) {
	var id fileID
	op := "open " + name
	n := utf16le(name)
	b := make([]byte, 56, 56+len(n)+1)
	le := binary.LittleEndian
	le.PutUint16(b[0:], 57)
	le.PutUint32(b[4:], 2) // impersonation level: Impersonation
	le.PutUint32(b[24:], access)
	le.PutUint32(b[32:], 7) // share read, write, delete
	le.PutUint32(b[36:], 1) // FILE_OPEN
	le.PutUint32(b[40:], options)
	le.PutUint16(b[44:], smb2HeaderLen+56)
	le.PutUint16(b[46:], uint16(len(n)))
	b = append(b, n...)
	if len(n) == 0 {
		b = append(b, 0) // the buffer is never empty (MS-SMB2 2.2.13)
	}
	resp, st, err := r.request(smb2Create, tree, b, op)
	if err != nil {
		return id, err
	}
	if st != StatusSuccess {
		return id, statusErr(op, st)
	}
	if len(resp) < smb2HeaderLen+80 {
		return id, frameErr("CREATE response of %d bytes", len(resp))
	}
	copy(id[:], resp[smb2HeaderLen+64:smb2HeaderLen+80])
	return id, nil
}

// read reads up to n bytes at off (MS-SMB2 2.2.19); io EOF is StatusEndOfFile.
func (r *rawConn) read(tree uint32, id fileID, off uint64, n uint32, op string) ([]byte, NTStatus, error) {
	b := make([]byte, 49)
	le := binary.LittleEndian
	le.PutUint16(b[0:], 49)
	b[2] = 0x50
	le.PutUint32(b[4:], n)
	le.PutUint64(b[8:], off)
	copy(b[16:32], id[:])
	resp, st, err := r.request(smb2Read, tree, b, op)
	if err != nil || (st != StatusSuccess && st != StatusBufferOverflow) {
		return nil, st, err
	}
	data, err := replyBuffer(resp, int(resp[smb2HeaderLen+2]), int(le.Uint32(resp[smb2HeaderLen+4:])), 16)
	return data, st, err
}

// replyBuffer returns msg[off:off+n] after checking that the body has at
// least min bytes and the buffer lies within msg.
func replyBuffer(msg []byte, off, n, min int) ([]byte, error) {
	if len(msg) < smb2HeaderLen+min {
		return nil, frameErr("reply of %d bytes, want at least %d", len(msg), smb2HeaderLen+min)
	}
	if n == 0 {
		return nil, nil
	}
	if off < smb2HeaderLen || off > len(msg) || n > len(msg)-off {
		return nil, frameErr("reply buffer [%d:+%d] outside %d bytes", off, n, len(msg))
	}
	return msg[off : off+n], nil
}

// transceive writes in to the pipe and returns the reply (MS-SMB2 2.2.31
// FSCTL_PIPE_TRANSCEIVE); a reply longer than one IOCTL is read on.
func (r *rawConn) transceive(tree uint32, id fileID, in []byte) ([]byte, error) {
	const op = "srvsvc pipe transceive"
	b := make([]byte, 56, 56+len(in))
	le := binary.LittleEndian
	le.PutUint16(b[0:], 57)
	le.PutUint32(b[4:], fsctlPipeTransceive)
	copy(b[8:24], id[:])
	le.PutUint32(b[24:], smb2HeaderLen+56)
	le.PutUint32(b[28:], uint32(len(in)))
	le.PutUint32(b[44:], rawChunk)
	le.PutUint32(b[48:], ioctlIsFSCTL)
	b = append(b, in...)
	resp, st, err := r.request(smb2Ioctl, tree, b, op)
	if err != nil {
		return nil, err
	}
	if st != StatusSuccess && st != StatusBufferOverflow {
		return nil, statusErr(op, st)
	}
	if len(resp) < smb2HeaderLen+48 {
		return nil, frameErr("IOCTL response of %d bytes", len(resp))
	}
	out, err := replyBuffer(resp, int(le.Uint32(resp[smb2HeaderLen+32:])), int(le.Uint32(resp[smb2HeaderLen+36:])), 48)
	if err != nil {
		return nil, err
	}
	out = append([]byte(nil), out...)
	for st == StatusBufferOverflow {
		if len(out) > maxRawPipeReply {
			return nil, frameErr("srvsvc reply longer than %d bytes", maxRawPipeReply)
		}
		var more []byte
		more, st, err = r.read(tree, id, 0, rawChunk, op+" (rest of the reply)")
		if err != nil {
			return nil, err
		}
		if st != StatusSuccess && st != StatusBufferOverflow {
			return nil, statusErr(op, st)
		}
		out = append(out, more...)
	}
	return out, nil
}

// listDirectory lists the root of tree (MS-SMB2 2.2.33, FileNamesInformation)
// and returns the names without "." and "..".
func (r *rawConn) listDirectory(tree uint32, share string) ([]string, error) {
	op := "list " + share
	id, err := r.create(tree, "", accessListDirectory, createDirectoryFile)
	if err != nil {
		return nil, err
	}
	defer r.closeFile(tree, id)
	var names []string
	le := binary.LittleEndian
	pattern := utf16le("*")
	for i := 0; i < 64; i++ {
		b := make([]byte, 32, 32+len(pattern))
		le.PutUint16(b[0:], 33)
		b[2] = fileNamesInformation
		if i == 0 {
			b[3] = queryRestartScans
		}
		copy(b[8:24], id[:])
		le.PutUint16(b[24:], smb2HeaderLen+32)
		le.PutUint16(b[26:], uint16(len(pattern)))
		le.PutUint32(b[28:], rawChunk)
		b = append(b, pattern...)
		resp, st, err := r.request(smb2QueryDirectory, tree, b, op)
		if err != nil {
			return names, err
		}
		if st == StatusNoMoreFiles {
			return names, nil
		}
		if st != StatusSuccess {
			return names, statusErr(op, st)
		}
		if len(resp) < smb2HeaderLen+8 {
			return names, frameErr("QUERY_DIRECTORY response of %d bytes", len(resp))
		}
		buf, err := replyBuffer(resp, int(le.Uint16(resp[smb2HeaderLen+2:])), int(le.Uint32(resp[smb2HeaderLen+4:])), 8)
		if err != nil {
			return names, err
		}
		got, err := parseFileNames(buf)
		if err != nil {
			return names, err
		}
		for _, n := range got {
			if n != "." && n != ".." {
				names = append(names, n)
			}
		}
	}
	return names, nil
}

// parseFileNames decodes FILE_NAMES_INFORMATION entries (MS-FSCC 2.4.28).
func parseFileNames(b []byte) ([]string, error) {
	var out []string
	le := binary.LittleEndian
	for off := 0; off < len(b); {
		e := b[off:]
		if len(e) < 12 {
			return out, frameErr("directory entry of %d bytes", len(e))
		}
		next, n := int(le.Uint32(e[0:])), int(le.Uint32(e[8:]))
		if n > len(e)-12 || n%2 != 0 {
			return out, frameErr("directory entry name of %d bytes in %d", n, len(e))
		}
		out = append(out, utf16String(e[12:12+n]))
		if next == 0 {
			break
		}
		if next < 12 || next > len(e) {
			return out, frameErr("directory entry NextEntryOffset %d", next)
		}
		off += next
	}
	return out, nil
}

// closeFile closes id; errors do not matter (the connection closes next).
func (r *rawConn) closeFile(tree uint32, id fileID) {
	b := make([]byte, 24)
	binary.LittleEndian.PutUint16(b[0:], 24)
	copy(b[8:24], id[:])
	_, _, _ = r.request(smb2Close, tree, b, "close")
}

// readAll reads the whole file id, at most limit bytes, passing each chunk to
// sink.
func (r *rawConn) readAll(tree uint32, id fileID, name string, limit int64, sink func([]byte)) (int64, error) {
	var off uint64
	for int64(off) < limit {
		data, st, err := r.read(tree, id, off, rawChunk, "read "+name)
		if err != nil {
			return int64(off), err
		}
		if st == StatusEndOfFile {
			return int64(off), nil
		}
		if st != StatusSuccess {
			return int64(off), statusErr("read "+name, st)
		}
		if len(data) == 0 {
			return int64(off), nil
		}
		sink(data)
		off += uint64(len(data))
	}
	return int64(off), fmt.Errorf("read %s: longer than %d bytes", name, limit)
}

func utf16String(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	for len(u) > 0 && u[len(u)-1] == 0 {
		u = u[:len(u)-1]
	}
	return string(utf16.Decode(u))
}

var errShortNDR = errors.New("srvsvc reply ends early")
