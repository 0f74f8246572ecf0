// Package fixes turns a diagnosis into the least permissive fix and applies
// it as a transaction.
//
// MakePlan is pure: from a checks.Report and its checks.Facts it resolves every
// proposed smb.conf change to the file and line where the parameter is
// effective (with the smb.conf editor of configs/smbconf), merges the edits
// per file, renders a unified diff of each file and decides the lightest
// smbd action that makes the change take effect. Apply is the only place
// with side effects, all of them injected through Env: approval, lock,
// backups, atomic writes, validation, the smbd action, the proof by a new
// diagnosis, rollback and the audit log.
package fixes

import (
	"strings"

	"github.com/smb-agent/smb-agent/configs/smbconf"
)

// Action is what smbd must do for a change to take effect.
type Action string

// Actions, lightest first.
const (
	// ActionNone: nothing. smbd's children re-read smb.conf by themselves.
	ActionNone Action = "none"
	// ActionReload: smbcontrol smbd reload-config (the parent re-reads).
	ActionReload Action = "reload"
	// ActionRestart: stop and start smbd (drops every open session).
	ActionRestart Action = "restart"
	// ActionStart: start a stopped smbd.
	ActionStart Action = "start"
)

// weight orders actions: the plan's action is the heaviest any fix needs.
// Start is as heavy as a restart: it brings up a new master either way.
func (a Action) weight() int {
	switch a {
	case ActionReload:
		return 1
	case ActionRestart, ActionStart:
		return 2
	}
	return 0
}

// Heavier returns the heavier of two actions (a start wins over a restart
// of the same weight: when smbd is down there is nothing to restart, and a
// restart command starts it anyway, but "start" says what happens).
func Heavier(a, b Action) Action {
	if b.weight() > a.weight() || (b.weight() == a.weight() && b == ActionStart) {
		return b
	}
	if a == "" {
		return ActionNone
	}
	return a
}

// DropsSessions says whether clients connected now lose their sessions.
func (a Action) DropsSessions() bool { return a == ActionRestart }

// Describe is the action in words for the plan and the prompt.
func (a Action) Describe() string {
	switch a {
	case ActionReload:
		return "reload smbd's configuration (smbcontrol smbd reload-config); open sessions stay (" + qualifier(smbconf.BehaviourReloadKeepsSessions) + ")"
	case ActionRestart:
		return "restart smbd; open sessions are dropped and clients reconnect"
	case ActionStart:
		return "start smbd"
	}
	return "none needed (open sessions keep their settings until they reconnect)"
}

// actionRule is one entry of the table: the action a changed parameter
// needs and the observation or source line that says so.
type actionRule struct {
	Action Action
	Source string
}

// Why the table says what it says. The rows that rest on an entry of the
// behaviour registry (ruleBehaviour) name the releases it holds for; the
// end-to-end suite observes those entries on every release of the matrix
// (test/behaviours_e2e_test.go: edit smb.conf, connect with and without a
// reload).
const (
	srcPerConnection = "smbd_process() in every new child calls reload_services(..., true), which re-reads smb.conf when a file's mtime changed (source3/smbd/smb2_process.c: server min protocol edited, the next connection negotiated SMB2_02 with no reload)"
	srcNegprot       = "each new smbd child re-reads a changed smb.conf, and the SMB1 multi-protocol negprot calls reload_services again before computing min/max (source3/smbd/smb2_negprot.c)"
	srcParentHosts   = "[global] hosts allow/deny is checked in the new child before its reload, against the parent's copy; only reload-config refreshes it"
	srcParentLimit   = "the parent compares its child count with its own copy of max smbd processes before forking (source3/smbd/server.c smbd_accept_connection); reload-config refreshes it"
	srcSockets       = "the listening sockets are bound once in open_sockets_smbd() at start; reload-config and SIGHUP do not rebind them (source3/smbd/server.c: smb ports changed and reloaded, the new port stayed closed until a restart)"
	srcStartOnly     = "set up once when smbd starts (directories, pid file and passdb backend are opened in main() before the accept loop, source3/smbd/server.c; edited and reloaded, the parent smbd kept the old pid file, lock/state/private/cache files and passdb, samba-dcerpcd its old pipe sockets, and new connections were left half-moved until a restart)"
	srcServerRole    = "each new child re-reads server role and authenticates as the new role at the next connection, with no reload (source3/auth/auth.c picks auth methods by lp_server_role()); only main() checks the role, at start (source3/smbd/server.c refuses active directory domain controller), so a restart is what proves smbd runs with it"
	srcOnDemand      = "local_np_connect() runs in the smbd child and reads rpc start on demand helpers from the child's re-read config (source3/rpc_client/local_np.c: set from no to yes, the next share listing worked with no reload)"
	srcShare         = "share parameters are applied at tree connect by the child, which has re-read smb.conf (source3/smbd/service.c make_connection_snum)"
	srcUnknownGlobal = "not in the table: reload-config makes the parent and every child re-read smb.conf, which covers every global parameter except those bound at start"
)

// ruleBehaviour is the behaviour-registry entry (configs/smbconf) each
// rule's source rests on; the rule's text names its releases from there.
var ruleBehaviour = map[string]string{
	srcPerConnection: smbconf.BehaviourNewConnectionRereads,
	srcNegprot:       smbconf.BehaviourNewConnectionRereads,
	srcShare:         smbconf.BehaviourNewConnectionRereads,
	srcParentHosts:   smbconf.BehaviourGlobalHostsNeedReload,
	srcSockets:       smbconf.BehaviourSocketsNeedRestart,
	srcOnDemand:      smbconf.BehaviourOnDemandPerConnection,
	srcParentLimit:   smbconf.BehaviourMaxProcessesNeedReload,
	srcStartOnly:     smbconf.BehaviourStartOnlySettings,
	srcServerRole:    smbconf.BehaviourServerRolePerConnection,
}

// qualifier is behaviour id's release range for a text that does not know
// the host's release.
func qualifier(id string) string {
	if b, ok := smbconf.LookupBehaviour(id); ok {
		return b.Qualifier()
	}
	return "not checked on any Samba release"
}

// ruleWhy is a rule's source with the releases of the behaviour it rests
// on ("... (every Samba release, checked on 4.13 to 4.24)"); a source with
// no registry entry is returned as it is.
func ruleWhy(src string) string {
	if id, ok := ruleBehaviour[src]; ok {
		if b, ok := smbconf.LookupBehaviour(id); ok {
			return src + " (" + b.Qualifier() + ")"
		}
	}
	return src
}

// actionTable maps canonical parameter names to the action a change needs.
var actionTable = map[string]actionRule{
	// Re-read by each new connection.
	"server min protocol":               {ActionNone, srcNegprot},
	"server max protocol":               {ActionNone, srcNegprot},
	"server smb encrypt":                {ActionNone, srcPerConnection},
	"server signing":                    {ActionNone, srcPerConnection},
	"ntlm auth":                         {ActionNone, srcPerConnection},
	"lanman auth":                       {ActionNone, srcPerConnection},
	"log level":                         {ActionNone, srcPerConnection},
	"map to guest":                      {ActionNone, srcPerConnection},
	"restrict anonymous":                {ActionNone, srcPerConnection},
	"nt pipe support":                   {ActionNone, srcPerConnection},
	"rpc start on demand helpers":       {ActionNone, srcOnDemand},
	"server smb3 encryption algorithms": {ActionNone, srcPerConnection},
	"server smb3 signing algorithms":    {ActionNone, srcPerConnection},
	// The parent's own copy decides.
	"hosts allow":        {ActionReload, srcParentHosts},
	"hosts deny":         {ActionReload, srcParentHosts},
	"max smbd processes": {ActionReload, srcParentLimit},
	// Bound or set up only at start.
	"smb ports":             {ActionRestart, srcSockets},
	"server smb transports": {ActionRestart, srcSockets},
	"interfaces":            {ActionRestart, srcSockets},
	"bind interfaces only":  {ActionRestart, srcSockets},
	"pid directory":         {ActionRestart, srcStartOnly},
	"lock directory":        {ActionRestart, srcStartOnly},
	"state directory":       {ActionRestart, srcStartOnly},
	"cache directory":       {ActionRestart, srcStartOnly},
	"private dir":           {ActionRestart, srcStartOnly},
	"ncalrpc dir":           {ActionRestart, srcStartOnly},
	"passdb backend":        {ActionRestart, srcStartOnly},
	"server role":           {ActionRestart, srcServerRole},
}

// ActionFor returns the action a change of param in section needs, and the
// source of that rule. param may be any spelling (synonyms included).
// hosts allow/deny need a reload only in [global]: in a share they are
// checked at tree connect by the child, which re-read the file.
func ActionFor(section, param string) (Action, string) {
	name := strings.ToLower(strings.Join(strings.Fields(param), " "))
	p, known := smbconf.LookupParam(name)
	if known {
		name = p.Canonical().Name
	}
	global := section == "" || strings.EqualFold(section, "global")
	if r, ok := actionTable[name]; ok {
		if r.Action == ActionReload && !global && known && p.Canonical().Class == smbconf.ClassLocal {
			return ActionNone, ruleWhy(srcShare)
		}
		return r.Action, ruleWhy(r.Source)
	}
	if known && p.Canonical().Class == smbconf.ClassLocal {
		// In a share, or in [global] as every share's default: applied at
		// tree connect by the child that re-read the file.
		return ActionNone, ruleWhy(srcShare)
	}
	return ActionReload, srcUnknownGlobal
}
