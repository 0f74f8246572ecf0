package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/smb-agent/smb-agent/checks/diagnose"
	"github.com/smb-agent/smb-agent/configs"
)

func init() { registerCommand(newDiagnoseCommand) }

// Output formats of diagnose.
const (
	formatText   = "text"
	formatJSON   = "json"
	formatNagios = "nagios"
)

func newDiagnoseCommand(s *streams) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "diagnose",
		Short: "Diagnose the local Samba server as a remote SMB check sees it",
		Long: `diagnose tells, in one run, what a remote SMB check (a scoring engine using
pysmb by default) will see against this host, why, and what to change.

It reads smb.conf as testparm does (with the installed Samba's defaults),
looks at smbd's processes, listening sockets, firewall rules and logs, probes
the target for every dialect, logs in, lists shares and connects to the
scored share, and compares three views: what smb.conf says, what the running
smbd accepts, and what each client needs. Every finding names a stable
pattern, the cause on this host with the file:line responsible, what the
scoring engine shows, the evidence, the decision path, the commands to run
and the least permissive fix.

Exit status (Nagios plugin convention): 0 OK, 1 WARNING, 2 CRITICAL,
3 UNKNOWN (bad input, or the agent itself failed).

The password comes from --password-file or SMB_AGENT_PASSWORD and is never
printed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fl := cmd.Flags()
			cfg, err := configs.Load(configs.LoadOptions{File: globals.configFile, Flags: fl})
			if err != nil {
				return withCode(exitUnknown, err)
			}
			if err := requireSmbConf(cfg); err != nil {
				return err
			}
			fmtName, err := pickFormat(format, fl.Changed("format"), cfg.Output.JSON, fl.Changed("json"))
			if err != nil {
				return withCode(exitUnknown, err)
			}
			rep, _, err := diagnose.Run(cmd.Context(), cfg)
			if err != nil {
				if errors.Is(err, diagnose.ErrBadInput) {
					return withCode(exitUnknown, errors.New(strings.TrimPrefix(err.Error(), diagnose.ErrBadInput.Error()+": ")))
				}
				return withCode(exitUnknown, fmt.Errorf("diagnose: %w", err))
			}
			switch fmtName {
			case formatJSON:
				err = renderJSON(s.out, rep)
			case formatNagios:
				err = renderNagios(s.out, rep)
			default:
				err = renderText(s.out, rep, textOptions{Color: useColor(cfg.Output.Color, s.out, os.LookupEnv)})
			}
			if err != nil {
				return withCode(exitUnknown, fmt.Errorf("write report: %w", err))
			}
			if code := rep.Status.ExitCode(); code != exitOK {
				return withCode(code, nil)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	configs.AddCommonFlags(fl)
	configs.AddOutputFlags(fl)
	fl.StringVar(&format, "format", "", "output format: text, json or nagios (one line with perfdata); default text")
	fl.String("remote-client-ip", "", "address of the remote checker, to judge hosts allow/deny and firewall rules for it (config remote_client_ip)")
	fl.Bool("guest", false, "also try a guest/anonymous session (config credentials.guest)")
	fl.String("file", "", "file in --share to read and hash, like a scoring engine (config file.path)")
	fl.String("file-sha256", "", "expected SHA-256 of --file (config file.sha256)")
	return cmd
}

// pickFormat resolves --format against --json / output.json: --format wins
// over the config file's output.json, and contradicting flags are bad input.
func pickFormat(format string, formatSet, jsonCfg, jsonFlagSet bool) (string, error) {
	f := strings.ToLower(strings.TrimSpace(format))
	switch f {
	case "", formatText, formatJSON, formatNagios:
	default:
		return "", fmt.Errorf("--format %q: want text, json or nagios", format)
	}
	if formatSet && jsonFlagSet && jsonCfg && f != formatJSON {
		return "", fmt.Errorf("--json and --format %s contradict each other", f)
	}
	if f == "" {
		if jsonCfg {
			return formatJSON, nil
		}
		return formatText, nil
	}
	return f, nil
}

// useColor decides whether text output is coloured: output.color always or
// never as configured; auto colours only a terminal and only when NO_COLOR
// is unset or empty (https://no-color.org: an explicit setting overrides
// it).
func useColor(setting string, w io.Writer, lookupEnv func(string) (string, bool)) bool {
	switch strings.ToLower(setting) {
	case "always":
		return true
	case "never":
		return false
	}
	if v, ok := lookupEnv("NO_COLOR"); ok && v != "" {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
