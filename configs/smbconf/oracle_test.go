package smbconf

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/smb-agent/smb-agent/test/harness"
)

// oracleVersion is the release of the testparm the tests compare against
// (testparm -V), so that the package loads every configuration with that
// release's table; zero when testparm is not installed. With SAMBA_RELEASE
// set, the harness has put that release's testparm first on PATH, and the
// tests refuse to run against any other.
var oracleVersion SambaVersion

func TestMain(m *testing.M) {
	if err := setOracle(); err != nil {
		fmt.Fprintln(os.Stderr, "smbconf tests:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func setOracle() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, src, err := VersionDetector{}.Detect(ctx)
	rel := harness.Release()
	switch {
	case err != nil && rel != "":
		return fmt.Errorf("%s=%s: %w", harness.ReleaseEnv, rel, err)
	case err != nil:
		return nil // no Samba: the differential tests skip
	case rel != "" && v.Series() != rel:
		return fmt.Errorf("%s=%s but %s says %s", harness.ReleaseEnv, rel, src, v.Raw)
	}
	oracleVersion = v
	return nil
}
