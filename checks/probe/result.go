package probe

import (
	"strconv"
	"time"
)

// Step is what every probe step records: its class, the server's NT status
// when it gave one, the raw error text as evidence, and how long it took.
type Step struct {
	Class      Class    `json:"class"`
	Status     NTStatus `json:"nt_status,omitempty"`
	StatusName string   `json:"nt_status_name,omitempty"`
	Error      string   `json:"error,omitempty"`
	LatencyMS  float64  `json:"latency_ms"`
}

// OK reports whether the step succeeded.
func (s Step) OK() bool { return s.Class == ClassOK }

func (s *Step) setStatus(st NTStatus) {
	s.Status = st
	if st != 0 {
		s.StatusName = st.Name()
	} else {
		s.StatusName = ""
	}
}

func (s *Step) since(t0 time.Time) { s.LatencyMS = ms(time.Since(t0)) }

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func skipped(why string) Step { return Step{Class: ClassSkipped, Error: why} }

// TCPOutcome values of TCPResult.Outcome (the wording).
const (
	TCPAccepted    = "accepted"
	TCPRefused     = "refused"
	TCPUnreachable = "unreachable"
	TCPTimeout     = "timeout"
	TCPReset       = "reset"
)

// TCPResult is one TCP connect.
type TCPResult struct {
	Addr    string `json:"addr"`
	Port    int    `json:"port"`
	Outcome string `json:"outcome"` // accepted | refused | unreachable | timeout | reset (or error)
	Step
}

// SMB1Reply is a decoded answer to an SMB1 NEGOTIATE.
type SMB1Reply struct {
	// Form is "smb1" (an SMB1 NEGOTIATE response) or "smb2" (an SMB2
	// NEGOTIATE response to a multi-protocol offer, MS-SMB2 3.3.5.3.1).
	Form string `json:"form"`
	// Status is the NT status of the SMB1 header, or of the SMB2 header.
	Status NTStatus `json:"nt_status"`
	// DialectIndex is the index into the offered list; 0xFFFF means the
	// server supports none of them. Only for the smb1 form.
	DialectIndex uint16 `json:"dialect_index"`
	// WordCount of the SMB1 reply: 1 for "none"/LANMAN-less, 17 for NT LM 0.12.
	WordCount int `json:"word_count,omitempty"`
	// SecurityMode / Capabilities of an NT LM 0.12 reply ([MS-CIFS] 2.2.4.52.2).
	SecurityMode uint8  `json:"security_mode,omitempty"`
	Capabilities uint32 `json:"capabilities,omitempty"`
	// SMB2 holds the decoded SMB2 reply for the smb2 form.
	SMB2 *NegotiateInfo `json:"smb2,omitempty"`
}

// SMB1Result is one SMB1 NEGOTIATE probe.
type SMB1Result struct {
	Offer   string   `json:"offer"`   // name of the offer: "pysmb", "nt1", or the caller's
	Offered []string `json:"offered"` // the dialect strings, in order
	Reply   string   `json:"reply"`   // smb1 | smb2 | none
	// DialectIndex as in SMB1Reply; -1 when there was no SMB1 reply.
	DialectIndex int `json:"dialect_index"`
	// Chosen is the offered dialect string the server picked (smb1 form), or
	// the SMB2 dialect name (smb2 form); empty when none.
	Chosen string `json:"chosen,omitempty"`
	// Dialect is Chosen as a Dialect (NT1 for "NT LM 0.12", SMB2_02, SMB2_FF...).
	Dialect         Dialect    `json:"dialect,omitempty"`
	Accepted        bool       `json:"accepted"`
	SigningRequired bool       `json:"signing_required,omitempty"`
	Raw             *SMB1Reply `json:"raw,omitempty"`
	// Login continues the scorer's handshake on the same connection when
	// the server answered with SMB2_02 and credentials are configured: an
	// NTLMv2 SESSION_SETUP at SMB2_02, as pysmb does next. This is where
	// "server smb encrypt = required" refuses pysmb (STATUS_ACCESS_DENIED).
	Login *SessionResult `json:"login,omitempty"`
	// Carried is set when this offer was not sent in this run: its answer
	// is an earlier run's (Options.CarryNT1).
	Carried *Carried `json:"carried,omitempty"`
	Step
}

// Carried says where a result that was not probed in this run comes from.
type Carried struct {
	// ProbedAt is when the run that did probe it started.
	ProbedAt time.Time `json:"probed_at"`
	// Runs counts the runs that have carried it since (this one included).
	Runs int `json:"runs"`
}

// NegotiateInfo is the decoded SMB2 NEGOTIATE response (MS-SMB2 2.2.4).
type NegotiateInfo struct {
	Dialect         Dialect  `json:"dialect"`
	SecurityMode    uint16   `json:"security_mode"`
	SigningEnabled  bool     `json:"signing_enabled"`
	SigningRequired bool     `json:"signing_required"`
	Capabilities    uint32   `json:"capabilities"`
	CapabilityNames []string `json:"capability_names,omitempty"`
	// EncryptionCapable: SMB2_GLOBAL_CAP_ENCRYPTION (SMB3_00/SMB3_02) or a
	// non-zero cipher in the SMB 3.1.1 encryption context.
	EncryptionCapable bool   `json:"encryption_capable"`
	Cipher            string `json:"cipher,omitempty"`
	SigningAlgorithm  string `json:"signing_algorithm,omitempty"`
	MaxTransactSize   uint32 `json:"max_transact_size,omitempty"`
	MaxReadSize       uint32 `json:"max_read_size,omitempty"`
	MaxWriteSize      uint32 `json:"max_write_size,omitempty"`
	ServerGUID        string `json:"server_guid,omitempty"`
	ContextCount      int    `json:"context_count,omitempty"`
}

// SMB2Result is one native SMB2 NEGOTIATE.
type SMB2Result struct {
	Offered  []Dialect      `json:"offered"`
	Accepted bool           `json:"accepted"`
	Dialect  Dialect        `json:"dialect,omitempty"` // the one the server chose
	Info     *NegotiateInfo `json:"info,omitempty"`
	Step
}

// DialectResult is the probe of one SMB2/3 dialect: a go-smb2 connection
// with Negotiator.SpecifiedDialect, whose NEGOTIATE response is decoded by us,
// and, when credentials are configured, the session setup at that dialect
// (which is where "encryption required" refuses SMB2_02/SMB2_10).
type DialectResult struct {
	Dialect   Dialect    `json:"dialect"`
	Negotiate SMB2Result `json:"negotiate"`
	// Login at this dialect: an explicit probe for the dialects in
	// Options.DialectLogins, otherwise the logins Run did anyway at a known
	// dialect (pysmb's replayed login at SMB2_02, the main login at the
	// dialect the server chose); nil when none happened at this dialect.
	Login *Step `json:"login,omitempty"`
	// DerivedFrom is empty when this dialect was negotiated on a connection
	// of its own; otherwise it names the probe steps whose answers imply
	// this one ("negotiate", "smb1:pysmb", or both joined by " + "), and
	// Negotiate holds what they showed (see deriveDialects).
	DerivedFrom string `json:"derived_from,omitempty"`
}

// LoginResult is the session setup with the configured credentials.
type LoginResult struct {
	User    string  `json:"user"`
	Domain  string  `json:"domain,omitempty"`
	Dialect Dialect `json:"dialect,omitempty"`
	// Guest is true when the server said SMB2_SESSION_FLAG_IS_GUEST: the
	// credentials were not checked (map to guest).
	Guest bool `json:"guest"`
	// Anonymous: SMB2_SESSION_FLAG_IS_NULL.
	Anonymous bool `json:"anonymous,omitempty"`
	// Encrypted: SMB2_SESSION_FLAG_ENCRYPT_DATA.
	Encrypted    bool   `json:"encrypted,omitempty"`
	SessionFlags uint16 `json:"session_flags,omitempty"`
	Step
}

// SessionResult is a session setup done by our own SMB2 client (NTLMv1,
// NTLMv2 or anonymous NTLMSSP), which go-smb2 cannot do.
type SessionResult struct {
	Auth      string  `json:"auth"` // ntlmv2 | ntlmv1 | anonymous
	User      string  `json:"user"`
	Domain    string  `json:"domain,omitempty"`
	Dialect   Dialect `json:"dialect,omitempty"`
	Guest     bool    `json:"guest"`
	Anonymous bool    `json:"anonymous,omitempty"`
	// Encrypted: SMB2_SESSION_FLAG_ENCRYPT_DATA, the server requires
	// encryption for this session ("server smb encrypt = required").
	Encrypted    bool   `json:"encrypted,omitempty"`
	SessionFlags uint16 `json:"session_flags,omitempty"`
	Step
}

// GuestMappingResult: a random unknown user tried to log in. If it gets in,
// "map to guest = bad user" is active and a successful login proves nothing
// about credentials (go-smb2 v1.1.0 session.go sessionSetup tests
// SMB2_SESSION_FLAG_IS_GUEST on the first, MORE_PROCESSING response only, so
// it cannot tell a guest session; see test/ TestProbeLoginGuestMapping).
type GuestMappingResult struct {
	User        string        `json:"user"`
	MapsToGuest bool          `json:"maps_to_guest"`
	Session     SessionResult `json:"session"`
}

// SharesResult is the srvsvc share enumeration (NetShareEnumAll level 1).
type SharesResult struct {
	Names []string `json:"names,omitempty"`
	// Attempts counts the listings made: 1, or 2 when go-smb2 failed on
	// "signing required" and the agent's own signed client listed
	// (runChain).
	Attempts int `json:"attempts"`
	Step
}

// ShareResult is the tree connect to the configured share and a listing of
// its root directory.
type ShareResult struct {
	Name    string   `json:"name"`
	Entries int      `json:"entries"`
	Sample  []string `json:"sample,omitempty"` // the first few names
	List    Step     `json:"list"`
	Step             // the tree connect
}

// FileResult is the read of the configured file and its SHA-256.
type FileResult struct {
	Path     string `json:"path"`
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256,omitempty"`
	Expected string `json:"expected_sha256,omitempty"`
	Match    *bool  `json:"match,omitempty"`
	Step
}

// Result is everything one Run found. Pointers are nil for steps that were
// not requested (no share configured, no file, ...); requested steps that
// could not run carry ClassSkipped.
type Result struct {
	Target     string    `json:"target"` // host:port of the primary port
	Host       string    `json:"host"`
	Started    time.Time `json:"started"`
	DurationMS float64   `json:"duration_ms"`
	TimeoutMS  float64   `json:"timeout_ms"`

	TCP      []TCPResult     `json:"tcp"`
	SMB1     []SMB1Result    `json:"smb1"`
	Dialects []DialectResult `json:"dialects"`
	// Multi is the negotiate offering every SMB2/3 dialect at once (the
	// go-smb2 default offer, decoded by us); Chosen is what the server picked.
	Multi SMB2Result `json:"multi"`

	Login        *LoginResult        `json:"login,omitempty"`
	GuestMapping *GuestMappingResult `json:"guest_mapping,omitempty"`
	Anonymous    *SessionResult      `json:"anonymous,omitempty"`
	NTLMv1       *SessionResult      `json:"ntlmv1,omitempty"`
	IPC          *Step               `json:"ipc,omitempty"`
	Shares       *SharesResult       `json:"shares,omitempty"`
	Share        *ShareResult        `json:"share,omitempty"`
	File         *FileResult         `json:"file,omitempty"`
}

// Failure names one failed step.
type Failure struct {
	Step  string `json:"step"`
	Class Class  `json:"class"`
	Error string `json:"error,omitempty"`
}

// NamedStep is one step of a run under its stable name: "tcp:445",
// "smb1:pysmb", "smb1:pysmb:login", "negotiate:SMB2_02", "login:SMB2_02",
// "negotiate" (all dialects), "login", "anonymous", "ntlmv1", "ipc",
// "shares", "share", "share-list", "file".
type NamedStep struct {
	Name string
	Step Step
	// Client is true for the steps that stand for a real client (see
	// Failures); false for per-dialect and extra SMB1 offers, which map
	// what the server accepts.
	Client bool
}

// Steps lists every step of the run that was recorded, in a fixed order.
func (r *Result) Steps() []NamedStep {
	var out []NamedStep
	add := func(name string, s Step, client bool) {
		out = append(out, NamedStep{Name: name, Step: s, Client: client})
	}
	for _, t := range r.TCP {
		add("tcp:"+strconv.Itoa(t.Port), t.Step, true)
	}
	for _, s := range r.SMB1 {
		if s.Carried != nil {
			continue // not a step of this run
		}
		st, pysmb := s.Step, s.Offer == OfferPysmb
		if pysmb && st.Class == ClassOK && !s.Accepted {
			// The scorer's own offer answered with "none of these".
			st.Class = ClassNoCommonDialect
		}
		add("smb1:"+s.Offer, st, pysmb)
		if s.Login != nil {
			add("smb1:"+s.Offer+":login", s.Login.Step, pysmb)
		}
	}
	for _, d := range r.Dialects {
		// A derived cell is not a step of its own: the steps it is
		// derived from are listed under their names.
		if d.DerivedFrom == "" {
			add("negotiate:"+d.Dialect.String(), d.Negotiate.Step, false)
		}
		if d.Login != nil {
			add("login:"+d.Dialect.String(), *d.Login, false)
		}
	}
	add("negotiate", r.Multi.Step, true)
	if r.Login != nil {
		add("login", r.Login.Step, true)
	}
	if r.Anonymous != nil {
		add("anonymous", r.Anonymous.Step, true)
	}
	if r.NTLMv1 != nil {
		add("ntlmv1", r.NTLMv1.Step, true)
	}
	if r.IPC != nil {
		add("ipc", *r.IPC, true)
	}
	if r.Shares != nil {
		add("shares", r.Shares.Step, true)
	}
	if r.Share != nil {
		add("share", r.Share.Step, true)
		add("share-list", r.Share.List, true)
	}
	if r.File != nil {
		add("file", r.File.Step, true)
	}
	return out
}

// Failures lists the steps that failed, in a fixed order. A dialect the
// server refuses is a fact, not a failure, except for the offers that stand
// for a real client: the primary TCP port, the all-dialect negotiate, the
// pysmb offer (the scoring engine's handshake), and every requested step
// (login, IPC$, srvsvc, share, file, anonymous, NTLMv1). Skipped steps are
// not failures of their own: the step that caused the skip is.
func (r *Result) Failures() []Failure {
	var out []Failure
	for _, s := range r.Steps() {
		if s.Client && s.Step.Class != ClassOK && s.Step.Class != ClassSkipped {
			out = append(out, Failure{Step: s.Name, Class: s.Step.Class, Error: s.Step.Error})
		}
	}
	return out
}
