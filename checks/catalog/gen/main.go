// Command gen writes checks/catalog/catalog_gen.go from the catalog's YAML
// files (checks/catalog/data), after validating them: `make gen-catalog`,
// or `go generate ./checks/catalog/`.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/smb-agent/smb-agent/checks/catalog"
)

func main() {
	dir := flag.String("dir", ".", "the catalog package's directory (data/ below it)")
	flag.Parse()
	src, err := catalog.GenerateGo(os.DirFS(filepath.Join(*dir, "data")))
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen-catalog:", err)
		os.Exit(1)
	}
	out := filepath.Join(*dir, catalog.GeneratedFile)
	// Written beside and renamed, so that a failed write leaves the old
	// file whole.
	tmp, err := os.CreateTemp(*dir, ".catalog_gen-*.go")
	if err == nil {
		_, err = tmp.Write(src)
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Chmod(tmp.Name(), 0o644)
		}
		if err == nil {
			err = os.Rename(tmp.Name(), out)
		}
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen-catalog:", err)
		os.Exit(1)
	}
}
