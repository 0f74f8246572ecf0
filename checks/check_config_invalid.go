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
// loads but silently drops settings (research samba-params.md (e) 2, 8,
// 12, 13, 17).
func init() { Register(NewCheck(PatternConfigInvalid, checkConfigInvalid)) }

// Causes (14-config-invalid.yaml).
const (
	causeLoadFails       = "load-fails"
	causeIgnoredSettings = "ignored-settings"
)

// droppingWarnings are the smbconf warnings that mean a line the author
// wrote is not in force. Others (deprecations, testparm's own log level)
// change nothing smbd does.
var droppingWarnings = []string{
	"unknown parameter", "in share [", "include file", "line without '='",
	"byte order mark", "no path in share", "binary data",
}

func checkConfigInvalid(f *Facts) []Finding {
	var out []Finding
	if f.ConfigErr != nil {
		var le *smbconf.LoadError
		fatal := f.Config != nil && len(f.Config.Fatal) > 0
		if errors.As(f.ConfigErr, &le) || fatal || f.Config == nil {
			out = append(out, loadFailsFinding(f))
		}
	}
	if f.Config != nil && f.ConfigErr == nil {
		var ev []Evidence
		for _, w := range f.Config.Warnings {
			if isDroppingWarning(w.Msg) {
				ev = append(ev, Evidence{Kind: "config", File: w.File, Line: w.Line, Text: w.Msg})
			}
		}
		if len(ev) > 0 {
			fd := newFinding(PatternConfigInvalid, causeIgnoredSettings, Warning,
				fmt.Sprintf("smb.conf loads, but %d line(s) are ignored: %s", len(ev), ev[0].Text))
			fd.Evidence = ev
			fd.Fix = &Fix{Kind: FixManual, Summary: "correct each ignored line: parameter names use spaces (not underscores), global parameters go in [global], includes must exist"}
			out = append(out, fd)
		}
	}
	return out
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

func loadFailsFinding(f *Facts) Finding {
	msg := f.ConfigErr.Error()
	fd := newFinding(PatternConfigInvalid, causeLoadFails, Critical, "smb.conf does not load: "+msg)
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
		fd.Explanation = "smbd refuses to start with this file (\"Can't load ... - run testparm to debug it\" in the compiled-in log.smbd)."
		fd.ScoringMessage = "SMB operation failed: [Errno 111] Connection refused"
	}
	fd.Evidence = append(fd.Evidence, logEvidence(logLines(f, 2, LogConfigLoadFailed, LogInvalidValue))...)
	fd.Fix = &Fix{Kind: FixManual, Summary: "correct the line named above (a value from smb.conf(5)); restart smbd only after testparm loads the file",
		Steps: []string{fmt.Sprintf("testparm -s %s >/dev/null && systemctl restart smbd", smbConfForCommands(f))},
		Why:   "never restart smbd on a file testparm rejects"}
	return fd
}
