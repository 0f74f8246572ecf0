package configs

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-multierror"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"
)

// noEnv is an empty environment, so that the real one never leaks in.
func noEnv(string) (string, bool) { return "", false }

func envOf(kv map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := kv[k]
		return v, ok
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "agent.yaml")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

func TestShippedYAMLListsEveryKeyWithItsDefault(t *testing.T) {
	path := writeFile(t, string(ShippedYAML))
	cfg, err := Load(LoadOptions{File: path, Env: noEnv})
	require.NoError(t, err)
	require.Equal(t, DefaultConfig().Settings(), cfg.Settings())
	for _, key := range Keys() {
		require.True(t, strings.HasPrefix(cfg.Origin(key), path),
			"configs/agent.yaml must set %s explicitly (origin %q)", key, cfg.Origin(key))
	}
}

func TestDumpRoundTrips(t *testing.T) {
	// What `config dump` prints must load back to the same configuration.
	cfg := DefaultConfig()
	cfg.Serve.Interval = 90 * time.Minute
	cfg.Logs.Paths = []string{"/var/log/samba/log.*"}
	cfg.ClientProfiles = []ClientProfile{mustPreset(t, "windows-7")}
	out, err := cfg.YAML()
	require.NoError(t, err)
	require.Contains(t, string(out), "interval: 1h30m\n")
	again, err := Load(LoadOptions{File: writeFile(t, string(out)), Env: noEnv})
	require.NoError(t, err)
	require.Equal(t, cfg.Settings(), again.Settings())
}

func TestDefaultFileIsOptionalButExplicitFileIsNot(t *testing.T) {
	old := defaultFile
	defaultFile = filepath.Join(t.TempDir(), "absent.yaml")
	t.Cleanup(func() { defaultFile = old })

	cfg, err := Load(LoadOptions{Env: noEnv})
	require.NoError(t, err)
	require.Equal(t, "", cfg.Source)
	require.Equal(t, DefaultConfig().Settings(), cfg.Settings())

	_, err = Load(LoadOptions{File: defaultFile, Env: noEnv})
	require.ErrorContains(t, err, "absent.yaml")
	require.ErrorContains(t, err, "no such file")

	// The default file is read when present.
	require.NoError(t, os.WriteFile(defaultFile, []byte("share: data\n"), 0o600))
	cfg, err = Load(LoadOptions{Env: noEnv})
	require.NoError(t, err)
	require.Equal(t, "data", cfg.Share)
	require.Equal(t, defaultFile, cfg.Source)
}

func TestPrecedence(t *testing.T) {
	file := "timeout: 10s\nserve:\n  interval: 1m\n"
	tests := []struct {
		name      string
		file      string
		env       map[string]string
		args      []string
		want      time.Duration
		wantOrig  string
		interval  time.Duration
		wantListA bool
	}{
		{name: "default", want: 5 * time.Second, wantOrig: "default", interval: 30 * time.Second},
		{name: "file over default", file: file, want: 10 * time.Second, wantOrig: "(line 1)", interval: time.Minute},
		{name: "env over file", file: file, env: map[string]string{"SMB_AGENT_TIMEOUT": "20s"},
			want: 20 * time.Second, wantOrig: "environment SMB_AGENT_TIMEOUT", interval: time.Minute},
		{name: "flag over env", file: file, env: map[string]string{"SMB_AGENT_TIMEOUT": "20s"},
			args: []string{"--timeout", "30s"}, want: 30 * time.Second, wantOrig: "flag --timeout", interval: time.Minute},
		{name: "unset flag does not override", file: file, env: map[string]string{"SMB_AGENT_TIMEOUT": "20s"},
			args: []string{"--share", "x"}, want: 20 * time.Second, wantOrig: "environment SMB_AGENT_TIMEOUT", interval: time.Minute},
		{name: "nested env key", file: file, env: map[string]string{"SMB_AGENT_SERVE_INTERVAL": "2m"},
			want: 10 * time.Second, wantOrig: "(line 1)", interval: 2 * time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
			AddCommonFlags(fs)
			require.NoError(t, fs.Parse(tc.args))
			opts := LoadOptions{Flags: fs, Env: envOf(tc.env)}
			if tc.file != "" {
				opts.File = writeFile(t, tc.file)
			} else {
				old := defaultFile
				defaultFile = filepath.Join(t.TempDir(), "none.yaml")
				t.Cleanup(func() { defaultFile = old })
			}
			cfg, err := Load(opts)
			require.NoError(t, err)
			require.Equal(t, tc.want, cfg.Timeout)
			require.Contains(t, cfg.Origin("timeout"), tc.wantOrig)
			require.Equal(t, tc.interval, cfg.Serve.Interval)
		})
	}
}

func TestEveryKindFromEnvironmentAndFlags(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	AddCommonFlags(fs)
	AddOutputFlags(fs)
	AddServeFlags(fs)
	AddFixFlags(fs)
	fs.StringSlice("log-path", nil, "")
	fs.String("file", "", "") // as `agent diagnose` defines it
	require.NoError(t, fs.Parse([]string{
		"--file", "scored/flag.txt", "--share", "files", "--json", "--listen", "0.0.0.0:9000", "--listen-public",
		"--restart-cmd", "systemctl restart 'smbd.service'", "--allow-smb1",
		"--log-path", "/a.log,/b.log", "--client", "windows-7", "--user", "scorer",
	}))
	env := map[string]string{
		"SMB_AGENT_SERVE_JITTER":                    "0.25",
		"SMB_AGENT_LOGS_MAX_BYTES":                  "1MiB",
		"SMB_AGENT_CREDENTIALS_GUEST":               "yes",
		"SMB_AGENT_SERVE_SCORING_POINTS_PER_CHECK":  "4.2",
		"SMB_AGENT_SERVE_SCORING_CHECK_INTERVAL":    "2m",
		"SMB_AGENT_OUTPUT_COLOR":                    "NEVER",
		"SMB_AGENT_LOGS_JOURNAL":                    "off",
		"SMB_AGENT_CREDENTIALS_PASSWORD_FILE":       "/run/secret",
		"SMB_AGENT_FIX_RESTART_FALLBACK_CMD":        "",
		"SMB_AGENT_REMOTE_CLIENT_IP":                "10.0.0.7",
		"SMB_AGENT_SAMBA_VERSION":                   "Version 4.17.12-Debian",
		"SMB_AGENT_CLIENT_DIALECTS":                 "nt1-smb2_02",
		"SMB_AGENT_CLIENT":                          "pysmb", // the flag wins
		"SMB_AGENT_CREDENTIALS_USER":                "ignored",
		"SMB_AGENT_LOGS_PATHS":                      "/ignored",
		"SMB_AGENT_SERVE_SCORING_POINTS_PER_CHECKX": "not a key, ignored",
	}
	cfg, err := Load(LoadOptions{File: writeFile(t, ""), Flags: fs, Env: envOf(env)})
	require.NoError(t, err)
	require.True(t, cfg.Output.JSON)
	require.Equal(t, "never", cfg.Output.Color)
	require.Equal(t, "0.0.0.0:9000", cfg.Serve.Listen)
	require.True(t, cfg.Serve.ListenPublic)
	require.Equal(t, "systemctl restart 'smbd.service'", cfg.Fix.RestartCmd)
	require.Equal(t, "", cfg.Fix.RestartFallbackCmd)
	require.True(t, cfg.Fix.AllowSMB1)
	require.Equal(t, []string{"/a.log", "/b.log"}, cfg.Logs.Paths)
	require.Equal(t, "windows-7", cfg.Client)
	require.Equal(t, "scorer", cfg.Credentials.User)
	require.Equal(t, 0.25, cfg.Serve.Jitter)
	require.Equal(t, int64(1<<20), cfg.Logs.MaxBytes)
	require.True(t, cfg.Credentials.Guest)
	require.False(t, cfg.Logs.Journal)
	require.Equal(t, 4.2, cfg.Serve.Scoring.PointsPerCheck)
	require.Equal(t, 2*time.Minute, cfg.Serve.Scoring.CheckInterval)
	require.Equal(t, "/run/secret", cfg.Credentials.PasswordFile)
	require.Equal(t, "scored/flag.txt", cfg.File.Path)
	require.Equal(t, "10.0.0.7", cfg.RemoteClientIP)
	require.Equal(t, "Version 4.17.12-Debian", cfg.SambaVersion)

	clients, err := cfg.Clients()
	require.NoError(t, err)
	require.Len(t, clients, 1)
	require.Equal(t, "windows-7:NT1-SMB2_02", clients[0].Name)
	require.Equal(t, []string{"NT LM 0.12", "SMB 2.002"}, clients[0].SMB1Offer)
}

func TestFileValuesKeepTheirText(t *testing.T) {
	// YAML would read 4.10 as the float 4.1 and "yes" as a string; the raw
	// text is what counts.
	cfg, err := Load(LoadOptions{Env: noEnv, File: writeFile(t, `
samba_version: 4.10
credentials:
  guest: yes
  user: 0123
share: 'Scored Share'
logs:
  max_bytes: 1000
  paths: [/var/log/samba/log.smbd, "/var/log/samba/log.*"]
serve:
  jitter: .5
fix:
  restart_cmd: sh -c 'systemctl restart smbd || service smbd restart'
`)})
	require.NoError(t, err)
	require.Equal(t, "4.10", cfg.SambaVersion)
	require.True(t, cfg.Credentials.Guest)
	require.Equal(t, "0123", cfg.Credentials.User)
	require.Equal(t, "Scored Share", cfg.Share)
	require.Equal(t, int64(1000), cfg.Logs.MaxBytes)
	require.Equal(t, []string{"/var/log/samba/log.smbd", "/var/log/samba/log.*"}, cfg.Logs.Paths)
	require.Equal(t, 0.5, cfg.Serve.Jitter)
	argv, err := SplitCommand(cfg.Fix.RestartCmd)
	require.NoError(t, err)
	require.Equal(t, []string{"sh", "-c", "systemctl restart smbd || service smbd restart"}, argv)
}

func TestNullValueKeepsDefault(t *testing.T) {
	cfg, err := Load(LoadOptions{Env: noEnv, File: writeFile(t, "share:\nserve:\nfix:\n  restart_cmd: ~\n")})
	require.NoError(t, err)
	require.Equal(t, DefaultConfig().Settings(), cfg.Settings())
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		file string
		env  map[string]string
		args []string
		want []string // substrings of the one-line error, FILE stands for the path
	}{
		{name: "duration without unit", file: "serve:\n  interval: 30\n",
			want: []string{`FILE: serve.interval: invalid duration "30": missing unit`, "(line 2)"}},
		{name: "duration with unknown unit", file: "timeout: 5sec\n",
			want: []string{`FILE: timeout: invalid duration "5sec": unknown unit "sec"`}},
		{name: "unknown key with suggestion", file: "serve:\n  intervall: 30s\n",
			want: []string{`FILE: serve.intervall: unknown key (did you mean "serve.interval"?) (line 2)`}},
		{name: "upper case key", file: "Target: 127.0.0.1:445\n",
			want: []string{`FILE: Target: unknown key (did you mean "target"? keys are lower case)`}},
		{name: "unknown top-level key", file: "frobnicate: 1\n",
			want: []string{`FILE: frobnicate: unknown key (line 1)`}},
		{name: "list where a value belongs", file: "timeout: [1, 2]\n",
			want: []string{"FILE: timeout: must be a single value, not a list"}},
		{name: "value where a section belongs", file: "serve: 5\n",
			want: []string{`FILE: serve: must be a mapping of keys, not the value "5"`}},
		{name: "list of non-strings", file: "logs:\n  paths: [[a]]\n",
			want: []string{"FILE: logs.paths[0]: must be a string, not a list"}},
		{name: "duplicate key", file: "share: a\nshare: b\n",
			want: []string{"FILE: share: duplicate key (first set on line 1) (line 2)"}},
		{name: "invalid YAML", file: "serve:\n  interval: [\n",
			want: []string{"FILE: invalid YAML:"}},
		{name: "top level not a mapping", file: "- a\n- b\n",
			want: []string{"FILE: the top level must be a mapping"}},
		{name: "bad boolean", file: "fix:\n  allow_smb1: maybe\n",
			want: []string{`FILE: fix.allow_smb1: invalid boolean "maybe" (want true or false)`}},
		{name: "bad number", file: "serve:\n  jitter: lots\n",
			want: []string{`FILE: serve.jitter: invalid number "lots"`}},
		{name: "jitter out of range", file: "serve:\n  jitter: 1.5\n",
			want: []string{"FILE: serve.jitter: must be a fraction in [0, 0.5], got 1.5 (line 2)"}},
		{name: "bad size", file: "logs:\n  max_bytes: -3\n",
			want: []string{`FILE: logs.max_bytes: invalid size "-3"`}},
		{name: "zero size", file: "logs:\n  max_bytes: 0\n",
			want: []string{"FILE: logs.max_bytes: must be more than 0"}},
		{name: "bad dialect", file: "client_dialects: SMB4-SMB3\n",
			want: []string{`FILE: client_dialects: dialect range "SMB4-SMB3": unknown dialect "SMB4"`}},
		{name: "dialect range reversed", file: "client_dialects: SMB3_11-NT1\n",
			want: []string{"SMB3_11 is newer than NT1"}},
		{name: "target without port", file: "target: localhost\n",
			want: []string{`FILE: target: invalid address "localhost" (want HOST:PORT`}},
		{name: "target with bad port", file: "target: host:99999\n",
			want: []string{"port must be a number from 1 to 65535"}},
		{name: "public listen refused", file: "serve:\n  listen: 0.0.0.0:9445\n",
			want: []string{"FILE: serve.listen: 0.0.0.0:9445 is not a loopback address", "--listen-public", "(line 2)"}},
		{name: "listen on every address refused", args: []string{"--listen", ":9445"},
			want: []string{"flag --listen: serve.listen: :9445 is not a loopback address (every address)"}},
		{name: "unknown client", file: "client: windows-95\n",
			want: []string{`FILE: client: unknown client profile "windows-95" (known: pysmb, impacket`}},
		{name: "bad sha256", file: "share: s\nfile:\n  path: flag.txt\n  sha256: xyz\n",
			want: []string{`FILE: file.sha256: invalid SHA-256 "xyz"`}},
		{name: "file without share", file: "file:\n  path: flag.txt\n",
			want: []string{"FILE: file.path: set, but share is empty"}},
		{name: "bad remote ip", file: "remote_client_ip: 10.0.0\n",
			want: []string{`FILE: remote_client_ip: invalid IP address "10.0.0"`}},
		{name: "scoring half set", file: "serve:\n  scoring:\n    points_per_check: 4.2\n",
			want: []string{"serve.scoring.check_interval: must be set when serve.scoring.points_per_check is"}},
		{name: "unterminated quote in command", file: "fix:\n  reload_cmd: smbcontrol 'smbd reload-config\n",
			want: []string{"FILE: fix.reload_cmd: command \"smbcontrol 'smbd reload-config\" has an unterminated single quote"}},
		{name: "empty required command", file: "fix:\n  restart_cmd: '  '\n",
			want: []string{"FILE: fix.restart_cmd: must not be empty"}},
		{name: "relative backup dir", file: "fix:\n  backup_dir: backups\n",
			want: []string{`FILE: fix.backup_dir: must be an absolute path, got "backups"`}},
		{name: "bad color", file: "output:\n  color: rainbow\n",
			want: []string{`FILE: output.color: invalid value "rainbow" (want auto, always or never)`}},
		{name: "bad samba version", file: "samba_version: four\n",
			want: []string{`FILE: samba_version: invalid Samba version "four"`}},
		{name: "zero timeout", file: "timeout: 0s\n",
			want: []string{"FILE: timeout: must be more than 0, got 0s"}},
		{name: "env error names the variable", env: map[string]string{"SMB_AGENT_TIMEOUT": "abc"},
			want: []string{`environment SMB_AGENT_TIMEOUT: timeout: invalid duration "abc"`}},
		{name: "flag error names the flag", args: []string{"--timeout", "5"},
			want: []string{`flag --timeout: timeout: invalid duration "5": missing unit`}},
		{name: "several errors on one line", file: "timeout: x\nserve:\n  jitter: 2\nbogus: 1\n",
			want: []string{`timeout: invalid duration "x"`, "; ", "serve.jitter: must be a fraction", "bogus: unknown key"}},
		{name: "client unknown field", file: "clients:\n  - name: a\n    min_dialect: NT1\n    max_dialect: NT1\n    signing: never\n    encryption: none\n    auth: ntlmv1\n    signingg: x\n",
			want: []string{`FILE: clients[0].signingg: unknown field (did you mean "signing"?) (line 8)`}},
		{name: "client bad values", file: "clients:\n  - name: a\n    min_dialect: SMB3_11\n    max_dialect: SMB2_02\n    signing: sometimes\n    encryption: none\n    auth: ntlmv2\n",
			want: []string{"FILE: clients[0].min_dialect: SMB3_11 is newer than max_dialect SMB2_02 (line 3)",
				`FILE: clients[0].signing: invalid value "sometimes" (want never|if-required|desired|required) (line 5)`}},
		{name: "client encryption impossible", file: "clients:\n  - preset: windows-7\n    encryption: required\n",
			want: []string{"FILE: clients[0].encryption: required, but max_dialect SMB2_10 has no encryption"}},
		{name: "client unknown preset", file: "clients:\n  - name: x\n    preset: os2\n",
			want: []string{`FILE: clients[0].preset: unknown preset "os2"`}},
		{name: "client duplicate names", file: "clients:\n  - preset: pysmb\n  - preset: pysmb\n",
			want: []string{`FILE: clients[1].name: duplicate profile name "pysmb" (also clients[0])`}},
		{name: "clients not a list", file: "clients: pysmb\n",
			want: []string{`FILE: clients: must be a list of client profiles, not the value "pysmb"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
			AddCommonFlags(fs)
			AddServeFlags(fs)
			require.NoError(t, fs.Parse(tc.args))
			path := writeFile(t, tc.file)
			cfg, err := Load(LoadOptions{File: path, Flags: fs, Env: envOf(tc.env)})
			require.Error(t, err)
			require.Nil(t, cfg)
			msg := err.Error()
			require.NotContains(t, msg, "\n", "errors must be one line")
			for _, w := range tc.want {
				require.Contains(t, msg, strings.ReplaceAll(w, "FILE", path))
			}
			var me *multierror.Error
			require.ErrorAs(t, err, &me)
		})
	}
}

func TestListenPublicAllowsAnyAddress(t *testing.T) {
	for _, listen := range []string{"127.0.0.1:9445", "[::1]:9445", "localhost:1"} {
		cfg, err := Load(LoadOptions{Env: noEnv, File: writeFile(t, "serve:\n  listen: '"+listen+"'\n")})
		require.NoError(t, err, listen)
		require.Equal(t, listen, cfg.Serve.Listen)
	}
	cfg, err := Load(LoadOptions{Env: noEnv, File: writeFile(t, "serve:\n  listen: 0.0.0.0:9445\n  listen_public: true\n")})
	require.NoError(t, err)
	require.True(t, cfg.Serve.ListenPublic)
}

func TestValidationErrorFields(t *testing.T) {
	path := writeFile(t, "serve:\n  interval: 30\n")
	_, err := Load(LoadOptions{File: path, Env: noEnv})
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, ValidationError{Source: path, Line: 2, Key: "serve.interval",
		Problem: `invalid duration "30": missing unit (e.g. 30s, 5m)`}, *ve)
}

func TestPassword(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), mode))
		require.NoError(t, os.Chmod(p, mode))
		return p
	}
	tests := []struct {
		name    string
		file    string
		env     map[string]string
		want    string
		wantErr string
	}{
		{name: "nothing configured", want: ""},
		{name: "one trailing newline dropped", file: write("a", "s3cret\n", 0o600), want: "s3cret"},
		{name: "CRLF dropped", file: write("b", "s3cret\r\n", 0o600), want: "s3cret"},
		{name: "only one newline dropped", file: write("c", "s3cret\n\n", 0o600), want: "s3cret\n"},
		{name: "no newline", file: write("d", " spaced pw ", 0o400), want: " spaced pw "},
		{name: "environment wins", file: write("e", "fromfile\n", 0o600),
			env: map[string]string{EnvPassword: "fromenv"}, want: "fromenv"},
		{name: "empty environment value still wins", file: write("f", "fromfile\n", 0o600),
			env: map[string]string{EnvPassword: ""}, want: ""},
		{name: "world-readable refused", file: write("g", "pw\n", 0o644), wantErr: "has mode 0644; a secret file must be readable by its owner only (mode 0600 or 0400): run chmod 600"},
		{name: "group-readable refused", file: write("g2", "pw\n", 0o640), wantErr: "has mode 0640"},
		{name: "FIFO refused without blocking", file: mkfifo(t, filepath.Join(dir, "fifo")), wantErr: "is a FIFO (named pipe), not a regular file"},
		{name: "missing file", file: filepath.Join(dir, "nope"), wantErr: "credentials.password_file: open"},
		{name: "directory refused", file: dir, wantErr: "is a directory, not a regular file"},
		{name: "huge file refused", file: write("h", strings.Repeat("x", maxPasswordFile+1), 0o600), wantErr: "is too large (65537 bytes; the limit is 65536)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.lookupEnv = envOf(tc.env)
			cfg.Credentials.PasswordFile = tc.file
			pw, err := cfg.Password()
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, pw)
		})
	}
}

func TestPasswordNeverInOutput(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	require.NoError(t, os.WriteFile(pwFile, []byte("file-Secret-9f3\n"), 0o600))
	cfgPath := writeFile(t, "credentials:\n  user: scorer\n  password_file: "+pwFile+"\n")
	for _, env := range []map[string]string{nil, {EnvPassword: "env-Secret-7a1"}} {
		cfg, err := Load(LoadOptions{File: cfgPath, Env: envOf(env)})
		require.NoError(t, err)
		pw, err := cfg.Password()
		require.NoError(t, err)
		require.Contains(t, []string{"file-Secret-9f3", "env-Secret-7a1"}, pw)
		js, err := json.Marshal(cfg)
		require.NoError(t, err)
		for _, out := range []string{cfg.String(), string(js)} {
			require.NotContains(t, out, pw)
			require.Contains(t, out, "scorer")
		}
	}
}

func TestKeysAndEnvNames(t *testing.T) {
	keys := Keys()
	require.Equal(t, "smb_conf", keys[0])
	seen := map[string]bool{}
	for _, k := range keys {
		require.False(t, seen[k], "duplicate key %s", k)
		seen[k] = true
		v, ok := DefaultConfig().Value(k)
		require.True(t, ok, k)
		require.NotNil(t, v, k)
	}
	for key, want := range map[string]string{
		"timeout":                      "SMB_AGENT_TIMEOUT",
		"serve.scoring.check_interval": "SMB_AGENT_SERVE_SCORING_CHECK_INTERVAL",
		"credentials.password_file":    "SMB_AGENT_CREDENTIALS_PASSWORD_FILE",
	} {
		require.Equal(t, want, EnvName(key))
	}
	_, ok := DefaultConfig().Value("no.such.key")
	require.False(t, ok)
}

func TestValueRendersLikeTheFile(t *testing.T) {
	cfg := DefaultConfig()
	for key, want := range map[string]any{
		"timeout":                      "5s",
		"logs.since":                   "1h",
		"serve.jitter":                 0.1,
		"logs.max_bytes":               int64(4 << 20),
		"logs.paths":                   []string{},
		"fix.allow_smb1":               false,
		"serve.listen":                 "127.0.0.1:9445",
		"clients":                      []ClientProfile{},
		"serve.scoring.check_interval": "0s",
	} {
		got, ok := cfg.Value(key)
		require.True(t, ok)
		require.Equal(t, want, got, key)
	}
}

func TestFlagsHelpers(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	AddCommonFlags(fs)
	AddOutputFlags(fs)
	AddServeFlags(fs)
	AddFixFlags(fs)
	keys := Keys()
	mapping := DefaultFlagKeys()
	for name, key := range mapping {
		require.Contains(t, keys, key, "flag --%s", name)
		require.NotEqual(t, "clients", key)
	}
	for _, name := range []string{"smb-conf", "samba-version", "target", "timeout", "user", "password-file",
		"domain", "share", "client", "client-dialects", "json", "listen", "listen-public", "restart-cmd",
		"reload-cmd", "allow-smb1"} {
		f := fs.Lookup(name)
		require.NotNil(t, f, name)
		require.Contains(t, []string{"", "false"}, f.DefValue, "--%s must not show a default of its own", name)
		require.Contains(t, mapping, name)
	}
	// Every defined flag is bound.
	fs.VisitAll(func(f *pflag.Flag) { require.Contains(t, mapping, f.Name) })
	// The mapping returned is a copy.
	mapping["target"] = "x"
	require.Equal(t, "target", DefaultFlagKeys()["target"])
}

func TestFlagBoundToUnknownKey(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	fs.String("weird", "", "")
	require.NoError(t, fs.Parse([]string{"--weird", "1"}))
	_, err := Load(LoadOptions{File: writeFile(t, ""), Flags: fs, FlagKeys: map[string]string{"weird": "nope"}, Env: noEnv})
	require.ErrorContains(t, err, `flag --weird is bound to unknown key "nope"`)
}

func TestSizesAndDurations(t *testing.T) {
	for in, want := range map[string]int64{"10": 10, "4MiB": 4 << 20, "2 KiB": 2048, "1G": 1e9, "7B": 7, "3kb": 3000} {
		got, err := parseSize(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "x", "1.5MiB", "-1", "99999999999GiB"} {
		_, err := parseSize(in)
		require.Error(t, err, in)
	}
	for d, want := range map[time.Duration]string{time.Hour: "1h", 90 * time.Minute: "1h30m",
		5 * time.Minute: "5m", 30 * time.Second: "30s", 0: "0s", 1500 * time.Millisecond: "1.5s"} {
		require.Equal(t, want, FormatDuration(d))
		back, err := parseDuration(want)
		require.NoError(t, err)
		require.Equal(t, d, back)
	}
}

func mustPreset(t *testing.T, name string) ClientProfile {
	t.Helper()
	p, ok := Preset(name)
	require.True(t, ok, name)
	return p
}

func TestColorEnabled(t *testing.T) {
	for _, tc := range []struct {
		color   string
		noColor map[string]string
		tty     bool
		want    bool
	}{
		{"auto", nil, true, true},
		{"auto", nil, false, false},
		{"auto", map[string]string{"NO_COLOR": "1"}, true, false},
		{"auto", map[string]string{"NO_COLOR": ""}, true, true},
		{"always", map[string]string{"NO_COLOR": "1"}, false, true},
		{"never", nil, true, false},
	} {
		cfg := DefaultConfig()
		cfg.Output.Color = tc.color
		cfg.lookupEnv = envOf(tc.noColor)
		require.Equal(t, tc.want, cfg.ColorEnabled(tc.tty), "%+v", tc)
	}
}

func TestValueMarshalsLikePointer(t *testing.T) {
	cfg := DefaultConfig()
	a, err := json.Marshal(cfg)
	require.NoError(t, err)
	b, err := json.Marshal(*cfg)
	require.NoError(t, err)
	require.JSONEq(t, string(a), string(b))
	require.Contains(t, string(a), `"timeout":"5s"`)
}

func FuzzLoadFile(f *testing.F) {
	f.Add(ShippedYAML)
	for _, s := range []string{"serve:\n  interval: 30\n", "clients:\n  - preset: pysmb\n", "a: &x [*x]\n", "- 1\n", "{"} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "agent.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(LoadOptions{File: path, Env: noEnv})
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error: %q", err)
			}
			return
		}
		// Whatever loads must dump and load back the same.
		again, err := Load(LoadOptions{File: writeFuzzFile(t, dir, cfg.String()), Env: noEnv})
		if err != nil {
			t.Fatalf("dump of a valid config does not load: %v\n%s", err, cfg.String())
		}
		if !reflect.DeepEqual(cfg.Settings(), again.Settings()) {
			t.Fatalf("round trip changed the configuration:\n%s\n%s", cfg.String(), again.String())
		}
	})
}

func writeFuzzFile(t *testing.T, dir, content string) string {
	p := filepath.Join(dir, "again.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckHost(t *testing.T) {
	for _, h := range []string{"127.0.0.1", "::1", "fe80::1%eth0", "fe80::1%nosuch", "files.example.org", "FILES-01", "nb_name", "host."} {
		require.NoError(t, CheckHost(h), h)
	}
	for _, h := range []string{"", "a\nb", "a b", "a/b", "\x1b[31mred", "a..b", "fe80::1%", "fe80::1%a\nb", strings.Repeat("a", 64) + ".example", strings.Repeat("a.", 130)} {
		require.Error(t, CheckHost(h), "%q", h)
	}
}

func mkfifo(t *testing.T, path string) string {
	t.Helper()
	require.NoError(t, syscall.Mkfifo(path, 0o600))
	return path
}

// A FIFO, a device or an oversized file given as --config is refused at
// once, saying what it is; open(2) of a FIFO without O_NONBLOCK would
// block until a writer appears.
func TestLoadRefusesANonRegularConfigFile(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	require.NoError(t, os.WriteFile(big, []byte("# "+strings.Repeat("x", maxConfigFile)+"\n"), 0o600))
	for path, want := range map[string]string{
		mkfifo(t, filepath.Join(dir, "fifo")): "is a FIFO (named pipe), not a regular file",
		"/dev/zero":                           "is a character device, not a regular file",
		dir:                                   "is a directory, not a regular file",
		big:                                   "is too large",
	} {
		done := make(chan error, 1)
		go func() { _, err := Load(LoadOptions{File: path, Env: noEnv}); done <- err }()
		select {
		case err := <-done:
			require.ErrorContains(t, err, want, path)
			require.ErrorContains(t, err, "config file: ")
		case <-time.After(30 * time.Second):
			t.Fatalf("Load(%s) blocked", path)
		}
	}
}

// A password file owned by another user is refused even with mode 0600:
// that user chooses what the agent sends.
func TestPasswordFileOwnedByAnotherUserRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another user") // CI runs as root
	}
	p := filepath.Join(t.TempDir(), "pw")
	require.NoError(t, os.WriteFile(p, []byte("planted\n"), 0o600))
	require.NoError(t, os.Chown(p, 65534, 65534))
	cfg := DefaultConfig()
	cfg.lookupEnv = noEnv
	cfg.Credentials.PasswordFile = p
	_, err := cfg.Password()
	require.ErrorContains(t, err, "is owned by uid 65534, not by the user the agent runs as (uid 0)")
}
