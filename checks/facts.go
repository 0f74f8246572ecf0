package checks

import (
	"net/netip"
	"time"

	"github.com/smb-agent/smb-agent/checks/probe"
	"github.com/smb-agent/smb-agent/configs"
	"github.com/smb-agent/smb-agent/configs/smbconf"
)

// Facts is everything one run knows about the host, gathered once (all the
// I/O of a run happens in Gather) and then read by every check. Checks are
// pure functions of Facts, so each is table-tested over hand-built Facts.
//
// A gatherer that fails records its error in its own Err field (and in
// Errors) instead of failing the run: a diagnosis with one blind spot is
// still worth printing.
type Facts struct {
	// Now is when gathering started; checks use it instead of time.Now.
	Now time.Time

	// Target is what the probes connected to; RemoteClientIP is the remote
	// checker's address (from the agent config), used to judge hosts
	// allow/deny the way `testparm CONF HOST IP` does, since loopback is
	// always let through.
	Target         Target
	RemoteClientIP string

	// Clients are the client profiles the run judges against (pysmb by
	// default), in the order configured.
	Clients []configs.ClientProfile

	// SmbConfPath is the smb.conf the agent read; Config is its model (nil
	// when it could not be read at all) and ConfigErr why not, or why Samba
	// would refuse it (a *smbconf.LoadError: Config is then partial).
	SmbConfPath string
	Config      *smbconf.Config
	ConfigErr   error
	// ConfigFiles are smb.conf and every included file, with their
	// modification times, to compare with smbd's start time.
	ConfigFiles []FileStat

	// SambaVersion is the version whose defaults apply, and where it came
	// from ("smbd --version", "testparm -V", "--samba-version").
	SambaVersion       smbconf.SambaVersion
	SambaVersionSource string

	Smbd     SmbdFacts
	Sockets  SocketFacts
	Firewall FirewallFacts
	Logs     LogFacts

	// Probe is the live probe run against Target (nil if not run).
	Probe *probe.Result

	// Errors are the gatherers' failures, one line each.
	Errors []string

	// User and Share are the scoring account and the scored share from the
	// agent config ("" when not configured), so that checks and rendered
	// commands can name them even when no probe ran. Never a password.
	User  string
	Share string
	// HasPassword says whether the run had credentials for User (so "no
	// credentials" is told apart from a login that was not attempted).
	HasPassword bool
	// Account is the scoring user as passdb and the Unix account database
	// see it (pdbedit -Lv USER, getent passwd USER); nil when not gathered
	// (no user, or a probe run whose login and share steps all succeeded:
	// then nothing needs explaining).
	Account *AccountFacts
	// Net is the host's interfaces and routes; nil when not gathered.
	Net *NetFacts
	// RPCHelpers are samba-dcerpcd and rpcd_classic as found on disk; nil
	// when not gathered.
	RPCHelpers []BinaryFacts
	// SharePath is the scored share's directory (its "path" parameter)
	// as stat'ed; nil when there is no share or it was not gathered, Err
	// set when it does not exist or is not a directory.
	SharePath *FileStat
	// ScoredFile is the file the engine reads (--file) as found on disk
	// under the share's path; nil when no file is configured.
	ScoredFile *ScoredFileFacts
}

// AccountFacts describe the scoring user (pdbedit -Lv USER, getent passwd).
type AccountFacts struct {
	User string `json:"user"`
	// InPassdb: pdbedit knows the user.
	InPassdb bool `json:"in_passdb"`
	// UnixAccount: getent passwd finds it.
	UnixAccount bool `json:"unix_account"`
	// Flags are the passdb account flags as pdbedit prints them ("[U
	// ]", "[DU ]"): D disabled, L locked (auto-locked), X no expiry...
	Flags string `json:"flags,omitempty"`
	// Expired: the account's kickoff time or its password's expiry passed.
	Expired bool `json:"expired,omitempty"`
	// MustChange: "Password must change" is in the past.
	MustChange bool   `json:"must_change,omitempty"`
	Err        string `json:"error,omitempty"`
}

// NetFacts are the host's interfaces and whether it can route back to the
// remote checker.
type NetFacts struct {
	Interfaces []NetInterface `json:"interfaces"`
	// RouteToClient: "ip route get RemoteClientIP" found a route; nil when
	// not known (no RemoteClientIP, or not gathered).
	RouteToClient *bool  `json:"route_to_client,omitempty"`
	Err           string `json:"error,omitempty"`
}

// HostAddrs are the addresses of every interface, what smbconf's
// Config.AllowsHost needs to know of the host (nil when not gathered: the
// judgement then lets both address families be parsed, as glibc does on a
// host with no address but loopback).
func (n *NetFacts) HostAddrs() []netip.Addr {
	if n == nil {
		return nil
	}
	var out []netip.Addr
	for _, ifc := range n.Interfaces {
		for _, s := range ifc.Addrs {
			if p, err := netip.ParsePrefix(s); err == nil {
				out = append(out, p.Addr().Unmap())
			} else if a, err := netip.ParseAddr(s); err == nil {
				out = append(out, a.Unmap())
			}
		}
	}
	return out
}

// NetInterface is one network interface.
type NetInterface struct {
	Name string `json:"name"`
	// Up: administratively up with a carrier (IFF_UP and IFF_RUNNING).
	Up bool `json:"up"`
	// Addrs are its addresses in CIDR form ("192.0.2.5/24").
	Addrs []string `json:"addrs"`
}

// BinaryFacts is one helper program smbd needs.
type BinaryFacts struct {
	Path       string `json:"path"`
	Exists     bool   `json:"exists"`
	Executable bool   `json:"executable"`
}
