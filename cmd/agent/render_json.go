package main

import (
	"encoding/json"
	"io"

	"github.com/smb-agent/smb-agent/checks"
)

// renderJSON writes the report as one JSON object (schema
// "smb-agent/report/v1", checks.Schema), indented for people and still
// one document for tools. The README documents every field.
func renderJSON(w io.Writer, r *checks.Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}
