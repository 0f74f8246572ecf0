//go:build faultinject

package fixes

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"time"
)

// FaultEnv configures the faultinject build: a comma-separated list of
// POINT:WHAT, where WHAT is kill (SIGKILL this process), enospc (fail as a
// full disk would), fail (a plain error) or sleep=DURATION. The end-to-end
// tests build the agent with -tags faultinject and set it.
const FaultEnv = "SMB_AGENT_FAULT"

// InjectedFault returns the hook that FaultEnv describes (nil when unset).
func InjectedFault() func(point, path string) error {
	spec := os.Getenv(FaultEnv)
	if spec == "" {
		return nil
	}
	rules := map[string]string{}
	for _, r := range strings.Split(spec, ",") {
		point, what, _ := strings.Cut(strings.TrimSpace(r), ":")
		rules[point] = what
	}
	return func(point, path string) error {
		what, ok := rules[point]
		if !ok {
			return nil
		}
		switch {
		case what == "kill":
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			time.Sleep(time.Minute)
		case what == "enospc":
			return &os.PathError{Op: "write", Path: path, Err: syscall.ENOSPC}
		case strings.HasPrefix(what, "sleep="):
			d, _ := time.ParseDuration(strings.TrimPrefix(what, "sleep="))
			time.Sleep(d)
			return nil
		}
		return errors.New("injected failure")
	}
}
