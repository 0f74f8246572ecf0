// Package configs is the agent's own configuration: a YAML file
// (/etc/smb-agent/agent.yaml by default, --config FILE), SMB_AGENT_*
// environment variables and command-line flags, layered with viper as
// defaults < file < environment < flags. Every key is validated strictly:
// an unknown key, a wrong type or a bad value is an error that names the
// source, the key and the problem on one line.
//
// The package also ships the client profiles (clients.go): what "protocol
// mismatch" means depends on the client the remote check uses.
package configs

import (
	"os"
	"time"

	"github.com/smb-agent/smb-agent/configs/procenv"
)

// DefaultFile is read when no --config is given; it may be absent.
const DefaultFile = "/etc/smb-agent/agent.yaml"

// EnvPrefix prefixes every environment variable: key serve.interval is read
// from SMB_AGENT_SERVE_INTERVAL.
const EnvPrefix = "SMB_AGENT_"

// EnvPassword holds the SMB password; it overrides credentials.password_file.
// It is not a configuration key, so it never appears in a dump.
const EnvPassword = procenv.Password

// Config is the agent's configuration. Field comments name the YAML key.
// It never holds the password: Password() reads it when needed.
type Config struct {
	SMBConf        string          // smb_conf
	SambaVersion   string          // samba_version; "" = ask smbd --version
	Target         string          // target, HOST:PORT the probes connect to
	Timeout        time.Duration   // timeout, for the whole probe run and each operation
	Credentials    Credentials     // credentials.*
	Share          string          // share: the scored share
	File           FileCheck       // file.*
	RemoteClientIP string          // remote_client_ip: the checker's address
	Client         string          // client: a preset or a clients: name
	ClientDialects string          // client_dialects: MIN-MAX override
	ClientProfiles []ClientProfile // clients
	Logs           Logs            // logs.*
	Serve          Serve           // serve.*
	Fix            Fix             // fix.*
	Output         Output          // output.*

	// Source is the file that was read ("" when none was).
	Source string

	origins   map[string]string
	lookupEnv func(string) (string, bool)
}

// Credentials are the SMB login the probes use. The password is not here.
type Credentials struct {
	User         string // credentials.user
	PasswordFile string // credentials.password_file
	Domain       string // credentials.domain
	Guest        bool   // credentials.guest: also try a guest/anonymous session
}

// FileCheck is an optional file to read and hash, like scoring engines do.
type FileCheck struct {
	Path   string // file.path, inside Share
	SHA256 string // file.sha256, lower-case hex; "" = read only
}

// Logs says where smbd's log evidence is read from.
type Logs struct {
	Paths    []string      // logs.paths: extra log files or globs
	Journal  bool          // logs.journal: read the journal when no file has evidence
	MaxBytes int64         // logs.max_bytes: read at most this much from the end of each file
	Since    time.Duration // logs.since: how far back to look
}

// Serve configures the daemon.
type Serve struct {
	Listen       string        // serve.listen
	ListenPublic bool          // serve.listen_public
	Interval     time.Duration // serve.interval
	Jitter       float64       // serve.jitter, a fraction of Interval
	Scoring      Scoring       // serve.scoring.*
}

// Scoring describes the remote check, to estimate points lost.
type Scoring struct {
	PointsPerCheck float64       // serve.scoring.points_per_check; 0 = no estimate
	CheckInterval  time.Duration // serve.scoring.check_interval
}

// Fix configures how fixes are applied.
type Fix struct {
	RestartCmd         string        // fix.restart_cmd
	RestartFallbackCmd string        // fix.restart_fallback_cmd; "" = no fallback
	ReloadCmd          string        // fix.reload_cmd
	StartCmd           string        // fix.start_cmd
	BackupDir          string        // fix.backup_dir
	AuditLog           string        // fix.audit_log
	LockFile           string        // fix.lock_file
	ProveTimeout       time.Duration // fix.prove_timeout
	AllowSMB1          bool          // fix.allow_smb1
}

// Output configures rendering.
type Output struct {
	Color string // output.color: auto|always|never
	JSON  bool   // output.json
}

// ColorEnabled says whether text output gets ANSI colours: "always" and
// "never" decide; "auto" colours a terminal unless NO_COLOR is set to a
// non-empty value (https://no-color.org: an explicit setting wins over it).
func (c *Config) ColorEnabled(isTerminal bool) bool {
	switch c.Output.Color {
	case "always":
		return true
	case "never":
		return false
	}
	lookup := c.lookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	if v, ok := lookup("NO_COLOR"); ok && v != "" {
		return false
	}
	return isTerminal
}

// DefaultConfig returns the configuration used when nothing is set. The
// shipped configs/agent.yaml states the same values (a test keeps them
// equal).
func DefaultConfig() *Config {
	return &Config{
		SMBConf: "/etc/samba/smb.conf",
		// Port 445 on loopback: what a remote checker reaches, seen from the
		// host itself.
		Target:  "127.0.0.1:445",
		Timeout: 5 * time.Second, // the scoring engine's own limit (seed: "timed out in 5 seconds")
		Logs: Logs{
			Journal:  true,
			MaxBytes: 4 << 20,
			Since:    time.Hour,
		},
		Serve: Serve{
			Listen:   "127.0.0.1:9445",
			Interval: 30 * time.Second,
			Jitter:   0.1,
		},
		Fix: Fix{
			RestartCmd:         "systemctl restart smbd",
			RestartFallbackCmd: "service smbd restart",
			// reload-config makes the smbd parent re-read smb.conf and tell its
			// children; a changed "server min protocol" applies to new
			// connections (source3/smbd/smb2_process.c smbd_process calls
			// reload_services in each new child).
			ReloadCmd:    "smbcontrol smbd reload-config",
			StartCmd:     "systemctl start smbd",
			BackupDir:    "/var/lib/smb-agent/backups",
			AuditLog:     "/var/lib/smb-agent/audit.jsonl",
			LockFile:     "/run/smb-agent/fix.lock",
			ProveTimeout: 30 * time.Second,
		},
		Output: Output{Color: "auto"},
	}
}

// binding ties one key to the field that holds it. The order of bindings
// is the order of Keys(), of dumps and of agent.yaml.
type binding struct {
	key string
	ptr any
}

func (c *Config) bindings() []binding {
	return []binding{
		{"smb_conf", &c.SMBConf},
		{"samba_version", &c.SambaVersion},
		{"target", &c.Target},
		{"timeout", &c.Timeout},
		{"credentials.user", &c.Credentials.User},
		{"credentials.password_file", &c.Credentials.PasswordFile},
		{"credentials.domain", &c.Credentials.Domain},
		{"credentials.guest", &c.Credentials.Guest},
		{"share", &c.Share},
		{"file.path", &c.File.Path},
		{"file.sha256", &c.File.SHA256},
		{"remote_client_ip", &c.RemoteClientIP},
		{"client", &c.Client},
		{"client_dialects", &c.ClientDialects},
		{"clients", &c.ClientProfiles},
		{"logs.paths", &c.Logs.Paths},
		{"logs.journal", &c.Logs.Journal},
		{"logs.max_bytes", &c.Logs.MaxBytes},
		{"logs.since", &c.Logs.Since},
		{"serve.listen", &c.Serve.Listen},
		{"serve.listen_public", &c.Serve.ListenPublic},
		{"serve.interval", &c.Serve.Interval},
		{"serve.jitter", &c.Serve.Jitter},
		{"serve.scoring.points_per_check", &c.Serve.Scoring.PointsPerCheck},
		{"serve.scoring.check_interval", &c.Serve.Scoring.CheckInterval},
		{"fix.restart_cmd", &c.Fix.RestartCmd},
		{"fix.restart_fallback_cmd", &c.Fix.RestartFallbackCmd},
		{"fix.reload_cmd", &c.Fix.ReloadCmd},
		{"fix.start_cmd", &c.Fix.StartCmd},
		{"fix.backup_dir", &c.Fix.BackupDir},
		{"fix.audit_log", &c.Fix.AuditLog},
		{"fix.lock_file", &c.Fix.LockFile},
		{"fix.prove_timeout", &c.Fix.ProveTimeout},
		{"fix.allow_smb1", &c.Fix.AllowSMB1},
		{"output.color", &c.Output.Color},
		{"output.json", &c.Output.JSON},
	}
}

// Keys returns every configuration key in canonical order.
func Keys() []string {
	bs := (&Config{}).bindings()
	keys := make([]string, len(bs))
	for i, b := range bs {
		keys[i] = b.key
	}
	return keys
}

// EnvName returns the environment variable for a key:
// serve.scoring.check_interval → SMB_AGENT_SERVE_SCORING_CHECK_INTERVAL.
// The clients list cannot be set from the environment.
func EnvName(key string) string {
	out := make([]byte, 0, len(EnvPrefix)+len(key))
	out = append(out, EnvPrefix...)
	for i := 0; i < len(key); i++ {
		ch := key[i]
		switch {
		case ch == '.':
			ch = '_'
		case ch >= 'a' && ch <= 'z':
			ch -= 'a' - 'A'
		}
		out = append(out, ch)
	}
	return string(out)
}

// Origin says where a key's value came from: "default", "FILE (line N)",
// "environment SMB_AGENT_X" or "flag --x".
func (c *Config) Origin(key string) string {
	if o, ok := c.origins[key]; ok {
		return o
	}
	return "default"
}
