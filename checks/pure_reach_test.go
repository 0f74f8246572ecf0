package checks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEvaluationDoesNoIO reads this package's own files; a helper in
// another package of the module that this package calls (a method of
// smbconf.Config, say) could still read the host. This test follows every
// function and package-level variable of this package, through the
// module's packages it reaches, to every standard-library function or
// variable any of them uses, and fails on those that reach outside the
// Facts: the file system and processes (os, os/exec, syscall, io/fs's
// functions), the network and the host's interfaces (net's dialers,
// listeners, resolvers and interface lists, net/http and the other
// protocols), the clock and timers. It type-checks the module's packages
// from source against the compiler's export data of their imports
// (`go list -export`), so a call resolves to the function it names; an
// interface method call counts as a call of every method of that name in
// the module.
func TestEvaluationReachesNoIO(t *testing.T) {
	g := evalCallGraph(t)
	roots := g.packageNodes(modulePath + "checks")
	require.Greater(t, len(roots), 100, "the evaluation package's functions were not found")
	problems, reached := g.ioReachedFrom(roots)
	require.Contains(t, reached, "(*"+modulePath+"configs/smbconf.Config).AllowsHost",
		"evaluation calls smbconf's AllowsHost: the walk must reach it")
	require.Empty(t, problems, "evaluation must not do I/O, directly or through a helper: gather it into Facts in checks/gather instead")
}

// The walk catches I/O reached through another package: HostAddrs lists
// the interfaces (net.InterfaceAddrs), and a call of it from a function of
// this package is reported with the path that leads there.
func TestEvaluationReachRuleCatchesIndirectIO(t *testing.T) {
	g := evalCallGraph(t)
	hostAddrs := modulePath + "configs/smbconf.HostAddrs"
	require.Contains(t, g.nodes, hostAddrs)
	problems, _ := g.ioReachedFrom([]string{hostAddrs})
	require.NotEmpty(t, problems)
	require.True(t, slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, "net.InterfaceAddrs") }),
		strings.Join(problems, "\n"))
	// And through a method: Config.Password reads the password file.
	password := "(*" + modulePath + "configs.Config).Password"
	require.Contains(t, g.nodes, password)
	problems, _ = g.ioReachedFrom([]string{password})
	require.NotEmpty(t, problems, "Config.Password reads a file: the walk must see it")
}

// ioDenied reports whether a standard-library object reaches outside the
// Facts. pkg is its package path; name is "Func", or "Type.Method".
func ioDenied(pkg, name string) bool {
	switch pkg {
	case "os", "os/exec", "os/signal", "os/user", "syscall", "io/ioutil", "plugin", "log/syslog",
		"net/http", "net/rpc", "net/smtp", "net/textproto", "net/mail", "runtime/cgo", "unsafe":
		return true
	case "io/fs":
		// Its types and errors are values; its functions read a file system.
		return !strings.Contains(name, ".") && !strings.HasPrefix(name, "Err") && !strings.HasPrefix(name, "Mode") &&
			!slices.Contains([]string{"ValidPath", "FormatFileInfo", "FormatDirEntry"}, name)
	case "net":
		recv, _, isMethod := strings.Cut(name, ".")
		if isMethod {
			// Methods of connections, listeners, dialers, resolvers and
			// interfaces do I/O; those of addresses and errors do not.
			return !slices.Contains([]string{"IP", "IPMask", "IPNet", "IPAddr", "TCPAddr", "UDPAddr", "UnixAddr",
				"HardwareAddr", "Flags", "OpError", "AddrError", "DNSError", "ParseError", "UnknownNetworkError",
				"InvalidAddrError", "DNSConfigError"}, recv)
		}
		return !slices.Contains([]string{"ParseIP", "ParseCIDR", "ParseMAC", "JoinHostPort", "SplitHostPort",
			"IPv4", "IPv4Mask", "CIDRMask", "IPv4len", "IPv6len", "TCPAddrFromAddrPort", "UDPAddrFromAddrPort",
			"ErrClosed", "ErrWriteToConnected", "IPv4bcast", "IPv4allsys", "IPv4allrouter", "IPv4zero",
			"IPv6zero", "IPv6unspecified", "IPv6loopback", "IPv6interfacelocalallnodes",
			"IPv6linklocalallnodes", "IPv6linklocalallrouters"}, name)
	case "time":
		return slices.Contains([]string{"Now", "Since", "Until", "Sleep", "After", "AfterFunc", "NewTimer",
			"NewTicker", "Tick", "LoadLocation", "Local", "Timer.Reset", "Ticker.Reset"}, name)
	}
	return false
}

// callGraph is every function, method and package-level variable of the
// module's packages in a build of one package, with what each refers to.
type callGraph struct {
	nodes   map[string]*graphNode
	methods map[string][]string // method name -> every module method of that name
}

type graphNode struct {
	pkg   string
	pos   string
	refs  []string // module functions and variables it refers to
	std   []string // standard-library objects it refers to: "pkg.Name" or "pkg.Type.Method"
	iface []string // interface methods it calls, by name
}

func (g *callGraph) packageNodes(pkg string) []string {
	var out []string
	for k, n := range g.nodes {
		if n.pkg == pkg {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// ioReachedFrom walks from roots and returns one line per denied
// standard-library object reached (with the path to it), and every node
// reached.
func (g *callGraph) ioReachedFrom(roots []string) (problems []string, reached map[string]bool) {
	parent := map[string]string{}
	reached = map[string]bool{}
	queue := append([]string(nil), roots...)
	for _, r := range roots {
		reached[r] = true
	}
	path := func(k string) string {
		var chain []string
		for ; k != ""; k = parent[k] {
			chain = append([]string{strings.ReplaceAll(k, modulePath, "")}, chain...)
		}
		return strings.Join(chain, " -> ")
	}
	seen := map[string]bool{}
	for len(queue) > 0 {
		k := queue[0]
		queue = queue[1:]
		n := g.nodes[k]
		if n == nil {
			continue
		}
		for _, s := range n.std {
			pkg, name := splitStd(s)
			if ioDenied(pkg, name) && !seen[k+s] {
				seen[k+s] = true
				problems = append(problems, fmt.Sprintf("%s: %s uses %s", n.pos, path(k), s))
			}
		}
		next := append([]string(nil), n.refs...)
		for _, m := range n.iface {
			next = append(next, g.methods[m]...)
		}
		for _, r := range next {
			if !reached[r] {
				reached[r] = true
				parent[r] = k
				queue = append(queue, r)
			}
		}
	}
	sort.Strings(problems)
	return problems, reached
}

// splitStd splits "net/netip.Addr.String" into "net/netip" and
// "Addr.String".
func splitStd(s string) (pkg, name string) {
	slash := strings.LastIndexByte(s, '/')
	dot := strings.IndexByte(s[slash+1:], '.')
	return s[:slash+1+dot], s[slash+1+dot+1:]
}

type listedPackage struct {
	ImportPath string
	Dir        string
	Export     string
	GoFiles    []string
	Standard   bool
}

var (
	evalGraphOnce sync.Once
	evalGraph     *callGraph
	evalGraphErr  error
)

// evalCallGraph is this package's call graph, built once for the tests
// that walk it.
func evalCallGraph(t *testing.T) *callGraph {
	t.Helper()
	evalGraphOnce.Do(func() { evalGraph, evalGraphErr = loadCallGraph(".") })
	require.NoError(t, evalGraphErr)
	return evalGraph
}

// loadCallGraph lists dir's package and its dependencies with their
// export data, and type-checks the module's packages among them from
// source.
func loadCallGraph(dir string) (*callGraph, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(goBin, "list", "-export", "-deps", "-json=ImportPath,Dir,Export,GoFiles,Standard", dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w: %s", err, stderr.String())
	}
	exports := map[string]string{}
	var mine []listedPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list output: %w", err)
		}
		exports[p.ImportPath] = p.Export
		if strings.HasPrefix(p.ImportPath, modulePath) {
			mine = append(mine, p)
		}
	}
	if len(mine) == 0 {
		return nil, fmt.Errorf("go list found none of the module's packages")
	}
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		f, ok := exports[path]
		if !ok || f == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(f)
	})
	g := &callGraph{nodes: map[string]*graphNode{}, methods: map[string][]string{}}
	for _, p := range mine {
		var files []*ast.File
		for _, name := range p.GoFiles {
			f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, parser.SkipObjectResolution)
			if err != nil {
				return nil, err
			}
			files = append(files, f)
		}
		info := &types.Info{Uses: map[*ast.Ident]types.Object{}, Defs: map[*ast.Ident]types.Object{}}
		conf := types.Config{Importer: imp}
		if _, err := conf.Check(p.ImportPath, fset, files, info); err != nil {
			return nil, fmt.Errorf("type-check %s: %w", p.ImportPath, err)
		}
		g.add(fset, p.ImportPath, files, info)
	}
	return g, nil
}

// objKey names a module function, method or package-level variable the
// same way whether it comes from source or from export data.
func objKey(o types.Object) string {
	switch o := o.(type) {
	case *types.Func:
		return o.Origin().FullName()
	case *types.Var:
		if o.Pkg() != nil && o.Parent() == o.Pkg().Scope() {
			return o.Pkg().Path() + "." + o.Name()
		}
	}
	return ""
}

// stdName is "pkg.Name" or "pkg.Type.Method" for a standard-library
// function or package-level variable, "" for anything else.
func stdName(o types.Object) string {
	if o.Pkg() == nil || strings.HasPrefix(o.Pkg().Path(), modulePath) {
		return ""
	}
	switch o := o.(type) {
	case *types.Func:
		sig, _ := o.Type().(*types.Signature)
		if sig != nil && sig.Recv() != nil {
			rt := sig.Recv().Type()
			if p, ok := rt.(*types.Pointer); ok {
				rt = p.Elem()
			}
			if named, ok := rt.(*types.Named); ok {
				return o.Pkg().Path() + "." + named.Obj().Name() + "." + o.Name()
			}
			return ""
		}
		return o.Pkg().Path() + "." + o.Name()
	case *types.Var:
		if o.Parent() == o.Pkg().Scope() {
			return o.Pkg().Path() + "." + o.Name()
		}
	}
	return ""
}

func (g *callGraph) add(fset *token.FileSet, pkg string, files []*ast.File, info *types.Info) {
	collect := func(key string, body ast.Node) {
		n := &graphNode{pkg: pkg, pos: fset.Position(body.Pos()).String()}
		ast.Inspect(body, func(x ast.Node) bool {
			id, ok := x.(*ast.Ident)
			if !ok {
				return true
			}
			o := info.Uses[id]
			if o == nil {
				return true
			}
			if s := stdName(o); s != "" {
				n.std = append(n.std, s)
				return true
			}
			if f, ok := o.(*types.Func); ok {
				if sig, _ := f.Type().(*types.Signature); sig != nil && sig.Recv() != nil && types.IsInterface(sig.Recv().Type()) {
					n.iface = append(n.iface, f.Name())
					return true
				}
			}
			if k := objKey(o); k != "" && strings.HasPrefix(o.Pkg().Path(), modulePath) {
				n.refs = append(n.refs, k)
			}
			return true
		})
		if old := g.nodes[key]; old != nil {
			// Several init functions, or a var and its initializer: merge.
			old.refs, old.std, old.iface = append(old.refs, n.refs...), append(old.std, n.std...), append(old.iface, n.iface...)
			return
		}
		g.nodes[key] = n
	}
	for _, f := range files {
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				fn, _ := info.Defs[d.Name].(*types.Func)
				if fn == nil || d.Body == nil {
					continue
				}
				key := objKey(fn)
				if d.Name.Name == "init" && d.Recv == nil {
					key = pkg + ".init"
				}
				collect(key, d)
				if d.Recv != nil {
					g.methods[d.Name.Name] = append(g.methods[d.Name.Name], key)
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					vs, ok := s.(*ast.ValueSpec)
					if !ok {
						continue
					}
					for _, name := range vs.Names {
						if v, ok := info.Defs[name].(*types.Var); ok {
							// The whole spec: its initializer (a func
							// literal, sync.OnceValues(...)) runs when the
							// variable is used.
							collect(objKey(v), vs)
						}
					}
				}
			}
		}
	}
}
