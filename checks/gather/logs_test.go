package gather

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smb-agent/smb-agent/checks"
	"github.com/stretchr/testify/require"
)

// The fixtures in testdata/logs were written by a real smbd 4.17.12 (see
// testdata/logs/README.md for how each was made).

func fixtureTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006/01/02 15:04:05.999999", s, time.UTC)
	require.NoError(t, err)
	return v
}

// readFixture runs the log gatherer over every file of one fixture
// directory, in UTC (smbd stamped them in the host's zone, UTC).
func readFixture(t *testing.T, dir string, level logLevelInput) checks.LogFacts {
	t.Helper()
	srcs, errs := snapshotLogs([]string{filepath.Join("testdata", "logs", dir, "log.*")}, time.Now(), 0)
	require.Empty(t, errs)
	require.NotEmpty(t, srcs)
	return gatherLogs(context.Background(), logInput{
		Sources: srcs, Started: time.Date(2026, 11, 25, 7, 0, 0, 0, time.UTC),
		MaxBytes: 1 << 20, Level: level, Loc: time.UTC,
		LookPath: func(string) (string, error) { return "", errors.New("no") },
	})
}

func kinds(lines []checks.LogLine) map[string]int {
	m := map[string]int{}
	for _, l := range lines {
		m[l.Kind]++
	}
	return m
}

// checkThreeFailedLogins checks the authlevel3-* fixtures: one line per
// failed login, each the Auth line with the client's address.
func checkThreeFailedLogins(t *testing.T, lf checks.LogFacts) {
	var got []string
	for _, l := range lf.Lines {
		require.True(t, strings.HasPrefix(l.Text, "Auth: ["), l.Text)
		got = append(got, l.User+" "+l.Status+" "+l.ClientIP)
	}
	require.Equal(t, []string{
		"root NT_STATUS_WRONG_PASSWORD 127.0.0.1",
		"root NT_STATUS_WRONG_PASSWORD 127.0.0.1",
		"gxnobody NT_STATUS_NO_SUCH_USER 127.0.0.1",
	}, got)
}

func TestGatherLogsFixtures(t *testing.T) {
	offer := []string{"NT LM 0.12", "SMB 2.002"}
	tests := []struct {
		dir    string
		kinds  map[string]int
		offers []checks.ClientOffer // File is checked by base name
		check  func(t *testing.T, lf checks.LogFacts)
	}{
		{
			dir: "level3",
			kinds: map[string]int{checks.LogNegotiateOffer: 2, checks.LogNoProtocol: 1, checks.LogNegotiateNotSupported: 1,
				checks.LogAuthFailure: 4, checks.LogAccountDisabled: 1},
			offers: []checks.ClientOffer{{ClientIP: "127.0.0.1", Time: fixtureTime(t, "2026/11/25 06:27:15.801679"),
				Dialects: offer, NoProtocol: true, File: "log.127.0.0.1", Line: 2, Offset: 0}},
			check: func(t *testing.T, lf checks.LogFacts) {
				var got []string
				for _, l := range lf.Lines {
					if l.Kind == checks.LogAuthFailure || l.Kind == checks.LogAccountDisabled {
						got = append(got, l.Kind+" "+l.User+" "+l.Status+" "+l.ClientIP)
					}
				}
				require.Equal(t, []string{
					"auth-failure root NT_STATUS_WRONG_PASSWORD 127.0.0.1",
					"auth-failure root NT_STATUS_WRONG_PASSWORD 127.0.0.1", // the NTLMv1 login
					"auth-failure gxnobody NT_STATUS_NO_SUCH_USER 127.0.0.1",
					"account-disabled root NT_STATUS_ACCOUNT_DISABLED 127.0.0.1",
					"auth-failure root NT_STATUS_ACCOUNT_DISABLED 127.0.0.1",
				}, got)
				for _, l := range lf.Lines {
					require.NotContains(t, l.Text, "\n")
					require.Positive(t, l.Line, "whole file read: line numbers known")
				}
			},
		},
		{
			// level 2: check_ntlm_password and the NTLMv1 refusal; the JSON
			// line that follows each Auth line is not a line of its own.
			// Two failed logins (ntlmv1, wrong) wrote a check_ntlm_password
			// and an Auth line each: two auth-failure lines, the Auth ones.
			dir:   "level2",
			kinds: map[string]int{checks.LogNTLMv1Refused: 1, checks.LogAuthFailure: 2},
			check: func(t *testing.T, lf checks.LogFacts) {
				require.Equal(t, checks.LogNTLMv1Refused, lf.Lines[0].Kind)
				require.Equal(t, "root", lf.Lines[0].User)
				require.Equal(t, "ntlm_password_check: NTLMv1 passwords NOT PERMITTED for user root", lf.Lines[0].Text)
				require.Equal(t, "root", lf.Lines[1].User)
				require.Equal(t, "NT_STATUS_WRONG_PASSWORD", lf.Lines[1].Status)
				require.Equal(t, []int{6, 11}, []int{lf.Lines[1].Line, lf.Lines[2].Line}, "the Auth lines")
				require.Equal(t, "127.0.0.1", lf.Lines[2].ClientIP)
				for _, l := range lf.Lines {
					require.NotContains(t, l.Text, `"timestamp"`)
				}
			},
		},
		{
			// stock level 0: smbd wrote nothing about the failures
			dir:   "default",
			kinds: map[string]int{},
		},
		{
			dir:   "denied",
			kinds: map[string]int{checks.LogDenied: 2},
			check: func(t *testing.T, lf checks.LogFacts) {
				for _, l := range lf.Lines {
					require.Equal(t, "127.0.0.1", l.ClientIP, l.Text)
				}
			},
		},
		{
			dir:   "enc",
			kinds: map[string]int{checks.LogEncryptionRequired: 1},
			check: func(t *testing.T, lf checks.LogFacts) {
				require.Equal(t, "127.0.0.1", lf.Lines[0].ClientIP)
			},
		},
		{
			// headerless lines written before the config loaded take the
			// time of the entry before them
			dir:   "loadfail",
			kinds: map[string]int{checks.LogInvalidValue: 1, checks.LogConfigLoadFailed: 2},
			check: func(t *testing.T, lf checks.LogFacts) {
				at := fixtureTime(t, "2026/11/25 06:27:46")
				for _, l := range lf.Lines {
					require.Equal(t, at, l.Time, l.Text)
				}
				require.Equal(t, "smbd - Failed to load config file!", lf.Lines[2].Text)
				require.Equal(t, 4, lf.Lines[2].Line)
			},
		},
		{
			dir:    "nohires",
			kinds:  map[string]int{checks.LogNegotiateOffer: 2, checks.LogNoProtocol: 1},
			offers: []checks.ClientOffer{{ClientIP: "127.0.0.1", Time: fixtureTime(t, "2026/11/25 06:27:29"), Dialects: offer, NoProtocol: true, File: "log.127.0.0.1", Line: 2}},
		},
		{
			dir:    "prefix",
			kinds:  map[string]int{checks.LogNegotiateOffer: 2, checks.LogNoProtocol: 1, checks.LogAuthFailure: 1},
			offers: []checks.ClientOffer{{ClientIP: "127.0.0.1", Time: fixtureTime(t, "2026/11/25 06:27:28.354080"), Dialects: offer, NoProtocol: true, File: "log.127.0.0.1", Line: 1}},
		},
		{
			dir:    "syslogfmt",
			kinds:  map[string]int{checks.LogNegotiateOffer: 2, checks.LogNoProtocol: 1, checks.LogAuthFailure: 1},
			offers: []checks.ClientOffer{{ClientIP: "127.0.0.1", Time: fixtureTime(t, "2026/11/25 06:27:31.029258"), Dialects: offer, NoProtocol: true, File: "log.127.0.0.1", Line: 1}},
		},
		{
			dir:   "pidclass",
			kinds: map[string]int{checks.LogNegotiateOffer: 4, checks.LogNoProtocol: 2},
			offers: []checks.ClientOffer{
				{ClientIP: "127.0.0.1", Time: fixtureTime(t, "2026/11/25 06:27:32.256603"), Dialects: offer, NoProtocol: true, File: "log.127.0.0.1", Line: 2},
				{ClientIP: "127.0.0.1", Time: fixtureTime(t, "2026/11/25 06:27:32.269095"), Dialects: offer, NoProtocol: true, File: "log.127.0.0.1", Line: 8, Offset: 518}, // the header of the second client's first line
			},
		},
		{
			// "log level = 3" on Samba 4.13 and 4.24 (test/
			// TestGatherCountsFailedLoginsOnceAtEveryLevel): two wrong
			// passwords and an unknown user, each written as a
			// check_ntlm_password line and an Auth line. Three failed
			// logins are three auth-failure lines, the Auth ones.
			dir:   "authlevel3-4.13",
			kinds: map[string]int{checks.LogAuthFailure: 3},
			check: checkThreeFailedLogins,
		},
		{
			dir:   "authlevel3-4.24",
			kinds: map[string]int{checks.LogAuthFailure: 3},
			check: checkThreeFailedLogins,
		},
		{
			// `debug timestamp = no`: no header, no time
			dir:    "notime",
			kinds:  map[string]int{checks.LogNegotiateOffer: 2, checks.LogNoProtocol: 1},
			offers: []checks.ClientOffer{{ClientIP: "127.0.0.1", Dialects: offer, NoProtocol: true, File: "log.127.0.0.1", Line: 1}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.dir, func(t *testing.T) {
			lf := readFixture(t, tc.dir, logLevelInput{})
			require.Empty(t, lf.Err)
			require.NotEmpty(t, lf.Sources)
			require.Equal(t, tc.kinds, kinds(lf.Lines))
			if tc.offers == nil {
				tc.offers = []checks.ClientOffer{}
			}
			got := lf.Offers
			for i := range got {
				got[i].File = filepath.Base(got[i].File)
			}
			require.Equal(t, tc.offers, got)
			if tc.check != nil {
				tc.check(t, lf)
			}
		})
	}
}

// Two clients negotiating at once interleave their lines in one file;
// with `debug pid = yes` they are told apart.
func TestOfferGroupingByPID(t *testing.T) {
	b, err := os.ReadFile("testdata/logs/pidclass/log.127.0.0.1")
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	require.Len(t, lines, 12)
	// entries are header+message pairs: interleave the two clients'
	pairs := func(from int) []string { return lines[from : from+6] }
	a, c := pairs(0), pairs(6)
	var mixed []string
	for i := 0; i < 6; i += 2 {
		mixed = append(mixed, a[i], a[i+1], c[i], c[i+1])
	}
	raw := splitRawLines([]byte(strings.Join(mixed, "\n")+"\n"), 0)
	sc := &logScan{}
	sc.scan("log.127.0.0.1", parseLogEntries(raw, time.UTC), "127.0.0.1")
	_, offers := sc.finish()
	require.Len(t, offers, 2)
	for _, o := range offers {
		require.Equal(t, []string{"NT LM 0.12", "SMB 2.002"}, o.Dialects)
		require.True(t, o.NoProtocol)
	}
}

func TestReadLogTailAndSnapshot(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "log.10.0.0.7")
	src, err := os.ReadFile("testdata/logs/level3/log.127.0.0.1")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, src, 0o644))

	srcs, errs := snapshotLogs([]string{filepath.Join(dir, "log.*")}, time.Now(), time.Hour)
	require.Empty(t, errs)
	require.Len(t, srcs, 1)
	require.Equal(t, int64(len(src)), srcs[0].Size)

	// Lines written after the snapshot (the agent's own probes) are not read.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("[2026/11/25 06:30:00.000000,  3] ../../source3/smbd/smb2_negprot.c:1153(x)\n  smb2_multi_protocol_reply_negprot: No protocol supported !\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())

	all, err := readLogTail(srcs[0], 0)
	require.NoError(t, err)
	require.Equal(t, 1, all[0].line)
	sc := &logScan{}
	sc.scan(path, parseLogEntries(all, time.UTC), ipFromLogName(path))
	lines, offers := sc.finish()
	require.Len(t, offers, 1)
	require.Equal(t, "10.0.0.7", offers[0].ClientIP, "the client IP comes from log.<ip>")
	require.Equal(t, 1, kinds(lines)[checks.LogNoProtocol])

	// Only the last 700 bytes: the cut first line is dropped, line numbers
	// are unknown, offsets stay exact.
	tail, err := readLogTail(srcs[0], 700)
	require.NoError(t, err)
	require.Zero(t, tail[0].line)
	require.Greater(t, tail[0].off, srcs[0].Size-700)
	require.Equal(t, byte('\n'), src[tail[0].off-1])
	entries := parseLogEntries(tail, time.UTC)
	require.NotEmpty(t, entries)
	require.True(t, entries[0].hasHdr)

	// A file older than logs.since is skipped.
	old := time.Now().Add(-3 * time.Hour)
	require.NoError(t, os.Chtimes(path, old, old))
	srcs, _ = snapshotLogs([]string{filepath.Join(dir, "log.*")}, time.Now(), time.Hour)
	require.Empty(t, srcs)
}

func TestLogSinceFiltersOldEntries(t *testing.T) {
	srcs, _ := snapshotLogs([]string{"testdata/logs/level3/log.127.0.0.1"}, time.Now(), 0)
	in := logInput{Sources: srcs, Loc: time.UTC, Since: time.Minute, LookPath: func(string) (string, error) { return "", errors.New("no") }}
	in.Started = fixtureTime(t, "2026/11/25 06:28:15.900000") // a minute after the first lines
	lf := gatherLogs(context.Background(), in)
	// only the entries at or after 06:27:15.9 remain: the disabled
	// account and its Auth line
	require.Equal(t, map[string]int{checks.LogAuthFailure: 1, checks.LogAccountDisabled: 1}, kinds(lf.Lines))
	require.Empty(t, lf.Offers)
}

func TestParseLogLevel(t *testing.T) {
	tests := []struct {
		in   string
		want map[string]int
		ok   bool
	}{
		{"1", map[string]int{"all": 1}, true},
		{"1 smb2:3 auth_audit:2", map[string]int{"all": 1, "smb2": 3, "auth_audit": 2}, true},
		{"0,smb2:3", map[string]int{"all": 0, "smb2": 3}, true},
		{"smb2:5", map[string]int{"smb2": 5}, true},
		{"3 auth:10@/var/log/samba/auth.log", map[string]int{"all": 3, "auth": 10}, true},
		{"all:4 SMB2:1", map[string]int{"all": 4, "smb2": 1}, true},
		{"high", nil, false},
		{"", nil, false},
		{"2 bogus", map[string]int{"all": 2}, true},
	}
	for _, tc := range tests {
		got, ok := parseLogLevel(tc.in)
		require.Equal(t, tc.ok, ok, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
}

func TestEffectiveLogLevels(t *testing.T) {
	smbd := []string{"smbd", "--foreground", "--no-process-group"}
	tests := []struct {
		name string
		in   logLevelInput
		want map[string]int
		src  string
	}{
		{"no log level line, no -d: level 0 (testparm prints 1)",
			logLevelInput{SmbdArgs: smbd, Conf: "1"},
			map[string]int{"all": 0, "smb2": 0, "auth_audit": 0, "auth": 0}, "smbd logs at level 0 (testparm prints 1; every Samba release, checked on"},
		{"log level line",
			logLevelInput{SmbdArgs: smbd, Conf: "1 smb2:3", ConfSet: true, ConfAt: "/etc/samba/smb.conf:7"},
			map[string]int{"all": 1, "smb2": 3, "auth_audit": 1, "auth": 1}, "log level = 1 smb2:3 (/etc/samba/smb.conf:7)"},
		{"-d overrides the log level line",
			logLevelInput{SmbdArgs: append(smbd, "-d", "1"), Conf: "1 smb2:3", ConfSet: true},
			map[string]int{"all": 1, "smb2": 1, "auth_audit": 1, "auth": 1}, "smbd -d 1"},
		{"--debuglevel=3",
			logLevelInput{SmbdArgs: append(smbd, "--debuglevel=3")},
			map[string]int{"all": 3, "smb2": 3, "auth_audit": 3, "auth": 3}, "smbd -d 3"},
		{"-d2 with classes",
			logLevelInput{SmbdArgs: append(smbd, "-d2 smb2:4")},
			map[string]int{"all": 2, "smb2": 4, "auth_audit": 2, "auth": 2}, "smbd -d 2 smb2:4"},
		{"classes only: the rest stays 0",
			logLevelInput{Conf: "smb2:3", ConfSet: true},
			map[string]int{"all": 0, "smb2": 3, "auth_audit": 0, "auth": 0}, "log level = smb2:3"},
		{"smbd not running: smb.conf decides",
			logLevelInput{Conf: "2", ConfSet: true},
			map[string]int{"all": 2, "smb2": 2, "auth_audit": 2, "auth": 2}, "log level = 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, src := effectiveLogLevels(tc.in)
			require.Equal(t, tc.want, got)
			require.Contains(t, src, tc.src)
		})
	}
}

func TestLogGlobs(t *testing.T) {
	require.Equal(t, "/var/log/samba/log.*", logFilePattern("/var/log/samba/log.%m"))
	require.Equal(t, "/srv/logs/*/smbd-*.log", logFilePattern("/srv/logs/%$(HOST)/smbd-%I.log"))
	require.Equal(t, `/x/\[a]*`, logFilePattern("/x/[a]%m"))
	require.Equal(t, "/x/100%", logFilePattern("/x/100%"), "a lone % stays as written")

	got := logGlobs(logSourceInput{
		LogFile:  "/var/log/samba/log.%m",
		SmbdArgs: []string{"smbd", "--foreground", "-s", "/tmp/s/smb.conf", "-l", "/tmp/s/log"},
		Extra:    []string{"/var/log/samba/log.smbd", "/srv/extra.log"},
	})
	require.Equal(t, []string{
		"/var/log/samba/log.*", "/tmp/s/log/log.*", "/var/log/samba/log.smbd",
		"/var/log/samba/log.samba-dcerpcd", "/var/log/samba/log.rpcd_*", "/srv/extra.log",
	}, got)

	// no log file: the compiled-in log.smbd; a fixed name gets its .old
	require.Equal(t, "/var/log/samba/log.smbd", logGlobs(logSourceInput{})[0])
	g := logGlobs(logSourceInput{LogFile: "/srv/smbd.log", SmbdArgs: []string{"smbd", "--log-basename=/srv/l"}})
	require.Equal(t, []string{"/srv/smbd.log", "/srv/smbd.log.old", "/srv/l/log.*"}, g[:3])
}

func TestClientIPAndAuthDetails(t *testing.T) {
	tests := []struct {
		msg, ip, kind, user, status string
	}{
		{`Auth: [SMB2,(null)] user [AGENTSRV]\[root] at [Wed, 25 Nov 2026 06:14:42.286749 UTC] with [NTLMv2] status [NT_STATUS_WRONG_PASSWORD] workstation [] remote host [ipv4:10.1.2.3:50752] mapped to [AGENTSRV]\[root]. local host [ipv4:127.0.0.1:4491]`,
			"10.1.2.3", checks.LogAuthFailure, "root", "NT_STATUS_WRONG_PASSWORD"},
		{`Auth: [SMB2,(null)] user []\[b2scorer] at [x] with [NTLMv2] status [NT_STATUS_NO_SUCH_USER] workstation [SCORER] remote host [ipv6:fd00::5:40000] mapped to []\[b2scorer].`,
			"fd00::5", checks.LogAuthFailure, "b2scorer", "NT_STATUS_NO_SUCH_USER"},
		{`check_ntlm_password:  Authentication for user [bob] -> [bob] FAILED with error NT_STATUS_WRONG_PASSWORD, authoritative=1`,
			"", checks.LogAuthFailure, "bob", "NT_STATUS_WRONG_PASSWORD"},
		{`sam_account_ok: Account for user 'b2scorer' was disabled.`, "", checks.LogAccountDisabled, "b2scorer", "NT_STATUS_ACCOUNT_DISABLED"},
		{`Denied connection from scorer.example (192.0.2.9)`, "192.0.2.9", checks.LogDenied, "", ""},
		{`Denied connection from 192.0.2.9 (192.0.2.9)`, "192.0.2.9", checks.LogDenied, "", ""},
		{`Connection denied from ipv4:192.0.2.9:38062 to ipv4:127.0.0.1:4488`, "192.0.2.9", checks.LogDenied, "", ""},
		{`create_connection_session_info: user 'b2scorer' (from session setup) not permitted to access this share (IPC$)`, "", checks.LogNotPermitted, "", ""},
		{`Bad SMB2 (sign_algo_id=0) signature for message`, "", checks.LogBadSignature, "", ""},
		{`Bad SMB2 signature for message`, "", checks.LogBadSignature, "", ""},
		{`error opening config file '/etc/samba/smb.conf'`, "", checks.LogConfigLoadFailed, "", ""},
		{`local_np_connect_connected: Can't connect to a running samba-dcerpcd. smb.conf config prohibits starting as named pipe helper as the [global] section contains "rpc start on demand helpers = false".`, "", checks.LogRPCHelper, "", ""},
		{`sys_popenv: ERROR executing command '/usr/libexec/samba/rpcd_classic': Permission denied`, "", checks.LogRPCExecFailed, "", ""},
		{`Non-SMB packet of length 168. Terminating server`, "", checks.LogNonSMBPacket, "", ""},
		{`smbd_open_one_socket: open_socket_in: Address already in use`, "", checks.LogSocketFailed, "", ""},
		{`Selected protocol SMB3_11`, "", "", "", ""},
		{`INFO: Profiling turned OFF from pid 1`, "", "", "", ""},
	}
	for _, tc := range tests {
		k := classifyLog(tc.msg)
		require.Equal(t, tc.kind, k, tc.msg)
		require.Equal(t, tc.ip, clientIPFromMsg(tc.msg), tc.msg)
		u, s := authDetails(k, tc.msg)
		require.Equal(t, tc.user, u, tc.msg)
		require.Equal(t, tc.status, s, tc.msg)
	}
	require.Equal(t, "127.0.0.1", ipFromLogName("/var/log/samba/log.127.0.0.1"))
	require.Equal(t, "127.0.0.1", ipFromLogName("/var/log/samba/log.127.0.0.1.old"))
	require.Equal(t, "fd00::1", ipFromLogName("/var/log/samba/log.fd00::1"))
	require.Equal(t, "", ipFromLogName("/var/log/samba/log.scorer"))
	require.Equal(t, "", ipFromLogName("/var/log/samba/log.smbd"))
}

func TestJournalFallback(t *testing.T) {
	// journalctl -o json: smbd logging to stdout under systemd, one
	// journal entry per line it wrote; MESSAGE as a byte array when not
	// UTF-8.
	journal := strings.Join([]string{
		`{"__REALTIME_TIMESTAMP":"1795588035801679","_PID":"77","MESSAGE":"[2026/11/25 06:27:15.801679,  3] ../../source3/smbd/smb2_negprot.c:1106(smb2_multi_protocol_reply_negprot)"}`,
		`{"__REALTIME_TIMESTAMP":"1795588035801680","_PID":"77","MESSAGE":"  Requested protocol [NT LM 0.12]"}`,
		`{"__REALTIME_TIMESTAMP":"1795588035801708","_PID":"77","MESSAGE":"[2026/11/25 06:27:15.801708,  3] ../../source3/smbd/smb2_negprot.c:1106(smb2_multi_protocol_reply_negprot)"}`,
		`{"__REALTIME_TIMESTAMP":"1795588035801709","_PID":"77","MESSAGE":[32,32,82,101,113,117,101,115,116,101,100,32,112,114,111,116,111,99,111,108,32,91,83,77,66,32,50,46,48,48,50,93]}`,
		`{"__REALTIME_TIMESTAMP":"1795588035801739","_PID":"77","MESSAGE":"[2026/11/25 06:27:15.801739,  3] ../../source3/smbd/smb2_negprot.c:1153(smb2_multi_protocol_reply_negprot)"}`,
		`{"__REALTIME_TIMESTAMP":"1795588035801740","_PID":"77","MESSAGE":"  smb2_multi_protocol_reply_negprot: No protocol supported !"}`,
		`{"__REALTIME_TIMESTAMP":"1795588036000000","_PID":"78","MESSAGE":"sam_account_ok: Account for user 'bob' was disabled."}`,
		`not json`,
	}, "\n")
	var calls [][]string
	in := logInput{
		Started: time.Unix(1795588100, 0), Since: time.Hour, Journal: true, Loc: time.UTC,
		LookPath: func(n string) (string, error) { return "/usr/bin/" + n, nil },
		Run: func(_ context.Context, name string, args ...string) ([]byte, error) {
			calls = append(calls, append([]string{name}, args...))
			return []byte(journal), nil
		},
	}
	lf := gatherLogs(context.Background(), in)
	require.Len(t, calls, 1)
	require.Equal(t, "journalctl", calls[0][0])
	require.Contains(t, calls[0], "--until=@1795588100")
	require.Contains(t, calls[0], "--since=@1795584500")
	require.Equal(t, []string{"journal"}, lf.Sources)
	require.Contains(t, lf.Err, "1 journal line(s) were not JSON")
	require.Len(t, lf.Offers, 1)
	require.Equal(t, []string{"NT LM 0.12", "SMB 2.002"}, lf.Offers[0].Dialects)
	require.Equal(t, "journal", lf.Offers[0].File)
	require.Equal(t, map[string]int{checks.LogNegotiateOffer: 2, checks.LogNoProtocol: 1, checks.LogAccountDisabled: 1}, kinds(lf.Lines))
	disabled := lf.Lines[len(lf.Lines)-1]
	require.Equal(t, time.UnixMicro(1795588036000000), disabled.Time)

	// Files with evidence: the journal is not asked.
	calls = nil
	srcs, _ := snapshotLogs([]string{"testdata/logs/enc/log.*"}, time.Now(), 0)
	in.Sources, in.Since = srcs, 0
	lf = gatherLogs(context.Background(), in)
	require.Empty(t, calls)
	require.NotContains(t, lf.Sources, "journal")

	// No journal files on the host: journalctl is not run, and the
	// journal counts as read (it is empty).
	calls = nil
	in.Sources = nil
	in.NoJournal = func() bool { return true }
	lf = gatherLogs(context.Background(), in)
	require.Empty(t, calls)
	require.Empty(t, lf.Err)
	require.Equal(t, []string{"journal"}, lf.Sources)
	in.NoJournal = nil

	// No journalctl: no error, no journal source.
	in.Sources = nil
	in.LookPath = func(string) (string, error) { return "", errors.New("not found") }
	lf = gatherLogs(context.Background(), in)
	require.Empty(t, lf.Err)
	require.Empty(t, lf.Sources)
}

func TestLogLinesCappedPerKind(t *testing.T) {
	var b strings.Builder
	for i := 0; i < maxLinesPerKind+20; i++ {
		b.WriteString("[2026/11/25 06:27:15.000000,  0] ../../lib/util/access.c:372(allow_access)\n  Denied connection from 192.0.2.1 (192.0.2.1)\n")
	}
	b.WriteString("[2026/11/25 06:27:16.000000,  1] x.c:1(f)\n  sam_account_ok: Account for user 'u' was disabled.\n")
	sc := &logScan{}
	sc.scan("f", parseLogEntries(splitRawLines([]byte(b.String()), 0), time.UTC), "")
	lines, _ := sc.finish()
	require.Equal(t, map[string]int{checks.LogDenied: maxLinesPerKind, checks.LogAccountDisabled: 1}, kinds(lines))
	require.Equal(t, 2*20+2, lines[0].Line, "the oldest lines are the ones dropped")
}

func FuzzParseSambaLog(f *testing.F) {
	for _, p := range []string{"level3/log.127.0.0.1", "level2/log.127.0.0.1", "authlevel3-4.24/log.smbd", "loadfail/log.smbd", "syslogfmt/log.127.0.0.1", "prefix/log.127.0.0.1", "notime/log.127.0.0.1"} {
		b, err := os.ReadFile(filepath.Join("testdata", "logs", p))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, int64(0))
		f.Add(b, int64(len(b)/2))
	}
	f.Add([]byte("[2026/11/25 06:27:15.1,  3, pid=] a:1(b)\n  Requested protocol [\n"), int64(0))
	f.Fuzz(func(t *testing.T, data []byte, start int64) {
		if start < 0 {
			start = -start
		}
		raw := splitRawLines(data, start%4096)
		sc := &logScan{}
		sc.scan("log.127.0.0.1", parseLogEntries(raw, time.UTC), "127.0.0.1")
		lines, offers := sc.finish()
		for _, l := range lines {
			if l.Kind == "" || strings.Contains(l.Text, "\n") {
				t.Fatalf("bad line %+v", l)
			}
		}
		for _, o := range offers {
			if !o.NoProtocol {
				t.Fatalf("offer without failure %+v", o)
			}
		}
		_, _ = parseJournalJSON(data)
		_, _ = parseLogLevel(string(data))
	})
}

func TestNoJournalFiles(t *testing.T) {
	run, persistent := filepath.Join(t.TempDir(), "run"), filepath.Join(t.TempDir(), "var")
	dirs := []string{run, persistent}
	require.True(t, noJournalFiles(dirs), "neither directory exists")
	require.NoError(t, os.MkdirAll(filepath.Join(persistent, "0123abcd"), 0o755))
	require.True(t, noJournalFiles(dirs), "an empty machine directory")
	require.NoError(t, os.WriteFile(filepath.Join(persistent, "0123abcd", "system.journal"), nil, 0o644))
	require.False(t, noJournalFiles(dirs), "a system journal")
	require.NoError(t, os.Remove(filepath.Join(persistent, "0123abcd", "system.journal")))
	require.NoError(t, os.WriteFile(filepath.Join(persistent, "0123abcd", "user-1000@x.journal~"), nil, 0o644))
	require.False(t, noJournalFiles(dirs), "a journal file that was not closed cleanly")
	require.NoError(t, os.WriteFile(run, nil, 0o644))
	require.False(t, noJournalFiles([]string{run + "/x"}), "unreadable: journalctl decides")
}

// The pairing of a failed login's check_ntlm_password and Auth lines, on
// the wording Samba 4.13 to 4.24 write (testdata/logs/authlevel3-*).
func TestAuthFailureCountsLogins(t *testing.T) {
	check := func(ts, user, status string) string {
		return "[2026/12/04 18:25:52." + ts + ",  2] source3/auth/auth.c:353(auth_check_ntlm_password)\n" +
			"  check_ntlm_password:  Authentication for user [" + user + "] -> [" + user + "] FAILED with error " + status + ", authoritative=1\n"
	}
	audit := func(ts, user, status, port string) string {
		return "[2026/12/04 18:25:52." + ts + ",  2] auth/auth_log.c:860(log_authentication_event_human_readable)\n" +
			"  Auth: [SMB2,(null)] user [AGENTSRV]\\[" + user + "] at [Fri, 04 Dec 2026 18:25:52." + ts + " UTC] with [NTLMv2] status [" + status +
			"] workstation [] remote host [ipv4:127.0.0.1:" + port + "] mapped to [AGENTSRV]\\[" + user + "]. local host [ipv4:127.0.0.1:445]\n"
	}
	const wrong, nouser = "NT_STATUS_WRONG_PASSWORD", "NT_STATUS_NO_SUCH_USER"
	tests := []struct {
		name string
		log  string
		want []string // user status line-kind of each auth-failure line
	}{
		{"log level 2: two lines, one login",
			check("100000", "root", wrong) + audit("100020", "root", wrong, "1"),
			[]string{"root " + wrong + " Auth"}},
		{"auth_audit:2 only",
			audit("100020", "root", wrong, "1") + audit("200020", "root", wrong, "2"),
			[]string{"root " + wrong + " Auth", "root " + wrong + " Auth"}},
		{"auth:2 only: the check_ntlm_password line is the login",
			check("100000", "root", wrong) + check("200000", "root", wrong),
			[]string{"root " + wrong + " check", "root " + wrong + " check"}},
		{"two connections interleaved in one file, no pid",
			check("100000", "root", wrong) + check("100010", "gxnobody", nouser) + audit("100020", "root", wrong, "1") + audit("100030", "gxnobody", nouser, "2"),
			[]string{"root " + wrong + " Auth", "gxnobody " + nouser + " Auth"}},
		{"same user twice interleaved",
			check("100000", "root", wrong) + check("100010", "root", wrong) + audit("100020", "root", wrong, "1") + audit("100030", "root", wrong, "2"),
			[]string{"root " + wrong + " Auth", "root " + wrong + " Auth"}},
		{"an Auth line of another status is another login",
			check("100000", "root", wrong) + audit("100020", "root", "NT_STATUS_ACCOUNT_DISABLED", "1"),
			[]string{"root " + wrong + " check", "root NT_STATUS_ACCOUNT_DISABLED Auth"}},
		{"lines further apart than one attempt are two logins",
			check("100000", "root", wrong) + strings.Replace(audit("100020", "root", wrong, "1"), "18:25:52.100020,", "18:25:59.100020,", 1),
			[]string{"root " + wrong + " check", "root " + wrong + " Auth"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc := &logScan{}
			sc.scan("log.smbd", parseLogEntries(splitRawLines([]byte(tc.log), 0), time.UTC), "")
			lines, _ := sc.finish()
			var got []string
			for _, l := range lines {
				require.Equal(t, checks.LogAuthFailure, l.Kind)
				k := "check"
				if strings.HasPrefix(l.Text, "Auth: [") {
					k = "Auth"
					require.Equal(t, "127.0.0.1", l.ClientIP)
				}
				got = append(got, l.User+" "+l.Status+" "+k)
			}
			require.Equal(t, tc.want, got)
		})
	}
}
