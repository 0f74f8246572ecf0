package test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks/probe"
	"github.com/smb-agent/smb-agent/test/harness"
)

// The probe user: root exists on every test machine, and each smbd has its
// own passdb, so nothing leaks between tests.
const (
	probeUser = "root"
	probePass = "Pr0be!pw-t3st"
	// A generous budget: a cold srvsvc (samba-dcerpcd spawning) takes about
	// a second, longer while other tests' smbds share the two cores.
	scenarioBudget = 10 * time.Second
)

// startScenario starts an smbd with the probe user, a "data" share and the
// given [global] lines.
func startScenario(t *testing.T, global ...string) *harness.Smbd {
	t.Helper()
	return harness.StartT(t, harness.Config{
		Users:  []harness.User{{Name: probeUser, Password: probePass}},
		Shares: []harness.Share{{Name: "data"}},
		Global: global,
	})
}

// probeOpts are the options of a scorer-like run against port.
func probeOpts(port int) probe.Options {
	return probe.Options{
		Ports:    []int{port},
		User:     probeUser,
		Password: probePass,
		Share:    "data",
		Timeout:  scenarioBudget,
	}
}

func runProbe(t *testing.T, o probe.Options) *probe.Result {
	t.Helper()
	r := probe.Run(context.Background(), "127.0.0.1", o)
	require.NotNil(t, r)
	if t.Failed() || testing.Verbose() {
		b, _ := json.MarshalIndent(r, "", " ")
		t.Logf("result: %s", b)
	}
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := json.MarshalIndent(r, "", " ")
			t.Logf("probe result: %s", b)
		}
	})
	return r
}

func dialectResult(t *testing.T, r *probe.Result, d probe.Dialect) probe.DialectResult {
	t.Helper()
	for _, x := range r.Dialects {
		if x.Dialect == d {
			return x
		}
	}
	t.Fatalf("no result for %s", d)
	return probe.DialectResult{}
}

func smb1Result(t *testing.T, r *probe.Result, offer string) probe.SMB1Result {
	t.Helper()
	for _, x := range r.SMB1 {
		if x.Offer == offer {
			return x
		}
	}
	t.Fatalf("no SMB1 result for offer %s", offer)
	return probe.SMB1Result{}
}

func failureClasses(r *probe.Result) map[string]probe.Class {
	m := map[string]probe.Class{}
	for _, f := range r.Failures() {
		m[f.Step] = f.Class
	}
	return m
}
