package checks

import (
	"fmt"
	"strings"

	"github.com/smb-agent/smb-agent/checks/probe"
	"github.com/smb-agent/smb-agent/configs"
)

// login-failed: session setup refused with an authentication status. pysmb's
// connect() then returns False and the engine shows "Failed to connect to
// host: IP" (research scoring-engine.md §2, scenarios.md row 10). smbd
// answers LOGON_FAILURE for a wrong password, an unknown user and a refused
// NTLMv1 response alike; the reason is in the auth_audit lines (level 2) or
// in passdb (pdbedit).
func init() { Register(NewCheck(PatternLoginFailed, checkLoginFailed)) }

// Causes (10-login-failed.yaml). causeCredentialsRejected is this
// package's: the login failed and neither passdb nor the logs (too quiet)
// say why.
const (
	causeWrongPassword       = "wrong-password"
	causeUserNotInPassdb     = "user-not-in-passdb"
	causeUnixAccountMissing  = "unix-account-missing"
	causeAccountDisabled     = "account-disabled"
	causeAccountLocked       = "account-locked"
	causeAccountExpired      = "account-expired"
	causeNTLMv1Rejected      = "ntlmv1-rejected"
	causeAnonymousRejected   = "anonymous-rejected"
	causeAuthBackend         = "auth-backend-failure"
	causeCredentialsRejected = "credentials-rejected"
)

// connectFailedMessage is the engine's text for connect() == False.
func connectFailedMessage(f *Facts) string { return "Failed to connect to host: " + targetHost(f) }

func checkLoginFailed(f *Facts) []Finding {
	var out []Finding
	if fd, ok := probeLoginFinding(f); ok {
		out = append(out, fd)
	}
	out = append(out, ntlmv1Findings(f)...)
	return out
}

func probeLoginFinding(f *Facts) (Finding, bool) {
	r := f.Probe
	if r == nil || r.Login == nil {
		return Finding{}, false
	}
	l := r.Login
	if l.OK() && l.Guest {
		fd := newFinding(PatternLoginFailed, causeUserNotInPassdb, Warning,
			fmt.Sprintf("user %s logs in only as guest (map to guest = %s): the password is never checked", l.User, globalValue(f, "map to guest").Printed))
		fd.ScoringMessage = ""
		fd.Explanation = "pysmb counts a guest session as a successful login, so the check may pass today; IPC$ or the share can still refuse a guest, and anyone gets in the same way."
		fd.Evidence = []Evidence{probeEvidence("login as %s: accepted as GUEST", l.User), globalValue(f, "map to guest").Evidence()}
		fd.Fix = &Fix{Kind: FixManual, Summary: fmt.Sprintf("add %s to passdb with the engine's password: smbpasswd -a %s", l.User, l.User),
			Steps: []string{fmt.Sprintf("smbpasswd -c %s -a %s", smbConfForCommands(f), l.User)}}
		return fd, true
	}
	if !isAuthFailure(l.Class) {
		return Finding{}, false
	}
	fd := newFinding(PatternLoginFailed, "", Critical, "")
	fd.ScoringMessage = connectFailedMessage(f)
	fd.Evidence = []Evidence{probeEvidence("login as %s: %s", l.User, stepText(l.Step))}
	acct, acctKnown := accountStatus(f)
	logStatus, logLine, _ := logAuthStatus(f)
	if logLine != nil {
		fd.Evidence = append(fd.Evidence, logEvidence([]LogLine{*logLine})...)
	}
	if f.Account != nil {
		fd.Evidence = append(fd.Evidence, accountEvidence(f.Account))
	}
	user := l.User
	setPw := fmt.Sprintf("smbpasswd -c %s %s", smbConfForCommands(f), user)
	switch {
	case l.Status == probe.StatusAccountLockedOut || (acctKnown && acct == "locked"):
		fd.Cause, fd.Summary = causeAccountLocked, fmt.Sprintf("the account %s is locked out after bad passwords", user)
		fd.Fix = &Fix{Kind: FixManual, Summary: "unlock it: pdbedit -c '[]' -z " + user + " (resets the bad password count), then check who guessed",
			Steps: []string{fmt.Sprintf("pdbedit -s %s -z %s", smbConfForCommands(f), user)}}
	case l.Status == probe.StatusAccountExpired || l.Status == probe.StatusPasswordExpired || (acctKnown && acct == "expired"):
		fd.Cause, fd.Summary = causeAccountExpired, fmt.Sprintf("the account %s or its password has expired", user)
		fd.Fix = &Fix{Kind: FixManual, Summary: "set the password again (smbpasswd) or clear the expiry (pdbedit --kickoff-time=0)", Steps: []string{setPw}}
	case l.Class == probe.ClassAccountDisabled || (acctKnown && acct == "disabled") || logStatus == "account-disabled":
		fd.Cause, fd.Summary = causeAccountDisabled, fmt.Sprintf("the Samba account %s is disabled", user)
		fd.Explanation = "smbd logs \"sam_account_ok: Account for user 'X' was disabled.\" at level 1. A disable nobody asked for may be an incident."
		fd.Fix = &Fix{Kind: FixManual, Summary: "enable it: smbpasswd -e " + user + " (after finding out who disabled it)",
			Steps: []string{fmt.Sprintf("smbpasswd -c %s -e %s", smbConfForCommands(f), user)}}
	case (acctKnown && acct == "missing") || logStatus == "no-such-user" || l.Class == probe.ClassUnknownUser:
		fd.Cause, fd.Summary = causeUserNotInPassdb, fmt.Sprintf("user %s has no Samba (passdb) account", user)
		fd.Fix = &Fix{Kind: FixManual, Summary: "add it with the engine's password: smbpasswd -a " + user + " (the Unix account must exist)",
			Steps: []string{fmt.Sprintf("getent passwd %s", user), fmt.Sprintf("smbpasswd -c %s -a %s", smbConfForCommands(f), user)}}
	case acctKnown && acct == "no-unix-account":
		fd.Cause, fd.Summary = causeUnixAccountMissing, fmt.Sprintf("user %s is in passdb but has no Unix account", user)
		fd.Fix = &Fix{Kind: FixManual, Summary: "recreate the Unix account (useradd) with the same name, or remove the stale passdb entry"}
	case logStatus == "ntlmv1-rejected":
		fd.Cause, fd.Summary = causeNTLMv1Rejected, fmt.Sprintf("smbd refused an NTLMv1 login for %s (ntlm auth = %s)", user, globalValue(f, "ntlm auth").Printed)
		fd.Fix = ntlmv1Fix(f)
	case logStatus == "wrong-password" || (acctKnown && acct == "ok"):
		fd.Cause, fd.Summary = causeWrongPassword, fmt.Sprintf("the password does not match the Samba password of %s", user)
		fd.Explanation = "The account exists and is enabled. A password change nobody asked for may be an incident."
		fd.Fix = &Fix{Kind: FixManual, Summary: "set the password the engine uses: " + setPw, Steps: []string{setPw}}
	case logStatus == "other" && logLine != nil && strings.Contains(strings.ToUpper(logLine.Status+logLine.Text), "TRUST"):
		fd.Cause, fd.Summary = causeAuthBackend, "smbd cannot validate the login (domain or trust failure)"
		fd.Fix = &Fix{Kind: FixManual, Summary: "restore the path to the domain controller and the machine trust", Steps: []string{"wbinfo -t"}}
	default:
		fd.Cause = causeCredentialsRejected
		fd.Summary = fmt.Sprintf("smbd refuses the login of %s (%s): a wrong password or a user missing from passdb", user, orUnknown(l.StatusName))
		fd.Explanation = "smbd answers LOGON_FAILURE for both; its auth_audit lines (level 2) or pdbedit tell them apart."
		fd.Fix = &Fix{Kind: FixManual, Summary: "check the account (pdbedit -L -v " + user + ") and set the engine's password with smbpasswd",
			Steps: []string{fmt.Sprintf("pdbedit -s %s -L -v %s", smbConfForCommands(f), user), setPw}}
	}
	return fd, true
}

func accountEvidence(a *AccountFacts) Evidence {
	t := fmt.Sprintf("passdb account %s: in passdb %v, Unix account %v", a.User, a.InPassdb, a.UnixAccount)
	if a.Flags != "" {
		t += ", flags " + a.Flags
	}
	if a.Err != "" {
		t += " (" + a.Err + ")"
	}
	return Evidence{Kind: "account", Text: t}
}

// ntlmv1Findings: a configured client that can only send NTLMv1 against a
// server that refuses it (Samba's default since 4.5, research
// samba-params.md (c)).
func ntlmv1Findings(f *Facts) []Finding {
	cfg, ok := ConfigPolicy(f)
	var out []Finding
	for _, c := range judgedClients(f) {
		if c.Profile.Auth != configs.AuthNTLMv1 {
			continue
		}
		var v Verdict
		switch {
		case ok:
			v = JudgeClient(c.Profile, cfg)
		default:
			continue
		}
		probeRefused := f.Probe != nil && f.Probe.NTLMv1 != nil && f.Probe.NTLMv1.Class == probe.ClassNTLMPolicy
		if v.Blocker != BlockNTLMv1 && !(probeRefused && v.OK) {
			continue
		}
		fd := newFinding(PatternLoginFailed, causeNTLMv1Rejected, Critical,
			fmt.Sprintf("%s authenticates with NTLMv1, and ntlm auth = %s refuses it", c.Profile.Name, globalValue(f, "ntlm auth").Printed))
		fd.Client = c.Profile.Name
		fd.ScoringMessage = connectFailedMessage(f)
		fd.Explanation = "smbd logs \"NTLMv1 passwords NOT PERMITTED\" (level 2) and answers LOGON_FAILURE, like a wrong password."
		fd.Evidence = []Evidence{globalValue(f, "ntlm auth").Evidence(),
			{Kind: "client", Text: fmt.Sprintf("client %s: auth %s", c.Profile.Name, c.Profile.Auth)}}
		if f.Probe != nil && f.Probe.NTLMv1 != nil && f.Probe.NTLMv1.Class != probe.ClassSkipped {
			fd.Evidence = append(fd.Evidence, probeEvidence("NTLMv1 login as %s: %s", f.Probe.NTLMv1.User, stepText(f.Probe.NTLMv1.Step)))
		}
		fd.Evidence = append(fd.Evidence, logEvidence(logLines(f, 2, LogNTLMv1Refused))...)
		fd.Fix = ntlmv1Fix(f)
		out = append(out, fd)
	}
	return out
}

func ntlmv1Fix(f *Facts) *Fix {
	return &Fix{Kind: FixConfig, Summary: "configure the client for NTLMv2; only if it cannot, set ntlm auth = ntlmv1-permitted",
		Changes: []Change{configChange(globalValue(f, "ntlm auth"), "ntlmv1-permitted")},
		Why:     "a configured client can only send NTLMv1",
		Risk:    "NTLMv1 responses can be cracked or relayed, for every account on this server; prefer upgrading the client"}
}
