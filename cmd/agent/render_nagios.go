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
	text := strings.NewReplacer("|", "/", "\n", " ", "\r", " ").Replace(r.Subject())
	n := r.Tally()
	_, err := fmt.Fprintf(w, "SMB %s - %s | dialects_live=%d;;;0;%d dialects_config=%d;;;0;%d probe_ms=%dms duration_ms=%dms findings=%d;;;0 critical=%d;;;0 warning=%d;;;0\n",
		strings.ToUpper(r.Status.String()), text, n.DialectsLive, n.Dialects, n.DialectsConfig, n.Dialects, n.ProbeMS, r.DurationMS, n.Findings, n.Critical, n.Warning)
	return err
}
