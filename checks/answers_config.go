package checks

import (
	"fmt"
	"net"
	"net/netip"
	"path"
	"slices"
	"strings"

	"github.com/smb-agent/smb-agent/configs"
	"github.com/smb-agent/smb-agent/configs/smbconf"
)

// Answer functions of the config.* facts (see answers.go).

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

// confSMBPorts is the TCP ports smbd listens on, from the parameter that
// holds them in the running release ("smb ports" up to 4.22, "server smb
// transports" from 4.23: smbconf.Config.SMBListeners).
func confSMBPorts(f *Facts) ([]int, configValue) {
	if f == nil || f.Config == nil {
		return nil, globalValue(f, "smb ports")
	}
	return f.Config.SMBTCPPorts(), globalValue(f, f.Config.SMBPortsParameter())
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
	if ok, why := f.Config.AllowsHost("global", "", ip, f.Net.HostAddrs()); !ok {
		return hostsExclusion{Where: "global", Reason: why, Value: decidingList(f, "global")}, true
	}
	if hasSection(f, "IPC$") {
		if ok, why := f.Config.AllowsHost("IPC$", "", ip, f.Net.HostAddrs()); !ok {
			return hostsExclusion{Where: "ipc-section", Reason: why, Value: decidingList(f, "IPC$")}, true
		}
	}
	if f.Share != "" && hasSection(f, f.Share) {
		if ok, why := f.Config.AllowsHost(f.Share, "", ip, f.Net.HostAddrs()); !ok {
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

// rpcPipes is config.rpc_pipes with the line responsible. "rpc start on
// demand helpers" counts only on a release that has it: before
// samba-dcerpcd it is an unknown parameter smbd ignores.
func rpcPipes(f *Facts) (string, configValue, bool) {
	nps := globalValue(f, "nt pipe support")
	var od configValue
	if releaseDoes(f, smbconf.BehaviourRPCStartOnDemand) {
		od = globalValue(f, "rpc start on demand helpers")
	}
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
		if gok, _ := f.Config.AllowsHost("global", "", f.RemoteClientIP, f.Net.HostAddrs()); gok {
			if ok, why := f.Config.AllowsHost(name, "", f.RemoteClientIP, f.Net.HostAddrs()); !ok {
				return shareJudgement{State: "host-denied", Why: why, Value: decidingList(f, name)}, true
			}
		}
	}
	// Only the share's own line: a [global] requirement refuses the session
	// setup before any tree connect, and protocol-mismatch fixes it there
	// (a second fix would add the line to the share as well).
	if enc := lookup(f, name, encryptParam(f)); enc.OK && isRequired(enc.Printed) && enc.Origin != globalValue(f, enc.Param).Origin &&
		(p.Encryption == configs.EncryptionNone || rank(p.MaxDialect) < rank("SMB3_00")) {
		return shareJudgement{State: "encrypt-required", Value: enc,
			Why: fmt.Sprintf("[%s] requires encryption (%s = required) and %s cannot encrypt", name, enc.Param, p.Name)}, true
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
