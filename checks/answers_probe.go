package checks

import (
	"github.com/smb-agent/smb-agent/checks/probe"
	"github.com/smb-agent/smb-agent/configs"
)

// Answer functions of the probe.* facts (see answers.go).

// stepNegotiate maps a negotiate step's class to probe.negotiate.
func stepNegotiate(s probe.Step) (string, bool) {
	switch s.Class {
	case probe.ClassOK:
		return "ok", true
	case probe.ClassNoCommonDialect:
		return "no-common-dialect", true
	case probe.ClassClosed, probe.ClassReset:
		return "closed", true
	case probe.ClassTimeout:
		return "no-reply", true
	case probe.ClassProtocolError:
		return "not-smb", true
	}
	return "", false
}

// clientNegotiate is the client's negotiate as the live server answers it:
// pysmb's exact handshake from the SMB1 probe that sends its offer, any
// other client modelled over the dialects the live server accepted.
func clientNegotiate(f *Facts, p configs.ClientProfile) (string, bool) {
	if f.Probe == nil {
		return "", false
	}
	if sameOffer(p.SMB1Offer, probe.SMB1Offers[probe.OfferPysmb]) {
		if s, ok := smb1Probe(f, probe.OfferPysmb); ok {
			if s.Class == probe.ClassOK && !s.Accepted {
				return "no-common-dialect", true
			}
			return stepNegotiate(s.Step)
		}
	}
	if a, ok := stepNegotiate(f.Probe.Multi.Step); ok && a != "ok" && a != "no-common-dialect" {
		return a, true
	}
	live, ok := LivePolicy(f.Probe)
	if !ok {
		return "", false
	}
	return map[bool]string{true: "ok", false: "no-common-dialect"}[NegotiateModel(p, live.Min, live.Max).OK()], true
}

func ansNegotiate(c *answerCtx) (string, bool) { return clientNegotiate(c.f, c.client) }

// sessionSetup is probe.session_setup.
func sessionSetup(f *Facts) (string, bool) {
	if f.Probe == nil || f.Probe.Login == nil {
		if f.User == "" || !f.HasPassword {
			return "no-credentials", true
		}
		return "", false
	}
	l := f.Probe.Login
	switch l.Class {
	case probe.ClassOK:
		if l.Guest {
			return "guest", true
		}
		return "ok", true
	case probe.ClassLogonFailure, probe.ClassBadPassword, probe.ClassUnknownUser, probe.ClassAccountDisabled:
		return "auth-failed", true
	case probe.ClassAccessDenied:
		return "access-denied", true
	case probe.ClassClosed, probe.ClassReset:
		return "closed", true
	case probe.ClassSkipped, probe.ClassTimeout:
		return "", false
	}
	if l.Status == probe.StatusNTLMBlocked {
		return "ntlm-blocked", true
	}
	return "other", true
}

func ansSessionSetup(c *answerCtx) (string, bool) { return sessionSetup(c.f) }

// shareListing is probe.share_listing.
func shareListing(f *Facts) (string, bool) {
	r := f.Probe
	if r == nil || r.IPC == nil {
		return "", false
	}
	switch r.IPC.Class {
	case probe.ClassOK:
	case probe.ClassIPCUnavailable, probe.ClassAccessDenied, probe.ClassShareDenied, probe.ClassShareMissing:
		return "ipc-denied", true
	case probe.ClassTimeout:
		return "no-reply", true
	case probe.ClassClosed, probe.ClassReset:
		return "closed", true
	default:
		return "", false
	}
	if r.Shares == nil {
		return "", false
	}
	switch r.Shares.Class {
	case probe.ClassOK:
		return "ok", true
	case probe.ClassRPCEndpointMissing:
		return "pipe-open-failed", true
	case probe.ClassRPCBindFailed:
		return "bind-failed", true
	case probe.ClassTimeout:
		return "no-reply", true
	case probe.ClassClosed, probe.ClassReset:
		return "closed", true
	case probe.ClassSkipped:
		return "", false
	}
	return "enum-failed", true
}

func ansShareListing(c *answerCtx) (string, bool) { return shareListing(c.f) }

func ansShareConnect(c *answerCtx) (string, bool) {
	r := c.f.Probe
	if r == nil || r.Share == nil {
		return "", false
	}
	switch r.Share.Class {
	case probe.ClassOK:
		return "ok", true
	case probe.ClassShareMissing:
		return "bad-network-name", true
	case probe.ClassShareDenied, probe.ClassAccessDenied:
		return "access-denied", true
	case probe.ClassClosed, probe.ClassReset, probe.ClassProtocolError:
		// An anonymous session has no key, yet smbd flags it
		// SMB2_SESSION_FLAG_ENCRYPT_DATA under "desired": Samba 4.13
		// encrypts its replies, which the probe's unencrypted client
		// cannot read (checks/probe/smb2.go), later releases exit with
		// NT_STATUS_ENCRYPTION_FAILED when they try (source3/smbd/
		// server_exit.c). Neither is a refusal of the share.
		if l := r.Login; l != nil && l.Anonymous && l.Encrypted {
			return "encryption-failed", true
		}
		if r.Share.Class != probe.ClassProtocolError {
			return "dropped", true
		}
	case probe.ClassSkipped, probe.ClassTimeout:
		// A tree connect without an answer in time is timeout's finding,
		// not a refusal.
		return "", false
	}
	return "failed", true
}
