package checks

import (
	"fmt"
	"strings"

	"github.com/smb-agent/smb-agent/configs"
	"github.com/smb-agent/smb-agent/configs/smbconf"
)

// smb1-enabled: smbd accepts SMB1 (NT1). A warning even when a client needs
// it: SMB1 has no pre-authentication integrity, only MD5 signing, no
// encryption, and is the protocol family of MS17-010 (EternalBlue); Samba
// disabled it by default in 4.11 (WHATSNEW.txt "SMB1 is disabled by
// default"). pysmb does not need it: it negotiates SMB2_02.
func init() {
	b := func(f *Facts, _ Trigger, fd *Finding) { buildSMB1Finding(f, fd) }
	RegisterPattern(Pattern{ID: PatternSMB1Enabled, Fires: smb1EnabledFires,
		Causes: map[string]CauseBuilder{causeSMB1NotNeeded: b, causeSMB1Needed: b}})
}

// Causes (13-smb1-enabled.yaml).
const (
	causeSMB1NotNeeded = "smb1-not-needed"
	causeSMB1Needed    = "smb1-needed"
)

func smb1On(f *Facts) (cfgOn, liveOn bool) {
	cfg, cfgOK := ConfigPolicy(f)
	cfgOn = cfgOK && f.ConfigErr == nil && ConfigAccepts(cfg, "NT1")
	if b := LiveAccepted(f.Probe)["NT1"]; b != nil {
		liveOn = *b
	}
	return cfgOn, liveOn
}

// smb1EnabledFires: smb.conf allows NT1 or the running smbd accepted it.
func smb1EnabledFires(f *Facts) []Trigger {
	if cfgOn, liveOn := smb1On(f); cfgOn || liveOn {
		return []Trigger{{}}
	}
	return nil
}

func buildSMB1Finding(f *Facts, fd *Finding) {
	cfg, _ := ConfigPolicy(f)
	cfgOn, liveOn := smb1On(f)
	var needers []string
	var all []configs.ClientProfile
	for _, c := range judgedClients(f) {
		all = append(all, c.Profile)
		if rank(c.Profile.MaxDialect) <= rank("NT1") {
			needers = append(needers, c.Profile.Name)
		}
	}
	where := "smb.conf allows it"
	switch {
	case cfgOn && liveOn:
		where = "smb.conf allows it and smbd accepted an NT1 negotiate"
	case liveOn:
		where = "smbd accepted an NT1 negotiate (smb.conf does not allow it: see stale-config)"
	}
	minV := globalValue(f, "server min protocol")
	if fd.Cause == causeSMB1Needed {
		fd.Summary = fmt.Sprintf("SMB1 (NT1) is enabled (%s) because %s speaks only SMB1", where, strings.Join(needers, ", "))
		fd.Explanation = "SMB1 stays a risk while the client exists: it exposes the whole server. Allow the SMB ports only from that client and the systems that need the server, and plan its upgrade."
		fd.Fix = &Fix{Kind: FixManual, Summary: "plan the SMB1 client's upgrade; until then limit the SMB ports to the hosts that need them (hosts allow and a firewall rule)",
			Risk: "keep NT1 only as long as the client exists; do not add ntlm auth = ntlmv1-permitted or lanman auth unless that client needs them"}
	} else {
		need, ok := NeededMin(all, cfg.Max)
		if !ok || rank(need) < rank("SMB2_02") {
			need = "SMB2_02"
		}
		fd.Summary = fmt.Sprintf("SMB1 (NT1) is enabled (%s) and no configured client needs it", where)
		fd.Explanation = "pysmb and every current client negotiate SMB2_02 or later; SMB1 only adds attack surface (no pre-authentication integrity, downgrade, EternalBlue's protocol family)."
		fd.Fix = &Fix{Kind: FixConfig, Summary: "set server min protocol = " + need,
			Changes: []Change{configChange(minV, need)},
			Why:     withRange(f, need+" is the highest minimum every configured client can still negotiate; new connections read it without a restart", smbconf.BehaviourNewConnectionRereads),
			Risk:    "clients using NT1 right now are cut off: check smbstatus first"}
	}
	fd.Evidence = append(fd.Evidence, minV.Evidence(), globalValue(f, "server max protocol").Evidence())
	if liveOn {
		fd.Evidence = append(fd.Evidence, probeEvidence("SMB1 NEGOTIATE offering only \"NT LM 0.12\": accepted"))
	}
}
