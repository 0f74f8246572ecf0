package checks

import (
	"fmt"

	"github.com/smb-agent/smb-agent/checks/probe"
	"github.com/smb-agent/smb-agent/configs"
	"github.com/smb-agent/smb-agent/configs/smbconf"
)

// login-failed: session setup refused with an authentication status. pysmb's
// connect() then returns False and the engine shows "Failed to connect to
// host: IP" (pysmb smb/SMBConnection.py connect and smb/base.py
// onAuthFailed; reproduced by TestDiagnoseLoginFailed). smbd
// answers LOGON_FAILURE for a wrong password, an unknown user and a refused
// NTLMv1 response alike; the reason is in the auth_audit lines (level 2) or
// in passdb (pdbedit).
func init() {
	RegisterPattern(Pattern{ID: PatternLoginFailed, Deps: NeedsConnection, Fires: loginFailedFires, Causes: map[string]CauseBuilder{
		causeAccountLocked: func(f *Facts, _ Trigger, fd *Finding) {
			user := loginUser(f)
			fd.Summary = fmt.Sprintf("the account %s is locked out after bad passwords", user)
			fd.Fix = &Fix{Kind: FixManual, Summary: "unlock it: pdbedit -c '[]' -z " + user + " (resets the bad password count), then check who guessed",
				Steps: []string{fmt.Sprintf("pdbedit -s %s -z %s", smbConfForCommands(f), user)}}
		},
		causeAccountExpired: func(f *Facts, _ Trigger, fd *Finding) {
			user := loginUser(f)
			fd.Summary = fmt.Sprintf("the account %s or its password has expired", user)
			fd.Fix = &Fix{Kind: FixManual, Summary: "set the password again (smbpasswd) or clear the expiry (pdbedit --kickoff-time=0)", Steps: []string{setPasswordCommand(f)}}
		},
		causeAccountDisabled: func(f *Facts, _ Trigger, fd *Finding) {
			user := loginUser(f)
			fd.Summary = fmt.Sprintf("the Samba account %s is disabled", user)
			fd.Explanation = fmt.Sprintf("smbd logs \"sam_account_ok: Account for user 'X' was disabled.\" at level 1 (%s). A disable nobody asked for may be an incident.", behaviourRange(f, smbconf.BehaviourLogAccountDisabledLevel1))
			fd.Fix = &Fix{Kind: FixManual, Summary: "enable it: smbpasswd -e " + user + " (after finding out who disabled it)",
				Steps: []string{fmt.Sprintf("smbpasswd -c %s -e %s", smbConfForCommands(f), user)}}
		},
		causeUserNotInPassdb: func(f *Facts, _ Trigger, fd *Finding) {
			user := loginUser(f)
			if l := f.Probe.Login; l != nil && l.OK() && l.Guest {
				fd.Severity = Warning
				fd.ScoringMessage = ""
				fd.Summary = fmt.Sprintf("user %s logs in only as guest (map to guest = %s): the password is never checked", user, globalValue(f, "map to guest").Printed)
				fd.Explanation = "pysmb counts a guest session as a successful login, so the check may pass today; IPC$ or the share can still refuse a guest, and anyone gets in the same way."
				fd.Evidence = append(fd.Evidence, globalValue(f, "map to guest").Evidence())
				fd.Fix = &Fix{Kind: FixManual, Summary: fmt.Sprintf("add %s to passdb with the engine's password: smbpasswd -a %s", user, user),
					Steps: []string{fmt.Sprintf("smbpasswd -c %s -a %s", smbConfForCommands(f), user)}}
				return
			}
			fd.Summary = fmt.Sprintf("user %s has no Samba (passdb) account", user)
			fd.Fix = &Fix{Kind: FixManual, Summary: "add it with the engine's password: smbpasswd -a " + user + " (the Unix account must exist)",
				Steps: []string{fmt.Sprintf("getent passwd %s", user), fmt.Sprintf("smbpasswd -c %s -a %s", smbConfForCommands(f), user)}}
		},
		causeUnixAccountMissing: func(f *Facts, _ Trigger, fd *Finding) {
			fd.Summary = fmt.Sprintf("user %s is in passdb but has no Unix account", loginUser(f))
			fd.Fix = &Fix{Kind: FixManual, Summary: "recreate the Unix account (useradd) with the same name, or remove the stale passdb entry"}
		},
		causeNTLMv1Rejected: func(f *Facts, t Trigger, fd *Finding) {
			if t.Client != nil {
				fd.Summary = fmt.Sprintf("%s authenticates with NTLMv1, and ntlm auth = %s refuses it", t.Client.Name, globalValue(f, "ntlm auth").Printed)
				fd.Evidence = append(fd.Evidence, globalValue(f, "ntlm auth").Evidence(),
					Evidence{Kind: "client", Text: fmt.Sprintf("client %s: auth %s", t.Client.Name, t.Client.Auth)})
				if f.Probe != nil && f.Probe.NTLMv1 != nil && f.Probe.NTLMv1.Class != probe.ClassSkipped {
					fd.Evidence = append(fd.Evidence, probeEvidence("NTLMv1 login as %s: %s", f.Probe.NTLMv1.User, stepText(f.Probe.NTLMv1.Step)))
				}
			} else {
				fd.Summary = fmt.Sprintf("smbd refused an NTLMv1 login for %s (ntlm auth = %s)", loginUser(f), globalValue(f, "ntlm auth").Printed)
			}
			fd.Explanation = fmt.Sprintf("smbd logs \"NTLMv1 passwords NOT PERMITTED\" (level 2, %s) and answers LOGON_FAILURE, like a wrong password.", behaviourRange(f, smbconf.BehaviourLogNTLMv1RefusedLevel2))
			fd.Evidence = append(fd.Evidence, logEvidence(logLines(f, 2, LogNTLMv1Refused))...)
			fd.Fix = ntlmv1Fix(f)
		},
		causeWrongPassword: func(f *Facts, _ Trigger, fd *Finding) {
			fd.Summary = fmt.Sprintf("the password does not match the Samba password of %s", loginUser(f))
			fd.Explanation = "The account exists and is enabled. A password change nobody asked for may be an incident."
			fd.Fix = &Fix{Kind: FixManual, Summary: "set the password the engine uses: " + setPasswordCommand(f), Steps: []string{setPasswordCommand(f)}}
		},
		causeAuthBackend: func(f *Facts, _ Trigger, fd *Finding) {
			fd.Summary = "smbd cannot validate the login (domain or trust failure)"
			fd.Fix = &Fix{Kind: FixManual, Summary: "restore the path to the domain controller and the machine trust", Steps: []string{"wbinfo -t"}}
		},
	}})
}

// Causes (10-login-failed.yaml).
const (
	causeWrongPassword      = "wrong-password"
	causeUserNotInPassdb    = "user-not-in-passdb"
	causeUnixAccountMissing = "unix-account-missing"
	causeAccountDisabled    = "account-disabled"
	causeAccountLocked      = "account-locked"
	causeAccountExpired     = "account-expired"
	causeNTLMv1Rejected     = "ntlmv1-rejected"
	causeAnonymousRejected  = "anonymous-rejected"
	causeAuthBackend        = "auth-backend-failure"
)

// connectFailedMessage is the engine's text for connect() == False.
func connectFailedMessage(f *Facts) string { return "Failed to connect to host: " + targetHost(f) }

func loginUser(f *Facts) string {
	if f.Probe != nil && f.Probe.Login != nil && f.Probe.Login.User != "" {
		return f.Probe.Login.User
	}
	return orUnknown(f.User)
}

func setPasswordCommand(f *Facts) string {
	return fmt.Sprintf("smbpasswd -c %s %s", smbConfForCommands(f), loginUser(f))
}

// loginFailedFires: the probe's login was refused with an authentication
// status or became a guest session; and, per configured client that can
// only send NTLMv1, when the server refuses NTLMv1.
func loginFailedFires(f *Facts) []Trigger {
	var out []Trigger
	if r := f.Probe; r != nil && r.Login != nil {
		l := r.Login
		if isAuthFailure(l.Class) || (l.OK() && l.Guest) {
			ev := []Evidence{probeEvidence("login as %s: %s", l.User, stepText(l.Step))}
			if l.OK() && l.Guest {
				ev = []Evidence{probeEvidence("login as %s: accepted as GUEST", l.User)}
			}
			if _, line, _ := logAuthStatus(f); line != nil {
				ev = append(ev, logEvidence([]LogLine{*line})...)
			}
			if f.Account != nil {
				ev = append(ev, accountEvidence(f.Account))
			}
			out = append(out, Trigger{Evidence: ev, ScoringMessage: connectFailedMessage(f)})
		}
	}
	for _, c := range judgedClients(f) {
		if refused, ok := ntlmv1Refused(f, c.Profile); ok && refused {
			p := c.Profile
			out = append(out, Trigger{Client: &p, ScoringMessage: connectFailedMessage(f)})
		}
	}
	return out
}

// ntlmv1Refused is client.ntlmv1_refused: the client can only send NTLMv1
// and the server refuses it ("ntlm auth = ntlmv2-only", Samba's default
// since 4.5), by smb.conf or as the live NTLMv1 probe saw it.
func ntlmv1Refused(f *Facts, p configs.ClientProfile) (refused, known bool) {
	if p.Auth != configs.AuthNTLMv1 {
		return false, true
	}
	cfg, ok := ConfigPolicy(f)
	if !ok {
		return false, false
	}
	v := JudgeClient(p, cfg)
	probeRefused := f.Probe != nil && f.Probe.NTLMv1 != nil && f.Probe.NTLMv1.Class == probe.ClassNTLMPolicy
	return v.Blocker == BlockNTLMv1 || (probeRefused && v.OK), true
}

func ansNTLMv1Refused(c *answerCtx) (string, bool) {
	r, ok := ntlmv1Refused(c.f, c.client)
	return yesNo(r), ok
}

// loginStatus is probe.login_status: the NT status of the probe's login,
// in the words of the causes it points to.
func loginStatus(f *Facts) (string, bool) {
	if f.Probe == nil || f.Probe.Login == nil {
		if f.User == "" || !f.HasPassword {
			return "no-credentials", true
		}
		return "", false
	}
	l := f.Probe.Login
	switch {
	case l.OK() && l.Guest:
		return "guest", true
	case l.OK():
		return "ok", true
	case l.Status == probe.StatusAccountLockedOut:
		return "locked-out", true
	case l.Status == probe.StatusAccountExpired || l.Status == probe.StatusPasswordExpired:
		return "expired", true
	case l.Class == probe.ClassAccountDisabled:
		return "disabled", true
	case l.Class == probe.ClassUnknownUser:
		return "unknown-user", true
	case l.Class == probe.ClassLogonFailure || l.Class == probe.ClassBadPassword:
		return "logon-failure", true
	case l.Class == probe.ClassSkipped || l.Class == probe.ClassTimeout:
		return "", false
	}
	return "other", true
}

func ansLoginStatus(c *answerCtx) (string, bool) { return loginStatus(c.f) }

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

func ntlmv1Fix(f *Facts) *Fix {
	return &Fix{Kind: FixConfig, Summary: "configure the client for NTLMv2; only if it cannot, set ntlm auth = ntlmv1-permitted",
		Changes: []Change{configChange(globalValue(f, "ntlm auth"), "ntlmv1-permitted")},
		Why:     "a configured client can only send NTLMv1",
		Risk:    "NTLMv1 responses can be cracked or relayed, for every account on this server; prefer upgrading the client"}
}
