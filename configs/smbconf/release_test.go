package smbconf

import (
	"bytes"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"
)

func mustVersion(t *testing.T, s string) SambaVersion {
	t.Helper()
	v, err := ParseSambaVersion(s)
	require.NoError(t, err)
	return v
}

func TestTableForPicksTheReleaseOrTheNearest(t *testing.T) {
	for _, tc := range []struct {
		v, table       string
		exact, outside bool
	}{
		{"4.13.13", "4.13", true, false},
		{"4.17.12", "4.17", true, false},
		{"Version 4.22.6-Debian-4.22.6+dfsg-0+deb13u1~bpo12+1", "4.22", true, false},
		{"4.24.8", "4.24", true, false},
		{"4.15.13", "4.17", false, false}, // tie: the newer
		{"4.19.5", "4.17", false, false},
		{"4.20.1", "4.22", false, false},
		{"4.11.0", "4.13", false, true},
		{"4.25.0", "4.24", false, true},
		{"5.1.0", "4.24", false, true},
	} {
		m := TableFor(mustVersion(t, tc.v))
		require.Equal(t, tc.table, m.Table.Series(), tc.v)
		require.Equal(t, tc.exact, m.Exact, tc.v)
		require.Equal(t, tc.outside, m.Outside, tc.v)
	}
	require.Equal(t, "4.17", TableFor(SambaVersion{}).Table.Series(), "no version: the default table")
	require.Len(t, KnownReleases(), 4)
}

// The parameters the issue names as differing between releases, read from
// the generated tables: which exist, and their defaults.
func TestReleaseTablesDiffer(t *testing.T) {
	get := func(ver, name string) (string, bool) {
		p, ok := LookupParamIn(mustVersion(t, ver), name)
		if !ok {
			return "", false
		}
		return p.Canonical().Default, true
	}
	_, ok := get("4.22.11", "cldap port")
	require.False(t, ok, "cldap port was removed in 4.22")
	_, ok = get("4.17.12", "cldap port")
	require.True(t, ok)
	for _, ver := range []string{"4.22.11", "4.24.8"} {
		_, ok = get(ver, "smb3 unix extensions")
		require.True(t, ok, ver)
	}
	_, ok = get("4.22.11", "server smb transports")
	require.False(t, ok, "server smb transports is new in 4.23")
	d, ok := get("4.24.8", "server smb transports")
	require.True(t, ok)
	require.Equal(t, "tcp, nbt", d)
	p, ok := LookupParamIn(mustVersion(t, "4.24.8"), "smb ports")
	require.True(t, ok)
	require.Equal(t, "server smb transports", p.Canonical().Name, "4.23+: smb ports is a synonym")
	d, _ = get("4.17.12", "smb ports")
	require.Equal(t, "445 139", d)
	for name, want := range map[string][2]string{
		"server multi channel support": {"No", "Yes"},
		"reject md5 clients":           {"No", "Yes"},
		"client ldap sasl wrapping":    {"sign", "seal"},
	} {
		old, _ := get("4.13.13", name)
		cur, _ := get("4.17.12", name)
		require.Equal(t, want, [2]string{old, cur}, name)
	}
}

func TestSMBListenersPerRelease(t *testing.T) {
	dir := t.TempDir()
	load := func(ver, text string) *Config {
		c, err := Parse([]byte(text), filepath.Join(dir, "smb.conf"), LoadOptions{Version: mustVersion(t, ver), WorkDir: dir, Hostname: "h"})
		require.NoError(t, err)
		return c
	}
	c := load("4.17.12", "[global]\n")
	require.Equal(t, "smb ports", c.SMBPortsParameter())
	require.Equal(t, []int{445, 139}, c.SMBTCPPorts())
	c = load("4.24.8", "[global]\n")
	require.Equal(t, "server smb transports", c.SMBPortsParameter())
	require.Equal(t, []int{445, 139}, c.SMBTCPPorts())
	c = load("4.24.8", "[global]\nsmb ports = 4455\n")
	require.Equal(t, []int{4455}, c.SMBTCPPorts())
	var b bytes.Buffer
	require.NoError(t, c.Dump(&b))
	require.Contains(t, b.String(), "\tserver smb transports = 4455\n")
	c = load("4.24.8", "[global]\nserver smb transports = tcp:1445, nbt, quic\n")
	ls, v := c.SMBListeners()
	require.Equal(t, "tcp:1445, nbt, quic", v.Printed)
	require.Equal(t, []SMBListener{{"tcp", 1445}, {"nbt", 139}, {"quic", 443}}, ls)
	require.Equal(t, []int{1445, 139}, c.SMBTCPPorts())
}

// Observed on testparm 4.24.8 (see handleSmbTransports).
func TestSmbTransportsValues(t *testing.T) {
	dir := t.TempDir()
	for value, ok := range map[string]bool{
		"tcp": true, "quic": true, "nbt:139": true, "445 139": true, "tcp:0445": true, "tcp:+1": true,
		"4294967297": true, "-tcp": true, "+445": true,
		"": false, "foo": false, "TCP": false, "0": false, "65536": false, "tcp:": false, "tcp:445:1": false,
		"445:tcp": false, "4294967296": false, "18446744073709551616": false, "tcp: 1": false,
	} {
		_, err := Parse([]byte("[global]\nsmb ports = "+value+"\n"), filepath.Join(dir, "smb.conf"),
			LoadOptions{Version: mustVersion(t, "4.24.8"), WorkDir: dir, Hostname: "h"})
		require.Equal(t, ok, err == nil, "%q: %v", value, err)
	}
}

// Every parameter of every table carries the handler of its canonical
// name: a table built before handlers was filled in would silently parse
// include, copy, ... as plain strings.
func TestTableHandlersMatchTheHandlerMap(t *testing.T) {
	require.NotEmpty(t, handlers)
	for _, r := range releaseTables {
		tab := r.table()
		n := 0
		for i := range tab.all {
			p := &tab.all[i]
			want := handlers[p.Canonical().Name]
			require.Equal(t, want == nil, p.handle == nil, "%s %s", r.version, p.Name)
			if want != nil {
				require.Equal(t, reflect.ValueOf(want).Pointer(), reflect.ValueOf(p.handle).Pointer(), "%s %s", r.version, p.Name)
				n++
			}
		}
		require.NotZero(t, n, r.version)
	}
}

// walkDump walks a share's slots in order instead of localDmp: that is
// the same walk only while slots are numbered in dump order.
func TestLocalSlotsAreInDumpOrder(t *testing.T) {
	for _, r := range releaseTables {
		tab := r.table()
		require.Len(t, tab.dmpBySlot, tab.nLocal)
		var bySlot []*Param
		for _, p := range tab.dmpBySlot {
			if p != nil {
				bySlot = append(bySlot, p)
			}
		}
		require.Equal(t, tab.localDmp, bySlot, r.version)
	}
}

// A table's release is read from its version text without building the
// table (tableFor must not build every table to choose one): both must
// agree.
func TestReleaseWithoutBuildingTheTable(t *testing.T) {
	for _, r := range releaseTables {
		require.Equal(t, r.table().release, r.release(), r.version)
	}
}
