package catalog

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// The YAML files are the one source of truth; catalog_gen.go, which the
// agent loads, must be what they generate. This fails whenever a YAML file
// changed without `make gen-catalog`, or the generated file was edited.
func TestGeneratedCatalogIsCurrent(t *testing.T) {
	want, err := GenerateGo(os.DirFS("data"))
	require.NoError(t, err, "the YAML catalog is invalid")
	got, err := os.ReadFile(GeneratedFile)
	require.NoError(t, err)
	if string(got) != string(want) {
		t.Fatalf("%s is stale against data/*.yaml: run `make gen-catalog` (go generate ./checks/catalog/) and commit it", GeneratedFile)
	}
}

// The generated catalog passes the same validation as the YAML it comes
// from, and reads back equal to a fresh parse of the files.
func TestGeneratedCatalogValidates(t *testing.T) {
	c := mustLoad(t)
	require.NoError(t, c.validate())
	_, err := c.matchersOnce()
	require.NoError(t, err)
	parsed, err := ParseFS(os.DirFS("data"))
	require.NoError(t, err)
	require.Equal(t, parsed.patterns, c.patterns)
	require.Equal(t, parsed.facts, c.facts)
	require.Equal(t, parsed.roles, c.roles)
}

// The generator refuses a catalog ParseFS refuses, and writes every kind of
// text so that it reads back the same.
func TestGenerateGo(t *testing.T) {
	_, err := GenerateGo(miniFS(func(f map[string]string) {
		f["patterns/01-alpha.yaml"] = miniPattern + "bogus: 1\n"
	}))
	require.ErrorContains(t, err, "bogus")
	out, err := GenerateGo(miniFS(func(f map[string]string) {
		f["patterns/02-beta.yaml"] = miniPattern2 + "uncertainty: \"two\\nlines with a ` and\\r\\n\\ttab\"\n"
	}))
	require.NoError(t, err)
	require.Contains(t, string(out), "var generated = source{")
	require.Contains(t, string(out), `"two\nlines with a `+"`"+` and\r\n\ttab"`)
}
