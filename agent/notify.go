package agent

import (
	"log/slog"
	"strings"
	"sync"
	"unicode"
)

// notifier serialises sd_notify messages and enforces their order at the
// end: after STOPPING=1 nothing else is sent, so a late watchdog ping or
// round cannot tell systemd we are alive while it is stopping us.
type notifier struct {
	mu      sync.Mutex
	fn      func(string) error
	log     *slog.Logger
	stopped bool
	failed  bool
}

// send delivers states in order, with nothing in between, unless
// STOPPING=1 was sent.
func (n *notifier) send(states ...string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopped {
		return
	}
	for _, s := range states {
		n.emit(s)
	}
}

// emit sends with n.mu held. A failure is logged once: outside systemd
// there is no socket and go-systemd returns no error, so a failure means a
// misconfigured NOTIFY_SOCKET, worth one line, not one per round.
func (n *notifier) emit(state string) {
	if err := n.fn(state); err != nil && !n.failed {
		n.failed = true
		n.log.Warn("sd_notify failed; systemd will not see status updates", "error", err)
	}
}

// stop sends STOPPING=1 and silences everything after it.
func (n *notifier) stop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopped {
		return
	}
	n.emit("STOPPING=1")
	n.stopped = true
}

// maxStatusLen keeps STATUS= short: systemctl status shows one line.
const maxStatusLen = 200

// statusLine makes a report headline safe for STATUS=: sd_notify messages
// are newline-separated assignments, so a newline in a finding's summary
// (which may quote smb.conf or a log line) could otherwise inject another
// assignment such as READY=1 or MAINPID=.
func statusLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxStatusLen {
		cut := maxStatusLen - len("...")
		for cut > 0 && !utf8RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
