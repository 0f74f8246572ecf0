package smbconf

import (
	"bufio"
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The rules of lib/util/access.c, one case each. Where a rule is surprising
// the case says which testparm run (corpus file and probe) showed it.
func TestStringMatch(t *testing.T) {
	cases := []struct {
		tok, s string
		want   bool
	}{
		{".example.com", "pc.example.com", true},
		{".example.com", "PC.EXAMPLE.COM", true},
		{".example.com", "example.com", false}, // the string must be longer (184)
		{".example.com", ".example.com", false},
		{"@netgroup", "pc", false},
		{"ALL", "anything", true},
		{"all", "10.0.0.1", true},
		{"FAIL", "x", true}, // FAIL matches like ALL (196)
		{"LOCAL", "pc", true},
		{"LOCAL", "pc.lan", false},
		{"LOCAL", "unknown", false}, // (187)
		{"LOCAL", "UNKNOWN", false},
		{"local", "10.0.0.1", false},
		{"myhost", "MYHOST", true},
		{"10.1.", "10.1.2.3", true},
		{"10.1.", "10.10.2.3", false},
		{"10.1", "10.1.2.3", false}, // no dot: exact only (183)
		{"10.1", "10.1", true},
		{"abc.", "ABC.def", false}, // network prefixes compare case-sensitively
		{"10.0.0.0/8", "10.200.1.1", true},
		{"10.0.0.0/8", "11.0.0.1", false},
		{"172.16.0.0/255.240.0.0", "172.31.255.255", true},
		{"172.16.0.0/255.240.0.0", "172.32.0.1", false},
		{"10.0.0.0/8", "pc", false},                  // a name never reaches masked_match
		{"10.0.0.0/024", "12.0.0.1", true},           // "/024" is the mask 0.0.0.20 (194)
		{"10.0.0.0/024", "10.0.0.20", false},         // (194)
		{"11.0.0.0/33", "11.0.0.1", false},           // mask too long
		{"12.0.0.0/", "12.0.0.1", false},             // empty mask: no conversion
		{"12.0.0.0/08", "12.0.0.1", false},           // '8' is no octal digit
		{"12.0.0.0/0x", "12.0.0.1", false},           // "0x" is not fully converted
		{"10.1/16", "10.0.5.5", true},                // inet_aton: 10.1 is 10.0.0.1 (195)
		{"10.1/16", "10.1.5.5", false},               // (195)
		{"012.0.0.0/8", "10.1.5.5", true},            // octal (195)
		{"0x0b.0.0.0/8", "11.2.3.4", true},           // hex (195)
		{"fd00::/8", "fd00::5", true},                // (188)
		{"fe80::/10", "fec0::1", true},               // make_netmask keeps the token's bits (188)
		{"fe80::/10", "ff00::1", false},              // ...but only those
		{"[2001:db8::]/32", "2001:db8::1", false},    // the ']' stays in the address (188)
		{"2001:db8::/32", "2001:db8::1", true},       // (188)
		{"fd00::1/128", "fd00::2", true},             // "128" is an IPv4 address: zero mask (203)
		{"fd00::/ffff:ffff::", "fd00::2", true},      // (203)
		{"fd00::/ffff:ffff::", "fd01::2", false},     // ffff:ffff:: keeps 32 bits
		{"fd00::/64", "10.0.0.1", false},             // families differ
		{"10.1.*.*", "10.1.7.8", true},               // (193)
		{"10.1.*.*", "10.2.7.8", false},              // (193)
		{"pc?.example.com", "pc1.example.com", true}, // (193)
		{"pc?.example.com", "PC22.example.com", false},
		{"*.example.com", "Pcx.Example.Com", true},
	}
	for _, c := range cases {
		require.Equalf(t, c.want, bothFamilies.stringMatch(c.tok, c.s), "string_match(%q, %q)", c.tok, c.s)
	}
}

func TestListMatch(t *testing.T) {
	cases := []struct {
		list       string
		name, addr string
		want       bool
	}{
		{"10.0.0.0/8 EXCEPT 10.1.0.0/16 10.2.", "a", "10.3.3.3", true},
		{"10.0.0.0/8 EXCEPT 10.1.0.0/16 10.2.", "a", "10.1.3.3", false},
		{"10.0.0.0/8 EXCEPT 10.1.0.0/16 10.2.", "a", "10.2.3.3", false},
		{"10.0.0.0/8 EXCEPT 10.1.0.0/16 10.2.", "a", "11.0.0.1", false},
		// A second EXCEPT is not nested (198).
		{"ALL EXCEPT 10.1.0.0/16 EXCEPT 10.1.2.3", "a", "10.1.2.3", false},
		{"ALL EXCEPT 10.1.0.0/16 EXCEPT 10.1.2.3", "a", "10.5.0.1", true},
		// Address first, then name (199).
		{"fileclient 10.1.", "fileclient", "10.7.7.7", true},
		{"fileclient 10.1.", "10.1.2.3", "10.7.7.8", true},
		{"fileclient 10.1.", "nobody", "10.7.7.9", false},
		// ::ffff: is dropped from addresses and tokens (192).
		{"10.0.0.0/8", "a", "::ffff:10.1.2.3", true},
		{"10.0.0.0/8", "a", "::FFFF:10.1.2.3", true},
		{"::ffff:192.168.0.1", "a", "192.168.0.1", true},
		{"", "a", "10.0.0.1", false},
		{"EXCEPT 10.0.0.1", "a", "10.0.0.1", false},
	}
	for _, c := range cases {
		got := bothFamilies.listMatch(strListMakeV3(c.list), c.name, c.addr).ok
		require.Equalf(t, c.want, got, "list_match(%q, %s/%s)", c.list, c.name, c.addr)
	}
}

func TestAllowAccess(t *testing.T) {
	l := func(param, v string) accessList { return accessList{param: param, tokens: strListMakeV3(v)} }
	cases := []struct {
		name        string
		deny, allow string
		addr        string
		want        bool
	}{
		{"no lists", "", "", "10.0.0.1", true},
		{"allow only, listed", "", "10.0.0.1", "10.0.0.1", true},
		{"allow only, not listed", "", "10.0.0.1", "10.0.0.2", false},
		{"deny only, listed", "10.1.", "", "10.1.0.9", false},
		{"deny only, not listed", "10.1.", "", "10.2.0.9", true},
		{"both, in allow wins (190)", "10.0.0.0/8", "10.1.", "10.1.1.1", true},
		{"both, only in deny (190)", "10.0.0.0/8", "10.1.", "10.2.2.2", false},
		{"both, in neither (190)", "10.0.0.0/8", "10.1.", "172.16.0.1", true},
		{"loopback with allow list not naming it (191)", "", "10.0.0.0/8", "127.0.0.1", true},
		{"loopback denied and not allowed (191)", "127.0.0.1 ::1", "10.0.0.0/8", "127.0.0.1", false},
		{"loopback denied but allowed (191)", "ALL", "127.0.0.1", "127.0.0.1", true},
		{"::1 denied by ALL, allow names 127.0.0.1 (191)", "ALL", "127.0.0.1", "::1", false},
		{"127.0.0.2 is not special (191)", "", "10.0.0.0/8", "127.0.0.2", false},
		{"mapped loopback is not special (191)", "", "10.0.0.0/8", "::ffff:127.0.0.1", false},
		{"deny ALL, allow list (186)", "ALL", "192.168.5.", "127.0.0.1", false},
	}
	for _, c := range cases {
		got := bothFamilies.allowAccess(l("hosts deny", c.deny), l("hosts allow", c.allow), "h", c.addr)
		require.Equal(t, c.want, got.allowed, c.name)
		require.NotEmpty(t, got.why, c.name)
	}
}

func TestInetAton(t *testing.T) {
	cases := []struct {
		s    string
		want uint32
		ok   bool
	}{
		{"10.1.2.3", 0x0a010203, true},
		{"10.1", 0x0a000001, true},
		{"10", 10, true},
		{"012.0.0.1", 0x0a000001, true},
		{"0x0a.0.0.1", 0x0a000001, true},
		{"1.2.65535", 0x0102ffff, true},
		{"1.2.65536", 0, false},
		{"256.1.1.1", 0, false},
		{"1.2.3.4.5", 0, false},
		{"1..2", 0, false},
		{"08", 0, false},
		{"", 0, false},
		{"1.2.3.4 ", 0, false},
		{"host", 0, false},
	}
	for _, c := range cases {
		got, ok := accInetAton(c.s)
		require.Equalf(t, c.ok, ok, "inet_aton(%q)", c.s)
		if ok {
			require.Equalf(t, c.want, got, "inet_aton(%q)", c.s)
		}
	}
}

func TestUnixWildMatch(t *testing.T) {
	cases := []struct {
		p, s string
		want bool
	}{
		{"*", "", true},
		{"a*", "abc", true},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"*.example.com", "pc.example.com", true},
		{"*.example.com", "pc.example.org", false},
		{"*xx*", "axb", false}, // '*' before n equal characters needs n of them
		{"*xx*", "axxb", true},
		{"abc", "abc.", true}, // a trailing dot on the string is ignored
		{"ab??", "ab", true},  // trailing '?' may match nothing
		{"A*", "abc", true},
	}
	for _, c := range cases {
		require.Equalf(t, c.want, unixWildMatch(c.p, c.s), "unix_wild_match(%q, %q)", c.p, c.s)
	}
}

// probeLine is a "# probe: HOSTNAME IP" line of an access case.
var probeLine = regexp.MustCompile(`^# probe: (\S+) (\S+)\s*$`)

// verdictLine is what testparm's host mode prints for each share.
var verdictLine = regexp.MustCompile(`^(Allow|Deny) connection from (.*) \((.*)\) to (.*)$`)

// TestAccessDiff compares AllowsHost with "testparm -s FILE HOSTNAME IP" for
// every corpus file with probe lines, share by share.
func TestAccessDiff(t *testing.T) {
	tp := requireTestparm(t)
	dir, files := copyCorpus(t)
	// testparm judges on this host, with its address families.
	hostAddrs, err := HostAddrs()
	require.NoError(t, err)
	n := 0
	for _, f := range files {
		src, err := os.ReadFile(filepath.Join(dir, f))
		require.NoError(t, err)
		var probes [][2]string
		sc := bufio.NewScanner(bytes.NewReader(src))
		for sc.Scan() {
			if m := probeLine.FindStringSubmatch(sc.Text()); m != nil {
				probes = append(probes, [2]string{m[1], m[2]})
			}
		}
		if len(probes) == 0 {
			continue
		}
		n++
		t.Run(f, func(t *testing.T) {
			t.Parallel()
			cfg, err := Load(filepath.Join(dir, f), LoadOptions{Version: oracleVersion, WorkDir: dir})
			require.NoError(t, err)
			for _, p := range probes {
				res, err := runTestparm(tp, dir, "-s", f, p[0], p[1])
				require.NoError(t, err)
				var shares []string
				for _, l := range strings.Split(string(res.stderr), "\n") {
					m := verdictLine.FindStringSubmatch(l)
					if m == nil {
						continue
					}
					share := m[4]
					shares = append(shares, share)
					allowed, reason := cfg.AllowsHost(share, p[0], p[1], hostAddrs)
					if allowed != (m[1] == "Allow") {
						t.Errorf("%s: testparm says %q; AllowsHost(%q, %q, %q) = %v (%s)",
							f, l, share, p[0], p[1], allowed, reason)
					}
					require.NotEmpty(t, reason)
					require.NotContains(t, reason, "\n")
				}
				// testparm judges only the available shares; AllowsHost
				// must refuse the others.
				var avail []string
				for _, s := range cfg.Sections() {
					if v, ok := cfg.Lookup(s, "available"); ok && v.Printed == "No" {
						allowed, reason := cfg.AllowsHost(s, p[0], p[1], hostAddrs)
						require.Falsef(t, allowed, "%s: [%s] is unavailable: %s", f, s, reason)
						continue
					}
					avail = append(avail, s)
				}
				require.Equalf(t, strings.Join(avail, "\n"), strings.Join(shares, "\n"),
					"%s: the shares testparm judges are the config's available sections", f)
			}
		})
	}
	require.GreaterOrEqual(t, n, 20, "corpus files with access probes")
}

// loadAccessConf loads text as a temporary smb.conf and returns it with
// its path.
func loadAccessConf(t *testing.T, text string) (*Config, string) {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "smb.conf")
	require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
	cfg, err := Load(p, LoadOptions{Version: oracleVersion, WorkDir: dir})
	require.NoError(t, err)
	return cfg, p
}

// TestAllowsHostEdges covers what testparm's host mode cannot show: the
// connection-level check (no share) and shares that do not exist.
func TestAllowsHostEdges(t *testing.T) {
	cfg, p := loadAccessConf(t, "[global]\n\thosts allow = 10.0.0.0/8\n[s]\n\tpath = /srv/s\n\thosts deny = 10.1.\n")

	ok, why := cfg.AllowsHost("", "pc", "10.1.2.3", nil)
	require.True(t, ok, why) // only the [global] lists apply
	ok, why = cfg.AllowsHost("global", "pc", "192.168.0.1", nil)
	require.False(t, ok, why)
	require.Contains(t, why, "hosts allow = 10.0.0.0/8")
	require.Contains(t, why, p+":2")

	ok, why = cfg.AllowsHost("IPC$", "pc", "10.1.2.3", nil)
	require.True(t, ok, why) // the implicit IPC$ has the [global] lists
	ok, why = cfg.AllowsHost("nosuch", "pc", "10.1.2.3", nil)
	require.False(t, ok)
	require.Contains(t, why, "nosuch")

	ok, why = cfg.AllowsHost("S", "pc", "10.2.0.1", nil) // share names match case-insensitively
	require.True(t, ok, why)
}

// bothFamilies is a host with IPv4 and IPv6 addresses, where every numeric
// list entry can be parsed.
var bothFamilies = judgeOn([]netip.Addr{netip.MustParseAddr("192.0.2.5"), netip.MustParseAddr("2001:db8::5")})

// An entry of an address family the host has no (non-loopback) address of
// never matches: getaddrinfo's AI_ADDRCONFIG refuses to parse it
// (interpret_string_addr), so the same config judges differently on an
// IPv4-only host. The host's addresses come in as an argument.
func TestAllowsHostFollowsTheHostsAddressFamilies(t *testing.T) {
	cfg, _ := loadAccessConf(t, "[global]\n\thosts allow = fd00::/8 10.0.0.0/8\n")
	v4only := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1"), netip.MustParseAddr("192.0.2.5")}
	v6only := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("2001:db8::5")}
	dual := append(append([]netip.Addr(nil), v4only...), netip.MustParseAddr("2001:db8::5"))
	for _, c := range []struct {
		name  string
		addrs []netip.Addr
		ip    string
		want  bool
	}{
		{"v6 client, dual-stack host", dual, "fd00::7", true},
		{"v6 client, IPv4-only host", v4only, "fd00::7", false},
		{"v4 client, IPv6-only host", v6only, "10.1.2.3", false},
		{"v4 client, IPv4-only host", v4only, "10.1.2.3", true},
		{"loopback only: both families pass", []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")}, "fd00::7", true},
		{"no addresses known: both families pass", nil, "10.1.2.3", true},
	} {
		ok, why := cfg.AllowsHost("global", "", c.ip, c.addrs)
		require.Equal(t, c.want, ok, "%s: %s", c.name, why)
	}
}
