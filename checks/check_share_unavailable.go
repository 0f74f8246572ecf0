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
func init() {
	b := func(f *Facts, t Trigger, fd *Finding) { buildShareFinding(f, t, fd) }
	registerAnswer("probe.share_guest_refused", ansShareGuestRefused)
	RegisterPattern(Pattern{ID: PatternShareUnavailable, Deps: NeedsConnection, Fires: shareUnavailableFires, Causes: map[string]CauseBuilder{
		causeShareMissing: b, causeShareFlag: b, causeSharePath: b, causeShareUserDenied: b,
		causeShareHostDenied: b, causeShareEncrypt: b, causeShareHidden: b, causeShareACL: b,
		causeShareGuest: b, causeShareDropped: b, causeShareRefused: b,
	}})
}

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
	causeShareGuest      = "share-guest-not-allowed"
	causeShareDropped    = "share-connection-dropped"
	causeShareRefused    = "share-connect-refused"
)

// shareGuestRefused is probe.share_guest_refused: the probe's session was
// anonymous (SMB2_SESSION_FLAG_IS_NULL) or guest (SMB2_SESSION_FLAG_IS_GUEST)
// and the share lacks guest ok = yes. smbd then refuses the tree connect
// with ACCESS_DENIED before the share ACL is read
// (source3/smbd/smb2_service.c, create_connection_session_info).
func shareGuestRefused(f *Facts) (answer string, guestOK configValue, known bool) {
	if f.Probe == nil || f.Probe.Login == nil {
		return "", guestOK, false
	}
	l := f.Probe.Login
	if !l.Anonymous && !l.Guest {
		return "no", guestOK, true
	}
	guestOK = lookup(f, f.Share, "guest ok")
	if !guestOK.OK {
		return "", guestOK, false
	}
	return yesNo(!boolValue(guestOK)), guestOK, true
}

func ansShareGuestRefused(c *answerCtx) (string, bool) {
	a, _, ok := shareGuestRefused(c.f)
	return a, ok
}

// shareUnavailableFires: smb.conf refuses the scored share to a judged
// client (one trigger; one per client when only encryption separates
// them), or the probe's tree connect failed although smb.conf allows it.
// A user that IPC$ already refuses is ipc-unavailable's finding.
func shareUnavailableFires(f *Facts) []Trigger {
	if f.Share == "" {
		return nil
	}
	var probeEv []Evidence
	probeFailed := false
	if r := f.Probe; r != nil && r.Share != nil && r.Share.Class != probe.ClassSkipped && r.Share.Class != probe.ClassOK {
		probeFailed = true
		probeEv = append(probeEv, probeEvidence("tree connect to %s as %s: %s", f.Share, orUnknown(f.User), stepText(r.Share.Step)))
	}
	var out []Trigger
	for _, c := range judgedClients(f) {
		j, ok := shareState(f, c.Profile)
		if !ok || j.State == "ok" {
			continue
		}
		if j.State == "user-denied" {
			if d, _, ok := ipcUserDenied(f); ok && d {
				return nil
			}
		}
		t := Trigger{Evidence: probeEv}
		if j.State == "encrypt-required" {
			p := c.Profile
			t.Client = &p
		}
		out = append(out, t)
		if j.State != "encrypt-required" {
			break // the same for every client
		}
	}
	if len(out) == 0 && probeFailed {
		out = append(out, Trigger{Evidence: probeEv})
	}
	return out
}

// buildShareFinding fills a share-unavailable finding from the judgement
// of smb.conf for the trigger's client.
func buildShareFinding(f *Facts, t Trigger, fd *Finding) {
	p, _ := configs.Preset(configs.DefaultClient)
	if t.Client != nil {
		p = *t.Client
	} else if cs := judgedClients(f); len(cs) > 0 {
		p = cs[0].Profile
	}
	j, _ := shareState(f, p)
	if j.Why != "" {
		fd.Summary = j.Why
	}
	if j.Value.OK {
		fd.Evidence = append([]Evidence{j.Value.Evidence()}, fd.Evidence...)
	}
	switch fd.Cause {
	case causeShareMissing:
		if j.State != "missing" {
			fd.Summary = fmt.Sprintf("smbd does not know share %s, although smb.conf defines it: smbd does not run with this smb.conf", f.Share)
			fd.Fix = &Fix{Kind: FixManual, Summary: "make smbd run with the smb.conf checked here (see stale-config)"}
			return
		}
		fd.Explanation = "smbd answers the tree connect with BAD_NETWORK_NAME."
		if near := similarSections(f, f.Share); len(near) > 0 {
			fd.Explanation = joinSentences(fd.Explanation, "Sections with a similar name: "+strings.Join(near, ", "))
		}
		fd.Fix = &Fix{Kind: FixManual, Summary: fmt.Sprintf("add the [%s] section back (or correct the share name the engine uses)", f.Share)}
	case causeShareFlag:
		if j.Value.Origin.Note != "" {
			fd.Fix = &Fix{Kind: FixManual, Summary: fmt.Sprintf("give [%s] a path", f.Share)}
		} else {
			fd.Fix = &Fix{Kind: FixConfig, Summary: fmt.Sprintf("remove available = no from [%s]", f.Share),
				Changes: []Change{removeChange(j.Value)}}
		}
	case causeSharePath:
		fd.Fix = &Fix{Kind: FixManual, Summary: "recreate the share's directory with the right owner and mode, or point path at the data",
			Steps: []string{"mkdir -p " + j.Value.Printed}}
	case causeShareUserDenied:
		fd.Fix = userListFix(f, j.Value)
	case causeShareHostDenied:
		fd.Fix = hostsAllowFix(f, f.Share, j.Value)
	case causeShareEncrypt:
		c := configChange(j.Value, "desired")
		c.Section = f.Share
		fd.Fix = &Fix{Kind: FixConfig, Summary: fmt.Sprintf("set %s = desired in [%s]", j.Value.Param, f.Share),
			Changes: []Change{c},
			Why:     "desired still encrypts every client that can; only clients without SMB3 (pysmb) get unencrypted access to this share",
			Risk:    "if the share's data must never travel unencrypted, change the engine's client instead"}
	case causeShareHidden:
		fd.Explanation = "The tree connect works, but NetShareEnum leaves the share out: an engine that looks its share up in the listing does not find it."
		fd.Fix = &Fix{Kind: FixConfig, Summary: fmt.Sprintf("remove %s from [%s]", j.Value.Param, f.Share),
			Changes: []Change{removeChange(j.Value)}}
	case causeShareGuest:
		kind := "a guest"
		if f.Probe.Login.Anonymous {
			kind = "an anonymous"
		}
		_, guestOK, _ := shareGuestRefused(f)
		fd.Summary = fmt.Sprintf("the probe's session is %s one and share %s does not allow guests: smbd refuses the tree connect whatever the share ACL says", kind, f.Share)
		fd.Evidence = append(fd.Evidence, guestOK.Evidence())
		// Least permissive first: an account keeps the share closed to
		// everyone else; guest ok opens it to anyone who reaches the port.
		fd.Fix = &Fix{Kind: FixManual, Summary: "make the client log in with an account the share allows (give the engine its user and password)",
			Steps: []string{fmt.Sprintf("only if anonymous access to [%s] is intended: set guest ok = yes in [%s] (never map to guest in [global] for this)", f.Share, f.Share)},
			Why:   "an account keeps the share closed to everyone else; guest ok = yes opens it to anyone who reaches the port",
			Risk:  "guest ok = yes lets every client read the share, and write it unless it is read only"}
	case causeShareDropped:
		fd.Summary = fmt.Sprintf("smbd dropped the connection during the tree connect to share %s instead of answering: the connection's smbd ended (killed or crashed), not a refusal", f.Share)
		// A crash or an OOM kill already in the logs is the likely reason;
		// the probe's own drop is not in the snapshot, which precedes it.
		fd.Evidence = append(fd.Evidence, logEvidence(logLines(f, 3, "panic", "smbd-panic", "oom"))...)
		fd.Fix = &Fix{Kind: FixManual, Summary: "find why the connection's smbd ended (PANIC or INTERNAL ERROR in the logs, the share's root preexec / preexec scripts, an OOM kill) and remove that cause",
			Steps: []string{fmt.Sprintf("grep -rHE 'PANIC|INTERNAL ERROR|Server exit|preexec' %s", catalogVars(f).LogDir)}}
	case causeShareRefused:
		fd.Summary = fmt.Sprintf("smbd refused the tree connect to share %s with %s", f.Share, shareStatusName(f))
		fd.Fix = &Fix{Kind: FixManual, Summary: "look up the NT status and the smbd log of the connection for the reason"}
	case causeShareACL:
		fd.Summary = fmt.Sprintf("smb.conf allows %s on share %s, but the tree connect is refused: the share ACL or the directory's permissions", orUnknown(f.User), f.Share)
		fd.Fix = &Fix{Kind: FixManual, Summary: "grant the user access in the share ACL (sharesec) and read/execute on the directory",
			Steps: []string{fmt.Sprintf("sharesec -s %s %s --view", smbConfForCommands(f), f.Share)}}
	}
	if fd.Fix != nil {
		for i := range fd.Fix.Changes {
			if fd.Fix.Changes[i].Section == "" || fd.Fix.Changes[i].Section == "global" && j.Value.Section != "" {
				fd.Fix.Changes[i].Section = sectionOf(j.Value)
			}
		}
	}
}

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

// shareStatusName is the NT status of the probe's tree connect, or what the
// probe saw instead.
func shareStatusName(f *Facts) string {
	if f.Probe == nil || f.Probe.Share == nil {
		return "an unknown status"
	}
	if n := f.Probe.Share.StatusName; n != "" {
		return n
	}
	return string(f.Probe.Share.Class)
}
