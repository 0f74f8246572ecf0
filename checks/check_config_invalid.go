package checks

import (
	"errors"
	"fmt"
	"strings"

	"github.com/smb-agent/smb-agent/configs/smbconf"
)

// config-invalid: smb.conf does not load (one invalid enum or boolean value,
// a removed dialect such as SMB2_22, a "[" without "]", an include loop:
// testparm exits 1 with "Error loading services.", smbd refuses to start,
// and a restart turns a running server into connection refused), or it
// loads but silently drops settings (lib/util/tini.c and
// source3/param/loadparm.c; each rule is a case in configs/smbconf's
// TestLexRules and TestDiffCorpus, which compare with testparm).
func init() {
	RegisterPattern(Pattern{ID: PatternConfigInvalid, Fires: configInvalidFires, Causes: map[string]CauseBuilder{
		causeLoadFails: buildLoadFails,
		causeIgnoredSettings: func(f *Facts, _ Trigger, fd *Finding) {
			ev := droppedLines(f)
			if len(ev) == 0 {
				return
			}
			fd.Summary = fmt.Sprintf("smb.conf loads, but %d line(s) are ignored: %s", len(ev), ev[0].Text)
			fd.Evidence = append(fd.Evidence, ev...)
			fd.Fix = &Fix{Kind: FixManual, Summary: "correct each ignored line: parameter names use spaces (not underscores), global parameters go in [global], includes must exist"}
		},
	}})
}

// Causes (14-config-invalid.yaml).
const (
	causeLoadFails       = "load-fails"
	causeIgnoredSettings = "ignored-settings"
)

// droppingWarnings are the loader warnings that mean a setting is not in
// force (testparm prints them and carries on).
var droppingWarnings = []string{
	"unknown parameter", "in share [", "include file", "line without '='",
	"byte order mark", "no path in share", "binary data",
}

// configInvalidFires: Samba refuses smb.conf, or drops some of its lines.
func configInvalidFires(f *Facts) []Trigger {
	if f.ConfigErr != nil {
		var le *smbconf.LoadError
		if errors.As(f.ConfigErr, &le) || (f.Config != nil && len(f.Config.Fatal) > 0) || f.Config == nil {
			return []Trigger{{}}
		}
	}
	if f.Config != nil && f.ConfigErr == nil && len(droppedLines(f)) > 0 {
		return []Trigger{{}}
	}
	return nil
}

func droppedLines(f *Facts) []Evidence {
	if f.Config == nil {
		return nil
	}
	var ev []Evidence
	for _, w := range f.Config.Warnings {
		if isDroppingWarning(w.Msg) {
			ev = append(ev, Evidence{Kind: "config", File: w.File, Line: w.Line, Text: w.Msg})
		}
	}
	return ev
}

func isDroppingWarning(msg string) bool {
	m := strings.ToLower(msg)
	for _, s := range droppingWarnings {
		if strings.Contains(m, strings.ToLower(s)) {
			return true
		}
	}
	return false
}

func buildLoadFails(f *Facts, _ Trigger, fd *Finding) {
	msg := "not read"
	if f.ConfigErr != nil {
		msg = f.ConfigErr.Error()
	}
	fd.Summary = "smb.conf does not load: " + msg
	fd.Evidence = configLoadEvidence(f)
	if len(fd.Evidence) == 1 && fd.Evidence[0].File == "" {
		var le *smbconf.LoadError
		if errors.As(f.ConfigErr, &le) {
			fd.Evidence[0].File, fd.Evidence[0].Line, fd.Evidence[0].Text = le.File, le.Line, le.Msg
		}
	}
	if f.Smbd.Running {
		fd.Explanation = "The running smbd keeps the settings it loaded before; a restart (or a reboot) will fail and leave the port closed."
	} else {
		fd.Explanation = withRange(f, "smbd refuses to start with this file", smbconf.BehaviourConfigLoadFailsStart) +
			" (" + cantLoadLine(f) + " in the compiled-in log.smbd)."
		fd.ScoringMessage = "SMB operation failed: [Errno 111] Connection refused"
	}
	fd.Evidence = append(fd.Evidence, logEvidence(logLines(f, 2, LogConfigLoadFailed, LogInvalidValue))...)
	fd.Fix = &Fix{Kind: FixManual, Summary: "correct the line named above (a value from smb.conf(5)); restart smbd only after testparm loads the file",
		Steps: []string{fmt.Sprintf("testparm -s %s >/dev/null && systemctl restart smbd", smbConfForCommands(f))},
		Why:   "never restart smbd on a file testparm rejects"}
}

// cantLoadLine is the line smbd writes when its smb.conf does not load at
// start on this host's release: "Can't load X - run testparm to debug it"
// where that is known (4.17 and later), 4.13's "error opening config file"
// where it is known not to be, both otherwise.
func cantLoadLine(f *Facts) string {
	const cant, opening = "\"Can't load ... - run testparm to debug it\"", "\"error opening config file '...'\""
	b, ok := smbconf.LookupBehaviour(smbconf.BehaviourLogCantLoadConfig)
	switch {
	case behaviourKnownToHold(f, smbconf.BehaviourLogCantLoadConfig):
		return cant
	case ok && f.SambaVersion != (smbconf.SambaVersion{}) && !smbconf.TableFor(f.SambaVersion).Outside && !b.Holds(f.SambaVersion):
		return opening
	}
	return cant + " (" + behaviourRange(f, smbconf.BehaviourLogCantLoadConfig) + "; " + opening + " on 4.13)"
}
