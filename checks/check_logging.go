package checks

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/smb-agent/smb-agent/checks/probe"
	"github.com/smb-agent/smb-agent/configs/smbconf"
)

// logging-insufficient: smbd's log level is too low to hold the evidence a
// failure needs. Observed on Samba 4.17.12 (test/
// TestGatherDefaultLogLevelIsTooLow reproduces the default): levels 0-2
// write nothing about a failed negotiation; the client's offered dialects
// ("Requested protocol [...]", "No protocol supported !") are class smb2 at
// level 3 (the default class at level 3 on 4.13: offerClass), and failed logins (auth_audit "Auth: ... status [...]") are
// level 2. "log level = 1 smb2:3 auth_audit:2" is enough and cheap, and
// new connections pick it up without a reload or restart. No "log level"
// line at all means an effective level 0, although testparm prints 1.
func init() {
	registerAnswer("log.level_sufficient", ansLogLevelSufficient)
	RegisterPattern(Pattern{ID: PatternLogging, Fires: loggingFires,
		Causes: map[string]CauseBuilder{causeLogLevelLow: buildLogLevelLow}})
}

const causeLogLevelLow = "log-level-too-low"

// recommendedLogLevel is the line the agent recommends where the client's
// offer is class smb2 (offerClass).
const recommendedLogLevel = "1 auth_audit:2 smb2:3"

// offerClass is the debug class whose level 3 logs a client's offered
// dialects on this host's release: smb2, or the default class ("all") on
// releases that log them there (registry: log-negotiate-offer-*-level3,
// observed on every release of the matrix).
func offerClass(f *Facts) string {
	if b, ok := smbconf.LookupBehaviour(smbconf.BehaviourLogOfferAllLevel3); ok &&
		f.SambaVersion != (smbconf.SambaVersion{}) && b.Holds(f.SambaVersion) {
		return "all"
	}
	return "smb2"
}

// offerBehaviour is the registry entry offerClass rests on.
func offerBehaviour(f *Facts) string {
	if offerClass(f) == "all" {
		return smbconf.BehaviourLogOfferAllLevel3
	}
	return smbconf.BehaviourLogOfferSMB2Level3
}

// logLevels is smbd's effective debug level per class ("all" for the
// default class), as the log gatherer worked it out (smbd -d wins over
// the "log level" line; no line at all means 0). smb.conf's model cannot
// say: testparm runs with log level 1 and ignores the line.
func logLevels(f *Facts) (map[string]int, bool) {
	if len(f.Logs.Level) == 0 {
		return nil, false
	}
	return f.Logs.Level, true
}

// parseDebugLevels reads "1 smb2:3 auth_audit:2" (source3/lib/debug.c
// debug_parse_levels: a bare number is the "all" level, CLASS:N sets one
// class).
func parseDebugLevels(s string) map[string]int {
	out := map[string]int{"all": 0}
	for _, t := range splitList(s) {
		if cls, lvl, ok := strings.Cut(t, ":"); ok {
			if n, err := strconv.Atoi(lvl); err == nil {
				out[strings.ToLower(cls)] = n
			}
			continue
		}
		if n, err := strconv.Atoi(t); err == nil {
			out["all"] = n
		}
	}
	return out
}

// classLevel is the level a debug class logs at.
func classLevel(lv map[string]int, class string) int {
	if n, ok := lv[class]; ok {
		return n
	}
	return lv["all"]
}

// mergedLogLevel keeps the current levels and raises the offer's class
// (offerClass: smb2, or "all") to 3 and auth_audit to 2; classes at the
// "all" level are left out, as Samba would apply "all" to them anyway.
func mergedLogLevel(lv map[string]int, offer string) string {
	m := map[string]int{}
	old := lv["all"]
	for k, v := range lv {
		if k == "all" || v != old {
			m[k] = v // a class at the "all" level follows it
		}
	}
	if m["all"] < 1 {
		m["all"] = 1
	}
	if classLevel(m, offer) < 3 {
		m[offer] = 3
	}
	if classLevel(m, "auth_audit") < 2 {
		m["auth_audit"] = 2
	}
	return levelText(m)
}

type logNeed struct {
	class     string
	level     int
	what      string
	behaviour string // the registry entry that says so
}

// evidenceNeed is the debug class and level a pattern's log evidence
// needs on this host's release.
func evidenceNeed(pattern string, f *Facts) (logNeed, bool) {
	switch pattern {
	case PatternProtocolMismatch:
		return logNeed{offerClass(f), 3, "the client's offered dialects (\"Requested protocol [...]\", \"No protocol supported !\")", offerBehaviour(f)}, true
	case PatternLoginFailed:
		return logNeed{"auth_audit", 2, "why a login failed (\"Auth: ... status [NT_STATUS_...]\")", smbconf.BehaviourLogAuthFailureLevel2}, true
	}
	return logNeed{}, false
}

// loggingNote explains, for a finding of pattern, that its log evidence
// cannot exist at the current level, and how to raise it.
func loggingNote(pattern string, f *Facts) string {
	need, ok := evidenceNeed(pattern, f)
	if !ok {
		return ""
	}
	lv, known := logLevels(f)
	if !known || classLevel(lv, need.class) >= need.level {
		return ""
	}
	return fmt.Sprintf("smbd logs %s only at debug level %d for class %s (%s; now %d): add \"log level = %s\" to [global]; it takes effect on the next connection without a restart (%s)",
		need.what, need.level, need.class, behaviourRange(f, need.behaviour), classLevel(lv, need.class), mergedLogLevel(lv, offerClass(f)),
		behaviourRange(f, smbconf.BehaviourNewConnectionRereads))
}

// missingEvidence lists the failures the probe saw whose evidence smbd's
// current log level does not write.
func missingEvidence(f *Facts) (missing []string, known bool) {
	lv, known := logLevels(f)
	if !known || f.Probe == nil {
		return nil, false
	}
	if s, ok := smb1Probe(f, probe.OfferPysmb); ok && s.Class == probe.ClassNoCommonDialect && smb1ClientRefused(f) && classLevel(lv, offerClass(f)) < 3 && len(f.Logs.Offers) == 0 {
		missing = append(missing, fmt.Sprintf("the failed negotiation (class %s needs level 3)", offerClass(f)))
	}
	if l := f.Probe.Login; l != nil && isAuthFailure(l.Class) && classLevel(lv, "auth_audit") < 2 {
		if a, _, ok := logAuthStatus(f); !ok || a == "none" {
			missing = append(missing, "the failed login (class auth_audit needs level 2)")
		}
	}
	return missing, true
}

// ansLogLevelSufficient is log.level_sufficient.
func ansLogLevelSufficient(c *answerCtx) (string, bool) {
	m, ok := missingEvidence(c.f)
	if !ok {
		return "", false
	}
	return yesNo(len(m) == 0), true
}

// loggingFires: the probe saw a failure whose evidence the logs lack.
func loggingFires(f *Facts) []Trigger {
	if m, ok := missingEvidence(f); ok && len(m) > 0 {
		return []Trigger{{}}
	}
	return nil
}

func buildLogLevelLow(f *Facts, _ Trigger, fd *Finding) {
	lv, _ := logLevels(f)
	missing, _ := missingEvidence(f)
	cv := globalValue(f, "log level")
	fd.Summary = fmt.Sprintf("smbd's log level (%s) is too low to record %s", levelText(lv), strings.Join(missing, " or "))
	fd.Explanation = fmt.Sprintf("Levels 0-2 write nothing about a failed negotiation; the client's offer is logged at level 3 for class %s (%s), and auth failures at level 2 for class auth_audit (%s). The line takes effect on the next connection, without reload or restart (%s).",
		offerClass(f), behaviourRange(f, offerBehaviour(f)), behaviourRange(f, smbconf.BehaviourLogAuthFailureLevel2), behaviourRange(f, smbconf.BehaviourNewConnectionRereads))
	if cv.OK {
		fd.Evidence = append(fd.Evidence, cv.Evidence())
	}
	merged := mergedLogLevel(lv, offerClass(f))
	fd.Fix = &Fix{Kind: FixConfig, Summary: "set log level = " + merged + " in [global]",
		Changes: []Change{configChange(cv, merged)},
		Why:     "raises only the two classes the evidence needs; the rest stays at its level",
		Risk:    "more log volume: remove the line once the cause is found"}
}

// levelText writes levels as smb.conf's "log level" takes them: the "all"
// level, then the classes that differ from it.
func levelText(lv map[string]int) string {
	all := lv["all"]
	var keys []string
	for k, v := range lv {
		if k != "all" && v != all {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := []string{strconv.Itoa(all)}
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s:%d", k, lv[k]))
	}
	return strings.Join(parts, " ")
}

func isAuthFailure(c probe.Class) bool {
	switch c {
	case probe.ClassLogonFailure, probe.ClassBadPassword, probe.ClassUnknownUser, probe.ClassAccountDisabled:
		return true
	}
	return false
}

// smb1ClientRefused reports whether a client the agent judges opens with an
// SMB1 NEGOTIATE (pysmb's way) and is refused, by smb.conf or by the live
// smbd. Only such a failure is what the smb2:3 lines would record: when
// every configured client negotiates SMB2 directly, the agent's own
// pysmb-style probe failing is no client's failure and needs no evidence.
func smb1ClientRefused(f *Facts) bool {
	cfg, cfgOK := ConfigPolicy(f)
	if f.ConfigErr != nil {
		cfgOK = false
	}
	live, liveOK := LivePolicy(f.Probe)
	live.Release = f.SambaVersion
	for _, c := range judgedClients(f) {
		if len(c.Profile.SMB1Offer) == 0 {
			continue
		}
		if liveOK {
			if v, ok := liveVerdict(f, c.Profile, live); ok && !v.OK {
				return true
			}
		}
		if cfgOK && !JudgeClient(c.Profile, cfg).OK {
			return true
		}
	}
	return false
}
