package probe

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"
)

// DefaultTimeout is the default budget of one Run, and the deadline of every
// network operation in it (the scoring engine's own timeout is 5 s).
const DefaultTimeout = 5 * time.Second

// runMargin is how long past Timeout Run may take to assemble its result.
const runMargin = 300 * time.Millisecond

// Options configure Run. The password is used for the session setups only;
// it never appears in the Result or in any error text.
type Options struct {
	Ports       []int         // default [445]; the first is the primary port every SMB probe uses
	Timeout     time.Duration // whole-run budget and per-operation deadline; default 5s
	User        string
	Password    string
	Domain      string
	Workstation string
	// Guest: also try an anonymous NTLMSSP session (our own client), and,
	// when no User is configured, run the share chain as an anonymous
	// client (smbclient -N) does: an anonymous session, IPC$, srvsvc, the
	// share and the file, on our own client (go-smb2 has no anonymous
	// login).
	Guest bool
	// NTLMv1: also log in with a plain NTLMv1 response (our own client), to
	// see what an NTLMv1-only client sees ("ntlm auth = ntlmv2-only").
	NTLMv1     bool
	Share      string // share to tree connect and list
	File       string // file in Share to read and hash
	FileSHA256 string // expected SHA-256 (hex) of File
	SkipAuth   bool   // negotiate only: no login, no share steps
	// NoGuestMapping skips the random-unknown-user login that detects
	// "map to guest = bad user".
	NoGuestMapping bool
	// DialectLogins lists dialects at which to log in as well as
	// negotiate (with credentials). By default none: the scorer's own login
	// at SMB2_02 is replayed on the pysmb connection, and the main login runs
	// at the highest dialect, so a per-dialect login only adds cost unless a
	// check needs it (e.g. SMB2_10 against "server smb encrypt = required").
	DialectLogins []Dialect
	// EveryDialect negotiates each SMB2/3 dialect on a connection of its
	// own even where pysmb's handshake and the all-dialect negotiate
	// already imply the answer (deriveDialects). By default such dialects
	// are derived, which saves smbd a fork per dialect.
	EveryDialect bool
	// CarryNT1, when not nil, is the NT1 offer's answer from an earlier
	// run, used instead of sending the offer again (its Carried says so).
	// The caller decides when that answer still holds: smb.conf and the
	// smbd master unchanged since (checks.carryNT1).
	CarryNT1 *SMB1Result
}

func (o Options) withDefaults() Options {
	if len(o.Ports) == 0 {
		o.Ports = []int{445}
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	return o
}

func (o Options) creds() Credentials {
	return Credentials{User: o.User, Password: o.Password, Domain: o.Domain, Workstation: o.Workstation}
}

// Run probes host with every probe the options ask for, concurrently where
// the probes are independent, and returns what it found. It never returns
// nil and never panics; it returns within opts.Timeout plus a small margin
// whatever the peer does (a probe still running at the deadline is reported
// as a timeout).
func Run(ctx context.Context, host string, opts Options) *Result {
	opts = opts.withDefaults()
	started := time.Now()
	hard := started.Add(opts.Timeout + runMargin)
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()

	addr := net.JoinHostPort(host, strconv.Itoa(opts.Ports[0]))
	r := &Result{Target: addr, Host: host, Started: started, TimeoutMS: ms(opts.Timeout)}
	late := Step{Class: ClassTimeout, Error: fmt.Sprintf("did not finish within the run's %s budget", opts.Timeout)}
	var (
		mu     sync.Mutex
		closed bool
		wg     sync.WaitGroup
	)
	// commit applies a probe's result unless Run has already returned.
	commit := func(f func()) {
		mu.Lock()
		defer mu.Unlock()
		if !closed {
			f()
		}
	}
	spawn := func(f func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				// A panic in a probe (a go-smb2 bug we have not guarded
				// against) must not take the agent down; the step stays
				// as its placeholder, "did not finish".
				_ = recover()
			}()
			f()
		}()
	}

	// Placeholders: what a probe that never reports leaves behind.
	r.TCP = make([]TCPResult, len(opts.Ports))
	for i, p := range opts.Ports {
		a := net.JoinHostPort(host, strconv.Itoa(p))
		r.TCP[i] = TCPResult{Addr: a, Port: p, Outcome: TCPTimeout, Step: late}
	}
	offers := []string{OfferPysmb, OfferNT1}
	r.SMB1 = make([]SMB1Result, len(offers))
	for i, o := range offers {
		r.SMB1[i] = SMB1Result{Offer: o, Offered: SMB1Offers[o], Reply: "none", DialectIndex: -1, Step: late}
	}
	r.Dialects = make([]DialectResult, len(SMB2Dialects))
	for i, d := range SMB2Dialects {
		r.Dialects[i] = DialectResult{Dialect: d, Negotiate: SMB2Result{Offered: []Dialect{d}, Step: late}}
	}
	r.Multi = SMB2Result{Offered: append([]Dialect(nil), SMB2Dialects...), Step: late}
	cr := opts.creds()
	// Without a user, Guest runs the chain as an anonymous client does
	// (smbclient -N): an anonymous NTLMSSP session on our own client.
	anonymous := cr.User == "" && opts.Guest
	auth := !opts.SkipAuth && (cr.User != "" || anonymous)
	if auth {
		r.Login = &LoginResult{User: cr.User, Domain: cr.Domain, Step: late}
		if !anonymous {
			for i, d := range r.Dialects {
				if offeredDialect(opts.DialectLogins, d.Dialect) {
					l := late
					r.Dialects[i].Login = &l
				}
			}
			l := SessionResult{Auth: string(AuthNTLMv2), User: cr.User, Domain: cr.Domain, Step: late}
			r.SMB1[0].Login = &l
		}
		ipc := late
		r.IPC = &ipc
		r.Shares = &SharesResult{Step: late}
		if opts.Share != "" {
			r.Share = &ShareResult{Name: opts.Share, Step: late, List: late}
			if opts.File != "" {
				r.File = &FileResult{Path: opts.File, Expected: opts.FileSHA256, Step: late}
			}
		}
	}
	if !opts.SkipAuth && !opts.NoGuestMapping {
		r.GuestMapping = &GuestMappingResult{Session: SessionResult{Auth: string(AuthNTLMv2), Step: late}}
	}
	if !opts.SkipAuth && opts.Guest {
		r.Anonymous = &SessionResult{Auth: string(AuthAnonymous), Step: late}
	}
	if !opts.SkipAuth && opts.NTLMv1 && opts.User != "" {
		r.NTLMv1 = &SessionResult{Auth: string(AuthNTLMv1), User: opts.User, Domain: opts.Domain, Step: late}
	}

	// TCP first: when the primary port does not accept, every SMB probe
	// would fail the same way, so they are skipped with that reason. The
	// primary connection is not wasted: it carries pysmb's handshake, which
	// saves smbd a fork.
	type primaryConn struct {
		conn net.Conn
		res  TCPResult
	}
	primary := make(chan primaryConn, 1)
	for i, p := range opts.Ports {
		i, a := i, net.JoinHostPort(host, strconv.Itoa(p))
		spawn(func() {
			var c net.Conn
			var t TCPResult
			if i == 0 {
				c, t = tcpDial(ctx, a)
			} else {
				t = TCPConnect(ctx, a)
			}
			t.Port = opts.Ports[i]
			commit(func() { r.TCP[i] = t })
			if i == 0 {
				primary <- primaryConn{c, t}
			}
		})
	}
	var first primaryConn
	select {
	case first = <-primary:
	case <-ctx.Done():
		first = primaryConn{res: TCPResult{Step: late}}
		// The dial may still succeed after we stopped waiting: close it.
		go func() {
			if pc := <-primary; pc.conn != nil {
				_ = pc.conn.Close()
			}
		}()
	}
	var dcr *Credentials
	if auth && !anonymous {
		dcr = &cr
	}

	if first.res.Class != ClassOK {
		skipAll(r, fmt.Sprintf("tcp connect to %s failed: %s", addr, first.res.Class))
	} else {
		// What pysmb's handshake and the all-dialect negotiate answered,
		// for deriveDialects; each is sent once, a zero value when the
		// probe ended without an answer (a panic).
		pysmbNeg := make(chan SMB1Result, 1)
		multiNeg := make(chan SMB2Result, 1)
		// The login chain is the longest path: start it first.
		if auth {
			spawn(func() {
				defer func() {
					select {
					case multiNeg <- SMB2Result{}:
					default:
					}
				}()
				var ch chain
				if anonymous {
					ch = runAnonymousChain(ctx, addr, opts, func(m SMB2Result) { multiNeg <- m })
				} else {
					ch = runChain(ctx, addr, cr, opts, func(m SMB2Result) { multiNeg <- m })
				}
				commit(func() {
					r.Multi = ch.multi
					r.Login = &ch.login
					r.IPC, r.Shares, r.Share, r.File = ch.ipc, ch.shares, ch.share, ch.file
				})
			})
		} else {
			spawn(func() {
				defer func() {
					select {
					case multiNeg <- SMB2Result{}:
					default:
					}
				}()
				m := NegotiateSMB2(ctx, addr, SMB2Dialects)
				multiNeg <- m
				commit(func() { r.Multi = m })
			})
		}
		// Extra sessions: the guest-mapping check (a random unknown user),
		// anonymous and NTLMv1 when asked.
		type extra struct {
			cr  Credentials
			set func(SessionResult)
		}
		var extras []extra
		if r.GuestMapping != nil {
			u := "smbagent-nouser-" + randomHex(4)
			extras = append(extras, extra{Credentials{User: u, Password: randomHex(8), Workstation: opts.Workstation},
				func(s SessionResult) { r.GuestMapping = &GuestMappingResult{User: u, MapsToGuest: s.OK(), Session: s} }})
		}
		if r.Anonymous != nil {
			extras = append(extras, extra{Credentials{Auth: AuthAnonymous, Workstation: opts.Workstation},
				func(s SessionResult) { r.Anonymous = &s }})
		}
		if r.NTLMv1 != nil {
			c := opts.creds()
			c.Auth = AuthNTLMv1
			extras = append(extras, extra{c, func(s SessionResult) { r.NTLMv1 = &s }})
		}
		spawn(func() {
			defer first.conn.Close()
			defer func() {
				select {
				case pysmbNeg <- SMB1Result{}:
				default:
				}
			}()
			s := newSMB1Result(OfferPysmb, SMB1Offers[OfferPysmb])
			t0 := time.Now()
			rc := replayPysmbOn(first.conn, addr, dcr, &s, func(n SMB1Result) {
				n.since(t0)
				pysmbNeg <- n
			})
			s.since(t0)
			commit(func() { r.SMB1[0] = s })
			// The extra sessions ride on pysmb's connection when it
			// negotiated SMB2_02: a session setup costs smbd far less than
			// a new connection (a fork and a config load). Where SMB2_02
			// itself is the obstacle (refused, or encryption required),
			// each gets a connection of its own, offering every dialect.
			for _, e := range extras {
				e := e
				if rc != nil {
					res := rc.sessionOn(e.cr, addr)
					if res.Class != ClassAccessDenied && !isTransport(res.Class) {
						commit(func() { e.set(res) })
						continue
					}
					rc = nil
				}
				spawn(func() {
					res := Session(ctx, addr, e.cr, nil)
					commit(func() { e.set(res) })
				})
			}
		})
		for i, o := range offers[1:] {
			i, o := i+1, o
			if o == OfferNT1 && opts.CarryNT1 != nil && opts.CarryNT1.Carried != nil {
				carried := *opts.CarryNT1
				commit(func() { r.SMB1[i] = carried })
				continue
			}
			spawn(func() {
				s := NegotiateSMB1(ctx, addr, SMB1Offers[o])
				s.Offer = o
				commit(func() { r.SMB1[i] = s })
			})
		}
		probeDialect := func(i int, d Dialect) {
			var c *Credentials
			if offeredDialect(opts.DialectLogins, d) {
				c = dcr
			}
			spawn(func() {
				dr := ProbeDialect(ctx, addr, d, c)
				commit(func() { r.Dialects[i] = dr })
			})
		}
		var later []int
		for i, d := range SMB2Dialects {
			if opts.EveryDialect || offeredDialect(opts.DialectLogins, d) {
				probeDialect(i, d)
			} else {
				later = append(later, i)
			}
		}
		if len(later) > 0 {
			spawn(func() {
				var p SMB1Result
				var m SMB2Result
				select {
				case p = <-pysmbNeg:
				case <-ctx.Done():
					return
				}
				select {
				case m = <-multiNeg:
				case <-ctx.Done():
					return
				}
				derived := deriveDialects(p, m)
				for _, i := range later {
					d := SMB2Dialects[i]
					if dr, ok := derived[d]; ok {
						commit(func() { r.Dialects[i] = dr })
					} else {
						probeDialect(i, d)
					}
				}
			})
		}
	}

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Until(hard)):
	}
	mu.Lock()
	closed = true
	mu.Unlock()
	refine(r)
	r.DurationMS = ms(time.Since(started))
	return r
}

// skipAll marks every SMB step as skipped.
func skipAll(r *Result, why string) {
	s := skipped(why)
	for i := range r.SMB1 {
		r.SMB1[i].Step = s
		if r.SMB1[i].Login != nil {
			r.SMB1[i].Login.Step = s
		}
	}
	for i := range r.Dialects {
		r.Dialects[i].Negotiate.Step = s
		if r.Dialects[i].Login != nil {
			*r.Dialects[i].Login = s
		}
	}
	r.Multi.Step = s
	if r.Login != nil {
		r.Login.Step = s
	}
	if r.GuestMapping != nil {
		r.GuestMapping.Session.Step = s
	}
	for _, p := range []*SessionResult{r.Anonymous, r.NTLMv1} {
		if p != nil {
			p.Step = s
		}
	}
	if r.IPC != nil {
		*r.IPC = s
	}
	if r.Shares != nil {
		r.Shares.Step = s
	}
	if r.Share != nil {
		r.Share.Step, r.Share.List = s, s
	}
	if r.File != nil {
		r.File.Step = s
	}
}

// refine applies conclusions that need more than one probe.
func refine(r *Result) {
	// Logins that did happen at a known dialect fill the per-dialect view
	// when no explicit DialectLogins probe ran there: pysmb's replayed login
	// is at SMB2_02, the main login at the dialect the server chose.
	for i := range r.Dialects {
		d := &r.Dialects[i]
		if d.Login != nil {
			continue
		}
		for _, s := range r.SMB1 {
			if d.Dialect == SMB2_02 && s.Offer == OfferPysmb && s.Login != nil && s.Login.Class != ClassSkipped && s.Login.Dialect == SMB2_02 {
				l := s.Login.Step
				d.Login = &l
			}
		}
		if d.Login == nil && r.Login != nil && r.Login.Class != ClassSkipped && r.Multi.OK() && r.Multi.Dialect == d.Dialect {
			l := r.Login.Step
			d.Login = &l
		}
	}
	nt1 := false
	for _, s := range r.SMB1 {
		if s.Offer == OfferNT1 && s.Accepted {
			nt1 = true
		}
	}
	// An SMB1-only smbd ("server max protocol = NT1") hangs up on a native
	// SMB2 NEGOTIATE ("Non-SMB packet of length N. Terminating server" at
	// log level 2, observed on Samba 4.17.12; test/ TestProbeSMB1OnlyServer):
	// that is a missing common dialect, not a broken connection, once the
	// NT1 offer proves the server speaks SMB1.
	fix := func(s *Step) {
		if nt1 && s.Class == ClassClosed {
			s.Class = ClassNoCommonDialect
			s.Error += " (the server accepts SMB1 only: it hangs up on SMB2 NEGOTIATE)"
		}
	}
	for i := range r.Dialects {
		fix(&r.Dialects[i].Negotiate.Step)
	}
	fix(&r.Multi.Step)
	// Samba answers a refused NTLMv1 response with STATUS_LOGON_FAILURE, like
	// a wrong password ("ntlm_password_check: NTLMv1 passwords NOT PERMITTED"
	// is only in its log). If NTLMv2 with the same credentials got in as a
	// real user, the difference is the NTLM policy.
	if r.NTLMv1 != nil && r.Login != nil && r.NTLMv1.Class == ClassLogonFailure &&
		r.Login.OK() && !r.Login.Guest {
		r.NTLMv1.Class = ClassNTLMPolicy
		r.NTLMv1.Error += " (NTLMv2 with the same credentials succeeded: the server refuses NTLMv1, e.g. ntlm auth = ntlmv2-only)"
	}
}
