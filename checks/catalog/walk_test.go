package catalog

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func answers(m map[string]string) func(string) (string, bool) {
	return func(f string) (string, bool) {
		a, ok := m[f]
		return a, ok
	}
}

func TestWalkHeadlineCase(t *testing.T) {
	p, ok := Get("protocol-mismatch")
	require.True(t, ok)
	// pysmb against "server min protocol = SMB3".
	path := p.Walk(answers(map[string]string{
		"config.loads":       "yes",
		"config.dialect_gap": "min-above-client-max",
		"client.smb1_only":   "no",
	}))
	require.True(t, path.Complete())
	require.Equal(t, &Leaf{Cause: "server-min-above-client-max"}, path.Leaf)
	require.Equal(t, "protocol-mismatch", path.Pattern)
	require.Equal(t, []PathStep{
		{Node: "config-loads", Question: "Does smb.conf load?", Fact: "config.loads", Answer: "yes"},
		{Node: "dialect-gap", Question: "Do the server's min/max protocol and the client's dialects meet?", Fact: "config.dialect_gap", Answer: "min-above-client-max"},
		{Node: "client-smb1-only", Question: "Does the client speak only SMB1?", Fact: "client.smb1_only", Answer: "no"},
	}, path.Steps)
	require.Contains(t, path.String(), "Does smb.conf load? -> yes")
	require.Contains(t, path.String(), "cause: server-min-above-client-max")
}

func TestWalkStopsAtUnknown(t *testing.T) {
	p, _ := Get("protocol-mismatch")
	path := p.Walk(answers(map[string]string{"config.loads": "yes"}))
	require.False(t, path.Complete())
	require.Nil(t, path.Leaf)
	require.Equal(t, "dialect-gap", path.StoppedAt)
	require.Len(t, path.Steps, 2)
	require.Equal(t, Unknown, path.Steps[1].Answer)
	require.Contains(t, path.Reason, "config.dialect_gap")
	require.Contains(t, path.String(), "stopped at dialect-gap")

	nothing := p.Walk(nil)
	require.Equal(t, p.Decision.Root, nothing.StoppedAt)
	require.Len(t, nothing.Steps, 1)
}

func TestWalkStopsOnAnswerWithoutBranch(t *testing.T) {
	p, _ := Get("timeout")
	path := p.Walk(answers(map[string]string{"probe.dial_error": "none", "socket.listening_on_port": "smbd", "process.smbd_state": "sleepy"}))
	require.False(t, path.Complete())
	require.Equal(t, "smbd-state", path.StoppedAt)
	require.Equal(t, "sleepy", path.Steps[2].Answer)
	require.Contains(t, path.Reason, "no branch")
}

func TestWalkSeeAnotherPattern(t *testing.T) {
	p, _ := Get("connection-refused")
	path := p.Walk(answers(map[string]string{
		"process.smbd_state":       "responsive",
		"socket.listening_on_port": "smbd",
		"socket.bound_to_target":   "yes",
		"firewall.verdict":         "drop",
	}))
	require.Equal(t, &Leaf{See: "timeout"}, path.Leaf)
	require.Contains(t, path.String(), "see: timeout")
}

func TestWalkGuardsHandBuiltCycles(t *testing.T) {
	p := &Pattern{ID: "loop", Decision: Decision{Root: "a", Nodes: []Node{
		{ID: "a", Question: "A?", Fact: "f", Branches: []Branch{{Answers: []string{"x"}, Next: "b"}}},
		{ID: "b", Question: "B?", Fact: "f", Branches: []Branch{{Answers: []string{"x"}, Next: "a"}}},
	}}}
	path := p.Walk(func(string) (string, bool) { return "x", true })
	require.False(t, path.Complete())
	require.Contains(t, path.Reason, "cycle")

	missing := &Pattern{ID: "m", Decision: Decision{Root: "nowhere"}}
	require.Equal(t, "no such node", missing.Walk(nil).Reason)
}

// TestEveryLeafIsReachableByWalk enumerates every root-to-leaf route of every
// tree, answers the walk along it, and checks Walk arrives at that leaf.
func TestEveryLeafIsReachableByWalk(t *testing.T) {
	for _, p := range All() {
		leaves := 0
		var dfs func(id string, ans map[string]string)
		dfs = func(id string, ans map[string]string) {
			n, ok := p.Node(id)
			require.True(t, ok)
			for _, b := range n.Branches {
				for _, a := range b.Answers {
					if prev, seen := ans[n.Fact]; seen && prev != a {
						continue // a route cannot answer one fact two ways
					}
					next := map[string]string{}
					for k, v := range ans {
						next[k] = v
					}
					next[n.Fact] = a
					if !b.IsLeaf() {
						dfs(b.Next, next)
						continue
					}
					leaves++
					path := p.Walk(answers(next))
					require.True(t, path.Complete(), "%s: %v", p.ID, next)
					require.Equal(t, &Leaf{Cause: b.Cause, See: b.See, Action: b.Action, Healthy: b.Healthy}, path.Leaf, "%s: %v", p.ID, next)
					if b.Cause != "" {
						_, ok := p.Cause(b.Cause)
						require.True(t, ok)
					}
				}
			}
		}
		dfs(p.Decision.Root, map[string]string{})
		require.Positive(t, leaves, p.ID)
	}
}
