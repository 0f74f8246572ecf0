package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks/probe"
	"github.com/smb-agent/smb-agent/test/harness"
)

func runAgent(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func closedPort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return p
}

func TestProbeFlagsValidation(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"probe", "--target", "127.0.0.1:0"}, "port 1-65535"},
		{[]string{"probe", "--target", "127.0.0.1:99999"}, "port 1-65535"},
		{[]string{"probe", "--target", ""}, "--target is empty"},
		{[]string{"probe", "--port", "70000"}, "--port 70000"},
		{[]string{"probe", "--timeout", "0s"}, "--timeout"},
		{[]string{"probe", "--file", "x"}, "--file needs --share"},
		{[]string{"probe", "--share", "s", "--file", "x", "--file-sha256", "zz"}, "64 hex digits"},
		{[]string{"probe", "--password-file", filepath.Join(dir, "missing")}, "--password-file: open"},
		{[]string{"probe", "--bogus"}, "unknown flag"},
		{[]string{"probe", "extra-arg"}, "unknown command"},
	} {
		code, out, errOut := runAgent(t, nil, tc.args...)
		require.Equal(t, exitUnknown, code, tc.args)
		require.Empty(t, out, tc.args)
		require.Contains(t, errOut, tc.msg, tc.args)
		require.Equal(t, 1, strings.Count(errOut, "\n"), "one line: %q", errOut)
		require.True(t, strings.HasPrefix(errOut, "agent: "), errOut)
	}
}

func TestProbeOptionsFromFlags(t *testing.T) {
	pwFile := filepath.Join(t.TempDir(), "pw")
	require.NoError(t, os.WriteFile(pwFile, []byte("s3cret\n"), 0o600))
	f := probeFlags{target: "[::1]:4450", ports: []int{139, 4450}, user: "u", passwordFile: pwFile,
		share: "data", file: "a/b.txt", fileSHA256: strings.Repeat("A", 64), timeout: 2 * time.Second}
	host, o, err := f.options()
	require.NoError(t, err)
	require.Equal(t, "::1", host)
	require.Equal(t, []int{4450, 139}, o.Ports)
	require.Equal(t, "s3cret", o.Password, "trailing newline trimmed")
	require.Equal(t, 2*time.Second, o.Timeout)

	t.Setenv("SMB_AGENT_PASSWORD", "fromenv")
	f = probeFlags{target: "fileserver", timeout: time.Second}
	host, o, err = f.options()
	require.NoError(t, err)
	require.Equal(t, "fileserver", host)
	require.Equal(t, []int{445}, o.Ports)
	require.Equal(t, "fromenv", o.Password)
}

func TestProbeRefusedExitsCritical(t *testing.T) {
	p := closedPort(t)
	code, out, errOut := runAgent(t, map[string]string{"SMB_AGENT_PASSWORD": "hunter2-secret"},
		"probe", "--target", "127.0.0.1:"+strconv.Itoa(p), "--user", "u", "--timeout", "2s")
	require.Equal(t, exitCritical, code)
	require.Empty(t, errOut)
	require.Contains(t, out, "refused")
	require.Contains(t, out, "skipped")
	require.NotContains(t, out, "hunter2-secret")

	code, out, _ = runAgent(t, map[string]string{"SMB_AGENT_PASSWORD": "hunter2-secret"},
		"probe", "--json", "--target", "127.0.0.1:"+strconv.Itoa(p), "--user", "u")
	require.Equal(t, exitCritical, code)
	require.NotContains(t, out, "hunter2-secret")
	var r probe.Result
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	require.Equal(t, probe.ClassRefused, r.TCP[0].Class)
}

func TestProbeAgainstRealSmbd(t *testing.T) {
	s := harness.StartT(t, harness.Config{
		Users:  []harness.User{{Name: "root", Password: "Cl1-pw!x"}},
		Shares: []harness.Share{{Name: "data"}},
	})
	pw := filepath.Join(t.TempDir(), "pw")
	require.NoError(t, os.WriteFile(pw, []byte("Cl1-pw!x\n"), 0o600))
	code, out, errOut := runAgent(t, nil, "probe", "--target", s.Addr(), "--user", "root",
		"--password-file", pw, "--share", "data", "--timeout", "10s")
	require.Equal(t, exitOK, code, out+errOut)
	for _, want := range []string{"negotiate SMB2_02", "negotiate SMB3_11", "smb1 pysmb", "chose SMB2_02", "login root", "shares", "IPC$, data", "share data"} {
		require.Contains(t, out, want)
	}
	require.NotContains(t, out, "Cl1-pw!x")

	code, out, _ = runAgent(t, nil, "probe", "--target", s.Addr(), "--user", "root",
		"--password-file", pw, "--share", "nosuchshare", "--timeout", "10s", "--json")
	require.Equal(t, exitCritical, code)
	var r probe.Result
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	require.Equal(t, probe.ClassShareMissing, r.Share.Class)
}
