package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/smb-agent/smb-agent/checks"
	"github.com/smb-agent/smb-agent/checks/diagnose"
	"github.com/smb-agent/smb-agent/configs"
	"github.com/smb-agent/smb-agent/configs/safetext"
	"github.com/smb-agent/smb-agent/fixes"
)

func init() { registerCommand(newFixCommand) }

type fixOptions struct {
	apply, yes, rollback, force bool
	only                        string
}

func newFixCommand(s *streams) *cobra.Command {
	var o fixOptions
	cmd := &cobra.Command{
		Use:   "fix",
		Short: "Plan, and with approval apply, the least permissive fix",
		Long: `fix diagnoses the host as diagnose does and plans the smallest change that
makes smb.conf, the running smbd and the clients agree: which lines of which
file change (the file and line where the setting is in effect, an included
file and a synonym kept as written), why, and what smbd must do for it
(nothing, reload-config, restart or start).

Without --apply it is a dry run: the plan and a unified diff of each file.
With --apply it asks for confirmation on the terminal (default no); --yes
approves without asking; with no terminal and no --yes it refuses. The fix
is one transaction: lock, backup, atomic write, validation (our parser and
testparm -s), reload or restart, a new diagnosis until the fix is proven,
and on any failure every file restored byte for byte and smbd restarted
again. Each transaction is appended to the audit log (JSON lines).
--rollback restores the last applied fix from its backups.

SMB1 is never enabled without --allow-smb1; firewall changes and manual
steps are shown, never applied.

A symlinked smb.conf is edited at its target (the link stays), with the
owner, mode and extended attributes (SELinux context, ACLs) of the file it
replaces; a file with more than one hard link is refused without --force.
The new file replaces the old one only if the old one is still exactly what
was read (inode, size, times, hash); another writer's edit is never lost.

Exit status: 0 fixed or nothing to do (and every dry run), 1 the fix is
applied and proven but could not be recorded in the audit log, 2 the fix
failed and was rolled back, 3 bad input or a refusal (no approval, another
fix running, a fix that needs --allow-smb1, a file changed meanwhile, a
signal before anything was written, a state directory or backup that
cannot be trusted or made).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runFix(cmd, s, o) },
	}
	fl := cmd.Flags()
	configs.AddCommonFlags(fl)
	configs.AddOutputFlags(fl)
	configs.AddFixFlags(fl)
	fl.BoolVar(&o.apply, "apply", false, "apply the plan (asks for confirmation on the terminal)")
	fl.BoolVarP(&o.yes, "yes", "y", false, "approve without asking (with --apply or --rollback)")
	fl.StringVar(&o.only, "only", "", "limit the plan to the fix with this id (as the plan shows it, e.g. protocol-mismatch/server-min-above-client-max)")
	fl.BoolVar(&o.rollback, "rollback", false, "restore the last applied fix from its backups")
	fl.BoolVar(&o.force, "force", false, "edit a file that has more than one hard link (replacing it leaves the other names with the old content)")
	fl.String("remote-client-ip", "", "address of the remote checker, to judge hosts allow/deny and firewall rules for it (config remote_client_ip)")
	fl.Bool("guest", false, "also try a guest/anonymous session (config credentials.guest)")
	fl.String("file", "", "file in --share to read and hash, like a scoring engine (config file.path)")
	fl.String("file-sha256", "", "expected SHA-256 of --file (config file.sha256)")
	fl.String("backup-dir", "", "directory of the backups and manifests (config fix.backup_dir)")
	fl.String("audit-log", "", "append-only JSON-lines audit log (config fix.audit_log)")
	fl.String("lock-file", "", "lock file that keeps two fixers apart (config fix.lock_file)")
	fl.String("prove-timeout", "", "how long to wait for a new diagnosis to prove the fix, e.g. 30s (config fix.prove_timeout)")
	return cmd
}

func runFix(cmd *cobra.Command, s *streams, o fixOptions) error {
	fl := cmd.Flags()
	cfg, err := configs.Load(configs.LoadOptions{File: globals.configFile, Flags: fl})
	if err != nil {
		return withCode(exitUnknown, err)
	}
	if o.rollback && (o.apply || o.only != "") {
		return usageError("--rollback restores the last applied fix; it takes neither --apply nor --only")
	}
	if !o.rollback {
		if err := requireSmbConf(cfg); err != nil {
			return err
		}
	}
	asJSON := cfg.Output.JSON
	ctx := cmd.Context()
	env, err := fixEnv(ctx, s, cfg, o, asJSON)
	if err != nil {
		return withCode(exitUnknown, err)
	}
	out := s.out
	if !asJSON {
		// The plan and the result quote smb.conf lines, section names
		// and command output: control characters are shown escaped.
		sw := safetext.NewWriter(s.out)
		defer sw.Flush()
		out = sw
	}

	var recovered []fixes.Result
	if o.apply || o.rollback {
		// The lock comes first, so that the plan is made from files no
		// other fixer is writing, and a second fixer fails at once.
		lock, err := fixes.AcquireLock(cfg.Fix.LockFile)
		if err != nil {
			return withCode(exitUnknown, err)
		}
		defer lock.Release()
		env.Held = lock
		recovered, err = fixes.Recover(ctx, env)
		if err != nil {
			fmt.Fprintf(s.err, "agent: recover interrupted fixes: %v\n", err)
		}
		for _, r := range recovered {
			if r.AuditError != "" {
				fmt.Fprintf(s.err, "agent: recovery of %s is %s, but it could not be recorded in the audit log: %s\n", r.ID, r.Result, r.AuditError)
			}
		}
		if !asJSON {
			for _, r := range recovered {
				fmt.Fprintf(out, "Recovered interrupted fix %s (%s): %s\n", r.ID, strings.Join(r.Fixes, ", "), r.Result)
			}
		}
	}

	if o.rollback {
		res, err := fixes.Rollback(ctx, env)
		res.Recovered = append(recovered, res.Recovered...)
		if asJSON {
			if jerr := writeJSON(out, map[string]any{"rollback": res}); jerr != nil {
				return withCode(exitUnknown, jerr)
			}
		} else {
			renderResult(out, &res)
		}
		var unrecorded *fixes.NotRecordedError
		switch {
		case errors.As(err, &unrecorded):
			return withCode(exitWarning, err)
		case errors.Is(err, fixes.ErrNothingToRollBack):
			if !asJSON {
				fmt.Fprintln(out, "Nothing to roll back: no applied fix is recorded in", cfg.Fix.BackupDir)
			}
			return nil
		case errors.Is(err, fixes.ErrRefused), errors.Is(err, fixes.ErrChanged), errors.Is(err, fixes.ErrConflict),
			errors.Is(err, fixes.ErrForgedManifest):
			return withCode(exitUnknown, err)
		case err != nil:
			return withCode(exitCritical, err)
		}
		return nil
	}

	rep, facts, err := diagnose.Run(ctx, cfg)
	if o.apply && ctx.Err() != nil {
		// A signal during the diagnosis: nothing was written, and
		// nothing will be.
		return withCode(exitUnknown, fmt.Errorf("diagnosis %w", fixes.ErrInterrupted))
	}
	if err != nil {
		if errors.Is(err, diagnose.ErrBadInput) {
			return withCode(exitUnknown, errors.New(strings.TrimPrefix(err.Error(), diagnose.ErrBadInput.Error()+": ")))
		}
		return withCode(exitUnknown, fmt.Errorf("diagnose: %w", err))
	}
	if why := facts.LiveViewError(); why != "" && !o.rollback {
		// Same report as diagnose (CRITICAL); but no plan is made from
		// it: a change planned against a host the agent never reached
		// would be a guess applied as root.
		if asJSON {
			if jerr := writeJSON(out, map[string]any{"status": rep.Status, "refused": "target not observed: " + why}); jerr != nil {
				return withCode(exitUnknown, jerr)
			}
		}
		return withCode(exitCritical, fmt.Errorf("no plan: the target %s could not be observed (%s); run agent diagnose for the findings", rep.Target, why))
	}
	plan, err := fixes.MakePlan(rep, facts, fixes.PlanOptions{AllowSMB1: cfg.Fix.AllowSMB1, Only: o.only})
	if err != nil {
		return withCode(exitUnknown, err)
	}
	if !asJSON {
		renderPlan(out, rep, plan)
	}
	if !o.apply {
		if asJSON {
			if err := writeJSON(out, map[string]any{"status": rep.Status, "plan": plan}); err != nil {
				return withCode(exitUnknown, err)
			}
		} else if !plan.Empty() {
			fmt.Fprintln(out, "Dry run: nothing was changed. Apply it with: agent fix --apply")
		}
		return nil
	}
	if plan.Empty() {
		var err error
		if len(plan.Refused) > 0 {
			var why []string
			for _, r := range plan.Refused {
				why = append(why, r.ID+": "+r.Refusal)
			}
			err = fmt.Errorf("refused: %s", strings.Join(why, "; "))
		}
		if asJSON {
			res := fixes.Result{Op: "apply", Result: fixes.ResultNothing, Fixes: []string{}, Recovered: recovered}
			if err != nil {
				res.Result, res.Error = fixes.ResultRefused, err.Error()
			}
			if jerr := writeJSON(out, map[string]any{"status": rep.Status, "plan": plan, "result": res}); jerr != nil {
				return withCode(exitUnknown, jerr)
			}
		}
		if err != nil {
			return withCode(exitUnknown, err)
		}
		if !asJSON {
			fmt.Fprintln(out, "Nothing to apply.")
		}
		return nil
	}
	res, err := fixes.Apply(ctx, plan, env)
	res.Recovered = append(recovered, res.Recovered...)
	if asJSON {
		if jerr := writeJSON(out, map[string]any{"status": rep.Status, "plan": plan, "result": res}); jerr != nil {
			return withCode(exitUnknown, jerr)
		}
	} else {
		renderResult(out, &res)
	}
	var busy *fixes.BusyError
	var unrecorded *fixes.NotRecordedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &unrecorded):
		// The change stands (it is proven); only its record is missing.
		return withCode(exitWarning, err)
	case errors.Is(err, fixes.ErrRefused), errors.Is(err, fixes.ErrChanged), errors.Is(err, fixes.ErrConflict),
		errors.Is(err, fixes.ErrInterrupted), errors.As(err, &busy):
		return withCode(exitUnknown, err)
	case res.Result == fixes.ResultAborted:
		// Stopped before any file was written (a state directory that is
		// not the agent's, a backup that could not be made): nothing to
		// roll back, so not "failed and rolled back".
		return withCode(exitUnknown, err)
	}
	return withCode(exitCritical, err)
}

// fixEnv builds the transaction's environment from the configuration.
func fixEnv(ctx context.Context, s *streams, cfg *configs.Config, o fixOptions, asJSON bool) (fixes.Env, error) {
	split := func(key, v string) ([]string, error) {
		argv, err := configs.SplitCommand(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		return argv, nil
	}
	env := fixes.Env{
		Runner:       fixes.ExecRunner,
		BackupDir:    cfg.Fix.BackupDir,
		AuditLog:     cfg.Fix.AuditLog,
		LockFile:     cfg.Fix.LockFile,
		ProveTimeout: cfg.Fix.ProveTimeout,
		AllowSMB1:    cfg.Fix.AllowSMB1,
		Force:        o.force,
		Fault:        fixes.InjectedFault(),
		Approver:     terminalApprover(ctx, s, o.yes),
		Prober: func(ctx context.Context) (*checks.Report, error) {
			rep, _, err := diagnose.Run(ctx, cfg)
			return rep, err
		},
	}
	var err error
	if env.Restart, err = split("fix.restart_cmd", cfg.Fix.RestartCmd); err != nil {
		return env, err
	}
	// The fallback stands in for the default restart command only: a
	// restart command of one's own is not followed by another one unless
	// that is configured too.
	if cfg.Origin("fix.restart_cmd") == "default" || cfg.Origin("fix.restart_fallback_cmd") != "default" {
		if env.RestartFallback, err = split("fix.restart_fallback_cmd", cfg.Fix.RestartFallbackCmd); err != nil {
			return env, err
		}
	}
	if env.Reload, err = split("fix.reload_cmd", cfg.Fix.ReloadCmd); err != nil {
		return env, err
	}
	if env.Start, err = split("fix.start_cmd", cfg.Fix.StartCmd); err != nil {
		return env, err
	}
	if tp, err := exec.LookPath("testparm"); err == nil {
		env.Testparm = []string{tp, "-s"}
	}
	var progress io.Writer = safetext.NewWriter(s.out)
	if asJSON {
		progress = safetext.NewWriter(s.err)
	}
	env.Progress = func(st fixes.Step) {
		mark := "ok  "
		if !st.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(progress, "  [%s] %-9s %s\n", mark, st.Name, st.Detail)
	}
	return env, nil
}

// terminalApprover asks on the terminal: the prompt on stderr, one line of
// answer from stdin, "y" or "yes" approves and anything else (an empty
// line, end of input) does not. Without a terminal on stdin it refuses
// unless --yes was given.
func terminalApprover(ctx context.Context, s *streams, yes bool) fixes.Approver {
	return func(prompt string) (bool, error) {
		if yes {
			fmt.Fprintf(s.err, "%syes (--yes)\n", safetext.EscapeLines(prompt))
			return true, nil
		}
		f, ok := s.in.(*os.File)
		if !ok || !isTerminal(f) {
			return false, errors.New("no terminal to ask for approval on; pass --yes to apply without asking")
		}
		fmt.Fprint(s.err, safetext.EscapeLines(prompt))
		type answer struct {
			line string
			err  error
		}
		got := make(chan answer, 1)
		go func() {
			line, err := bufio.NewReader(f).ReadString('\n')
			got <- answer{line, err}
		}()
		select {
		case <-ctx.Done(): // Ctrl-C at the prompt: no
			fmt.Fprintln(s.err)
			return false, errors.New("interrupted at the prompt")
		case a := <-got:
			if a.err != nil && a.line == "" {
				fmt.Fprintln(s.err)
			}
			ans := strings.ToLower(strings.TrimSpace(a.line))
			return ans == "y" || ans == "yes", nil
		}
	}
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// renderPlan prints the plan: each fix with its finding, why, the edits
// (file:line, the spelling kept) and smbd's action; then what is optional,
// refused and manual; then a unified diff per file.
func renderPlan(w io.Writer, rep *checks.Report, p *fixes.Plan) {
	fmt.Fprintf(w, "Diagnosis: %s\n", rep.Headline())
	if p.Empty() && len(p.Optional) == 0 && len(p.Refused) == 0 && len(p.Manual) == 0 {
		fmt.Fprintln(w, "Nothing to fix.")
		return
	}
	if len(p.Fixes) > 0 {
		fmt.Fprintf(w, "\nPlan (%s):\n", p.SmbConf)
		for i, f := range p.Fixes {
			renderPlanned(w, fmt.Sprintf("%d.", i+1), f)
		}
		fmt.Fprintf(w, "\nsmbd: %s\n", p.Action.Describe())
		if p.ActionWhy != "" {
			fmt.Fprintf(w, "  because %s\n", p.ActionWhy)
		}
	}
	if len(p.Optional) > 0 {
		fmt.Fprintln(w, "\nOptional (they weaken something; apply one with --only ID):")
		for _, f := range p.Optional {
			renderPlanned(w, "-", f)
		}
	}
	if len(p.Refused) > 0 {
		fmt.Fprintln(w, "\nRefused:")
		for _, f := range p.Refused {
			renderPlanned(w, "-", f)
			fmt.Fprintf(w, "     refused: %s\n", f.Refusal)
		}
	}
	if len(p.Manual) > 0 {
		fmt.Fprintln(w, "\nFor a person (shown, never applied by the agent):")
		for _, f := range p.Manual {
			label := "-"
			if f.Kind == checks.FixFirewall {
				label = "- [firewall]"
			}
			renderPlanned(w, label, f)
			for j, st := range f.Steps {
				fmt.Fprintf(w, "     %d) %s\n", j+1, st)
			}
		}
	}
	for _, fe := range p.Files {
		fmt.Fprintf(w, "\n%s", fe.Diff)
	}
	fmt.Fprintln(w)
}

func renderPlanned(w io.Writer, label string, f fixes.PlannedFix) {
	fmt.Fprintf(w, "  %s %s [%s]\n", label, f.ID, f.Severity)
	if f.Finding != "" {
		fmt.Fprintf(w, "     finding: %s\n", f.Finding)
	}
	fmt.Fprintf(w, "     fix:     %s\n", f.Summary)
	if f.Why != "" {
		fmt.Fprintf(w, "     why:     %s\n", f.Why)
	}
	if f.Risk != "" {
		fmt.Fprintf(w, "     risk:    %s\n", f.Risk)
	}
	for _, e := range f.Edits {
		name := e.Name
		if name != e.Param {
			name += " (synonym of " + e.Param + ")"
		}
		switch {
		case e.Remove:
			fmt.Fprintf(w, "     edit:    %s:%d [%s] remove %s = %s (the default applies)\n", e.Path, e.Line, e.Section, name, e.From)
		case e.Insert:
			fmt.Fprintf(w, "     edit:    %s:%d [%s] add %s = %s\n", e.Path, e.Line, e.Section, name, e.To)
		default:
			fmt.Fprintf(w, "     edit:    %s:%d [%s] %s: %s -> %s\n", e.Path, e.Line, e.Section, name, e.From, e.To)
		}
	}
	if f.Action != "" && f.Action != fixes.ActionNone {
		fmt.Fprintf(w, "     smbd:    %s\n", f.Action)
	}
}

// renderResult prints the outcome with the values before and after.
func renderResult(w io.Writer, r *fixes.Result) {
	switch r.Result {
	case "":
		return
	case fixes.ResultNothing:
		if r.Op != "rollback" {
			fmt.Fprintln(w, "Nothing to do.")
		}
		return
	}
	fmt.Fprintf(w, "\nResult: %s", r.Result)
	if r.ID != "" {
		fmt.Fprintf(w, " (transaction %s, %d ms)", r.ID, r.DurationMS)
	}
	fmt.Fprintln(w)
	for _, f := range r.Files {
		for _, c := range f.Changes {
			fmt.Fprintf(w, "  %s:%d [%s] %s: %s -> %s\n", f.Path, c.Line, c.Section, c.Name, c.From, c.To)
		}
	}
	if r.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", r.Error)
	}
	if r.Rollback != nil {
		fmt.Fprintf(w, "  rollback: %s\n", r.Rollback.Detail)
	}
	if r.Manifest != "" {
		fmt.Fprintf(w, "  backups: %s\n", r.Manifest)
	}
}
