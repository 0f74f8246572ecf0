package gather

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/smb-agent/smb-agent/checks"
	"github.com/smb-agent/smb-agent/configs"
	"github.com/smb-agent/smb-agent/configs/safefile"
	"github.com/smb-agent/smb-agent/configs/smbconf"
)

// confReadOptions bound the second read of smb.conf files the loader has
// already accepted: one may have been swapped for a FIFO since.
var confReadOptions = safefile.Options{MaxSize: smbconf.DefaultMaxFileSize}

// Compiled-in defaults of Debian's Samba (`smbd -b`), used when smb.conf
// could not be read at all.
const (
	defaultPIDDir   = "/run/samba"
	defaultSMBPorts = "445 139"
)

// resolveVersion picks the Samba version whose defaults apply: the
// configured samba_version (--samba-version), else what the installed
// smbd (or testparm) says, asked through Gather's runner so the command is
// bounded by Gather's deadline and faked in tests. It returns the version
// and its source.
func resolveVersion(ctx context.Context, cfg *configs.Config, run runFunc, lookPath func(string) (string, error), cache *smbconf.VersionCache) (smbconf.SambaVersion, string, error) {
	if s := strings.TrimSpace(cfg.SambaVersion); s != "" {
		v, err := smbconf.ParseSambaVersion(s)
		src := "config"
		if strings.HasPrefix(cfg.Origin("samba_version"), "flag") {
			src = "--samba-version"
		}
		if err != nil {
			return smbconf.SambaVersion{}, src, fmt.Errorf("samba_version %q: %w", s, err)
		}
		return v, src, nil
	}
	d := smbconf.VersionDetector{
		Run:      func(ctx context.Context, argv []string) ([]byte, error) { return run(ctx, argv[0], argv[1:]...) },
		LookPath: lookPath,
		Cache:    cache,
	}
	v, src, err := d.Detect(ctx)
	if err != nil {
		return v, "", fmt.Errorf("%w (set samba_version to skip)", err)
	}
	return v, src, nil
}

// loadSmbConf loads smb.conf with the version's defaults. On a
// Samba-fatal problem smbconf returns a partial Config with the error; both
// are kept, so the diagnosis can still name the bad line.
func loadSmbConf(path string, v smbconf.SambaVersion) (*smbconf.Config, error) {
	c, err := smbconf.Load(path, smbconf.LoadOptions{Version: v})
	if err != nil {
		return c, fmt.Errorf("load %s: %w", path, err)
	}
	return c, nil
}

// statFiles stats smb.conf and its includes: their modification times
// against smbd's start time say whether smbd runs with an older config.
func statFiles(paths []string) []checks.FileStat {
	out := make([]checks.FileStat, 0, len(paths))
	for _, p := range paths {
		fs := checks.FileStat{Path: p}
		fi, err := os.Stat(p)
		if err != nil {
			fs.Err = err.Error()
		} else {
			fs.ModTime, fs.Size = fi.ModTime(), fi.Size()
		}
		out = append(out, fs)
	}
	return out
}

// smbParams are the smb.conf values the other gatherers need.
type smbParams struct {
	PIDDir      string
	LogFile     string // as written (%-macros unexpanded); "" = compiled-in default
	LogLevel    string
	LogLevelSet bool
	LogLevelAt  string
	SMBPorts    []int
}

// paramsOf reads them from the effective config; a nil Config gives the
// compiled-in defaults.
func paramsOf(c *smbconf.Config) smbParams {
	p := smbParams{PIDDir: defaultPIDDir}
	ports := defaultSMBPorts
	if c != nil {
		if v, ok := c.Lookup("global", "pid directory"); ok && strings.TrimSpace(v.Printed) != "" {
			p.PIDDir = v.Printed
		}
		if v, ok := c.Lookup("global", "log file"); ok {
			p.LogFile = strings.TrimSpace(v.Printed)
		}
		p.LogLevel, p.LogLevelSet, p.LogLevelAt = confLogLevel(c)
	}
	p.SMBPorts = parsePorts(ports)
	if c != nil {
		// "smb ports" up to 4.22, "server smb transports" from 4.23.
		p.SMBPorts = c.SMBTCPPorts()
	}
	return p
}

// parsePorts reads `smb ports` ("445 139"; Samba splits on blanks and
// commas) and keeps valid port numbers.
func parsePorts(s string) []int {
	var out []int
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' }) {
		n, err := strconv.Atoi(f)
		if err == nil && n > 0 && n < 65536 {
			out = append(out, n)
		}
	}
	return out
}

// pidFilePaths are where smbd writes its pid, most likely first:
// `pid directory`/smbd.pid, which Samba 4.17 uses whatever the -s config
// (verified: an smbd started with -s /tmp/x/my.conf wrote pid/smbd.pid;
// source3/smbd/server.c pidfile_create(lp_pid_directory(), "smbd")), then
// smbd-<config basename>.pid, the name older releases gave the pid file of
// an smbd with a non-default config (source3/lib/pidfile.c).
func pidFilePaths(dir, confPath string) []string {
	out := []string{filepath.Join(dir, "smbd.pid")}
	if confPath != "" && filepath.Clean(confPath) != defaultSmbConf {
		out = append(out, filepath.Join(dir, "smbd-"+filepath.Base(confPath)+".pid"))
	}
	return out
}

// pickPIDFile returns the first of the candidates that exists, else the
// first (so that the error names the expected file).
func pickPIDFile(cands []string) string {
	for _, c := range cands {
		if _, err := os.Stat(c); err == nil {
			return c
		}
	}
	return cands[0]
}

// confLogLevel finds the `log level` (or `debuglevel`) smbd reads from the
// config: the last assignment in [global], includes in place. The model
// cannot give it through Lookup: testparm runs lp_set_cmdline("log level",
// "1"), so its view (and smbconf's) ignores the file and always says 1,
// which is exactly the trap (test/ TestGatherDefaultLogLevelIsTooLow). The
// loader records each such assignment as a warning with its file and
// line, in load order; the value is read back from that line. Without such
// a warning the files are scanned for a [global] assignment.
func confLogLevel(c *smbconf.Config) (value string, set bool, at string) {
	var file string
	line := 0
	for _, w := range c.Warnings {
		if !strings.Contains(w.Msg, "ignored by testparm") || w.Line <= 0 {
			continue
		}
		if name, err := strconv.QuotedPrefix(w.Msg); err == nil {
			if n, err := strconv.Unquote(name); err == nil && isLogLevelName(n) {
				file, line = w.File, w.Line
			}
		}
	}
	if line > 0 {
		if src, err := safefile.ReadFile(file, confReadOptions); err == nil {
			for _, l := range smbconf.Lex(src) {
				if l.Kind == smbconf.LineParam && l.FirstLine == line {
					return strings.TrimSpace(l.Value), true, fmt.Sprintf("%s:%d", file, line)
				}
			}
		}
	}
	for _, f := range c.Files() {
		src, err := safefile.ReadFile(f, confReadOptions)
		if err != nil {
			continue
		}
		global := f == c.Files()[0] // an included file continues where it is included: assume [global]
		for _, l := range smbconf.Lex(src) {
			switch l.Kind {
			case smbconf.LineSection:
				global = strings.EqualFold(strings.TrimSpace(l.Section), "global")
			case smbconf.LineParam:
				if global && isLogLevelName(l.Name) {
					value, set, at = strings.TrimSpace(l.Value), true, fmt.Sprintf("%s:%d", f, l.FirstLine)
				}
			}
		}
	}
	return value, set, at
}

// isLogLevelName: "log level" and its synonym "debuglevel", spelled any
// way loadparm accepts (case and blanks ignored).
func isLogLevelName(n string) bool {
	k := strings.ToLower(strings.Join(strings.Fields(n), ""))
	return k == "loglevel" || k == "debuglevel"
}

const (
	versionName = "the Samba version"
	smbConfName = "smb.conf"
)

// versionGatherer finds the Samba version whose defaults apply. A wedged
// version command leaves a third of the local budget to load smb.conf
// with the generated table's defaults.
type versionGatherer struct{}

func (versionGatherer) Name() string                  { return versionName }
func (versionGatherer) Deadline(e *env) time.Duration { return e.localBudget * 2 / 3 }
func (versionGatherer) Failed(*checks.Facts, string)  {}

func (versionGatherer) Gather(ctx context.Context, e *env) (func(*checks.Facts), error) {
	v, src, err := resolveVersion(ctx, e.Config, e.run, e.LookPath, e.VersionCache)
	return func(f *checks.Facts) {
		f.SambaVersion, f.SambaVersionSource = v, src
		e.version, e.versionSource = v, src
	}, err
}

// smbConfGatherer loads smb.conf with the version's defaults and stats it
// and every file it includes.
type smbConfGatherer struct{}

func (smbConfGatherer) Name() string { return smbConfName }

// Deadline: what the version left of the local budget, at least a third.
func (smbConfGatherer) Deadline(e *env) time.Duration {
	return max(e.localBudget-time.Since(e.began), e.localBudget/3)
}

func (smbConfGatherer) Failed(f *checks.Facts, why string) {
	f.ConfigErr = errors.New("not loaded: " + why)
}

func (smbConfGatherer) Gather(_ context.Context, e *env) (func(*checks.Facts), error) {
	path := e.Config.SMBConf
	conf, err := loadSmbConf(path, e.version)
	files := []string{path}
	if conf != nil {
		files = conf.Files()
	}
	stats := statFiles(files)
	return func(f *checks.Facts) {
		f.Config, f.ConfigErr, f.ConfigFiles = conf, err, stats
		e.conf, e.params = conf, paramsOf(conf)
	}, err
}
