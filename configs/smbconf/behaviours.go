package smbconf

import (
	"fmt"
	"slices"
)

// Behaviour is one thing a Samba release does that a diagnosis or a fix
// plan rests on, with the releases it holds for. Every text the agent
// prints about smbd's behaviour names the range through Range, and the
// end-to-end suite checks each behaviour against every release of the
// matrix (test/scripts/samba-release.sh), so a claim read from one
// release's source is never stated for another.
type Behaviour struct {
	// ID names the behaviour in code and tests ("samba-dcerpcd").
	ID string
	// Claim is the behaviour in one sentence, present tense.
	Claim string
	// Since is the first release series it holds for ("4.16"); empty for
	// every release the agent knows.
	Since string
	// Until is the last release series it holds for; empty while the
	// newest release still does it.
	Until string
	// Source cites the Samba source file or WHATSNEW section.
	Source string
}

// behaviours is the registry; IDs are unique (TestBehavioursWellFormed).
var behaviours = []Behaviour{
	{
		ID:     "samba-dcerpcd",
		Claim:  "smbd does not serve RPC pipes itself: it hands them to samba-dcerpcd and its rpcd_* helpers",
		Since:  "4.16",
		Source: `WHATSNEW.txt@samba-4.16.0 "samba-dcerpcd"; source3/rpc_server/rpc_host.c`,
	},
	{
		ID:     "rpc-start-on-demand-helpers",
		Claim:  `"rpc start on demand helpers = yes" (the default) lets smbd start samba-dcerpcd when a client first opens a pipe`,
		Since:  "4.16",
		Source: `WHATSNEW.txt@samba-4.16.0 "samba-dcerpcd"; docs-xml/smbdotconf/misc/rpcstartondemandhelpers.xml`,
	},
	{
		ID:     "server-smb-encrypt",
		Claim:  `the server's encryption setting is "server smb encrypt" ("smb encrypt" is its synonym)`,
		Since:  "4.14",
		Source: `WHATSNEW.txt@samba-4.14.0 smb.conf changes: "smb encrypt" renamed "server smb encrypt"`,
	},
}

// LookupBehaviour returns the behaviour with that id.
func LookupBehaviour(id string) (Behaviour, bool) {
	i := slices.IndexFunc(behaviours, func(b Behaviour) bool { return b.ID == id })
	if i < 0 {
		return Behaviour{}, false
	}
	return behaviours[i], true
}

// Behaviours returns a copy of the registry.
func Behaviours() []Behaviour { return slices.Clone(behaviours) }

// Holds reports whether release v does it. Only the series is compared:
// a behaviour starts and ends with a release series.
func (b Behaviour) Holds(v SambaVersion) bool {
	if b.Since != "" {
		s, err := ParseSambaVersion(b.Since)
		if err != nil || seriesCmp(v, s) < 0 {
			return false
		}
	}
	if b.Until != "" {
		u, err := ParseSambaVersion(b.Until)
		if err != nil || seriesCmp(v, u) > 0 {
			return false
		}
	}
	return true
}

// Range names the releases it holds for, for the texts that state it:
// "Samba 4.16 and later", "Samba 4.13 to 4.21", "every Samba release".
func (b Behaviour) Range() string {
	switch {
	case b.Since != "" && b.Until != "":
		return fmt.Sprintf("Samba %s to %s", b.Since, b.Until)
	case b.Since != "":
		return fmt.Sprintf("Samba %s and later", b.Since)
	case b.Until != "":
		return fmt.Sprintf("Samba %s and earlier", b.Until)
	default:
		return "every Samba release"
	}
}
