package agent

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/smb-agent/smb-agent/checks"
)

// routes builds the read-only HTTP API. No handler calls the round
// function or anything that probes: they read the published snapshot.
func (d *Daemon) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", d.handleHealthz)
	mux.HandleFunc("/readyz", d.handleReadyz)
	mux.HandleFunc("/status", d.handleStatus)
	mux.HandleFunc("/status/{pattern}", d.handleStatus)
	mux.HandleFunc("/events", d.handleEvents)
	mux.Handle("/metrics", promhttp.HandlerFor(d.metrics.gatherer, promhttp.HandlerOpts{
		// One broken collector (say /proc unreadable) must not blank the
		// whole scrape: node_exporter users hated all-or-nothing.
		ErrorHandling: promhttp.ContinueOnError,
	}))
	// The page (and its stylesheet and icon): the same snapshot as
	// /status, rendered for a person.
	mux.HandleFunc("/", d.handlePage)
	return readOnly(mux)
}

// readOnly allows GET and HEAD only: the API reports, it never acts
// (Consul's script-check RCE is the cautionary tale), so anything else is
// 405.
func readOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed: the agent's HTTP API is read-only", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

func (d *Daemon) handleHealthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if ok, why := d.health(); !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, why)
		return
	}
	fmt.Fprintln(w, "ok")
}

func (d *Daemon) handleReadyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if d.snap.Load() == nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "not ready: the first check round has not finished")
		return
	}
	fmt.Fprintln(w, "ready")
}

// patternView is /status/{pattern}: one pattern's health, for monitors that
// watch one check (goss #832 asked for exactly this).
type patternView struct {
	Pattern   string           `json:"pattern"`
	Status    checks.Status    `json:"status"`
	Generated time.Time        `json:"generated"`
	Findings  []checks.Finding `json:"findings"`
	Events    *PatternEvents   `json:"events,omitempty"`
}

// handleStatus serves the latest report (exactly what `diagnose --json`
// prints), or one pattern's part of it with /status/ID or ?pattern=ID.
func (d *Daemon) handleStatus(w http.ResponseWriter, r *http.Request) {
	s := d.snap.Load()
	if s == nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{
			"error": "no check round has finished yet; retry in a few seconds",
		})
		return
	}
	id := r.PathValue("pattern")
	if id == "" {
		id = r.URL.Query().Get("pattern")
	}
	if id == "" {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(s.reportJSON)
		return
	}
	if _, ok := slices.BinarySearch(s.patterns, id); !ok {
		// A typo must not read as "ok".
		writeJSON(w, http.StatusNotFound, map[string]string{
			"error": fmt.Sprintf("unknown pattern %q", id),
		})
		return
	}
	v := patternView{Pattern: id, Status: s.patternStatus(id), Generated: s.report.Generated, Findings: []checks.Finding{}}
	for _, f := range s.report.Findings {
		if f.Pattern == id {
			v.Findings = append(v.Findings, f)
		}
	}
	if ev, ok := s.events[id]; ok {
		v.Events = &ev
	}
	writeJSON(w, patternHTTPStatus(v.Status), v)
}

// patternHTTPStatus follows Consul's HTTP check convention, so that any
// HTTP health checker can watch one pattern: 200 passing, 429 warning,
// anything else (503) critical or unknown.
func patternHTTPStatus(s checks.Status) int {
	switch s {
	case checks.OK:
		return http.StatusOK
	case checks.Warning:
		return http.StatusTooManyRequests
	}
	return http.StatusServiceUnavailable
}

func (d *Daemon) handleEvents(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, d.Events())
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}
