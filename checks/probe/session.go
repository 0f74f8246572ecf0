package probe

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	smb2 "github.com/hirochachacha/go-smb2"
)

// gsession is a go-smb2 session on a guarded, tapped connection. Everything
// go-smb2-specific stays in this file, so that a switch to a fork or a
// patched copy changes one file.
type gsession struct {
	conn net.Conn
	tap  *tap
	sess *smb2.Session
}

// openSession dials addr and runs go-smb2's NEGOTIATE (offering only
// dialect, or every dialect when dialect is 0) and NTLMv2 SESSION_SETUP.
// The returned gsession is never nil; its tap holds whatever the server
// answered even when err is not nil. The caller must call close.
func openSession(ctx context.Context, addr string, dialect Dialect, cr Credentials) (*gsession, error) {
	return openGuarded(ctx, addr, dialect, cr, false)
}

// openGuarded is openSession; with negotiateOnly it stops before the
// session setup (the returned error is then a TransportError wrapping
// errNegotiateOnly, and the tap holds the NEGOTIATE response).
func openGuarded(ctx context.Context, addr string, dialect Dialect, cr Credentials, negotiateOnly bool) (*gsession, error) {
	g := &gsession{tap: &tap{}}
	c, err := dialTCP(ctx, addr)
	if err != nil {
		return g, err
	}
	g.conn = c
	if negotiateOnly && cr.User == "" {
		// go-smb2 refuses an empty user before it even negotiates; the
		// name is never sent.
		cr.User = "negotiate-only"
	}
	gc := newGuardConn(c, g.tap)
	gc.negotiateOnly = negotiateOnly
	d := &smb2.Dialer{
		Negotiator: smb2.Negotiator{SpecifiedDialect: uint16(dialect)},
		Initiator: &smb2.NTLMInitiator{
			User: cr.User, Password: cr.Password, Domain: cr.Domain, Workstation: cr.Workstation,
		},
	}
	s, err := d.DialContext(ctx, gc)
	if err != nil {
		return g, err
	}
	g.sess = s.WithContext(ctx)
	return g, nil
}

func (g *gsession) close() {
	if g.sess != nil {
		_ = g.sess.Logoff() // bounded by the session's context; closes the conn
	}
	if g.conn != nil {
		_ = g.conn.Close()
	}
}

// negotiateFromTap fills an SMB2Result from the NEGOTIATE response go-smb2
// received, or from err when there was none.
func (g *gsession) negotiateResult(offered []Dialect, err error, op string) SMB2Result {
	res := SMB2Result{Offered: offered}
	raw := g.tap.negotiateResponse()
	if raw == nil {
		if err == nil {
			err = errors.New("no NEGOTIATE response recorded")
		}
		fillNegotiate(&res, nil, 0, err, op)
		return res
	}
	info, st, perr := ParseSMB2Negotiate(raw)
	fillNegotiate(&res, info, st, perr, op)
	if res.OK() && !offeredDialect(offered, res.Dialect) {
		res.Class = ClassProtocolError
		res.Accepted = false
		res.Error = fmt.Sprintf("%s: server chose %s, which was not offered", op, res.Dialect)
	}
	return res
}

// loginStep classifies the go-smb2 session setup. go-smb2 turns
// STATUS_ACCESS_DENIED into a bare os.ErrPermission, so the status comes
// from the tap.
func (g *gsession) loginStep(err error, op string) (Step, uint16) {
	var s Step
	raw := g.tap.sessionSetupResponse()
	if err == nil {
		s.Class = ClassOK
		var flags uint16
		if raw != nil {
			flags, _, _ = parseSessionSetupResp(raw)
		}
		return s, flags
	}
	stepFromErr(&s, fmt.Errorf("%s: %w", op, err))
	if st, ok := g.tap.lastStatus(0, smb2SessionSetup); ok && st != StatusSuccess && st != StatusMoreProcessingRequired {
		s.setStatus(st)
		s.Class = classifyAuthStatus(st)
	}
	return s, 0
}

// ProbeDialect probes one SMB2/3 dialect with go-smb2's
// Negotiator.SpecifiedDialect set to d. go-smb2 does not expose what the
// server answered, so the NEGOTIATE response is read from the wire by our
// guard and decoded by ParseSMB2Negotiate (dialect, security mode,
// capabilities, 3.1.1 cipher). With cr nil the connection stops before the
// session setup (negotiate only); with credentials it logs in at d too.
func ProbeDialect(ctx context.Context, addr string, d Dialect, cr *Credentials) DialectResult {
	res := DialectResult{Dialect: d}
	t0 := time.Now()
	var c Credentials
	if cr != nil {
		c = *cr
	}
	g, err := openGuarded(ctx, addr, d, c, cr == nil || cr.User == "")
	defer g.close()
	op := fmt.Sprintf("negotiate %s with %s", d, addr)
	res.Negotiate = g.negotiateResult([]Dialect{d}, err, op)
	res.Negotiate.since(t0)
	if cr == nil || cr.User == "" {
		return res
	}
	login := skipped("negotiate failed: " + string(res.Negotiate.Class))
	if res.Negotiate.OK() {
		login, _ = g.loginStep(err, fmt.Sprintf("session setup at %s as %s", d, cr.User))
	}
	login.since(t0)
	res.Login = &login
	return res
}

// TCPConnect opens and closes one TCP connection to addr.
func TCPConnect(ctx context.Context, addr string) TCPResult {
	c, res := tcpDial(ctx, addr)
	if c != nil {
		_ = c.Close()
	}
	return res
}

// tcpDial connects and classifies; the caller owns the returned conn (nil
// on failure).
func tcpDial(ctx context.Context, addr string) (net.Conn, TCPResult) {
	res := TCPResult{Addr: addr}
	if _, p, err := net.SplitHostPort(addr); err == nil {
		res.Port, _ = strconv.Atoi(p)
	}
	t0 := time.Now()
	c, err := dialTCP(ctx, addr)
	res.since(t0)
	if err != nil {
		stepFromErr(&res.Step, fmt.Errorf("tcp connect %s: %w", addr, err))
	} else {
		res.Class = ClassOK
	}
	switch res.Class {
	case ClassOK:
		res.Outcome = TCPAccepted
	case ClassRefused, ClassUnreachable, ClassTimeout, ClassReset:
		res.Outcome = string(res.Class)
	default:
		res.Outcome = "error"
	}
	return c, res
}

// chain is the scorer's sequence on one go-smb2 session: login, IPC$,
// srvsvc share listing, share tree connect and listing, file read.
type chain struct {
	login  LoginResult
	multi  SMB2Result
	ipc    *Step
	shares *SharesResult
	share  *ShareResult
	file   *FileResult
}

func runChain(ctx context.Context, addr string, cr Credentials, opts Options, negotiated func(SMB2Result)) chain {
	var ch chain
	t0 := time.Now()
	ch.login = LoginResult{User: cr.User, Domain: cr.Domain}
	g, err := openSession(ctx, addr, 0, cr)
	defer g.close()
	ch.multi = g.negotiateResult(SMB2Dialects, err, "negotiate with "+addr)
	ch.multi.since(t0)
	if negotiated != nil {
		negotiated(ch.multi)
	}
	if ch.multi.OK() {
		var flags uint16
		ch.login.Step, flags = g.loginStep(err, fmt.Sprintf("session setup with %s as %s", addr, cr.User))
		ch.login.Dialect = ch.multi.Dialect
		ch.login.SessionFlags = flags
		ch.login.Guest = flags&sessionFlagIsGuest != 0
		ch.login.Anonymous = flags&sessionFlagIsNull != 0
		ch.login.Encrypted = flags&sessionFlagEncrypted != 0
	} else {
		ch.login.Step = skipped("negotiate failed: " + string(ch.multi.Class))
	}
	ch.login.since(t0)

	why := ""
	if !ch.login.OK() {
		why = "login failed: " + string(ch.login.Class)
	}
	// IPC$ tree connect: pysmb's "Unable to connect to IPC$".
	ipc := treeConn{Step: skipped(why)}
	if why == "" {
		ipc = g.treeConnect(ctx, "IPC$", ClassIPCUnavailable)
		if ipc.fs != nil {
			_ = ipc.fs.Umount()
		}
	}
	ch.ipc = &ipc.Step

	// srvsvc share listing.
	shares := &SharesResult{Step: skipped(why)}
	if why == "" && !ipc.OK() {
		shares.Step = skipped("IPC$ tree connect failed: " + string(ipc.Class))
	} else if why == "" {
		*shares = g.listShares(ctx, addr)
		if shares.Class != ClassOK && signingRequired(shares.Error) {
			if s, ok := listSharesSigned(ctx, addr, cr); ok {
				s.Attempts = shares.Attempts + 1
				s.Error = strings.TrimSpace(s.Error + " (listed on the agent's own signed client: go-smb2 rejected an unsigned interim reply)")
				*shares = s
			}
		}
	}
	ch.shares = shares

	if opts.Share != "" {
		sh := &ShareResult{Name: opts.Share, Step: skipped(why), List: skipped(why)}
		var fs *smb2.Share
		if why == "" {
			tc := g.treeConnect(ctx, opts.Share, "")
			sh.Step, fs = tc.Step, tc.fs
			if fs != nil {
				defer fs.Umount()
				sh.List = listDir(ctx, fs, sh)
			} else {
				sh.List = skipped("tree connect failed: " + string(sh.Class))
			}
		}
		ch.share = sh
		if opts.File != "" {
			f := &FileResult{Path: opts.File, Expected: strings.ToLower(opts.FileSHA256)}
			switch {
			case why != "":
				f.Step = skipped(why)
			case fs == nil:
				f.Step = skipped("share tree connect failed: " + string(sh.Class))
			default:
				readFile(ctx, fs, f)
				if f.Class != ClassOK && signingRequired(f.Error) {
					// go-smb2's signing defect (see signedSession).
					why := f.Error
					if readFileSigned(ctx, addr, cr, opts.Share, f) {
						f.Error = strings.TrimSpace(f.Error + " (read on the agent's own signed client after go-smb2 failed: " + why + ")")
					}
				}
			}
			ch.file = f
		}
	}
	return ch
}

// signingRequired: the step failed on go-smb2's "signing required"
// (go-smb2 v1.1.0 conn.go tryVerify on an unsigned reply), which only
// another client fixes, not another try.
func signingRequired(stepErr string) bool { return strings.Contains(stepErr, "signing required") }

type treeConn struct {
	Step
	fs *smb2.Share
}

// treeConnect mounts name. For IPC$ every refusal becomes ClassIPCUnavailable
// (pysmb "Unable to connect to IPC$"); for a share, BAD_NETWORK_NAME is
// share-missing and ACCESS_DENIED share-denied.
func (g *gsession) treeConnect(ctx context.Context, name string, refused Class) treeConn {
	var tc treeConn
	t0 := time.Now()
	m := g.tap.mark()
	fs, err := g.sess.Mount(name)
	tc.since(t0)
	if err == nil {
		tc.Class = ClassOK
		tc.fs = fs.WithContext(ctx)
		return tc
	}
	stepFromErr(&tc.Step, fmt.Errorf("tree connect %s: %w", name, err))
	if st, ok := g.tap.lastStatus(m, smb2TreeConnect); ok && st != StatusSuccess {
		tc.setStatus(st)
		tc.Class = classifyStatus(st)
	}
	if !isTransport(tc.Class) {
		switch {
		case refused != "":
			tc.Class = refused
		case tc.Class == ClassAccessDenied:
			tc.Class = ClassShareDenied
		}
	}
	return tc
}

// listShares runs go-smb2's ListSharenames (IPC$ → CREATE srvsvc → DCERPC
// bind → NetShareEnumAll) once and tells which of pysmb's messages a
// failure would produce. A "signing required" failure is go-smb2's, not
// the server's (see signedSession): runChain lists again at once on the
// agent's own signed client, which reads the interim reply correctly,
// rather than retry go-smb2 until samba-dcerpcd answers without one (test/
// TestProbeSigningMandatory, checks/probe
// TestChainListsSharesWhenSigningIsMandatory).
func (g *gsession) listShares(ctx context.Context, addr string) (res SharesResult) {
	t0 := time.Now()
	defer func() { res.since(t0) }()
	m := g.tap.mark()
	res.Attempts = 1
	names, err := g.sess.ListSharenames()
	if err == nil {
		sort.Strings(names)
		res.Names = names
		res.Class = ClassOK
		return res
	}
	stepFromErr(&res.Step, fmt.Errorf("list shares on %s: %w", addr, err))
	transport := isTransport(res.Class)
	var pe *os.PathError
	switch {
	case errors.As(err, &pe) && pe.Op == "open":
		// CREATE of the srvsvc pipe failed: pysmb "Unable to locate Server
		// Service RPC endpoint". Samba answers CONNECTION_DISCONNECTED or
		// CONNECTION_REFUSED when samba-dcerpcd is not there (test/
		// TestProbeRPCEndpointMissing),
		// OBJECT_NAME_NOT_FOUND or ACCESS_DENIED in other setups.
		if st, ok := g.tap.lastStatus(m, smb2Create); ok && st != StatusSuccess {
			res.setStatus(st)
		}
		if !transport {
			res.Class = ClassRPCEndpointMissing
		}
	case errors.As(err, &pe):
		// The pipe opened; the first IOCTL is the DCERPC bind. No successful
		// IOCTL means the bind failed: pysmb "Unable to bind to Server
		// Service RPC endpoint".
		if st, ok := g.tap.lastStatus(m, smb2Ioctl); ok && st != StatusSuccess {
			res.setStatus(st)
		}
		if !transport && !g.tap.sawSuccess(m, smb2Ioctl) {
			res.Class = ClassRPCBindFailed
		}
	default:
		// ListSharenames mounts IPC$ itself first.
		if st, ok := g.tap.lastStatus(m, smb2TreeConnect); ok && st != StatusSuccess {
			res.setStatus(st)
			res.Class = ClassIPCUnavailable
		}
	}
	return res
}

// sawSuccess reports whether a successful response to cmd arrived after mark.
func (t *tap) sawSuccess(mark int, cmd uint16) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := mark; i < len(t.events); i++ {
		if t.events[i].cmd == cmd && t.events[i].status == StatusSuccess {
			return true
		}
	}
	return false
}

const sampleNames = 10

func listDir(ctx context.Context, fs *smb2.Share, sh *ShareResult) Step {
	var s Step
	t0 := time.Now()
	ents, err := fs.ReadDir("")
	s.since(t0)
	if err != nil {
		stepFromErr(&s, fmt.Errorf("list %s: %w", sh.Name, err))
		if s.Class == ClassAccessDenied {
			s.Class = ClassShareDenied
		}
		return s
	}
	s.Class = ClassOK
	sh.Entries = len(ents)
	for i, e := range ents {
		if i >= sampleNames {
			break
		}
		sh.Sample = append(sh.Sample, e.Name())
	}
	return s
}

func readFile(ctx context.Context, fs *smb2.Share, f *FileResult) {
	t0 := time.Now()
	defer func() { f.since(t0) }()
	name := strings.TrimLeft(strings.ReplaceAll(f.Path, "/", `\`), `\`)
	fh, err := fs.Open(name)
	if err != nil {
		stepFromErr(&f.Step, fmt.Errorf("open %s: %w", f.Path, err))
		if errors.Is(err, os.ErrNotExist) {
			f.Class = ClassFileMissing
		} else if f.Class == ClassAccessDenied {
			f.Class = ClassShareDenied
		}
		return
	}
	defer fh.Close()
	h := sha256.New()
	n, err := io.Copy(h, fh)
	f.Size = n
	if err != nil {
		stepFromErr(&f.Step, fmt.Errorf("read %s: %w", f.Path, err))
		return
	}
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

// isTransport reports whether c says the connection failed, rather than the
// server refusing an operation.
func isTransport(c Class) bool {
	switch c {
	case ClassTimeout, ClassReset, ClassClosed, ClassRefused, ClassUnreachable, ClassProtocolError:
		return true
	}
	return false
}

func offeredDialect(offered []Dialect, d Dialect) bool {
	for _, o := range offered {
		if o == d {
			return true
		}
	}
	return false
}
