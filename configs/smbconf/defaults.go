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
	g       []val // by global slot
	l       []val // by local slot

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

// tableVersion is TableSambaVersion parsed.
func tableVersion() SambaVersion {
	v, err := ParseSambaVersion(TableSambaVersion)
	if err != nil {
		return SambaVersion{Raw: TableSambaVersion}
	}
	return v
}

// getDefaults returns the defaults for version v (zero: the table's) on a
// host, built once per version series and host name.
func getDefaults(v SambaVersion, hostname string) *defaults {
	tv := tableVersion()
	if v == (SambaVersion{}) {
		v = tv
	}
	key := defaultsKey{series: v.Series(), hostname: hostname}
	defaultsMu.Lock()
	defer defaultsMu.Unlock()
	if d, ok := defaultsCache[key]; ok {
		return d
	}
	t := params()
	d := &defaults{version: v, g: make([]val, t.nGlobal), l: make([]val, t.nLocal), validSlot: -1}
	for _, p := range t.globals {
		d.g[p.slot] = parsePrinted(p, p.Default)
	}
	for _, p := range t.locals {
		d.l[p.slot] = parsePrinted(p, p.Default)
	}
	// Host-dependent defaults (init_globals): the NetBIOS name is the
	// upper-cased host name up to the first dot; "max open files" comes
	// from the open-file limit.
	if p, ok := LookupParam("netbios name"); ok && hostname != "" {
		if u, ok := toUpperSamba(hostShort(hostname)); ok {
			d.g[p.slot] = val{s: u}
		}
	}
	if p, ok := LookupParam("max open files"); ok {
		d.g[p.slot] = val{n: maxOpenFiles()}
	}
	// Another release's defaults for the parameters that decide
	// reachability (versions.go); the table already is the generating
	// release's.
	if v.Series() != tv.Series() {
		for name, vd := range ReachabilityDefaults(v) {
			p, ok := LookupParam(name)
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
