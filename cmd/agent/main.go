// Command agent is the smb-agent binary: an on-host diagnostic agent for
// Samba servers. See the README for the commands and their exit codes.
package main

import (
	"os"
	"runtime"
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
	cmd := command(os.Args[1:])
	if cmd != "serve" && os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetGCPercent(-1)
		debug.SetMemoryLimit(oneShotMemoryLimit)
	}
	if cmd == "config" && os.Getenv("GOMAXPROCS") == "" {
		// `config get/dump` is one goroutine's work: parsing and printing
		// are sequential, and with the collector off there is no GC work
		// to spread. A second P only costs: each file is read by a
		// goroutine of its own (configs/safefile bounds the read in
		// time), and with an idle P every such goroutine wakes, and at
		// first creates, another thread to run it (measured: ~1 ms of
		// CPU per dump of the 1,000-share file). GOMAXPROCS set by the
		// user wins.
		runtime.GOMAXPROCS(1)
	}
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// command is the first argument that is not a flag (or the value of
// --config): the command the line runs ("" if none).
func command(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--config":
			i++ // its value
		case len(a) > 0 && a[0] == '-':
		default:
			return a
		}
	}
	return ""
}
