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

// Behaviour ids the Go code refers to (the catalog names them as
// {behaviour:ID}, checked when it loads).
const (
	BehaviourSambaDcerpcd             = "samba-dcerpcd"
	BehaviourRPCStartOnDemand         = "rpc-start-on-demand-helpers"
	BehaviourServerSMBEncrypt         = "server-smb-encrypt"
	BehaviourSMB1NegotiateClamps      = "smb1-negotiate-clamps-min-protocol"
	BehaviourNewConnectionRereads     = "new-connection-rereads-config"
	BehaviourGlobalHostsNeedReload    = "global-hosts-need-reload"
	BehaviourSocketsNeedRestart       = "sockets-need-restart"
	BehaviourOnDemandPerConnection    = "rpc-start-on-demand-per-connection"
	BehaviourSMB1OffByDefault         = "smb1-off-by-default"
	BehaviourDefaultServerSigning     = "default-server-signing"
	BehaviourDefaultEncryption        = "default-encryption-offered"
	BehaviourDefaultNTLMAuth          = "default-ntlm-auth"
	BehaviourDefaultLanmanAuthOff     = "default-lanman-auth-off"
	BehaviourLogOfferSMB2Level3       = "log-negotiate-offer-smb2-level3"
	BehaviourLogOfferAllLevel3        = "log-negotiate-offer-all-level3"
	BehaviourLogAuthFailureLevel2     = "log-auth-failure-auth-audit-level2"
	BehaviourLogDeniedLevel0          = "log-denied-connection-level0"
	BehaviourLogDcerpcdMissingLevel0  = "log-dcerpcd-unreachable-level0"
	BehaviourLogNTLMv1RefusedLevel2   = "log-ntlmv1-refused-level2"
	BehaviourNTLMDisabledBlocks       = "ntlm-disabled-blocks-ntlm"
	BehaviourEncryptRequiredRefuses   = "encryption-required-refuses-smb2"
	BehaviourLogEncryptRequiredLvl1   = "log-encryption-required-level1"
	BehaviourMaxProcessesNeedReload   = "max-smbd-processes-needs-reload"
	BehaviourLogNotPermittedLevel1    = "log-share-not-permitted-level1"
	BehaviourLogAccountDisabledLevel1 = "log-account-disabled-level1"
	BehaviourLogGuestNotPermittedLvl1 = "log-guest-not-permitted-level1"
	BehaviourLogNonSMBPacketLevel2    = "log-non-smb-packet-level2"
	BehaviourStartOnlySettings        = "start-only-settings"
	BehaviourReloadKeepsSessions      = "reload-keeps-open-sessions"
	BehaviourMaxProcessesCountHelpers = "max-smbd-processes-counts-helpers"
	BehaviourNoLogLevelMeansZero      = "no-log-level-line-logs-at-0"
	BehaviourClientEncryptDefault     = "client-smb-encrypt-default"
	BehaviourClientEncryptRefusesSMB2 = "client-encryption-required-refuses-smb2"
	BehaviourLogPipeDisconnectedLvl3  = "log-pipe-disconnected-level3"
	BehaviourLogBadSignatureLevel0    = "log-bad-signature-level0"
	BehaviourRPCHelpersExitWhenIdle   = "rpc-helpers-exit-when-idle"
	BehaviourPipeDirFailsStart        = "ncalrpc-dir-unusable-fails-start"
	BehaviourConfigLoadFailsStart     = "config-load-failure-fails-start"
	BehaviourLogCantLoadConfig        = "log-cant-load-config-level0"
	BehaviourLogSelectedNT1Level3     = "log-selected-protocol-nt1-level3"
	BehaviourDcerpcdUnrunnableDenied  = "dcerpcd-unrunnable-access-denied-level3"
	BehaviourLogRpcdUnrunnableLevel0  = "log-rpcd-unrunnable-sys-popenv-level0"
	BehaviourServerRolePerConnection  = "server-role-applies-per-connection"
)

// behaviours is the registry; IDs are unique (TestBehavioursWellFormed).
// The catalog's texts are generated with these ranges in them: after
// changing an entry the catalog states, run `make gen-catalog`
// (TestGeneratedCatalogIsCurrent fails until then).
// Since and Until come from the cited source; the end-to-end suite
// (test/behaviours_e2e_test.go) observes each entry on every release of
// the matrix and fails where the observation and Holds disagree.
var behaviours = []Behaviour{
	{
		ID:     BehaviourSambaDcerpcd,
		Claim:  "smbd does not serve RPC pipes itself: it hands them to samba-dcerpcd and its rpcd_* helpers",
		Since:  "4.16",
		Source: `WHATSNEW.txt@samba-4.16.0 "samba-dcerpcd"; source3/rpc_server/rpc_host.c`,
	},
	{
		ID:     BehaviourRPCStartOnDemand,
		Claim:  `"rpc start on demand helpers = yes" (the default) lets smbd start samba-dcerpcd when a client first opens a pipe`,
		Since:  "4.16",
		Source: `WHATSNEW.txt@samba-4.16.0 "samba-dcerpcd"; docs-xml/smbdotconf/misc/rpcstartondemandhelpers.xml`,
	},
	{
		ID:     BehaviourServerSMBEncrypt,
		Claim:  `the server's encryption setting is "server smb encrypt" ("smb encrypt" is its synonym)`,
		Since:  "4.14",
		Source: `WHATSNEW.txt@samba-4.14.0 smb.conf changes: "smb encrypt" renamed "server smb encrypt"`,
	},
	{
		ID: BehaviourSMB1NegotiateClamps,
		Claim: `on an SMB1 multi-protocol NEGOTIATE smbd clamps server min and max protocol to SMB2_10, ` +
			`so with a minimum above SMB2_10 it still answers "SMB 2.???" and never "SMB 2.002"`,
		Source: "source3/smbd/smb1_negprot.c reply_negprot() and source3/smbd/smb2_negprot.c smb2_multi_protocol_reply_negprot() (negprot.c before 4.15)",
	},
	{
		ID: BehaviourNewConnectionRereads,
		Claim: "every new smbd child re-reads a changed smb.conf, so per-connection settings (protocols, signing, " +
			"encryption, authentication, log level) apply to the next connection without reload or restart",
		Source: "source3/smbd/smb2_process.c smbd_process() -> reload_services() (process.c before 4.15)",
	},
	{
		ID: BehaviourGlobalHostsNeedReload,
		Claim: "[global] hosts allow/deny are checked against the parent's copy before the new child re-reads smb.conf; " +
			"only reload-config (or SIGHUP) refreshes that copy",
		Source: "source3/smbd/smb2_process.c smbd_process(): allow_access() before reload_services()",
	},
	{
		ID:     BehaviourSocketsNeedRestart,
		Claim:  "smb ports, interfaces and bind interfaces only are bound once at start; reload-config and SIGHUP do not rebind the listening sockets",
		Source: "source3/smbd/server.c open_sockets_smbd() runs once in main()",
	},
	{
		ID:     BehaviourOnDemandPerConnection,
		Claim:  `smbd's child reads "rpc start on demand helpers" from its re-read smb.conf when it opens a pipe, so a change applies to the next connection without reload`,
		Since:  "4.16",
		Source: "source3/rpc_client/local_np.c local_np_connect()",
	},
	{
		ID:     BehaviourSMB1OffByDefault,
		Claim:  `server min protocol defaults to SMB2_02: with no "server min protocol" line smbd refuses SMB1 (NT1) clients`,
		Since:  "4.11",
		Source: `WHATSNEW.txt@samba-4.11.0 "SMB1 is disabled by default"`,
	},
	{
		ID:     BehaviourDefaultServerSigning,
		Claim:  `server signing defaults to "default": a standalone smbd offers SMB2 signing and does not require it`,
		Source: "docs-xml/smbdotconf/security/serversigning.xml; source3/smbd/smb2_negprot.c (SMB2_NEGOTIATE_SIGNING_ENABLED always, REQUIRED only when mandatory)",
	},
	{
		ID:     BehaviourDefaultEncryption,
		Claim:  `encryption defaults to offered, not required ("default"): SMB3 clients may encrypt, unencrypted sessions are accepted`,
		Source: "docs-xml/smbdotconf/security/serversmbencrypt.xml (smbencrypt.xml before 4.14)",
	},
	{
		ID:     BehaviourDefaultNTLMAuth,
		Claim:  `ntlm auth defaults to ntlmv2-only: NTLMv2 logins are accepted, NTLMv1 responses refused`,
		Since:  "4.7",
		Source: `WHATSNEW.txt@samba-4.5.0 "NTLMv1 authentication disabled by default"; WHATSNEW.txt@samba-4.7.0 (the default renamed ntlmv2-only)`,
	},
	{
		ID:     BehaviourDefaultLanmanAuthOff,
		Claim:  "lanman auth defaults to no: LANMAN password hashes are refused",
		Source: "source3/param/loadparm.c init_globals() (bLanmanAuth = false)",
	},
	{
		ID:    BehaviourLogOfferSMB2Level3,
		Claim: `smbd logs a client's offered dialects ("Requested protocol [...]") at debug level 3 of class smb2, and nothing of them below`,
		// 4.13 logs them in the default class (the next entry); the
		// release between 4.14 and 4.17 that moved them is not pinned,
		// so the range starts at the oldest release observed.
		Since:  "4.17",
		Source: "source3/smbd/smb2_negprot.c smb2_multi_protocol_reply_negprot() (DBGC_SMB2); observed by test/behaviours_e2e_test.go",
	},
	{
		ID:     BehaviourLogOfferAllLevel3,
		Claim:  `smbd logs a client's offered dialects ("Requested protocol [...]") at debug level 3 of the default class only ("log level = 3"); "smb2:3" does not log them`,
		Until:  "4.13",
		Source: "source3/smbd/negprot.c@samba-4.13 reply_negprot() DEBUG(3) in the default class; observed by test/behaviours_e2e_test.go",
	},
	{
		ID:     BehaviourLogAuthFailureLevel2,
		Claim:  `smbd logs a failed login ("Auth: ... status [NT_STATUS_...]") at debug level 2 of class auth_audit, and nothing of it below`,
		Source: "auth/auth_log.c log_authentication_event_human_readable() (AUTH_FAILURE_LEVEL 2, DBGC_AUTH_AUDIT)",
	},
	{
		ID:     BehaviourLogDeniedLevel0,
		Claim:  `smbd logs "Denied connection from" at debug level 0 when hosts allow/deny ([global] or a share's) refuse a client`,
		Source: "source3/lib/access.c allow_access() -> check_access() DEBUG(0, ...)",
	},
	{
		ID: BehaviourLogDcerpcdMissingLevel0,
		Claim: `with "rpc start on demand helpers = no" and no samba-dcerpcd running, smbd fails every pipe open ` +
			`and logs "Can't connect to a running samba-dcerpcd" at debug level 0`,
		Since:  "4.16",
		Source: "source3/rpc_client/local_np.c local_np_connect() DBG_ERR",
	},
	{
		ID:     BehaviourLogNTLMv1RefusedLevel2,
		Claim:  `smbd logs "NTLMv1 passwords NOT PERMITTED" at debug level 2 when ntlm auth refuses an NTLMv1 login, and nothing of it at level 1`,
		Source: "libcli/auth/ntlm_check.c ntlm_password_check() DBG_WARNING",
	},
	{
		ID:     BehaviourNTLMDisabledBlocks,
		Claim:  `"ntlm auth = disabled" refuses every NTLM(SSP) login, NTLMv2 included, with NT_STATUS_NTLM_BLOCKED`,
		Since:  "4.7",
		Source: `WHATSNEW.txt@samba-4.7.0 ("ntlm auth" gains disabled); auth/ntlmssp/ntlmssp_server.c`,
	},
	{
		ID: BehaviourEncryptRequiredRefuses,
		Claim: `with encryption required ([global] "server smb encrypt = required", or its synonym "smb encrypt") smbd refuses ` +
			`the session setup of a client that negotiated SMB2_02 or SMB2_10 (no encryption), or SMB3 without offering encryption, ` +
			`with ACCESS_DENIED, and admits SMB3 with encryption`,
		Source: "source3/smbd/smb2_sesssetup.c smbd_smb2_auth_generic_return() (encryption required and no cipher negotiated: dialect < SMB3_00, or no SMB2_GLOBAL_CAP_ENCRYPTION / encryption context)",
	},
	{
		ID:     BehaviourLogEncryptRequiredLvl1,
		Claim:  `smbd logs "reject session with dialect[0x0202] as encryption is required" at debug level 1, and nothing of it at level 0`,
		Source: "source3/smbd/smb2_sesssetup.c smbd_smb2_auth_generic_return() DEBUG(1, ...)",
	},
	{
		ID: BehaviourMaxProcessesNeedReload,
		Claim: `the parent compares its child count with its own copy of "max smbd processes" before it forks; ` +
			`an edit applies after reload-config (or SIGHUP), not at the next connection`,
		Source: "source3/smbd/server.c smbd_accept_connection() (allowable_number_of_smbd_processes)",
	},
	{
		ID:     BehaviourLogNotPermittedLevel1,
		Claim:  `smbd logs "user 'X' (from session setup) not permitted to access this share (NAME)" at debug level 1 when valid users or invalid users refuse a tree connect, and nothing of it at level 0`,
		Source: "source3/smbd/service.c make_connection_snum() -> check_user_share_access() DEBUG(1, ...)",
	},
	{
		ID:     BehaviourLogAccountDisabledLevel1,
		Claim:  `smbd logs "sam_account_ok: Account for user 'X' was disabled." at debug level 1 when a disabled account logs in, and nothing of it at level 0`,
		Source: "source3/auth/check_samsec.c sam_account_ok() DEBUG(1, ...)",
	},
	{
		ID: BehaviourLogGuestNotPermittedLvl1,
		Claim: `with "map to guest = bad user" and "restrict anonymous = 2" an unknown user logs in as guest and is refused IPC$; ` +
			`smbd logs "guest user (from session setup) not permitted to access this share (IPC$)" at debug level 1, and nothing of it at level 0`,
		Source: "source3/smbd/service.c make_connection_snum() -> check_user_share_access() DEBUG(1, ...); source3/smbd/uid.c check_user_ok() (restrict anonymous)",
	},
	{
		ID: BehaviourLogNonSMBPacketLevel2,
		Claim: `an smbd whose server max protocol is NT1 (SMB1 only) drops a client's SMB2 NEGOTIATE and logs ` +
			`"Non-SMB packet of length N. Terminating server" at debug level 2, and nothing of it at level 1`,
		Source: "source3/smbd/smb2_process.c process_smb() -> validate_smb_request() DEBUG(2, ...) (process.c before 4.15)",
	},
	{
		ID: BehaviourStartOnlySettings,
		Claim: `pid directory, lock directory, passdb backend, state directory, cache directory, private dir and ncalrpc dir ` +
			`are set up once when smbd starts: after an edit and reload-config the parent smbd keeps the old pid file, lock directory, ` +
			`passdb, state/private tdbs and cache, and samba-dcerpcd its old pipe sockets; new connections' children re-read some ` +
			`and are left half-moved (a moved lock directory makes every new connection fail; new children open account_policy/secrets ` +
			`tdbs in the new state/private dir, or are reset on 4.13; a moved ncalrpc dir leaves RPC pipes unreachable from 4.16); ` +
			`only a restart applies them`,
		Source: "source3/smbd/server.c main(): pidfile_create(), locking_init(), initialize_password_db(), secrets_init(), " +
			"share_info_db_init() before the accept loop; source3/rpc_client/local_np.c connects to lp_ncalrpc_dir()/np",
	},
	{
		ID: BehaviourReloadKeepsSessions,
		Claim: `reload-config keeps established sessions: a client connected before a reload that would refuse it anew ` +
			`([global] hosts deny) keeps its session and open share, while new connections are refused`,
		Source: "source3/smbd/server.c smbd_parent_reload_config() -> messaging_send_all(MSG_SMB_CONF_UPDATED): children reload, connections stay",
	},
	{
		ID: BehaviourMaxProcessesCountHelpers,
		Claim: `"max smbd processes" counts every child of the parent, smbd-notifyd and smbd-cleanupd included: ` +
			`2 lets no client in, 3 lets one`,
		Source: "source3/smbd/server.c smbd_accept_connection() allowable_number_of_smbd_processes() (num_children counts notifyd and cleanupd)",
	},
	{
		ID: BehaviourNoLogLevelMeansZero,
		Claim: `with no "log level" line and no -d, smbd logs at level 0 although testparm prints "log level = 1": ` +
			`level-1 lines are not written`,
		Source: "lib/util/debug.c (debuglevel starts at 0; the \"log level\" default is only applied when the line is set); observed by test/behaviours_e2e_test.go",
	},
	{
		ID:     BehaviourClientEncryptDefault,
		Claim:  `"client smb encrypt" exists and defaults to "default" (if_required): Samba's clients encrypt only when the server requires it`,
		Since:  "4.14",
		Source: `WHATSNEW.txt@samba-4.14.0 smb.conf changes; docs-xml/smbdotconf/security/clientsmbencrypt.xml`,
	},
	{
		ID: BehaviourClientEncryptRefusesSMB2,
		Claim: `a Samba client that requires encryption (smbclient -e, --client-protection=encrypt since 4.15) and negotiates SMB2_02 or SMB2_10 sets up the session, ` +
			`then refuses to use it: "Encryption required and server doesn't support SMB3 encryption - failing connect"`,
		Source: "source3/libsmb/clidfs.c do_connect() -> cli_cm_force_encryption_creds()",
	},
	{
		ID: BehaviourLogPipeDisconnectedLvl3,
		Claim: `when the RPC worker behind an open pipe dies, smbd answers the pipe's next request with NT_STATUS_PIPE_DISCONNECTED ` +
			`and logs "status[NT_STATUS_PIPE_DISCONNECTED]" at debug level 3, and nothing of it at level 2`,
		Since:  "4.16",
		Source: "source3/smbd/smb2_server.c smbd_smb2_request_error_ex() DBG_NOTICE; source3/rpc_client/local_np.c",
	},
	{
		ID: BehaviourLogBadSignatureLevel0,
		Claim: `with "server signing = mandatory" smbd refuses the unsigned requests of a client that never signs ` +
			`(after its session setup) and logs "Bad SMB2 (sign_algo_id=N) signature for message" at debug level 0 ` +
			`("Bad SMB2 signature for message" on 4.13)`,
		Source: "source3/smbd/smb2_server.c smbd_smb2_request_dispatch() -> smb2_signing_check_pdu() (libcli/smb/smb2_signing.c DEBUG(0, ...))",
	},
	{
		ID:     BehaviourRPCHelpersExitWhenIdle,
		Claim:  `samba-dcerpcd and its rpcd_* workers started on demand by smbd exit by themselves once idle (after about a minute), so "none running" is normal between clients`,
		Since:  "4.16",
		Source: "source3/rpc_server/rpc_host.c (on-demand samba-dcerpcd exits when idle); observed by test/behaviours_e2e_test.go with SMB_AGENT_SLOW=1",
	},
	{
		ID: BehaviourDcerpcdUnrunnableDenied,
		Claim: `when smbd cannot run samba-dcerpcd (missing or not executable), the client's open of an RPC pipe (srvsvc) ` +
			`fails with ACCESS_DENIED and smbd logs only "status[NT_STATUS_ACCESS_DENIED]" at debug level 3, nothing at level 2`,
		Since:  "4.16",
		Source: "source3/rpc_client/local_np.c local_np_connect_send() (starting samba-dcerpcd fails: ACCESS_DENIED); source3/smbd/smb2_server.c smbd_smb2_request_error_ex() DBG_NOTICE",
	},
	{
		ID: BehaviourLogRpcdUnrunnableLevel0,
		Claim: `when samba-dcerpcd cannot run an rpcd_* helper (rpcd_classic missing or not executable), it logs ` +
			`"sys_popenv: ERROR executing command '.../rpcd_classic'" at debug level 0 in log.samba-dcerpcd, and the pipe open fails with OBJECT_NAME_NOT_FOUND`,
		Since:  "4.16",
		Source: "lib/util/sys_popen.c sys_popenv() DEBUG(0, ...); source3/rpc_server/rpc_host.c rpc_server_get_endpoints_send() (rpcd_* --list-interfaces)",
	},
	{
		ID: BehaviourServerRolePerConnection,
		Claim: `a changed "server role" applies to the next connection with no reload: each new child re-reads smb.conf and ` +
			`authenticates as the new role (member server without winbindd: a local account's login fails with NO_LOGON_SERVERS); ` +
			`only the refusal to run as "active directory domain controller" ("not compatible with running smbd standalone", level 0) waits for a restart`,
		Source: "source3/smbd/smb2_process.c smbd_process() -> reload_services(); source3/auth/auth.c make_auth3_context_for_ntlm() (auth methods by lp_server_role()); source3/smbd/server.c main() (ROLE_ACTIVE_DIRECTORY_DC check)",
	},
	{
		ID:     BehaviourPipeDirFailsStart,
		Claim:  `smbd refuses to start when "ncalrpc dir" cannot be created, and logs "Failed to create pipe directory" at debug level 0`,
		Source: "source3/smbd/server.c main() -> directory_create_or_exist(lp_ncalrpc_dir()) (\"Failed to create pipe directory\", DEBUG(0, ...))",
	},
	{
		ID: BehaviourConfigLoadFailsStart,
		Claim: `smbd refuses to start with an smb.conf that fails to load (an invalid value such as "server min protocol = SMB4"), ` +
			`logging "Ignoring invalid value 'X' for parameter 'Y'" at debug level 0, and testparm exits 1 with "Error loading services."`,
		Source: "source3/smbd/server.c main() -> reload_services() false; lib/param/loadparm.c lp_set_enum_parm() DEBUG(0, ...); source3/utils/testparm.c",
	},
	{
		ID:    BehaviourLogCantLoadConfig,
		Claim: `smbd that cannot load its smb.conf at start logs "Can't load X - run testparm to debug it" at debug level 0 (4.13 writes "error opening config file 'X'" instead)`,
		// 4.13 writes the other line; the release between 4.14 and 4.17
		// that changed it is not pinned.
		Since:  "4.17",
		Source: "source3/smbd/server.c main() exit_server_cleanly(\"Can't load ...\"); observed by test/behaviours_e2e_test.go",
	},
	{
		ID:     BehaviourLogSelectedNT1Level3,
		Claim:  `with SMB1 enabled, smbd logs "Selected protocol NT LM 0.12" at debug level 3 when a client chooses SMB1, and nothing of it at level 2`,
		Source: "source3/smbd/smb1_negprot.c reply_negprot() DEBUG(3, ...) (negprot.c before 4.15)",
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

// checkedSpan is the part of the matrix (KnownReleases, the releases the
// end-to-end suite runs against) where b holds: the oldest and newest
// known release series inside [Since, Until]; ok=false when none is.
func (b Behaviour) checkedSpan() (lo, hi SambaVersion, ok bool) {
	for _, k := range KnownReleases() {
		if !b.Holds(k) {
			continue
		}
		if !ok {
			lo = k
		}
		hi, ok = k, true
	}
	return lo, hi, ok
}

// Qualifier names the releases for a text that does not know which
// release runs (catalog texts): the range from the source, bounded by the
// newest release it was checked on, so that a newer release never reads
// it as fact: "Samba 4.16 and later, checked up to 4.24", "Samba 4.14 to
// 4.21", "every Samba release, checked on 4.13 to 4.24".
func (b Behaviour) Qualifier() string {
	lo, hi, ok := b.checkedSpan()
	switch {
	case !ok || b.Until != "":
		return b.Range()
	case b.Since == "":
		return fmt.Sprintf("every Samba release, checked on %s to %s", lo.Series(), hi.Series())
	default:
		return fmt.Sprintf("%s, checked up to %s", b.Range(), hi.Series())
	}
}

// For names the releases for a text about release v: the range where v is
// in it ("Samba 4.16 and later"), the range and that v is not ("Samba 4.16
// and later; not Samba 4.13"), and, for a release outside the matrix, only
// what was checked ("checked on Samba 4.17 to 4.24; not verified on 4.25").
func (b Behaviour) For(v SambaVersion) string {
	if v == (SambaVersion{}) {
		return b.Qualifier()
	}
	if TableFor(v).Outside {
		lo, hi, ok := b.checkedSpan()
		if !ok {
			return fmt.Sprintf("%s; not verified on %s", b.Range(), v.Series())
		}
		span := "Samba " + lo.Series()
		if hi != lo {
			span += " to " + hi.Series()
		}
		return fmt.Sprintf("checked on %s; not verified on %s", span, v.Series())
	}
	if b.Holds(v) {
		return b.Range()
	}
	return fmt.Sprintf("%s; not Samba %s", b.Range(), v.Series())
}

// HoldsKnown reports whether v is a release the behaviour was checked on
// and holds for: false for a release outside the matrix, where it is not
// known either way.
func (b Behaviour) HoldsKnown(v SambaVersion) bool {
	return v != (SambaVersion{}) && !TableFor(v).Outside && b.Holds(v)
}

// BehaviourText is the claim of behaviour id with its qualifier, for the
// texts that state it: `claim (qualifier)`. An unknown id is a defect of
// the caller; it returns ok=false.
func BehaviourText(id string) (string, bool) {
	b, ok := LookupBehaviour(id)
	if !ok {
		return "", false
	}
	return fmt.Sprintf("%s (%s)", b.Claim, b.Qualifier()), true
}
