// Command loadgen measures `agent serve` under HTTP load, for
// test/bench/serve_load.sh. It is a benchmark tool, not part of the agent.
//
//	loadgen -url http://127.0.0.1:9445 -paths /metrics,/status -duration 30s -concurrency 32 -pid PID
//
// Closed-loop load: each of -concurrency workers sends its next request as
// soon as the previous one is answered, over keep-alive connections. It
// prints requests per second, errors (transport errors and any status but
// 200), latency percentiles, the agent's resident memory before, during
// (max) and after, and how many check rounds the agent ran meanwhile
// (smb_agent_rounds_total), which must follow the interval and not the
// request rate.
//
//	loadgen relay -listen 127.0.0.1:4450 -to 127.0.0.1:4451
//
// relay forwards TCP connections to smbd and prints one line per accepted
// connection ("conn UNIXTIME_NS"), so the script can count what smbd saw.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "relay" {
		if err := relay(os.Args[2:]); err != nil {
			fmt.Fprintf(os.Stderr, "loadgen relay: %v\n", err)
			os.Exit(1)
		}
		return
	}
	if err := load(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "loadgen: %v\n", err)
		os.Exit(1)
	}
}

type result struct {
	lat  time.Duration
	path int
	err  bool
}

func load(args []string) error {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	base := fs.String("url", "http://127.0.0.1:9445", "agent base URL (loopback)")
	pathList := fs.String("paths", "/metrics,/status", "comma-separated paths, requested round-robin")
	duration := fs.Duration("duration", 30*time.Second, "how long to send requests")
	conc := fs.Int("concurrency", 32, "parallel workers (one keep-alive connection each)")
	pid := fs.Int("pid", 0, "agent PID, to sample its resident memory")
	timeout := fs.Duration("timeout", 5*time.Second, "per-request timeout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	paths := strings.Split(*pathList, ",")
	if *conc < 1 || *duration <= 0 || len(paths) == 0 {
		return errors.New("need -concurrency >= 1, -duration > 0 and at least one path")
	}

	client := &http.Client{
		Timeout: *timeout,
		Transport: &http.Transport{
			MaxIdleConnsPerHost: *conc,
			MaxConnsPerHost:     *conc,
			DisableCompression:  true, // measure the agent, not gzip
		},
	}
	roundsBefore, err := scrapeRounds(client, *base)
	if err != nil {
		return fmt.Errorf("scrape %s/metrics before the load: %w", *base, err)
	}
	rssBefore := rssKB(*pid)
	var rssMax atomic.Int64
	rssMax.Store(rssBefore)
	stopSampling := make(chan struct{})
	var samplerDone sync.WaitGroup
	if *pid > 0 {
		samplerDone.Add(1)
		go func() {
			defer samplerDone.Done()
			t := time.NewTicker(100 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stopSampling:
					return
				case <-t.C:
					if v := rssKB(*pid); v > rssMax.Load() {
						rssMax.Store(v)
					}
				}
			}
		}()
	}

	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	results := make([][]result, *conc)
	errSamples := make(chan string, 16)
	var wg sync.WaitGroup
	begin := time.Now()
	for w := range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]result, 0, 1<<16)
			for i := w; ctx.Err() == nil; i++ {
				p := i % len(paths)
				t0 := time.Now()
				resp, err := client.Get(*base + paths[p])
				bad := err != nil
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					bad = err != nil || resp.StatusCode != http.StatusOK
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("%s: HTTP %d", paths[p], resp.StatusCode)
					}
				}
				if ctx.Err() != nil && bad {
					break // cut off by the end of the run, not an agent error
				}
				local = append(local, result{lat: time.Since(t0), path: p, err: bad})
				if bad {
					select {
					case errSamples <- err.Error():
					default:
					}
				}
			}
			results[w] = local
		}()
	}
	wg.Wait()
	elapsed := time.Since(begin)
	close(stopSampling)
	samplerDone.Wait()
	time.Sleep(200 * time.Millisecond)
	rssAfter := rssKB(*pid)
	roundsAfter, err := scrapeRounds(client, *base)
	if err != nil {
		return fmt.Errorf("scrape %s/metrics after the load: %w", *base, err)
	}

	var all []time.Duration
	perPath := make([]int, len(paths))
	errs := 0
	for _, rs := range results {
		for _, r := range rs {
			all = append(all, r.lat)
			perPath[r.path]++
			if r.err {
				errs++
			}
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	pct := func(q float64) time.Duration {
		if len(all) == 0 {
			return 0
		}
		return all[min(len(all)-1, int(q*float64(len(all))))]
	}
	fmt.Printf("requests      %d in %s (%d workers)\n", len(all), elapsed.Round(time.Millisecond), *conc)
	fmt.Printf("rate          %.0f req/s\n", float64(len(all))/elapsed.Seconds())
	for i, p := range paths {
		fmt.Printf("  %-12s %d\n", p, perPath[i])
	}
	fmt.Printf("errors        %d\n", errs)
	close(errSamples)
	for e := range errSamples {
		fmt.Printf("  e.g. %s\n", e)
	}
	fmt.Printf("latency       p50 %s  p90 %s  p99 %s  p99.9 %s  max %s\n",
		pct(.5), pct(.9), pct(.99), pct(.999), pct(1))
	if *pid > 0 {
		fmt.Printf("agent rss     before %.1f MB  max %.1f MB  after %.1f MB\n",
			float64(rssBefore)/1024, float64(rssMax.Load())/1024, float64(rssAfter)/1024)
	}
	fmt.Printf("check rounds  %v during the load (smb_agent_rounds_total %v -> %v)\n",
		roundsAfter-roundsBefore, roundsBefore, roundsAfter)
	if errs > 0 {
		return fmt.Errorf("%d error responses", errs)
	}
	return nil
}

// scrapeRounds reads smb_agent_rounds_total from /metrics.
func scrapeRounds(c *http.Client, base string) (float64, error) {
	resp, err := c.Get(base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "smb_agent_rounds_total "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("no smb_agent_rounds_total series")
}

// rssKB reads VmRSS from /proc/PID/status, 0 when unknown.
func rssKB(pid int) int64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// relay forwards connections and logs each one, until SIGTERM/SIGINT.
func relay(args []string) error {
	fs := flag.NewFlagSet("relay", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to accept on (loopback)")
	to := fs.String("to", "", "smbd address to forward to")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *to == "" {
		return errors.New("-to is required")
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	out := bufio.NewWriter(os.Stdout)
	var outMu sync.Mutex
	fmt.Fprintf(out, "listening %s\n", ln.Addr())
	out.Flush()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			return nil // closed by the signal; open connections die with us
		}
		outMu.Lock()
		fmt.Fprintf(out, "conn %d\n", time.Now().UnixNano())
		out.Flush()
		outMu.Unlock()
		go func() {
			defer c.Close()
			s, err := net.DialTimeout("tcp", *to, 5*time.Second)
			if err != nil {
				return
			}
			defer s.Close()
			done := make(chan struct{}, 2)
			go func() { _, _ = io.Copy(s, c); closeWrite(s); done <- struct{}{} }()
			go func() { _, _ = io.Copy(c, s); closeWrite(c); done <- struct{}{} }()
			<-done
			<-done
		}()
	}
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}
