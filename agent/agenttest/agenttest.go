// Package agenttest helps tests watch an smb-agent daemon the way systemd
// and monitoring do: a NOTIFY_SOCKET that records sd_notify messages, and a
// Prometheus scrape parsed into values. It works for an in-process
// agent.Daemon and for an `agent serve` child process alike (the socket
// path is in the environment the child inherits).
package agenttest

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// NotifySocket is a unixgram socket like systemd's notify socket. Each
// datagram is one message (it may hold several newline-separated
// assignments, e.g. "RELOADING=1\nMONOTONIC_USEC=...").
type NotifySocket struct {
	path string
	conn *net.UnixConn
	mu   sync.Mutex
	msgs []string
	done chan struct{}
}

// ListenNotify creates the socket in a short temporary directory (sun_path
// holds 108 bytes), sets NOTIFY_SOCKET for the rest of the test and removes
// everything at cleanup. Like t.Setenv, it cannot be used in parallel tests.
func ListenNotify(t testing.TB) *NotifySocket {
	t.Helper()
	dir, err := os.MkdirTemp("", "sdn")
	if err != nil {
		t.Fatalf("notify socket dir: %v", err)
	}
	path := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		_ = os.RemoveAll(dir)
		t.Fatalf("notify socket: %v", err)
	}
	n := &NotifySocket{path: path, conn: conn, done: make(chan struct{})}
	go n.read()
	t.Cleanup(func() {
		_ = conn.Close()
		<-n.done
		_ = os.RemoveAll(dir)
	})
	t.Setenv("NOTIFY_SOCKET", path)
	return n
}

func (n *NotifySocket) read() {
	defer close(n.done)
	buf := make([]byte, 64<<10)
	for {
		k, err := n.conn.Read(buf)
		if err != nil {
			return
		}
		n.mu.Lock()
		n.msgs = append(n.msgs, string(buf[:k]))
		n.mu.Unlock()
	}
}

// Path is the socket's path (the value of NOTIFY_SOCKET).
func (n *NotifySocket) Path() string { return n.path }

// Messages returns every message received so far, in order.
func (n *NotifySocket) Messages() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.msgs...)
}

// Statuses returns the STATUS= values received so far, in order.
func (n *NotifySocket) Statuses() []string {
	var out []string
	for _, m := range n.Messages() {
		for _, line := range strings.Split(m, "\n") {
			if v, ok := strings.CutPrefix(line, "STATUS="); ok {
				out = append(out, v)
			}
		}
	}
	return out
}

// Count returns how many messages equal msg exactly ("READY=1").
func (n *NotifySocket) Count(msg string) int {
	c := 0
	for _, m := range n.Messages() {
		if m == msg {
			c++
		}
	}
	return c
}

// WaitStatus waits until a STATUS= value received after the first `after`
// statuses satisfies match, and returns it; it fails the test on timeout.
// Pass after = len(n.Statuses()) to wait for a new one.
func (n *NotifySocket) WaitStatus(t testing.TB, after int, timeout time.Duration, match func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := n.Statuses()
		for i := after; i < len(st); i++ {
			if match(st[i]) {
				return st[i]
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no matching STATUS= within %s; got %q", timeout, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Metrics is one parsed /metrics scrape.
type Metrics map[string]*dto.MetricFamily

// Scrape fetches and parses url (".../metrics").
func Scrape(url string) (Metrics, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("scrape %s: HTTP %d: %s", url, resp.StatusCode, b)
	}
	return ParseMetrics(resp.Body)
}

// ParseMetrics parses the Prometheus text format.
func ParseMetrics(r io.Reader) (Metrics, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parse metrics: %w", err)
	}
	return Metrics(fams), nil
}

// Value returns the value of name{labels...} (labels as name, value
// pairs; unlisted labels match anything): a gauge's or counter's value, a
// histogram's sample count. ok is false when no such series exists.
func (m Metrics) Value(name string, labels ...string) (v float64, ok bool) {
	fam, found := m[name]
	if !found {
		return 0, false
	}
next:
	for _, s := range fam.GetMetric() {
		have := map[string]string{}
		for _, lp := range s.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case s.Gauge != nil:
			return s.GetGauge().GetValue(), true
		case s.Counter != nil:
			return s.GetCounter().GetValue(), true
		case s.Histogram != nil:
			return float64(s.GetHistogram().GetSampleCount()), true
		case s.Untyped != nil:
			return s.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}
