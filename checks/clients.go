package checks

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/smb-agent/smb-agent/checks/probe"
	"github.com/smb-agent/smb-agent/configs"
	"github.com/smb-agent/smb-agent/configs/smbconf"
)

// This file is the client-versus-server logic: which dialect a client and a
// server end up with (modelled on Samba's own selection code), which
// dialects the server accepts in each view (smb.conf, live probes), and the
// requirements beyond the dialect (encryption, signing, NTLM policy) that
// can still refuse a client that negotiated.

// TableDialects are the rows of the dialect table, oldest first: the
// dialects the probes can test and clients negotiate today.
var TableDialects = []string{"NT1", "SMB2_02", "SMB2_10", "SMB3_00", "SMB3_02", "SMB3_11"}

// rank orders canonical dialect names (configs.DialectRank): CORE < ... <
// NT1 < SMB2_02 < ... < SMB3_11; -1 for anything else.
func rank(d string) int { return configs.DialectRank(d) }

// dialectMin and dialectMax return the older/newer of two canonical names.
func dialectMin(a, b string) string {
	if rank(a) <= rank(b) {
		return a
	}
	return b
}

func dialectMax(a, b string) string {
	if rank(a) >= rank(b) {
		return a
	}
	return b
}

// canonicalProtocol reads a protocol parameter value as testparm prints it
// ("SMB2", "SMB3", "SMB3_00", "NT1", "default") into a canonical dialect for
// Samba version v. "SMB2" is SMB2_10 in every 4.x; "SMB3" is SMB3_11 from
// 4.3 and SMB3_00 before (lib/param/param_table.c enum_protocol at each
// release tag). "default" returns ok=false: for the server
// parameters smbd stores -1 and compares dialects against it.
func canonicalProtocol(printed string, v smbconf.SambaVersion) (string, bool) {
	u := strings.ToUpper(strings.Join(strings.Fields(printed), ""))
	if u == "SMB3" && v.Major == 4 && v.Minor < 3 {
		return "SMB3_00", true
	}
	d, err := configs.CanonicalDialect(u)
	if err != nil {
		return "", false
	}
	return d, true
}

// sambaSMB1Protocols is Samba's list of SMB1 NEGOTIATE dialect strings it
// answers, most desired first, with the protocol level each stands for
// (source3/smbd/smb1_negprot.c supported_protocols[] at 4.17; "SMB 2.???"
// is marked PROTOCOL_SMB2_10). Strings not in this list ("PC NETWORK
// PROGRAM 1.0", "MICROSOFT NETWORKS 1.03", "Windows for Workgroups 3.1a",
// "DOS LANMAN2.1") are never chosen.
var sambaSMB1Protocols = []struct{ name, level string }{
	{"SMB 2.???", "SMB2_10"},
	{"SMB 2.002", "SMB2_02"},
	{"NT LANMAN 1.0", "NT1"},
	{"NT LM 0.12", "NT1"},
	{"POSIX 2", "NT1"},
	{"LANMAN2.1", "LANMAN2"},
	{"LM1.2X002", "LANMAN2"},
	{"Samba", "LANMAN2"},
	{"DOS LM1.2X002", "LANMAN2"},
	{"LANMAN1.0", "LANMAN1"},
	{"MICROSOFT NETWORKS 3.0", "LANMAN1"},
}

// Negotiation is the modelled outcome of one client's negotiate against a
// server dialect range.
type Negotiation struct {
	// Dialect is the dialect the two end up with; "" when none.
	Dialect string `json:"dialect,omitempty"`
	// SMB1Path is true when the client opened with an SMB1 multi-protocol
	// NEGOTIATE (pysmb, Windows 7, impacket).
	SMB1Path bool `json:"smb1_path"`
	// Reply is what smbd answers when nothing is chosen: "DialectIndex
	// 0xFFFF" on the SMB1 path, "STATUS_NOT_SUPPORTED" for an SMB2
	// NEGOTIATE; "" on success.
	Reply string `json:"reply,omitempty"`
	// Why explains the selection in one or two sentences.
	Why string `json:"why"`
}

// OK reports whether a dialect was chosen.
func (n Negotiation) OK() bool { return n.Dialect != "" }

// clientSMB2Dialects are the SMB2/3 dialects a client puts in an SMB2
// NEGOTIATE: its range without the SMB1 levels.
func clientSMB2Dialects(p configs.ClientProfile) []string {
	var out []string
	for _, d := range TableDialects[1:] {
		if p.Offers(d) {
			out = append(out, d)
		}
	}
	return out
}

// NegotiateModel is Samba's dialect selection for client p against a server
// that accepts [minD, maxD] (canonical names; maxD "" accepts nothing, as
// "server max protocol = default" stores -1).
//
// A client that opens with an SMB1 NEGOTIATE (p.SMB1Offer) goes through
// reply_negprot (source3/smbd/smb1_negprot.c, 4.17; the same rule in
// smb2_multi_protocol_reply_negprot when SMB1 is off): both min and max are
// clamped to SMB2_10, the server's list is walked most desired first, and
// the first entry within [min, max] that the client offered wins. So with
// "server min protocol = SMB3" the clamped min is SMB2_10 and pysmb's
// "SMB 2.002" (SMB2_02) is not eligible: DialectIndex 0xFFFF. When "SMB
// 2.???" wins, the client follows with an SMB2 NEGOTIATE and the real
// [min, max] apply (smbd_smb2_request_process_negprot picks the highest
// common dialect).
func NegotiateModel(p configs.ClientProfile, minD, maxD string) Negotiation {
	return negotiateModelFor(p, minD, maxD, smbconf.SambaVersion{})
}

// negotiateModelFor is NegotiateModel whose texts name the range of the
// behaviours they state for release (zero: the releases checked).
func negotiateModelFor(p configs.ClientProfile, minD, maxD string, release smbconf.SambaVersion) Negotiation {
	if maxD == "" || rank(minD) < 0 || rank(maxD) < 0 {
		reply := "STATUS_NOT_SUPPORTED"
		if len(p.SMB1Offer) > 0 {
			reply = "DialectIndex 0xFFFF"
		}
		return Negotiation{SMB1Path: len(p.SMB1Offer) > 0, Reply: reply,
			Why: "the server accepts no dialect at all"}
	}
	if rank(minD) > rank(maxD) {
		reply := "STATUS_NOT_SUPPORTED"
		if len(p.SMB1Offer) > 0 {
			reply = "DialectIndex 0xFFFF"
		}
		return Negotiation{SMB1Path: len(p.SMB1Offer) > 0, Reply: reply,
			Why: fmt.Sprintf("server min protocol %s is above server max protocol %s: no dialect is eligible for any client", minD, maxD)}
	}
	if len(p.SMB1Offer) == 0 {
		return negotiateSMB2(p, minD, maxD, false)
	}
	cmin, cmax := dialectMin(minD, "SMB2_10"), dialectMin(maxD, "SMB2_10")
	for _, sp := range sambaSMB1Protocols {
		if rank(sp.level) < rank(cmin) || rank(sp.level) > rank(cmax) {
			continue
		}
		// strequal: ASCII case-insensitive (lib/util/util_str.c).
		if !slices.ContainsFunc(p.SMB1Offer, func(s string) bool { return strings.EqualFold(s, sp.name) }) {
			continue
		}
		switch sp.name {
		case "SMB 2.???":
			n := negotiateSMB2(p, minD, maxD, true)
			if n.OK() {
				n.Why = "smbd answers the SMB1 NEGOTIATE's \"SMB 2.???\" with the SMB2 wildcard; " + n.Why
			}
			return n
		case "SMB 2.002":
			return Negotiation{Dialect: "SMB2_02", SMB1Path: true,
				Why: "smbd chooses \"SMB 2.002\" from the SMB1 NEGOTIATE and answers with an SMB2 reply (dialect 0x0202)"}
		default:
			return Negotiation{Dialect: sp.level, SMB1Path: true,
				Why: fmt.Sprintf("smbd chooses %q (%s) from the SMB1 NEGOTIATE", sp.name, sp.level)}
		}
	}
	var why string
	if rank(minD) > rank("SMB2_10") {
		why = fmt.Sprintf("on the SMB1 NEGOTIATE path smbd clamps server min protocol %s to SMB2_10 (%s); the client offers %s, none of them SMB2_10 or later",
			minD, behaviourFor(smbconf.BehaviourSMB1NegotiateClamps, release), offerText(p.SMB1Offer))
	} else {
		why = fmt.Sprintf("the client offers %s; none is within the server's %s-%s on the SMB1 NEGOTIATE path (where max is clamped to SMB2_10, %s)",
			offerText(p.SMB1Offer), minD, maxD, behaviourFor(smbconf.BehaviourSMB1NegotiateClamps, release))
	}
	return Negotiation{SMB1Path: true, Reply: "DialectIndex 0xFFFF", Why: why + ", so smbd answers DialectIndex 0xFFFF (no protocol) and closes"}
}

func offerText(offer []string) string {
	parts := make([]string, len(offer))
	for i, s := range offer {
		d, _ := configs.SMB1OfferDialect(s)
		parts[i] = fmt.Sprintf("%q (%s)", s, d)
	}
	return strings.Join(parts, ", ")
}

// negotiateSMB2: the highest dialect offered by the client within [minD, maxD]
// (smbd_smb2_request_process_negprot walks its dialects newest first and
// skips those outside the server's min/max).
func negotiateSMB2(p configs.ClientProfile, minD, maxD string, afterWildcard bool) Negotiation {
	offered := clientSMB2Dialects(p)
	for i := len(offered) - 1; i >= 0; i-- {
		d := offered[i]
		if rank(d) >= rank(minD) && rank(d) <= rank(maxD) {
			return Negotiation{Dialect: d, SMB1Path: afterWildcard,
				Why: fmt.Sprintf("the SMB2 NEGOTIATE offers %s; smbd picks the highest within %s-%s: %s", rangeText(offered), minD, maxD, d)}
		}
	}
	if len(offered) == 0 {
		return Negotiation{SMB1Path: afterWildcard, Reply: "connection closed",
			Why: fmt.Sprintf("the client speaks only SMB1 (%s-%s) and sends no SMB1 NEGOTIATE smbd could answer", p.MinDialect, p.MaxDialect)}
	}
	return Negotiation{SMB1Path: afterWildcard, Reply: "STATUS_NOT_SUPPORTED",
		Why: fmt.Sprintf("the SMB2 NEGOTIATE offers %s and the server accepts %s-%s: no common dialect, smbd answers STATUS_NOT_SUPPORTED", rangeText(offered), minD, maxD)}
}

func rangeText(ds []string) string {
	switch len(ds) {
	case 0:
		return "nothing"
	case 1:
		return ds[0]
	}
	return ds[0] + "-" + ds[len(ds)-1]
}

// Blockers: why a client that reached the server still fails.
const (
	BlockNone        = ""
	BlockDialect     = "dialect"           // no common dialect
	BlockEncryption  = "encryption"        // encryption required, client cannot encrypt at that dialect
	BlockClientCrypt = "client-encryption" // the client requires encryption the server cannot give at that dialect
	BlockNTLMBlocked = "ntlm-disabled"     // ntlm auth = disabled
	BlockNTLMv1      = "ntlmv1"            // NTLMv1-only client, server refuses NTLMv1
	BlockSigning     = "signing"           // signing mandatory, client never signs
)

// ServerPolicy is what the server accepts, in one view.
type ServerPolicy struct {
	// View is "config" (smb.conf with the version's defaults) or "live"
	// (what the running smbd answered).
	View string
	// Release is the host's Samba, for the texts that state what smbd
	// does (zero: unknown, the texts name the releases checked).
	Release smbconf.SambaVersion
	// Min and Max are the dialect range; Max "" means nothing is accepted.
	Min, Max string
	// EncryptRequired: [global] server smb encrypt = required.
	EncryptRequired bool
	// EncryptParam is the release's name of that setting (encryptParam);
	// "" means "server smb encrypt".
	EncryptParam string
	// EncryptOff: server smb encrypt = off (testparm prints No): smbd
	// offers encryption at no dialect (no SMB2_GLOBAL_CAP_ENCRYPTION, no
	// cipher in the 3.1.1 context).
	EncryptOff bool
	// SigningMandatory: server signing = mandatory/required.
	SigningMandatory bool
	// NTLMAuth is "ntlm auth" as testparm prints it; "" when unknown.
	NTLMAuth string
	// Kerberos: the server can take Kerberos (AD DC or security = ADS), so
	// a Kerberos-capable client is not stopped by ntlm auth = disabled.
	Kerberos bool
	// Known* say which requirement facts the view actually knows (the live
	// view learns encryption and NTLM only from login probes).
	KnownEncrypt, KnownNTLM, KnownSigning bool
}

// Verdict is the judgement of one client against one view.
type Verdict struct {
	Client      string
	View        string
	Negotiation Negotiation
	OK          bool
	Blocker     string
	// Status is what the server answers at the failing step, as a client
	// sees it.
	Status string
	Why    string
	// SigningRisk: the server requires signing and the client signs only
	// when required (pysmb): works with pysmb >= 1.2.3 (CHANGELOG 1.2.3
	// "Fix bug in SMB message signing ... with Samba services").
	SigningRisk bool
}

// JudgeClient decides whether client p gets a working session from a server
// with policy s: a common dialect first, then encryption, NTLM policy and
// signing, in the order smbd applies them (negotiate, session setup, then
// the signed requests after it).
func JudgeClient(p configs.ClientProfile, s ServerPolicy) Verdict {
	return judgeNegotiated(p, s, negotiateModelFor(p, s.Min, s.Max, s.Release))
}

// judgeNegotiated is JudgeClient for a negotiation already decided (the
// live view takes pysmb's from the probe that sent pysmb's exact offer).
func judgeNegotiated(p configs.ClientProfile, s ServerPolicy, n Negotiation) Verdict {
	v := Verdict{Client: p.Name, View: s.View, Negotiation: n}
	if !v.Negotiation.OK() {
		v.Blocker, v.Status, v.Why = BlockDialect, v.Negotiation.Reply, v.Negotiation.Why
		return v
	}
	d := v.Negotiation.Dialect
	// Encryption: with "server smb encrypt = required" smbd refuses the
	// session setup of a connection that cannot encrypt ("reject session
	// with dialect[0x0202] as encryption is required", level 1,
	// source3/smbd/smb2_sesssetup.c) with ACCESS_DENIED; encryption exists
	// only from SMB 3.0 (MS-SMB2 3.1.4.3).
	if s.KnownEncrypt && s.EncryptRequired && (rank(d) < rank("SMB3_00") || p.Encryption == configs.EncryptionNone) {
		v.Blocker, v.Status = BlockEncryption, "STATUS_ACCESS_DENIED"
		if rank(d) < rank("SMB3_00") {
			v.Why = fmt.Sprintf("encryption is required ([global] %s = required) and the client negotiates %s, which has no encryption (SMB3_00 or later needed): smbd refuses the session setup with ACCESS_DENIED (%s)", s.encryptName(), d, behaviourFor(smbconf.BehaviourEncryptRequiredRefuses, s.Release))
		} else {
			v.Why = fmt.Sprintf("encryption is required ([global] %s = required) and the client cannot encrypt at %s: smbd refuses the session setup with ACCESS_DENIED (%s)", s.encryptName(), d, behaviourFor(smbconf.BehaviourEncryptRequiredRefuses, s.Release))
		}
		return v
	}
	// A client that requires encryption (smbclient with client smb
	// encrypt = required) sets up the session, then refuses to use it
	// unencrypted: "Encryption required and server doesn't support SMB3
	// encryption - failing connect" (source3/libsmb/clidfs.c do_connect,
	// cli_cm_force_encryption_creds). Encryption needs SMB 3.0 or later
	// and a server that offers it.
	if p.Encryption == configs.EncryptionRequired && (rank(d) < rank("SMB3_00") || s.EncryptOff) {
		v.Blocker, v.Status = BlockClientCrypt, "client refuses the unencrypted session"
		if rank(d) < rank("SMB3_00") {
			v.Why = fmt.Sprintf("the client requires encryption and negotiates %s with this server, which has no encryption (SMB3_00 or later needed): it sets up the session, then refuses to use it unencrypted (Samba's smbclient: %s)", d, behaviourFor(smbconf.BehaviourClientEncryptRefusesSMB2, s.Release))
		} else {
			v.Why = fmt.Sprintf("the client requires encryption and the server offers none at %s (%s = off): it sets up the session, then refuses to use it unencrypted", d, s.encryptName())
		}
		return v
	}
	if s.KnownNTLM {
		switch {
		case s.NTLMAuth == "disabled" && !(s.Kerberos && p.Auth == configs.AuthKerberosOrNTLMv2):
			v.Blocker, v.Status = BlockNTLMBlocked, "STATUS_NTLM_BLOCKED"
			v.Why = fmt.Sprintf("ntlm auth = disabled refuses every NTLM(SSP) login with NT_STATUS_NTLM_BLOCKED (%s), and this client can only authenticate with NTLM here", behaviourFor(smbconf.BehaviourNTLMDisabledBlocks, s.Release))
			return v
		case p.Auth == configs.AuthNTLMv1 && s.NTLMAuth != "ntlmv1-permitted" && s.NTLMAuth != "":
			v.Blocker, v.Status = BlockNTLMv1, "STATUS_LOGON_FAILURE"
			v.Why = fmt.Sprintf("the client sends NTLMv1 responses and ntlm auth = %s refuses them (\"NTLMv1 passwords NOT PERMITTED\" in smbd's log at level 2, %s): a logon failure like a wrong password", s.NTLMAuth, behaviourFor(smbconf.BehaviourLogNTLMv1RefusedLevel2, s.Release))
			return v
		}
	}
	if s.KnownSigning && s.SigningMandatory {
		switch p.Signing {
		case configs.SigningNever:
			v.Blocker, v.Status = BlockSigning, "STATUS_ACCESS_DENIED"
			v.Why = fmt.Sprintf("server signing = mandatory and the client never signs: the session is set up, then smbd rejects its unsigned requests (\"Bad SMB2 signature\" at level 0, %s), so the IPC$ tree connect fails", behaviourFor(smbconf.BehaviourLogBadSignatureLevel0, s.Release))
			return v
		case configs.SigningIfRequired:
			v.SigningRisk = true
		}
	}
	v.OK = true
	v.Why = v.Negotiation.Why
	return v
}

// NeededMin is the highest "server min protocol" with which every client
// in ps negotiates against server max maxD: the least permissive value that
// serves them all. It tries the candidates from SMB3_11 down, so pysmb gets
// SMB2_02 (not NT1), a client stopping at SMB2_10 gets SMB2_10, and only an
// SMB1-only client pulls it down to NT1. ok is false when no value works
// (the max is the problem).
func NeededMin(ps []configs.ClientProfile, maxD string) (string, bool) {
	cands := []string{"SMB3_11", "SMB3_02", "SMB3_00", "SMB2_10", "SMB2_02", "NT1", "LANMAN2", "LANMAN1"}
	for _, c := range cands {
		if maxD != "" && rank(c) > rank(maxD) {
			continue
		}
		all := true
		for _, p := range ps {
			if !NegotiateModel(p, c, maxD).OK() {
				all = false
				break
			}
		}
		if all {
			return c, true
		}
	}
	return "", false
}

// NeededMax is the lowest "server max protocol" at or above the current
// one with which every client negotiates against server min minD; ok false
// when none works.
func NeededMax(ps []configs.ClientProfile, minD, current string) (string, bool) {
	for _, c := range TableDialects {
		if current != "" && rank(c) < rank(current) {
			continue
		}
		all := true
		for _, p := range ps {
			if !NegotiateModel(p, minD, c).OK() {
				all = false
				break
			}
		}
		if all {
			return c, true
		}
	}
	return "", false
}

// ---- the views ----

// configValue is one effective smb.conf value with its origin.
type configValue struct {
	Section string
	Param   string // canonical name asked for
	Printed string
	Origin  smbconf.Origin
	OK      bool
}

// Evidence returns config evidence pointing at the line that sets it (or
// "default").
func (v configValue) Evidence() Evidence {
	e := Evidence{Kind: "config", Param: v.Param, Value: v.Printed}
	where := ""
	if v.Section != "" && !strings.EqualFold(v.Section, "global") {
		where = " in [" + v.Section + "]"
	}
	if v.Origin.IsDefault() {
		e.Text = fmt.Sprintf("%s = %s%s (the default: no line sets it)", v.Param, v.Printed, where)
	} else {
		name := v.Origin.Name
		if name == "" {
			name = v.Param
		}
		e.File, e.Line = v.Origin.File, v.Origin.Line
		if strings.EqualFold(name, v.Param) {
			e.Text = fmt.Sprintf("%s = %s%s", v.Param, v.Printed, where)
		} else {
			e.Text = fmt.Sprintf("%s = %s%s (written as %q, a synonym)", v.Param, v.Printed, where, name)
		}
	}
	return e
}

// lookup reads one effective parameter; ok is false without a config or
// when the parameter does not apply in that section.
func lookup(f *Facts, section, param string) configValue {
	cv := configValue{Section: section, Param: param}
	if f == nil || f.Config == nil {
		return cv
	}
	v, ok := f.Config.Lookup(section, param)
	if !ok {
		return cv
	}
	cv.Printed, cv.Origin, cv.OK = v.Printed, v.Origin, true
	return cv
}

// globalValue is lookup in [global].
func globalValue(f *Facts, param string) configValue { return lookup(f, "global", param) }

// boolValue reads a boolean as testparm prints it (Yes/No).
func boolValue(cv configValue) bool { return cv.OK && strings.EqualFold(cv.Printed, "yes") }

// isRequired reads a signing/encryption enum: required, mandatory, force...
// all print as "required" (lib/param/param_table.c enum_smb_signing_vals
// and enum_smb_encryption_vals); "mandatory" is accepted too in case a
// table prints it.
func isRequired(printed string) bool {
	switch strings.ToLower(strings.TrimSpace(printed)) {
	case "required", "mandatory", "force", "forced", "enforced":
		return true
	}
	return false
}

// isOff reads an enum that testparm prints as a boolean when off ("server
// smb encrypt = off" and its synonyms disabled/no print as "No").
func isOff(printed string) bool {
	switch strings.ToLower(strings.TrimSpace(printed)) {
	case "no", "off", "false", "disabled":
		return true
	}
	return false
}

// isDC reports whether smb.conf makes this server an AD DC (or a classic
// DC), where signing defaults to mandatory and Kerberos is served.
func isDC(f *Facts) bool {
	r := strings.ToLower(globalValue(f, "server role").Printed)
	return strings.Contains(r, "domain controller")
}

// encryptName is the name of the server's encryption setting in texts.
func (s ServerPolicy) encryptName() string {
	if s.EncryptParam != "" {
		return s.EncryptParam
	}
	return paramServerSMBEncrypt
}

// ConfigPolicy is the server policy smb.conf gives (with the Samba
// version's defaults); ok is false without a usable config.
func ConfigPolicy(f *Facts) (ServerPolicy, bool) {
	s := ServerPolicy{View: "config", KnownEncrypt: true, KnownNTLM: true, KnownSigning: true, Release: f.SambaVersion}
	minV, maxV := globalValue(f, "server min protocol"), globalValue(f, "server max protocol")
	if !minV.OK || !maxV.OK {
		return s, false
	}
	var ok bool
	if s.Min, ok = canonicalProtocol(minV.Printed, f.SambaVersion); !ok {
		s.Min = "LANMAN1" // "default": smbd compares against -1, i.e. everything
	}
	s.Max, _ = canonicalProtocol(maxV.Printed, f.SambaVersion)
	s.EncryptParam = encryptParam(f)
	s.EncryptRequired = isRequired(globalValue(f, s.EncryptParam).Printed)
	s.EncryptOff = isOff(globalValue(f, s.EncryptParam).Printed)
	sign := globalValue(f, "server signing").Printed
	s.SigningMandatory = isRequired(sign) || (strings.EqualFold(sign, "default") && isDC(f))
	s.NTLMAuth = strings.ToLower(globalValue(f, "ntlm auth").Printed)
	sec := strings.ToLower(globalValue(f, "security").Printed)
	s.Kerberos = isDC(f) || sec == "ads"
	return s, true
}

// LiveAccepted is, per table dialect, whether the running smbd accepted a
// negotiate of it: true/false, nil when the probe could not tell (skipped,
// timed out, not run).
func LiveAccepted(r *probe.Result) map[string]*bool {
	out := map[string]*bool{}
	if r == nil {
		return out
	}
	set := func(d string, s probe.Step, accepted bool) {
		switch s.Class {
		case probe.ClassOK, probe.ClassNoCommonDialect:
			b := accepted && s.Class == probe.ClassOK
			out[d] = &b
		}
	}
	for _, s := range r.SMB1 {
		if s.Offer == probe.OfferNT1 {
			set("NT1", s.Step, s.Accepted && s.Dialect == probe.NT1)
		}
	}
	for _, d := range r.Dialects {
		set(d.Dialect.String(), d.Negotiate.Step, d.Negotiate.Accepted)
	}
	return out
}

// LivePolicy derives the live server policy from the probes: the accepted
// range, and requirements seen in the per-dialect logins (ACCESS_DENIED on
// SMB2 while SMB3 logs in = encryption required; NTLM_BLOCKED = ntlm auth =
// disabled). ok is false when no negotiate result is known.
func LivePolicy(r *probe.Result) (ServerPolicy, bool) {
	s := ServerPolicy{View: "live"}
	acc := LiveAccepted(r)
	if len(acc) == 0 {
		return s, false
	}
	for _, d := range TableDialects {
		if b := acc[d]; b != nil && *b {
			if s.Min == "" {
				s.Min = d
			}
			s.Max = d
		}
	}
	if s.Min == "" {
		s.Min = "SMB3_11" // nothing accepted: an empty range
		s.Max = ""
	}
	if r == nil {
		return s, true
	}
	var smb2Denied, smb3OK bool
	for _, d := range r.Dialects {
		if d.Login == nil {
			continue
		}
		switch {
		case d.Dialect < probe.SMB3_00 && d.Login.Status == probe.StatusAccessDenied:
			smb2Denied = true
		case d.Dialect >= probe.SMB3_00 && d.Login.Class == probe.ClassOK:
			smb3OK = true
		}
		if d.Login.Status == probe.StatusNTLMBlocked {
			s.KnownNTLM, s.NTLMAuth = true, "disabled"
		}
	}
	if smb2Denied && smb3OK {
		s.KnownEncrypt, s.EncryptRequired = true, true
	} else if smb3OK {
		s.KnownEncrypt = true
	}
	if r.Login != nil && r.Login.Status == probe.StatusNTLMBlocked {
		s.KnownNTLM, s.NTLMAuth = true, "disabled"
	}
	if r.NTLMv1 != nil && r.NTLMv1.Class == probe.ClassNTLMPolicy {
		s.KnownNTLM, s.NTLMAuth = true, "ntlmv2-only"
	}
	// Encryption offered at all: SMB3 NEGOTIATE replies that carry neither
	// the capability nor a cipher mean server smb encrypt = off.
	smb3, capable := 0, false
	for _, d := range r.Dialects {
		if d.Dialect >= probe.SMB3_00 && d.Negotiate.Accepted && d.Negotiate.Info != nil {
			smb3++
			capable = capable || d.Negotiate.Info.EncryptionCapable
		}
	}
	s.EncryptOff = smb3 > 0 && !capable
	// Signing: the NEGOTIATE reply's security mode says it directly.
	for _, d := range r.Dialects {
		if d.Negotiate.Info != nil {
			s.KnownSigning, s.SigningMandatory = true, d.Negotiate.Info.SigningRequired
			break
		}
	}
	return s, true
}

// ConfigAccepts is, per table dialect, whether smb.conf lets smbd accept it.
func ConfigAccepts(s ServerPolicy, d string) bool {
	return s.Max != "" && rank(d) >= rank(s.Min) && rank(d) <= rank(s.Max)
}

// ownProbeOffer reports whether a logged offer is one of the agent's own
// SMB1 probes: one of its offers, from a loopback address. Why: with the
// "log level = 1 auth_audit:2 smb2:3" the agent recommends, smbd logs the
// agent's previous runs too; counted as clients, the agent's own NT1 probe
// would ask for SMB1 to be enabled. A remote scorer sending the same offer
// is still counted: it does not come from loopback.
func ownProbeOffer(o ClientOffer) bool {
	a, err := netip.ParseAddr(strings.Trim(o.ClientIP, "[]"))
	if err != nil || !a.Unmap().IsLoopback() {
		return false
	}
	for _, offer := range probe.SMB1Offers {
		if sameOffer(o.Dialects, offer) {
			return true
		}
	}
	return false
}

// ObservedClients turns the client offers read from smbd's logs ("Requested
// protocol [...]", level 3 for class smb2) into client profiles: a client
// range read from the logs counts as evidence. Only failed negotiations
// are used, one profile per distinct (address, offer), at most max.
func ObservedClients(l LogFacts, limit int) ([]configs.ClientProfile, []ClientOffer) {
	var (
		out  []configs.ClientProfile
		src  []ClientOffer
		seen = map[string]bool{}
	)
	for i := len(l.Offers) - 1; i >= 0 && len(out) < limit; i-- { // newest first
		o := l.Offers[i]
		if !o.NoProtocol || len(o.Dialects) == 0 || ownProbeOffer(o) {
			continue
		}
		key := o.ClientIP + "|" + strings.Join(o.Dialects, ",")
		if seen[key] {
			continue
		}
		seen[key] = true
		name := "observed"
		if o.ClientIP != "" {
			name += ":" + o.ClientIP
		}
		p, err := configs.ProfileFromSMB1Offer(name, o.Dialects)
		if err != nil {
			continue
		}
		if errs := p.Validate(); len(errs) > 0 {
			continue
		}
		out = append(out, p)
		src = append(src, o)
	}
	return out, src
}
