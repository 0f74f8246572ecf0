//go:build linux

package gather

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkSocketOwners finds the owners of this host's TCP listeners in
// the live /proc (an smbd's listener is found among smbd's fds; any other
// makes the scan read every process), the cost a diagnosis pays for its
// own port.
func BenchmarkSocketOwners(b *testing.B) {
	ls, err := listenersSockDiag()
	if err != nil {
		b.Skipf("sock_diag: %v", err)
	}
	all := map[uint64]bool{}
	for _, l := range ls {
		all[l.Inode] = true
	}
	smbd := map[uint64]bool{}
	for ino, pid := range socketOwners("/proc", all) {
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && filepath.Base(exe) == "smbd" {
			smbd[ino] = true
		}
	}
	for _, bc := range []struct {
		name   string
		inodes map[uint64]bool
	}{{"smbd-listeners", smbd}, {"all-listeners", all}} {
		b.Run(bc.name, func(b *testing.B) {
			if len(bc.inodes) == 0 {
				b.Skip("no such listener on this host")
			}
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				socketOwners("/proc", bc.inodes)
			}
		})
	}
}

// BenchmarkReadSambaProcs is the process gatherer's walk of the live /proc.
func BenchmarkReadSambaProcs(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := readSambaProcs("/proc", time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
}
