package checks

import (
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks/catalog"
)

// seenCauses collects every pattern/cause a scenario test produced through
// runOne, so that TestMain can require a scenario for every cause.
var seenCauses sync.Map

// requireDecisionEndsAtCause: a finding's decision is the walk that chose
// its cause, so its last step states that cause (or, for an unexplained
// finding, where the walk stopped or which pattern it pointed at).
func requireDecisionEndsAtCause(t *testing.T, fd Finding) {
	t.Helper()
	require.NotEmpty(t, fd.Decision, "%s/%s has no decision", fd.Pattern, fd.Cause)
	last := fd.Decision[len(fd.Decision)-1]
	if fd.Cause == CauseUnexplained {
		require.True(t, last.Question == "stopped" || strings.HasPrefix(last.Answer, "see "),
			"%s/unexplained ends at %q: %q", fd.Pattern, last.Question, last.Answer)
		return
	}
	require.Equal(t, "conclusion", last.Question, "%s/%s", fd.Pattern, fd.Cause)
	require.Equal(t, "cause "+fd.Cause, strings.SplitN(last.Answer, ";", 2)[0], "%s/%s: the decision ends elsewhere", fd.Pattern, fd.Cause)
	for _, st := range fd.Decision[:len(fd.Decision)-1] {
		require.NotEmpty(t, st.Node, "%s/%s: a step without its tree node", fd.Pattern, fd.Cause)
	}
}

// TestMain runs the package's tests, then (for a full run) requires that
// the scenario tests produced, for every pattern, every cause its tree can
// end at: facts built for that cause gave a finding with that cause whose
// decision ends at it (requireDecisionEndsAtCause, in runOne).
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 && fullRun() {
		if missing := causesWithoutScenario(); len(missing) > 0 {
			os.Stderr.WriteString("FAIL: causes no scenario test produced (add a case to the pattern's table test):\n  " + strings.Join(missing, "\n  ") + "\n")
			code = 1
		}
	}
	os.Exit(code)
}

// fullRun: no -run filter, so every scenario ran.
func fullRun() bool {
	for _, a := range os.Args[1:] {
		if strings.HasPrefix(a, "-test.run") {
			return false
		}
	}
	return true
}

func causesWithoutScenario() []string {
	var missing []string
	for _, p := range Patterns() {
		cp, ok := catalog.Get(p.ID)
		if !ok {
			missing = append(missing, p.ID+" (not in the catalog)")
			continue
		}
		for _, c := range leafCauses(cp) {
			if _, ok := seenCauses.Load(p.ID + "/" + c); !ok {
				missing = append(missing, p.ID+"/"+c)
			}
		}
	}
	sort.Strings(missing)
	return missing
}

// leafCauses are the causes the pattern's tree can end at.
func leafCauses(cp *catalog.Pattern) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range cp.Decision.Nodes {
		for _, b := range n.Branches {
			if b.Cause != "" && !seen[b.Cause] {
				seen[b.Cause] = true
				out = append(out, b.Cause)
			}
		}
	}
	return out
}

// Every registered pattern is a catalog pattern and the other way round,
// and every leaf cause has a builder or keeps the catalog's text.
func TestPatternsMatchCatalog(t *testing.T) {
	var goIDs, catIDs []string
	for _, p := range Patterns() {
		goIDs = append(goIDs, p.ID)
		cp, ok := catalog.Get(p.ID)
		require.True(t, ok, p.ID)
		for id := range p.Causes {
			_, ok := cp.Cause(id)
			require.True(t, ok, "%s: builder for cause %q, which the catalog does not have", p.ID, id)
		}
	}
	for _, cp := range catalog.All() {
		catIDs = append(catIDs, cp.ID)
	}
	sort.Strings(catIDs)
	require.Equal(t, catIDs, goIDs)
}

// A tree that points at another pattern yields to that pattern's finding,
// and stays (unexplained, saying where it pointed) when that pattern found
// nothing.
func TestResolveSee(t *testing.T) {
	own := Finding{Pattern: "timeout", Cause: "smbd-stopped"}
	pointing := Finding{Pattern: "connect-failed", Cause: CauseUnexplained, see: "timeout"}
	alone := Finding{Pattern: "ipc-unavailable", Cause: CauseUnexplained, see: "stale-config"}
	got := resolveSee([]Finding{pointing, own, alone})
	require.Equal(t, []string{"timeout/smbd-stopped", "ipc-unavailable/unexplained"}, causes(got))
}

// An answer the catalog does not declare is a programming error, reported
// by Evaluate as the agent's own failure, never a crash or a guess.
func TestUndeclaredAnswerIsCaught(t *testing.T) {
	bad := func(*answerCtx) (string, bool) { return "maybe", true }
	old := answerFuncs["config.loads"]
	answerFuncs["config.loads"] = bad
	defer func() { answerFuncs["config.loads"] = old }()
	require.Panics(t, func() { _, _ = Answer("config.loads", &Facts{}, nil) })
	r := Evaluate(newFacts(t, "[global]\nserver min protocol = SMB9\n"))
	require.NotEmpty(t, r.Errors)
	require.Contains(t, strings.Join(r.Errors, "\n"), "is not one the catalog declares")
}
