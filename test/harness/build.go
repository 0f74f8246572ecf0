package harness

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// BuildAgent builds cmd/agent of this module into dir (with the build
// tags given, e.g. "faultinject") and returns the binary's path, so that
// end-to-end tests run the real binary as a whole process. The module root
// is asked of the go command, so it works from any test package.
func BuildAgent(dir string, tags ...string) (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == "/dev/null" {
		return "", fmt.Errorf("not inside the module (go env GOMOD = %q)", mod)
	}
	bin := filepath.Join(dir, "agent")
	args := []string{"build", "-o", bin}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	cmd := exec.Command("go", append(args, "./cmd/agent")...)
	cmd.Dir = filepath.Dir(mod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go %s ./cmd/agent: %w\n%s", strings.Join(args, " "), err, out)
	}
	return bin, nil
}
