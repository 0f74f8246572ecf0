package checks

import (
	"fmt"
	"strings"

	"github.com/smb-agent/smb-agent/checks/probe"
	"github.com/smb-agent/smb-agent/configs"
	"github.com/smb-agent/smb-agent/configs/smbconf"
)

// protocol-mismatch: a client and smbd share no usable dialect, or meet
// only on dialects that cannot satisfy a requirement (encryption required,
// ntlm auth = disabled, mandatory signing against a client that never
// signs). Judged per client, in two views: smb.conf (what smbd will do)
// and the live probes (what it does now).
func init() {
	b := func(f *Facts, t Trigger, fd *Finding) { buildProtocolFinding(f, t, fd) }
	RegisterPattern(Pattern{ID: PatternProtocolMismatch, Fires: protocolMismatchFires, Causes: map[string]CauseBuilder{
		causeMinAboveClientMax: b, causeSMB1OnlyClient: b, causeMaxBelowClientMin: b, causeMinAboveMax: b,
		causeEncryptionReq: b, causeNTLMDisabled: b, causeSigningUnsigned: b, causeUnknownSession: b,
		causeClientEncryption: b,
	}})
	registerAnswer("config.client_encryption_unmet", ansClientEncryptionUnmet)
}

// ansClientEncryptionUnmet: the client requires encryption and smb.conf
// lets it negotiate only a dialect without encryption, or turns encryption
// off.
func ansClientEncryptionUnmet(c *answerCtx) (string, bool) {
	s, ok := ConfigPolicy(c.f)
	if !ok {
		return "", false
	}
	v := JudgeClient(c.client, s)
	return yesNo(v.Blocker == BlockClientCrypt), true
}

// Causes (checks/catalog/data/patterns/01-protocol-mismatch.yaml).
const (
	causeMinAboveClientMax = "server-min-above-client-max"
	causeSMB1OnlyClient    = "smb1-only-client"
	causeMaxBelowClientMin = "server-max-below-client-min"
	causeMinAboveMax       = "min-above-max"
	causeEncryptionReq     = "encryption-required"
	causeNTLMDisabled      = "ntlm-disabled"
	causeSigningUnsigned   = "signing-required-unsigned-client"
	causeUnknownSession    = "unknown-session-status"
	causeClientEncryption  = "client-requires-encryption"
)

// ipcMessage is what pysmb's listShares raises when the IPC$ tree connect
// fails (pysmb base.py _listShares_SMB2), with the engine's prefix.
const ipcMessage = "SMB operation failed: Failed to list shares: Unable to connect to IPC$"

// protocolViews judges client p against smb.conf (cv) and the running
// smbd (lv); nil when that view is not available.
type protocolViews struct {
	cfg, live ServerPolicy
	cv, lv    *Verdict
}

func viewsFor(f *Facts, p configs.ClientProfile) protocolViews {
	var pv protocolViews
	cfg, cfgOK := ConfigPolicy(f)
	if f.ConfigErr != nil {
		// Samba refuses the file: what it says about protocols is not in
		// force (config-invalid reports it).
		cfgOK = false
	}
	live, liveOK := LivePolicy(f.Probe)
	live.Release = f.SambaVersion
	live.EncryptParam = encryptParam(f)
	if c, known := tcpConnected(f); !known || !c {
		liveOK = false
	}
	pv.cfg, pv.live = cfg, live
	if cfgOK {
		v := JudgeClient(p, cfg)
		pv.cv = &v
	}
	if liveOK {
		if v, ok := liveVerdict(f, p, live); ok {
			pv.lv = &v
		}
	}
	return pv
}

// protocolMismatchFires: per judged client, smb.conf or the running smbd
// refuses it for a protocol reason, or mandatory signing puts it at risk.
func protocolMismatchFires(f *Facts) []Trigger {
	var out []Trigger
	for _, c := range judgedClients(f) {
		pv := viewsFor(f, c.Profile)
		if protocolBlocker(pv.cv) || protocolBlocker(pv.lv) || (pv.cv != nil && pv.cv.SigningRisk) {
			p := c.Profile
			out = append(out, Trigger{Client: &p})
		}
	}
	// A session setup status pysmb has no branch for (ACCESS_DENIED and
	// the like) is reported as a protocol error by the engine.
	if s, ok := sessionSetup(f); ok && len(out) == 0 && (s == "access-denied" || s == "ntlm-blocked" || s == "other") {
		out = append(out, Trigger{Evidence: []Evidence{probeEvidence("login as %s: %s", f.Probe.Login.User, stepText(f.Probe.Login.Step))}})
	}
	return out
}

func buildProtocolFinding(f *Facts, t Trigger, fd *Finding) {
	if t.Client == nil {
		fd.Summary = "session setup is refused with a status pysmb does not treat as an authentication failure"
		return
	}
	p := *t.Client
	c := clientRef{Profile: p}
	var all []configs.ClientProfile
	for _, j := range judgedClients(f) {
		all = append(all, j.Profile)
		if j.Profile.Name == p.Name {
			c = j
		}
	}
	pv := viewsFor(f, p)
	var (
		v    *Verdict
		view string
	)
	switch {
	case protocolBlocker(pv.cv):
		v, view = pv.cv, "config"
	case protocolBlocker(pv.lv):
		v, view = pv.lv, "live"
	case fd.Cause == causeSigningUnsigned:
		*fd = signingRiskFinding(f, p, pv.cfg, *fd)
		return
	default:
		return
	}
	if view == "config" && pv.lv != nil && pv.lv.OK {
		// smb.conf would lock the client out, but the running smbd still
		// serves it: the file is not what smbd reads (or it changed after
		// the probe). Latent until smbd loads it.
		fd.Severity = Warning
	}
	pol := pv.cfg
	if view == "live" {
		pol = pv.live
	}
	fd.Summary = protocolSummary(p, v, pol, view)
	fd.Explanation = v.Why
	if v.Blocker == BlockSigning {
		fd.ScoringMessage = ipcMessage
	}
	switch {
	case view == "config" && pv.lv != nil && pv.lv.OK:
		fd.Explanation = joinSentences(fd.Explanation,
			fmt.Sprintf("The running smbd still accepts %s now (%s): it does not read this smb.conf, or the file changed after the probe; the next smbd that loads it will refuse the client", p.Name, pv.lv.Negotiation.Why))
	case view == "config" && pv.lv == nil:
		fd.Explanation = joinSentences(fd.Explanation, "Judged from smb.conf: the live probes could not reach smbd")
	case view == "live":
		fd.Explanation = joinSentences(fd.Explanation,
			"smb.conf allows the client, but the running smbd refuses it: smbd does not run with this smb.conf (see stale-config)")
	}
	if c.Observed != nil {
		fd.Explanation = joinSentences(fd.Explanation,
			fmt.Sprintf("This client (%s) was seen in smbd's log offering %s", orUnknown(c.Observed.ClientIP), strings.Join(c.Observed.Dialects, ", ")))
	}
	fd.Evidence = append(fd.Evidence, protocolEvidence(f, c, v, view)...)
	if fd.Cause != causeUnknownSession {
		fd.Fix = protocolFix(f, fd.Cause, all, pv.cfg, view)
	}
}

// protocolBlocker reports whether a verdict fails for a reason this
// pattern owns (an NTLMv1 refusal is a login failure: login-failed).
func protocolBlocker(v *Verdict) bool {
	return v != nil && !v.OK && v.Blocker != BlockNTLMv1
}

// liveVerdict judges the client against the running smbd. pysmb's exact
// handshake is in the probe that sent its offer; other clients are
// modelled over the dialects the live server accepted one by one.
func liveVerdict(f *Facts, p configs.ClientProfile, live ServerPolicy) (Verdict, bool) {
	if sameOffer(p.SMB1Offer, probe.SMB1Offers[probe.OfferPysmb]) {
		if s, ok := smb1Probe(f, probe.OfferPysmb); ok {
			switch {
			case s.Class == probe.ClassOK && s.Accepted:
				n := Negotiation{Dialect: s.Dialect.String(), SMB1Path: true,
					Why: fmt.Sprintf("smbd answered pysmb's SMB1 NEGOTIATE with %s (%s reply)", s.Dialect, s.Reply)}
				if s.Dialect == probe.SMB2_FF || !(s.Dialect == probe.NT1 || s.Dialect.IsSMB2()) {
					break
				}
				return judgeNegotiated(p, live, n), true
			case s.Class == probe.ClassNoCommonDialect || (s.Class == probe.ClassOK && !s.Accepted):
				n := Negotiation{SMB1Path: true, Reply: "DialectIndex 0xFFFF",
					Why: "smbd answered pysmb's SMB1 NEGOTIATE (\"NT LM 0.12\", \"SMB 2.002\") with DialectIndex 0xFFFF: none of its dialects is accepted"}
				return judgeNegotiated(p, live, n), true
			}
		}
	}
	return JudgeClient(p, live), true
}

func orUnknown(s string) string {
	if s == "" {
		return "address unknown"
	}
	return s
}

func protocolSummary(p configs.ClientProfile, v *Verdict, pol ServerPolicy, view string) string {
	who := p.Name
	src := "smb.conf"
	if view == "live" {
		src = "the running smbd"
	}
	switch v.Blocker {
	case BlockEncryption:
		return fmt.Sprintf("%s cannot encrypt, and %s requires encryption (%s = required): session setup is refused", who, src, pol.encryptName())
	case BlockClientCrypt:
		if pol.EncryptOff {
			return fmt.Sprintf("%s requires encryption, and %s offers none (%s = off): the client drops the session", who, src, pol.encryptName())
		}
		return fmt.Sprintf("%s requires encryption, and %s accepts only dialects without it (up to %s): the client drops the session", who, src, pol.Max)
	case BlockNTLMBlocked:
		return fmt.Sprintf("%s can only log in with NTLM, and %s has ntlm auth = disabled", who, src)
	case BlockSigning:
		return fmt.Sprintf("%s never signs, and %s requires signing (server signing = mandatory)", who, src)
	}
	cr := fmt.Sprintf("%s-%s", p.MinDialect, p.MaxDialect)
	if len(p.SMB1Offer) > 0 {
		cr += " via an SMB1 NEGOTIATE"
	}
	switch {
	case pol.Max == "":
		return fmt.Sprintf("%s (%s) gets no dialect: %s accepts none", who, cr, src)
	case rank(pol.Min) > rank(pol.Max):
		return fmt.Sprintf("no client can connect: %s has server min protocol %s above server max protocol %s", src, pol.Min, pol.Max)
	}
	acc := pol.Min + "-" + pol.Max
	if pol.Min == pol.Max {
		acc = pol.Min + " only"
	}
	return fmt.Sprintf("%s (%s) shares no dialect with %s, which accepts %s", who, cr, src, acc)
}

// protocolEvidence gathers the config lines, probe results and log lines
// behind a protocol verdict.
func protocolEvidence(f *Facts, c clientRef, v *Verdict, view string) []Evidence {
	p := c.Profile
	var ev []Evidence
	switch v.Blocker {
	case BlockEncryption:
		ev = append(ev, globalValue(f, encryptParam(f)).Evidence())
	case BlockClientCrypt:
		ev = append(ev, globalValue(f, encryptParam(f)).Evidence())
		if cv := globalValue(f, "server max protocol"); cv.OK {
			ev = append(ev, cv.Evidence())
		}
	case BlockNTLMBlocked:
		ev = append(ev, globalValue(f, "ntlm auth").Evidence())
	case BlockSigning:
		ev = append(ev, globalValue(f, "server signing").Evidence())
	default:
		for _, name := range []string{"server min protocol", "server max protocol"} {
			if cv := globalValue(f, name); cv.OK {
				e := cv.Evidence()
				if d, ok := canonicalProtocol(cv.Printed, f.SambaVersion); ok && !strings.EqualFold(d, cv.Printed) {
					e.Text += fmt.Sprintf(" (Samba reads %s as %s)", cv.Printed, d)
				}
				ev = append(ev, e)
			}
		}
	}
	offer := "an SMB2 NEGOTIATE"
	if len(p.SMB1Offer) > 0 {
		offer = "one SMB1 NEGOTIATE offering " + strings.Join(p.SMB1Offer, ", ")
	}
	ev = append(ev, Evidence{Kind: "client", Text: fmt.Sprintf("client %s offers %s-%s through %s; signing %s, encryption %s, auth %s",
		p.Name, p.MinDialect, p.MaxDialect, offer, p.Signing, p.Encryption, p.Auth)})
	if s, ok := smb1Probe(f, probe.OfferPysmb); ok && sameOffer(p.SMB1Offer, s.Offered) && s.Class != probe.ClassSkipped {
		if s.Accepted {
			ev = append(ev, probeEvidence("SMB1 NEGOTIATE with pysmb's offer (%s): smbd chose %s", strings.Join(s.Offered, ", "), s.Dialect))
		} else {
			t := stepText(s.Step)
			if !strings.Contains(t, "0xFFFF") && s.DialectIndex >= 0 {
				t += fmt.Sprintf(" (DialectIndex 0x%04X)", uint16(s.DialectIndex))
			}
			ev = append(ev, probeEvidence("SMB1 NEGOTIATE with pysmb's offer (%s): %s", strings.Join(s.Offered, ", "), t))
		}
	}
	if acc := acceptedText(f); acc != "" {
		ev = append(ev, probeEvidence("%s", acc))
	}
	if v.Blocker == BlockEncryption || v.Blocker == BlockNTLMBlocked {
		if d, ok := dialectProbe(f, v.Negotiation.Dialect); ok && d.Login != nil && d.Login.Class != probe.ClassSkipped {
			ev = append(ev, probeEvidence("login at %s: %s", d.Dialect, stepText(*d.Login)))
		}
	}
	for _, o := range offersFor(f, p) {
		ev = append(ev, Evidence{Kind: "log", File: o.File, Line: o.Line,
			Text: fmt.Sprintf("client %s offered %s; smbd: no protocol supported", orUnknown(o.ClientIP), strings.Join(o.Dialects, ", "))})
	}
	if c.Observed != nil {
		o := c.Observed
		ev = append(ev, Evidence{Kind: "log", File: o.File, Line: o.Line,
			Text: fmt.Sprintf("client %s offered %s; smbd: no protocol supported", orUnknown(o.ClientIP), strings.Join(o.Dialects, ", "))})
	}
	kinds := []string{LogNoProtocol, LogNonSMBPacket}
	switch v.Blocker {
	case BlockEncryption:
		kinds = []string{LogEncryptionRequired}
	case BlockSigning:
		kinds = []string{LogBadSignature}
	}
	ev = append(ev, logEvidence(logLines(f, 3, kinds...))...)
	_ = view
	return ev
}

// acceptedText is the live dialect set in one line.
func acceptedText(f *Facts) string {
	acc := LiveAccepted(f.Probe)
	if len(acc) == 0 {
		return ""
	}
	var yes, no []string
	for _, d := range TableDialects {
		if b := acc[d]; b != nil {
			if *b {
				yes = append(yes, d)
			} else {
				no = append(no, d)
			}
		}
	}
	return fmt.Sprintf("negotiate probes, one dialect each: smbd accepts %s; refuses %s", listOr(yes, "none"), listOr(no, "none"))
}

func listOr(ss []string, none string) string {
	if len(ss) == 0 {
		return none
	}
	return strings.Join(ss, ", ")
}

// protocolFix is the least permissive change that lets every judged client
// in: lower server min protocol only as far as the clients need (pysmb:
// SMB2_02, never NT1 unless a client is SMB1-only), raise the max by
// removing it, or relax the one requirement that blocks.
func protocolFix(f *Facts, cause string, all []configs.ClientProfile, cfg ServerPolicy, view string) *Fix {
	if view == "live" {
		return &Fix{Kind: FixManual,
			Summary: "make smbd run with the smb.conf checked here (it already allows the client), then re-run diagnose",
			Why:     "the file allows the client; the running smbd does not read it",
			Steps: []string{
				"ps -o pid,lstart,args -p " + masterPIDText(f),
				"fix the smbd command line (-s) or the service unit so that it names " + orUnknown(f.SmbConfPath) + ", then restart smbd",
			}}
	}
	minV, maxV := globalValue(f, "server min protocol"), globalValue(f, "server max protocol")
	switch cause {
	case causeMinAboveClientMax, causeSMB1OnlyClient:
		need, ok := NeededMin(all, cfg.Max)
		if !ok {
			need, _ = NeededMin(all, "SMB3_11")
		}
		fx := &Fix{Kind: FixConfig, Summary: "set server min protocol = " + need,
			Changes: []Change{configChange(minV, need)},
			Why: fmt.Sprintf("%s is the highest minimum every configured client can negotiate (on pysmb's SMB1 NEGOTIATE smbd clamps the minimum to SMB2_10, %s, so \"SMB2\", which means SMB2_10, is already too high); "+
				"new connections read the change without a reload or restart (%s)", need,
				behaviourRange(f, smbconf.BehaviourSMB1NegotiateClamps), behaviourRange(f, smbconf.BehaviourNewConnectionRereads))}
		if rank(need) <= rank("NT1") {
			fx.EnablesSMB1 = true
			fx.Risk = "enables SMB1 (NT1) for every client: no pre-authentication integrity, downgrade attacks, the protocol family of EternalBlue; limit it with hosts allow for the legacy client and a firewall rule, and plan to retire the client"
		}
		if !ok && maxV.OK && !maxV.Origin.IsDefault() {
			fx.Changes = append(fx.Changes, removeChange(maxV))
		}
		return fx
	case causeMaxBelowClientMin:
		return &Fix{Kind: FixConfig, Summary: "remove server max protocol (the default allows up to SMB3_11)",
			Changes: []Change{removeChange(maxV)},
			Why:     "raising the maximum only adds newer, safer dialects; the default is the newest"}
	case causeMinAboveMax:
		need, _ := NeededMin(all, "SMB3_11")
		return &Fix{Kind: FixConfig, Summary: fmt.Sprintf("set server min protocol = %s and remove server max protocol", need),
			Changes: []Change{configChange(minV, need), removeChange(maxV)},
			Why:     "the minimum is above the maximum, so nothing connects; the clients need " + need + " as minimum and the default maximum"}
	case causeEncryptionReq:
		enc := encryptParam(f)
		return &Fix{Kind: FixConfig, Summary: "set " + enc + " = desired in [global]",
			Changes: []Change{configChange(globalValue(f, enc), "desired")},
			Why:     "desired still encrypts every client that can (SMB3), and lets clients without SMB3 (pysmb) in; keep required only on shares the scoring client never reads",
			Risk:    "clients that cannot encrypt get unencrypted sessions; set " + enc + " = required on the shares that must stay encrypted"}
	case causeClientEncryption:
		if cfg.EncryptOff {
			enc := encryptParam(f)
			return &Fix{Kind: FixConfig, Summary: "set " + enc + " = desired in [global]",
				Changes: []Change{configChange(globalValue(f, enc), "desired")},
				Why:     "desired offers encryption to every SMB3 client (the one that requires it gets it) and still admits clients without SMB3 (pysmb)"}
		}
		fx := &Fix{Kind: FixConfig, Summary: "remove server max protocol (the default allows up to SMB3_11, which can encrypt)",
			Changes: []Change{removeChange(maxV)},
			Why:     "encryption needs SMB3_00 or later; raising the maximum only adds newer dialects and keeps every older client in"}
		if !maxV.OK || maxV.Origin.IsDefault() {
			fx.Changes = nil
			fx.Kind = FixManual
			fx.Summary = "let smbd negotiate SMB3 with this client (check server max protocol), or stop requiring encryption on the client"
		}
		return fx
	case causeNTLMDisabled:
		return &Fix{Kind: FixConfig, Summary: "set ntlm auth = ntlmv2-only (the default)",
			Changes: []Change{configChange(globalValue(f, "ntlm auth"), "ntlmv2-only")},
			Why:     "ntlmv2-only accepts the client's NTLMv2 and still refuses NTLMv1"}
	case causeSigningUnsigned:
		val := "default"
		if isDC(f) {
			val = "if_required" // on a DC "default" means mandatory
		}
		return &Fix{Kind: FixConfig, Summary: "make the client sign when the server requires it (pysmb's default); if it cannot, set server signing = " + val,
			Changes: []Change{configChange(globalValue(f, "server signing"), val)},
			Why:     "SMB2 signing stays available to every client that wants it; only the requirement is dropped",
			Risk:    "clients that do not ask for signing get unsigned sessions (tampering possible); prefer fixing the client"}
	}
	return nil
}

func masterPIDText(f *Facts) string {
	if f.Smbd.Master != nil {
		return fmt.Sprint(f.Smbd.Master.PID)
	}
	return "$(pidof -s smbd)"
}

// signingRiskFinding: signing is mandatory and the client signs only when
// required. pysmb 1.2.3 and later cope; older pysmb fails its signed
// requests against Samba ("Unable to connect to IPC$").
func signingRiskFinding(f *Facts, p configs.ClientProfile, cfg ServerPolicy, fd Finding) Finding {
	fd.Severity = Warning
	fd.Summary = fmt.Sprintf("server signing is mandatory: %s signs when required, which pysmb 1.2.3 and later do correctly; older pysmb fails", p.Name)
	fd.Client = p.Name
	fd.ScoringMessage = ipcMessage
	fd.Explanation = "pysmb's CHANGELOG 1.2.3: \"Fix bug in SMB message signing which leads to operation failures with Samba services\". An engine on an older pysmb sees the IPC$ tree connect fail."
	fd.Evidence = append(fd.Evidence, globalValue(f, "server signing").Evidence())
	val := "default"
	if isDC(f) {
		fd.Explanation = joinSentences(fd.Explanation, "On an AD DC signing is mandatory by default; keep it and upgrade the client")
		val = "if_required"
	}
	fd.Fix = &Fix{Kind: FixConfig, Summary: "only if the scoring engine runs pysmb older than 1.2.3: set server signing = " + val,
		Changes: []Change{configChange(globalValue(f, "server signing"), val)},
		Why:     "the engine's pysmb version is unknown; upgrading it is the better fix",
		Risk:    "clients that do not ask for signing get unsigned sessions"}
	_ = cfg
	return fd
}
