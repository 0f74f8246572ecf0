package gather

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/smb-agent/smb-agent/checks"
	"github.com/smb-agent/smb-agent/checks/probe"
	"github.com/smb-agent/smb-agent/configs/smbconf"
)

// Host gatherers: the scoring account, the network, the RPC helper
// binaries and the scored share's directory.

// rpcHelperDir is where Debian installs samba-dcerpcd and the rpcd_*
// workers (package samba; `dpkg -L samba`); smbd starts samba-dcerpcd from
// there on the first named-pipe open (source3/rpc_client/local_np.c).
const rpcHelperDir = "/usr/libexec/samba"

// rpcHelpers are the binaries share listing needs: samba-dcerpcd, and
// rpcd_classic, which serves srvsvc (NetShareEnum).
var rpcHelpers = []string{"samba-dcerpcd", "rpcd_classic"}

// gatherRPCHelpers stats the helper binaries. Executable means some execute
// bit is set and access(X_OK) agrees (a noexec mount or an empty file
// bind-mounted over it fails there; smbd then cannot start the helper and
// the srvsvc pipe open fails).
func gatherRPCHelpers(dir string) []checks.BinaryFacts {
	out := make([]checks.BinaryFacts, 0, len(rpcHelpers))
	for _, name := range rpcHelpers {
		p := filepath.Join(dir, name)
		b := checks.BinaryFacts{Path: p}
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			b.Exists = true
			b.Executable = fi.Mode().Perm()&0o111 != 0 && fi.Size() > 0 && syscall.Access(p, 1 /* X_OK */) == nil
		}
		out = append(out, b)
	}
	return out
}

// gatherSharePath stats the scored share's "path".
func gatherSharePath(c *smbconf.Config, share string) *checks.FileStat {
	if c == nil || share == "" {
		return nil
	}
	v, ok := c.Lookup(share, "path")
	if !ok {
		return &checks.FileStat{Err: fmt.Sprintf("share [%s] is not in the configuration", share)}
	}
	fs := &checks.FileStat{Path: v.Printed}
	if strings.TrimSpace(v.Printed) == "" {
		fs.Err = "the share has no path"
		return fs
	}
	fi, err := os.Stat(v.Printed)
	switch {
	case err != nil:
		fs.Err = err.Error()
	case !fi.IsDir():
		fs.ModTime, fs.Size = fi.ModTime(), fi.Size()
		fs.Err = "not a directory"
	default:
		fs.ModTime, fs.Size = fi.ModTime(), fi.Size()
	}
	return fs
}

// gatherNet lists the interfaces and, when the remote checker's address is
// known, whether the kernel has a route back to it (`ip route get IP`: with
// no route back the SYN-ACK never leaves and the client times out).
func gatherNet(ctx context.Context, clientIP string, run runFunc, lookPath func(string) (string, error)) *checks.NetFacts {
	out := &checks.NetFacts{Interfaces: []checks.NetInterface{}}
	var errs []string
	ifs, err := net.Interfaces()
	if err != nil {
		errs = append(errs, fmt.Sprintf("list interfaces: %v", err))
	}
	for _, ifc := range ifs {
		ni := checks.NetInterface{Name: ifc.Name, Up: ifc.Flags&net.FlagUp != 0 && ifc.Flags&net.FlagRunning != 0, Addrs: []string{}}
		if addrs, err := ifc.Addrs(); err == nil {
			for _, a := range addrs {
				ni.Addrs = append(ni.Addrs, a.String())
			}
		}
		out.Interfaces = append(out.Interfaces, ni)
	}
	if ip := net.ParseIP(clientIP); ip != nil {
		if _, err := lookPath("ip"); err == nil {
			_, rerr := run(ctx, "ip", "route", "get", ip.String())
			switch {
			case rerr == nil:
				t := true
				out.RouteToClient = &t
			case ctx.Err() == nil && !strings.Contains(rerr.Error(), "deadline") && !strings.Contains(rerr.Error(), "no answer"):
				// "RTNETLINK answers: Network is unreachable"
				f := false
				out.RouteToClient = &f
			default:
				errs = append(errs, fmt.Sprintf("ip route get %s: %v", ip, rerr))
			}
		}
	}
	if len(errs) > 0 {
		out.Err = strings.Join(errs, "; ")
	}
	return out
}

// gatherAccount asks passdb (pdbedit -L -v, with the agent's smb.conf so
// that its passdb backend is used) and the Unix account database (getent
// passwd) about the scoring user. Both are read-only.
func gatherAccount(ctx context.Context, user, smbConf string, now time.Time, run runFunc, lookPath func(string) (string, error)) *checks.AccountFacts {
	if user == "" {
		return nil
	}
	a := &checks.AccountFacts{User: user}
	var errs []string
	if _, err := lookPath("pdbedit"); err != nil {
		errs = append(errs, "pdbedit not installed")
	} else {
		out, err := run(ctx, "pdbedit", "-s", smbConf, "-L", "-v", "-u", user)
		var ee *exec.ExitError
		switch {
		case err == nil:
			parsePdbedit(a, string(out), now)
		case errors.As(err, &ee) && strings.Contains(err.Error(), "not found"):
			// exit 255, "Username not found!" on stderr: not in passdb
		default:
			errs = append(errs, fmt.Sprintf("pdbedit -L -v -u %s: %v", user, err))
		}
	}
	if _, err := lookPath("getent"); err != nil {
		errs = append(errs, "getent not installed")
	} else {
		out, err := run(ctx, "getent", "passwd", user)
		var ee *exec.ExitError
		switch {
		case err == nil:
			a.UnixAccount = len(strings.TrimSpace(string(out))) > 0
		case errors.As(err, &ee) && ee.ExitCode() == 2:
			// getent(1): exit 2, "one or more supplied key could not be found"
		default:
			errs = append(errs, fmt.Sprintf("getent passwd %s: %v", user, err))
		}
	}
	if len(errs) > 0 {
		a.Err = strings.Join(errs, "; ")
	}
	return a
}

// pdbeditTime is how pdbedit prints times ("Wed, 06 Feb 2036 15:06:39 UTC").
const pdbeditTime = "Mon, 02 Jan 2006 15:04:05 MST"

// parsePdbedit reads `pdbedit -L -v` output. Kickoff time is when the
// account stops working; "Password must change" when the password
// expires; "never" (or Samba's far-future 2036 sentinel) means not at all.
func parsePdbedit(a *checks.AccountFacts, out string, now time.Time) {
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "Unix username":
			a.InPassdb = true
		case "Account Flags":
			a.Flags = v
		case "Kickoff time":
			if t, err := time.Parse(pdbeditTime, v); err == nil && t.Before(now) {
				a.Expired = true
			}
		case "Password must change":
			if t, err := time.Parse(pdbeditTime, v); err == nil && t.Before(now) {
				a.MustChange = true
			}
		}
	}
}

// rpcHelpersGatherer stats the RPC helper binaries (gatherRPCHelpers).
type rpcHelpersGatherer struct{}

func (rpcHelpersGatherer) Name() string                  { return "the RPC helper binaries" }
func (rpcHelpersGatherer) Deadline(e *env) time.Duration { return e.localBudget }
func (rpcHelpersGatherer) Failed(*checks.Facts, string)  {}

func (rpcHelpersGatherer) Gather(context.Context, *env) (func(*checks.Facts), error) {
	h := gatherRPCHelpers(rpcHelperDir)
	return func(f *checks.Facts) { f.RPCHelpers = h }, nil
}

// sharePathGatherer stats the scored share's directory (gatherSharePath).
type sharePathGatherer struct{}

func (sharePathGatherer) Name() string                  { return "the share's path" }
func (sharePathGatherer) Deadline(e *env) time.Duration { return e.localBudget }
func (sharePathGatherer) Failed(*checks.Facts, string)  {}

func (sharePathGatherer) Gather(_ context.Context, e *env) (func(*checks.Facts), error) {
	p := gatherSharePath(e.conf, e.Config.Share)
	return func(f *checks.Facts) { f.SharePath = p }, nil
}

// netGatherer lists the interfaces and the route back to the checker
// (gatherNet).
type netGatherer struct{}

func (netGatherer) Name() string                  { return "the network interfaces" }
func (netGatherer) Deadline(e *env) time.Duration { return e.untilEnd() }
func (netGatherer) Failed(*checks.Facts, string)  {}

func (netGatherer) Gather(ctx context.Context, e *env) (func(*checks.Facts), error) {
	n := gatherNet(ctx, e.Config.RemoteClientIP, e.run, e.LookPath)
	return func(f *checks.Facts) { f.Net = n }, errIf(n.Err)
}

const accountName = "the account"

// accountGatherer looks the scoring user up in passdb and the Unix account
// database (gatherAccount). The lookup (pdbedit, a Samba binary start that
// costs about what a whole smbclient -L does) only explains a failed or
// guest login: after a probe run it runs only when the probe found
// something wrong (probeNeedsAccount); without a probe, always.
type accountGatherer struct{}

func (accountGatherer) Name() string                  { return accountName }
func (accountGatherer) Deadline(e *env) time.Duration { return e.untilEnd() }
func (accountGatherer) Failed(*checks.Facts, string)  {}

func (accountGatherer) Gather(ctx context.Context, e *env) (func(*checks.Facts), error) {
	if e.user == "" || (e.probing && e.probeResult != nil && !probeNeedsAccount(e.probeResult)) {
		return nil, nil
	}
	a := gatherAccount(ctx, e.user, e.Config.SMBConf, e.started, e.run, e.LookPath)
	return func(f *checks.Facts) { f.Account = a }, errIf(a.Err)
}

// probeNeedsAccount: the account facts (passdb flags, Unix account) explain
// a login that failed or fell back to guest, and what followed from it
// (IPC$, shares); a clean probe run with a real login needs none.
func probeNeedsAccount(r *probe.Result) bool {
	if r == nil || r.Login == nil || !r.Login.OK() || r.Login.Guest || r.Login.Anonymous {
		return true
	}
	return len(r.Failures()) > 0
}
