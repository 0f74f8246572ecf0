// Command agent is the smb-agent binary: an on-host diagnostic agent for
// Samba servers. See the README for the commands and their exit codes.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
