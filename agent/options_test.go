package agent

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks"
	"github.com/smb-agent/smb-agent/checks/catalog"
)

func TestResolveListen(t *testing.T) {
	for _, tc := range []struct {
		name, addr string
		public     bool
		want       string // bind address; "" with wantErr
		wantErr    string
	}{
		{name: "default", addr: "127.0.0.1:9445", want: "127.0.0.1:9445"},
		{name: "other 127/8", addr: "127.3.4.5:80", want: "127.3.4.5:80"},
		{name: "ipv6 loopback", addr: "[::1]:9445", want: "[::1]:9445"},
		{name: "v4-mapped loopback", addr: "[::ffff:127.0.0.1]:9445", want: "[::ffff:127.0.0.1]:9445"},
		{name: "localhost resolves to loopback, IPv4 first", addr: "localhost:9445", want: "127.0.0.1:9445"},
		{name: "port 0 for tests", addr: "127.0.0.1:0", want: "127.0.0.1:0"},
		{name: "empty host is every interface", addr: ":9445", wantErr: `":9445" listens on every interface`},
		{name: "0.0.0.0", addr: "0.0.0.0:9445", wantErr: "listens on every interface"},
		{name: "[::]", addr: "[::]:9445", wantErr: "listens on every interface"},
		{name: "lan address", addr: "192.168.1.10:9445", wantErr: "is not a loopback address"},
		{name: "public ipv6", addr: "[2001:db8::1]:9445", wantErr: "is not a loopback address"},
		{name: "hint names the flag", addr: "10.0.0.1:9445", wantErr: "--listen-public"},
		{name: "public allowed with flag", addr: "0.0.0.0:9445", public: true, want: "0.0.0.0:9445"},
		{name: "empty host allowed with flag", addr: ":9445", public: true, want: ":9445"},
		{name: "no port", addr: "127.0.0.1", wantErr: "want HOST:PORT"},
		{name: "bad port", addr: "127.0.0.1:http", wantErr: "not a number"},
		{name: "port too big", addr: "127.0.0.1:70000", wantErr: "not a number"},
		{name: "bad port even when public", addr: "0.0.0.0:-1", public: true, wantErr: "not a number"},
		{name: "unresolvable name", addr: "no-such-host.invalid:9445", wantErr: "resolve no-such-host.invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ResolveListen(context.Background(), tc.addr, tc.public)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestNewRefusesNonLoopback(t *testing.T) {
	f := &fakeRound{}
	o := testOptions(f)
	o.Listen = ":9445"
	_, err := New(o)
	require.ErrorContains(t, err, "--listen-public")
	o.ListenPublic = true
	_, err = New(o)
	require.NoError(t, err)
}

func TestOptionsDefaultsAndValidation(t *testing.T) {
	round := func(context.Context) (*checks.Report, error) { return nil, nil }
	for _, tc := range []struct {
		name    string
		in      Options
		check   func(t *testing.T, o Options)
		wantErr string
	}{
		{name: "defaults", in: Options{Round: round}, check: func(t *testing.T, o Options) {
			require.Equal(t, DefaultInterval, o.Interval)
			require.Equal(t, 30*time.Second, o.RoundTimeout)
			require.Equal(t, DefaultListen, o.Listen)
			require.Equal(t, DefaultPatterns(), o.Patterns)
			require.Zero(t, o.Jitter, "0 means no jitter; configs supplies 0.1 by default")
			require.NotNil(t, o.Logger)
			require.NotNil(t, o.Now)
			require.False(t, o.scoringEnabled())
		}},
		{name: "round timeout follows a long interval", in: Options{Round: round, Interval: 5 * time.Minute},
			check: func(t *testing.T, o Options) { require.Equal(t, 5*time.Minute, o.RoundTimeout) }},
		{name: "round timeout floor for short intervals", in: Options{Round: round, Interval: 5 * time.Second},
			check: func(t *testing.T, o Options) { require.Equal(t, 30*time.Second, o.RoundTimeout) }},
		{name: "scoring needs both", in: Options{Round: round, PointsPerCheck: 4.2},
			check: func(t *testing.T, o Options) { require.False(t, o.scoringEnabled()) }},
		{name: "scoring set", in: Options{Round: round, PointsPerCheck: 4.2, CheckInterval: time.Minute},
			check: func(t *testing.T, o Options) { require.True(t, o.scoringEnabled()) }},
		{name: "no round", in: Options{}, wantErr: "no round function"},
		{name: "interval too short", in: Options{Round: round, Interval: 30 * time.Millisecond}, wantErr: "below the minimum 1s"},
		{name: "negative interval", in: Options{Round: round, Interval: -time.Second}, wantErr: "below the minimum"},
		{name: "jitter negative", in: Options{Round: round, Jitter: -0.1}, wantErr: "jitter"},
		{name: "jitter too large", in: Options{Round: round, Jitter: 0.9}, wantErr: "between 0 and 0.5"},
		{name: "jitter NaN", in: Options{Round: round, Jitter: math.NaN()}, wantErr: "jitter"},
		{name: "negative round timeout", in: Options{Round: round, RoundTimeout: -1}, wantErr: "round timeout"},
		{name: "negative points", in: Options{Round: round, PointsPerCheck: -1}, wantErr: "points per check"},
		{name: "negative check interval", in: Options{Round: round, CheckInterval: -time.Second}, wantErr: "check interval"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := tc.in.withDefaults()
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			tc.check(t, o)
		})
	}
}

// The metrics' default pattern list is the catalog's, so a new catalog
// pattern is exported without another edit.
func TestDefaultPatternsAreTheCatalogs(t *testing.T) {
	require.Contains(t, DefaultPatterns(), "logging-insufficient")
	require.Contains(t, DefaultPatterns(), "file-check-failed")
	require.Len(t, DefaultPatterns(), len(catalog.All()))
}
