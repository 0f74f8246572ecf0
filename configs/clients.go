package configs

import (
	"fmt"
	"slices"
	"strings"
)

// What "mismatch" means depends on the client: a server that pysmb cannot
// reach may be fine for Windows 10 and the other way round. A ClientProfile
// states what one client offers, so that the checks can compare it with
// what smb.conf allows and what smbd actually accepts.

// Dialect names are Samba's (lib/param/param_table.c, enum_protocol), in
// protocol order. "SMB2" and "SMB3" are Samba's aliases: testparm reads
// "SMB2" as SMB2_10 and "SMB3" as SMB3_11 (the enum_protocol entries),
// which is why "server min protocol = SMB2" already breaks pysmb.
var dialectOrder = []string{
	"CORE", "COREPLUS", "LANMAN1", "LANMAN2", "NT1",
	"SMB2_02", "SMB2_10", "SMB3_00", "SMB3_02", "SMB3_11",
}

var dialectAliases = map[string]string{
	"SMB2":  "SMB2_10",
	"SMB3":  "SMB3_11",
	"CORE+": "COREPLUS",
}

// Dialects returns the Samba dialect names in protocol order, oldest first.
func Dialects() []string { return slices.Clone(dialectOrder) }

// CanonicalDialect returns the canonical Samba name of a dialect, accepting
// any case and Samba's aliases SMB2 (=SMB2_10), SMB3 (=SMB3_11) and CORE+.
func CanonicalDialect(name string) (string, error) {
	up := strings.ToUpper(strings.TrimSpace(name))
	if a, ok := dialectAliases[up]; ok {
		return a, nil
	}
	if slices.Contains(dialectOrder, up) {
		return up, nil
	}
	return "", fmt.Errorf("unknown dialect %q (want one of %s)", name, strings.Join(dialectOrder, ", "))
}

// DialectRank orders dialects: a higher rank is a newer protocol. It returns
// -1 for a name that is not canonical.
func DialectRank(canonical string) int {
	return slices.Index(dialectOrder, canonical)
}

// ParseClientDialects parses a --client-dialects value "MIN-MAX" (for
// example "SMB2_02-SMB2_10" or "NT1-NT1"); a single name means MIN=MAX.
// Names are case-insensitive; the result is canonical. MIN above MAX is an
// error, because no client can offer an empty range.
func ParseClientDialects(s string) (minDialect, maxDialect string, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", "", fmt.Errorf("empty dialect range (want MIN-MAX, e.g. SMB2_02-SMB3_11)")
	}
	lo, hi, found := strings.Cut(s, "-")
	if !found {
		hi = lo
	}
	if minDialect, err = CanonicalDialect(lo); err != nil {
		return "", "", fmt.Errorf("dialect range %q: %w", s, err)
	}
	if maxDialect, err = CanonicalDialect(hi); err != nil {
		return "", "", fmt.Errorf("dialect range %q: %w", s, err)
	}
	if DialectRank(minDialect) > DialectRank(maxDialect) {
		return "", "", fmt.Errorf("dialect range %q: %s is newer than %s", s, minDialect, maxDialect)
	}
	return minDialect, maxDialect, nil
}

// The values of ClientProfile.Signing, .Encryption and .Auth.
const (
	SigningNever      = "never"       // never signs, even when the server requires it
	SigningIfRequired = "if-required" // signs only when the server requires it
	SigningDesired    = "desired"     // signs when the server supports it
	SigningRequired   = "required"    // refuses an unsigned session

	EncryptionNone       = "none" // cannot encrypt at all (no SMB3)
	EncryptionIfRequired = "if-required"
	EncryptionDesired    = "desired"
	EncryptionRequired   = "required"

	AuthNTLMv1           = "ntlmv1"             // sends LM/NTLMv1 responses: needs "ntlm auth = ntlmv1-permitted"
	AuthNTLMv2           = "ntlmv2"             // NTLMSSP with NTLMv2 responses only
	AuthKerberosOrNTLMv2 = "kerberos-or-ntlmv2" // SPNEGO: Kerberos in a realm, NTLMv2 otherwise
)

var (
	signingValues    = []string{SigningNever, SigningIfRequired, SigningDesired, SigningRequired}
	encryptionValues = []string{EncryptionNone, EncryptionIfRequired, EncryptionDesired, EncryptionRequired}
	authValues       = []string{AuthNTLMv1, AuthNTLMv2, AuthKerberosOrNTLMv2}
)

// SMB1 NEGOTIATE dialect strings and the Samba dialect each stands for
// (MS-CIFS 2.2.4.52, MS-SMB2 3.3.5.3.1; Samba's table is in
// source3/smbd/smb1_negprot.c, supported_protocols[]). "SMB 2.???" is the
// wildcard: the client follows with a real SMB2 NEGOTIATE and may offer up
// to SMB2_10 on Samba's SMB1 path (source3/smbd/smb2_negprot.c
// smb2_multi_protocol_reply_negprot logs each string as "Requested protocol
// [...]" at smb2:3).
var smb1DialectStrings = map[string]string{
	"PC NETWORK PROGRAM 1.0":      "CORE",
	"MICROSOFT NETWORKS 1.03":     "COREPLUS",
	"MICROSOFT NETWORKS 3.0":      "LANMAN1",
	"LANMAN1.0":                   "LANMAN1",
	"WINDOWS FOR WORKGROUPS 3.1A": "LANMAN1",
	"LM1.2X002":                   "LANMAN2",
	"DOS LM1.2X002":               "LANMAN2",
	"LANMAN2.1":                   "LANMAN2",
	"DOS LANMAN2.1":               "LANMAN2",
	"SAMBA":                       "LANMAN2",
	"NT LANMAN 1.0":               "NT1",
	"NT LM 0.12":                  "NT1",
	"SMB 2.002":                   "SMB2_02",
	"SMB 2.???":                   "SMB2_10",
}

// SMB1OfferDialect maps one SMB1 NEGOTIATE dialect string, as smbd logs it
// at level 3 ("Requested protocol [NT LM 0.12]"), to a Samba dialect name.
func SMB1OfferDialect(s string) (string, bool) {
	d, ok := smb1DialectStrings[strings.ToUpper(strings.TrimSpace(s))]
	return d, ok
}

// ClientProfile is what one SMB client offers. It is the element of the
// `clients:` list in agent.yaml; presets ship with the agent.
type ClientProfile struct {
	// Name identifies the profile for --client and `client:`.
	Name        string `yaml:"name" json:"name"`
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// Preset, in agent.yaml only: start from this preset and override the
	// fields given here.
	Preset string `yaml:"preset,omitempty" json:"preset,omitempty"`
	// MinDialect and MaxDialect are Samba dialect names (NT1, SMB2_02,
	// SMB2_10, SMB3_00, SMB3_02, SMB3_11).
	MinDialect string `yaml:"min_dialect" json:"min_dialect"`
	MaxDialect string `yaml:"max_dialect" json:"max_dialect"`
	// SMB1Offer lists the dialect strings of the SMB1 NEGOTIATE the client
	// opens with, if it opens with one (pysmb: "NT LM 0.12", "SMB 2.002").
	// Empty means the client sends an SMB2 NEGOTIATE straight away.
	SMB1Offer []string `yaml:"smb1_offer,omitempty" json:"smb1_offer,omitempty"`
	// Signing is never|if-required|desired|required.
	Signing string `yaml:"signing" json:"signing"`
	// Encryption is none|if-required|desired|required; none = cannot encrypt.
	Encryption string `yaml:"encryption" json:"encryption"`
	// Auth is ntlmv2|ntlmv1|kerberos-or-ntlmv2.
	Auth string `yaml:"auth" json:"auth"`
	// Sources say where the facts come from: repo:path:line, docs URL.
	Sources []string `yaml:"sources,omitempty" json:"sources,omitempty"`
}

// DefaultClient is the profile used when no client is configured: the seed's
// messages are pysmb's own ("Failed to list shares: Unable to connect to
// IPC$" and its siblings are in pysmb smb/base.py), so the remote check is
// a pysmb client.
const DefaultClient = "pysmb"

// presets are the shipped client profiles. Every fact has a source; where a
// fact could not be checked against code or vendor documentation, the
// description says so.
var presets = []ClientProfile{
	{
		Name: "pysmb",
		Description: "Python pysmb SMBConnection, as used by scoring engines: one SMB1 NEGOTIATE offering " +
			"NT LM 0.12 and SMB 2.002 (never SMB 2.1 or 3.x, so no encryption); NTLMv2 in SPNEGO; " +
			"signs only when the server requires it. Consequence: server min protocol above SMB2_02 " +
			"(including SMB2, which Samba reads as SMB2_10) breaks it.",
		MinDialect: "NT1", MaxDialect: "SMB2_02",
		SMB1Offer: []string{"NT LM 0.12", "SMB 2.002"},
		Signing:   SigningIfRequired, Encryption: EncryptionNone, Auth: AuthNTLMv2,
		Sources: []string{
			"miketeo/pysmb@fd3ac28:python3/smb/smb_structs.py:14-22,281-299 (DIALECTS, SUPPORT_SMB2)",
			"miketeo/pysmb@fd3ac28:python3/smb/base.py:119-131 (SMB1 NEGOTIATE first, switch to SMB2 on \\xFESMB)",
			"miketeo/pysmb@fd3ac28:python3/smb/SMBConnection.py:21 (use_ntlm_v2=True, sign_options=SIGN_WHEN_REQUIRED)",
			"miketeo/pysmb CHANGELOG 1.1.27: SMB 2.1 dialect removed",
			"miketeo/pysmb issues #95, #211: server min protocol = SMB2 (SMB2_10) refuses pysmb; SMB2_02 lets it in",
		},
	},
	{
		Name: "impacket",
		Description: "impacket SMBConnection with default arguments: SMB1 NEGOTIATE offering NT LM 0.12, " +
			"SMB 2.002 and SMB 2.???, then an SMB2 NEGOTIATE for 2.0.2, 2.1 and 3.0 (3.1.1 only when asked " +
			"for explicitly); NTLMv2; signs when the server requires it; SMB 3.0 encryption when the server asks.",
		MinDialect: "NT1", MaxDialect: "SMB3_00",
		SMB1Offer: []string{"NT LM 0.12", "SMB 2.002", "SMB 2.???"},
		Signing:   SigningIfRequired, Encryption: EncryptionIfRequired, Auth: AuthNTLMv2,
		Sources: []string{
			"fortra/impacket:impacket/smbconnection.py negotiateSession (negoData '\\x02NT LM 0.12\\x00\\x02SMB 2.002\\x00\\x02SMB 2.???\\x00')",
			"fortra/impacket:impacket/smb3.py negotiateSession (Dialects = [SMB2_DIALECT_002, SMB2_DIALECT_21, SMB2_DIALECT_30]; SecurityMode SIGNING_ENABLED; Capabilities ENCRYPTION)",
			"fortra/impacket:impacket/ntlm.py (USE_NTLMv2 = True)",
			"samba-team/samba:source3/smbd/smb2_negprot.c smb2_multi_protocol_reply_negprot (smbd logs impacket's [SMB 2.???] offer at smb2:3)",
		},
	},
	{
		Name: "smbclient",
		Description: "smbclient of Samba 4.17 with default smb.conf: SMB2 NEGOTIATE straight away " +
			"(client min protocol SMB2_02, client max protocol default = SMB3_11); client signing default = " +
			"sign if the server requires it; client smb encrypt default = if_required; Kerberos when " +
			"available (client use kerberos = desired), else NTLMv2 (client NTLMv2 auth = yes).",
		MinDialect: "SMB2_02", MaxDialect: "SMB3_11",
		Signing: SigningIfRequired, Encryption: EncryptionIfRequired, Auth: AuthKerberosOrNTLMv2,
		Sources: []string{
			"testparm 4.17.12 -s /dev/null: client min protocol = SMB2_02, client max protocol = default, client signing = default, client smb encrypt = default, client NTLMv2 auth = Yes, client use kerberos = desired",
			"samba-team/samba:libcli/smb/smbXcli_base.c smbXcli_conn_create (SMB_SIGNING_DEFAULT: \"if the server requires it\")",
			"samba-team/samba:docs-xml/smbdotconf/security/clientsmbencrypt.xml (default is the implicit if_required)",
			"samba-team/samba:docs-xml/smbdotconf/protocol/clientmaxprotocol.xml (default refers to SMB3_11)",
		},
	},
	{
		Name: "windows-xp",
		Description: "Windows XP SP3: SMB1 only (NT LM 0.12 and older LANMAN strings, no SMB2); " +
			"LmCompatibilityLevel 0 by default, i.e. LM and NTLMv1 responses, which Samba refuses since 4.5 " +
			"unless ntlm auth = ntlmv1-permitted; signs when the server agrees. The offered strings are from " +
			"packet captures, not re-verified here.",
		MinDialect: "NT1", MaxDialect: "NT1",
		SMB1Offer: []string{"PC NETWORK PROGRAM 1.0", "LANMAN1.0", "Windows for Workgroups 3.1a",
			"LM1.2X002", "LANMAN2.1", "NT LM 0.12"},
		Signing: SigningDesired, Encryption: EncryptionNone, Auth: AuthNTLMv1,
		Sources: []string{
			"https://learn.microsoft.com/windows/security/threat-protection/security-policy-settings/network-security-lan-manager-authentication-level (LmCompatibilityLevel defaults: XP 0 = Send LM & NTLM responses)",
			"https://learn.microsoft.com/troubleshoot/windows-server/networking/overview-server-message-block-signing (client 'sign if server agrees' enabled by default)",
			"samba-team/samba:WHATSNEW.txt@samba-4.5.0 (NTLMv1 authentication disabled by default)",
			"MS-SMB 1.7 Versioning and Capability Negotiation (Windows XP: SMB1, NT LM 0.12 with the MS-SMB extensions)",
		},
	},
	{
		Name: "windows-7",
		Description: "Windows 7: SMB1 NEGOTIATE offering the SMB1 strings plus SMB 2.002 and SMB 2.???, " +
			"then SMB 2.1 at most (no SMB3, so no encryption); LmCompatibilityLevel 3 = NTLMv2 only " +
			"(Kerberos in a domain); SMB2 signing only when the server requires it.",
		MinDialect: "NT1", MaxDialect: "SMB2_10",
		SMB1Offer: []string{"PC NETWORK PROGRAM 1.0", "LANMAN1.0", "Windows for Workgroups 3.1a",
			"LM1.2X002", "LANMAN2.1", "NT LM 0.12", "SMB 2.002", "SMB 2.???"},
		Signing: SigningIfRequired, Encryption: EncryptionNone, Auth: AuthKerberosOrNTLMv2,
		Sources: []string{
			"https://learn.microsoft.com/windows-server/storage/file-server/file-server-smb-overview (SMB 2.1 with Windows 7)",
			"https://learn.microsoft.com/windows/security/threat-protection/security-policy-settings/network-security-lan-manager-authentication-level (Vista/7 default: Send NTLMv2 response only)",
			"MS-SMB2 3.2.4.2.2.1 (multi-protocol negotiate with \"SMB 2.???\")",
			"MS-SMB2 Appendix A: Product Behavior (Windows 7 and Windows Server 2008 R2: SMB 2.0.2 and 2.1)",
		},
	},
	{
		Name: "windows-10",
		Description: "Windows 10 1709 and later, fresh install: SMB1 client not installed, so SMB 2.0.2 to " +
			"3.1.1 only; Kerberos or NTLMv2; signs only when the server requires it; encrypts when the " +
			"server or share requires it. Whether the first packet is still an SMB1 multi-protocol " +
			"NEGOTIATE without the SMB1 client is not verified; the profile assumes a direct SMB2 NEGOTIATE.",
		MinDialect: "SMB2_02", MaxDialect: "SMB3_11",
		Signing: SigningIfRequired, Encryption: EncryptionIfRequired, Auth: AuthKerberosOrNTLMv2,
		Sources: []string{
			"https://learn.microsoft.com/windows-server/storage/file-server/troubleshoot/smbv1-not-installed-by-default-in-windows (SMBv1 not installed by default since 1709)",
			"https://techcommunity.microsoft.com/blog/filecab/smb-signing-required-by-default-in-windows-insider/3831704 (before 24H2, signing required only for SYSVOL/NETLOGON)",
			"MS-SMB2 Appendix A: Product Behavior (Windows 10: SMB 2.0.2 to 3.1.1)",
		},
	},
	{
		Name: "windows-11",
		Description: "Windows 11 24H2: SMB 2.0.2 to 3.1.1, SMB1 not installed; signing REQUIRED by default " +
			"for all outbound connections (a server with signing disabled is refused); Kerberos or NTLMv2; " +
			"Pro/Enterprise also refuse insecure guest logons. Windows 11 before 24H2 behaves like windows-10.",
		MinDialect: "SMB2_02", MaxDialect: "SMB3_11",
		Signing: SigningRequired, Encryption: EncryptionIfRequired, Auth: AuthKerberosOrNTLMv2,
		Sources: []string{
			"Microsoft Tech Community, filecab blog, Ned Pyle: \"SMB security hardening in Windows Server 2025 & Windows 11\" (2024): \"We now require signing by default for all Windows 11 24H2 SMB outbound and inbound connections\"",
			"https://techcommunity.microsoft.com/blog/filecab/smb-signing-required-by-default-in-windows-insider/3831704",
		},
	},
	{
		Name: "macos",
		Description: "macOS smbfs with a default /etc/nsmb.conf: protocol_vers_map = 7 (SMB1, SMB2 and SMB3 " +
			"enabled, SMB 3.1.1 at most), signing_required = no (signs when the server requires it), " +
			"minauth = NTLMv2 (Kerberos when available). The SMB1 NEGOTIATE strings of current macOS were " +
			"not verified, so the profile lists none.",
		MinDialect: "NT1", MaxDialect: "SMB3_11",
		Signing: SigningIfRequired, Encryption: EncryptionIfRequired, Auth: AuthKerberosOrNTLMv2,
		Sources: []string{
			"nsmb.conf(5), macOS 15 SDK (protocol_vers_map default 7, signing_required default no, minauth default NTLMv2)",
			"Apple support article \"Turn off packet signing for SMB 2 and SMB 3 connections\" (signing off by default since macOS 10.13.4; not re-verified here)",
		},
	},
}

// Tested and modelled presets. The conformance suite (test/conformance,
// `make conformance`) runs impacket and smbclient themselves against real
// smbd instances and checks the agent's verdict for these presets against
// what the client did. The other presets cannot be run on a Linux host, so
// their verdicts are modelled: built from the protocol documents and the
// vendor's published defaults cited in their Sources, and kept equal,
// property by property, to a tested client configuration
// (test/conformance/presets_test.go).
var modelled = map[string]string{
	"pysmb": "modelled from pysmb's source; the agent's own probe replays its exact SMB1 NEGOTIATE, and the " +
		"tested smbclient configuration limited to SMB2_02 stands for its dialect range, but the pysmb library itself is not run",
	"windows-xp": "modelled from MS-SMB (SMB1 only: NT LM 0.12, MS-SMB 1.7) and Microsoft's published " +
		"LmCompatibilityLevel and signing defaults; not tested against the real client",
	"windows-7": "modelled from MS-SMB2 (SMB 2.1 is Windows 7's highest dialect, MS-SMB2 Appendix A <1>; " +
		"multi-protocol negotiate MS-SMB2 3.2.4.2.2.1) and Microsoft's published defaults; not tested against the real client",
	"windows-10": "modelled from MS-SMB2 (2.0.2 to 3.1.1, MS-SMB2 Appendix A) and Microsoft's published " +
		"defaults (SMB1 not installed since 1709); not tested against the real client",
	"windows-11": "modelled from MS-SMB2 and Microsoft's published defaults (signing required for every " +
		"outbound connection since 24H2); not tested against the real client",
	"macos": "modelled from nsmb.conf(5) defaults of macOS; not tested against the real client",
}

// Modelled reports whether a preset's verdicts are modelled rather than
// tested against the real client, and why.
func Modelled(name string) (string, bool) {
	why, ok := modelled[strings.ToLower(strings.TrimSpace(name))]
	return why, ok
}

// Presets returns copies of the shipped client profiles, pysmb first.
func Presets() []ClientProfile {
	out := make([]ClientProfile, len(presets))
	for i, p := range presets {
		out[i] = p.clone()
	}
	return out
}

// PresetNames returns the names of the shipped profiles, pysmb first.
func PresetNames() []string {
	names := make([]string, len(presets))
	for i, p := range presets {
		names[i] = p.Name
	}
	return names
}

// Preset returns a copy of the shipped profile with that name
// (case-insensitive).
func Preset(name string) (ClientProfile, bool) {
	for _, p := range presets {
		if strings.EqualFold(p.Name, strings.TrimSpace(name)) {
			return p.clone(), true
		}
	}
	return ClientProfile{}, false
}

func (p ClientProfile) clone() ClientProfile {
	p.SMB1Offer = slices.Clone(p.SMB1Offer)
	p.Sources = slices.Clone(p.Sources)
	return p
}

// Offers reports whether the client can negotiate the given canonical
// dialect, i.e. whether it lies in [MinDialect, MaxDialect].
func (p ClientProfile) Offers(dialect string) bool {
	r := DialectRank(dialect)
	return r >= 0 && r >= DialectRank(p.MinDialect) && r <= DialectRank(p.MaxDialect)
}

// Validate checks a profile and canonicalises its values in place (dialect
// names upper-case, enum values lower-case). Problems are reported as
// "field: problem".
func (p *ClientProfile) Validate() []error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fieldError{field: field, problem: fmt.Sprintf(format, args...)})
	}
	if strings.TrimSpace(p.Name) == "" {
		add("name", "must not be empty")
	}
	okMin, okMax := false, false
	if d, err := CanonicalDialect(p.MinDialect); err != nil {
		add("min_dialect", "%v", err)
	} else {
		p.MinDialect, okMin = d, true
	}
	if d, err := CanonicalDialect(p.MaxDialect); err != nil {
		add("max_dialect", "%v", err)
	} else {
		p.MaxDialect, okMax = d, true
	}
	if okMin && okMax && DialectRank(p.MinDialect) > DialectRank(p.MaxDialect) {
		add("min_dialect", "%s is newer than max_dialect %s", p.MinDialect, p.MaxDialect)
	}
	for _, s := range p.SMB1Offer {
		d, ok := SMB1OfferDialect(s)
		if !ok {
			add("smb1_offer", "unknown SMB1 dialect string %q", s)
			continue
		}
		if okMax && DialectRank(d) > DialectRank(p.MaxDialect) {
			add("smb1_offer", "%q offers %s, above max_dialect %s", s, d, p.MaxDialect)
		}
	}
	if len(p.SMB1Offer) == 0 {
		p.SMB1Offer = nil // "smb1_offer: []" and no smb1_offer mean the same
	}
	if len(p.Sources) == 0 {
		p.Sources = nil
	}
	p.Signing = canonicalEnum(p.Signing)
	if !slices.Contains(signingValues, p.Signing) {
		add("signing", "invalid value %q (want %s)", p.Signing, strings.Join(signingValues, "|"))
	}
	p.Encryption = canonicalEnum(p.Encryption)
	if !slices.Contains(encryptionValues, p.Encryption) {
		add("encryption", "invalid value %q (want %s)", p.Encryption, strings.Join(encryptionValues, "|"))
	} else if p.Encryption != EncryptionNone && okMax && DialectRank(p.MaxDialect) < DialectRank("SMB3_00") {
		// SMB encryption exists only from SMB 3.0 (MS-SMB2 3.1.4.3); a
		// client stuck below it cannot encrypt, whatever it wants.
		if p.Encryption == EncryptionRequired {
			add("encryption", "required, but max_dialect %s has no encryption (SMB3_00 or later needed)", p.MaxDialect)
		} else {
			p.Encryption = EncryptionNone
		}
	}
	p.Auth = canonicalEnum(p.Auth)
	if !slices.Contains(authValues, p.Auth) {
		add("auth", "invalid value %q (want %s)", p.Auth, strings.Join(authValues, "|"))
	}
	return errs
}

// canonicalEnum lower-cases and accepts "_" for "-" (if_required is how
// smb.conf spells it).
func canonicalEnum(s string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "_", "-")
}

// fieldError is a problem with one field of a structured value.
type fieldError struct{ field, problem string }

func (e fieldError) Error() string { return e.field + ": " + e.problem }

// customDialectProfile is what --client-dialects alone describes: a client
// offering exactly that range and otherwise as undemanding as pysmb (NTLMv2,
// signing only when required, encryption when it can).
func customDialectProfile(minDialect, maxDialect string) ClientProfile {
	p := ClientProfile{
		Name:        "dialects:" + minDialect + "-" + maxDialect,
		Description: "a client offering " + minDialect + " to " + maxDialect + " (from --client-dialects)",
		MinDialect:  minDialect, MaxDialect: maxDialect,
		Signing: SigningIfRequired, Encryption: EncryptionIfRequired, Auth: AuthNTLMv2,
		Sources: []string{"--client-dialects"},
	}
	if DialectRank(maxDialect) < DialectRank("SMB3_00") {
		p.Encryption = EncryptionNone
	}
	// A range that starts in SMB1 can only be offered by an SMB1 NEGOTIATE;
	// it carries SMB 2.002 / SMB 2.??? when the range reaches into SMB2,
	// as Windows 7 does.
	if DialectRank(minDialect) <= DialectRank("NT1") {
		p.SMB1Offer = []string{"NT LM 0.12"}
		if DialectRank(maxDialect) >= DialectRank("SMB2_02") {
			p.SMB1Offer = append(p.SMB1Offer, "SMB 2.002")
		}
		if DialectRank(maxDialect) >= DialectRank("SMB2_10") {
			p.SMB1Offer = append(p.SMB1Offer, "SMB 2.???")
		}
	}
	return p
}

// narrow restricts a profile to [minDialect, maxDialect] for one run and
// drops SMB1 offer strings outside the new range.
func (p ClientProfile) narrow(minDialect, maxDialect string) ClientProfile {
	p = p.clone()
	p.Name = p.Name + ":" + minDialect + "-" + maxDialect
	p.MinDialect, p.MaxDialect = minDialect, maxDialect
	var offer []string
	for _, s := range p.SMB1Offer {
		d, _ := SMB1OfferDialect(s)
		if r := DialectRank(d); r >= DialectRank(minDialect) && r <= DialectRank(maxDialect) {
			offer = append(offer, s)
		}
	}
	if DialectRank(minDialect) > DialectRank("SMB2_10") {
		offer = nil // SMB3 only: an SMB1 NEGOTIATE cannot reach it
	}
	p.SMB1Offer = offer
	if p.Encryption != EncryptionNone && DialectRank(maxDialect) < DialectRank("SMB3_00") {
		p.Encryption = EncryptionNone
	}
	return p
}

// ProfileFromSMB1Offer builds a profile from the dialect strings a client
// offered in an SMB1 NEGOTIATE, as smbd logs them at level 3 ("Requested
// protocol [...]"): a client range read from the logs counts as evidence.
// Signing, encryption and authentication cannot be read from that line;
// the profile assumes the undemanding values (if-required, ntlmv2).
func ProfileFromSMB1Offer(name string, offer []string) (ClientProfile, error) {
	lo, hi := -1, -1
	var unknown []string
	for _, s := range offer {
		d, ok := SMB1OfferDialect(s)
		if !ok {
			unknown = append(unknown, s)
			continue
		}
		r := DialectRank(d)
		if lo < 0 || r < lo {
			lo = r
		}
		if r > hi {
			hi = r
		}
	}
	if lo < 0 {
		return ClientProfile{}, fmt.Errorf("no known SMB1 dialect string in %q", offer)
	}
	p := ClientProfile{
		Name: name,
		Description: "client offer read from smbd's log: " + strings.Join(offer, ", ") +
			" (\"SMB 2.???\" means SMB2_10 or later: the SMB2 NEGOTIATE that follows is not logged)",
		MinDialect: dialectOrder[lo], MaxDialect: dialectOrder[hi],
		SMB1Offer: slices.Clone(offer),
		Signing:   SigningIfRequired, Encryption: EncryptionNone, Auth: AuthNTLMv2,
		Sources: []string{"smbd log level 3: Requested protocol [...]"},
	}
	if len(unknown) > 0 {
		p.Description += " (unknown strings ignored: " + strings.Join(unknown, ", ") + ")"
	}
	return p, nil
}
