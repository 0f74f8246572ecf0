//go:build linux

package gather

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/smb-agent/smb-agent/checks"
	"golang.org/x/sys/unix"
)

// Listening TCP sockets through the kernel's sock_diag netlink interface
// (what ss(8) uses), filtered to LISTEN in the kernel.
//
// Why not only /proc/net/tcp: the kernel formats every socket of the host
// into that file, TIME_WAIT included. On a server that is scored every few
// minutes, or right after a test run, that is hundreds of lines and took
// 14 ms of kernel time per read here: more than everything else the agent
// reads from /proc, and a third of a whole diagnosis, sequential before the
// probes. sock_diag returns only the few listeners. /proc/net/tcp stays
// the fallback (no netlink, a fixture /proc in tests).

const (
	sockDiagByFamily = 20 // SOCK_DIAG_BY_FAMILY
	tcpStateListen   = 10 // TCP_LISTEN
	inetDiagReqLen   = 56 // struct inet_diag_req_v2
	inetDiagMsgLen   = 72 // struct inet_diag_msg
)

// listenersSockDiag returns every TCP listener of the host, IPv4 and IPv6,
// in the form parseProcNetTCP gives.
func listenersSockDiag() ([]checks.Listener, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, fmt.Errorf("sock_diag socket: %w", err)
	}
	defer unix.Close(fd)
	// A kernel that never answers must not hang the gatherer.
	tv := unix.NsecToTimeval((500 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return nil, fmt.Errorf("sock_diag timeout: %w", err)
	}
	var out []checks.Listener
	for seq, fam := range []uint8{unix.AF_INET, unix.AF_INET6} {
		ls, err := sockDiagDump(fd, fam, uint32(seq+1))
		if err != nil {
			return nil, err
		}
		out = append(out, ls...)
	}
	return out, nil
}

func sockDiagDump(fd int, family uint8, seq uint32) ([]checks.Listener, error) {
	req := make([]byte, unix.NLMSG_HDRLEN+inetDiagReqLen)
	ne := binary.NativeEndian
	ne.PutUint32(req[0:4], uint32(len(req)))
	ne.PutUint16(req[4:6], sockDiagByFamily)
	ne.PutUint16(req[6:8], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	ne.PutUint32(req[8:12], seq)
	r := req[unix.NLMSG_HDRLEN:]
	r[0] = family
	r[1] = unix.IPPROTO_TCP
	ne.PutUint32(r[4:8], 1<<tcpStateListen) // idiag_states
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("sock_diag request: %w", err)
	}
	var out []checks.Listener
	buf := make([]byte, 32<<10)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return nil, fmt.Errorf("sock_diag reply: %w", err)
		}
		msgs, err := parseSockDiag(buf[:n], family, seq)
		if errors.Is(err, errDiagDone) {
			return append(out, msgs...), nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, msgs...)
	}
}

var errDiagDone = errors.New("done")

// parseSockDiag reads one datagram of netlink messages: inet_diag_msg
// records until NLMSG_DONE (errDiagDone) or an NLMSG_ERROR.
func parseSockDiag(b []byte, family uint8, seq uint32) ([]checks.Listener, error) {
	ne := binary.NativeEndian
	var out []checks.Listener
	for len(b) >= unix.NLMSG_HDRLEN {
		l := int(ne.Uint32(b[0:4]))
		typ := ne.Uint16(b[4:6])
		if l < unix.NLMSG_HDRLEN || l > len(b) {
			return out, fmt.Errorf("sock_diag: bad message length %d", l)
		}
		body := b[unix.NLMSG_HDRLEN:l]
		if ne.Uint32(b[8:12]) == seq {
			switch typ {
			case unix.NLMSG_DONE:
				return out, errDiagDone
			case unix.NLMSG_ERROR:
				if len(body) >= 4 {
					if errno := int32(ne.Uint32(body[0:4])); errno != 0 {
						return out, fmt.Errorf("sock_diag: %w", unix.Errno(-errno))
					}
				}
				return out, errDiagDone
			case sockDiagByFamily:
				if len(body) < inetDiagMsgLen || body[1] != tcpStateListen {
					break
				}
				// inet_diag_sockid: sport, dport (big endian), src[16], dst[16], ...
				port := int(binary.BigEndian.Uint16(body[4:6]))
				var ip net.IP
				if family == unix.AF_INET {
					ip = net.IP(append([]byte(nil), body[8:12]...)).To4()
				} else {
					ip = net.IP(append([]byte(nil), body[8:24]...))
				}
				fam := "tcp"
				if family == unix.AF_INET6 {
					fam = "tcp6"
				}
				out = append(out, checks.Listener{
					Addr:    listenAddrString(ip),
					Port:    port,
					Backlog: int(ne.Uint32(body[56:60])), // idiag_rqueue: the accept queue
					Inode:   uint64(ne.Uint32(body[68:72])),
					Family:  fam,
				})
			}
		}
		al := (l + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1)
		if al > len(b) {
			break
		}
		b = b[al:]
	}
	return out, nil
}
