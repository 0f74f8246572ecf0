package catalog

import (
	"os"
	"testing"
)

// BenchmarkParseYAML is what loading the catalog cost while every process
// decoded and validated the YAML files; ParseFS still does it for the
// generator and the tests.
func BenchmarkParseYAML(b *testing.B) {
	fsys := os.DirFS("data")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseFS(fsys); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadGenerated is what every agent process pays now, once: the
// generated data indexed (the matchers are built by Match on first use).
func BenchmarkLoadGenerated(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		src := generated // the indexes only read src; role titles are rewritten identically
		if c := newCatalog(&src); len(c.patterns) == 0 {
			b.Fatal("no patterns")
		}
	}
}
