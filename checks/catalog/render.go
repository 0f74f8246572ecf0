package catalog

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"text/template/parse"
)

// Vars fill the command templates for this host. Templates may use only
// these fields, as {{.Name}}; nothing else (no functions, no conditionals).
type Vars struct {
	SmbConf  string // path of the smb.conf smbd runs with
	Port     int    // TCP port the remote check uses (445, maybe 139)
	Host     string // address the remote check connects to
	User     string // scoring account (never a password)
	Share    string // scored share
	LogDir   string // Samba log directory
	PidDir   string // Samba "pid directory"
	ClientIP string // the remote checker's address; may be empty
}

// DefaultVars are Debian's stock locations with the engine's usual port.
// User, Share and ClientIP are host-specific and stay empty.
func DefaultVars() Vars {
	return Vars{
		SmbConf: "/etc/samba/smb.conf",
		Port:    445,
		Host:    "127.0.0.1",
		LogDir:  "/var/log/samba",
		PidDir:  "/run/samba",
	}
}

// VarNames lists the template variables.
var VarNames = []string{"SmbConf", "Port", "Host", "User", "Share", "LogDir", "PidDir", "ClientIP"}

// quoteFree are the variables whose values are validated to a safe character
// set, so a template may place them inside quotes ('sport = :{{.Port}}').
var quoteFree = map[string]bool{"Port": true, "ClientIP": true, "Host": true}

// Errors from rendering.
var (
	// ErrMissingVar: the template uses a variable that is empty (or Port 0).
	ErrMissingVar = errors.New("missing template variable")
	// ErrBadVar: a variable's value is not acceptable (bad IP, control
	// character, port out of range).
	ErrBadVar = errors.New("bad template variable")
)

var hostRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9._:%\[\]-]+$`) })

// Render fills the step's command for this host. Values are shell-quoted when
// they hold anything but [A-Za-z0-9_./:@%+,=-], so a path with blanks stays
// one argument. A variable the command uses must be set (ErrMissingVar).
func (s Step) Render(v Vars) (string, error) {
	out, err := render(s.Command, v, true)
	if err != nil {
		return "", fmt.Errorf("render step %q: %w", s.Title, err)
	}
	return out, nil
}

// Uses returns the variables the command uses, sorted.
func (s Step) Uses() []string {
	t, err := parseTemplate(s.Command)
	if err != nil {
		return nil
	}
	return usedVars(t)
}

func render(text string, v Vars, shell bool) (string, error) {
	t, err := parseTemplate(text)
	if err != nil {
		return "", err
	}
	data := map[string]string{}
	for _, name := range usedVars(t) {
		val, err := varValue(v, name)
		if err != nil {
			return "", err
		}
		if shell && !quoteFree[name] {
			val = shellQuote(val)
		}
		data[name] = val
	}
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("execute template: %w", err)
	}
	return b.String(), nil
}

func varValue(v Vars, name string) (string, error) {
	var s string
	switch name {
	case "Port":
		if v.Port == 0 {
			return "", fmt.Errorf("%w: Port", ErrMissingVar)
		}
		if v.Port < 1 || v.Port > 65535 {
			return "", fmt.Errorf("%w: Port %d out of range", ErrBadVar, v.Port)
		}
		return strconv.Itoa(v.Port), nil
	case "SmbConf":
		s = v.SmbConf
	case "Host":
		s = v.Host
	case "User":
		s = v.User
	case "Share":
		s = v.Share
	case "LogDir":
		s = v.LogDir
	case "PidDir":
		s = v.PidDir
	case "ClientIP":
		s = v.ClientIP
	default:
		return "", fmt.Errorf("%w: unknown variable %s", ErrBadVar, name)
	}
	if s == "" {
		return "", fmt.Errorf("%w: %s", ErrMissingVar, name)
	}
	if strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		return "", fmt.Errorf("%w: %s holds a control character", ErrBadVar, name)
	}
	switch name {
	case "ClientIP":
		if net.ParseIP(s) == nil {
			return "", fmt.Errorf("%w: ClientIP %q is not an IP address", ErrBadVar, s)
		}
	case "Host":
		if !hostRe().MatchString(s) {
			return "", fmt.Errorf("%w: Host %q is not a host name or address", ErrBadVar, s)
		}
	}
	return s, nil
}

func shellQuote(s string) string {
	safe := strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_./:@%+,=-", r))
	}) < 0
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// parseTemplate accepts only text and {{.Var}} actions over VarNames.
func parseTemplate(text string) (*template.Template, error) {
	t, err := template.New("").Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	if t.Tree == nil || t.Tree.Root == nil {
		return t, nil
	}
	known := map[string]bool{}
	for _, n := range VarNames {
		known[n] = true
	}
	for _, n := range t.Tree.Root.Nodes {
		switch n := n.(type) {
		case *parse.TextNode:
		case *parse.ActionNode:
			name, ok := fieldOf(n)
			if !ok || !known[name] {
				return nil, fmt.Errorf("template action %s: only {{.%s}} are allowed", n, strings.Join(VarNames, "}}, {{."))
			}
		default:
			return nil, fmt.Errorf("template node %s: only text and {{.Var}} are allowed", n)
		}
	}
	return t, nil
}

func fieldOf(a *parse.ActionNode) (string, bool) {
	if a.Pipe == nil || len(a.Pipe.Decl) != 0 || len(a.Pipe.Cmds) != 1 || len(a.Pipe.Cmds[0].Args) != 1 {
		return "", false
	}
	f, ok := a.Pipe.Cmds[0].Args[0].(*parse.FieldNode)
	if !ok || len(f.Ident) != 1 {
		return "", false
	}
	return f.Ident[0], true
}

func usedVars(t *template.Template) []string {
	if t.Tree == nil || t.Tree.Root == nil {
		return nil
	}
	seen := map[string]bool{}
	for _, n := range t.Tree.Root.Nodes {
		if a, ok := n.(*parse.ActionNode); ok {
			if name, ok := fieldOf(a); ok {
				seen[name] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// checkQuoting rejects a shell-quoted variable placed inside quotes: Render
// quotes such values itself, and quotes inside quotes would break the word.
func checkQuoting(cmd string) error {
	var quote rune
	for i := 0; i < len(cmd); i++ {
		c := rune(cmd[i])
		if strings.HasPrefix(cmd[i:], "{{") {
			end := strings.Index(cmd[i:], "}}")
			if end < 0 {
				return fmt.Errorf("unclosed {{ in %q", cmd)
			}
			name := strings.TrimPrefix(strings.TrimSpace(cmd[i+2:i+end]), ".")
			if quote != 0 && !quoteFree[name] {
				return fmt.Errorf("{{.%s}} inside quotes: Render quotes it itself", name)
			}
			i += end + 1
			continue
		}
		switch {
		case quote == 0 && (c == '\'' || c == '"'):
			quote = c
		case quote != 0 && c == quote:
			quote = 0
		case quote != '\'' && c == '\\':
			i++ // a backslash escapes the next byte outside quotes and inside "..."
		}
	}
	if quote != 0 {
		return fmt.Errorf("unbalanced %c quote in %q", quote, cmd)
	}
	return nil
}
