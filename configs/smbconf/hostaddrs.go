package smbconf

import (
	"fmt"
	"net"
	"net/netip"
)

// HostAddrs returns this host's interface addresses, which Config.AllowsHost
// needs (the agent runs on the host smbd and testparm run on). It reads the
// kernel's address list: a gatherer's job, never evaluation's.
func HostAddrs() ([]netip.Addr, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("list interface addresses: %w", err)
	}
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(ipn.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out, nil
}
