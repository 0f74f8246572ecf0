// Package probe runs wire-level probes against an SMB server: TCP connect,
// SMB1 negotiate (our own, small), SMB2/SMB3 negotiate per dialect, session
// setup, IPC$ tree connect, srvsvc share enumeration, share tree connect,
// directory listing and file read. Every probe has a deadline, returns plain
// facts (never go-smb2 types) and classifies its failure into one of the
// Class constants, which the checks package switches on.
//
// The package imports nothing of ours. go-smb2 (v1.1.0) is used for full
// sessions, behind a framing guard that turns malformed frames into errors
// (go-smb2 panics on them in its own goroutine) and records the raw
// NEGOTIATE and SESSION_SETUP responses so that fields go-smb2 does not
// expose (dialect, security mode, capabilities, session flags, the NT status
// behind os.ErrPermission) are read from the wire rather than guessed.
package probe

import (
	"fmt"
	"strings"
)

// Dialect is an SMB dialect. SMB2/3 dialects use their DialectRevision value
// from MS-SMB2 2.2.3; NT1 (SMB1, "NT LM 0.12") has no revision number on the
// wire, so 0x0001 is our own marker for it.
type Dialect uint16

// The dialects the agent probes, with Samba's names (lib/param/param_table.c
// enum_protocol). SMB2_FF is the "SMB 2.???" wildcard a server answers to a
// multi-protocol SMB1 NEGOTIATE (MS-SMB2 3.3.5.3.1); it is never offered on
// its own.
const (
	NT1     Dialect = 0x0001
	SMB2_02 Dialect = 0x0202
	SMB2_10 Dialect = 0x0210
	SMB3_00 Dialect = 0x0300
	SMB3_02 Dialect = 0x0302
	SMB3_11 Dialect = 0x0311
	SMB2_FF Dialect = 0x02FF
)

// AllDialects lists every dialect the agent probes, oldest first.
var AllDialects = []Dialect{NT1, SMB2_02, SMB2_10, SMB3_00, SMB3_02, SMB3_11}

// SMB2Dialects is AllDialects without NT1: the dialects of a native SMB2
// NEGOTIATE.
var SMB2Dialects = []Dialect{SMB2_02, SMB2_10, SMB3_00, SMB3_02, SMB3_11}

var dialectNames = map[Dialect]string{
	NT1:     "NT1",
	SMB2_02: "SMB2_02",
	SMB2_10: "SMB2_10",
	SMB3_00: "SMB3_00",
	SMB3_02: "SMB3_02",
	SMB3_11: "SMB3_11",
	SMB2_FF: "SMB2_FF",
}

// String gives Samba's name ("NT1", "SMB2_02", ...); unknown values print as
// hex so that an unexpected DialectRevision from a peer stays visible.
func (d Dialect) String() string {
	if n, ok := dialectNames[d]; ok {
		return n
	}
	return fmt.Sprintf("0x%04X", uint16(d))
}

// IsSMB2 reports whether d is a native SMB2/3 dialect revision.
func (d Dialect) IsSMB2() bool { return d >= SMB2_02 && d != SMB2_FF && d <= 0x03FF }

// ParseDialect accepts Samba's names and aliases as smb.conf does
// (case-insensitive): NT1, SMB2 (= SMB2_10), SMB3 (= SMB3_11), the explicit
// SMB2_xx/SMB3_xx names, and hex revisions such as "0x0311".
// Samba's alias rules: lib/param/param_table.c, enum_protocol; measured on
// 4.17: "SMB2" means SMB2_10 and "SMB3" means SMB3_11.
func ParseDialect(s string) (Dialect, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	switch u {
	case "NT1", "NT LM 0.12":
		return NT1, nil
	case "SMB2":
		return SMB2_10, nil
	case "SMB3":
		return SMB3_11, nil
	case "SMB2_FF", "SMB 2.???":
		return SMB2_FF, nil
	case "SMB 2.002":
		return SMB2_02, nil
	}
	for d, n := range dialectNames {
		if n == u {
			return d, nil
		}
	}
	if strings.HasPrefix(u, "0X") {
		var v uint16
		if _, err := fmt.Sscanf(u[2:], "%x", &v); err == nil && len(u) <= 6 {
			if _, ok := dialectNames[Dialect(v)]; ok {
				return Dialect(v), nil
			}
		}
	}
	return 0, fmt.Errorf("unknown SMB dialect %q (want one of NT1, SMB2_02, SMB2_10, SMB3_00, SMB3_02, SMB3_11, SMB2, SMB3)", s)
}

// MarshalText makes dialects JSON-marshal by name.
func (d Dialect) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText accepts what MarshalText writes (and every ParseDialect form).
// Unknown revisions written as hex by String round-trip too.
func (d *Dialect) UnmarshalText(b []byte) error {
	v, err := ParseDialect(string(b))
	if err != nil {
		var x uint16
		s := strings.ToUpper(string(b))
		if len(s) != 6 || !strings.HasPrefix(s, "0X") {
			return err
		}
		if _, e := fmt.Sscanf(s[2:], "%04X", &x); e != nil {
			return err
		}
		v = Dialect(x)
	}
	*d = v
	return nil
}
