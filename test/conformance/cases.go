package conformance

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/smb-agent/smb-agent/configs/smbconf"
	"github.com/smb-agent/smb-agent/test/harness"
)

// Case is one server configuration (or server state) every client is run
// against.
type Case struct {
	Name string
	// Why says what the case stands for.
	Why string
	// Global are extra [global] lines; "%INC%" is replaced by the
	// directory of Includes. A line may hold several lines (a later
	// section, a continuation).
	Global []string
	// Data are extra lines of the scored share [data].
	Data []string
	// Sections are further share sections ([IPC$], ...).
	Sections []harness.Share
	// Includes are files (name → content) the config includes.
	Includes map[string]string
	// After changes the server once it runs (stop, freeze, change the
	// file, disable the account).
	After func(s *harness.Smbd, t *Target) error
	// WrongPassword: clients and agent use a password that is not the
	// account's.
	WrongPassword bool
	// Clients, when set, restricts the case to these client names (a
	// frozen smbd costs a full timeout per client).
	Clients []string
	// Subset: part of the short run in `make test`.
	Subset bool
	// Behaviour names the Samba behaviour (configs/smbconf/behaviours.go)
	// the case rests on. On a release it does not hold for, Before gives
	// the case as that release spells it; a case without Before is not
	// applicable there, and the suite says so with the behaviour's range.
	Behaviour string
	Before    func(Case) Case
}

// ForRelease is the case as release v runs it, or why it cannot exist on
// v (na non-empty).
func (c Case) ForRelease(v smbconf.SambaVersion) (rc Case, na string) {
	if c.Behaviour == "" {
		return c, ""
	}
	b, ok := smbconf.LookupBehaviour(c.Behaviour)
	if !ok {
		return c, fmt.Sprintf("unknown behaviour %q", c.Behaviour)
	}
	if b.Holds(v) {
		return c, ""
	}
	if c.Before == nil {
		return c, fmt.Sprintf("%s: %s (%s)", b.ID, b.Claim, b.Range())
	}
	rc = c.Before(c)
	rc.Behaviour, rc.Before = "", nil
	return rc, ""
}

// oldEncryptName spells the case with "smb encrypt", the name of the
// encryption parameter before "server smb encrypt" (behaviour
// server-smb-encrypt).
func oldEncryptName(c Case) Case {
	re := func(ls []string) []string {
		var out []string
		for _, l := range ls {
			out = append(out, strings.ReplaceAll(l, "server smb encrypt", "smb encrypt"))
		}
		return out
	}
	c.Global, c.Data = re(c.Global), re(c.Data)
	c.Why += " (spelled smb encrypt on this release)"
	return c
}

// newEncryptName marks a case that uses "server smb encrypt".
func newEncryptName(c Case) Case {
	c.Behaviour, c.Before = smbconf.BehaviourServerSMBEncrypt, oldEncryptName
	return c
}

// Runs reports whether the case runs client c.
func (c Case) Runs(client string) bool {
	if len(c.Clients) == 0 {
		return true
	}
	for _, n := range c.Clients {
		if n == client {
			return true
		}
	}
	return false
}

// Config is the harness configuration of the case, with include files
// under incDir.
func (c Case) Config(incDir string, u harness.User) (harness.Config, error) {
	for name, content := range c.Includes {
		if err := os.WriteFile(filepath.Join(incDir, name), []byte(content), 0o644); err != nil {
			return harness.Config{}, fmt.Errorf("write include %s: %w", name, err)
		}
	}
	cfg := harness.Config{Users: []harness.User{u}, StartTimeout: 20 * time.Second}
	for _, g := range c.Global {
		cfg.Global = append(cfg.Global, strings.ReplaceAll(g, "%INC%", incDir))
	}
	cfg.Shares = append([]harness.Share{{Name: "data", Lines: c.Data}}, c.Sections...)
	return cfg, nil
}

func minProto(v string) Case {
	return Case{Name: "min-" + strings.ToLower(v),
		Why:    "server min protocol = " + v + " (a value lib/param/param_table.c enum_protocol accepts)",
		Global: []string{"server min protocol = " + v}}
}

func maxProto(v string) Case {
	return Case{Name: "max-" + strings.ToLower(v),
		Why:    "server max protocol = " + v,
		Global: []string{"server max protocol = " + v}}
}

func subset(c Case) Case { c.Subset = true; return c }

// Cases are the server cases, at least 40.
func Cases() []Case {
	cs := []Case{
		subset(Case{Name: "default", Why: "Samba's defaults"}),
	}
	// Every dialect name and synonym enum_protocol accepts at 4.17
	// (SMB2_22, SMB2_24 and SMB3_10 make testparm fail: not cases here).
	for _, v := range []string{"CORE", "COREPLUS", "CORE+", "LANMAN1", "LANMAN2", "NT1", "SMB2",
		"SMB2_02", "SMB2_10", "SMB3", "SMB3_00", "SMB3_02", "SMB3_11", "default"} {
		c := minProto(v)
		c.Subset = v == "SMB2" || v == "SMB3"
		cs = append(cs, c)
	}
	for _, v := range []string{"NT1", "SMB2_02", "SMB2", "SMB3_00", "SMB3_02"} {
		c := maxProto(v)
		if v == "NT1" {
			c.Global = append(c.Global, "server min protocol = NT1")
		}
		cs = append(cs, c)
	}
	cs = append(cs,
		Case{Name: "min-smb3-lowercase", Why: "enum values are case-insensitive", Global: []string{"server min protocol = smb3"}},
		Case{Name: "min-protocol-synonym", Why: "\"min protocol\" is a synonym of server min protocol", Global: []string{"min protocol = SMB3"}},
		Case{Name: "max-protocol-synonym", Why: "\"max protocol\" is a synonym of server max protocol", Global: []string{"max protocol = SMB2_02"}},
		Case{Name: "protocol-synonym", Why: "\"protocol\" is a synonym of server max protocol", Global: []string{"protocol = SMB2_02"}},
		Case{Name: "min-continuation", Why: "a value continued on the next line with a backslash",
			Global: []string{"server min protocol = \\\n      SMB3"}},
		subset(Case{Name: "min-in-include", Why: "the value comes from an included file",
			Global:   []string{"include = %INC%/protocol.conf"},
			Includes: map[string]string{"protocol.conf": "server min protocol = SMB3\n"}}),
		Case{Name: "min-in-share-section", Why: "a global-only parameter in a share section is ignored by Samba",
			Data: []string{"server min protocol = SMB3"}},
		Case{Name: "later-global-overrides", Why: "a second [global] after the shares overrides the first",
			Global:   []string{"server min protocol = SMB2_02"},
			Sections: []harness.Share{{Name: "other", Lines: []string{"comment = other\n\n[global]\n   server min protocol = SMB3"}}}},
		Case{Name: "later-global-relaxes", Why: "a second [global] relaxes what the first set",
			Global:   []string{"server min protocol = SMB3"},
			Sections: []harness.Share{{Name: "other", Lines: []string{"comment = other\n\n[global]\n   server min protocol = SMB2_02"}}}},
		Case{Name: "min-above-max", Why: "min above max: no dialect at all",
			Global: []string{"server min protocol = SMB3", "server max protocol = SMB2_10"}},

		// Encryption.
		subset(newEncryptName(Case{Name: "encrypt-required", Why: "server smb encrypt = required ([global])", Global: []string{"server smb encrypt = required"}})),
		Case{Name: "encrypt-required-old-name", Why: "smb encrypt = mandatory, the old name and value (synonym of server smb encrypt where that exists)", Global: []string{"smb encrypt = mandatory"}},
		newEncryptName(Case{Name: "encrypt-required-share", Why: "encryption required on the scored share only", Data: []string{"server smb encrypt = required"}}),
		Case{Name: "encrypt-required-share-old-name", Why: "smb encrypt = required on the share, old name", Data: []string{"smb encrypt = required"}},
		newEncryptName(Case{Name: "encrypt-desired", Why: "server smb encrypt = desired", Global: []string{"server smb encrypt = desired"}}),
		newEncryptName(Case{Name: "encrypt-off", Why: "server smb encrypt = off: a client that requires encryption cannot have it", Global: []string{"server smb encrypt = off"}}),

		// Signing.
		Case{Name: "signing-mandatory", Why: "server signing = mandatory", Global: []string{"server signing = mandatory"}},
		Case{Name: "signing-disabled", Why: "server signing = disabled", Global: []string{"server signing = disabled"}},

		// NTLM.
		subset(Case{Name: "ntlm-disabled", Why: "ntlm auth = disabled", Global: []string{"ntlm auth = disabled"}}),
		Case{Name: "ntlm-ntlmv1-permitted", Why: "ntlm auth = ntlmv1-permitted", Global: []string{"ntlm auth = ntlmv1-permitted"}},
		Case{Name: "ntlm-yes", Why: "ntlm auth = yes (the old spelling of ntlmv1-permitted)", Global: []string{"ntlm auth = yes"}},
		Case{Name: "ntlm-mschapv2", Why: "ntlm auth = mschapv2-and-ntlmv2-only", Global: []string{"ntlm auth = mschapv2-and-ntlmv2-only"}},

		// Anonymous.
		Case{Name: "restrict-anonymous-2", Why: "restrict anonymous = 2", Global: []string{"restrict anonymous = 2"}},
		Case{Name: "restrict-anonymous-1", Why: "restrict anonymous = 1", Global: []string{"restrict anonymous = 1"}},

		// Host access: on loopback smbd allows 127.0.0.1 unless a deny list
		// names it and no allow list does (source3/lib/access.c
		// allow_access_internal).
		Case{Name: "hosts-allow-other", Why: "hosts allow names another host only", Global: []string{"hosts allow = 10.9.9.9"}},
		subset(Case{Name: "hosts-deny-all", Why: "hosts deny = ALL with no allow list", Global: []string{"hosts deny = ALL"}}),
		Case{Name: "hosts-deny-all-allow-lo", Why: "hosts deny = ALL, hosts allow = 127.0.0.1", Global: []string{"hosts deny = ALL", "hosts allow = 127.0.0.1"}},
		Case{Name: "ipc-hosts-deny-all", Why: "[IPC$] hosts deny = ALL",
			Sections: []harness.Share{{Name: "IPC$", Path: "/tmp", Lines: []string{"hosts deny = ALL"}}}},
		Case{Name: "ipc-hosts-allow-other", Why: "[IPC$] hosts allow names another host only",
			Sections: []harness.Share{{Name: "IPC$", Path: "/tmp", Lines: []string{"hosts allow = 10.9.9.9"}}}},

		// Users and the RPC server.
		Case{Name: "valid-users-other", Why: "the scored share admits another user only", Data: []string{"valid users = nobody"}},
		Case{Name: "valid-users-self", Why: "the scored share admits the user", Data: []string{"valid users = root"}},
		subset(Case{Name: "nt-pipe-support-no", Why: "nt pipe support = no", Global: []string{"nt pipe support = no"}}),
		Case{Name: "rpc-on-demand-off", Why: "rpc start on demand helpers = no, no samba-dcerpcd running", Global: []string{"rpc start on demand helpers = no"},
			Behaviour: smbconf.BehaviourRPCStartOnDemand},
		Case{Name: "max-smbd-processes-1", Why: "max smbd processes = 1", Global: []string{"max smbd processes = 1"}},

		// Server state.
		subset(Case{Name: "smbd-stopped", Why: "smbd is not running",
			After: func(s *harness.Smbd, _ *Target) error { return s.Stop() }}),
		Case{Name: "smbd-frozen", Why: "smbd is SIGSTOPped: the kernel accepts, nobody answers",
			Clients: []string{"impacket", "smbclient", "go-smb2"},
			After:   func(s *harness.Smbd, _ *Target) error { return s.Signal(syscall.SIGSTOP) }},
		subset(Case{Name: "wrong-password", Why: "the password is wrong", WrongPassword: true}),
		Case{Name: "account-disabled", Why: "smbpasswd -d",
			After: func(s *harness.Smbd, t *Target) error { return s.DisableUser(t.User) }},
		subset(Case{Name: "file-missing", Why: "the scored file is gone",
			After: func(s *harness.Smbd, t *Target) error {
				return os.Remove(filepath.Join(s.SharePath("data"), t.File))
			}}),
		Case{Name: "file-changed", Why: "the scored file's content changed",
			After: func(s *harness.Smbd, t *Target) error {
				return os.WriteFile(filepath.Join(s.SharePath("data"), t.File), []byte("defaced\n"), 0o644)
			}},
		Case{Name: "share-missing", Why: "the scored share is not defined",
			After: func(s *harness.Smbd, t *Target) error { t.Share = "gone"; return nil }},
	)
	return cs
}
