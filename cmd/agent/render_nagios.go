package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/smb-agent/smb-agent/checks"
)

// renderNagios writes one line in the Nagios plugin format (Nagios Plugin
// Development Guidelines, "Plugin Output" and "Performance data"):
//
//	SMB CRITICAL - protocol-mismatch: ... (+1 more) | dialects_live=1;;;0;6 ...
//
// The exit code is the report's status, so the agent works unchanged as a
// Nagios/Icinga check. The text never contains '|' or a newline, which
// would break the perfdata split.
func renderNagios(w io.Writer, r *checks.Report) error {
	text := "no problem found: " + r.Target + " serves " + strings.Join(r.Clients, ", ")
	if len(r.Findings) > 0 {
		f := r.Findings[0]
		text = f.Pattern + ": " + f.Summary
		if n := len(r.Findings) - 1; n > 0 {
			text += fmt.Sprintf(" (+%d more)", n)
		}
	} else if len(r.Errors) > 0 {
		text = "agent error: " + r.Errors[0]
	}
	text = strings.NewReplacer("|", "/", "\n", " ", "\r", " ").Replace(text)
	var crit, warn int
	for _, f := range r.Findings {
		switch f.Severity {
		case checks.Critical:
			crit++
		case checks.Warning:
			warn++
		}
	}
	live, cfg := 0, 0
	for _, d := range checks.TableDialects {
		v := r.Dialects[d]
		if v.Config {
			cfg++
		}
		if v.Live != nil && *v.Live {
			live++
		}
	}
	probeMS := int64(0)
	for _, t := range r.Timings {
		if t.Step == "probe" {
			probeMS = int64(t.Seconds*1000 + 0.5)
		}
	}
	n := len(checks.TableDialects)
	_, err := fmt.Fprintf(w, "SMB %s - %s | dialects_live=%d;;;0;%d dialects_config=%d;;;0;%d probe_ms=%dms duration_ms=%dms findings=%d;;;0 critical=%d;;;0 warning=%d;;;0\n",
		strings.ToUpper(r.Status.String()), text, live, n, cfg, n, probeMS, r.DurationMS, len(r.Findings), crit, warn)
	return err
}
