package checks

import (
	"fmt"
	"net"
	"net/netip"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/smb-agent/smb-agent/checks/probe"
	"github.com/smb-agent/smb-agent/configs"
)

// The catalog's decision trees ask questions by fact key
// (checks/catalog/data/facts.yaml); this file answers each key from the
// gathered facts. An answer is one of the fact's documented answers, or
// known=false: the walk then stops there and says the fact is unknown,
// which is better than a guess.

// answerCtx is what an answer may depend on besides the facts: the client
// the finding is about (config.dialect_gap differs per client).
type answerCtx struct {
	f      *Facts
	client configs.ClientProfile
}

type answerFunc func(*answerCtx) (string, bool)

var answerFuncs = map[string]answerFunc{
	"config.loads":                         ansConfigLoads,
	"config.warnings":                      ansConfigWarnings,
	"config.dialect_gap":                   ansDialectGap,
	"config.encryption_blocks_client":      ansEncryptionBlocks,
	"config.signing_blocks_client":         ansSigningBlocks,
	"config.signing_risk_client":           ansSigningRisk,
	"probe.dialect_gap":                    ansLiveDialectGap,
	"probe.live_matches_config":            ansLiveMatchesConfig,
	"config.ntlm_auth":                     ansNTLMAuth,
	"config.smb1_enabled":                  ansSMB1Enabled,
	"config.port_listed":                   ansPortListed,
	"config.bind_covers_target":            ansBindCovers,
	"config.hosts_exclude_client":          ansHostsExclude,
	"config.hosts_exclude_agent":           ansHostsExcludeAgent,
	"config.ipc_user_denied":               ansIPCUserDenied,
	"config.rpc_pipes":                     ansRPCPipes,
	"config.share_state":                   ansShareState,
	"client.smb1_only":                     ansClientSMB1Only,
	"process.smbd_state":                   ansSmbdState,
	"process.uses_conf":                    ansUsesConf,
	"process.started_before_config_change": ansStartedBeforeChange,
	"process.max_smbd_reached":             ansMaxSmbdReached,
	"process.smbd_child_died":              ansChildDied,
	"process.dcerpcd_running":              ansDcerpcdRunning,
	"process.rpc_helpers_ok":               ansRPCHelpersOK,
	"process.rpc_worker_died":              ansRPCWorkerDied,
	"socket.listening_on_port":             ansListeningOnPort,
	"socket.bound_to_target":               ansBoundToTarget,
	"socket.matches_config":                ansSocketsMatchConfig,
	"socket.accept_backlog":                ansAcceptBacklog,
	"firewall.verdict":                     ansFirewallVerdict,
	"net.target_address":                   ansTargetAddress,
	"net.route_to_client":                  ansRouteToClient,
	"probe.dial_error":                     ansDialError,
	"probe.negotiate":                      ansNegotiate,
	"probe.session_setup":                  ansSessionSetup,
	"probe.login_status":                   ansLoginStatus,
	"client.ntlmv1_refused":                ansNTLMv1Refused,
	"probe.share_listing":                  ansShareListing,
	"probe.share_connect":                  ansShareConnect,
	"log.hosts_denied":                     ansLogHostsDenied,
	"log.auth_status":                      ansLogAuthStatus,
	"log.dcerpcd_error":                    ansLogDcerpcdError,
	"account.status":                       ansAccountStatus,
}

// registerAnswer adds the answer function of a fact only one pattern asks
// about, from that pattern's file.
func registerAnswer(key string, fn answerFunc) {
	if _, dup := answerFuncs[key]; dup {
		panic("checks: answer for " + key + " registered twice")
	}
	answerFuncs[key] = fn
}

// AnswerKeys lists the fact keys this package can answer, sorted.
func AnswerKeys() []string {
	keys := make([]string, 0, len(answerFuncs))
	for k := range answerFuncs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Answer answers one decision-tree fact key for client (nil: the default
// client) from f.
func Answer(key string, f *Facts, client *configs.ClientProfile) (string, bool) {
	fn, ok := answerFuncs[key]
	if !ok || f == nil {
		return "", false
	}
	c := &answerCtx{f: f}
	if client != nil {
		c.client = *client
	} else if len(f.Clients) > 0 {
		c.client = f.Clients[0]
	} else {
		c.client, _ = configs.Preset(configs.DefaultClient)
	}
	return fn(c)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// ---- config.* ----

func ansConfigLoads(c *answerCtx) (string, bool) {
	switch {
	case c.f.ConfigErr != nil:
		return "no", true
	case c.f.Config != nil:
		return yesNo(len(c.f.Config.Fatal) == 0), true
	}
	return "", false
}

func ansConfigWarnings(c *answerCtx) (string, bool) {
	if c.f.Config == nil {
		return "", false
	}
	return yesNo(len(c.f.Config.Warnings) > 0), true
}

// dialectGap compares smb.conf's server range with one client.
func dialectGap(f *Facts, p configs.ClientProfile) (string, bool) {
	s, ok := ConfigPolicy(f)
	if !ok {
		return "", false
	}
	return policyGap(s, p), true
}

// policyGap compares a server's dialect range with the client's.
func policyGap(s ServerPolicy, p configs.ClientProfile) string {
	if s.Max == "" || rank(s.Min) > rank(s.Max) {
		return "min-above-max"
	}
	if NegotiateModel(p, s.Min, s.Max).OK() {
		return "none"
	}
	if need, ok := NeededMin([]configs.ClientProfile{p}, s.Max); ok && rank(need) < rank(s.Min) {
		return "min-above-client-max"
	}
	return "max-below-client-min"
}

// ansLiveDialectGap is probe.dialect_gap: policyGap over the dialects the
// running smbd accepted.
func ansLiveDialectGap(c *answerCtx) (string, bool) {
	live, ok := LivePolicy(c.f.Probe)
	if !ok {
		return "", false
	}
	return policyGap(live, c.client), true
}

// ansSigningRisk is config.signing_risk_client: signing is mandatory and
// the client signs only when required (pysmb before 1.2.3 fails then).
func ansSigningRisk(c *answerCtx) (string, bool) {
	s, ok := ConfigPolicy(c.f)
	if !ok {
		return "", false
	}
	return yesNo(JudgeClient(c.client, s).SigningRisk), true
}

// ansLiveMatchesConfig is probe.live_matches_config.
func ansLiveMatchesConfig(c *answerCtx) (string, bool) {
	if LiveAccepted(c.f.Probe) == nil {
		return "", false
	}
	if _, ok := ConfigPolicy(c.f); !ok || c.f.ConfigErr != nil {
		return "", false
	}
	live, _ := liveDiffersFromConfig(c.f)
	return yesNo(live == ""), true
}

func ansDialectGap(c *answerCtx) (string, bool) { return dialectGap(c.f, c.client) }

func ansEncryptionBlocks(c *answerCtx) (string, bool) {
	s, ok := ConfigPolicy(c.f)
	if !ok {
		return "", false
	}
	if !s.EncryptRequired {
		return "no", true
	}
	return yesNo(c.client.Encryption == configs.EncryptionNone || rank(c.client.MaxDialect) < rank("SMB3_00")), true
}

func ansSigningBlocks(c *answerCtx) (string, bool) {
	s, ok := ConfigPolicy(c.f)
	if !ok {
		return "", false
	}
	return yesNo(s.SigningMandatory && c.client.Signing == configs.SigningNever), true
}

func ansNTLMAuth(c *answerCtx) (string, bool) {
	v := globalValue(c.f, "ntlm auth")
	if !v.OK {
		return "", false
	}
	a := strings.ToLower(v.Printed)
	switch a {
	case "disabled", "ntlmv2-only", "ntlmv1-permitted", "mschapv2-and-ntlmv2-only":
		return a, true
	}
	return "", false
}

func ansSMB1Enabled(c *answerCtx) (string, bool) {
	s, ok := ConfigPolicy(c.f)
	if !ok {
		return "", false
	}
	return yesNo(ConfigAccepts(s, "NT1")), true
}

// confSMBPorts is "smb ports" as a list of numbers.
func confSMBPorts(f *Facts) ([]int, configValue) {
	cv := globalValue(f, "smb ports")
	var out []int
	for _, t := range splitList(cv.Printed) {
		if n, err := strconv.Atoi(t); err == nil {
			out = append(out, n)
		}
	}
	return out, cv
}

// splitList splits a Samba list value on blanks, commas and semicolons
// (P_CMDLIST / P_LIST separators), keeping "..." groups whole.
func splitList(s string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
	for _, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
		case !quoted && (r == ' ' || r == '\t' || r == ',' || r == ';' || r == '\n'):
			flush()
		default:
			cur.WriteRune(r)
		}
	}
	flush()
	return out
}

func ansPortListed(c *answerCtx) (string, bool) {
	ports, cv := confSMBPorts(c.f)
	if !cv.OK {
		return "", false
	}
	return yesNo(slices.Contains(ports, targetPort(c.f))), true
}

// bindCovers reports whether "interfaces"/"bind interfaces only" let smbd
// listen on addr: with bind interfaces only = no smbd binds the wildcard
// address; otherwise one "interfaces" entry must name the address, a
// network holding it, or an interface carrying it (lo carries 127.0.0.1 and
// ::1; source3/lib/interface.c interpret_interface).
func bindCovers(f *Facts, addr string) (bool, bool) {
	bio := globalValue(f, "bind interfaces only")
	if !bio.OK {
		return false, false
	}
	if !boolValue(bio) {
		return true, true
	}
	ip, err := netip.ParseAddr(strings.Trim(addr, "[]"))
	if err != nil {
		return false, false
	}
	ip = ip.Unmap()
	unknown := false
	for _, tok := range splitList(globalValue(f, "interfaces").Printed) {
		tok = strings.SplitN(tok, ";", 2)[0]
		if covered, known := interfaceTokenCovers(f, tok, ip); covered {
			return true, true
		} else if !known {
			unknown = true
		}
	}
	if unknown {
		return false, false
	}
	return false, true
}

func interfaceTokenCovers(f *Facts, tok string, ip netip.Addr) (covered, known bool) {
	if pfx, err := netip.ParsePrefix(tok); err == nil {
		return pfx.Contains(ip), true
	}
	if a, err := netip.ParseAddr(tok); err == nil {
		return a.Unmap() == ip, true
	}
	if i := strings.IndexByte(tok, '/'); i > 0 {
		// ADDR/MASK with a dotted mask.
		a, err1 := netip.ParseAddr(tok[:i])
		m := net.ParseIP(tok[i+1:])
		if err1 == nil && m != nil && a.Is4() && m.To4() != nil {
			ones, _ := net.IPMask(m.To4()).Size()
			return netip.PrefixFrom(a, ones).Masked().Contains(ip), true
		}
		return false, false
	}
	if strings.EqualFold(tok, "lo") {
		return ip.IsLoopback(), true
	}
	if f.Net == nil {
		return false, false
	}
	for _, ifc := range f.Net.Interfaces {
		if m, _ := path.Match(tok, ifc.Name); m || ifc.Name == tok {
			for _, a := range ifc.Addrs {
				if p, err := netip.ParsePrefix(a); err == nil && p.Addr().Unmap() == ip {
					return true, true
				}
				if x, err := netip.ParseAddr(a); err == nil && x.Unmap() == ip {
					return true, true
				}
			}
		}
	}
	return false, true
}

func ansBindCovers(c *answerCtx) (string, bool) {
	ok, known := bindCovers(c.f, targetHost(c.f))
	if !known {
		return "", false
	}
	return yesNo(ok), true
}

// hostsExclusion is where hosts allow/deny exclude the remote checker.
type hostsExclusion struct {
	Where  string // none, global, ipc-section, share
	Reason string
	Value  configValue // the deciding list
}

// hostsExclude judges RemoteClientIP against [global], an explicit [IPC$]
// and the scored share, as `testparm CONF HOST IP` does
// (smbconf.AllowsHost, a port of lib/util/access.c). known=false without a
// client address: loopback probes are always let in, so only the config
// can tell.
func hostsExclude(f *Facts) (hostsExclusion, bool) {
	ip := f.RemoteClientIP
	if f.Config == nil {
		return hostsExclusion{}, false
	}
	if ip == "" {
		// Without the engine's address only "no list anywhere" is known:
		// then nothing can exclude it.
		if anyHostsList(f) {
			return hostsExclusion{}, false
		}
		return hostsExclusion{Where: "none"}, true
	}
	if ok, why := f.Config.AllowsHost("global", "", ip); !ok {
		return hostsExclusion{Where: "global", Reason: why, Value: decidingList(f, "global")}, true
	}
	if hasSection(f, "IPC$") {
		if ok, why := f.Config.AllowsHost("IPC$", "", ip); !ok {
			return hostsExclusion{Where: "ipc-section", Reason: why, Value: decidingList(f, "IPC$")}, true
		}
	}
	if f.Share != "" && hasSection(f, f.Share) {
		if ok, why := f.Config.AllowsHost(f.Share, "", ip); !ok {
			return hostsExclusion{Where: "share", Reason: why, Value: decidingList(f, f.Share)}, true
		}
	}
	return hostsExclusion{Where: "none"}, true
}

// anyHostsList reports whether hosts allow or hosts deny is set in any
// section smbd would apply to the engine ([global], [IPC$], the share).
func anyHostsList(f *Facts) bool {
	for _, sec := range []string{"global", "IPC$", f.Share} {
		if sec == "" || (sec != "global" && !hasSection(f, sec)) {
			continue
		}
		for _, p := range []string{"hosts allow", "hosts deny"} {
			if v := lookup(f, sec, p); v.OK && strings.TrimSpace(v.Printed) != "" {
				return true
			}
		}
	}
	return false
}

// decidingList is the hosts allow line of a section when set, else its
// hosts deny line: the line a fix touches.
func decidingList(f *Facts, section string) configValue {
	if a := lookup(f, section, "hosts allow"); a.OK && a.Printed != "" {
		return a
	}
	return lookup(f, section, "hosts deny")
}

// hasSection says whether smb.conf has share name, found as Lookup finds
// it (so "[%h-share]" counts as "myhost-share").
func hasSection(f *Facts, name string) bool {
	return f.Config != nil && f.Config.HasSection(name)
}

func ansHostsExclude(c *answerCtx) (string, bool) {
	h, ok := hostsExclude(c.f)
	return h.Where, ok
}

// userListed reports whether user is named in a valid/invalid users list;
// group entries (@g, +g, &g) make the answer unknown unless the user is
// also named directly.
func userListed(list, user string) (listed, hasGroups bool) {
	for _, t := range splitList(list) {
		if strings.HasPrefix(t, "@") || strings.HasPrefix(t, "+") || strings.HasPrefix(t, "&") {
			hasGroups = true
			continue
		}
		if strings.EqualFold(t, user) {
			listed = true
		}
	}
	return listed, hasGroups
}

// usersDenied judges "valid users"/"invalid users" of a section for user
// (source3/smbd/share_access.c user_ok_token): invalid users wins; a
// non-empty valid users must list the user.
func usersDenied(f *Facts, section, user string) (denied bool, cv configValue, known bool) {
	inv := lookup(f, section, "invalid users")
	if inv.OK && inv.Printed != "" {
		listed, groups := userListed(inv.Printed, user)
		if listed {
			return true, inv, true
		}
		if groups {
			return false, inv, false
		}
	}
	val := lookup(f, section, "valid users")
	if val.OK && val.Printed != "" {
		listed, groups := userListed(val.Printed, user)
		if listed {
			return false, val, true
		}
		if groups {
			return false, val, false
		}
		return true, val, true
	}
	return false, configValue{}, inv.OK || val.OK
}

// ipcUserDenied judges the scoring user against [IPC$] (or [global], whose
// lists the implicit IPC$ service inherits).
func ipcUserDenied(f *Facts) (bool, configValue, bool) {
	if f.User == "" || f.Config == nil {
		return false, configValue{}, false
	}
	sec := "global"
	if hasSection(f, "IPC$") {
		sec = "IPC$"
	}
	return usersDenied(f, sec, f.User)
}

func ansIPCUserDenied(c *answerCtx) (string, bool) {
	d, _, ok := ipcUserDenied(c.f)
	if !ok {
		return "", false
	}
	return yesNo(d), true
}

// rpcPipes is config.rpc_pipes with the line responsible.
func rpcPipes(f *Facts) (string, configValue, bool) {
	nps := globalValue(f, "nt pipe support")
	od := globalValue(f, "rpc start on demand helpers")
	if !nps.OK && !od.OK {
		return "", configValue{}, false
	}
	if nps.OK && !boolValue(nps) {
		return "nt-pipe-support-off", nps, true
	}
	if od.OK && !boolValue(od) {
		return "on-demand-off", od, true
	}
	return "ok", configValue{}, true
}

func ansRPCPipes(c *answerCtx) (string, bool) {
	a, _, ok := rpcPipes(c.f)
	return a, ok
}

// shareJudgement is config.share_state with its evidence.
type shareJudgement struct {
	State string
	Why   string
	Value configValue
}

// shareState judges the scored share as smb.conf (and the share's path on
// disk) set it, for client p.
func shareState(f *Facts, p configs.ClientProfile) (shareJudgement, bool) {
	if f.Share == "" || f.Config == nil {
		return shareJudgement{}, false
	}
	name := f.Share
	if !hasSection(f, name) {
		if hasSection(f, "homes") && strings.EqualFold(name, f.User) {
			return shareJudgement{State: "ok"}, true
		}
		return shareJudgement{State: "missing", Why: fmt.Sprintf("smb.conf has no [%s] section", name)}, true
	}
	if av := lookup(f, name, "available"); av.OK && !boolValue(av) {
		why := fmt.Sprintf("[%s] has available = no", name)
		if av.Origin.Note != "" {
			why = fmt.Sprintf("[%s] is unavailable: %s", name, av.Origin.Note)
		}
		return shareJudgement{State: "unavailable", Why: why, Value: av}, true
	}
	if sp := f.SharePath; sp != nil && sp.Err != "" {
		return shareJudgement{State: "path-missing", Why: fmt.Sprintf("the path of [%s] is not a usable directory: %s", name, sp.Err),
			Value: lookup(f, name, "path")}, true
	}
	if f.User != "" {
		if denied, cv, known := usersDenied(f, name, f.User); known && denied {
			return shareJudgement{State: "user-denied", Why: fmt.Sprintf("%s of [%s] excludes user %s", cv.Param, name, f.User), Value: cv}, true
		}
	}
	if f.RemoteClientIP != "" {
		if gok, _ := f.Config.AllowsHost("global", "", f.RemoteClientIP); gok {
			if ok, why := f.Config.AllowsHost(name, "", f.RemoteClientIP); !ok {
				return shareJudgement{State: "host-denied", Why: why, Value: decidingList(f, name)}, true
			}
		}
	}
	if enc := lookup(f, name, "server smb encrypt"); enc.OK && isRequired(enc.Printed) &&
		(p.Encryption == configs.EncryptionNone || rank(p.MaxDialect) < rank("SMB3_00")) {
		return shareJudgement{State: "encrypt-required", Value: enc,
			Why: fmt.Sprintf("[%s] requires encryption (server smb encrypt = required) and %s cannot encrypt", name, p.Name)}, true
	}
	if br := lookup(f, name, "browseable"); br.OK && !boolValue(br) {
		return shareJudgement{State: "hidden", Why: fmt.Sprintf("[%s] has browseable = no: NetShareEnum leaves it out of the listing", name), Value: br}, true
	}
	if abe := lookup(f, name, "access based share enum"); abe.OK && boolValue(abe) {
		return shareJudgement{State: "hidden", Why: fmt.Sprintf("[%s] has access based share enum = yes: users without access do not see it listed", name), Value: abe}, true
	}
	return shareJudgement{State: "ok"}, true
}

func ansShareState(c *answerCtx) (string, bool) {
	j, ok := shareState(c.f, c.client)
	return j.State, ok
}

// ---- client.* ----

func ansClientSMB1Only(c *answerCtx) (string, bool) {
	if c.client.MaxDialect == "" {
		return "", false
	}
	return yesNo(rank(c.client.MaxDialect) <= rank("NT1")), true
}

// ---- process.* ----

// smbdState is process.smbd_state.
func smbdState(f *Facts) (string, bool) {
	if f.Smbd.Err != "" && !f.Smbd.Running {
		return "", false
	}
	if !f.Smbd.Running || f.Smbd.Master == nil {
		return "not-running", true
	}
	switch f.Smbd.Master.State {
	case "T", "t":
		return "stopped", true
	case "D":
		return "unresponsive", true
	}
	if connected, known := tcpConnected(f); known && connected && f.Probe != nil && f.Probe.Multi.Class == probe.ClassTimeout {
		return "unresponsive", true
	}
	return "responsive", true
}

func ansSmbdState(c *answerCtx) (string, bool) { return smbdState(c.f) }

func ansUsesConf(c *answerCtx) (string, bool) {
	u, ok := usesThisConfig(c.f)
	if !ok {
		return "", false
	}
	return yesNo(u), true
}

func ansStartedBeforeChange(c *answerCtx) (string, bool) {
	if c.f.Smbd.Master == nil || c.f.Smbd.Master.Started.IsZero() || len(c.f.ConfigFiles) == 0 {
		return "", false
	}
	return yesNo(len(configChangedSinceStart(c.f)) > 0), true
}

// maxSmbd is "max smbd processes" and whether the children reached it
// (smbd-notifyd and smbd-cleanupd count: research scenarios.md row 9).
func maxSmbd(f *Facts) (limit, children int, reached, known bool) {
	cv := globalValue(f, "max smbd processes")
	if !cv.OK {
		return 0, 0, false, false
	}
	limit, _ = strconv.Atoi(strings.TrimSpace(cv.Printed))
	// smbd-notifyd and smbd-cleanupd take two of the slots
	// (source3/smbd/server.c counts every child), so 1 or 2 lets no client
	// in whether or not smbd runs now; otherwise the next client's child
	// must fit under the limit.
	if limit > 0 && limit <= 2 {
		return limit, len(f.Smbd.Children), true, true
	}
	if !f.Smbd.Running {
		return limit, 0, false, limit <= 0
	}
	children = len(f.Smbd.Children)
	return limit, children, limit > 0 && children+1 >= limit, true
}

func ansMaxSmbdReached(c *answerCtx) (string, bool) {
	_, _, reached, ok := maxSmbd(c.f)
	if !ok {
		return "", false
	}
	return yesNo(reached), true
}

func isStoppedOrStuck(p Process) bool { return p.State == "T" || p.State == "t" || p.State == "D" }

func ansChildDied(c *answerCtx) (string, bool) {
	for _, p := range c.f.Smbd.Children {
		if isStoppedOrStuck(p) {
			return "yes", true
		}
	}
	if len(logLines(c.f, 1, "panic", "smbd-panic", "oom")) > 0 {
		return "yes", true
	}
	if !c.f.Smbd.Running {
		return "", false
	}
	return "no", true
}

func dcerpcdRunning(f *Facts) bool {
	for _, p := range f.Smbd.Dcerpcd {
		if strings.HasPrefix(p.Comm, "samba-dcerpcd") || strings.Contains(strings.Join(p.Args, " "), "samba-dcerpcd") {
			return true
		}
	}
	return false
}

func ansDcerpcdRunning(c *answerCtx) (string, bool) {
	if c.f.Smbd.Err != "" && len(c.f.Smbd.Dcerpcd) == 0 {
		return "", false
	}
	return yesNo(dcerpcdRunning(c.f)), true
}

func ansRPCHelpersOK(c *answerCtx) (string, bool) {
	if c.f.RPCHelpers == nil {
		return "", false
	}
	for _, b := range c.f.RPCHelpers {
		if !b.Exists || !b.Executable {
			return "no", true
		}
	}
	return "yes", true
}

func ansRPCWorkerDied(c *answerCtx) (string, bool) {
	for _, p := range c.f.Smbd.Dcerpcd {
		if isStoppedOrStuck(p) {
			return "yes", true
		}
	}
	if len(logLines(c.f, 1, "rpc-panic", "rpc-worker-died")) > 0 {
		return "yes", true
	}
	if c.f.Smbd.Err != "" {
		return "", false
	}
	return "no", true
}

// ---- socket.* ----

// smbdPIDs are the PIDs of smbd processes (master, children, other
// masters).
func smbdPIDs(f *Facts) map[int]bool {
	m := map[int]bool{}
	if f.Smbd.Master != nil {
		m[f.Smbd.Master.PID] = true
	}
	for _, p := range f.Smbd.Children {
		m[p.PID] = true
	}
	for _, p := range f.Smbd.OtherSmbd {
		m[p.PID] = true
	}
	return m
}

// listenersOn returns the listeners on port.
func listenersOn(f *Facts, port int) []Listener {
	var out []Listener
	for _, l := range f.Sockets.Listeners {
		if l.Port == port {
			out = append(out, l)
		}
	}
	return out
}

// listeningOnPort is socket.listening_on_port with the owner's PID.
func listeningOnPort(f *Facts) (string, int, bool) {
	if f.Sockets.Err != "" && len(f.Sockets.Listeners) == 0 {
		return "", 0, false
	}
	ls := listenersOn(f, targetPort(f))
	if len(ls) == 0 {
		return "no", 0, true
	}
	pids := smbdPIDs(f)
	for _, l := range ls {
		if l.PID != 0 && pids[l.PID] {
			return "smbd", l.PID, true
		}
	}
	for _, l := range ls {
		if l.PID != 0 {
			return "other", l.PID, true
		}
	}
	// Owner unknown (the socket's fd could not be read): smbd when it runs
	// and smb.conf lists the port.
	ports, _ := confSMBPorts(f)
	if f.Smbd.Running && slices.Contains(ports, targetPort(f)) {
		return "smbd", 0, true
	}
	return "", 0, false
}

func ansListeningOnPort(c *answerCtx) (string, bool) {
	a, _, ok := listeningOnPort(c.f)
	return a, ok
}

func isWildcard(addr string) bool { return addr == "0.0.0.0" || addr == "::" || addr == "" }

// listenerCovers reports whether a listener accepts connections to host.
func listenerCovers(l Listener, host string) bool {
	if isWildcard(l.Addr) {
		if l.Addr == "::" {
			return true // a v6 wildcard socket also takes v4 unless v6only
		}
		a, err := netip.ParseAddr(strings.Trim(host, "[]"))
		return err != nil || a.Unmap().Is4()
	}
	a, err1 := netip.ParseAddr(l.Addr)
	b, err2 := netip.ParseAddr(strings.Trim(host, "[]"))
	return err1 == nil && err2 == nil && a.Unmap() == b.Unmap()
}

func boundToTarget(f *Facts) (bool, bool) {
	if f.Sockets.Err != "" && len(f.Sockets.Listeners) == 0 {
		return false, false
	}
	for _, l := range listenersOn(f, targetPort(f)) {
		if listenerCovers(l, targetHost(f)) {
			return true, true
		}
	}
	return false, true
}

func ansBoundToTarget(c *answerCtx) (string, bool) {
	b, ok := boundToTarget(c.f)
	if !ok {
		return "", false
	}
	return yesNo(b), true
}

// socketMismatch describes how smbd's listening sockets differ from what
// smb.conf says now ("" when they match).
func socketMismatch(f *Facts) (string, bool) {
	if !f.Smbd.Running || f.Smbd.Master == nil {
		return "", false
	}
	ports, pv := confSMBPorts(f)
	if !pv.OK || (f.Sockets.Err != "" && len(f.Sockets.Listeners) == 0) {
		return "", false
	}
	pids := smbdPIDs(f)
	live := map[int]bool{}
	var liveAddrs []Listener
	for _, l := range f.Sockets.Listeners {
		if l.PID == f.Smbd.Master.PID || (l.PID == 0 && slices.Contains(ports, l.Port)) || (l.PID != 0 && pids[l.PID] && l.PID == f.Smbd.Master.PID) {
			live[l.Port] = true
			liveAddrs = append(liveAddrs, l)
		}
	}
	var livePorts []int
	for p := range live {
		livePorts = append(livePorts, p)
	}
	sort.Ints(livePorts)
	want := slices.Clone(ports)
	sort.Ints(want)
	want = slices.Compact(want)
	if !slices.Equal(livePorts, want) {
		return fmt.Sprintf("smb ports = %s, but smbd listens on %s", joinInts(want), joinIntsOr(livePorts, "no port")), true
	}
	bio := boolValue(globalValue(f, "bind interfaces only"))
	for _, l := range liveAddrs {
		if !bio && !isWildcard(l.Addr) {
			return fmt.Sprintf("bind interfaces only = no (listen on every address), but smbd listens on %s only", l.Addr), true
		}
		if bio && isWildcard(l.Addr) {
			return "bind interfaces only = yes, but smbd listens on the wildcard address: it was started before the change", true
		}
		if bio {
			if ok, known := bindCovers(f, l.Addr); known && !ok {
				return fmt.Sprintf("interfaces = %s does not include %s, where smbd listens", globalValue(f, "interfaces").Printed, l.Addr), true
			}
		}
	}
	return "", true
}

func joinInts(ns []int) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, " ")
}

func joinIntsOr(ns []int, none string) string {
	if len(ns) == 0 {
		return none
	}
	return joinInts(ns)
}

func ansSocketsMatchConfig(c *answerCtx) (string, bool) {
	m, ok := socketMismatch(c.f)
	if !ok {
		return "", false
	}
	return yesNo(m == ""), true
}

func ansAcceptBacklog(c *answerCtx) (string, bool) {
	if c.f.Sockets.Err != "" && len(c.f.Sockets.Listeners) == 0 {
		return "", false
	}
	for _, l := range listenersOn(c.f, targetPort(c.f)) {
		if l.Backlog > 0 {
			return "yes", true
		}
	}
	return "no", true
}

// ---- firewall.* and net.* ----

// firewallVerdict is what the first firewall rule matching a new TCP
// connection from the remote checker (any source when unknown) to the
// target port does, with that rule. Rules of output/forward chains do not
// see incoming connections.
func firewallVerdict(f *Facts) (string, *FirewallRule, bool) {
	if len(f.Firewall.Tools) == 0 {
		return "", nil, false
	}
	port := targetPort(f)
	for i := range f.Firewall.Rules {
		r := &f.Firewall.Rules[i]
		ch := strings.ToLower(r.Chain)
		if strings.Contains(ch, "output") || strings.Contains(ch, "forward") || strings.Contains(ch, "postrouting") {
			continue
		}
		if len(r.Ports) > 0 && !slices.Contains(r.Ports, port) {
			continue
		}
		if !sourceMatches(r.Source, f.RemoteClientIP) {
			continue
		}
		switch strings.ToLower(r.Action) {
		case "accept":
			return "accept", r, true
		case "drop":
			return "drop", r, true
		case "reject":
			return rejectKind(r.RejectWith), r, true
		}
	}
	return "accept", nil, true
}

// sourceMatches: a rule without a source matches everyone; with one, it
// matches the client address when known (and is assumed not to when the
// address is unknown).
func sourceMatches(src, client string) bool {
	src = strings.TrimSpace(src)
	if src == "" || src == "0.0.0.0/0" || src == "::/0" {
		return true
	}
	if client == "" {
		return false
	}
	neg := strings.HasPrefix(src, "!")
	src = strings.TrimSpace(strings.TrimPrefix(src, "!"))
	c, err := netip.ParseAddr(client)
	if err != nil {
		return false
	}
	m := false
	if p, err := netip.ParsePrefix(src); err == nil {
		m = p.Contains(c.Unmap())
	} else if a, err := netip.ParseAddr(src); err == nil {
		m = a.Unmap() == c.Unmap()
	}
	return m != neg
}

// rejectKind maps a reject type to what the client sees: errno 111 for a
// TCP reset or ICMP port-unreachable (the iptables and nft default), 113
// for host-unreachable / host- or admin-prohibited (linux
// net/ipv4/icmp.c icmp_err_convert, research scoring-engine.md §2).
func rejectKind(with string) string {
	w := strings.ToLower(with)
	switch {
	case w == "", strings.Contains(w, "reset"), strings.Contains(w, "port-unreach"), strings.Contains(w, "port unreach"):
		return "reject-refused"
	}
	return "reject-unreachable"
}

func ansFirewallVerdict(c *answerCtx) (string, bool) {
	v, _, ok := firewallVerdict(c.f)
	return v, ok
}

func ansTargetAddress(c *answerCtx) (string, bool) {
	a, err := netip.ParseAddr(strings.Trim(targetHost(c.f), "[]"))
	if err != nil {
		return "", false
	}
	if a.Unmap().IsLoopback() {
		return "up", true
	}
	if c.f.Net == nil {
		return "", false
	}
	for _, ifc := range c.f.Net.Interfaces {
		for _, s := range ifc.Addrs {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				continue
			}
			if p.Addr().Unmap() == a.Unmap() {
				if ifc.Up {
					return "up", true
				}
				return "link-down", true
			}
		}
	}
	return "missing", true
}

func ansRouteToClient(c *answerCtx) (string, bool) {
	if c.f.Net == nil || c.f.Net.RouteToClient == nil {
		return "", false
	}
	return yesNo(*c.f.Net.RouteToClient), true
}

// ---- probe.* ----

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
	case probe.ClassSkipped:
		return "", false
	}
	return "failed", true
}

// ---- log.* ----

// logsRead reports whether any log source was read (so "no line" means no).
func logsRead(f *Facts) bool { return len(f.Logs.Sources) > 0 }

func ansLogHostsDenied(c *answerCtx) (string, bool) {
	if len(logLines(c.f, 1, LogDenied)) > 0 {
		return "yes", true
	}
	if !logsRead(c.f) {
		return "", false
	}
	return "no", true
}

// logAuthStatus is log.auth_status with the line that shows it: the
// newest authentication failure for the scoring user (any user when none
// is configured).
func logAuthStatus(f *Facts) (string, *LogLine, bool) {
	lines := logLines(f, 0, LogAuthFailure, LogAccountDisabled, LogNTLMv1Refused)
	for i := len(lines) - 1; i >= 0; i-- {
		l := lines[i]
		if f.User != "" && l.User != "" && !strings.EqualFold(l.User, f.User) {
			continue
		}
		st := strings.ToUpper(l.Status + " " + l.Text)
		switch {
		case l.Kind == LogAccountDisabled || strings.Contains(st, "ACCOUNT_DISABLED"):
			return "account-disabled", &lines[i], true
		case l.Kind == LogNTLMv1Refused:
			return "ntlmv1-rejected", &lines[i], true
		case strings.Contains(st, "NO_SUCH_USER"):
			return "no-such-user", &lines[i], true
		case strings.Contains(st, "WRONG_PASSWORD"):
			return "wrong-password", &lines[i], true
		}
		return "other", &lines[i], true
	}
	if !logsRead(f) {
		return "", nil, false
	}
	return "none", nil, true
}

func ansLogAuthStatus(c *answerCtx) (string, bool) {
	a, _, ok := logAuthStatus(c.f)
	return a, ok
}

func ansLogDcerpcdError(c *answerCtx) (string, bool) {
	if len(logLines(c.f, 1, LogRPCHelper, LogRPCExecFailed)) > 0 {
		return "yes", true
	}
	if !logsRead(c.f) {
		return "", false
	}
	return "no", true
}

// ---- account.* ----

// accountStatus is account.status.
func accountStatus(f *Facts) (string, bool) {
	if f.User == "" {
		return "anonymous", true
	}
	a := f.Account
	if a == nil || (a.Err != "" && !a.InPassdb) {
		return "", false
	}
	flags := strings.ToUpper(a.Flags)
	switch {
	case !a.InPassdb:
		return "missing", true
	case strings.Contains(flags, "D"):
		return "disabled", true
	case strings.Contains(flags, "L"):
		return "locked", true
	case !a.UnixAccount:
		return "no-unix-account", true
	case a.Expired:
		return "expired", true
	case a.MustChange:
		return "must-change", true
	}
	return "ok", true
}

func ansAccountStatus(c *answerCtx) (string, bool) { return accountStatus(c.f) }
