package checks

import (
	"strings"
)

// Answer functions of the log.* facts (see answers.go).

// logsRead reports whether any log source was read (so "no line" means no).
func logsRead(f *Facts) bool { return len(f.Logs.Sources) > 0 }

func ansLogHostsDenied(c *answerCtx) (string, bool) {
	if len(logLines(c.f, 1, LogDenied)) > 0 {
		return "yes", true
	}
	if !logsRead(c.f) {
		return "", false
	}
	return "no", true
}

// logAuthStatus is log.auth_status with the line that shows it: the
// newest authentication failure for the scoring user (any user when none
// is configured).
func logAuthStatus(f *Facts) (string, *LogLine, bool) {
	lines := logLines(f, 0, LogAuthFailure, LogAccountDisabled, LogNTLMv1Refused)
	for i := len(lines) - 1; i >= 0; i-- {
		l := lines[i]
		if f.User != "" && l.User != "" && !strings.EqualFold(l.User, f.User) {
			continue
		}
		st := strings.ToUpper(l.Status + " " + l.Text)
		switch {
		case l.Kind == LogAccountDisabled || strings.Contains(st, "ACCOUNT_DISABLED"):
			return "account-disabled", &lines[i], true
		case l.Kind == LogNTLMv1Refused:
			return "ntlmv1-rejected", &lines[i], true
		case strings.Contains(st, "NO_SUCH_USER"):
			return "no-such-user", &lines[i], true
		case strings.Contains(st, "WRONG_PASSWORD"):
			return "wrong-password", &lines[i], true
		}
		return "other", &lines[i], true
	}
	if !logsRead(f) {
		return "", nil, false
	}
	return "none", nil, true
}

func ansLogAuthStatus(c *answerCtx) (string, bool) {
	a, _, ok := logAuthStatus(c.f)
	return a, ok
}

func ansLogDcerpcdError(c *answerCtx) (string, bool) {
	if len(logLines(c.f, 1, LogRPCHelper, LogRPCExecFailed)) > 0 {
		return "yes", true
	}
	if !logsRead(c.f) {
		return "", false
	}
	return "no", true
}
