package agent

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/journal"

	"github.com/smb-agent/smb-agent/checks"
)

// NewLogger returns the logger for `agent serve`.
//
// Under systemd, when stderr is the journal's stream transport
// (JOURNAL_STREAM names stderr's device and inode, systemd.exec(5)), entries
// go over the journal's native protocol instead: every slog attribute
// becomes a journal field, so `journalctl -u smb-agent
// PATTERN=protocol-mismatch` finds the rounds that saw a pattern, and
// journald adds the timestamp. This is the "automatic protocol upgrading"
// systemd documents (systemd.io/JOURNAL_NATIVE_PROTOCOL). Otherwise it is
// slog's text format, with timestamps, on w.
func NewLogger(w io.Writer, level slog.Leveler) *slog.Logger {
	text := slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})
	if f, ok := w.(*os.File); ok && f == os.Stderr {
		if isJournal, err := journal.StderrIsJournalStream(); err == nil && isJournal && journal.Enabled() {
			return slog.New(newJournalHandler(level, journal.Send, text))
		}
	}
	return slog.New(text)
}

// journalHandler is a slog.Handler speaking the journal's native protocol.
type journalHandler struct {
	level    slog.Leveler
	send     func(msg string, prio journal.Priority, vars map[string]string) error
	fallback slog.Handler
	attrs    []slog.Attr // from WithAttrs, keys already group-qualified
	prefix   string      // open groups, "A_B_"
}

func newJournalHandler(level slog.Leveler, send func(string, journal.Priority, map[string]string) error, fallback slog.Handler) *journalHandler {
	if level == nil {
		level = slog.LevelInfo
	}
	return &journalHandler{level: level, send: send, fallback: fallback}
}

func (h *journalHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

func (h *journalHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append([]slog.Attr(nil), h.attrs...)
	for _, a := range as {
		c.attrs = appendFlat(c.attrs, h.prefix, a)
	}
	c.fallback = h.fallback.WithAttrs(as)
	return &c
}

func (h *journalHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.prefix = h.prefix + name + "_"
	c.fallback = h.fallback.WithGroup(name)
	return &c
}

// appendFlat flattens groups into prefixed keys: journal fields are flat.
func appendFlat(dst []slog.Attr, prefix string, a slog.Attr) []slog.Attr {
	a.Value = a.Value.Resolve()
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "_"
		}
		for _, g := range a.Value.Group() {
			dst = appendFlat(dst, p, g)
		}
		return dst
	}
	if a.Key == "" {
		return dst
	}
	a.Key = prefix + a.Key
	return append(dst, a)
}

func (h *journalHandler) Handle(ctx context.Context, r slog.Record) error {
	attrs := append([]slog.Attr(nil), h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		attrs = appendFlat(attrs, h.prefix, a)
		return true
	})
	// MESSAGE repeats the attributes as key=value, so that plain
	// `journalctl` (which shows MESSAGE only) still says which pattern.
	var msg strings.Builder
	msg.WriteString(r.Message)
	vars := map[string]string{"SYSLOG_IDENTIFIER": "smb-agent"}
	for _, a := range attrs {
		v := attrString(a.Value)
		msg.WriteString(" ")
		msg.WriteString(a.Key)
		msg.WriteString("=")
		if v == "" || strings.ContainsAny(v, " \t\"=") {
			msg.WriteString(strconv.Quote(v))
		} else {
			msg.WriteString(v)
		}
		vars[journalField(a.Key)] = v
	}
	if err := h.send(msg.String(), journalPriority(r.Level), vars); err != nil {
		// journald gone (restarting?): stderr still reaches it as text.
		return h.fallback.Handle(ctx, r)
	}
	return nil
}

func attrString(v slog.Value) string {
	switch v.Kind() {
	case slog.KindTime:
		return v.Time().Format(time.RFC3339Nano)
	case slog.KindDuration:
		return v.Duration().String()
	}
	return v.String()
}

// reservedFields are journal fields the handler sets itself or that mean
// something to journald; an attribute with such a name is renamed.
var reservedFields = map[string]bool{
	"MESSAGE": true, "MESSAGE_ID": true, "PRIORITY": true, "SYSLOG_IDENTIFIER": true,
	"SYSLOG_FACILITY": true, "SYSLOG_PID": true, "CODE_FILE": true, "CODE_LINE": true,
	"CODE_FUNC": true, "ERRNO": true, "INVOCATION_ID": true, "USER_INVOCATION_ID": true,
}

// journalField maps an attribute key to a valid journal field name:
// upper-case letters, digits and underscores, not starting with an
// underscore (protected, journald sets those) or a digit, at most 64 bytes
// (systemd's journal_field_valid).
func journalField(key string) string {
	b := []byte(strings.ToUpper(key))
	for i, c := range b {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' {
			b[i] = '_'
		}
	}
	s := strings.TrimLeft(string(b), "_")
	if s == "" || (s[0] >= '0' && s[0] <= '9') || reservedFields[s] {
		s = "ATTR_" + s
	}
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

func journalPriority(l slog.Level) journal.Priority {
	switch {
	case l >= slog.LevelError:
		return journal.PriErr
	case l >= slog.LevelWarn:
		return journal.PriWarning
	case l >= slog.LevelInfo:
		return journal.PriInfo
	}
	return journal.PriDebug
}

// severityLevel maps a finding's severity to a log level: failures stand
// out in `journalctl -p warning`.
func severityLevel(s checks.Status) slog.Level {
	switch s {
	case checks.Critical:
		return slog.LevelError
	case checks.Warning, checks.Unknown:
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

// logRound writes one line per round and one per finding that is new,
// changed or resolved since the previous round. Nothing is logged per HTTP
// request: a daemon polled every few seconds must stay quiet unless
// something changes (goss's noisy serve logs were a user complaint).
func (d *Daemon) logRound(res roundResult, changes []change) {
	ctx := context.Background()
	rounds := d.roundCount()
	dur := res.end.Sub(res.start)
	if res.failed {
		d.log.Error("check round failed", "round", rounds, "duration", dur, "error", res.err.Error())
		return
	}
	attrs := []any{
		"round", rounds, "status", res.report.Status.String(),
		"duration", dur, "findings", len(res.report.Findings),
	}
	if res.err != nil {
		attrs = append(attrs, "error", res.err.Error())
	}
	d.log.Info("check round", attrs...)
	for _, c := range changes {
		f := c.finding
		level := severityLevel(f.Severity)
		msg := "new finding"
		switch c.kind {
		case "changed":
			msg = "finding changed"
		case "resolved":
			msg = "finding resolved"
			level = slog.LevelInfo
		}
		fa := []slog.Attr{
			slog.String("pattern", f.Pattern),
			slog.String("severity", f.Severity.String()),
			slog.String("summary", f.Summary),
		}
		if f.Cause != "" {
			fa = append(fa, slog.String("cause", f.Cause))
		}
		if f.Client != "" {
			fa = append(fa, slog.String("client", f.Client))
		}
		d.log.LogAttrs(ctx, level, msg, fa...)
	}
}
