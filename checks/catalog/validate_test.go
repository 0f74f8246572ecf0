package catalog

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"
)

const miniFacts = `facts:
  - key: process.up
    answers: ["yes", "no"]
    description: smbd runs.
    source: ps.
`

const miniRoles = `roles:
  - code: IT-451
    title: System Administrator
`

const miniPattern = `id: alpha
title: Alpha
severity: critical
summary: One line.
on_seed_page: true
engine_message: "Alpha failed: {ip}"
scoring_messages: ["Alpha failed: {ip}"]
meaning: Alpha means something.
causes:
  - id: down
    summary: It is down.
    detail: Really down.
    facts: [process.up]
    fix:
      summary: Start it.
      apply: start
      steps:
        - title: Start
          command: systemctl start smbd
          expect: nothing
          interpret: fine
          read_only: false
commands:
  - title: Look
    command: testparm -s {{.SmbConf}}
    expect: ok
    interpret: fine
    read_only: true
decision:
  root: up
  nodes:
    - id: up
      question: Is it up?
      fact: process.up
      branches:
        - answers: ["no"]
          cause: down
        - answers: ["yes"]
          healthy: true
          action: Nothing to do.
references:
  - title: A page
    url: https://example.org/a
  - title: A file
    source: owner/repo:path/to/file.c
roles:
  - code: IT-451
    why: Owns it.
`

const miniPattern2 = `id: beta
title: Beta
severity: warning
summary: Two.
on_seed_page: false
engine_message: ""
scoring_messages: []
meaning: Beta.
causes:
  - id: b
    summary: B.
    detail: B.
    facts: [process.up]
    fix: {summary: Do it., apply: manual}
commands:
  - {title: Look, command: ls, expect: x, interpret: y, read_only: true}
decision:
  root: n
  nodes:
    - id: n
      question: Up?
      fact: process.up
      branches:
        - {answers: ["yes", "no"], cause: b}
references: [{title: T, url: "https://example.org/b"}]
roles: [{code: IT-451, why: W.}]
`

func miniFS(mod func(files map[string]string)) fstest.MapFS {
	files := map[string]string{
		"facts.yaml":             miniFacts,
		"roles.yaml":             miniRoles,
		"patterns/01-alpha.yaml": miniPattern,
		"patterns/02-beta.yaml":  miniPattern2,
	}
	if mod != nil {
		mod(files)
	}
	out := fstest.MapFS{}
	for k, v := range files {
		out[k] = &fstest.MapFile{Data: []byte(v)}
	}
	return out
}

func TestParseMiniCatalog(t *testing.T) {
	c, err := ParseFS(miniFS(nil))
	require.NoError(t, err)
	require.Equal(t, []string{"alpha", "beta"}, ids(c.All()))
	require.Equal(t, []string{"process.up"}, c.FactKeys())
	p, ok := c.Get("alpha")
	require.True(t, ok)
	require.Equal(t, "System Administrator", p.Roles[0].Title)
	require.Equal(t, []string{"alpha"}, ids(c.Match("x Alpha failed: 10.0.0.1")))
}

func TestValidationCatchesBrokenData(t *testing.T) {
	replace := func(file, old, new string) func(map[string]string) {
		return func(f map[string]string) {
			if !strings.Contains(f[file], old) {
				panic("test setup: " + old + " not in " + file)
			}
			f[file] = strings.Replace(f[file], old, new, 1)
		}
	}
	const a = "patterns/01-alpha.yaml"
	cases := []struct {
		name string
		mod  func(map[string]string)
		want string
	}{
		{"unknown yaml field", replace(a, "title: Alpha", "title: Alpha\ntitel: typo"), "titel"},
		{"duplicate pattern id", replace("patterns/02-beta.yaml", "id: beta", "id: alpha"), "duplicate id"},
		{"bad severity", replace(a, "severity: critical", "severity: high"), "severity"},
		{"unknown fact in node", replace(a, "      fact: process.up", "      fact: process.down"), "unknown fact"},
		{"answer outside the fact", replace(a, `answers: ["no"]`, `answers: ["maybe"]`), "not an answer"},
		{"answer not covered", replace(a, `        - answers: ["yes"]
          healthy: true
          action: Nothing to do.
`, ""), `no branch for answer "yes"`},
		{"leaf with advice only", replace(a, "          healthy: true\n", ""), "exactly one of cause, see or healthy"},
		{"leaf cause missing", replace(a, "cause: down", "cause: gone"), "not a cause"},
		{"next node missing", replace(a, "healthy: true\n          action: Nothing to do.", "next: nowhere"), "not a node"},
		{"cycle", replace(a, "healthy: true\n          action: Nothing to do.", "next: up"), "cycle"},
		{"root missing", replace(a, "root: up", "root: top"), "root"},
		{"see unknown pattern", replace(a, "healthy: true\n          action: Nothing to do.", "see: gamma"), "not another pattern"},
		{"cause unreachable", replace("patterns/02-beta.yaml", "fix: {summary: Do it., apply: manual}", "fix: {summary: Do it., apply: manual}\n  - {id: c, summary: C., detail: C., facts: [process.up], fix: {summary: S., apply: manual}}"), "reached by no leaf"},
		{"template unknown var", replace(a, "testparm -s {{.SmbConf}}", "testparm -s {{.Config}}"), "only {{."},
		{"var inside quotes", replace(a, "testparm -s {{.SmbConf}}", "testparm -s '{{.SmbConf}}'"), "inside quotes"},
		{"read-only after change", replace(a, `    read_only: true
decision:`, `    read_only: false
  - {title: After, command: ls, expect: x, interpret: y, read_only: true}
decision:`), "read-only step after"},
		{"bad url", replace(a, "https://example.org/a", "http://example.org/a"), "https"},
		{"bad source", replace(a, "owner/repo:path/to/file.c", "just-a-path.c"), "owner/repo:path"},
		{"unknown role", replace(a, "code: IT-451\n    why: Owns it.", "code: XX-999\n    why: Owns it."), "not in roles.yaml"},
		{"scoring message in two patterns", replace("patterns/02-beta.yaml", "scoring_messages: []", `scoring_messages: ["alpha FAILED:  {ip}"]`), "already belongs"},
		{"engine message not owned", replace("patterns/02-beta.yaml", `engine_message: ""`, `engine_message: "Alpha failed: {ip}"`), "engine_message"},
		{"cause message unknown", replace(a, "    facts: [process.up]\n    fix:\n      summary: Start it.", "    facts: [process.up]\n    messages: [\"nope\"]\n    fix:\n      summary: Start it."), "not one of the pattern's scoring messages"},
		{"bad apply", replace(a, "apply: start", "apply: reboot"), "apply"},
		{"fix edits are not read by anything", replace("patterns/02-beta.yaml", "fix: {summary: Do it., apply: manual}", "fix: {summary: Do it., apply: none, edits: [{section: global, parameter: x, op: set}]}"), "edits"},
		{"unused fact", replace("facts.yaml", "    source: ps.\n", "    source: ps.\n  - {key: net.spare, answers: [a, b], description: d, source: s}\n"), "used by no decision node"},
		{"two documents", replace("roles.yaml", "title: System Administrator\n", "title: System Administrator\n---\nroles: []\n"), "more than one YAML document"},
		{"summary two lines", replace(a, "summary: One line.", "summary: |\n  One\n  two"), "one non-empty line"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseFS(miniFS(tc.mod))
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestParseFSMissingFiles(t *testing.T) {
	_, err := ParseFS(fstest.MapFS{})
	require.ErrorContains(t, err, "facts.yaml")
	_, err = ParseFS(miniFS(func(f map[string]string) {
		delete(f, "patterns/01-alpha.yaml")
		delete(f, "patterns/02-beta.yaml")
	}))
	require.ErrorContains(t, err, "no pattern files")
	_, err = ParseFS(miniFS(func(f map[string]string) { f["roles.yaml"] = "" }))
	require.ErrorContains(t, err, "empty")
}
