package configs

import (
	"encoding/hex"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// sambaVersionRe accepts what smbd --version and testparm -V print
// ("Version 4.17.12-Debian") and what people type ("4.17", "4.21.0rc1").
// The full parser lives in configs/smbconf; this package imports nothing of
// ours, so it only checks the shape.
var sambaVersionRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(?i:version\s+)?\d+\.\d+(\.\d+)?([-+~._a-zA-Z0-9]*)$`)
})

// validate checks values that each parsed fine on their own: ranges,
// formats and combinations. It normalises a few values in place (hex to
// lower case, enum values to lower case). The returned errors carry Key;
// Load fills in where the value came from.
func (c *Config) validate() []*ValidationError {
	var errs []*ValidationError
	bad := func(key, format string, args ...any) {
		errs = append(errs, &ValidationError{Key: key, Problem: fmt.Sprintf(format, args...)})
	}

	if strings.TrimSpace(c.SMBConf) == "" {
		bad("smb_conf", "must not be empty")
	}
	if c.SambaVersion != "" && !sambaVersionRe().MatchString(strings.TrimSpace(c.SambaVersion)) {
		bad("samba_version", "invalid Samba version %q (want MAJOR.MINOR[.PATCH], e.g. 4.17.12)", c.SambaVersion)
	}
	if err := checkHostPort(c.Target); err != nil {
		bad("target", "%v", err)
	}
	positive(bad, "timeout", c.Timeout)

	if c.File.SHA256 != "" {
		c.File.SHA256 = strings.ToLower(strings.TrimSpace(c.File.SHA256))
		if b, err := hex.DecodeString(c.File.SHA256); err != nil || len(b) != 32 {
			bad("file.sha256", "invalid SHA-256 %q (want 64 hex digits)", c.File.SHA256)
		}
		if c.File.Path == "" {
			bad("file.sha256", "set, but file.path is empty")
		}
	}
	if c.File.Path != "" && c.Share == "" {
		// The file is read from the scored share, as a scoring engine does.
		bad("file.path", "set, but share is empty (the file is read from the scored share)")
	}
	if c.RemoteClientIP != "" && net.ParseIP(c.RemoteClientIP) == nil {
		bad("remote_client_ip", "invalid IP address %q", c.RemoteClientIP)
	}

	if c.ClientDialects != "" {
		if _, _, err := ParseClientDialects(c.ClientDialects); err != nil {
			bad("client_dialects", "%v", err)
		}
	}
	seen := map[string]int{}
	for i, p := range c.ClientProfiles {
		name := strings.ToLower(p.Name)
		if j, dup := seen[name]; dup && name != "" {
			bad(fmt.Sprintf("clients[%d].name", i), "duplicate profile name %q (also clients[%d])", p.Name, j)
		}
		seen[name] = i
	}
	if c.Client != "" {
		if _, err := c.lookupClient(c.Client); err != nil {
			bad("client", "%v", err)
		}
	}

	if c.Logs.MaxBytes <= 0 {
		bad("logs.max_bytes", "must be more than 0")
	}
	if c.Logs.Since < 0 {
		bad("logs.since", "must not be negative")
	}

	if err := checkListen(c.Serve.Listen, c.Serve.ListenPublic); err != nil {
		bad("serve.listen", "%v", err)
	}
	if c.Serve.Interval < time.Second {
		bad("serve.interval", "must be at least 1s, got %s", c.Serve.Interval)
	}
	if c.Serve.Jitter < 0 || c.Serve.Jitter > 0.5 || c.Serve.Jitter != c.Serve.Jitter {
		bad("serve.jitter", "must be a fraction in [0, 0.5], got %g", c.Serve.Jitter)
	}
	sc := c.Serve.Scoring
	if sc.PointsPerCheck < 0 {
		bad("serve.scoring.points_per_check", "must not be negative")
	}
	if sc.CheckInterval < 0 {
		bad("serve.scoring.check_interval", "must not be negative")
	}
	// The estimate needs both numbers: points per check and how often the
	// remote check runs.
	if sc.PointsPerCheck > 0 && sc.CheckInterval == 0 {
		bad("serve.scoring.check_interval", "must be set when serve.scoring.points_per_check is")
	}
	if sc.CheckInterval > 0 && sc.PointsPerCheck == 0 {
		bad("serve.scoring.points_per_check", "must be set when serve.scoring.check_interval is")
	}

	for _, cmd := range []struct {
		key, val string
		required bool
	}{
		{"fix.restart_cmd", c.Fix.RestartCmd, true},
		{"fix.restart_fallback_cmd", c.Fix.RestartFallbackCmd, false},
		{"fix.reload_cmd", c.Fix.ReloadCmd, true},
		{"fix.start_cmd", c.Fix.StartCmd, true},
	} {
		argv, err := SplitCommand(cmd.val)
		switch {
		case err != nil:
			bad(cmd.key, "%v", err)
		case len(argv) == 0 && cmd.required:
			bad(cmd.key, "must not be empty")
		}
	}
	for _, p := range []struct{ key, val string }{
		{"fix.backup_dir", c.Fix.BackupDir},
		{"fix.audit_log", c.Fix.AuditLog},
		{"fix.lock_file", c.Fix.LockFile},
	} {
		// Fixes run as a service and from shells alike: a relative path
		// would land wherever the process happens to run.
		if !filepath.IsAbs(p.val) {
			bad(p.key, "must be an absolute path, got %q", p.val)
		}
	}
	positive(bad, "fix.prove_timeout", c.Fix.ProveTimeout)

	c.Output.Color = strings.ToLower(strings.TrimSpace(c.Output.Color))
	switch c.Output.Color {
	case "auto", "always", "never":
	default:
		bad("output.color", "invalid value %q (want auto, always or never)", c.Output.Color)
	}
	return errs
}

func positive(bad func(key, format string, args ...any), key string, d time.Duration) {
	if d <= 0 {
		bad(key, "must be more than 0, got %s", d)
	}
}

// checkHostPort accepts HOST:PORT with a numeric port 1-65535; IPv6 hosts
// are bracketed ([::1]:445).
func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("invalid address %q (want HOST:PORT, e.g. 127.0.0.1:445)", s)
	}
	if host == "" {
		return fmt.Errorf("invalid address %q: no host", s)
	}
	if err := CheckHost(host); err != nil {
		return fmt.Errorf("invalid address %q: %w", s, err)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("invalid address %q: port must be a number from 1 to 65535", s)
	}
	return nil
}

// checkListen refuses a non-loopback HTTP address unless serving publicly
// was asked for: /status tells anyone who can reach it how to break the
// host's SMB service.
func checkListen(addr string, public bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("invalid address %q (want HOST:PORT, e.g. 127.0.0.1:9445)", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("invalid address %q: port must be a number from 0 to 65535", addr)
	}
	if public || isLoopbackHost(host) {
		return nil
	}
	shown := host
	if shown == "" {
		shown = "every address"
	}
	return fmt.Errorf("%s is not a loopback address (%s); set serve.listen_public (--listen-public) to serve beyond this host", addr, shown)
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// lookupClient finds a profile by name: clients: entries first (a profile
// with a preset's name replaces that preset), then the presets.
func (c *Config) lookupClient(name string) (ClientProfile, error) {
	for _, p := range c.ClientProfiles {
		if strings.EqualFold(p.Name, name) {
			return p.clone(), nil
		}
	}
	if p, ok := Preset(name); ok {
		return p, nil
	}
	known := PresetNames()
	for _, p := range c.ClientProfiles {
		known = append(known, p.Name)
	}
	return ClientProfile{}, fmt.Errorf("unknown client profile %q (known: %s)", name, strings.Join(known, ", "))
}

// Clients returns the client profiles this run compares against:
//   - client (--client) selects one profile, from clients: or the presets;
//   - client_dialects (--client-dialects) narrows that profile to the range,
//     or, with no client, describes a client offering just that range;
//   - otherwise every profile in clients:, and with none configured the
//     pysmb preset, the client of the remote check.
func (c *Config) Clients() ([]ClientProfile, error) {
	var out []ClientProfile
	switch {
	case c.Client != "":
		p, err := c.lookupClient(c.Client)
		if err != nil {
			return nil, err
		}
		out = []ClientProfile{p}
	case len(c.ClientProfiles) > 0:
		for _, p := range c.ClientProfiles {
			out = append(out, p.clone())
		}
	default:
		p, _ := Preset(DefaultClient)
		out = []ClientProfile{p}
	}
	if c.ClientDialects != "" {
		lo, hi, err := ParseClientDialects(c.ClientDialects)
		if err != nil {
			return nil, fmt.Errorf("client_dialects: %w", err)
		}
		if c.Client != "" {
			out = []ClientProfile{out[0].narrow(lo, hi)}
		} else {
			out = []ClientProfile{customDialectProfile(lo, hi)}
		}
	}
	for i := range out {
		if errs := out[i].Validate(); len(errs) > 0 {
			return nil, fmt.Errorf("client profile %q: %s", out[i].Name, oneLine(errs))
		}
	}
	return out, nil
}

// CheckHost accepts what can name an SMB server: an IP address (IPv6 with
// an optional %zone) or a host name of letters, digits, '-', '_' and '.'
// (RFC 1123 labels, plus the '_' that NetBIOS-style names carry), at most
// 253 characters. Anything else (a newline, a space, a control character,
// a slash) is bad input: it would otherwise reach the resolver, the report
// and the terminal as it is.
func CheckHost(host string) error {
	if host == "" {
		return fmt.Errorf("no host")
	}
	if ip := strings.SplitN(host, "%", 2); net.ParseIP(ip[0]) != nil {
		if len(ip) == 2 && (ip[1] == "" || strings.IndexFunc(ip[1], func(r rune) bool { return r <= ' ' || r > '~' || r == '/' }) >= 0) {
			return fmt.Errorf("invalid zone %q", ip[1])
		}
		return nil
	}
	if len(host) > 253 {
		return fmt.Errorf("host name longer than 253 characters")
	}
	for _, label := range strings.Split(strings.TrimSuffix(host, "."), ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("host name %q: empty or over-long label", host)
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return fmt.Errorf("host name %q: character %q is not allowed", host, r)
			}
		}
	}
	return nil
}
