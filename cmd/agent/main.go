// Command agent is the smb-agent binary: an on-host diagnostic agent for
// Samba servers. See the README for the commands and their exit codes.
package main

import (
	"os"
	"runtime/debug"

	"github.com/smb-agent/smb-agent/configs/procenv"
)

// oneShotMemoryLimit is where the garbage collector starts for the
// one-shot commands.
//
// Why: `config dump` of a 15,000-line smb.conf allocates ~17 MB and exits
// within milliseconds; collecting that garbage doubled its CPU time
// (measured: 19 ms user with the default GOGC, 9 ms without GC). A
// one-shot command therefore runs with the collector off until the heap
// nears this limit, which bounds memory on huge inputs (a 100 MB file).
// `serve` is long-lived and keeps Go's defaults, unless GOGC or
// GOMEMLIMIT are set by the user, which always win.
const oneShotMemoryLimit = 256 << 20

func main() {
	// First: no child process may inherit the password, and nothing
	// below may read it from the environment but procenv.Lookup.
	procenv.Scrub()
	if !isServe(os.Args[1:]) && os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetGCPercent(-1)
		debug.SetMemoryLimit(oneShotMemoryLimit)
	}
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// isServe reports whether the command line runs the daemon: the first
// argument that is not a flag (or the value of --config) is "serve".
func isServe(args []string) bool {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--config":
			i++ // its value
		case len(a) > 0 && a[0] == '-':
		default:
			return a == "serve"
		}
	}
	return false
}
