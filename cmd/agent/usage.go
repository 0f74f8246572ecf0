package main

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// pflag v1.1.0 renders every boolean flag as `--json[=true|false]`
// (FlagUsagesWrapped in pflag's flag.go, for any Value whose IsBoolFlag is
// true). Users of cobra tools expect `--json`: a boolean flag takes no
// value, and `--json=false` still works without being advertised. The help
// text is therefore rendered from a view of each flag set whose boolean
// values hide IsBoolFlag; parsing is untouched.
func init() {
	cobra.AddTemplateFunc("flagUsages", flagUsages)
}

// useFlagUsages makes cmd's usage template (inherited by its subcommands)
// list flags with flagUsages instead of pflag's FlagUsages.
func useFlagUsages(cmd *cobra.Command) {
	cmd.SetUsageTemplate(strings.NewReplacer(
		".LocalFlags.FlagUsages", "flagUsages .LocalFlags",
		".InheritedFlags.FlagUsages", "flagUsages .InheritedFlags",
	).Replace(cmd.UsageTemplate()))
}

// flagUsages is pflag's FlagUsages with boolean flags shown bare.
func flagUsages(fs *pflag.FlagSet) string {
	view := pflag.NewFlagSet(fs.Name(), pflag.ContinueOnError)
	view.SortFlags = fs.SortFlags
	fs.VisitAll(func(f *pflag.Flag) {
		shown := *f
		if f.Value.Type() == "bool" {
			shown.Value = plainValue{f.Value}
		}
		view.AddFlag(&shown)
	})
	return view.FlagUsages()
}

// plainValue is a flag value without IsBoolFlag: embedding the pflag.Value
// interface keeps only its methods (String, Set, Type).
type plainValue struct{ pflag.Value }
