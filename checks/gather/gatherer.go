package gather

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/smb-agent/smb-agent/checks"
)

// gatherer reads one source of facts (smb.conf, /proc, the firewall, the
// logs, the probe run, ...), in the shape of node_exporter's collectors:
// one per file, each run by runGatherers, which gives it its own deadline,
// recovers its panics and records its failure as a fact.
type gatherer interface {
	// Name is what the gatherer reads; a failure is recorded as
	// "could not read <Name>: <why>".
	Name() string
	// Deadline is how long the gatherer may take in this run.
	Deadline(e *env) time.Duration
	// Gather reads the source. The commit it returns writes what was read
	// into the facts (and, for the gatherers that run after it, into e); it
	// runs only if Gather returned within its deadline, while no other
	// commit runs. An error with a commit is a partial result whose commit
	// records the error in the source's own fact; an error without one
	// means nothing was read.
	Gather(ctx context.Context, e *env) (commit func(*checks.Facts), err error)
	// Failed records in the source's own fact why nothing could be read
	// (an error without a commit, a panic, the deadline).
	Failed(f *checks.Facts, why string)
}

// step is one gatherer of the run and the gatherers whose commits it needs:
// it starts once they have ended (committed, failed or timed out).
type step struct {
	g     gatherer
	after []string
}

// graceAfterDeadline is how long runGatherers waits, past a gatherer's
// deadline, for what it read until then: a gatherer that honours its
// context returns its partial result (with the error) at once.
const graceAfterDeadline = 50 * time.Millisecond

// runGatherers runs every step as soon as the steps it comes after have
// ended, each within its own deadline (bounded by ctx), and returns when
// all have ended or at hard, whichever comes first. Error lines are
// recorded in f.Errors in the order of steps, whatever order the steps end
// in, so that the same failures always read the same. A step still
// running at hard is recorded as late; nothing it returns afterwards
// reaches f.
func runGatherers(ctx context.Context, e *env, f *checks.Facts, steps []step, hard time.Time) {
	type state struct {
		done  chan struct{}
		ended bool
		errs  []string
	}
	var mu sync.Mutex
	closed := false
	states := make(map[string]*state, len(steps))
	for _, s := range steps {
		if _, dup := states[s.g.Name()]; dup {
			panic("gather: two gatherers named " + s.g.Name())
		}
		states[s.g.Name()] = &state{done: make(chan struct{})}
	}
	for _, s := range steps {
		for _, a := range s.after {
			if states[a] == nil {
				panic(fmt.Sprintf("gather: %s comes after %q, which is not a gatherer", s.g.Name(), a))
			}
		}
	}
	// record runs under mu: it drops everything once the run is closed.
	record := func(st *state, fn func()) {
		mu.Lock()
		defer mu.Unlock()
		if closed {
			return
		}
		fn()
		st.ended = true
	}
	for _, s := range steps {
		st := states[s.g.Name()]
		go func() {
			defer close(st.done)
			for _, a := range s.after {
				select {
				case <-states[a].done:
				case <-ctx.Done():
				}
			}
			if ctx.Err() != nil {
				return // the run is over: recorded as late
			}
			commit, err := runOne(ctx, e, s.g)
			record(st, func() {
				if commit != nil {
					commit(f)
				} else if err != nil {
					s.g.Failed(f, oneLine(err))
				}
				if err != nil {
					st.errs = append(st.errs, failureLine(s.g.Name(), err))
				}
			})
		}()
	}
	for _, s := range steps {
		select {
		case <-states[s.g.Name()].done:
		case <-time.After(time.Until(hard)):
		}
	}
	mu.Lock()
	defer mu.Unlock()
	closed = true
	for _, s := range steps {
		st := states[s.g.Name()]
		if !st.ended {
			late := fmt.Errorf("did not finish within the run's %s budget", e.timeout+gatherMargin)
			s.g.Failed(f, late.Error())
			st.errs = append(st.errs, failureLine(s.g.Name(), late))
		}
		f.Errors = append(f.Errors, st.errs...)
	}
}

// runOne runs one gatherer within its deadline and turns a panic into an
// error. On the deadline it returns what the gatherer returns within
// graceAfterDeadline, else a "did not finish" error; the gatherer may go on
// in the background, but its result is dropped.
func runOne(ctx context.Context, e *env, g gatherer) (func(*checks.Facts), error) {
	d := g.Deadline(e)
	gctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	type result struct {
		commit func(*checks.Facts)
		err    error
	}
	ch := make(chan result, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				ch <- result{err: fmt.Errorf("internal error: %v: %s", r, firstStackLine(debug.Stack()))}
			}
		}()
		c, err := g.Gather(gctx, e)
		ch <- result{c, err}
	}()
	select {
	case r := <-ch:
		return r.commit, r.err
	case <-gctx.Done():
	}
	select {
	case r := <-ch:
		return r.commit, r.err
	case <-time.After(graceAfterDeadline):
		return nil, fmt.Errorf("did not finish within %s", d.Round(time.Millisecond))
	}
}

// failureLine is how a gatherer's failure reads in Facts.Errors: one line.
func failureLine(name string, err error) string {
	return "could not read " + name + ": " + oneLine(err)
}

func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }

func firstStackLine(st []byte) string {
	for _, l := range strings.Split(string(st), "\n") {
		l = strings.TrimSpace(l)
		if strings.Contains(l, "smb-agent/") && strings.Contains(l, ".go:") && !strings.Contains(l, "gatherer.go") {
			return l
		}
	}
	return ""
}

// errIf turns a source's own Err field into the error its gatherer returns.
func errIf(msg string) error {
	if msg == "" {
		return nil
	}
	return errors.New(msg)
}
