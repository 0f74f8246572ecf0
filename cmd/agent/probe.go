package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/smb-agent/smb-agent/checks/probe"
	"github.com/smb-agent/smb-agent/configs"
	"github.com/smb-agent/smb-agent/configs/procenv"
	"github.com/smb-agent/smb-agent/configs/safetext"
)

func init() { registerCommand(newProbeCommand) }

type probeFlags struct {
	target       string
	ports        []int
	user         string
	passwordFile string
	domain       string
	workstation  string
	share        string
	file         string
	fileSHA256   string
	timeout      time.Duration
	json         bool
	guest        bool
	ntlmv1       bool
	skipAuth     bool
	everyDialect bool
}

func newProbeCommand(s *streams) *cobra.Command {
	var f probeFlags
	cmd := &cobra.Command{
		Use:   "probe",
		Short: "Probe an SMB server: TCP, every dialect, login, share listing",
		Long: `probe connects to an SMB server and prints the raw probe results:
TCP connect per port; SMB1 NEGOTIATE with pysmb's exact offer (NT LM 0.12 +
SMB 2.002) and NT1 alone; one SMB2 NEGOTIATE offering all dialects, and one
per dialect (SMB2_02 ... SMB3_11) whose answer those do not already imply (a
dialect they do imply is shown "derived from" them; --every-dialect probes
each anyway); login with the given credentials; guest mapping (a random
unknown user); IPC$; srvsvc share listing; share tree connect and listing; file
read and SHA-256. Every step is classified (refused, timeout, no-common-dialect,
logon-failure, ipc-unavailable, rpc-endpoint-missing, ...).

The password comes from --password-file or SMB_AGENT_PASSWORD; it is never
printed. Exit code: 0 when every probed step succeeded, 2 when one failed,
3 on bad input.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			host, opts, err := f.options()
			if err != nil {
				return withCode(exitUnknown, err)
			}
			res := probe.Run(c.Context(), host, opts)
			if f.json {
				enc := json.NewEncoder(s.out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(res); err != nil {
					return withCode(exitUnknown, fmt.Errorf("write JSON: %w", err))
				}
			} else {
				// Share names and statuses come from the server.
				sw := safetext.NewWriter(s.out)
				renderProbe(sw, res)
				_ = sw.Flush()
			}
			if len(res.Failures()) > 0 {
				return withCode(exitCritical, nil)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.target, "target", "127.0.0.1:445", "server to probe, HOST[:PORT]")
	fl.IntSliceVar(&f.ports, "port", nil, "TCP port to probe (repeatable); the first is used for SMB unless --target names one")
	fl.StringVar(&f.user, "user", "", "user name for the session setup")
	fl.StringVar(&f.passwordFile, "password-file", "", "file holding the password (default: $SMB_AGENT_PASSWORD)")
	fl.StringVar(&f.domain, "domain", "", "domain (workgroup) of the user")
	fl.StringVar(&f.workstation, "workstation", "", "workstation name sent in NTLM (default SMB-AGENT)")
	fl.StringVar(&f.share, "share", "", "share to tree connect and list")
	fl.StringVar(&f.file, "file", "", "file in --share to read and hash")
	fl.StringVar(&f.fileSHA256, "file-sha256", "", "expected SHA-256 (hex) of --file")
	fl.DurationVar(&f.timeout, "timeout", probe.DefaultTimeout, "budget of the whole probe run, and deadline of every network operation")
	fl.BoolVar(&f.json, "json", false, "print the raw results as JSON")
	fl.BoolVar(&f.guest, "guest", false, "also try an anonymous session; without --user, run the whole chain anonymously, as smbclient -N does")
	fl.BoolVar(&f.ntlmv1, "ntlmv1", false, "also log in with NTLMv1, as an old client would")
	fl.BoolVar(&f.skipAuth, "skip-auth", false, "negotiate only: no login, no share steps")
	fl.BoolVar(&f.everyDialect, "every-dialect", false, "negotiate every SMB2/3 dialect on a connection of its own, also those that pysmb's handshake and the all-dialect negotiate already answer (by default those are shown as derived)")
	return cmd
}

// options validates the flags and builds probe.Options.
func (f *probeFlags) options() (string, probe.Options, error) {
	var o probe.Options
	host, port, err := splitTarget(f.target)
	if err != nil {
		return "", o, err
	}
	if port != 0 {
		o.Ports = append(o.Ports, port)
	}
	for _, p := range f.ports {
		if p < 1 || p > 65535 {
			return "", o, fmt.Errorf("--port %d: want 1-65535", p)
		}
		dup := false
		for _, q := range o.Ports {
			dup = dup || q == p
		}
		if !dup {
			o.Ports = append(o.Ports, p)
		}
	}
	if len(o.Ports) == 0 {
		o.Ports = []int{445}
	}
	if f.timeout <= 0 || f.timeout > 10*time.Minute {
		return "", o, fmt.Errorf("--timeout %s: want more than 0 and at most 10m", f.timeout)
	}
	o.Timeout = f.timeout
	if f.file != "" && f.share == "" {
		return "", o, fmt.Errorf("--file needs --share")
	}
	if f.fileSHA256 != "" {
		if f.file == "" {
			return "", o, fmt.Errorf("--file-sha256 needs --file")
		}
		if len(f.fileSHA256) != 64 || strings.Trim(strings.ToLower(f.fileSHA256), "0123456789abcdef") != "" {
			return "", o, fmt.Errorf("--file-sha256: want 64 hex digits")
		}
	}
	pw, _ := procenv.Lookup(procenv.Password)
	if f.passwordFile != "" {
		p, err := configs.ReadPasswordFile(f.passwordFile)
		if err != nil {
			return "", o, fmt.Errorf("--password-file: %w", err)
		}
		pw = p
	}
	o.User, o.Password, o.Domain, o.Workstation = f.user, pw, f.domain, f.workstation
	o.Share, o.File, o.FileSHA256 = f.share, f.file, f.fileSHA256
	o.Guest, o.NTLMv1, o.SkipAuth = f.guest, f.ntlmv1, f.skipAuth
	o.EveryDialect = f.everyDialect
	return host, o, nil
}

// splitTarget accepts HOST, HOST:PORT, [V6] and [V6]:PORT; port 0 = none.
func splitTarget(t string) (string, int, error) {
	t = strings.TrimSpace(t)
	if t == "" {
		return "", 0, fmt.Errorf("--target is empty")
	}
	host, ps, err := net.SplitHostPort(t)
	if err != nil {
		// No port: a bare host or a bracketed / bare IPv6 address.
		h := strings.TrimSuffix(strings.TrimPrefix(t, "["), "]")
		if err := configs.CheckHost(h); err != nil {
			return "", 0, fmt.Errorf("--target %q: want HOST[:PORT]: %w", t, err)
		}
		return h, 0, nil
	}
	p, err := strconv.Atoi(ps)
	if err != nil || p < 1 || p > 65535 || host == "" {
		return "", 0, fmt.Errorf("--target %q: want HOST[:PORT] with a port 1-65535", t)
	}
	if err := configs.CheckHost(host); err != nil {
		return "", 0, fmt.Errorf("--target %q: %w", t, err)
	}
	return host, p, nil
}

// renderProbe prints a compact table, one line per step, in a fixed order.
func renderProbe(w io.Writer, r *probe.Result) {
	fmt.Fprintf(w, "target %s  (%.0f ms, budget %.0f ms)\n", r.Target, r.DurationMS, r.TimeoutMS)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tRESULT\tDETAIL")
	row := func(step string, s probe.Step, detail string) {
		d := detail
		if s.Class != probe.ClassOK {
			// A failed or skipped step shows why, not what it would have shown.
			d = s.Error
			if s.StatusName != "" && !strings.Contains(d, s.StatusName) {
				d = s.StatusName + ": " + d
			}
			if detail != "" && s.Class != probe.ClassSkipped {
				d = detail + "; " + d
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", step, s.Class, oneLine(d))
	}
	for _, t := range r.TCP {
		row("tcp "+strconv.Itoa(t.Port), t.Step, fmt.Sprintf("%s %.1f ms", t.Outcome, t.LatencyMS))
	}
	for _, s := range r.SMB1 {
		d := "offered " + strings.Join(s.Offered, " + ")
		if s.Accepted {
			d = fmt.Sprintf("chose %s (%s reply)", s.Chosen, s.Reply)
		}
		row("smb1 "+s.Offer, s.Step, d)
		if l := s.Login; l != nil {
			row("smb1 "+s.Offer+" login", l.Step, "as "+l.User+" at "+l.Dialect.String())
		}
	}
	for _, d := range r.Dialects {
		det := ""
		if n := d.Negotiate.Info; n != nil {
			det = signingText(n)
			if n.EncryptionCapable {
				det += ", encryption"
				if n.Cipher != "" {
					det += " " + n.Cipher
				}
			}
		}
		st := d.Negotiate.Step
		if d.Login != nil && st.OK() {
			if d.Login.OK() {
				det += ", login ok"
			} else {
				det += ", login " + string(d.Login.Class)
				if d.Login.Class != probe.ClassSkipped {
					st = *d.Login
				}
			}
		}
		if d.DerivedFrom != "" {
			det = strings.TrimPrefix(det+", derived from "+d.DerivedFrom, ", ")
		}
		row("negotiate "+d.Dialect.String(), st, det)
	}
	det := ""
	if r.Multi.OK() {
		det = "chose " + r.Multi.Dialect.String()
	}
	row("negotiate all", r.Multi.Step, det)
	if l := r.Login; l != nil {
		det := ""
		if l.OK() {
			det = "as " + l.User + " at " + l.Dialect.String()
			if l.Guest {
				det += " (GUEST: credentials not checked)"
			}
		}
		row("login "+l.User, l.Step, det)
	}
	if g := r.GuestMapping; g != nil {
		// A refused unknown user is the healthy answer here.
		st := g.Session.Step
		switch {
		case g.MapsToGuest:
			fmt.Fprintf(tw, "guest mapping\tactive\tunknown user %s got in: map to guest is on, a login proves nothing\n", g.User)
		case st.Class == probe.ClassLogonFailure || st.Class == probe.ClassUnknownUser:
			fmt.Fprintf(tw, "guest mapping\toff\tunknown user refused (%s)\n", st.StatusName)
		default:
			row("guest mapping", st, "")
		}
	}
	if a := r.Anonymous; a != nil {
		row("anonymous", a.Step, "")
	}
	if v := r.NTLMv1; v != nil {
		row("ntlmv1 "+v.User, v.Step, "")
	}
	if r.IPC != nil {
		row("ipc$", *r.IPC, "")
	}
	if s := r.Shares; s != nil {
		det := strings.Join(s.Names, ", ")
		if s.Attempts > 1 {
			det += fmt.Sprintf(" (%d attempts)", s.Attempts)
		}
		row("shares", s.Step, det)
	}
	if s := r.Share; s != nil {
		row("share "+s.Name, s.Step, "")
		if s.OK() {
			row("list "+s.Name, s.List, fmt.Sprintf("%d entries", s.Entries))
		}
	}
	if f := r.File; f != nil {
		det := ""
		if f.SHA256 != "" {
			det = fmt.Sprintf("%d bytes sha256 %s", f.Size, f.SHA256)
			if f.Match != nil && *f.Match {
				det += " (matches)"
			}
		}
		row("file "+f.Path, f.Step, det)
	}
	_ = tw.Flush()
}

func signingText(n *probe.NegotiateInfo) string {
	switch {
	case n.SigningRequired:
		return "signing required"
	case n.SigningEnabled:
		return "signing enabled"
	}
	return "signing disabled"
}
