// Package procenv keeps the agent's secrets out of the process
// environment, and so out of every child process.
//
// The SMB password may come in SMB_AGENT_PASSWORD. Left in the
// environment it is inherited by every command the agent runs (testparm,
// smbd -V, smbcontrol, systemctl), shows in /proc/PID/environ of each to
// whoever may read it, and is what smb.conf's "%$(SMB_AGENT_PASSWORD)"
// substitution would expand to in a warning. Scrub takes it out of the
// environment once, at start; Lookup still answers for it; ForChild builds
// a child's environment explicitly, without any secret, whatever was set
// after Scrub.
//
// A leaf package (standard library only): configs, configs/smbconf,
// checks and fixes all run or configure child processes.
package procenv

import (
	"os"
	"strings"
	"sync"
)

// Password is the environment variable that holds the SMB password.
const Password = "SMB_AGENT_PASSWORD"

// secrets are never passed to a child process.
var secrets = []string{Password}

var scrubbed struct {
	sync.Mutex
	vals map[string]string
}

// Scrub removes every secret variable from the process environment,
// keeping its value for Lookup. main calls it before anything else runs.
func Scrub() {
	scrubbed.Lock()
	defer scrubbed.Unlock()
	for _, name := range secrets {
		if v, ok := os.LookupEnv(name); ok {
			if scrubbed.vals == nil {
				scrubbed.vals = map[string]string{}
			}
			scrubbed.vals[name] = v
			os.Unsetenv(name)
		}
	}
}

// Lookup is os.LookupEnv that also answers for a secret Scrub removed. A
// value present in the environment wins (it was set after Scrub, as a
// test in the same process does).
func Lookup(name string) (string, bool) {
	if v, ok := os.LookupEnv(name); ok {
		return v, true
	}
	scrubbed.Lock()
	defer scrubbed.Unlock()
	v, ok := scrubbed.vals[name]
	return v, ok
}

// ForChild is the environment for a child process: the agent's own
// without any secret, then extra ("NAME=value") entries, which override.
func ForChild(extra ...string) []string {
	env := os.Environ()
	out := make([]string, 0, len(env)+len(extra))
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if isSecret(name) || overridden(name, extra) {
			continue
		}
		out = append(out, kv)
	}
	for _, kv := range extra {
		if name, _, _ := strings.Cut(kv, "="); !isSecret(name) {
			out = append(out, kv)
		}
	}
	return out
}

func isSecret(name string) bool {
	for _, s := range secrets {
		if name == s {
			return true
		}
	}
	return false
}

func overridden(name string, extra []string) bool {
	for _, kv := range extra {
		if n, _, _ := strings.Cut(kv, "="); n == name {
			return true
		}
	}
	return false
}
