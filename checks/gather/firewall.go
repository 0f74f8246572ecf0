package gather

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/smb-agent/smb-agent/checks"
)

// Firewall gathering: the rules that decide whether a TCP connection to an
// SMB port gets in. Read-only commands only: `nft -j list ruleset` (and
// `nft -a list ruleset` for each rule's text), `iptables-save -c` and
// `ip6tables-save -c`. What each verdict does to the client (Linux
// net/ipv4/icmp.c icmp_err_convert; test/ TestGatherFirewallInNetns and
// TestProbeHostUnreachableInNetns): drop → timed out, reject (icmp port-unreachable or tcp
// reset) → errno 111, reject with host-unreachable / host-prohibited /
// admin-prohibited → errno 113.

// fwArm is one outcome of a rule: a port predicate and a verdict. A plain
// rule has one arm; a verdict map (`tcp dport vmap { 445 : drop, ... }`)
// has one per element.
type fwArm struct {
	ports      func(int) bool // nil: the rule has no port match (every port)
	verdict    string         // accept, drop, reject, jump, goto, or "" (no verdict: log, counter)
	target     string         // jump/goto target chain
	rejectWith string
}

// fwRule is a rule in a tool-neutral form.
type fwRule struct {
	text    string
	arms    []fwArm
	source  []string
	packets uint64
	skip    bool // cannot match a new TCP connection (udp only, ct state established, ...)
}

// fwChain is a chain in a tool-neutral form.
type fwChain struct {
	table  string // "inet filter", "filter"
	name   string
	hook   string // input, prerouting, ingress, ...; "" for a regular chain
	base   bool
	policy string // accept, drop
	header string // how the tool prints the policy
	rules  []fwRule
}

// smbHook reports whether packets to a local SMB port traverse a base
// chain on this hook: prerouting and input (and ingress, before both).
// Output and forward do not see incoming connections to local smbd.
func smbHook(h string) bool { return h == "input" || h == "prerouting" || h == "ingress" }

// flattenChains turns chains into FirewallRules for the interest ports.
// Base chains on an SMB hook see every port; a regular chain sees the
// ports that the jumps into it cover (so `-p tcp --dport 445 -j SMB` and
// a bare `-A SMB -j DROP` make one drop of 445). Within each chain rules
// keep the kernel's order, and a base chain's drop policy comes last.
func flattenChains(tool string, chains []*fwChain, interest []int) []checks.FirewallRule {
	byName := map[string]*fwChain{}
	for _, c := range chains {
		byName[c.table+"\x00"+c.name] = c
	}
	entry := map[*fwChain][]int{}
	for _, c := range chains {
		if c.base && smbHook(c.hook) {
			entry[c] = slices.Clone(interest)
		}
	}
	// Propagate through jumps; chains nest at most a few levels in practice,
	// and the kernel limits jump depth, so a bounded fixpoint is enough.
	for round := 0; round < 16; round++ {
		changed := false
		for _, c := range chains {
			in, ok := entry[c]
			if !ok {
				continue
			}
			for _, r := range c.rules {
				if r.skip {
					continue
				}
				for _, a := range r.arms {
					if a.verdict != "jump" && a.verdict != "goto" {
						continue
					}
					t := byName[c.table+"\x00"+a.target]
					if t == nil || t.base {
						continue
					}
					cov := covered(in, a.ports)
					merged := union(entry[t], cov)
					if _, seen := entry[t]; !seen || len(merged) != len(entry[t]) {
						entry[t] = merged
						changed = true
					}
				}
			}
		}
		if !changed {
			break
		}
	}
	var out []checks.FirewallRule
	for _, c := range chains {
		in, ok := entry[c]
		if !ok || len(in) == 0 {
			continue
		}
		hook := ""
		if c.base {
			hook = c.hook
		}
		for _, r := range c.rules {
			if r.skip {
				continue
			}
			for _, a := range r.arms {
				switch a.verdict {
				case "accept", "drop", "reject":
				default:
					continue
				}
				cov := covered(in, a.ports)
				if len(cov) == 0 {
					continue
				}
				out = append(out, checks.FirewallRule{
					Tool: tool, Table: c.table, Chain: c.name, Text: r.text,
					Ports: cov, Action: a.verdict, RejectWith: a.rejectWith,
					Source: strings.Join(r.source, " "), Packets: r.packets, Hook: hook,
				})
			}
		}
		if c.base && (c.policy == "drop" || c.policy == "DROP") {
			out = append(out, checks.FirewallRule{
				Tool: tool, Table: c.table, Chain: c.name, Text: c.header,
				Ports: slices.Clone(in), Action: "drop", Hook: hook, Policy: true,
			})
		}
	}
	return out
}

func covered(in []int, pred func(int) bool) []int {
	var out []int
	for _, p := range in {
		if pred == nil || pred(p) {
			out = append(out, p)
		}
	}
	return out
}

func union(a, b []int) []int {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	slices.Sort(out)
	return out
}

// ---- nftables ----------------------------------------------------------

// nftServices maps the service names nft may print instead of numbers
// (`nft -S`-less JSON prints numbers, but a ruleset may name them).
var nftServices = map[string]int{"microsoft-ds": 445, "netbios-ssn": 139, "ssh": 22, "http": 80, "https": 443}

type nftDoc struct {
	Nftables []map[string]json.RawMessage `json:"nftables"`
}

type nftChainJSON struct {
	Family string `json:"family"`
	Table  string `json:"table"`
	Name   string `json:"name"`
	Type   string `json:"type"`
	Hook   string `json:"hook"`
	Prio   any    `json:"prio"`
	Policy string `json:"policy"`
}

type nftRuleJSON struct {
	Family string                       `json:"family"`
	Table  string                       `json:"table"`
	Chain  string                       `json:"chain"`
	Handle int                          `json:"handle"`
	Expr   []map[string]json.RawMessage `json:"expr"`
}

type nftSetJSON struct {
	Family string            `json:"family"`
	Table  string            `json:"table"`
	Name   string            `json:"name"`
	Elem   []json.RawMessage `json:"elem"`
}

// nftTextIndex maps "family table\x00chain\x00handle" to the rule's text
// in `nft -a list ruleset` (without the "# handle N" comment).
func nftTextIndex(text []byte) map[string]string {
	idx := map[string]string{}
	var table, chain string
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 0, 64*1024), 4<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		body, handle, hasHandle := strings.Cut(line, " # handle ")
		switch {
		case strings.HasPrefix(line, "table "):
			f := strings.Fields(strings.TrimPrefix(body, "table "))
			if len(f) >= 2 {
				table = f[0] + " " + f[1]
			}
			chain = ""
		case strings.HasPrefix(line, "chain "):
			f := strings.Fields(strings.TrimPrefix(body, "chain "))
			if len(f) >= 1 {
				chain = f[0]
			}
		case hasHandle && chain != "" && table != "":
			idx[table+"\x00"+chain+"\x00"+strings.TrimSpace(handle)] = strings.TrimSpace(body)
		}
	}
	return idx
}

// parseNftRuleset reads `nft -j list ruleset` (text is `nft -a list
// ruleset`, for the rules' text; may be nil) into chains. skipTables are
// "family name" pairs to leave out (tables iptables-nft manages, read
// from iptables-save instead, since their matches show as opaque "xt"
// expressions in JSON).
func parseNftRuleset(data, text []byte, skipTables map[string]bool) ([]*fwChain, error) {
	var doc nftDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse nft JSON: %w", err)
	}
	texts := nftTextIndex(text)
	sets := map[string][]json.RawMessage{}
	var chains []*fwChain
	byKey := map[string]*fwChain{}
	var rules []nftRuleJSON
	for _, obj := range doc.Nftables {
		switch {
		case obj["set"] != nil:
			var s nftSetJSON
			if json.Unmarshal(obj["set"], &s) == nil {
				sets[s.Family+" "+s.Table+"\x00"+s.Name] = s.Elem
			}
		case obj["chain"] != nil:
			var c nftChainJSON
			if err := json.Unmarshal(obj["chain"], &c); err != nil {
				continue
			}
			tbl := c.Family + " " + c.Table
			if skipTables[tbl] {
				continue
			}
			ch := &fwChain{table: tbl, name: c.Name, hook: c.Hook, policy: c.Policy}
			// Only filter chains judge packets; a nat or route chain on the
			// same hook rewrites them.
			ch.base = c.Hook != "" && (c.Type == "filter" || c.Type == "")
			if ch.base {
				ch.header = fmt.Sprintf("chain %s { type %s hook %s priority %v; policy %s; }", c.Name, c.Type, c.Hook, c.Prio, c.Policy)
			}
			chains = append(chains, ch)
			byKey[tbl+"\x00"+c.Name] = ch
		case obj["rule"] != nil:
			var r nftRuleJSON
			if json.Unmarshal(obj["rule"], &r) == nil {
				rules = append(rules, r)
			}
		}
	}
	for _, r := range rules {
		tbl := r.Family + " " + r.Table
		ch := byKey[tbl+"\x00"+r.Chain]
		if ch == nil {
			continue
		}
		fr := nftRule(r, tbl, sets)
		if t, ok := texts[tbl+"\x00"+r.Chain+"\x00"+strconv.Itoa(r.Handle)]; ok {
			fr.text = t
		} else {
			fr.text = fmt.Sprintf("handle %d", r.Handle)
		}
		ch.rules = append(ch.rules, fr)
	}
	return chains, nil
}

// nftRule interprets one rule's expressions.
func nftRule(r nftRuleJSON, tbl string, sets map[string][]json.RawMessage) fwRule {
	var fr fwRule
	var portPreds []func(int) bool
	var verdict, target, rejectWith string
	var vmap []fwArm
	for _, e := range r.Expr {
		switch {
		case e["match"] != nil:
			var m struct {
				Op    string          `json:"op"`
				Left  json.RawMessage `json:"left"`
				Right json.RawMessage `json:"right"`
			}
			if json.Unmarshal(e["match"], &m) != nil {
				continue
			}
			negate := m.Op == "!="
			var left struct {
				Payload *struct {
					Protocol string `json:"protocol"`
					Field    string `json:"field"`
				} `json:"payload"`
				Meta *struct {
					Key string `json:"key"`
				} `json:"meta"`
				Ct *struct {
					Key string `json:"key"`
				} `json:"ct"`
			}
			_ = json.Unmarshal(m.Left, &left)
			switch {
			case left.Payload != nil && left.Payload.Field == "dport":
				switch left.Payload.Protocol {
				case "tcp", "th":
					pred := nftPortPred(m.Right, tbl, sets)
					if negate {
						inner := pred
						pred = func(p int) bool { return !inner(p) }
					}
					portPreds = append(portPreds, pred)
				default: // udp, sctp, dccp: not SMB's TCP
					fr.skip = true
				}
			case left.Payload != nil && left.Payload.Field == "saddr":
				fr.source = append(fr.source, sourceText(negate, nftAddrList(m.Right, tbl, sets)))
			case left.Meta != nil && (left.Meta.Key == "iif" || left.Meta.Key == "iifname"):
				fr.source = append(fr.source, ifaceText(negate, nftValueString(m.Right)))
			case left.Meta != nil && left.Meta.Key == "l4proto":
				v := nftValueString(m.Right)
				has := strings.Contains(v, "tcp") || v == "6"
				if has == negate {
					fr.skip = true
				}
			case left.Ct != nil && left.Ct.Key == "state":
				// A rule for established/related/invalid packets never sees
				// the SYN of a new connection.
				v := nftValueString(m.Right)
				if !negate && !strings.Contains(v, "new") {
					fr.skip = true
				}
			}
		case e["counter"] != nil:
			var c struct {
				Packets uint64 `json:"packets"`
			}
			if json.Unmarshal(e["counter"], &c) == nil {
				fr.packets = c.Packets
			}
		case e["accept"] != nil || hasKey(e, "accept"):
			verdict = "accept"
		case hasKey(e, "drop"):
			verdict = "drop"
		case hasKey(e, "reject"):
			verdict = "reject"
			rejectWith = nftRejectString(e["reject"], r.Family)
		case e["jump"] != nil || e["goto"] != nil:
			k := "jump"
			if e["goto"] != nil {
				k = "goto"
			}
			var j struct {
				Target string `json:"target"`
			}
			if json.Unmarshal(e[k], &j) == nil {
				verdict, target = k, j.Target
			}
		case e["vmap"] != nil:
			vmap = nftVmapArms(e["vmap"], tbl, sets, r.Family)
			if vmap == nil {
				// a vmap on something else than tcp dport: unknown verdicts
				verdict = ""
			}
		case e["xt"] != nil:
			var x struct {
				Type string `json:"type"`
				Name string `json:"name"`
			}
			if json.Unmarshal(e["xt"], &x) == nil && x.Type == "target" && x.Name == "REJECT" {
				verdict, rejectWith = "reject", "unknown (iptables-nft REJECT; see iptables-save)"
			}
		}
	}
	all := func(p int) bool {
		for _, f := range portPreds {
			if !f(p) {
				return false
			}
		}
		return true
	}
	var base func(int) bool
	if len(portPreds) > 0 {
		base = all
	}
	if vmap != nil {
		for _, a := range vmap {
			ap := a.ports
			if base != nil {
				a.ports = func(p int) bool { return base(p) && ap(p) }
			}
			fr.arms = append(fr.arms, a)
		}
		return fr
	}
	fr.arms = []fwArm{{ports: base, verdict: verdict, target: target, rejectWith: rejectWith}}
	return fr
}

// hasKey: verdict statements are {"drop": null}.
func hasKey(m map[string]json.RawMessage, k string) bool {
	_, ok := m[k]
	return ok
}

// nftPortPred builds a predicate from a match's right-hand side: a number,
// a service name, {"range": [a, b]}, {"set": [...]}, or "@set".
func nftPortPred(right json.RawMessage, tbl string, sets map[string][]json.RawMessage) func(int) bool {
	var items []json.RawMessage
	var s string
	var obj map[string]json.RawMessage
	switch {
	case json.Unmarshal(right, &s) == nil && strings.HasPrefix(s, "@"):
		items = sets[tbl+"\x00"+strings.TrimPrefix(s, "@")]
	case json.Unmarshal(right, &obj) == nil && obj["set"] != nil:
		_ = json.Unmarshal(obj["set"], &items)
	default:
		items = []json.RawMessage{right}
	}
	var ranges [][2]int
	for _, it := range items {
		if lo, hi, ok := nftPortRange(it); ok {
			ranges = append(ranges, [2]int{lo, hi})
		}
	}
	return func(p int) bool {
		for _, r := range ranges {
			if p >= r[0] && p <= r[1] {
				return true
			}
		}
		return false
	}
}

// nftPortRange reads one element: 445, "microsoft-ds", {"range":[a,b]}.
func nftPortRange(it json.RawMessage) (int, int, bool) {
	var n int
	if json.Unmarshal(it, &n) == nil {
		return n, n, true
	}
	var s string
	if json.Unmarshal(it, &s) == nil {
		if v, err := strconv.Atoi(s); err == nil {
			return v, v, true
		}
		if v, ok := nftServices[s]; ok {
			return v, v, true
		}
		return 0, 0, false
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(it, &obj) == nil {
		if r, ok := obj["range"]; ok {
			var pair []json.RawMessage
			if json.Unmarshal(r, &pair) == nil && len(pair) == 2 {
				lo, _, ok1 := nftPortRange(pair[0])
				hi, _, ok2 := nftPortRange(pair[1])
				if ok1 && ok2 {
					return lo, hi, true
				}
			}
		}
		if e, ok := obj["elem"]; ok { // {"elem": {"val": 445, "counter": ...}}
			var el struct {
				Val json.RawMessage `json:"val"`
			}
			if json.Unmarshal(e, &el) == nil && el.Val != nil {
				return nftPortRange(el.Val)
			}
		}
	}
	return 0, 0, false
}

// nftVmapArms reads `tcp dport vmap { 445 : drop, 139 : accept }`.
func nftVmapArms(raw json.RawMessage, tbl string, sets map[string][]json.RawMessage, family string) []fwArm {
	var v struct {
		Key  json.RawMessage `json:"key"`
		Data json.RawMessage `json:"data"`
	}
	if json.Unmarshal(raw, &v) != nil {
		return nil
	}
	var key struct {
		Payload *struct {
			Protocol string `json:"protocol"`
			Field    string `json:"field"`
		} `json:"payload"`
	}
	if json.Unmarshal(v.Key, &key) != nil || key.Payload == nil || key.Payload.Field != "dport" ||
		(key.Payload.Protocol != "tcp" && key.Payload.Protocol != "th") {
		return nil
	}
	var elems []json.RawMessage
	var s string
	var obj map[string]json.RawMessage
	switch {
	case json.Unmarshal(v.Data, &s) == nil && strings.HasPrefix(s, "@"):
		elems = sets[tbl+"\x00"+strings.TrimPrefix(s, "@")]
	case json.Unmarshal(v.Data, &obj) == nil && obj["set"] != nil:
		_ = json.Unmarshal(obj["set"], &elems)
	}
	var arms []fwArm
	for _, el := range elems {
		var pair []json.RawMessage
		if json.Unmarshal(el, &pair) != nil || len(pair) != 2 {
			continue
		}
		lo, hi, ok := nftPortRange(pair[0])
		if !ok {
			continue
		}
		var vd map[string]json.RawMessage
		if json.Unmarshal(pair[1], &vd) != nil {
			continue
		}
		a := fwArm{ports: func(p int) bool { return p >= lo && p <= hi }}
		switch {
		case hasKey(vd, "accept"):
			a.verdict = "accept"
		case hasKey(vd, "drop"):
			a.verdict = "drop"
		case hasKey(vd, "reject"):
			a.verdict, a.rejectWith = "reject", nftRejectString(vd["reject"], family)
		case vd["jump"] != nil || vd["goto"] != nil:
			k := "jump"
			if vd["goto"] != nil {
				k = "goto"
			}
			var j struct {
				Target string `json:"target"`
			}
			_ = json.Unmarshal(vd[k], &j)
			a.verdict, a.target = k, j.Target
		}
		arms = append(arms, a)
	}
	if arms == nil {
		arms = []fwArm{} // a vmap on dport that covers none of them
	}
	return arms
}

// nftRejectString renders a reject statement: {"type": "icmpx", "expr":
// "host-unreachable"} → "icmpx host-unreachable"; {"type": "tcp reset"}
// → "tcp reset". A bare reject is icmp(v6/x) port-unreachable.
func nftRejectString(raw json.RawMessage, family string) string {
	var r struct {
		Type string `json:"type"`
		Expr string `json:"expr"`
	}
	if len(raw) == 0 || string(raw) == "null" || json.Unmarshal(raw, &r) != nil || r.Type == "" {
		switch family {
		case "ip6":
			return "icmpv6 port-unreachable"
		case "ip":
			return "icmp port-unreachable"
		}
		return "icmpx port-unreachable"
	}
	if r.Expr == "" {
		return r.Type
	}
	return r.Type + " " + r.Expr
}

// sourceText formats a source address match the same way for every tool:
// "10.0.0.0/8", "10.0.0.0/8,192.168.0.0/16" for a set, "!127.0.0.0/8"
// when negated.
func sourceText(negate bool, addrs string) string {
	if negate {
		return "!" + addrs
	}
	return addrs
}

// ifaceText formats an input interface match: "iif lo", "iif !eth0". A
// rule limited to lo never sees a remote client.
func ifaceText(negate bool, name string) string {
	if negate {
		return "iif !" + name
	}
	return "iif " + name
}

// nftAddrList renders an address match's right-hand side as a
// comma-separated list, expanding a named set ("@trusted") from the
// ruleset.
func nftAddrList(right json.RawMessage, tbl string, sets map[string][]json.RawMessage) string {
	var s string
	if json.Unmarshal(right, &s) == nil && strings.HasPrefix(s, "@") {
		elems, ok := sets[tbl+"\x00"+strings.TrimPrefix(s, "@")]
		if !ok {
			return s
		}
		parts := make([]string, 0, len(elems))
		for _, e := range elems {
			parts = append(parts, nftValueString(e))
		}
		return strings.Join(parts, ",")
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(right, &obj) == nil && obj["set"] != nil {
		var items []json.RawMessage
		_ = json.Unmarshal(obj["set"], &items)
		parts := make([]string, 0, len(items))
		for _, e := range items {
			parts = append(parts, nftValueString(e))
		}
		return strings.Join(parts, ",")
	}
	return nftValueString(right)
}

// nftValueString renders an address-like right-hand side.
func nftValueString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n int64
	if json.Unmarshal(raw, &n) == nil {
		return strconv.FormatInt(n, 10)
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) == nil {
		parts := make([]string, 0, len(list))
		for _, it := range list {
			parts = append(parts, nftValueString(it))
		}
		return strings.Join(parts, ",")
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) == nil {
		if p, ok := obj["prefix"]; ok {
			var pr struct {
				Addr string `json:"addr"`
				Len  int    `json:"len"`
			}
			if json.Unmarshal(p, &pr) == nil {
				return fmt.Sprintf("%s/%d", pr.Addr, pr.Len)
			}
		}
		if r, ok := obj["range"]; ok {
			var pair []json.RawMessage
			if json.Unmarshal(r, &pair) == nil && len(pair) == 2 {
				return nftValueString(pair[0]) + "-" + nftValueString(pair[1])
			}
		}
		if s, ok := obj["set"]; ok {
			return "{ " + nftValueString(s) + " }"
		}
	}
	return string(raw)
}

// ---- iptables-save -----------------------------------------------------

// iptablesSave is one parsed iptables-save output.
type iptablesSave struct {
	chains   []*fwChain
	tables   []string // the tables it lists
	nftables bool     // the nf_tables variant (its rules are also in nft's ruleset)
}

// parseIptablesSave reads `iptables-save -c` (or ip6tables-save). The
// header says which variant wrote it: "# Generated by iptables-save
// v1.8.9 (nf_tables)" or, for the legacy one, no suffix.
func parseIptablesSave(data []byte) (iptablesSave, error) {
	var out iptablesSave
	var table string
	byName := map[string]*fwChain{}
	bad := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 4<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line == "COMMIT":
		case strings.HasPrefix(line, "#"):
			if strings.Contains(line, "Generated by") && strings.Contains(line, "(nf_tables)") {
				out.nftables = true
			}
		case strings.HasPrefix(line, "*"):
			table = strings.TrimPrefix(line, "*")
			out.tables = append(out.tables, table)
		case strings.HasPrefix(line, ":"):
			// :INPUT DROP [12:720]
			f := strings.Fields(line[1:])
			if len(f) < 2 {
				bad++
				continue
			}
			c := &fwChain{table: table, name: f[0]}
			if f[1] != "-" {
				c.base = true
				c.policy = strings.ToLower(f[1])
				c.hook = strings.ToLower(f[0])
				c.header = ":" + f[0] + " " + f[1]
			}
			out.chains = append(out.chains, c)
			byName[table+"\x00"+f[0]] = c
		default:
			var packets uint64
			if strings.HasPrefix(line, "[") {
				end := strings.IndexByte(line, ']')
				if end < 0 {
					bad++
					continue
				}
				pb := strings.SplitN(line[1:end], ":", 2)
				packets, _ = strconv.ParseUint(pb[0], 10, 64)
				line = strings.TrimSpace(line[end+1:])
			}
			args, err := shellFields(line)
			if err != nil || len(args) < 2 || args[0] != "-A" {
				bad++
				continue
			}
			c := byName[table+"\x00"+args[1]]
			if c == nil {
				c = &fwChain{table: table, name: args[1]}
				out.chains = append(out.chains, c)
				byName[table+"\x00"+args[1]] = c
			}
			r := iptablesRule(args[2:])
			r.text, r.packets = line, packets
			c.rules = append(c.rules, r)
		}
	}
	if err := sc.Err(); err != nil {
		return out, err
	}
	if bad > 0 {
		return out, fmt.Errorf("%d unparsable line(s)", bad)
	}
	return out, nil
}

// iptablesRule interprets the options of one "-A CHAIN ..." line.
func iptablesRule(args []string) fwRule {
	var r fwRule
	var preds []func(int) bool
	arm := fwArm{}
	neg := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		next := func() string {
			if i+1 < len(args) {
				i++
				return args[i]
			}
			return ""
		}
		if a == "!" {
			neg = true
			continue
		}
		n := neg
		neg = false
		switch a {
		case "-p", "--protocol":
			v := strings.ToLower(next())
			isTCP := v == "tcp" || v == "6" || v == "all"
			if isTCP == n && v != "all" {
				r.skip = true
			}
		case "-s", "--source", "--src":
			r.source = append(r.source, sourceText(n, next()))
		case "-i", "--in-interface":
			r.source = append(r.source, ifaceText(n, next()))
		case "--dport", "--destination-port", "--dports", "--destination-ports":
			pred := iptablesPortPred(next())
			if n {
				inner := pred
				pred = func(p int) bool { return !inner(p) }
			}
			preds = append(preds, pred)
		case "--ctstate", "--state":
			v := strings.ToUpper(next())
			if !n && !strings.Contains(v, "NEW") {
				r.skip = true
			}
		case "-j", "--jump", "-g", "--goto":
			t := next()
			switch t {
			case "ACCEPT":
				arm.verdict = "accept"
			case "DROP":
				arm.verdict = "drop"
			case "REJECT":
				arm.verdict = "reject"
				if arm.rejectWith == "" {
					arm.rejectWith = "icmp-port-unreachable" // iptables-extensions(8): the default
				}
			case "RETURN", "LOG", "NFLOG", "MARK", "CONNMARK", "NOTRACK", "CT", "TRACE":
			default:
				arm.verdict, arm.target = "jump", t
				if a == "-g" || a == "--goto" {
					arm.verdict = "goto"
				}
			}
		case "--reject-with":
			arm.rejectWith = next()
		case "-m", "--match", "--comment", "--log-prefix", "--set-mark", "--log-level":
			next()
		}
	}
	if len(preds) > 0 {
		arm.ports = func(p int) bool {
			for _, f := range preds {
				if !f(p) {
					return false
				}
			}
			return true
		}
	}
	r.arms = []fwArm{arm}
	return r
}

// iptablesPortPred reads "445", "400:500", "139,445", "135:139,445".
func iptablesPortPred(s string) func(int) bool {
	var ranges [][2]int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, ":")
		l, err1 := iptPort(lo, 0)
		h := l
		var err2 error
		if isRange {
			h, err2 = iptPort(hi, 65535)
		}
		if err1 == nil && err2 == nil {
			ranges = append(ranges, [2]int{l, h})
		}
	}
	return func(p int) bool {
		for _, r := range ranges {
			if p >= r[0] && p <= r[1] {
				return true
			}
		}
		return false
	}
}

func iptPort(s string, empty int) (int, error) {
	if s == "" {
		return empty, nil
	}
	if v, ok := nftServices[s]; ok {
		return v, nil
	}
	return strconv.Atoi(s)
}

// shellFields splits an iptables-save line: words, with "double quoted"
// strings (comments) and backslash escapes inside them.
func shellFields(s string) ([]string, error) {
	var out []string
	var b strings.Builder
	inWord, inQuote := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote && c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case c == '"':
			inQuote = !inQuote
			inWord = true
		case !inQuote && (c == ' ' || c == '\t'):
			if inWord {
				out = append(out, b.String())
				b.Reset()
				inWord = false
			}
		default:
			b.WriteByte(c)
			inWord = true
		}
	}
	if inQuote {
		return nil, errors.New("unterminated quote")
	}
	if inWord {
		out = append(out, b.String())
	}
	return out, nil
}

// ---- the gatherer ------------------------------------------------------

// fwInput is what the firewall gatherer needs.
type fwInput struct {
	Ports    []int // the SMB ports of interest
	Run      func(ctx context.Context, name string, args ...string) ([]byte, error)
	LookPath func(string) (string, error)
	// ProcRoot, to see whether legacy x_tables tables exist
	// (/proc/net/ip_tables_names) before running the legacy tools.
	ProcRoot string
	ReadFile func(string) ([]byte, error)
}

// gatherFirewall reads nftables and iptables. iptables-nft keeps its rules
// in nftables tables, where JSON shows its matches as opaque "xt"
// expressions; those tables are read from iptables-save instead (the
// nf_tables variant says so in its header). Legacy iptables tables are
// invisible to nft and read with iptables-legacy-save, only when the
// kernel lists some.
func gatherFirewall(ctx context.Context, in fwInput) checks.FirewallFacts {
	out := checks.FirewallFacts{Tools: []string{}, Rules: []checks.FirewallRule{}}
	var errs []string
	have := func(name string) bool { _, err := in.LookPath(name); return err == nil }

	type ipt struct {
		tool string
		save iptablesSave
	}
	var ipts []ipt
	runSave := func(tool, bin string) {
		if !have(bin) {
			return
		}
		data, err := in.Run(ctx, bin, "-c")
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s -c: %v", bin, err))
			return
		}
		s, err := parseIptablesSave(data)
		if err != nil {
			errs = append(errs, fmt.Sprintf("parse %s output: %v", bin, err))
		}
		out.Tools = append(out.Tools, tool)
		ipts = append(ipts, ipt{tool, s})
	}
	runSave("iptables", "iptables-save")
	runSave("ip6tables", "ip6tables-save")
	legacy := func(file string) bool {
		b, err := in.ReadFile(in.ProcRoot + "/net/" + file)
		return err == nil && len(bytes.TrimSpace(b)) > 0
	}
	// The kernel lists legacy (x_tables) tables in /proc/net; when the
	// iptables-save above did not show them (it is the nf_tables variant:
	// its header says so, or it printed nothing), the legacy tool reads
	// them.
	shown := func(tool string) bool {
		for _, s := range ipts {
			if s.tool == tool && !s.save.nftables && len(s.save.tables) > 0 {
				return true
			}
		}
		return false
	}
	if legacy("ip_tables_names") && !shown("iptables") {
		runSave("iptables-legacy", "iptables-legacy-save")
	}
	if legacy("ip6_tables_names") && !shown("ip6tables") {
		runSave("ip6tables-legacy", "ip6tables-legacy-save")
	}

	skip := map[string]bool{}
	for _, s := range ipts {
		if !s.save.nftables {
			continue
		}
		fam := "ip"
		if strings.HasPrefix(s.tool, "ip6") {
			fam = "ip6"
		}
		for _, t := range s.save.tables {
			skip[fam+" "+t] = true
		}
	}
	if have("nft") {
		data, err := in.Run(ctx, "nft", "-j", "list", "ruleset")
		if err != nil {
			errs = append(errs, fmt.Sprintf("nft -j list ruleset: %v", err))
		} else {
			text, terr := in.Run(ctx, "nft", "-a", "list", "ruleset")
			if terr != nil {
				text = nil // rules then show as "handle N"
			}
			chains, err := parseNftRuleset(data, text, skip)
			if err != nil {
				errs = append(errs, err.Error())
			} else {
				out.Tools = append([]string{"nft"}, out.Tools...)
				out.Rules = append(out.Rules, flattenChains("nft", chains, in.Ports)...)
			}
		}
	}
	for _, s := range ipts {
		out.Rules = append(out.Rules, flattenChains(s.tool, s.save.chains, in.Ports)...)
	}
	if len(errs) > 0 {
		out.Err = strings.Join(errs, "; ")
	}
	return out
}

// firewallGatherer reads the rules on the SMB ports (gatherFirewall).
type firewallGatherer struct{}

func (firewallGatherer) Name() string                  { return "the firewall" }
func (firewallGatherer) Deadline(e *env) time.Duration { return e.untilEnd() }
func (firewallGatherer) Failed(f *checks.Facts, why string) {
	f.Firewall = checks.FirewallFacts{Tools: []string{}, Rules: []checks.FirewallRule{}, Err: why}
}

func (firewallGatherer) Gather(ctx context.Context, e *env) (func(*checks.Facts), error) {
	ports := uniqueSorted(append([]int{445, 139, e.port}, e.params.SMBPorts...))
	fw := gatherFirewall(ctx, fwInput{Ports: ports, Run: e.run, LookPath: e.LookPath, ProcRoot: e.ProcRoot, ReadFile: os.ReadFile})
	return func(f *checks.Facts) { f.Firewall = fw }, errIf(fw.Err)
}
