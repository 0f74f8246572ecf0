package checks

import (
	"strings"
)

// Answer functions of the account.* facts (see answers.go).

// accountStatus is account.status.
func accountStatus(f *Facts) (string, bool) {
	if f.User == "" {
		return "anonymous", true
	}
	a := f.Account
	if a == nil || (a.Err != "" && !a.InPassdb) {
		return "", false
	}
	flags := strings.ToUpper(a.Flags)
	switch {
	case !a.InPassdb:
		return "missing", true
	case strings.Contains(flags, "D"):
		return "disabled", true
	case strings.Contains(flags, "L"):
		return "locked", true
	case !a.UnixAccount:
		return "no-unix-account", true
	case a.Expired:
		return "expired", true
	case a.MustChange:
		return "must-change", true
	}
	return "ok", true
}

func ansAccountStatus(c *answerCtx) (string, bool) { return accountStatus(c.f) }
