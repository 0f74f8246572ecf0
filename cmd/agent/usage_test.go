package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"
)

// Every command's --help lists boolean flags bare (`--json`), never with
// pflag's `[=true|false]`, and still lists every flag it has.
func TestHelpShowsBooleanFlagsBare(t *testing.T) {
	var paths [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		paths = append(paths, path)
		for _, sub := range c.Commands() {
			if sub.Hidden {
				continue
			}
			walk(sub, append(append([]string(nil), path...), sub.Name()))
		}
	}
	root := newRootCommand(&streams{in: strings.NewReader(""), out: &bytes.Buffer{}, err: &bytes.Buffer{}})
	walk(root, nil)
	require.Greater(t, len(paths), 5, "commands found")

	bools := 0
	for _, path := range paths {
		var out, errOut bytes.Buffer
		code := run(append(append([]string(nil), path...), "--help"), strings.NewReader(""), &out, &errOut)
		require.Equal(t, 0, code, "%v --help: %s", path, errOut.String())
		help := out.String()
		require.NotContains(t, help, "[=true|false]", "%v --help", path)
		require.NotContains(t, help, "[=true]", "%v --help", path)

		cmd, _, err := root.Find(path)
		require.NoError(t, err)
		check := func(f *pflag.Flag) {
			if f.Hidden {
				return
			}
			// The flag's name, then (for a boolean) straight to the
			// padding before its description.
			name := regexp.QuoteMeta("--" + f.Name)
			if f.Value.Type() == "bool" {
				bools++
				require.Regexp(t, `(?m)^\s+(-\w, )?`+name+`\s{2,}\S`, help, "%v --help: boolean flag %s", path, f.Name)
			} else {
				require.Regexp(t, `(?m)^\s+(-\w, )?`+name+`[ =\[]`, help, "%v --help: flag %s", path, f.Name)
			}
		}
		cmd.LocalFlags().VisitAll(check)
		cmd.InheritedFlags().VisitAll(check)
	}
	require.Greater(t, bools, len(paths), "boolean flags checked (--help at least)")
}

// --json=false still parses although the help no longer advertises it.
func TestBooleanFlagStillTakesAValue(t *testing.T) {
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	v := fs.Bool("json", true, "print JSON")
	require.NoError(t, fs.Parse([]string{"--json=false"}))
	require.False(t, *v)
	require.Contains(t, flagUsages(fs), "--json   print JSON (default true)")
}
