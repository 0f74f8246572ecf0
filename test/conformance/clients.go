package conformance

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	smb2 "github.com/hirochachacha/go-smb2"

	"github.com/smb-agent/smb-agent/configs"
	"github.com/smb-agent/smb-agent/configs/smbconf"
)

// Target is what every client of a case is pointed at.
type Target struct {
	Host     string
	Port     int
	Share    string
	File     string
	User     string
	Password string
	// SHA256 is the content the scorer expects in File (lower-case hex).
	SHA256 string
	// Timeout bounds each network operation of a client.
	Timeout time.Duration
	// Dir is a scratch directory for downloads.
	Dir string
	// Release is the Samba release smbd and smbclient come from: it decides
	// how a client option is spelled (smbclientOptions).
	Release smbconf.SambaVersion
	// AgentCache is the agent's cache directory (CACHE_DIRECTORY, as the
	// systemd unit's CacheDirectory= sets it), shared by every case: a
	// deployed agent asks smbd for its version once, not every run.
	AgentCache string
}

func (t Target) addr() string { return net.JoinHostPort(t.Host, strconv.Itoa(t.Port)) }

// Client is one real client configuration and the agent profile that
// stands for it.
type Client struct {
	// Name is the configuration, as the table prints it.
	Name string
	// Profile is the agent profile: a preset, or the name of Custom.
	Profile string
	// Custom, when set, is written to the agent's `clients:` list.
	Custom *configs.ClientProfile
	// Anonymous: the client logs in with no user and password, and the
	// agent is run without --user.
	Anonymous bool
	// Subset: part of the short run in `make test`.
	Subset bool
	run    func(ctx context.Context, c Client, t Target) Outcome
	// options are smbclient --option values.
	options []string
}

// Run runs the client's round against t.
func (c Client) Run(ctx context.Context, t Target) Outcome { return c.run(ctx, c, t) }

// smbclientProfile is the smbclient preset changed as the options change
// it; sources are the smb.conf(5) entries of the options.
func smbclientProfile(name, desc string, edit func(p *configs.ClientProfile), sources ...string) *configs.ClientProfile {
	p, _ := configs.Preset("smbclient")
	p.Name, p.Description = name, desc
	p.Preset = ""
	edit(&p)
	p.Sources = append(sources, p.Sources...)
	if errs := p.Validate(); len(errs) > 0 {
		panic(fmt.Sprintf("profile %s: %v", name, errs))
	}
	return &p
}

// Clients are the client configurations every case runs, each standing for
// a population of real clients.
func Clients() []Client {
	return []Client{
		{Name: "impacket", Profile: "impacket", Subset: true, run: runImpacket},
		{Name: "smbclient", Profile: "smbclient", Subset: true, run: runSmbclient},
		{Name: "smbclient-anonymous", Profile: "smbclient", Anonymous: true, run: runSmbclient},
		{Name: "smbclient-max-smb2_02", Profile: "smbclient-max-smb2_02", run: runSmbclient, Subset: true,
			options: []string{"client max protocol = SMB2_02"},
			Custom: smbclientProfile("smbclient-max-smb2_02",
				"smbclient limited to SMB 2.0.2, like pysmb and other SMB2_02-only scorers",
				func(p *configs.ClientProfile) { p.MaxDialect = "SMB2_02" },
				"samba-team/samba:docs-xml/smbdotconf/protocol/clientmaxprotocol.xml")},
		{Name: "smbclient-min-smb3", Profile: "smbclient-min-smb3", run: runSmbclient,
			options: []string{"client min protocol = SMB3"},
			Custom: smbclientProfile("smbclient-min-smb3",
				"smbclient refusing anything below SMB3 (Samba reads SMB3 as SMB3_11)",
				func(p *configs.ClientProfile) { p.MinDialect = "SMB3_11" },
				"samba-team/samba:docs-xml/smbdotconf/protocol/clientminprotocol.xml")},
		{Name: "smbclient-nt1", Profile: "smbclient-nt1", run: runSmbclient,
			options: []string{"client min protocol = NT1", "client max protocol = NT1"},
			// smb1cli_prots[] in libcli/smb/smbXcli_base.c: within NT1-NT1
			// the SMB1 NEGOTIATE carries these two strings.
			Custom: smbclientProfile("smbclient-nt1",
				"smbclient speaking SMB1 only, like old embedded clients",
				func(p *configs.ClientProfile) {
					p.MinDialect, p.MaxDialect = "NT1", "NT1"
					p.SMB1Offer = []string{"NT LANMAN 1.0", "NT LM 0.12"}
				},
				"samba-team/samba:libcli/smb/smbXcli_base.c smb1cli_prots[]")},
		{Name: "smbclient-encrypt", Profile: "smbclient-encrypt", run: runSmbclient,
			options: []string{"client smb encrypt = required"},
			Custom: smbclientProfile("smbclient-encrypt",
				"smbclient requiring encryption",
				func(p *configs.ClientProfile) { p.Encryption = configs.EncryptionRequired },
				"samba-team/samba:docs-xml/smbdotconf/security/clientsmbencrypt.xml")},
		{Name: "smbclient-signing", Profile: "smbclient-signing", run: runSmbclient,
			options: []string{"client signing = required"},
			Custom: smbclientProfile("smbclient-signing",
				"smbclient requiring signing, like Windows 11 24H2",
				func(p *configs.ClientProfile) { p.Signing = configs.SigningRequired },
				"samba-team/samba:docs-xml/smbdotconf/security/clientsigning.xml")},
		{Name: "smbclient-ntlmv1", Profile: "smbclient-ntlmv1", run: runSmbclient, Subset: true,
			options: []string{"client ntlmv2 auth = no", "client use kerberos = disabled"},
			Custom: smbclientProfile("smbclient-ntlmv1",
				"smbclient sending NTLMv1 responses, like clients with LmCompatibilityLevel below 3",
				func(p *configs.ClientProfile) { p.Auth = configs.AuthNTLMv1 },
				"samba-team/samba:docs-xml/smbdotconf/security/clientntlmv2auth.xml")},
		{Name: "go-smb2", Profile: "go-smb2", run: runGoSMB2, Subset: true,
			// clientDialects in go-smb2 v1.1.0 feature.go: 2.0.2 to 3.1.1 in
			// one SMB2 NEGOTIATE; it signs when the server requires it
			// (Negotiator.RequireMessageSigning false) and encrypts when the
			// session or share asks (conn.go tryDecrypt/encrypt).
			Custom: &configs.ClientProfile{Name: "go-smb2",
				Description: "Go checkers built on github.com/hirochachacha/go-smb2 v1.1.0 with a default Dialer",
				MinDialect:  "SMB2_02", MaxDialect: "SMB3_11",
				Signing: configs.SigningIfRequired, Encryption: configs.EncryptionIfRequired, Auth: configs.AuthNTLMv2,
				Sources: []string{"github.com/hirochachacha/go-smb2@v1.1.0 feature.go clientDialects, conn.go Negotiator",
					"github.com/hirochachacha/go-smb2@v1.1.0 initiator.go NTLMInitiator (NTLMv2)"}}},
	}
}

// ---- impacket ----

// impacketScript is the client script next to this file.
func impacketScript() string {
	wd, _ := os.Getwd()
	return filepath.Join(wd, "impacket_client.py")
}

// PythonWithImpacket is Debian's python3, which has python3-impacket (a
// pyenv python3 earlier on PATH does not).
const PythonWithImpacket = "/usr/bin/python3"

func runImpacket(ctx context.Context, c Client, t Target) Outcome {
	args := []string{impacketScript(), t.Host, strconv.Itoa(t.Port), t.Share, t.File}
	if !c.Anonymous {
		args = append(args, t.User)
	}
	cmd := exec.CommandContext(ctx, PythonWithImpacket, args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "CONFORMANCE_PASSWORD=" + t.Password, "PYTHONDONTWRITEBYTECODE=1"}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil && out.Len() == 0 {
		return Outcome{Failed: "error", Detail: fmt.Sprintf("impacket: %v: %s", err, lastLine(errb.String()))}
	}
	var r struct {
		Connect, Login, List, Share, Read bool
		Shares                            []string
		SHA256, Error                     string
	}
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		return Outcome{Failed: "error", Detail: fmt.Sprintf("impacket output %q: %v", out.String(), err)}
	}
	if r.List && !hasShare(r.Shares, t.Share) {
		return Outcome{Failed: StepList, Detail: fmt.Sprintf("share list %v lacks %s", r.Shares, t.Share)}
	}
	if r.Read && t.SHA256 != "" && r.SHA256 != t.SHA256 {
		return Outcome{Failed: StepRead, Detail: "content differs from the expected SHA-256"}
	}
	for i, ok := range []bool{r.Connect, r.Login, r.List, r.Share, r.Read} {
		if !ok {
			return Outcome{Failed: Steps[i], Detail: r.Error}
		}
	}
	return Outcome{Failed: StepNone}
}

// ---- smbclient ----

// smbclientRun runs smbclient with the configuration's options, no
// smb.conf of the host (its defaults apply), the password in PASSWD (read
// by cli_credentials_guess, source3/lib/util_cmdline.c), never argv.
func smbclientRun(ctx context.Context, c Client, t Target, args ...string) (string, error) {
	full := []string{"--configfile=/dev/null", "-p", strconv.Itoa(t.Port),
		"-t", strconv.Itoa(int(t.Timeout / time.Second))}
	full = append(full, smbclientOptions(c.options, t.Release)...)
	// PATH as the test has it: with SAMBA_RELEASE the harness puts that
	// release's wrappers first, smbclient included.
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.Dir}
	if c.Anonymous {
		full = append(full, "-N")
	} else {
		full = append(full, "-U", t.User)
		env = append(env, "PASSWD="+t.Password)
	}
	// A scorer gives up on a client that hangs; so does the suite, after
	// the longest wait smbclient has of its own (a 20 s negotiate timeout
	// in later releases) and a margin. smbclient 4.13 speaking NT1 waits
	// forever once smbd closes the connection right after accepting it.
	ctx, cancel := context.WithTimeout(ctx, smbclientHang)
	defer cancel()
	cmd := exec.CommandContext(ctx, "smbclient", append(full, args...)...)
	cmd.Env = env
	cmd.Dir = t.Dir
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return string(out), fmt.Errorf("%w: %w after %s", errHung, err, smbclientHang)
	}
	return string(out), err
}

// smbclientHang is how long the suite waits for one smbclient command.
const smbclientHang = 30 * time.Second

// errHung: the client was killed after waiting smbclientHang.
var errHung = errors.New("client hung")

// hungStep is where a round that hung stopped: the step smbclient's output
// shows it in, else the connect (nothing it printed says it got further).
func hungStep(out, cmdStep string) string {
	if strings.Contains(out, "login successful") || strings.Contains(out, "Sharename") {
		return cmdStep
	}
	return smbclientStep(out, StepConnect)
}

// olderClientFlags are the command-line forms of client options that a
// release's parameter table does not have yet: "client smb encrypt =
// required" was smbclient's -e (--encrypt, which fails when the server
// cannot encrypt), and where "client use kerberos" does not exist
// smbclient uses Kerberos only when -k asks for it, so "disabled" is its
// default ("" = nothing to pass).
var olderClientFlags = map[string]string{
	"client smb encrypt = required":  "--encrypt",
	"client use kerberos = disabled": "",
}

// smbclientOptions are the arguments that give release v's smbclient the
// options: --option=X where v's parameter table (configs/smbconf) has the
// parameter, else its older command-line form.
func smbclientOptions(options []string, v smbconf.SambaVersion) []string {
	var out []string
	for _, o := range options {
		name, _, _ := strings.Cut(o, "=")
		if _, ok := smbconf.LookupParamIn(v, strings.TrimSpace(name)); ok || v == (smbconf.SambaVersion{}) {
			out = append(out, "--option="+o)
			continue
		}
		flag, known := olderClientFlags[o]
		if !known {
			// Passed as is: smbclient then refuses it ("Error setting
			// option"), and the table shows that row failing.
			out = append(out, "--option="+o)
			continue
		}
		if flag != "" {
			out = append(out, flag)
		}
	}
	return out
}

// smbclientStep reads how far smbclient got from its own messages
// (source3/client/client.c, source3/libsmb/cliconnect.c). The negotiate
// failure reads "protocol negotiation failed: X" up to 4.17 and "Protocol
// negotiation to server H (for a protocol between A and B) failed: X" or
// "Protocol negotiation (with timeout N ms) timed out against server H"
// in later releases (source3/libsmb/clidfs.c do_connect).
func smbclientStep(out string, rest string) string {
	switch {
	case strings.Contains(strings.ToLower(out), "protocol negotiation"),
		strings.Contains(out, "do_connect: Connection to"),
		strings.Contains(out, "Connection to") && strings.Contains(out, "failed"),
		strings.Contains(out, "NT_STATUS_IO_TIMEOUT") && !strings.Contains(out, "session setup"):
		return StepConnect
	case strings.Contains(out, "session setup failed"), strings.Contains(out, "NT_STATUS_LOGON_FAILURE"),
		strings.Contains(out, "NT_STATUS_ACCOUNT_DISABLED"),
		// The session is set up, then smbclient itself refuses to use it
		// unencrypted (source3/libsmb/clidfs.c do_connect,
		// cli_cm_force_encryption_creds): the session is what failed.
		strings.Contains(out, "Encryption required and server doesn't support"):
		return StepLogin
	}
	return rest
}

func runSmbclient(ctx context.Context, c Client, t Target) Outcome {
	out, err := smbclientRun(ctx, c, t, "-L", "//"+t.Host)
	if errors.Is(err, errHung) {
		return Outcome{Failed: hungStep(out, StepList), Detail: err.Error() + ": " + lastLine(out)}
	}
	if err != nil {
		return Outcome{Failed: smbclientStep(out, StepList), Detail: lastLine(out)}
	}
	// smbclient -L prints an empty table and exits 0 when srvsvc cannot
	// be opened (nt pipe support = no): the listing failed all the same.
	if names := smbclientShares(out); !hasShare(names, t.Share) {
		return Outcome{Failed: StepList, Detail: fmt.Sprintf("share list %v lacks %s", names, t.Share)}
	}
	local := filepath.Join(t.Dir, "got-"+c.Name)
	out, err = smbclientRun(ctx, c, t, "//"+t.Host+"/"+t.Share, "-c", "ls; get "+t.File+" "+local)
	if errors.Is(err, errHung) {
		return Outcome{Failed: hungStep(out, StepShare), Detail: err.Error() + ": " + lastLine(out)}
	}
	if err != nil {
		step := smbclientStep(out, StepShare)
		if step == StepShare && (strings.Contains(out, "opening remote file") || strings.Contains(out, "getting file")) {
			step = StepRead
		}
		return Outcome{Failed: step, Detail: lastLine(out)}
	}
	b, rerr := os.ReadFile(local)
	_ = os.Remove(local)
	if rerr != nil {
		return Outcome{Failed: StepRead, Detail: rerr.Error()}
	}
	if t.SHA256 != "" && sum(b) != t.SHA256 {
		return Outcome{Failed: StepRead, Detail: "content differs from the expected SHA-256"}
	}
	return Outcome{Failed: StepNone}
}

// ---- go-smb2 ----

// goSMB2Step says at which step a go-smb2 Dial error happened: Dial does
// NEGOTIATE and SESSION_SETUP in one call, so a server status other than
// "no common dialect" is the session setup's answer; transport errors and
// malformed replies are the connect's.
func goSMB2Step(err error) string {
	var re *smb2.ResponseError
	if errors.As(err, &re) && re.Code != 0xC00000BB { // STATUS_NOT_SUPPORTED
		return StepLogin
	}
	return StepConnect
}

func runGoSMB2(ctx context.Context, c Client, t Target) (o Outcome) {
	ctx, cancel := context.WithTimeout(ctx, 3*t.Timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", t.addr())
	if err != nil {
		return Outcome{Failed: StepConnect, Detail: err.Error()}
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(3 * t.Timeout))
	dialer := &smb2.Dialer{Initiator: &smb2.NTLMInitiator{User: t.User, Password: t.Password}}
	s, err := dialer.DialContext(ctx, conn)
	if err != nil {
		return Outcome{Failed: goSMB2Step(err), Detail: err.Error()}
	}
	s = s.WithContext(ctx)
	defer func() { _ = s.Logoff() }()
	names, err := s.ListSharenames()
	if err != nil {
		return Outcome{Failed: StepList, Detail: err.Error()}
	}
	if !hasShare(names, t.Share) {
		return Outcome{Failed: StepList, Detail: fmt.Sprintf("share list %v lacks %s", names, t.Share)}
	}
	fs, err := s.Mount(t.Share)
	if err != nil {
		return Outcome{Failed: StepShare, Detail: err.Error()}
	}
	defer func() { _ = fs.Umount() }()
	if _, err := fs.ReadDir("."); err != nil {
		return Outcome{Failed: StepShare, Detail: err.Error()}
	}
	b, err := fs.ReadFile(t.File)
	if err != nil {
		return Outcome{Failed: StepRead, Detail: err.Error()}
	}
	if t.SHA256 != "" && sum(b) != t.SHA256 {
		return Outcome{Failed: StepRead, Detail: "content differs from the expected SHA-256"}
	}
	return Outcome{Failed: StepNone}
}

// smbclientShares reads the share names of `smbclient -L` (the rows of
// its "Sharename Type Comment" table).
func smbclientShares(out string) []string {
	var names []string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && strings.HasPrefix(l, "\t") && (f[1] == "Disk" || f[1] == "IPC" || f[1] == "Printer") {
			names = append(names, f[0])
		}
	}
	return names
}

// hasShare: the listing step of a round succeeds only when the scored
// share is in the list, as a scorer that looks for it sees it.
func hasShare(names []string, share string) bool {
	for _, n := range names {
		if strings.EqualFold(n, share) {
			return true
		}
	}
	return false
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l != "" && !strings.HasPrefix(l, "SMB1 disabled") {
			if len(l) > 200 {
				l = l[:200]
			}
			return l
		}
	}
	return ""
}
