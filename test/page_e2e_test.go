package test

// End-to-end test of the page `agent serve` shows at /: real smbd
// sandboxes, the built agent, and Debian's chromium driven headless over
// the DevTools protocol (chromedp). It asserts on the DOM the browser
// rendered, not on the HTML bytes: what a person sees, with the page's own
// Content-Security-Policy in force. It also watches the browser: no
// console error, no exception, no request to anything but loopback.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks/catalog"
	"github.com/smb-agent/smb-agent/test/harness"
)

// hostileShare is a share name a hostile or careless admin can write in
// smb.conf: markup and a terminal escape.
const hostileShare = "x<script>alert(1)</script>\x1b[31m"

// requireChromium returns the browser to drive. A missing browser skips the
// test on a developer machine and fails it in CI (CI=true), where
// test/scripts/ensure-chromium.sh installs it.
func requireChromium(t *testing.T) string {
	t.Helper()
	requireAgent(t)
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed: CI must run the browser test (test/scripts/ensure-chromium.sh installs it)")
	}
	t.Skip("chromium is not installed (apt-get install chromium); CI runs this test")
	return ""
}

// screenshotDir is where the screenshots go: SCREENSHOT_DIR (make
// screenshots sets docs/screenshots), else a directory under the temp dir
// that outlives the test, as a test artifact.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("SCREENSHOT_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "smb-agent-artifacts", "screenshots")
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
}

// browser is one headless chromium with a fresh profile, and what it saw.
type browser struct {
	ctx context.Context

	mu       sync.Mutex
	urls     []string
	problems []string
}

func startBrowser(t *testing.T, bin string) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	// A hang detector for the whole browser session, not a speed bound.
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc() // waits for chromium to exit
	})
	b := &browser{ctx: ctx}
	// Open the tab first, so that the listener sees every event after.
	// chromedp enables the runtime, log and network domains on a new tab.
	require.NoError(t, chromedp.Do(ctx), "start chromium")
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			b.urls = append(b.urls, e.Request.URL)
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning || e.Type == runtime.ConsoleAPICalledTypeAssert {
				b.problems = append(b.problems, fmt.Sprintf("console.%s: %s", e.Type, argsText(e.Args)))
			}
		case *runtime.EventExceptionThrown:
			b.problems = append(b.problems, "exception: "+e.ExceptionDetails.Text)
		case *cdplog.EventEntryAdded:
			// Failed loads, CSP violations and the like land here.
			if e.Entry.Level == cdplog.EntryLevelError || e.Entry.Level == cdplog.EntryLevelWarning {
				b.problems = append(b.problems, fmt.Sprintf("log %s (%s): %s %s", e.Entry.Level, e.Entry.Source, e.Entry.Text, e.Entry.URL))
			}
		case *page.EventJavascriptDialogOpening:
			b.problems = append(b.problems, "a script opened a dialog: "+e.Message)
		}
	}), "listen to chromium")
	return b
}

func argsText(args []*runtime.RemoteObject) string {
	var parts []string
	for _, a := range args {
		if a.Value != nil {
			parts = append(parts, string(a.Value))
		} else {
			parts = append(parts, a.Description)
		}
	}
	return strings.Join(parts, " ")
}

// requireClean asserts that the browser reported nothing wrong and that
// every request it made went to loopback.
func (b *browser) requireClean(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	require.Empty(t, b.problems, "console errors, exceptions or failed loads")
	loaded := map[string]bool{}
	for _, u := range b.urls {
		pu, err := url.Parse(u)
		require.NoError(t, err, u)
		host := pu.Hostname()
		ip := net.ParseIP(host)
		require.True(t, host == "localhost" || (ip != nil && ip.IsLoopback()), "request left loopback: %s", u)
		loaded[pu.Path] = true
	}
	// The listener saw the page and its subresources, so an empty list of
	// foreign hosts means something.
	require.True(t, loaded["/"] && loaded["/page.css"] && loaded["/favicon.svg"], "requests seen: %q", b.urls)
}

// pageDOM is what the test reads from the rendered page.
type pageDOM struct {
	Status      string   `json:"status"`
	Title       string   `json:"title"`
	Patterns    []string `json:"patterns"`
	Causes      []string `json:"causes"`
	CauseAt     []string `json:"causeAt"`
	Nodes       []string `json:"nodes"`
	Visited     []string `json:"visited"`
	Taken       int      `json:"taken"`
	Commands    []string `json:"commands"`
	Apply       []string `json:"apply"`
	Diff        string   `json:"diff"`
	Scripts     int      `json:"scripts"`
	Text        string   `json:"text"`
	ScrollWidth int      `json:"scrollWidth"`
	Stylesheet  bool     `json:"stylesheet"`
	// VisitedBorder and OtherBorder are the drawn border widths of a
	// visited and an unvisited tree node: the path is highlighted.
	VisitedBorder string `json:"visitedBorder"`
	OtherBorder   string `json:"otherBorder"`
	// Overflow names the outermost elements wider than the viewport.
	Overflow []string `json:"overflow"`
}

// readDOM reads the figures; W is the width the page was laid out for.
const readDOM = `((W) => {
  const all = (sel) => [...document.querySelectorAll(sel)];
  const text = (sel) => all(sel).map(e => e.textContent);
  return {
    status: document.querySelector('#overall .badge').dataset.status,
    title: document.title,
    patterns: all('section.finding[data-pattern]').map(e => e.dataset.pattern),
    causes: text('.cause-id'),
    causeAt: text('.cause-at'),
    nodes: all('li.node').map(e => e.dataset.node),
    visited: all('li.node.visited').map(e => e.dataset.node),
    taken: all('li.branch.taken').length,
    commands: text('.commands pre.command code'),
    apply: text('code.apply'),
    diff: all('figure.diff pre').map(e => e.innerText).join('\n'),
    scripts: document.scripts.length,
    text: document.body.innerText,
    scrollWidth: document.documentElement.scrollWidth,
    visitedBorder: (e => e ? getComputedStyle(e).borderTopWidth : '')(document.querySelector('li.node.visited > .q')),
    otherBorder: (e => e ? getComputedStyle(e).borderTopWidth : '')(document.querySelector('li.node:not(.visited) > .q')),
    overflow: all('body *').filter(e => e.getBoundingClientRect().right > W + 1 &&
      !(e.parentElement && e.parentElement.getBoundingClientRect().right > W + 1))
      .slice(0, 5).map(e => e.tagName + '.' + e.getAttribute('class') + ' ' + Math.round(e.getBoundingClientRect().right)),
    stylesheet: getComputedStyle(document.querySelector('section, main')).display !== '' &&
      [...document.styleSheets].some(s => s.href && s.href.endsWith('/page.css') && s.cssRules.length > 10),
  };
})(%d)`

// visit loads base+"/" at the given width and returns the DOM figures and
// a full-page screenshot.
func (b *browser) visit(t *testing.T, base string, width int64) (pageDOM, []byte) {
	t.Helper()
	var vp []chromedp.EmulateViewportOption
	if width <= 480 {
		vp = append(vp, chromedp.EmulateMobile, chromedp.EmulatePortrait)
	}
	err := chromedp.Do(b.ctx,
		chromedp.EmulateViewport(width, 900, vp...),
		chromedp.Navigate(base+"/"),
		chromedp.Query(chromedp.CSS("main")),
	)
	require.NoError(t, err, "load %s/", base)
	dom, err := chromedp.Run(b.ctx, chromedp.Evaluate[pageDOM](fmt.Sprintf(readDOM, width)))
	require.NoError(t, err, "read the DOM")
	// JPEG (quality below 100), readable at a fraction of the PNG's size;
	// WebP would be smaller but cannot hold a page over 16383 px tall.
	shot, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(75))
	require.NoError(t, err, "screenshot")
	return dom, shot
}

func saveShot(t *testing.T, name string, img []byte) {
	t.Helper()
	path := filepath.Join(screenshotDir(t), name)
	require.NoError(t, os.WriteFile(path, img, 0o644))
	t.Logf("screenshot: %s", path)
}

func catalogNodes(t *testing.T, pattern string) []string {
	t.Helper()
	p, ok := catalog.Get(pattern)
	require.True(t, ok)
	var ids []string
	for _, n := range p.Decision.Nodes {
		ids = append(ids, n.ID)
	}
	return ids
}

const pageAgentYAML = `logs:
  journal: false
serve:
  scoring:
    points_per_check: 4.2
    check_interval: 1m
`

// pageHost is one state of the host: an smbd and an `agent serve` on it.
type pageHost struct {
	name  string
	cfg   harness.Config
	extra []string

	s    *harness.Smbd
	base string // http://127.0.0.1:PORT
	yaml string // the agent's config file
	logs *lockedBuffer
}

// startPageHosts starts every smbd and every agent at once, so that their
// first rounds (a cold samba-dcerpcd takes a second or two) overlap, and
// waits until each agent has finished two rounds (the history and the chart
// then have something to show).
func startPageHosts(t *testing.T, hosts []*pageHost) {
	t.Helper()
	if why := harness.Available(); why != "" {
		t.Skip("real smbd: " + why)
	}
	bin := requireAgent(t)
	errs := make([]error, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		if len(h.cfg.Users) == 0 {
			h.cfg.Users = []harness.User{{Name: probeUser, Password: probePass}}
		}
		if h.cfg.Shares == nil {
			h.cfg.Shares = []harness.Share{{Name: "data"}}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.s, errs[i] = harness.Start(h.cfg)
		}()
	}
	wg.Wait()
	for i, h := range hosts {
		if h.s != nil {
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("smbd %s logs:\n%s", h.name, tail(h.s.Logs(), 3000))
				}
				require.NoError(t, h.s.Close())
			})
		}
		require.NoError(t, errs[i], "start smbd for %s", h.name)
	}
	for _, h := range hosts {
		dir := t.TempDir()
		h.yaml = filepath.Join(dir, "agent.yaml")
		// smb.conf's path goes in agent.yaml, not on the command line: the
		// harness's Stop kills every process whose command line names a
		// file under smbd's directory.
		require.NoError(t, os.WriteFile(h.yaml, []byte("smb_conf: "+h.s.ConfPath()+"\n"+pageAgentYAML), 0o600))
		port, err := harness.FreePort()
		require.NoError(t, err)
		listen := fmt.Sprintf("127.0.0.1:%d", port)
		args := append([]string{"serve", "--config", h.yaml, "--listen", listen, "--interval", "1s",
			"--target", h.s.Addr(), "--user", probeUser, "--share", "data", "--timeout", "5s"}, h.extra...)
		cmd := exec.Command(bin, args...)
		cmd.Env = []string{"PATH=" + harness.ReleasePath("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"), "HOME=" + dir,
			"SMB_AGENT_PASSWORD=" + probePass}
		h.logs = &lockedBuffer{}
		cmd.Stdout, cmd.Stderr = h.logs, h.logs
		require.NoError(t, cmd.Start())
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			<-done
			if t.Failed() {
				t.Logf("agent %s logs:\n%s", h.name, tail(h.logs.String(), 3000))
			}
		})
		h.base = "http://" + listen
	}
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(serveWait)
	for _, h := range hosts {
		for {
			var ev struct{ Rounds int }
			if resp, err := client.Get(h.base + "/events"); err == nil {
				_ = json.NewDecoder(resp.Body).Decode(&ev)
				resp.Body.Close()
			}
			if ev.Rounds >= 2 {
				break
			}
			require.False(t, time.Now().After(deadline), "%s: no two rounds after %s", h.name, serveWait)
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// TestPageInBrowser renders each state of the host in chromium.
func TestPageInBrowser(t *testing.T) {
	chromium := requireChromium(t)
	healthy := &pageHost{name: "healthy"}
	smb3 := &pageHost{name: "min protocol SMB3", cfg: harness.Config{Global: []string{"server min protocol = SMB3"}}}
	rpcOffLine, rpcOffCause := rpcOffScenario(t)
	rpcOff := &pageHost{name: "rpc helpers off", cfg: harness.Config{Global: []string{rpcOffLine}}}
	hostile := &pageHost{name: "hostile share name",
		cfg:   harness.Config{Shares: []harness.Share{{Name: "data"}, {Name: hostileShare, Lines: []string{"available = no"}}}},
		extra: []string{"--share", hostileShare}}
	t0 := time.Now()
	startPageHosts(t, []*pageHost{healthy, smb3, rpcOff, hostile})
	t.Logf("hosts ready after %s", time.Since(t0))
	b := startBrowser(t, chromium)
	t.Logf("browser ready after %s", time.Since(t0))

	t.Run("healthy", func(t *testing.T) {
		dom, shot := b.visit(t, healthy.base, 1280)
		saveShot(t, "page-healthy.jpg", shot)
		require.Equal(t, "ok", dom.Status)
		require.Contains(t, dom.Text, "No finding")
		require.Empty(t, dom.Patterns)
		require.True(t, dom.Stylesheet, "the stylesheet loaded under the CSP")
		require.Contains(t, dom.Text, "Last checked")
		require.Contains(t, dom.Text, "Next round")
	})

	t.Run("min protocol SMB3", func(t *testing.T) {
		s := smb3.s
		dom, shot := b.visit(t, smb3.base, 1280)
		saveShot(t, "page-protocol-mismatch.jpg", shot)
		// The first screen (PNG), for the README.
		top, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
		require.NoError(t, err)
		saveShot(t, "page-protocol-mismatch-top.png", top)
		require.Equal(t, "critical", dom.Status)
		require.Equal(t, "protocol-mismatch", dom.Patterns[0])
		require.Equal(t, "server-min-above-client-max", dom.Causes[0])
		require.Equal(t, fmt.Sprintf("%s:%d", s.ConfPath(), confLine(t, s.ConfPath(), "server min protocol = SMB3")), dom.CauseAt[0])
		require.Contains(t, dom.Text, "SMB connection failed: protocol error")
		// The whole tree is drawn, the path is marked.
		for _, id := range catalogNodes(t, "protocol-mismatch") {
			require.Contains(t, dom.Nodes, id)
		}
		require.Subset(t, dom.Visited, []string{"config-loads", "dialect-gap", "client-smb1-only"})
		require.NotContains(t, dom.Visited, "encryption")
		require.GreaterOrEqual(t, dom.Taken, 3)
		require.Equal(t, "2px", dom.VisitedBorder, "visited nodes are drawn with a heavier border")
		require.Equal(t, "1px", dom.OtherBorder)
		require.Contains(t, dom.Text, "▶ taken")
		// Commands with this host's paths, in order, and the fix.
		require.NotEmpty(t, dom.Commands)
		require.Contains(t, dom.Commands[0], s.ConfPath())
		require.Contains(t, dom.Apply, fmt.Sprintf("agent fix --config %s --apply --only protocol-mismatch/server-min-above-client-max", smb3.yaml))
		require.Regexp(t, `(?m)^-\s*server min protocol = SMB3$`, dom.Diff)
		require.Regexp(t, `(?m)^\+\s*server min protocol = SMB2_02$`, dom.Diff)
		require.Contains(t, dom.Text, "Patterns on this service, ranked by points")

		// At 400 px the page itself does not scroll sideways (wide
		// tables and the chart scroll inside their own boxes).
		narrow, shot := b.visit(t, smb3.base, 400)
		saveShot(t, "page-protocol-mismatch-400px.jpg", shot)
		require.LessOrEqual(t, narrow.ScrollWidth, 400, "wider than the viewport: %q", narrow.Overflow)
		require.Equal(t, dom.Patterns, narrow.Patterns)

		// Printed: the print stylesheet applies (no navigation), and the
		// browser makes a PDF of it.
		_, err = chromedp.Call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"})
		require.NoError(t, err)
		navShown, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector('nav')).display`))
		require.NoError(t, err)
		require.Equal(t, "none", navShown)
		_, err = chromedp.Call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{})
		require.NoError(t, err)
		pdf, err := chromedp.Call(b.ctx, page.PrintToPDF, page.PrintToPDFParams{})
		require.NoError(t, err)
		require.NotEmpty(t, pdf.Data)
	})

	t.Run("rpc helpers off", func(t *testing.T) {
		dom, shot := b.visit(t, rpcOff.base, 1280)
		saveShot(t, "page-rpc-endpoint-missing.jpg", shot)
		require.Equal(t, "critical", dom.Status)
		require.Contains(t, dom.Patterns, "rpc-endpoint-missing")
		require.Contains(t, dom.Causes, rpcOffCause)
		require.Contains(t, dom.Text, "Unable to locate Server Service RPC endpoint")
		for _, id := range catalogNodes(t, "rpc-endpoint-missing") {
			require.Contains(t, dom.Nodes, id)
		}
		require.NotEmpty(t, dom.Visited)
	})

	t.Run("hostile share name", func(t *testing.T) {
		dom, shot := b.visit(t, hostile.base, 1280)
		saveShot(t, "page-hostile-share.jpg", shot)
		require.Contains(t, dom.Patterns, "share-unavailable")
		require.Zero(t, dom.Scripts, "no script element: the share name is text")
		require.Contains(t, dom.Text, "x<script>alert(1)</script>", "the markup shows as text")
		require.Contains(t, dom.Text, `\x1b[31m`, "the terminal escape shows as an escape")
		require.NotContains(t, dom.Text, "\x1b")
	})

	b.requireClean(t)
}
