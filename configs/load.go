package configs

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-multierror"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/smb-agent/smb-agent/configs/procenv"
	"github.com/smb-agent/smb-agent/configs/safefile"
)

// maxConfigFile bounds the agent configuration file: the example with
// every key commented is a few kilobytes, and a mistaken path (a log, a
// device) must not be read whole.
const maxConfigFile = 1 << 20

// defaultFile is DefaultFile; tests point it elsewhere.
var defaultFile = DefaultFile

// LoadOptions says where Load reads from.
type LoadOptions struct {
	// File is the --config value; "" reads DefaultFile if it exists.
	File string
	// Flags are the command's flags; only flags the user set (Changed)
	// override the file and the environment.
	Flags *pflag.FlagSet
	// FlagKeys maps flag names to keys; nil means DefaultFlagKeys().
	FlagKeys map[string]string
	// Env looks up environment variables; nil means os.LookupEnv.
	Env func(string) (string, bool)
}

// ValidationError is one problem with one key. Load returns all of them
// together; Error() of the aggregate is a single line.
type ValidationError struct {
	// Source is where the bad value came from: the file path,
	// "environment SMB_AGENT_X" or "flag --x"; "" for a default.
	Source string
	// Line is the line in Source, for files; 0 when unknown.
	Line int
	// Key is the configuration key, e.g. "serve.interval".
	Key     string
	Problem string
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	if e.Source != "" {
		b.WriteString(e.Source)
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Problem)
	if e.Line > 0 {
		fmt.Fprintf(&b, " (line %d)", e.Line)
	}
	return b.String()
}

// origin records where a key's value came from.
type origin struct {
	source string // as in ValidationError.Source
	line   int
}

func (o origin) String() string {
	if o.line > 0 {
		return fmt.Sprintf("%s (line %d)", o.source, o.line)
	}
	return o.source
}

// oneLine formats several errors as one line, so that the command layer can
// print "agent: ..." once and exit 3.
func oneLine(errs []error) string {
	parts := make([]string, len(errs))
	for i, e := range errs {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// Load reads the configuration: defaults, then the file, then SMB_AGENT_*
// variables, then the flags the user set. It returns every problem found,
// as a *multierror.Error whose message is one line; each wrapped error is a
// *ValidationError (or a file-level error).
func Load(opts LoadOptions) (*Config, error) {
	env := opts.Env
	if env == nil {
		env = procenv.Lookup
	}
	flagKeys := opts.FlagKeys
	if flagKeys == nil {
		flagKeys = DefaultFlagKeys()
	}

	cfg := DefaultConfig()
	cfg.lookupEnv = env
	cfg.origins = map[string]string{}
	origins := map[string]origin{}
	var errs []error

	// Viper holds the layers. The file layer is fed from our own strict
	// walk of the YAML (unknown keys, wrong shapes, line numbers), which
	// viper's lenient, case-folding reader cannot give.
	v := viper.New()
	for _, b := range cfg.bindings() {
		if b.key != "clients" {
			v.SetDefault(b.key, deref(b.ptr))
		}
	}

	path, explicit := opts.File, opts.File != ""
	if !explicit {
		path = defaultFile
	}
	var fv *fileValues
	data, err := safefile.ReadFile(path, safefile.Options{MaxSize: maxConfigFile, AllowDevNull: true})
	switch {
	case err == nil:
		cfg.Source = path
		var ferrs []error
		fv, ferrs = parseFile(path, data)
		errs = append(errs, ferrs...)
		if err := v.MergeConfigMap(nest(fv.raw)); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", path, err))
		}
		for key, line := range fv.lines {
			origins[key] = origin{source: path, line: line}
		}
	case errors.Is(err, fs.ErrNotExist) && !explicit:
		// The default file is optional: defaults, environment and flags
		// are a complete configuration.
	default:
		return nil, fmt.Errorf("config file: %w", err)
	}

	for _, b := range cfg.bindings() {
		if b.key == "clients" {
			continue
		}
		name := EnvName(b.key)
		if val, ok := env(name); ok {
			v.Set(b.key, val)
			origins[b.key] = origin{source: "environment " + name}
		}
	}

	if opts.Flags != nil {
		names := make([]string, 0, len(flagKeys))
		for name := range flagKeys {
			names = append(names, name)
		}
		slices.Sort(names) // deterministic error order
		for _, name := range names {
			key := flagKeys[name]
			f := opts.Flags.Lookup(name)
			if f == nil || !f.Changed {
				continue
			}
			if !slices.Contains(Keys(), key) || key == "clients" {
				errs = append(errs, fmt.Errorf("flag --%s is bound to unknown key %q", name, key))
				continue
			}
			if sv, ok := f.Value.(pflag.SliceValue); ok {
				v.Set(key, sv.GetSlice())
			} else {
				v.Set(key, f.Value.String())
			}
			origins[key] = origin{source: "flag --" + name}
		}
	}

	for _, b := range cfg.bindings() {
		if b.key == "clients" {
			continue
		}
		if err := assign(b.ptr, v.Get(b.key)); err != nil {
			o := origins[b.key]
			errs = append(errs, &ValidationError{Source: o.source, Line: o.line, Key: b.key, Problem: err.Error()})
		}
	}
	if fv != nil && fv.clientsSet {
		cfg.ClientProfiles = nil
		for i, ce := range fv.clients {
			p, perrs := ce.resolve()
			for _, pe := range perrs {
				field, problem := "", pe.Error()
				var fe fieldError
				if errors.As(pe, &fe) {
					field, problem = fe.field, fe.problem
				}
				line := ce.line
				if l, ok := ce.lines[field]; ok {
					line = l
				}
				key := fmt.Sprintf("clients[%d]", i)
				if field != "" {
					key += "." + field
				}
				errs = append(errs, &ValidationError{Source: path, Line: line, Key: key, Problem: problem})
			}
			cfg.ClientProfiles = append(cfg.ClientProfiles, p)
		}
	}

	for key, o := range origins {
		cfg.origins[key] = o.String()
	}
	for _, ve := range cfg.validate() {
		if ve.Source == "" {
			o := origins[ve.Key]
			if fv != nil {
				if line, ok := fv.clientLine(ve.Key); ok {
					o = origin{source: path, line: line}
				}
			}
			ve.Source, ve.Line = o.source, o.line
		}
		errs = append(errs, ve)
	}
	if len(errs) > 0 {
		return nil, &multierror.Error{Errors: errs, ErrorFormat: oneLine}
	}
	return cfg, nil
}

// deref returns the value a binding points to, for viper's default layer.
func deref(ptr any) any {
	switch p := ptr.(type) {
	case *string:
		return *p
	case *bool:
		return *p
	case *time.Duration:
		return *p
	case *float64:
		return *p
	case *int64:
		return *p
	case *[]string:
		return slices.Clone(*p)
	}
	return nil // unreachable: bindings() holds only the types above
}

// nest turns {"serve.interval": x} into {"serve": {"interval": x}}, the
// shape viper's config layer expects.
func nest(flat map[string]any) map[string]any {
	out := map[string]any{}
	for key, val := range flat {
		parts := strings.Split(key, ".")
		m := out
		for _, p := range parts[:len(parts)-1] {
			sub, ok := m[p].(map[string]any)
			if !ok {
				sub = map[string]any{}
				m[p] = sub
			}
			m = sub
		}
		m[parts[len(parts)-1]] = val
	}
	return out
}

// assign converts a layered value (a typed default, or a string from the
// file, environment or a flag) into the field's type.
func assign(ptr any, val any) error {
	switch p := ptr.(type) {
	case *string:
		switch x := val.(type) {
		case string:
			*p = x
		case nil:
			*p = ""
		default:
			*p = fmt.Sprint(x)
		}
	case *bool:
		switch x := val.(type) {
		case bool:
			*p = x
		case string:
			b, err := parseBool(x)
			if err != nil {
				return err
			}
			*p = b
		default:
			return fmt.Errorf("invalid boolean %v", x)
		}
	case *time.Duration:
		switch x := val.(type) {
		case time.Duration:
			*p = x
		case string:
			d, err := parseDuration(x)
			if err != nil {
				return err
			}
			*p = d
		default:
			return fmt.Errorf("invalid duration %v", x)
		}
	case *float64:
		switch x := val.(type) {
		case float64:
			*p = x
		case string:
			f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
			if err != nil {
				return fmt.Errorf("invalid number %q", x)
			}
			*p = f
		default:
			return fmt.Errorf("invalid number %v", x)
		}
	case *int64:
		switch x := val.(type) {
		case int64:
			*p = x
		case string:
			n, err := parseSize(x)
			if err != nil {
				return err
			}
			*p = n
		default:
			return fmt.Errorf("invalid size %v", x)
		}
	case *[]string:
		switch x := val.(type) {
		case []string:
			*p = slices.Clone(x)
		case string:
			// Environment variables carry lists comma-separated.
			var out []string
			for _, s := range strings.Split(x, ",") {
				if s = strings.TrimSpace(s); s != "" {
					out = append(out, s)
				}
			}
			*p = out
		case nil:
			*p = nil
		default:
			return fmt.Errorf("invalid list %v", x)
		}
	default:
		return fmt.Errorf("unsupported field type %T", ptr)
	}
	return nil
}

// parseBool accepts what YAML 1.1 and people accept: true/false, yes/no,
// on/off, 1/0, in any case. (YAML 1.2, which the file parser speaks, reads
// "yes" as a string, so the file's raw text is parsed here.)
func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "on", "1":
		return true, nil
	case "false", "no", "off", "0":
		return false, nil
	}
	return false, fmt.Errorf("invalid boolean %q (want true or false)", s)
}

// parseDuration is time.ParseDuration with one-line errors that say what is
// wrong: `invalid duration "30": missing unit`.
func parseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	d, err := time.ParseDuration(t)
	if err == nil {
		return d, nil
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "missing unit"):
		return 0, fmt.Errorf("invalid duration %q: missing unit (e.g. 30s, 5m)", s)
	case strings.Contains(msg, "unknown unit"):
		unit := ""
		if i := strings.Index(msg, "unknown unit "); i >= 0 {
			unit = strings.SplitN(msg[i+len("unknown unit "):], " in duration", 2)[0]
		}
		return 0, fmt.Errorf("invalid duration %q: unknown unit %s (use ns, us, ms, s, m, h)", s, unit)
	}
	return 0, fmt.Errorf("invalid duration %q", s)
}

// parseSize reads a byte count: a plain integer, or one with a K/M/G (×1000)
// or KiB/MiB/GiB (×1024) suffix.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
		{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
		{"K", 1000}, {"M", 1000 * 1000}, {"G", 1000 * 1000 * 1000}, {"B", 1},
	} {
		if strings.HasSuffix(strings.ToUpper(t), strings.ToUpper(u.suffix)) {
			t, mult = strings.TrimSpace(t[:len(t)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("invalid size %q (want bytes, e.g. 4194304 or 4MiB)", s)
	}
	return n * mult, nil
}
