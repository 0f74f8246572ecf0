package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/smb-agent/smb-agent/configs/safetext"
	"github.com/smb-agent/smb-agent/configs/smbconf"
)

// defaultSmbConf is where Samba looks when no -s is given (dyn_CONFIGFILE
// of the Debian build).
const defaultSmbConf = "/etc/samba/smb.conf"

func init() { registerCommand(newConfigCommand) }

// configFlags are shared by "config get" and "config dump".
type configFlags struct {
	smbConf      string
	sambaVersion string
	json         bool
}

func (f *configFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.smbConf, "smb-conf", defaultSmbConf, "smb.conf to read")
	cmd.Flags().StringVar(&f.sambaVersion, "samba-version", "",
		"use the defaults of this Samba version (default: the installed one, from smbd --version)")
	cmd.Flags().BoolVar(&f.json, "json", false, "print values with their origins as JSON")
}

func newConfigCommand(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Read smb.conf exactly as testparm does",
		Long: `Read smb.conf exactly as Samba's testparm does.

  agent config dump   prints what "testparm -s FILE" prints on stdout
  agent config get N  prints what "testparm -s FILE --parameter-name N" prints

Warnings (unknown parameters, shares without a path, ...) go to stderr.
Bad input, or a configuration Samba would refuse, exits 3 with one line.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError("config: missing subcommand (get or dump)")
		},
	}
	cmd.AddCommand(newConfigGetCommand(s), newConfigDumpCommand(s))
	return cmd
}

func newConfigGetCommand(s *streams) *cobra.Command {
	var f configFlags
	var section string
	cmd := &cobra.Command{
		Use:   "get NAME",
		Short: `Print one parameter as "testparm --parameter-name NAME" does`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError("config get: want exactly one parameter name, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadForCommand(cmd.Context(), s, &f)
			if err != nil {
				return err
			}
			name := args[0]
			if f.json {
				return writeGetJSON(s.out, cfg, name, section)
			}
			if err := cfg.PrintParameter(s.out, name, section); err != nil {
				return withCode(exitUnknown, fmt.Errorf("config get: %w", err))
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&section, "section", "", "share to read the parameter in (default [global])")
	return cmd
}

func newConfigDumpCommand(s *streams) *cobra.Command {
	var f configFlags
	cmd := &cobra.Command{
		Use:   "dump",
		Short: `Print the service listing as "testparm -s" does`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 0 {
				return usageError("config dump: unexpected argument %q", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadForCommand(cmd.Context(), s, &f)
			if err != nil {
				return err
			}
			if f.json {
				return writeDumpJSON(s.out, cfg)
			}
			if err := cfg.Dump(s.out); err != nil {
				return withCode(exitUnknown, fmt.Errorf("config dump: write: %w", err))
			}
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

// loadForCommand resolves the Samba version and loads the file, printing
// warnings to stderr. A configuration Samba would refuse is an error (exit
// 3), and nothing is printed on stdout, as testparm prints nothing then.
func loadForCommand(ctx context.Context, s *streams, f *configFlags) (*smbconf.Config, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	var ver smbconf.SambaVersion
	if f.sambaVersion != "" {
		v, err := smbconf.ParseSambaVersion(f.sambaVersion)
		if err != nil {
			return nil, usageError("--samba-version: %v", err)
		}
		ver = v
	} else {
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		v, err := smbconf.DetectSambaVersionCached(dctx, smbconf.DefaultVersionCache())
		cancel()
		if err != nil {
			fmt.Fprintf(s.err, "warning: %v; using the defaults of Samba %s\n", err, smbconf.TableSambaVersion)
		} else {
			ver = v
		}
	}
	cfg, err := smbconf.Load(f.smbConf, smbconf.LoadOptions{Version: ver})
	if err == nil {
		// Warnings only for a configuration Samba loads: for one it
		// refuses, the contract is exactly one error line.
		for _, w := range cfg.Warnings {
			// stdout stays byte-exact with testparm; the warnings on
			// stderr quote section names and lines: escaped.
			fmt.Fprintf(s.err, "warning: %s\n", safetext.Escape(w.String()))
		}
	}
	if err != nil {
		var le *smbconf.LoadError
		if errors.As(err, &le) {
			return nil, withCode(exitUnknown, fmt.Errorf("load %s", le))
		}
		return nil, withCode(exitUnknown, fmt.Errorf("load %s: %w", f.smbConf, err))
	}
	return cfg, nil
}

type jsonOrigin struct {
	File     string `json:"file,omitempty"`
	Line     int    `json:"line,omitempty"`
	LastLine int    `json:"last_line,omitempty"`
	Name     string `json:"name_as_written,omitempty"`
	Note     string `json:"note,omitempty"`
	Default  bool   `json:"default"`
}

func originJSON(o smbconf.Origin) jsonOrigin {
	return jsonOrigin{File: o.File, Line: o.Line, LastLine: o.LastLine, Name: o.Name, Note: o.Note, Default: o.IsDefault()}
}

type jsonValue struct {
	Name    string     `json:"name"`
	Value   string     `json:"value"`
	Raw     string     `json:"raw"`
	Origin  jsonOrigin `json:"origin"`
	Section string     `json:"section,omitempty"`
}

type jsonGet struct {
	jsonValue
	SambaVersion string `json:"samba_version"`
}

func writeGetJSON(w io.Writer, cfg *smbconf.Config, name, section string) error {
	v, ok := cfg.Lookup(section, name)
	if !ok {
		sec := section
		if sec == "" {
			sec = "global"
		}
		return withCode(exitUnknown, fmt.Errorf("config get: parameter %q unknown for section %q", name, sec))
	}
	out := jsonGet{SambaVersion: cfg.DefaultsVersion().String()}
	out.Name = name
	if v.Param != nil {
		out.Name = v.Param.Name
	}
	out.Value, out.Raw, out.Origin = v.Printed, v.Raw, originJSON(v.Origin)
	out.Section = section
	if out.Section == "" {
		out.Section = "global"
	}
	return writeJSON(w, out)
}

type jsonSection struct {
	Name       string      `json:"name"`
	Parameters []jsonValue `json:"parameters"`
}

type jsonDump struct {
	File         string        `json:"file"`
	Files        []string      `json:"files"`
	SambaVersion string        `json:"samba_version"`
	Sections     []jsonSection `json:"sections"`
	Warnings     []string      `json:"warnings"`
}

func writeDumpJSON(w io.Writer, cfg *smbconf.Config) error {
	out := jsonDump{File: cfg.Path(), Files: cfg.Files(), SambaVersion: cfg.DefaultsVersion().String(),
		Sections: []jsonSection{}, Warnings: []string{}}
	for _, sec := range cfg.DumpEntries() {
		js := jsonSection{Name: sec.Name, Parameters: []jsonValue{}}
		for _, e := range sec.Entries {
			js.Parameters = append(js.Parameters, jsonValue{Name: e.Name, Value: e.Printed, Raw: e.Raw, Origin: originJSON(e.Origin)})
		}
		out.Sections = append(out.Sections, js)
	}
	for _, p := range cfg.Warnings {
		out.Warnings = append(out.Warnings, p.String())
	}
	return writeJSON(w, out)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return withCode(exitUnknown, fmt.Errorf("write JSON: %w", err))
	}
	return nil
}
