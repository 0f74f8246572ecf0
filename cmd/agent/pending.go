package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// Commands that later issues fill in. Each exists so that the command line
// is stable from the start, and says clearly that it is not there yet.
func init() {
	for _, c := range []struct{ use, short string }{} {
		c := c
		registerCommand(func(*streams) *cobra.Command {
			return &cobra.Command{
				Use:                c.use,
				Short:              c.short + " (not yet available)",
				DisableFlagParsing: true,
				RunE: func(*cobra.Command, []string) error {
					return withCode(exitUnknown, fmt.Errorf("%s: not yet available in this build", c.use))
				},
			}
		})
	}
}
