package checks

import (
	"fmt"
	"strings"

	"github.com/smb-agent/smb-agent/checks/probe"
	"github.com/smb-agent/smb-agent/configs"
)

// share-unavailable: the scored share refuses the tree connect, or is not
// in the listing the engine searches ("Failed to retrieve P on S: Unable to
// connect to shared device", pysmb base.py _retrieveFile_SMB2). Shares are
// configured one by one, so this is usually one section of smb.conf.
func init() { Register(NewCheck(PatternShareUnavailable, checkShareUnavailable)) }

// Causes (11-share-unavailable.yaml).
const (
	causeShareMissing    = "share-missing"
	causeShareFlag       = "share-unavailable-flag"
	causeSharePath       = "share-path-missing"
	causeShareUserDenied = "share-user-denied"
	causeShareHostDenied = "share-host-denied"
	causeShareEncrypt    = "share-encrypt-required"
	causeShareHidden     = "share-hidden"
	causeShareACL        = "share-acl-denied"
)

var shareCauses = map[string]string{
	"missing":          causeShareMissing,
	"unavailable":      causeShareFlag,
	"path-missing":     causeSharePath,
	"user-denied":      causeShareUserDenied,
	"host-denied":      causeShareHostDenied,
	"encrypt-required": causeShareEncrypt,
	"hidden":           causeShareHidden,
}

func checkShareUnavailable(f *Facts) []Finding {
	if f.Share == "" {
		return nil
	}
	var probeEv []Evidence
	probeFailed := false
	if r := f.Probe; r != nil && r.Share != nil && r.Share.Class != probe.ClassSkipped && r.Share.Class != probe.ClassOK {
		probeFailed = true
		probeEv = append(probeEv, probeEvidence("tree connect to %s as %s: %s", f.Share, orUnknown(f.User), stepText(r.Share.Step)))
	}
	var out []Finding
	for _, c := range judgedClients(f) {
		j, ok := shareState(f, c.Profile)
		if !ok || j.State == "ok" {
			continue
		}
		if j.State == "user-denied" {
			if d, _, ok := ipcUserDenied(f); ok && d {
				continue // IPC$ refuses the user first (ipc-unavailable)
			}
		}
		fd := shareFinding(f, c.Profile, j)
		fd.Evidence = append(fd.Evidence, probeEv...)
		out = append(out, fd)
		if j.State != "encrypt-required" {
			break // the same for every client
		}
	}
	if len(out) == 0 && probeFailed {
		fd := newFinding(PatternShareUnavailable, "", Critical, "")
		fd.Evidence = probeEv
		switch f.Probe.Share.Class {
		case probe.ClassShareMissing:
			fd.Cause = causeShareMissing
			fd.Summary = fmt.Sprintf("smbd does not know share %s, although smb.conf defines it: smbd does not run with this smb.conf", f.Share)
			fd.Fix = &Fix{Kind: FixManual, Summary: "make smbd run with the smb.conf checked here (see stale-config)"}
		default:
			fd.Cause = causeShareACL
			fd.Summary = fmt.Sprintf("smb.conf allows %s on share %s, but the tree connect is refused: the share ACL or the directory's permissions", orUnknown(f.User), f.Share)
			fd.Fix = &Fix{Kind: FixManual, Summary: "grant the user access in the share ACL (sharesec) and read/execute on the directory",
				Steps: []string{fmt.Sprintf("sharesec -s %s %s --view", smbConfForCommands(f), f.Share)}}
		}
		out = append(out, fd)
	}
	return out
}

func shareFinding(f *Facts, p configs.ClientProfile, j shareJudgement) Finding {
	sev := Critical
	if j.State == "hidden" {
		// The tree connect works; only an engine that looks its share up in
		// the listing fails.
		sev = Warning
	}
	fd := newFinding(PatternShareUnavailable, shareCauses[j.State], sev, j.Why)
	if j.State == "encrypt-required" {
		fd.Client = p.Name
	}
	if j.Value.OK {
		fd.Evidence = append(fd.Evidence, j.Value.Evidence())
	}
	switch j.State {
	case "missing":
		fd.Explanation = "smbd answers the tree connect with BAD_NETWORK_NAME."
		if near := similarSections(f, f.Share); len(near) > 0 {
			fd.Explanation = joinSentences(fd.Explanation, "Sections with a similar name: "+strings.Join(near, ", "))
		}
		fd.Fix = &Fix{Kind: FixManual, Summary: fmt.Sprintf("add the [%s] section back (or correct the share name the engine uses)", f.Share)}
	case "unavailable":
		if j.Value.Origin.Note != "" {
			fd.Fix = &Fix{Kind: FixManual, Summary: fmt.Sprintf("give [%s] a path", f.Share)}
		} else {
			fd.Fix = &Fix{Kind: FixConfig, Summary: fmt.Sprintf("remove available = no from [%s]", f.Share),
				Changes: []Change{removeChange(j.Value)}}
		}
	case "path-missing":
		fd.Fix = &Fix{Kind: FixManual, Summary: "recreate the share's directory with the right owner and mode, or point path at the data",
			Steps: []string{"mkdir -p " + j.Value.Printed}}
	case "user-denied":
		fd.Fix = userListFix(f, j.Value)
	case "host-denied":
		fd.Fix = hostsAllowFix(f, f.Share, j.Value)
	case "encrypt-required":
		c := configChange(j.Value, "desired")
		c.Section = f.Share
		fd.Fix = &Fix{Kind: FixConfig, Summary: fmt.Sprintf("set server smb encrypt = desired in [%s]", f.Share),
			Changes: []Change{c},
			Why:     "desired still encrypts every client that can; only clients without SMB3 (pysmb) get unencrypted access to this share",
			Risk:    "if the share's data must never travel unencrypted, change the engine's client instead"}
	case "hidden":
		fd.Explanation = "The tree connect works, but NetShareEnum leaves the share out: an engine that looks its share up in the listing does not find it."
		fd.Fix = &Fix{Kind: FixConfig, Summary: fmt.Sprintf("remove %s from [%s]", j.Value.Param, f.Share),
			Changes: []Change{removeChange(j.Value)}}
	}
	if fd.Fix != nil {
		for i := range fd.Fix.Changes {
			if fd.Fix.Changes[i].Section == "" || fd.Fix.Changes[i].Section == "global" && j.Value.Section != "" {
				fd.Fix.Changes[i].Section = sectionOf(j.Value)
			}
		}
	}
	return fd
}

// similarSections lists sections whose names differ from name only in case,
// blanks or one character, to catch a renamed or misspelt share.
func similarSections(f *Facts, name string) []string {
	if f.Config == nil {
		return nil
	}
	var out []string
	n := strings.ToLower(strings.Join(strings.Fields(name), ""))
	for _, s := range f.Config.Sections() {
		m := strings.ToLower(strings.Join(strings.Fields(s), ""))
		if m == n || editDistance1(m, n) {
			out = append(out, "["+s+"]")
		}
	}
	return out
}

// editDistance1 reports whether a and b differ by one insertion, deletion
// or substitution.
func editDistance1(a, b string) bool {
	if a == b {
		return false
	}
	if len(a) < len(b) {
		a, b = b, a
	}
	if len(a)-len(b) > 1 {
		return false
	}
	i := 0
	for i < len(b) && a[i] == b[i] {
		i++
	}
	if len(a) == len(b) {
		return a[i+1:] == b[i+1:]
	}
	return a[i+1:] == b[i:]
}
