package checks

import (
	"fmt"

	"github.com/smb-agent/smb-agent/checks/probe"
	"github.com/smb-agent/smb-agent/configs"
	"github.com/smb-agent/smb-agent/configs/smbconf"
)

// rpc-endpoint-missing: "Failed to list shares: Unable to locate Server
// Service RPC endpoint". The IPC$ tree connect worked, the CREATE of the
// "srvsvc" pipe failed. Since Samba 4.16 smbd hands pipes to samba-dcerpcd,
// which it starts on demand unless "rpc start on demand helpers = no"
// (source3/rpc_client/local_np.c: "Can't connect to a running
// samba-dcerpcd"); "nt pipe support = no" refuses every pipe
// (docs-xml/smbdotconf/protocol/ntpipesupport.xml; reproduced by
// TestProbeRPCEndpointMissing and TestDiagnoseRPCEndpointMissing).
func init() {
	registerAnswer("probe.anonymous_session_encrypted", ansAnonymousSessionEncrypted)
	RegisterPattern(Pattern{ID: PatternRPCEndpointMissing, Deps: NeedsConnection, Fires: rpcEndpointMissingFires, Causes: map[string]CauseBuilder{
		causeNTPipeOff: func(f *Facts, _ Trigger, fd *Finding) {
			_, cv, _ := rpcPipes(f)
			fd.Summary = "nt pipe support = no refuses every named pipe, srvsvc included"
			fd.Evidence = append(fd.Evidence, cv.Evidence())
			fd.Fix = &Fix{Kind: FixConfig, Summary: "remove nt pipe support (the default is yes)",
				Changes: []Change{removeChange(cv)}, Why: "share listing needs the srvsvc pipe"}
		},
		causeOnDemandOff: func(f *Facts, _ Trigger, fd *Finding) {
			_, cv, _ := rpcPipes(f)
			fd.Summary = "rpc start on demand helpers = no and no samba-dcerpcd runs, so nothing serves srvsvc"
			fd.Explanation = withRange(f, "smbd serves named pipes through samba-dcerpcd", smbconf.BehaviourSambaDcerpcd) + "; with on-demand start off it must run as its own service."
			fd.Evidence = append(fd.Evidence, cv.Evidence(), Evidence{Kind: "process", Text: "no samba-dcerpcd process for this configuration"})
			fd.Evidence = append(fd.Evidence, logEvidence(logLines(f, 2, LogRPCHelper))...)
			fd.Fix = &Fix{Kind: FixConfig, Summary: "set rpc start on demand helpers = yes (the default)",
				Changes: []Change{configChange(cv, "yes")},
				Why:     "smbd then starts samba-dcerpcd itself when a client opens a pipe; alternatively run samba-dcerpcd --libexec-rpcds as a service"}
			if cv.OK && !cv.Origin.IsDefault() {
				fd.Fix.Changes = []Change{removeChange(cv)}
				fd.Fix.Summary = "remove rpc start on demand helpers (the default is yes)"
			}
		},
		causeRPCHelperBroken: func(f *Facts, _ Trigger, fd *Finding) {
			fd.Summary = "samba-dcerpcd or rpcd_classic is missing, not executable, or fails to start"
			for _, b := range f.RPCHelpers {
				fd.Evidence = append(fd.Evidence, Evidence{Kind: "process", Text: fmt.Sprintf("%s: exists=%v executable=%v", b.Path, b.Exists, b.Executable)})
			}
			fd.Evidence = append(fd.Evidence, logEvidence(logLines(f, 3, LogRPCExecFailed, LogRPCHelper))...)
			fd.Fix = &Fix{Kind: FixManual, Summary: "reinstall the RPC helpers (apt-get install --reinstall samba-common-bin) and clear AppArmor/SELinux denials",
				Steps: []string{"apt-get install --reinstall samba-common-bin"}}
		},
		causeAnonymousEncrypted: func(f *Facts, t Trigger, fd *Finding) {
			cv := serverEncryptValue(f)
			who := "the client"
			if t.Client != nil {
				who = t.Client.Name
			}
			fd.Summary = fmt.Sprintf("smbd flags the anonymous session for encryption (%s = %s), but it has no key: %s, which honours the flag, cannot list the shares on it",
				cv.Param, orUnknown(cv.Printed), who)
			fd.Explanation = "smbclient -L then prints an empty share list and exits 0; an authenticated session has the keys and is not affected."
			fd.Evidence = append(fd.Evidence, cv.Evidence())
			fd.Fix = &Fix{Kind: FixConfig, Summary: fmt.Sprintf("set %s = if_required in [global]", cv.Param),
				Changes: []Change{configChange(cv, "if_required")},
				Why:     "smbd then flags no session for encryption; a client that asks for encryption still gets it",
				Risk:    "SMB3 clients that encrypt only when asked then send unencrypted: keep desired or required on the shares that need it, or give the client an account"}
		},
		causeRPCUnexplained: func(f *Facts, _ Trigger, fd *Finding) {
			fd.Summary = "the srvsvc pipe could not be opened, and smb.conf and the helpers look right"
			if !releaseDoes(f, smbconf.BehaviourSambaDcerpcd) {
				fd.Summary = "the srvsvc pipe could not be opened, and smb.conf looks right (on this release smbd serves the pipe itself)"
			}
			if f.Probe != nil && f.Probe.Shares != nil && f.Probe.Shares.Status == probe.StatusConnectionDisconnected && releaseDoes(f, smbconf.BehaviourSambaDcerpcd) {
				fd.Explanation = "STATUS_CONNECTION_DISCONNECTED on the pipe open means samba-dcerpcd died while starting; one known trigger is smbd started with a relative -s path, which the helper cannot resolve from its own directory."
			}
			fd.Fix = &Fix{Kind: FixConfig, Summary: "raise the log level to catch the next failure (log level = 1 smb2:3 rpc_srv:3)",
				Changes: []Change{configChange(globalValue(f, "log level"), "1 smb2:3 rpc_srv:3")},
				Risk:    "verbose logs: remove the line after the diagnosis"}
		},
	}})
}

// Causes (06-rpc-endpoint-missing.yaml).
const (
	causeOnDemandOff     = "on-demand-helpers-off"
	causeNTPipeOff       = "nt-pipe-support-off"
	causeRPCHelperBroken = "rpc-helper-broken"
	causeRPCUnexplained  = "rpc-unexplained"
	// causeAnonymousEncrypted: the anonymous session is flagged for
	// encryption it has no key for.
	causeAnonymousEncrypted = "anonymous-session-encrypted"
)

// rpcEndpointMissingFires: the probe could not open the srvsvc pipe, or
// smb.conf leaves nothing to serve it (and the listing did not work); or,
// for each client that honours SMB2_SESSION_FLAG_ENCRYPT_DATA, the
// anonymous session came back flagged for encryption it has no key for.
func rpcEndpointMissingFires(f *Facts) []Trigger {
	listing, listed := shareListing(f)
	failed := listed && listing == "pipe-open-failed"
	pipes, _, pipesKnown := rpcPipes(f)
	configBroken := pipesKnown && ((pipes == "on-demand-off" && !dcerpcdRunning(f)) || pipes == "nt-pipe-support-off")
	if !failed && !(configBroken && !(listed && listing == "ok")) {
		var ts []Trigger
		for _, c := range judgedClients(f) {
			if a, ok := anonymousSessionEncrypted(f, c.Profile); ok && a == "yes" {
				p := c.Profile
				listing := "the srvsvc listing sent unencrypted on it worked"
				switch {
				case f.Probe.IPC.Class == probe.ClassProtocolError:
					listing = "smbd answered the unencrypted IPC$ tree connect in a form the agent cannot read: " + stepText(*f.Probe.IPC)
				case f.Probe.Shares.Class != probe.ClassOK:
					listing = "smbd dropped the connection during the unencrypted srvsvc listing: " + stepText(f.Probe.Shares.Step)
				}
				ts = append(ts, Trigger{Client: &p, Evidence: []Evidence{probeEvidence(
					"anonymous session setup at %s: smbd set SMB2_SESSION_FLAG_ENCRYPT_DATA (session flags 0x%04x); %s",
					f.Probe.Login.Dialect, f.Probe.Login.SessionFlags, listing)}})
			}
		}
		return ts
	}
	var ev []Evidence
	if failed {
		ev = []Evidence{probeEvidence("open of the srvsvc pipe on IPC$: %s", stepText(f.Probe.Shares.Step))}
	}
	return []Trigger{{Evidence: ev}}
}

// anonymousSessionEncrypted is probe.anonymous_session_encrypted for client
// c. smbd sets SMB2_SESSION_FLAG_ENCRYPT_DATA on an anonymous session when
// [global] asks for encryption ("desired"), though the session has no key
// (source3/smbd/smb2_sesssetup.c); a client that encrypts when the server
// asks then refuses to send the pipe open in the clear and cannot encrypt
// it (libcli/smb/smbXcli_base.c: NT_STATUS_INVALID_PARAMETER_MIX). smbd
// mostly serves an unencrypted open, as the probe's listing shows; now and
// then it drops the connection during that listing instead, logging
// "Server exit (NT_STATUS_ENCRYPTION_FAILED)" (level 3,
// source3/smbd/server_exit.c): it tried to encrypt a reply on the session
// and had no key. A closed listing on such a session is the same cause,
// and so is an IPC$ tree connect whose reply the agent cannot read: Samba
// 4.13 encrypts its replies on such a session (checks/probe/smb2.go).
func anonymousSessionEncrypted(f *Facts, c configs.ClientProfile) (string, bool) {
	if f.Probe == nil || f.Probe.Login == nil {
		return "no", true
	}
	l := f.Probe.Login
	if !l.OK() || !l.Anonymous || !l.Encrypted {
		return "no", true
	}
	encryptedIPC := f.Probe.IPC != nil && f.Probe.IPC.Class == probe.ClassProtocolError
	if listing, ok := shareListing(f); !encryptedIPC && (!ok || (listing != "ok" && listing != "closed")) {
		return "no", true
	}
	if c.Encryption == configs.EncryptionNone {
		return "no", true
	}
	live, ok := LivePolicy(f.Probe)
	if !ok {
		return "", false
	}
	n := NegotiateModel(c, live.Min, live.Max)
	return yesNo(n.OK() && rank(n.Dialect) >= rank("SMB3_00")), true
}

func ansAnonymousSessionEncrypted(c *answerCtx) (string, bool) {
	return anonymousSessionEncrypted(c.f, c.client)
}

// serverEncryptValue is [global]'s encryption setting under the name the
// release knows: "server smb encrypt" where the behaviour registry says
// it exists, "smb encrypt" before.
func serverEncryptValue(f *Facts) configValue {
	if b, ok := smbconf.LookupBehaviour(smbconf.BehaviourServerSMBEncrypt); ok && !b.Holds(f.SambaVersion) {
		return globalValue(f, "smb encrypt")
	}
	return globalValue(f, "server smb encrypt")
}
