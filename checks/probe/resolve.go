package probe

import (
	"net"
	"strings"
)

// invalidName reports a host name under the special-use domain "invalid."
// as not found without asking DNS. RFC 6761 section 6.4: name resolution
// APIs and libraries should recognise these names as special and always
// return immediately with a negative answer. Go's resolver sends the query
// anyway, so an agent pointed at such a name would talk to whatever
// resolver the host is configured with; answering here keeps the agent (and
// its tests) off the network for a name that can never exist.
func invalidName(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	if name != "invalid" && !strings.HasSuffix(name, ".invalid") {
		return nil
	}
	return &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{
		Err:        "no such host (RFC 6761: the special-use domain invalid. never resolves)",
		Name:       host,
		IsNotFound: true,
	}}
}
