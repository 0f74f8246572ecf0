package configs

import (
	"maps"

	"github.com/spf13/pflag"
)

// defaultFlagKeys is the one mapping from flag names to keys, so that every
// command binds a flag to the same key.
var defaultFlagKeys = map[string]string{
	// AddCommonFlags
	"smb-conf":        "smb_conf",
	"samba-version":   "samba_version",
	"target":          "target",
	"timeout":         "timeout",
	"user":            "credentials.user",
	"password-file":   "credentials.password_file",
	"domain":          "credentials.domain",
	"share":           "share",
	"client":          "client",
	"client-dialects": "client_dialects",
	// AddOutputFlags
	"json":  "output.json",
	"color": "output.color",
	// AddServeFlags
	"listen":        "serve.listen",
	"listen-public": "serve.listen_public",
	"interval":      "serve.interval",
	// AddFixFlags
	"restart-cmd": "fix.restart_cmd",
	"reload-cmd":  "fix.reload_cmd",
	"allow-smb1":  "fix.allow_smb1",
	// Defined by commands that need them; bound when present.
	"guest":            "credentials.guest",
	"remote-client-ip": "remote_client_ip",
	"file":             "file.path",
	"file-sha256":      "file.sha256",
	"log-path":         "logs.paths",
	"backup-dir":       "fix.backup_dir",
	"audit-log":        "fix.audit_log",
	"lock-file":        "fix.lock_file",
	"prove-timeout":    "fix.prove_timeout",
}

// DefaultFlagKeys returns the canonical flag-name → key mapping. Load binds
// only the flags a command actually defines and the user actually set.
func DefaultFlagKeys() map[string]string { return maps.Clone(defaultFlagKeys) }

// AddCommonFlags defines the flags every checking command takes. Their
// defaults show as "" because the configuration's value applies when a
// flag is not given; Load reads only flags that were set.
func AddCommonFlags(fs *pflag.FlagSet) {
	fs.String("smb-conf", "", "smb.conf to check (config smb_conf; default /etc/samba/smb.conf)")
	fs.String("samba-version", "", "Samba version whose defaults apply, e.g. 4.17 (config samba_version; default: smbd --version)")
	fs.String("target", "", "HOST:PORT the probes connect to (config target; default 127.0.0.1:445)")
	fs.String("timeout", "", "time limit for the probe run and each network operation, e.g. 5s (config timeout)")
	fs.String("user", "", "SMB user to log in as (config credentials.user)")
	fs.String("password-file", "", "file holding the SMB password; "+EnvPassword+" overrides it (config credentials.password_file)")
	fs.String("domain", "", "SMB domain/workgroup of the user (config credentials.domain)")
	fs.String("share", "", "the scored share: tree connect and listing (config share)")
	fs.String("client", "", "client profile to check against: a preset ("+joinNames()+"; * = modelled, not tested against the real client) or a name from clients: (config client; default pysmb)")
	fs.String("client-dialects", "", "dialect range of the client for this run, MIN-MAX, e.g. SMB2_02-SMB2_10 or NT1-NT1 (config client_dialects)")
}

// AddOutputFlags defines --json and --color.
func AddOutputFlags(fs *pflag.FlagSet) {
	fs.Bool("json", false, "print JSON instead of text (config output.json)")
	fs.String("color", "", "colour text output: auto, always or never (config output.color; NO_COLOR disables)")
}

// AddServeFlags defines the daemon's flags.
func AddServeFlags(fs *pflag.FlagSet) {
	fs.String("listen", "", "HTTP address, loopback only unless --listen-public (config serve.listen; default 127.0.0.1:9445)")
	fs.Bool("listen-public", false, "allow a non-loopback --listen address (config serve.listen_public)")
	fs.String("interval", "", "time between checks, e.g. 30s (config serve.interval)")
}

// AddFixFlags defines the flags of the fix command.
func AddFixFlags(fs *pflag.FlagSet) {
	fs.String("restart-cmd", "", "command that restarts smbd, split like a shell, run without one (config fix.restart_cmd)")
	fs.String("reload-cmd", "", "command that makes smbd reload smb.conf (config fix.reload_cmd)")
	fs.Bool("allow-smb1", false, "allow a fix that enables SMB1 (NT1) (config fix.allow_smb1)")
}

func joinNames() string {
	out := ""
	for i, n := range PresetNames() {
		if i > 0 {
			out += ", "
		}
		out += n
		if _, ok := Modelled(n); ok {
			out += "*"
		}
	}
	return out
}
