package gather

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smb-agent/smb-agent/checks"
	"github.com/stretchr/testify/require"
)

// The fixtures in testdata/firewall are the real output of nft 1.0.6 and
// iptables 1.8.9 for rulesets loaded into network namespaces (see
// testdata/firewall/README.md).

func fwFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "firewall", name))
	require.NoError(t, err)
	return b
}

// short renders a rule compactly for table tests.
func short(r checks.FirewallRule) string {
	s := fmt.Sprintf("%s %s/%s %v %s", r.Tool, r.Table, r.Chain, r.Ports, r.Action)
	if r.RejectWith != "" {
		s += " with " + r.RejectWith
	}
	if r.Source != "" {
		s += " from " + r.Source
	}
	if r.Policy {
		s += " (policy)"
	}
	if r.Hook != "" {
		s += " @" + r.Hook
	}
	if r.Packets > 0 {
		s += fmt.Sprintf(" pkts=%d", r.Packets)
	}
	return s
}

func shorts(rs []checks.FirewallRule) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, short(r))
	}
	return out
}

var smbPorts = []int{139, 445, 4450}

func TestParseNftRulesets(t *testing.T) {
	tests := []struct {
		name string
		want []string
		text map[int]string // rule index → expected Text
	}{
		{
			name: "r1",
			want: []string{
				"nft inet filter/input [139 445 4450] accept from iif lo @input",
				"nft inet filter/input [139 445] accept from 10.0.0.0/8 @input",
				"nft inet filter/input [139 445] reject with icmpx host-unreachable @input",
				"nft inet filter/input [139 445] reject with tcp reset @input",
				"nft inet filter/input [139 4450] drop @input",
				"nft inet filter/input [445] drop from 192.168.1.0/24 @input",
				"nft inet filter/input [445] reject with icmp admin-prohibited @input",
				"nft inet filter/input [139 445 4450] drop (policy) @input",
				"nft inet filter/smbchain [4450] accept", // reached by "tcp dport 4450 jump smbchain"
				"nft ip raw/prerouting [445] drop @prerouting",
			},
			text: map[int]string{
				1: "ip saddr @smbhosts tcp dport { 139, 445 } accept",
				2: "tcp dport { 139, 445 } counter packets 0 bytes 0 reject with icmpx host-unreachable",
				7: "chain input { type filter hook input priority 0; policy drop; }",
			},
		},
		{
			name: "r2",
			want: []string{
				"nft inet filter/input [139 445] accept from fd00::/8 @input",
				"nft inet filter/input [139 445] reject with icmpx port-unreachable @input pkts=4",
				"nft inet filter/input [139 445 4450] drop @input pkts=4",
				"nft inet filter/input [139 445 4450] drop (policy) @input",
			},
		},
		{
			// verdict map arms, and an ingress (netdev) chain
			name: "r5",
			want: []string{
				"nft inet fw/inbound [139] accept @input",
				"nft inet fw/inbound [445] drop @input",
				"nft inet fw/inbound [445] reject with icmpv6 admin-prohibited @input",
				"nft inet fw/inbound [4450] reject with icmp net-unreachable from !127.0.0.0/8 @input",
				"nft netdev edge/ingress [445] drop @ingress",
			},
		},
		{name: "empty", want: []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			chains, err := parseNftRuleset(fwFixture(t, "nft-"+tc.name+".json"), fwFixture(t, "nft-"+tc.name+".txt"), nil)
			require.NoError(t, err)
			rules := flattenChains("nft", chains, smbPorts)
			require.Equal(t, tc.want, shorts(rules))
			for i, text := range tc.text {
				require.Equal(t, text, rules[i].Text)
			}
		})
	}

	// Without the text listing, rules are named by handle.
	chains, err := parseNftRuleset(fwFixture(t, "nft-r2.json"), nil, nil)
	require.NoError(t, err)
	require.Equal(t, "handle 5", flattenChains("nft", chains, smbPorts)[0].Text)

	_, err = parseNftRuleset([]byte("{not json"), nil, nil)
	require.Error(t, err)
}

func TestParseIptablesSave(t *testing.T) {
	s, err := parseIptablesSave(fwFixture(t, "iptables-save-r3.txt"))
	require.NoError(t, err)
	require.True(t, s.nftables)
	require.Equal(t, []string{"filter"}, s.tables)
	rules := flattenChains("iptables", s.chains, smbPorts)
	require.Equal(t, []string{
		"iptables filter/INPUT [139 445 4450] accept from iif lo @input pkts=2",
		"iptables filter/INPUT [139 445] accept from 10.0.0.0/8 @input",
		"iptables filter/INPUT [445] reject with icmp-host-prohibited @input",
		"iptables filter/INPUT [139 445] reject with icmp-port-unreachable @input",
		"iptables filter/INPUT [445] reject with tcp-reset @input",
		"iptables filter/INPUT [139 4450] drop @input",
		"iptables filter/INPUT [445] drop @input",
		"iptables filter/INPUT [139 445 4450] drop (policy) @input",
		"iptables filter/SMB [4450] drop", // -p tcp --dport 4450 -j SMB, then -A SMB -j DROP
	}, shorts(rules))
	require.Equal(t, `-A INPUT -p tcp -m tcp --dport 445 -m comment --comment "smb block" -j DROP`, rules[6].Text)
	require.Equal(t, ":INPUT DROP", rules[7].Text)

	s, err = parseIptablesSave(fwFixture(t, "ip6tables-save-r3.txt"))
	require.NoError(t, err)
	require.Equal(t, []string{
		"ip6tables filter/INPUT [445] reject with icmp6-adm-prohibited @input",
		"ip6tables filter/INPUT [139] accept from fd00::/8 @input",
		"ip6tables filter/INPUT [139 445 4450] drop (policy) @input",
	}, shorts(flattenChains("ip6tables", s.chains, smbPorts)))

	s, err = parseIptablesSave(fwFixture(t, "iptables-legacy-save-r4.txt"))
	require.NoError(t, err)
	require.False(t, s.nftables, "the legacy variant has no (nf_tables) in its header")
	require.Equal(t, []string{
		"iptables filter/INPUT [445] drop @input",
		"iptables filter/INPUT [139] reject with icmp-admin-prohibited @input",
	}, shorts(flattenChains("iptables", s.chains, smbPorts)))

	_, err = parseIptablesSave([]byte("*filter\n:INPUT\n-A INPUT -j \"DROP\n-X\n"))
	require.EqualError(t, err, "3 unparsable line(s)")
}

func TestIptablesPortsAndFields(t *testing.T) {
	p := iptablesPortPred("135:139,445,:20,60000:")
	for port, want := range map[int]bool{135: true, 137: true, 139: true, 140: false, 445: true, 1: true, 20: true, 21: false, 60000: true, 65535: true, 446: false} {
		require.Equal(t, want, p(port), port)
	}
	require.True(t, iptablesPortPred("microsoft-ds")(445))
	f, err := shellFields(`-A INPUT -m comment --comment "a \"b\" c" -j DROP`)
	require.NoError(t, err)
	require.Equal(t, []string{"-A", "INPUT", "-m", "comment", "--comment", `a "b" c`, "-j", "DROP"}, f)
	r := iptablesRule([]string{"!", "-p", "tcp", "-j", "DROP"})
	require.True(t, r.skip, "not tcp")
	r = iptablesRule([]string{"-p", "all", "!", "-s", "10.0.0.0/8", "-j", "REJECT"})
	require.False(t, r.skip)
	require.Equal(t, []string{"!10.0.0.0/8"}, r.source)
	require.Equal(t, "icmp-port-unreachable", r.arms[0].rejectWith)
	r = iptablesRule([]string{"-m", "state", "--state", "NEW", "-p", "tcp", "--dport", "445", "-j", "ACCEPT"})
	require.False(t, r.skip)
}

// fakeTools answers the firewall commands from fixtures.
type fakeTools struct {
	have  map[string]bool
	out   map[string]string // command line → fixture file ("" = empty output)
	fail  map[string]error
	calls []string
}

func (f *fakeTools) lookPath(n string) (string, error) {
	if f.have[n] {
		return "/usr/sbin/" + n, nil
	}
	return "", errors.New("executable file not found in $PATH")
}

func (f *fakeTools) run(t *testing.T) runFunc {
	return func(_ context.Context, name string, args ...string) ([]byte, error) {
		cl := strings.Join(append([]string{name}, args...), " ")
		f.calls = append(f.calls, cl)
		if err := f.fail[cl]; err != nil {
			return nil, err
		}
		fx, ok := f.out[cl]
		if !ok {
			t.Fatalf("unexpected command %q", cl)
		}
		if fx == "" {
			return nil, nil
		}
		return fwFixture(t, fx), nil
	}
}

func TestGatherFirewall(t *testing.T) {
	tests := []struct {
		name      string
		tools     fakeTools
		legacy    string // /proc/net/ip_tables_names content
		wantTools []string
		wantRules int
		wantErr   string
		check     func(t *testing.T, fw checks.FirewallFacts)
	}{
		{
			name: "nft only",
			tools: fakeTools{have: map[string]bool{"nft": true}, out: map[string]string{
				"nft -j list ruleset": "nft-r1.json", "nft -a list ruleset": "nft-r1.txt"}},
			wantTools: []string{"nft"}, wantRules: 10,
		},
		{
			// iptables-nft: its tables are read from iptables-save, not
			// from nft's JSON (where multiport and REJECT are opaque "xt").
			name: "nft with iptables-nft",
			tools: fakeTools{have: map[string]bool{"nft": true, "iptables-save": true, "ip6tables-save": true}, out: map[string]string{
				"nft -j list ruleset": "nft-r3.json", "nft -a list ruleset": "nft-r3.txt",
				"iptables-save -c": "iptables-save-r3.txt", "ip6tables-save -c": "ip6tables-save-r3.txt"}},
			wantTools: []string{"nft", "iptables", "ip6tables"}, wantRules: 9 + 3,
			check: func(t *testing.T, fw checks.FirewallFacts) {
				for _, r := range fw.Rules {
					require.NotEqual(t, "nft", r.Tool, "no duplicate from nft: %s", short(r))
				}
			},
		},
		{
			// iptables-nft is the default, but legacy tables exist too
			name: "legacy tables",
			tools: fakeTools{have: map[string]bool{"iptables-save": true, "iptables-legacy-save": true}, out: map[string]string{
				"iptables-save -c": "", "iptables-legacy-save -c": "iptables-legacy-save-r4.txt"}},
			legacy:    "filter\n",
			wantTools: []string{"iptables", "iptables-legacy"}, wantRules: 2,
		},
		{
			name:      "no firewall tools",
			tools:     fakeTools{have: map[string]bool{}},
			wantTools: []string{},
		},
		{
			name: "nft fails",
			tools: fakeTools{have: map[string]bool{"nft": true}, fail: map[string]error{
				"nft -j list ruleset": errors.New("nft: exit status 1: Operation not permitted")}},
			wantTools: []string{}, wantErr: "nft -j list ruleset: nft: exit status 1: Operation not permitted",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			if tc.legacy != "" {
				require.NoError(t, os.MkdirAll(filepath.Join(root, "net"), 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(root, "net", "ip_tables_names"), []byte(tc.legacy), 0o644))
			}
			fw := gatherFirewall(context.Background(), fwInput{Ports: smbPorts, Run: tc.tools.run(t), LookPath: tc.tools.lookPath, ProcRoot: root, ReadFile: os.ReadFile})
			require.Equal(t, tc.wantTools, fw.Tools)
			require.Len(t, fw.Rules, tc.wantRules, strings.Join(shorts(fw.Rules), "\n"))
			require.Equal(t, tc.wantErr, fw.Err)
			for _, c := range tc.tools.calls {
				for _, w := range []string{"-F", "-X", "-D", "-A ", "flush", "delete", "add "} {
					require.NotContains(t, c, w, "read-only commands only")
				}
			}
			if tc.check != nil {
				tc.check(t, fw)
			}
		})
	}
}

func FuzzParseFirewall(f *testing.F) {
	for _, n := range []string{"nft-r1.json", "nft-r2.json", "nft-r5.json", "iptables-save-r3.txt", "ip6tables-save-r3.txt"} {
		b, err := os.ReadFile(filepath.Join("testdata", "firewall", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if chains, err := parseNftRuleset(data, data, nil); err == nil {
			for _, r := range flattenChains("nft", chains, smbPorts) {
				if len(r.Ports) == 0 || (r.Action != "accept" && r.Action != "drop" && r.Action != "reject") {
					t.Fatalf("bad rule %+v", r)
				}
			}
		}
		s, _ := parseIptablesSave(data)
		for _, r := range flattenChains("iptables", s.chains, smbPorts) {
			if len(r.Ports) == 0 {
				t.Fatalf("bad rule %+v", r)
			}
		}
	})
}
