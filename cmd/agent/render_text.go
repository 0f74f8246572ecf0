package main

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/smb-agent/smb-agent/checks"
	"github.com/smb-agent/smb-agent/configs/safetext"
)

// textOptions control the human rendering.
type textOptions struct {
	Color bool
	Width int // wrap width for prose; 0 = 100
}

// ANSI styles.
const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiDim    = "\x1b[2m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiMagent = "\x1b[35m"
	ansiCyan   = "\x1b[36m"
)

type textWriter struct {
	w     *bufio.Writer
	color bool
	width int
}

func (t *textWriter) style(code, s string) string {
	if !t.color || s == "" {
		return s
	}
	return code + s + ansiReset
}

func (t *textWriter) statusWord(s checks.Status) string {
	word := strings.ToUpper(s.String())
	switch s {
	case checks.OK:
		return t.style(ansiBold+ansiGreen, word)
	case checks.Warning:
		return t.style(ansiBold+ansiYellow, word)
	case checks.Critical:
		return t.style(ansiBold+ansiRed, word)
	}
	return t.style(ansiBold+ansiMagent, word)
}

func (t *textWriter) printf(format string, args ...any) { fmt.Fprintf(t.w, format, args...) }

// para writes prose wrapped at the width, every line indented; the first
// line starts after a label of the same width as the indent. text is
// untrusted: its control characters are shown escaped (safetext).
func (t *textWriter) para(indent, label, text string) {
	t.paraStyled(indent, label, esc(text))
}

// esc escapes an untrusted string for the terminal: share names from the
// server, process command lines, log lines, smb.conf names and values
// all reach the report.
func esc(s string) string { return safetext.Escape(s) }

// paraStyled is para for text already escaped and styled.
func (t *textWriter) paraStyled(indent, label, text string) {
	words := strings.Fields(text)
	if len(words) == 0 {
		return
	}
	line := indent + label
	pad := indent + strings.Repeat(" ", len(label))
	n := len(line)
	first := true
	for _, w := range words {
		if !first && n+1+len(w) > t.width {
			t.printf("%s\n", line)
			line, n = pad+w, len(pad)+len(w)
			continue
		}
		if first {
			line += w
			n += len(w)
			first = false
			continue
		}
		line += " " + w
		n += 1 + len(w)
	}
	t.printf("%s\n", line)
}

// renderText writes the report for people: the status line first (what a
// Nagios user or a tired defender reads), then each finding with its
// cause, what the scoring engine shows, evidence with file:line, the
// decision path, the commands and the fix, then the dialect table of the
// three views.
func renderText(out io.Writer, r *checks.Report, o textOptions) error {
	t := &textWriter{w: bufio.NewWriter(out), color: o.Color, width: o.Width}
	if t.width <= 0 {
		t.width = 100
	}
	t.printf("%s %s\n", t.statusWord(r.Status), esc(r.Subject()))
	meta := []string{"target " + esc(r.Target)}
	if r.SambaVersion != "" {
		meta = append(meta, "Samba "+esc(r.SambaVersion))
	}
	if r.SmbConf != "" {
		meta = append(meta, "smb.conf "+esc(r.SmbConf))
	}
	meta = append(meta, "clients "+esc(strings.Join(r.Clients, ", ")))
	if r.DurationMS > 0 {
		meta = append(meta, fmt.Sprintf("%d ms", r.DurationMS))
	}
	t.printf("%s\n", t.style(ansiDim, strings.Join(meta, " | ")))

	for i, f := range r.Findings {
		t.printf("\n")
		renderFinding(t, i+1, f)
	}
	t.printf("\n")
	renderDialects(t, r)
	if len(r.Errors) > 0 {
		t.printf("\n%s\n", t.style(ansiBold, "agent errors (facts it could not gather):"))
		for _, e := range r.Errors {
			t.para("  ", "- ", e)
		}
	}
	return t.w.Flush()
}

func renderFinding(t *textWriter, n int, f checks.Finding) {
	title := fmt.Sprintf("[%d] %s %s", n, t.statusWord(f.Severity), t.style(ansiBold, esc(f.Pattern)))
	if f.Cause != "" {
		title += " / " + esc(f.Cause)
	}
	if f.Client != "" {
		title += "  (client " + esc(f.Client) + ")"
	}
	t.printf("%s\n", title)
	t.para("    ", "", f.Summary)
	if f.ScoringMessage != "" {
		t.paraStyled("    ", "scorer shows: ", t.style(ansiCyan, esc(f.ScoringMessage)))
	}
	if f.Explanation != "" {
		t.para("    ", "cause: ", f.Explanation)
	}
	if len(f.Evidence) > 0 {
		t.printf("    evidence:\n")
		for _, e := range f.Evidence {
			loc := e.Location()
			prefix := e.Kind + ": "
			if loc != "" {
				prefix = loc + ": "
			}
			t.para("      ", "- ", prefix+e.Text)
		}
	}
	if len(f.Decision) > 0 {
		t.printf("    decision path:\n")
		for _, d := range f.Decision {
			switch d.Question {
			case "conclusion":
				t.para("      ", "=> ", d.Answer)
			case "stopped":
				t.para("      ", "=> stopped: ", d.Answer)
			default:
				t.paraStyled("      ", "", esc(d.Question)+" -> "+t.style(ansiBold, esc(d.Answer)))
			}
		}
	}
	if len(f.Commands) > 0 {
		t.printf("    commands, in order:\n")
		for i, c := range f.Commands {
			lines := strings.Split(c, "\n")
			num := fmt.Sprintf("      %d. ", i+1)
			pad := strings.Repeat(" ", len(num))
			for j, l := range lines {
				p := pad
				if j == 0 {
					p = num
				}
				l = esc(l)
				if strings.HasPrefix(l, "#") {
					l = t.style(ansiDim, l)
				}
				t.printf("%s%s\n", p, l)
			}
		}
	}
	if fx := f.Fix; fx != nil {
		label := "fix: "
		t.para("    ", label, fmt.Sprintf("%s [%s, id %s]", fx.Summary, fx.Kind, fx.ID))
		for _, c := range fx.Changes {
			t.para("      ", "- ", changeText(c))
		}
		for _, s := range fx.Steps {
			t.printf("      $ %s\n", esc(s))
		}
		if fx.Why != "" {
			t.para("      ", "why: ", fx.Why)
		}
		if fx.EnablesSMB1 {
			t.paraStyled("      ", "", t.style(ansiBold+ansiYellow, "enables SMB1: planned only with --allow-smb1"))
		}
		if fx.Risk != "" {
			t.para("      ", "risk: ", fx.Risk)
		}
	}
}

func changeText(c checks.Change) string {
	sec := c.Section
	if sec == "" {
		sec = "global"
	}
	var s string
	if c.Remove {
		s = fmt.Sprintf("[%s] remove %s", sec, c.Param)
	} else {
		s = fmt.Sprintf("[%s] %s = %s", sec, c.Param, c.Value)
	}
	var now []string
	if c.From != "" {
		now = append(now, "now "+c.From)
	}
	if c.Origin != "" {
		now = append(now, c.Origin)
	}
	if len(now) > 0 {
		s += " (" + strings.Join(now, ", ") + ")"
	}
	return s
}

// renderDialects prints the three views per dialect: smb.conf, the live
// probes, and one column per client.
func renderDialects(t *textWriter, r *checks.Report) {
	clients := append([]string(nil), r.Clients...)
	seen := map[string]bool{}
	for _, c := range clients {
		seen[c] = true
	}
	var extra []string
	for _, v := range r.Dialects {
		for c := range v.Clients {
			if !seen[c] {
				seen[c] = true
				extra = append(extra, c)
			}
		}
	}
	sort.Strings(extra)
	clients = append(clients, extra...)
	cols := []string{"dialect", "config", "live"}
	for _, c := range clients {
		cols = append(cols, esc(c))
	}
	widths := make([]int, len(cols))
	for i, c := range cols {
		widths[i] = len(c)
		if widths[i] < 7 {
			widths[i] = 7
		}
	}
	row := func(cells []string, styled []string) {
		var b strings.Builder
		for i, c := range cells {
			s := c
			if styled != nil {
				s = styled[i]
			}
			b.WriteString(s)
			if i < len(cells)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-len(c)+2))
			}
		}
		t.printf("%s\n", strings.TrimRight(b.String(), " "))
	}
	row(cols, boldAll(t, cols))
	derived := false
	for _, d := range checks.TableDialects {
		v, ok := r.Dialects[d]
		cells := []string{d, "-", "-"}
		if ok {
			cells[1] = yesNoMark(v.Config)
			if v.Live != nil {
				cells[2] = yesNoMark(*v.Live)
				if v.LiveDerivedFrom != "" {
					cells[2] += "*"
					derived = true
				}
			} else {
				cells[2] = "?"
			}
			for _, c := range clients {
				if b, ok := v.Clients[c]; ok {
					cells = append(cells, yesNoMark(b))
				} else {
					cells = append(cells, "-")
				}
			}
		}
		styled := make([]string, len(cells))
		for i, c := range cells {
			switch c {
			case "yes", "yes*":
				styled[i] = t.style(ansiGreen, c)
			case "no", "no*":
				styled[i] = t.style(ansiDim, c)
			default:
				styled[i] = c
			}
		}
		row(cells, styled)
	}
	t.printf("%s\n", t.style(ansiDim, "config: smb.conf allows it; live: smbd accepted a negotiate of it; client columns: the client offers it"))
	if derived {
		t.printf("%s\n", t.style(ansiDim, "live *: derived from other probes, not negotiated on its own:"))
		for _, d := range checks.TableDialects {
			if v, ok := r.Dialects[d]; ok && v.Live != nil && v.LiveDerivedFrom != "" {
				t.printf("%s\n", t.style(ansiDim, fmt.Sprintf("  %s derived from %s", d, v.LiveDerivedFrom)))
			}
		}
	}
}

func boldAll(t *textWriter, cells []string) []string {
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = t.style(ansiBold, c)
	}
	return out
}

func yesNoMark(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
