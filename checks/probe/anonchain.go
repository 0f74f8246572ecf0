package probe

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"
)

// maxRawFile bounds the scored file our own client reads.
const maxRawFile = 64 << 20

// runAnonymousChain is the scorer's sequence as an anonymous client
// (smbclient -N, impacket with an empty user) runs it: every SMB2/3
// dialect in one NEGOTIATE, an anonymous NTLMSSP session, the IPC$ tree
// connect, the srvsvc share listing, the share's tree connect and listing
// and the file read, all on one connection of our own client (go-smb2
// refuses an empty user).
func runAnonymousChain(ctx context.Context, addr string, opts Options, negotiated func(SMB2Result)) chain {
	var ch chain
	t0 := time.Now()
	ch.login = LoginResult{}
	ch.multi = SMB2Result{Offered: append([]Dialect(nil), SMB2Dialects...)}
	fail := func(why string) {
		s := skipped(why)
		ch.ipc = &s
		ch.shares = &SharesResult{Step: s}
		if opts.Share != "" {
			ch.share = &ShareResult{Name: opts.Share, Step: s, List: s}
			if opts.File != "" {
				ch.file = &FileResult{Path: opts.File, Expected: strings.ToLower(opts.FileSHA256), Step: s}
			}
		}
	}
	op := "negotiate with " + addr
	conn, err := dialTCP(ctx, addr)
	if err != nil {
		fillNegotiate(&ch.multi, nil, 0, err, op)
	} else {
		defer conn.Close()
	}
	rc := &rawConn{conn: conn}
	if err == nil {
		info, st, nerr := rc.negotiate(SMB2Dialects)
		fillNegotiate(&ch.multi, info, st, nerr, op)
	}
	ch.multi.since(t0)
	if negotiated != nil {
		negotiated(ch.multi)
	}
	if !ch.multi.OK() {
		ch.login.Step = skipped("negotiate failed: " + string(ch.multi.Class))
		ch.login.since(t0)
		fail(ch.login.Error)
		return ch
	}
	var s SessionResult
	rc.authenticate(Credentials{Auth: AuthAnonymous, Workstation: opts.Workstation}, "anonymous session setup with "+addr, &s)
	ch.login.Step = s.Step
	ch.login.Dialect = ch.multi.Dialect
	ch.login.SessionFlags, ch.login.Guest, ch.login.Anonymous, ch.login.Encrypted = s.SessionFlags, s.Guest, s.Anonymous, s.Encrypted
	ch.login.since(t0)
	if !ch.login.OK() {
		fail("login failed: " + string(ch.login.Class))
		return ch
	}
	// An anonymous session has no keys, so it cannot encrypt even where
	// smbd flags it SMB2_SESSION_FLAG_ENCRYPT_DATA (server smb encrypt =
	// desired); the requests go out plain, as smbclient -N sends them, and
	// smbd's answers to them are what such a client gets.
	host, _, _ := net.SplitHostPort(addr)

	// IPC$ and the srvsvc listing.
	ipc := Step{}
	t1 := time.Now()
	tree, err := rc.treeConnect(host, "IPC$")
	ipc.since(t1)
	if err != nil {
		stepFromErr(&ipc, err)
		if !isTransport(ipc.Class) {
			ipc.Class = ClassIPCUnavailable
		}
	} else {
		ipc.Class = ClassOK
	}
	ch.ipc = &ipc
	shares := &SharesResult{}
	if !ipc.OK() {
		shares.Step = skipped("IPC$ tree connect failed: " + string(ipc.Class))
	} else {
		*shares = rc.listSharesRaw(tree, host, addr)
	}
	ch.shares = shares

	if opts.Share == "" {
		return ch
	}
	sh := &ShareResult{Name: opts.Share}
	ch.share = sh
	t2 := time.Now()
	stree, err := rc.treeConnect(host, opts.Share)
	sh.since(t2)
	if err != nil {
		stepFromErr(&sh.Step, err)
		if sh.Class == ClassAccessDenied {
			sh.Class = ClassShareDenied
		}
		sh.List = skipped("tree connect failed: " + string(sh.Class))
	} else {
		sh.Class = ClassOK
		t3 := time.Now()
		names, lerr := rc.listDirectory(stree, opts.Share)
		sh.List.since(t3)
		if lerr != nil {
			stepFromErr(&sh.List, lerr)
			if sh.List.Class == ClassAccessDenied {
				sh.List.Class = ClassShareDenied
			}
		} else {
			sh.List.Class = ClassOK
			sh.Entries = len(names)
			if len(names) > sampleNames {
				names = names[:sampleNames]
			}
			sh.Sample = names
		}
	}
	if opts.File == "" {
		return ch
	}
	f := &FileResult{Path: opts.File, Expected: strings.ToLower(opts.FileSHA256)}
	ch.file = f
	if !sh.OK() {
		f.Step = skipped("share tree connect failed: " + string(sh.Class))
		return ch
	}
	rc.readFileRaw(stree, f)
	return ch
}

// listSharesRaw opens the srvsvc pipe on IPC$ and lists the shares, with
// the classes listShares gives go-smb2's failures.
func (r *rawConn) listSharesRaw(tree uint32, host, addr string) (res SharesResult) {
	t0 := time.Now()
	defer func() { res.since(t0) }()
	pipe, err := r.create(tree, "srvsvc", accessPipeReadWrite, createNonDirectoryFile)
	if err != nil {
		stepFromErr(&res.Step, fmt.Errorf("list shares on %s: %w", addr, err))
		if !isTransport(res.Class) {
			// pysmb "Unable to locate Server Service RPC endpoint".
			res.Class = ClassRPCEndpointMissing
		}
		return res
	}
	names, bindFailed, err := r.shareEnumRPC(tree, pipe, host)
	if err != nil {
		stepFromErr(&res.Step, fmt.Errorf("list shares on %s: %w", addr, err))
		if bindFailed && !isTransport(res.Class) {
			// pysmb "Unable to bind to Server Service RPC endpoint".
			res.Class = ClassRPCBindFailed
		}
		return res
	}
	r.closeFile(tree, pipe)
	sort.Strings(names)
	res.Names = names
	res.Class = ClassOK
	return res
}

// readFileRaw reads and hashes the scored file, as readFile does with
// go-smb2.
func (r *rawConn) readFileRaw(tree uint32, f *FileResult) {
	t0 := time.Now()
	defer func() { f.since(t0) }()
	name := strings.TrimLeft(strings.ReplaceAll(f.Path, "/", `\`), `\`)
	id, err := r.create(tree, name, accessReadFile, createNonDirectoryFile)
	if err != nil {
		stepFromErr(&f.Step, fmt.Errorf("open %s: %w", f.Path, err))
		var se *StatusError
		if errors.As(err, &se) && (se.Status == StatusObjectNameNotFound || se.Status == StatusObjectPathNotFound) {
			f.Class = ClassFileMissing
		} else if f.Class == ClassAccessDenied {
			f.Class = ClassShareDenied
		}
		return
	}
	h := sha256.New()
	n, err := r.readAll(tree, id, f.Path, maxRawFile, func(b []byte) { h.Write(b) })
	f.Size = n
	if err != nil {
		stepFromErr(&f.Step, err)
		return
	}
	r.closeFile(tree, id)
	f.SHA256 = hex.EncodeToString(h.Sum(nil))
	f.Class = ClassOK
	if f.Expected != "" {
		ok := f.Expected == f.SHA256
		f.Match = &ok
		if !ok {
			f.Class = ClassFileMismatch
			f.Error = fmt.Sprintf("sha256 of %s is %s, expected %s", f.Path, f.SHA256, f.Expected)
		}
	}
}

// signedSession is a session as cr on a connection of our own client that
// signs every request with HMAC-SHA256 at SMB 2.x (MS-SMB2 3.1.4.1). It
// stands in for go-smb2 where go-smb2 failed on "signing required":
// go-smb2 v1.1.0 (conn.go tryVerify) rejects the unsigned interim
// STATUS_PENDING reply smbd sends while an RPC worker or a slow read
// answers (smbd_smb2_request_pending_timer, source3/smbd/smb2_server.c),
// which smbclient and impacket accept (MS-SMB2 3.2.5.1.5): a client-side
// failure real clients do not have. It cannot be filtered out before
// go-smb2 sees it: go-smb2 needs the interim's AsyncId to match the final
// async reply. nil when no such session
// could be set up (no SMB 2.x, the login failed): its answers then say
// nothing. The caller closes the returned connection.
func signedSession(ctx context.Context, addr string, cr Credentials) *rawConn {
	conn, err := dialTCP(ctx, addr)
	if err != nil {
		return nil
	}
	rc := &rawConn{conn: conn}
	if info, st, err := rc.negotiate([]Dialect{SMB2_02, SMB2_10}); err != nil || st != StatusSuccess || info == nil {
		_ = conn.Close()
		return nil
	}
	var s SessionResult
	cr.Auth = AuthNTLMv2
	rc.authenticate(cr, "session setup with "+addr, &s)
	if !s.OK() || rc.sessionKey == nil {
		_ = conn.Close()
		return nil
	}
	rc.signing = true
	return rc
}

// listSharesSigned lists the shares on a signedSession; ok is false when
// it could not reach the srvsvc pipe (no session, IPC$ refused).
func listSharesSigned(ctx context.Context, addr string, cr Credentials) (SharesResult, bool) {
	rc := signedSession(ctx, addr, cr)
	if rc == nil {
		return SharesResult{}, false
	}
	defer rc.conn.Close()
	host, _, _ := net.SplitHostPort(addr)
	tree, err := rc.treeConnect(host, "IPC$")
	if err != nil {
		return SharesResult{}, false
	}
	return rc.listSharesRaw(tree, host, addr), true
}

// readFileSigned reads the scored file on a signedSession; ok is false
// when it could not reach the share.
func readFileSigned(ctx context.Context, addr string, cr Credentials, share string, f *FileResult) bool {
	rc := signedSession(ctx, addr, cr)
	if rc == nil {
		return false
	}
	defer rc.conn.Close()
	host, _, _ := net.SplitHostPort(addr)
	tree, err := rc.treeConnect(host, share)
	if err != nil {
		return false
	}
	g := FileResult{Path: f.Path, Expected: f.Expected}
	rc.readFileRaw(tree, &g)
	*f = g
	return true
}
