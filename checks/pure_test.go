package checks

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Evaluation is pure: every byte of I/O of a run happens in checks/gather,
// and this package only reads the Facts it is given. The rule, over the
// non-test files of this directory:
//
//  1. Imports: from this module only checks/catalog, checks/probe, configs
//     and configs/smbconf (never checks/gather, checks/diagnose, fixes,
//     agent, cmd); no package outside the standard library; none of the
//     standard library's I/O packages (os and below, io/fs, io/ioutil,
//     syscall, net/http and the other network protocols, log/syslog,
//     plugin, unsafe).
//  2. Of the packages that mix pure and I/O functions, only the pure ones:
//     from net the address and error types and the address parsers (no
//     Dial, Listen, Lookup, Interfaces); from path/filepath the string
//     functions (no Glob, Walk, Abs, EvalSymlinks); from time no clock
//     (Facts.Now is the run's clock) and no timers; from checks/probe no
//     function that takes a context.Context (those are the ones that talk
//     to smbd); from configs and configs/smbconf no loader or version
//     detector, and no call of Password (it reads the password file).
var (
	evalModuleImports = []string{"checks/catalog", "checks/probe", "configs", "configs/smbconf"}
	evalDeniedStd     = []string{"os", "io/fs", "io/ioutil", "syscall", "net/http", "net/rpc", "net/smtp", "net/mail",
		"net/textproto", "log/syslog", "plugin", "unsafe", "runtime/cgo"}
	evalAllowedSelectors = map[string][]string{
		"net": {"ParseIP", "ParseCIDR", "JoinHostPort", "SplitHostPort", "IP", "IPMask", "IPNet", "IPv4", "IPv4Mask",
			"CIDRMask", "IPv4len", "IPv6len", "DNSError", "AddrError", "OpError", "ParseError", "Addr", "TCPAddr"},
		"path/filepath": {"Base", "Clean", "Dir", "Ext", "IsAbs", "IsLocal", "Join", "Match", "Rel", "Split",
			"SplitList", "ToSlash", "FromSlash", "Separator", "ListSeparator", "VolumeName"},
	}
	evalDeniedSelectors = map[string][]string{
		"time":    {"Now", "Since", "Until", "Sleep", "After", "AfterFunc", "NewTimer", "NewTicker", "Tick", "LoadLocation"},
		"configs": {"Load"},
		"configs/smbconf": {"Load", "DefaultVersionCache", "DetectSambaVersion", "DetectSambaVersionCached",
			"ResolveSambaVersion", "VersionDetector", "HostAddrs"},
	}
	evalDeniedMethods = []string{"Password", "Detect"}
)

const modulePath = "github.com/smb-agent/smb-agent/"

func TestEvaluationDoesNoIO(t *testing.T) {
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	probeIO := probeIOFuncs(t)
	require.Contains(t, probeIO, "Run", "probe.Run talks to smbd: the rule must see it")
	fset := token.NewFileSet()
	var problems []string
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		checked++
		problems = append(problems, evalFileProblems(fset, f, probeIO)...)
	}
	require.Greater(t, checked, 20, "the evaluation package's files were not found")
	require.Empty(t, problems, "evaluation must not do I/O: gather it into Facts in checks/gather instead")
}

// The rule catches what it is meant to: each line is one violation.
func TestEvaluationRuleCatchesIO(t *testing.T) {
	src := `package checks
import (
	"context"
	"net"
	"os"
	"path/filepath"
	"time"
	"github.com/smb-agent/smb-agent/checks/gather"
	"github.com/smb-agent/smb-agent/checks/probe"
	"github.com/smb-agent/smb-agent/configs"
	"github.com/hashicorp/go-multierror"
)
func bad(c *configs.Config) {
	net.Dial("tcp", "x")
	filepath.Glob("*")
	_ = time.Now()
	probe.Run(context.Background(), "h", probe.Options{})
	c.Password()
	_ = net.ParseIP("1.2.3.4")
	_ = filepath.Base("x")
}`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "bad.go", src, parser.SkipObjectResolution)
	require.NoError(t, err)
	got := evalFileProblems(fset, f, map[string]bool{"Run": true})
	require.Len(t, got, 8, strings.Join(got, "\n"))
	for _, want := range []string{`"os"`, "checks/gather", "go-multierror", "net.Dial", "filepath.Glob", "time.Now", "probe.Run", "Password"} {
		require.True(t, slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, want) }), want)
	}
}

func evalFileProblems(fset *token.FileSet, f *ast.File, probeIO map[string]bool) []string {
	var out []string
	bad := func(n ast.Node, format string) { out = append(out, fset.Position(n.Pos()).String()+": "+format) }
	local := map[string]string{} // import name -> path
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		name := p[strings.LastIndex(p, "/")+1:]
		if imp.Name != nil {
			name = imp.Name.Name
		}
		local[name] = p
		switch {
		case strings.HasPrefix(p, modulePath):
			if !slices.Contains(evalModuleImports, strings.TrimPrefix(p, modulePath)) {
				bad(imp, "imports "+imp.Path.Value)
			}
		case strings.Contains(strings.SplitN(p, "/", 2)[0], "."):
			bad(imp, "imports "+imp.Path.Value+" (outside the standard library)")
		case slices.ContainsFunc(evalDeniedStd, func(d string) bool { return p == d || strings.HasPrefix(p, d+"/") }):
			bad(imp, "imports "+imp.Path.Value)
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.SelectorExpr:
			id, ok := n.X.(*ast.Ident)
			if !ok {
				return true
			}
			p, ok := local[id.Name]
			if !ok {
				return true
			}
			sel := n.Sel.Name
			short := strings.TrimPrefix(p, modulePath)
			if allowed, ok := evalAllowedSelectors[p]; ok && !slices.Contains(allowed, sel) {
				bad(n, "uses "+id.Name+"."+sel)
			}
			if slices.Contains(evalDeniedSelectors[short], sel) {
				bad(n, "uses "+id.Name+"."+sel)
			}
			if short == "checks/probe" && probeIO[sel] {
				bad(n, "calls "+id.Name+"."+sel+", which talks to the network")
			}
		case *ast.CallExpr:
			if s, ok := n.Fun.(*ast.SelectorExpr); ok && slices.Contains(evalDeniedMethods, s.Sel.Name) {
				if _, isPkg := local[identName(s.X)]; !isPkg {
					bad(n, "calls ."+s.Sel.Name+"(), which reads outside the facts")
				}
			}
		}
		return true
	})
	return out
}

func identName(e ast.Expr) string {
	if id, ok := e.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}

// probeIOFuncs are checks/probe's exported functions that take a
// context.Context: the ones that dial smbd.
func probeIOFuncs(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("probe", "*.go"))
	require.NoError(t, err)
	out := map[string]bool{}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		require.NoError(t, err)
		f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
		require.NoError(t, err)
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv != nil || !fd.Name.IsExported() {
				continue
			}
			for _, p := range fd.Type.Params.List {
				if s, ok := p.Type.(*ast.SelectorExpr); ok && identName(s.X) == "context" && s.Sel.Name == "Context" {
					out[fd.Name.Name] = true
				}
			}
		}
	}
	return out
}
