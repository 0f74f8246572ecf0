package fixes

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks"
)

// fakeWorld records the commands Apply runs and answers them.
type fakeWorld struct {
	mu    sync.Mutex
	ran   []string
	fail  map[string]int // command word → how many more times it fails
	proof func(n int) *checks.Report
	n     int
}

func (w *fakeWorld) runner(_ context.Context, argv []string) ([]byte, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ran = append(w.ran, strings.Join(argv, " "))
	if w.fail[argv[0]] > 0 {
		w.fail[argv[0]]--
		return nil, errors.New(argv[0] + ": exit status 1")
	}
	return nil, nil
}

func (w *fakeWorld) prober(context.Context) (*checks.Report, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n++
	if w.proof != nil {
		return w.proof(w.n), nil
	}
	return report(), nil // OK
}

func (w *fakeWorld) commands() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.ran...)
}

func testEnv(t *testing.T, w *fakeWorld) Env {
	state := t.TempDir()
	return Env{
		Approver:      func(string) (bool, error) { return true, nil },
		Runner:        w.runner,
		Prober:        w.prober,
		Sleep:         func(context.Context, time.Duration) error { return nil },
		BackupDir:     filepath.Join(state, "backups"),
		AuditLog:      filepath.Join(state, "audit.jsonl"),
		LockFile:      filepath.Join(state, "fix.lock"),
		Restart:       []string{"restart-smbd"},
		Reload:        []string{"reload-smbd"},
		Start:         []string{"start-smbd"},
		Testparm:      []string{"testparm", "-s"},
		ProveTimeout:  50 * time.Millisecond,
		ProveInterval: time.Millisecond,
	}
}

// protocolPlan is a plan that lowers server min protocol (no smbd action);
// portsPlan one that changes smb ports (a restart).
func protocolPlan(t *testing.T) (*Plan, string) {
	_, f := confDir(t, map[string]string{"smb.conf": minSMB3})
	require.NoError(t, os.Chmod(f.SmbConfPath, 0o640))
	fd := configFix("protocol-mismatch", "server-min-above-client-max", checks.Critical,
		checks.Change{Section: "global", Param: "server min protocol", Value: "SMB2_02"})
	p, err := MakePlan(report(fd), f, PlanOptions{})
	require.NoError(t, err)
	return p, f.SmbConfPath
}

func portsPlan(t *testing.T) (*Plan, string) {
	_, f := confDir(t, map[string]string{"smb.conf": "[global]\n   smb ports = 445\n"})
	fd := configFix("connection-refused", "wrong-port", checks.Critical,
		checks.Change{Section: "global", Param: "smb ports", Value: "445 4450"})
	p, err := MakePlan(report(fd), f, PlanOptions{})
	require.NoError(t, err)
	require.Equal(t, ActionRestart, p.Action)
	return p, f.SmbConfPath
}

func read(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

func TestApplyAndRollback(t *testing.T) {
	w := &fakeWorld{}
	env := testEnv(t, w)
	p, conf := protocolPlan(t)
	before := read(t, conf)
	res, err := Apply(context.Background(), p, env)
	require.NoError(t, err)
	require.Equal(t, ResultApplied, res.Result)
	require.Equal(t, strings.Replace(before, "SMB3", "SMB2_02", 1), read(t, conf))
	fi, err := os.Stat(conf)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o640), fi.Mode().Perm(), "mode kept")
	require.Equal(t, []string{"testparm -s " + conf}, w.commands(), "validated; no smbd action for a protocol setting")

	m, err := loadManifest(res.Manifest)
	require.NoError(t, err)
	require.Equal(t, StateApplied, m.State)
	bk, err := os.Stat(m.Files[0].Backup)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o640), bk.Mode().Perm())
	require.Equal(t, before, read(t, m.Files[0].Backup))

	rb, err := Rollback(context.Background(), env)
	require.NoError(t, err)
	require.Equal(t, ResultRolledBack, rb.Result)
	require.Equal(t, res.ID, rb.Of)
	require.Equal(t, before, read(t, conf))
	_, err = Rollback(context.Background(), env)
	require.ErrorIs(t, err, ErrNothingToRollBack)

	audit := read(t, env.AuditLog)
	require.Equal(t, 2, strings.Count(audit, "\n"))
	require.Contains(t, audit, `"from":"SMB3","to":"SMB2_02"`)
}

func TestApplyRestartPlan(t *testing.T) {
	w := &fakeWorld{}
	env := testEnv(t, w)
	p, _ := portsPlan(t)
	res, err := Apply(context.Background(), p, env)
	require.NoError(t, err, "%+v", res)
	require.Contains(t, w.commands(), "restart-smbd")
}

// A host without systemd: systemctl fails, `service smbd restart` (the
// shipped fallback) restarts smbd, and the fix stands.
func TestApplyRestartFallsBack(t *testing.T) {
	w := &fakeWorld{fail: map[string]int{"systemctl": 1}}
	env := testEnv(t, w)
	env.Restart = []string{"systemctl", "restart", "smbd"}
	env.RestartFallback = []string{"service", "smbd", "restart"}
	p, conf := portsPlan(t)
	before := read(t, conf)
	res, err := Apply(context.Background(), p, env)
	require.NoError(t, err, "%+v", res)
	require.Equal(t, ResultApplied, res.Result)
	require.NotEqual(t, before, read(t, conf))
	cmds := w.commands()
	i := slices.Index(cmds, "systemctl restart smbd")
	require.GreaterOrEqual(t, i, 0, "%q", cmds)
	require.Less(t, i+1, len(cmds))
	require.Equal(t, "service smbd restart", cmds[i+1], "the fallback runs right after the failed restart")
}

// TestApplyFailuresRollBack: every failure leaves the file byte-identical.
func TestApplyFailuresRollBack(t *testing.T) {
	for _, tc := range []struct {
		name  string
		plan  func(*testing.T) (*Plan, string)
		setup func(w *fakeWorld, env *Env)
		want  []string // commands in order
	}{
		{name: "restart command fails, then the fallback too", plan: portsPlan,
			setup: func(w *fakeWorld, env *Env) {
				env.RestartFallback = []string{"service-restart"}
				w.fail = map[string]int{"restart-smbd": 2, "service-restart": 1}
			}},
		{name: "smbd does not come back", plan: portsPlan,
			setup: func(w *fakeWorld, env *Env) {
				w.proof = func(n int) *checks.Report {
					if n <= 3 {
						return report(checks.Finding{Pattern: "connection-refused", Cause: "smbd-not-running", Severity: checks.Critical})
					}
					return report(checks.Finding{Pattern: "connection-refused", Cause: "wrong-port", Severity: checks.Critical})
				}
			}},
		{name: "post-fix probe still fails", plan: protocolPlan,
			setup: func(w *fakeWorld, env *Env) {
				w.proof = func(int) *checks.Report {
					return report(checks.Finding{Pattern: "protocol-mismatch", Cause: "server-min-above-client-max", Severity: checks.Critical})
				}
			}},
		{name: "testparm rejects the result", plan: protocolPlan,
			setup: func(w *fakeWorld, env *Env) { w.fail = map[string]int{"testparm": 1} }},
		{name: "disk full while writing", plan: protocolPlan,
			setup: func(w *fakeWorld, env *Env) {
				env.Fault = func(point, path string) error {
					if point == FaultAfterTempWrite {
						return syscall.ENOSPC
					}
					return nil
				}
			}},
		{name: "failure after the rename", plan: protocolPlan,
			setup: func(w *fakeWorld, env *Env) {
				env.Fault = func(point, path string) error {
					if point == FaultAfterRename {
						return errors.New("boom")
					}
					return nil
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &fakeWorld{}
			env := testEnv(t, w)
			tc.setup(w, &env)
			p, conf := tc.plan(t)
			before := read(t, conf)
			res, err := Apply(context.Background(), p, env)
			require.Error(t, err)
			require.Equal(t, ResultRolledBack, res.Result, "%+v", res)
			require.Equal(t, before, read(t, conf), "byte-identical")
			tmps, _ := filepath.Glob(filepath.Join(filepath.Dir(conf), ".*.tmp"))
			require.Empty(t, tmps)
			if p.Action == ActionRestart && !strings.Contains(tc.name, "fails") {
				require.Equal(t, 2, strings.Count(strings.Join(w.commands(), "\n"), "restart-smbd"), "restarted again after the restore: %v", w.commands())
			}
			m, err := loadManifest(res.Manifest)
			require.NoError(t, err)
			require.Contains(t, []string{StateRolledBack, StateAborted}, m.State)
		})
	}
}

func TestApplyRefusals(t *testing.T) {
	t.Run("answer no", func(t *testing.T) {
		env := testEnv(t, &fakeWorld{})
		env.Approver = func(string) (bool, error) { return false, nil }
		p, conf := protocolPlan(t)
		before := read(t, conf)
		res, err := Apply(context.Background(), p, env)
		require.ErrorIs(t, err, ErrRefused)
		require.Equal(t, ResultRefused, res.Result)
		require.Equal(t, before, read(t, conf))
		_, err = os.Stat(env.BackupDir)
		require.True(t, os.IsNotExist(err), "no backup: nothing was started")
	})
	t.Run("no terminal", func(t *testing.T) {
		env := testEnv(t, &fakeWorld{})
		env.Approver = func(string) (bool, error) { return false, errors.New("no terminal") }
		p, _ := protocolPlan(t)
		_, err := Apply(context.Background(), p, env)
		require.ErrorIs(t, err, ErrRefused)
	})
	t.Run("SMB1 without AllowSMB1", func(t *testing.T) {
		env := testEnv(t, &fakeWorld{})
		_, f := confDir(t, map[string]string{"smb.conf": minSMB3})
		fd := configFix("protocol-mismatch", "smb1-only-client", checks.Critical, checks.Change{Section: "global", Param: "server min protocol", Value: "NT1"})
		fd.Fix.EnablesSMB1 = true
		p, err := MakePlan(report(fd), f, PlanOptions{AllowSMB1: true})
		require.NoError(t, err)
		_, err = Apply(context.Background(), p, env)
		require.ErrorIs(t, err, ErrRefused)
		require.Equal(t, minSMB3, read(t, f.SmbConfPath))
	})
	t.Run("a second fixer", func(t *testing.T) {
		env := testEnv(t, &fakeWorld{})
		l, err := AcquireLock(env.LockFile)
		require.NoError(t, err)
		defer l.Release()
		p, _ := protocolPlan(t)
		_, err = Apply(context.Background(), p, env)
		var busy *BusyError
		require.ErrorAs(t, err, &busy)
		require.Equal(t, os.Getpid(), busy.PID)
		require.Contains(t, err.Error(), "another agent fix is running")
	})
	t.Run("file changed since the plan", func(t *testing.T) {
		env := testEnv(t, &fakeWorld{})
		p, conf := protocolPlan(t)
		require.NoError(t, os.WriteFile(conf, []byte(minSMB3+"# edited\n"), 0o640))
		_, err := Apply(context.Background(), p, env)
		require.ErrorIs(t, err, ErrChanged)
		require.Equal(t, minSMB3+"# edited\n", read(t, conf))
	})
}

// TestRecover: a transaction a killed run left in progress is undone by
// the next run that takes the lock.
func TestRecover(t *testing.T) {
	w := &fakeWorld{}
	env := testEnv(t, w)
	p, conf := portsPlan(t)
	before := read(t, conf)
	res, err := Apply(context.Background(), p, env)
	require.NoError(t, err)
	m, err := loadManifest(res.Manifest)
	require.NoError(t, err)
	m.State = StateInProgress // as if killed before it finished
	require.NoError(t, saveManifest(env.BackupDir, m))
	// and a temporary file it left
	tmp := filepath.Join(filepath.Dir(conf), ".smb.conf"+tempMarker+"dead.tmp")
	require.NoError(t, os.WriteFile(tmp, []byte("half"), 0o600))

	out, err := Recover(context.Background(), env)
	require.NoError(t, err)
	require.Len(t, out, 1)
	require.Equal(t, ResultRolledBack, out[0].Result)
	require.Equal(t, before, read(t, conf))
	_, err = os.Stat(tmp)
	require.True(t, os.IsNotExist(err))
	m, err = loadManifest(res.Manifest)
	require.NoError(t, err)
	require.Equal(t, StateRolledBack, m.State)
	require.Equal(t, 2, strings.Count(strings.Join(w.commands(), "\n"), "restart-smbd"), "smbd restarted on the restored file")
}
