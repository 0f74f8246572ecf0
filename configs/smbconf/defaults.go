package smbconf

import (
	"sync"
	"syscall"
)

// defaults are the compiled-in values of every parameter for one Samba
// version and host: the state after init_globals, which lp_save_defaults
// records and the dump compares against.
type defaults struct {
	version SambaVersion
	tab     *tableInfo // the parameter table of version's release (or the nearest)
	g       []val      // by global slot
	l       []val      // by local slot

	// slots the loader touches directly
	validSlot, printable, browseable, path, msdfsProxy, available, comment, abse int
}

type defaultsKey struct {
	series   string
	hostname string
}

var (
	defaultsMu    sync.Mutex
	defaultsCache = map[defaultsKey]*defaults{}
)

// getDefaults returns the defaults for version v (zero: the default
// table's) on a host, built once per version series and host name.
func getDefaults(v SambaVersion, hostname string) *defaults {
	t := tableFor(v)
	if v == (SambaVersion{}) {
		v = t.release
	}
	key := defaultsKey{series: v.Series(), hostname: hostname}
	defaultsMu.Lock()
	defer defaultsMu.Unlock()
	if d, ok := defaultsCache[key]; ok {
		return d
	}
	d := &defaults{version: v, tab: t, g: make([]val, t.nGlobal), l: make([]val, t.nLocal), validSlot: -1}
	for _, p := range t.globals {
		d.g[p.slot] = parsePrinted(p, p.Default)
	}
	for _, p := range t.locals {
		d.l[p.slot] = parsePrinted(p, p.Default)
	}
	// Host-dependent defaults (init_globals): the NetBIOS name is the
	// upper-cased host name up to the first dot; "max open files" comes
	// from the open-file limit.
	if p, ok := t.lookup("netbios name"); ok && hostname != "" {
		if u, ok := toUpperSamba(hostShort(hostname)); ok {
			d.g[p.slot] = val{s: u}
		}
	}
	if p, ok := t.lookup("max open files"); ok {
		d.g[p.slot] = val{n: maxOpenFiles()}
	}
	// A release without a table of its own, inside the range versions.go
	// covers (4.0-4.21): the nearest table, with that release's defaults
	// for the parameters that decide reachability. A release newer than
	// that range keeps the nearest (newest) table as it is: the 4.21 rows
	// would take it back in time.
	if v.Series() != t.release.Series() && seriesCmp(v, verMax) <= 0 {
		for name, vd := range ReachabilityDefaults(v) {
			p, ok := t.lookup(name)
			if !ok {
				continue
			}
			c := p.Canonical()
			pv := vd.Printed
			if p.Inverse {
				pv = map[string]string{"Yes": "No", "No": "Yes"}[pv]
			}
			nv := parsePrinted(c, pv)
			if c.Class == ClassGlobal {
				d.g[c.slot] = nv
			} else {
				d.l[c.slot] = nv
			}
		}
	}
	for _, p := range t.locals {
		switch p.Name {
		case "-valid":
			d.validSlot = p.slot
		case "printable":
			d.printable = p.slot
		case "browseable":
			d.browseable = p.slot
		case "path":
			d.path = p.slot
		case "msdfs proxy":
			d.msdfsProxy = p.slot
		case "available":
			d.available = p.slot
		case "comment":
			d.comment = p.slot
		case "access based share enum":
			d.abse = p.slot
		}
	}
	defaultsCache[key] = d
	return d
}

// maxOpenFiles is max_open_files() of source3/param/loadparm.c with the
// Debian build's MAX_OPEN_FILES (16424) and MIN_OPEN_FILES_WINDOWS
// (16384): the open-file limit, clamped to that range. The Go runtime
// raises its own soft limit to the hard one, so this sees the hard limit
// where testparm sees the soft one it inherited.
func maxOpenFiles() int {
	const maxOpen, minWindows = 16424, 16384
	lim := maxOpen
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil && rl.Cur != ^uint64(0) && rl.Cur < uint64(maxOpen) {
		lim = int(rl.Cur)
	}
	if lim < minWindows {
		lim = minWindows
	}
	return lim
}
