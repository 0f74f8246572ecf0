package test

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/smb-agent/smb-agent/test/harness"
)

// agentBin is the agent binary built once for this package's end-to-end
// tests (cmd/agent, from the module root); "" when the build failed or was
// skipped (-short), with agentBuildErr saying why.
var (
	agentBin      string
	agentBuildErr error
)

// TestMain builds the agent once, so that every end-to-end test runs the
// real binary as a whole process, and removes it afterwards.
func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "smbagent-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "test: temp dir for the agent binary:", err)
		os.Exit(1)
	}
	if testing.Short() {
		agentBuildErr = fmt.Errorf("not built in -short mode")
	} else {
		agentBin, agentBuildErr = harness.BuildAgent(dir)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// requireAgent returns the built binary, or skips (-short) / fails the test.
func requireAgent(t *testing.T) string {
	t.Helper()
	if agentBin == "" {
		if testing.Short() {
			t.Skip("end-to-end: the agent binary is not built in -short mode")
		}
		t.Fatalf("agent binary: %v", agentBuildErr)
	}
	return agentBin
}
