package gather

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks"
)

// fakeGatherer does what its fields say; commits and failures are noted in
// seen, which only the runner's lock guards (read after runGatherers).
type fakeGatherer struct {
	name     string
	deadline time.Duration
	gather   func(ctx context.Context) (func(*checks.Facts), error)
	failed   *[]string
}

func (g fakeGatherer) Name() string                { return g.name }
func (g fakeGatherer) Deadline(*env) time.Duration { return g.deadline }
func (g fakeGatherer) Gather(ctx context.Context, _ *env) (func(*checks.Facts), error) {
	return g.gather(ctx)
}
func (g fakeGatherer) Failed(_ *checks.Facts, why string) {
	*g.failed = append(*g.failed, g.name+": "+why)
}

// Each gatherer fails on its own: an error, a panic, a hang past its own
// deadline. The others' results still land, the failures are facts in
// step order (not in the order they happened), and a hung gatherer's late
// result never reaches the facts.
func TestRunGatherersRecordsEachFailureAsAFact(t *testing.T) {
	var failed, committed []string
	release := make(chan struct{})
	hungReturned := make(chan struct{})
	ok := func(name string) func(context.Context) (func(*checks.Facts), error) {
		return func(context.Context) (func(*checks.Facts), error) {
			return func(*checks.Facts) { committed = append(committed, name) }, nil
		}
	}
	steps := []step{
		{g: fakeGatherer{name: "hung", deadline: 100 * time.Millisecond, failed: &failed,
			gather: func(context.Context) (func(*checks.Facts), error) {
				<-release // ignores its context
				defer close(hungReturned)
				return func(*checks.Facts) { committed = append(committed, "hung") }, nil
			}}},
		{g: fakeGatherer{name: "the broken", deadline: time.Second, failed: &failed,
			gather: func(context.Context) (func(*checks.Facts), error) { return nil, errors.New("permission\ndenied") }}},
		{g: fakeGatherer{name: "partial", deadline: time.Second, failed: &failed,
			gather: func(context.Context) (func(*checks.Facts), error) {
				return func(*checks.Facts) { committed = append(committed, "partial") }, errors.New("one table unreadable")
			}}},
		{g: fakeGatherer{name: "panics", deadline: time.Second, failed: &failed,
			gather: func(context.Context) (func(*checks.Facts), error) { panic("nil map") }}},
		{g: fakeGatherer{name: "fine", deadline: time.Second, failed: &failed, gather: ok("fine")}},
	}
	f := &checks.Facts{}
	e := &env{timeout: time.Second}
	runGatherers(context.Background(), e, f, steps, time.Now().Add(5*time.Second))
	close(release)
	<-hungReturned

	require.Len(t, f.Errors, 4, f.Errors)
	require.Equal(t, "could not read hung: did not finish within 100ms", f.Errors[0])
	require.Equal(t, "could not read the broken: permission denied", f.Errors[1])
	require.Equal(t, "could not read partial: one table unreadable", f.Errors[2])
	require.Contains(t, f.Errors[3], "could not read panics: internal error: nil map")
	require.ElementsMatch(t, []string{"partial", "fine"}, committed, "a late result is dropped")
	require.ElementsMatch(t, []string{"hung: did not finish within 100ms", "the broken: permission denied",
		"panics: " + f.Errors[3][len("could not read panics: "):]}, failed, "a partial result records its own error")
}

// A step starts only once the steps it comes after have committed, and
// sees what they wrote into the run's env.
func TestRunGatherersOrder(t *testing.T) {
	var failed, order []string
	e := &env{timeout: time.Second}
	slow := fakeGatherer{name: "first", deadline: time.Second, failed: &failed,
		gather: func(context.Context) (func(*checks.Facts), error) {
			time.Sleep(20 * time.Millisecond)
			return func(*checks.Facts) { order = append(order, "first"); e.host = "set by first" }, nil
		}}
	var seen string
	second := fakeGatherer{name: "second", deadline: time.Second, failed: &failed,
		gather: func(context.Context) (func(*checks.Facts), error) {
			seen = e.host
			return func(*checks.Facts) { order = append(order, "second") }, nil
		}}
	runGatherers(context.Background(), e, &checks.Facts{}, []step{{g: second, after: []string{"first"}}, {g: slow}}, time.Now().Add(5*time.Second))
	require.Equal(t, []string{"first", "second"}, order)
	require.Equal(t, "set by first", seen)
	require.Empty(t, failed)
}

// The run's steps are well formed, and the log snapshot is taken before
// the probe runs: otherwise the probe's own failed negotiations, which
// smbd logs too, would be read as a client's.
func TestStepsSnapshotBeforeProbe(t *testing.T) {
	ss := steps()
	names := map[string][]string{}
	for _, s := range ss {
		require.NotContains(t, names, s.g.Name(), "names are unique")
		names[s.g.Name()] = s.after
	}
	for n, after := range names {
		for _, a := range after {
			require.Contains(t, names, a, "%s comes after an unknown step", n)
		}
	}
	var before func(string) []string
	before = func(n string) []string {
		var out []string
		for _, a := range names[n] {
			out = append(append(out, a), before(a)...)
		}
		return out
	}
	require.True(t, slices.Contains(before(probeName), logSnapshotName))
	require.True(t, slices.Contains(before(logsName), logSnapshotName))
	require.True(t, slices.Contains(before(accountName), probeName))
}
