package fixes

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/go-multierror"
	"golang.org/x/sys/unix"

	"github.com/smb-agent/smb-agent/checks"
	"github.com/smb-agent/smb-agent/configs/smbconf"
)

// Errors that say why Apply or Rollback did not change anything on purpose
// (bad input or a refusal, as opposed to a failed fix).
var (
	// ErrRefused: no approval (no terminal and no --yes, the answer was
	// no) or a fix the options do not allow (SMB1).
	ErrRefused = errors.New("refused")
	// ErrChanged: a file differs from what the plan was made from.
	ErrChanged = errors.New("changed since the plan was made")
	// ErrNothingToRollBack: no applied fix is recorded in the backups.
	ErrNothingToRollBack = errors.New("no applied fix to roll back")
)

// Result is the outcome of one transaction (apply, rollback or recover), as
// the terminal, the JSON output and the audit log show it.
type Result struct {
	ID     string      `json:"id,omitempty"`
	Op     string      `json:"op"`
	Result string      `json:"result"`
	Fixes  []string    `json:"fixes"`
	Action Action      `json:"action"`
	Files  []AuditFile `json:"files,omitempty"`
	Steps  []Step      `json:"steps"`
	Error  string      `json:"error,omitempty"`
	// Rollback is how the restore after a failure went.
	Rollback *AuditStep `json:"rollback,omitempty"`
	Manifest string     `json:"manifest,omitempty"`
	// Of is the transaction a rollback undid.
	Of         string `json:"of,omitempty"`
	DurationMS int64  `json:"duration_ms"`
	// Recovered are transactions a killed run left in progress that this
	// one undid first.
	Recovered []Result `json:"recovered,omitempty"`
	// AuditError is why the audit record could not be written.
	AuditError string `json:"audit_error,omitempty"`
	// After is the diagnosis that proved the fix (or the last one tried).
	After *checks.Report `json:"-"`
}

// Failed says whether the transaction tried to change something and did
// not succeed (rolled back, or the rollback failed too).
func (r *Result) Failed() bool {
	return r.Result == ResultRolledBack || r.Result == ResultRollbackFailed || r.Result == ResultAborted
}

// Prompt is the question asked before Apply changes anything.
func (p *Plan) Prompt() string {
	var b strings.Builder
	n := len(p.Fixes)
	fmt.Fprintf(&b, "Apply %d fix", n)
	if n != 1 {
		b.WriteString("es")
	}
	fmt.Fprintf(&b, " (%s)", strings.Join(p.IDs(), ", "))
	if files := p.Changed(); len(files) > 0 {
		fmt.Fprintf(&b, ", writing %s", strings.Join(files, ", "))
	}
	if p.Action != ActionNone && p.Action != "" {
		fmt.Fprintf(&b, ", then %s", p.Action.Describe())
	}
	b.WriteString("? [y/N] ")
	return b.String()
}

// tx is one transaction in progress.
type tx struct {
	env   *Env
	res   *Result
	start time.Time
	// st is the backup directory, targets the files edited (held open,
	// by the plan's path).
	st      *store
	targets map[string]*target
	// auditErr is why the audit record could not be written.
	auditErr error
}

func (t *tx) step(name string, ok bool, format string, args ...any) {
	s := Step{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)}
	t.res.Steps = append(t.res.Steps, s)
	t.env.Progress(s)
}

func (t *tx) close() {
	for _, tg := range t.targets {
		tg.Close()
	}
	t.st.Close()
}

// finish stamps the duration and appends the audit record.
func (t *tx) finish() {
	t.res.DurationMS = t.env.Now().Sub(t.start).Milliseconds()
	user, uid := currentUser()
	rec := AuditRecord{Time: t.start.UTC(), Op: t.res.Op, User: user, UID: uid, ID: t.res.ID,
		Fixes: t.res.Fixes, Action: t.res.Action, Files: t.res.Files, Result: t.res.Result,
		Error: t.res.Error, Rollback: t.res.Rollback, Manifest: t.res.Manifest, Steps: t.res.Steps}
	if rec.Fixes == nil {
		rec.Fixes = []string{}
	}
	if err := appendAudit(t.env.AuditLog, rec); err != nil {
		t.auditErr = err
		t.res.AuditError = err.Error()
		t.step("audit", false, "%v", err)
	}
}

// notRecorded turns a transaction that succeeded but could not be
// written to the audit log into an error that says both.
func (t *tx) notRecorded() error {
	if t.auditErr == nil {
		return nil
	}
	return &NotRecordedError{Result: t.res.Result, Err: t.auditErr}
}

// NotRecordedError: the transaction did what it says (Result), but its
// audit record could not be written.
type NotRecordedError struct {
	Result string
	Err    error
}

func (e *NotRecordedError) Error() string {
	if e.Result == ResultApplied {
		return fmt.Sprintf("the fix is applied and proven, but it could not be recorded in the audit log: %v", e.Err)
	}
	return fmt.Sprintf("the transaction ended %s, but it could not be recorded in the audit log: %v", e.Result, e.Err)
}

func (e *NotRecordedError) Unwrap() error { return e.Err }

// ErrInterrupted: a signal came before anything was written; nothing was.
var ErrInterrupted = errors.New("interrupted before anything was written: nothing was changed")

// Apply carries out a plan as one transaction: lock, approval, backups,
// atomic writes, validation (our parser, then testparm -s), the smbd action,
// and the proof (a new diagnosis, repeated until the fixed findings are gone
// or Env.ProveTimeout passes). On any failure after the first write every
// file is restored byte for byte and the action is run again, so smbd serves
// the old configuration. The outcome goes to the audit log.
//
// The error is nil when the fix is applied (or there was nothing to do);
// it wraps ErrRefused, ErrChanged or *BusyError when nothing was tried on
// purpose, and is a plain error when the fix failed (Result says whether
// the rollback worked).
func Apply(ctx context.Context, p *Plan, env Env) (Result, error) {
	env.fill()
	res := Result{Op: "apply", Action: ActionNone}
	if p == nil {
		return res, errors.New("no plan")
	}
	res.Fixes, res.Action = p.IDs(), p.Action
	if res.Fixes == nil {
		res.Fixes = []string{}
	}
	t := &tx{env: &env, res: &res, start: env.Now()}
	if p.Empty() {
		res.Result = ResultNothing
		return res, nil
	}
	for _, pf := range p.Fixes {
		if pf.EnablesSMB1 && !env.AllowSMB1 {
			res.Result = ResultRefused
			res.Error = fmt.Sprintf("fix %s enables SMB1 (NT1); refused without --allow-smb1", pf.ID)
			t.step("check", false, "%s", res.Error)
			t.finish()
			return res, fmt.Errorf("%w: %s", ErrRefused, res.Error)
		}
	}
	lock := env.Held
	if lock == nil {
		l, err := AcquireLock(env.LockFile)
		if err != nil {
			res.Result = ResultAborted
			res.Error = err.Error()
			return res, err
		}
		lock = l
		defer lock.Release()
		// Only a run that took the lock itself recovers here: a caller
		// holding it recovered before it diagnosed.
		res.Recovered, _ = Recover(ctx, env)
	}
	if err := env.fault(FaultAfterLock, ""); err != nil {
		res.Result, res.Error = ResultAborted, err.Error()
		t.finish()
		return res, err
	}

	// Approval. Nothing has been touched yet.
	if env.Approver == nil {
		res.Result, res.Error = ResultRefused, "no way to ask for approval"
		t.finish()
		return res, fmt.Errorf("%w: %s", ErrRefused, res.Error)
	}
	ok, err := env.Approver(p.Prompt())
	if err != nil || !ok {
		res.Result = ResultRefused
		if err != nil {
			res.Error = err.Error()
		} else {
			res.Error = "not approved"
		}
		t.step("approve", false, "%s", res.Error)
		t.finish()
		return res, fmt.Errorf("%w: %s", ErrRefused, res.Error)
	}
	t.step("approve", true, "approved")
	t.start = env.Now() // the transaction's time is from approval on

	// The files must still be what the plan was made from. Each is held
	// open from here to the end: its directory (every write is relative
	// to it) and the file (the compare-and-swap before each rename).
	t.targets = map[string]*target{}
	defer t.close()
	m := &Manifest{ID: newTransactionID(t.start), Op: "apply", Time: t.start.UTC(), State: StateInProgress,
		Fixes: res.Fixes, Action: p.Action, SmbConf: filepath.Clean(p.SmbConf), SmbdConfig: p.SmbdConfig}
	current := map[string][]byte{}
	for _, fe := range p.Files {
		tg, b, err := openTarget(fe.Path, env.Force, true)
		if err == nil {
			t.targets[fe.Path] = tg
			if !bytes.Equal(b, fe.Before) {
				err = fmt.Errorf("%s %w; run agent fix again", fe.Path, ErrChanged)
			}
		}
		if err != nil {
			res.Result, res.Error = ResultAborted, err.Error()
			t.step("read", false, "%v", err)
			t.finish()
			return res, err
		}
		current[fe.Path] = b
		meta := tg.meta()
		m.Files = append(m.Files, ManifestFile{Path: filepath.Clean(fe.Path), Real: tg.real, BeforeSHA256: sha(fe.Before), AfterSHA256: sha(fe.After),
			Mode: meta.Mode, UID: meta.UID, GID: meta.GID})
		res.Files = append(res.Files, auditFile(fe))
	}
	// A signal (Ctrl-C, SIGTERM) that came before this point stops the
	// fix with nothing written: there is nothing to roll back.
	if ctx.Err() != nil {
		res.Result, res.Error = ResultAborted, ErrInterrupted.Error()
		t.step("interrupted", false, "%v", ErrInterrupted)
		t.finish()
		return res, ErrInterrupted
	}
	st, err := openStore(env.BackupDir, true)
	if err == nil {
		t.st = st
		err = t.backup(m, current)
	}
	if err != nil {
		res.Result, res.Error = ResultAborted, err.Error()
		t.step("backup", false, "%v", err)
		t.finish()
		return res, err
	}
	res.ID, res.Manifest = m.ID, st.path(m.ID)
	t.step("backup", true, "%d file(s) backed up in %s", len(m.Files), filepath.Dir(res.Manifest))
	if err := env.fault(FaultAfterBackup, ""); err != nil {
		return t.fail(ctx, p, m, false, "backup", err)
	}

	// smbd notices a changed file by its modification time in whole
	// seconds (the include list keeps a time_t per file, source3/param/
	// loadparm.c): a file rewritten within the second of its last write
	// looks unchanged to the children, which then keep the old settings.
	// Write in a later second than the file's current one.
	if err := env.pastMtimeSecond(ctx, p.Changed()); err != nil {
		return t.fail(ctx, p, m, false, "write", err)
	}

	// Write, each file atomically and only over the bytes the plan read.
	for i, fe := range p.Files {
		if err := t.targets[fe.Path].replace(fe.After, m.Files[i].meta(), env.fault); err != nil {
			return t.fail(ctx, p, m, false, "write", err)
		}
		t.step("write", true, "%s (%d edit(s))", fe.Path, len(fe.Edits))
		if err := env.fault(FaultAfterRename, fe.Path); err != nil {
			return t.fail(ctx, p, m, false, "write", err)
		}
	}

	// Validate.
	if len(p.Files) > 0 {
		if err := validate(ctx, p, &env); err != nil {
			return t.fail(ctx, p, m, false, "validate", err)
		}
		t.step("validate", true, "smb.conf loads and every edit is effective%s", map[bool]string{true: "; testparm -s accepts it", false: ""}[len(env.Testparm) > 0])
		if err := env.fault(FaultAfterValidate, ""); err != nil {
			return t.fail(ctx, p, m, false, "validate", err)
		}
	}

	// The smbd action.
	if p.Action != ActionNone && p.Action != "" {
		if err := env.act(ctx, p.Action, p.SmbdConfig); err != nil {
			return t.fail(ctx, p, m, true, string(p.Action), err)
		}
		t.step(string(p.Action), true, "%s", p.Action.Describe())
	} else {
		t.step("action", true, "none needed: %s", p.ActionWhy)
	}
	if err := env.fault(FaultAfterAction, ""); err != nil {
		return t.fail(ctx, p, m, true, string(p.Action), err)
	}

	// Prove.
	if env.Prober != nil {
		rep, why := env.prove(ctx, func(r *checks.Report) string { return notProven(p, r) })
		res.After = rep
		if why != "" {
			return t.fail(ctx, p, m, true, "prove", errors.New(why))
		}
		t.step("prove", true, "a new diagnosis no longer finds %s (status %s)", strings.Join(res.Fixes, ", "), rep.Status)
	}

	m.State = StateApplied
	if err := t.st.save(m); err != nil {
		t.step("manifest", false, "%v", err)
	}
	res.Result = ResultApplied
	t.finish()
	return res, t.notRecorded()
}

// backup copies each file's bytes into a new directory of the backup
// directory (exclusive creates, same owner and permission bits, fsynced)
// and writes the manifest (state in-progress) before anything is touched.
func (t *tx) backup(m *Manifest, current map[string][]byte) error {
	dir, err := t.st.newTx(m.ID)
	if err != nil {
		return err
	}
	defer dir.Close()
	for i := range m.Files {
		mf := &m.Files[i]
		name := backupName(i, mf.Path)
		mf.Backup = dir.join(name)
		if err := writeBackup(dir, name, current[mf.Path], mf.meta()); err != nil {
			return fmt.Errorf("back up %s: %w", mf.Path, err)
		}
	}
	if err := unix.Fsync(dir.fd); err != nil {
		return fmt.Errorf("sync backup directory: %w", err)
	}
	if err := unix.Fsync(t.st.dir.fd); err != nil {
		return fmt.Errorf("sync backup directory: %w", err)
	}
	return t.st.save(m)
}

// fail rolls back after a failure at stage: every file is restored byte for
// byte, and when the smbd action ran (or may have run) it is run again so
// that smbd serves the old configuration; then a diagnosis checks that it
// serves as before.
func (t *tx) fail(ctx context.Context, p *Plan, m *Manifest, acted bool, stage string, cause error) (Result, error) {
	env, res := t.env, t.res
	res.Error = stage + ": " + cause.Error()
	t.step(stage, false, "%v", cause)
	// A cancelled context (Ctrl-C, SIGTERM) must not stop the rollback.
	rctx := context.WithoutCancel(ctx)
	rb := AuditStep{OK: true}
	var details []string
	restored, err := t.restoreFiles(m)
	if err != nil {
		rb.OK = false
		details = append(details, err.Error())
	} else {
		details = append(details, fmt.Sprintf("%d of %d file(s) restored byte for byte", restored, len(m.Files)))
	}
	if acted && (p.Action == ActionRestart || p.Action == ActionReload) {
		if err := env.act(rctx, p.Action, p.SmbdConfig); err != nil {
			details = append(details, fmt.Sprintf("%s again failed: %v", p.Action, err))
		} else {
			details = append(details, string(p.Action)+" again: ok")
		}
		if env.Prober != nil {
			_, why := env.prove(rctx, func(r *checks.Report) string { return notAsBefore(p.Before, r) })
			if why != "" {
				rb.OK = false
				details = append(details, "smbd does not serve as before: "+why)
			} else {
				details = append(details, "smbd serves as before")
			}
		}
	}
	rb.Detail = strings.Join(details, "; ")
	res.Rollback = &rb
	switch {
	case !rb.OK:
		res.Result, m.State = ResultRollbackFailed, StateFailed
	case errors.Is(cause, ErrConflict) && restored == 0 && !acted:
		// Another writer's edit came first: it stays, and nothing of
		// the fix was written.
		res.Result, m.State = ResultAborted, StateAborted
	default:
		res.Result, m.State = ResultRolledBack, StateRolledBack
		if restored == 0 && !acted {
			m.State = StateAborted
		}
	}
	t.step("rollback", rb.OK, "%s", rb.Detail)
	if err := t.st.save(m); err != nil {
		t.step("manifest", false, "%v", err)
	}
	t.finish()
	return *res, fmt.Errorf("fix failed at %s: %w; %s", stage, cause, rb.Detail)
}

// restoreFiles puts back the backup of every file of m that the
// transaction wrote, through the files and directories it holds. It
// returns how many it rewrote.
func (t *tx) restoreFiles(m *Manifest) (int, error) {
	n := 0
	var errs *multierror.Error
	for i, mf := range m.Files {
		tg := t.targets[mf.Path]
		if tg == nil {
			var err error
			if tg, _, err = openTarget(mf.Real, true, false); err != nil {
				errs = multierror.Append(errs, fmt.Errorf("restore %s: %w (the backup is %s)", mf.Path, err, mf.Backup))
				continue
			}
			if t.targets == nil {
				t.targets = map[string]*target{}
			}
			t.targets[mf.Path] = tg
		}
		ok, err := restoreFile(t.st, m.ID, i, mf, tg)
		if err != nil {
			errs = multierror.Append(errs, err)
		}
		if ok {
			n++
		}
	}
	if errs != nil {
		errs.ErrorFormat = joinErrors
	}
	return n, errs.ErrorOrNil()
}

func joinErrors(es []error) string {
	var s []string
	for _, e := range es {
		s = append(s, e.Error())
	}
	return strings.Join(s, "; ")
}

// restoreFile puts back the backup of mf (the i-th file of transaction
// id) where the file still holds what the transaction wrote; the old
// content already there is left as it is, and anything else (someone
// edited the file since) is left alone with an error. The mode restored
// never has set-id bits the file being replaced lacks.
func restoreFile(st *store, id string, i int, mf ManifestFile, tg *target) (bool, error) {
	if tg.sum == mf.BeforeSHA256 {
		tg.cleanStaleTemps()
		return false, nil
	}
	if tg.sum != mf.AfterSHA256 {
		return false, fmt.Errorf("%s changed since the fix wrote it (neither the old nor the new content): left alone; its backup is %s", mf.Real, mf.Backup)
	}
	b, err := st.readBackup(id, backupName(i, mf.Path), mf.BeforeSHA256)
	if err != nil {
		return false, fmt.Errorf("restore %s: %w", mf.Real, err)
	}
	if err := tg.replace(b, mf.meta(), nil); err != nil {
		return false, fmt.Errorf("restore %s: %w (the backup is %s)", mf.Real, err, mf.Backup)
	}
	tg.cleanStaleTemps()
	if got, err := readAllBounded(tg.f, maxConfigFile); err != nil || sha(got) != mf.BeforeSHA256 {
		return false, fmt.Errorf("restore %s: the file does not read back as the backup", mf.Real)
	}
	return true, nil
}

// namedByConfig checks that every file of m is smb.conf or a file it
// includes: a fix edits nothing else, so a manifest naming another file
// is not to be acted on.
func (m *Manifest) namedByConfig() error {
	c, err := smbconf.Load(m.SmbConf, smbconf.LoadOptions{})
	if err != nil {
		return fmt.Errorf("%w: transaction %s: cannot read %s to check the files it names: %v", ErrForgedManifest, m.ID, m.SmbConf, err)
	}
	named := map[string]bool{}
	for _, f := range c.Files() {
		named[filepath.Clean(f)] = true
		if r, err := filepath.EvalSymlinks(f); err == nil {
			named[r] = true
		}
	}
	for _, mf := range m.Files {
		if !named[mf.Path] || !named[mf.Real] {
			return fmt.Errorf("%w: transaction %s names %s, which %s does not read: not a file a fix edits", ErrForgedManifest, m.ID, mf.Path, m.SmbConf)
		}
	}
	return nil
}

// validate loads the new configuration with our parser (it must load, and
// every edit must be the effective value now), then with testparm -s.
func validate(ctx context.Context, p *Plan, env *Env) error {
	c, err := smbconf.Load(p.SmbConf, smbconf.LoadOptions{Version: p.SambaVersion})
	if err != nil {
		return fmt.Errorf("our parser rejects the result: %v", err)
	}
	if c == nil {
		return errors.New("our parser read nothing")
	}
	for _, pf := range p.Fixes {
		for _, e := range pf.Edits {
			if e.Param == "log level" {
				// testparm semantics: the tool's own log level locks the
				// parameter, so the model cannot show the written value
				// (smbd reads it; the editor verified the line itself).
				continue
			}
			v, ok := c.Lookup(e.Section, e.Param)
			switch {
			case e.Remove:
				if ok && !v.Origin.IsDefault() && sameFile(v.Origin.File, e.Path) && v.Origin.Line == e.Line && normValue(v.Printed) == normValue(e.From) {
					return fmt.Errorf("%s in [%s] is still set at %s", e.Param, e.Section, v.Origin)
				}
			case !ok:
				return fmt.Errorf("%s in [%s] is not known to the parser after the edit", e.Param, e.Section)
			case normValue(v.Printed) != normValue(e.To) && normValue(v.Raw) != normValue(e.To):
				return fmt.Errorf("%s in [%s] is %q after the edit (from %s), not %q", e.Param, e.Section, v.Printed, v.Origin, e.To)
			}
		}
	}
	if len(env.Testparm) > 0 {
		argv := append(append([]string(nil), env.Testparm...), p.SmbConf)
		cctx, cancel := context.WithTimeout(ctx, env.CommandTimeout)
		defer cancel()
		if _, err := env.Runner(cctx, argv); err != nil {
			return fmt.Errorf("testparm rejects the result: %v", err)
		}
	}
	return nil
}

func normValue(s string) string {
	return strings.ToLower(strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' }), " "))
}

// pastMtimeSecond waits (at most a second) until the clock is past the
// whole second of every file's modification time.
func (e *Env) pastMtimeSecond(ctx context.Context, paths []string) error {
	var latest time.Time
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && fi.ModTime().After(latest) {
			latest = fi.ModTime()
		}
	}
	next := latest.Truncate(time.Second).Add(time.Second + 10*time.Millisecond)
	if d := next.Sub(time.Now()); d > 0 && d <= 2*time.Second {
		return SleepContext(ctx, d)
	}
	return nil
}

// act runs the smbd action's command.
func (e *Env) act(ctx context.Context, a Action, smbdConf string) error {
	switch a {
	case ActionReload:
		return e.run(ctx, WithConfigFile(e.Reload, smbdConf))
	case ActionRestart:
		err := e.run(ctx, e.Restart)
		if err != nil && len(e.RestartFallback) > 0 {
			ferr := e.run(ctx, e.RestartFallback)
			if ferr == nil {
				return nil
			}
			return fmt.Errorf("%v; then %v", err, ferr)
		}
		return err
	case ActionStart:
		return e.run(ctx, e.Start)
	}
	return nil
}

// prove diagnoses until judge finds nothing wrong ("" from judge) or the
// deadline passes; it returns the last report and, on failure, why.
func (e *Env) prove(ctx context.Context, judge func(*checks.Report) string) (*checks.Report, string) {
	deadline := e.Now().Add(e.ProveTimeout)
	var last *checks.Report
	why := "no diagnosis ran"
	for attempt := 1; ; attempt++ {
		rep, err := e.Prober(ctx)
		switch {
		case err != nil:
			why = "diagnose: " + err.Error()
		case rep == nil:
			why = "diagnose returned no report"
		default:
			last = rep
			why = judge(rep)
		}
		if ferr := e.fault(FaultProve, ""); ferr != nil {
			why = ferr.Error()
		}
		if why == "" {
			return last, ""
		}
		if ctx.Err() != nil || !e.Now().Before(deadline) {
			return last, fmt.Sprintf("after %d diagnosis(es) in %s: %s", attempt, e.ProveTimeout, why)
		}
		if err := e.Sleep(ctx, e.ProveInterval); err != nil {
			return last, why
		}
	}
}

func findingKey(f checks.Finding) string { return f.Pattern + "/" + f.Cause }

// notProven says why rep does not prove p ("" when it does): a fixed
// finding is still there, a new critical one appeared, or the run could not
// decide where the plan's diagnosis could.
func notProven(p *Plan, rep *checks.Report) string {
	for _, pf := range p.Fixes {
		for _, fd := range rep.Findings {
			if (fd.Fix != nil && fd.Fix.ID == pf.ID) || (fd.Pattern == pf.Pattern && fd.Cause == pf.Cause) {
				return fmt.Sprintf("%s is still found: %s", pf.ID, fd.Summary)
			}
		}
	}
	return notAsBefore(p.Before, rep)
}

// notAsBefore says how rep is worse than before ("" when it is not): a
// critical finding that was not there, or an undecided run.
func notAsBefore(before, rep *checks.Report) string {
	had := map[string]bool{}
	if before != nil {
		for _, fd := range before.Findings {
			had[findingKey(fd)] = true
		}
	}
	var worse []string
	for _, fd := range rep.Findings {
		if fd.Severity == checks.Critical && !had[findingKey(fd)] {
			worse = append(worse, findingKey(fd)+": "+fd.Summary)
		}
	}
	if len(worse) > 0 {
		sort.Strings(worse)
		return "new critical finding " + strings.Join(worse, "; ")
	}
	if rep.Status == checks.Unknown && (before == nil || before.Status != checks.Unknown) && len(rep.Errors) > 0 {
		return "the diagnosis could not decide: " + rep.Errors[0]
	}
	return ""
}

func auditFile(fe FileEdit) AuditFile {
	af := AuditFile{Path: fe.Path, BeforeSHA256: sha(fe.Before), AfterSHA256: sha(fe.After)}
	for _, e := range fe.Edits {
		to := e.To
		if e.Remove {
			to = "(default)"
		}
		af.Changes = append(af.Changes, AuditChange{Section: e.Section, Param: e.Param, Name: e.Name, Line: e.Line, From: e.From, To: to, Remove: e.Remove})
	}
	return af
}

// Recover undoes what killed runs left: every transaction still in progress
// has its files restored from the backups (when they are neither the old
// nor the new bytes, they are left alone and the transaction is marked
// failed), leftover temporary files are removed, and smbd's action is run
// again when a file was restored. A manifest this agent did not write, or
// that names a file smb.conf does not read, is refused: nothing is done
// for it and the error says why. The caller must hold the lock.
func Recover(ctx context.Context, env Env) ([]Result, error) {
	env.fill()
	st, err := openStore(env.BackupDir, false)
	if err != nil || st == nil {
		return nil, err
	}
	defer st.Close()
	ms, refused := st.list()
	var errs *multierror.Error
	if refused != nil {
		errs = multierror.Append(errs, refused)
	}
	var out []Result
	for _, m := range ms {
		if m.State != StateInProgress {
			continue
		}
		res := Result{Op: "recover", ID: m.ID, Fixes: m.Fixes, Action: m.Action, Manifest: st.path(m.ID)}
		t := &tx{env: &env, res: &res, start: env.Now(), st: st, targets: map[string]*target{}}
		for _, mf := range m.Files {
			res.Files = append(res.Files, AuditFile{Path: mf.Path, BeforeSHA256: mf.BeforeSHA256, AfterSHA256: mf.AfterSHA256})
		}
		if err := m.namedByConfig(); err != nil {
			res.Result, res.Error = ResultRefused, err.Error()
			t.step("recover", false, "%v", err)
			t.finish()
			out = append(out, res)
			errs = multierror.Append(errs, err)
			continue
		}
		foreign := false
		for _, mf := range m.Files {
			tg, _, err := openTarget(mf.Real, true, false)
			if err != nil {
				foreign = true
				t.step("recover", false, "%s: %v: left alone (backup %s)", mf.Path, err, mf.Backup)
				continue
			}
			t.targets[mf.Path] = tg
			if tg.sum != mf.BeforeSHA256 && tg.sum != mf.AfterSHA256 {
				foreign = true
				t.step("recover", false, "%s is neither the old nor the new content: left alone (backup %s)", mf.Path, mf.Backup)
			}
		}
		if foreign {
			m.State, res.Result, res.Error = StateFailed, ResultRollbackFailed, "a file changed after the interrupted fix"
		} else {
			n, err := t.restoreFiles(m)
			if err != nil {
				m.State, res.Result, res.Error = StateFailed, ResultRollbackFailed, err.Error()
			} else {
				m.State, res.Result = StateRolledBack, ResultRolledBack
				t.step("restore", true, "%d file(s) of interrupted fix %s restored byte for byte", n, m.ID)
				if n > 0 && (m.Action == ActionRestart || m.Action == ActionReload) {
					if err := env.act(context.WithoutCancel(ctx), m.Action, m.SmbdConfig); err != nil {
						t.step(string(m.Action), false, "%v", err)
					} else {
						t.step(string(m.Action), true, "%s", m.Action.Describe())
					}
				}
			}
		}
		for _, tg := range t.targets {
			tg.Close()
		}
		res.Rollback = &AuditStep{OK: res.Result == ResultRolledBack, Detail: res.Error}
		if err := st.save(m); err != nil {
			t.step("manifest", false, "%v", err)
		}
		t.finish()
		out = append(out, res)
	}
	if errs != nil {
		errs.ErrorFormat = joinErrors
	}
	return out, errs.ErrorOrNil()
}

// Rollback restores the files of the last applied fix from its backups (as
// one transaction of its own: the current bytes are backed up first, and a
// failed restore is undone), then runs that fix's smbd action again. A file
// that changed since the fix is not overwritten.
func Rollback(ctx context.Context, env Env) (Result, error) {
	env.fill()
	res := Result{Op: "rollback", Action: ActionNone, Fixes: []string{}}
	t := &tx{env: &env, res: &res, start: env.Now(), targets: map[string]*target{}}
	defer t.close()
	lock := env.Held
	if lock == nil {
		l, err := AcquireLock(env.LockFile)
		if err != nil {
			res.Result, res.Error = ResultAborted, err.Error()
			return res, err
		}
		defer l.Release()
		res.Recovered, _ = Recover(ctx, env)
	}
	st, err := openStore(env.BackupDir, false)
	if err != nil {
		res.Result, res.Error = ResultAborted, err.Error()
		return res, err
	}
	if st == nil {
		res.Result = ResultNothing
		return res, ErrNothingToRollBack
	}
	t.st = st
	// Manifests refused here were reported by Recover; only verified
	// ones are candidates.
	ms, _ := st.list()
	var last *Manifest
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Op == "apply" && ms[i].State == StateApplied {
			last = ms[i]
			break
		}
	}
	if last == nil {
		res.Result = ResultNothing
		return res, ErrNothingToRollBack
	}
	res.Of, res.Fixes, res.Action = last.ID, last.Fixes, last.Action
	if res.Action == ActionStart {
		res.Action = ActionNone
	}
	if err := last.namedByConfig(); err != nil {
		res.Result, res.Error = ResultRefused, err.Error()
		t.finish()
		return res, err
	}
	current := map[string][]byte{}
	m := &Manifest{ID: newTransactionID(t.start), Op: "rollback", Time: t.start.UTC(), State: StateInProgress,
		Fixes: last.Fixes, Action: res.Action, SmbConf: last.SmbConf, SmbdConfig: last.SmbdConfig, Of: last.ID}
	for _, mf := range last.Files {
		tg, cur, err := openTarget(mf.Real, true, false)
		if err == nil {
			t.targets[mf.Path] = tg
			if tg.sum != mf.AfterSHA256 {
				err = fmt.Errorf("%s changed since fix %s was applied; not overwriting it (its backup is %s)", mf.Path, last.ID, mf.Backup)
			}
		}
		if err != nil {
			res.Result, res.Error = ResultRefused, err.Error()
			t.finish()
			return res, fmt.Errorf("%w: %v", ErrChanged, err)
		}
		current[mf.Path] = cur
		m.Files = append(m.Files, ManifestFile{Path: mf.Path, Real: mf.Real, BeforeSHA256: mf.AfterSHA256, AfterSHA256: mf.BeforeSHA256, Mode: mf.Mode, UID: mf.UID, GID: mf.GID})
		res.Files = append(res.Files, AuditFile{Path: mf.Path, BeforeSHA256: mf.AfterSHA256, AfterSHA256: mf.BeforeSHA256})
	}
	if env.Approver != nil {
		prompt := fmt.Sprintf("Roll back fix %s (%s), restoring %d file(s)", last.ID, strings.Join(last.Fixes, ", "), len(last.Files))
		if res.Action != ActionNone {
			prompt += ", then " + res.Action.Describe()
		}
		ok, err := env.Approver(prompt + "? [y/N] ")
		if err != nil || !ok {
			res.Result, res.Error = ResultRefused, "not approved"
			if err != nil {
				res.Error = err.Error()
			}
			t.finish()
			return res, fmt.Errorf("%w: %s", ErrRefused, res.Error)
		}
	}
	if err := t.backup(m, current); err != nil {
		res.Result, res.Error = ResultAborted, err.Error()
		t.finish()
		return res, err
	}
	res.ID, res.Manifest = m.ID, st.path(m.ID)
	undo := func(stage string, cause error) (Result, error) {
		res.Error = stage + ": " + cause.Error()
		_, rerr := t.restoreFiles(m)
		res.Rollback = &AuditStep{OK: rerr == nil, Detail: "the files are as the fix left them"}
		res.Result, m.State = ResultRolledBack, StateRolledBack
		if rerr != nil {
			res.Rollback.Detail = rerr.Error()
			res.Result, m.State = ResultRollbackFailed, StateFailed
		}
		_ = st.save(m)
		t.finish()
		return res, fmt.Errorf("rollback failed at %s: %w", stage, cause)
	}
	for i, mf := range last.Files {
		b, err := st.readBackup(last.ID, backupName(i, mf.Path), mf.BeforeSHA256)
		if err == nil {
			err = t.targets[mf.Path].replace(b, mf.meta(), env.fault)
		}
		if err != nil {
			return undo("restore", err)
		}
		t.step("restore", true, "%s restored from %s", mf.Path, mf.Backup)
	}
	if res.Action != ActionNone {
		if err := env.act(ctx, res.Action, last.SmbdConfig); err != nil {
			t.step(string(res.Action), false, "%v", err)
			res.Error = string(res.Action) + ": " + err.Error()
		} else {
			t.step(string(res.Action), true, "%s", res.Action.Describe())
		}
	}
	m.State = StateApplied
	_ = st.save(m)
	last.State = StateRolledBack
	_ = st.save(last)
	res.Result = ResultRolledBack
	t.finish()
	return res, t.notRecorded()
}
