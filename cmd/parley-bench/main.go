// Command parley-bench measures Parley against a baseline in the same run
// on the same machine, and prints a table and key=value summary lines.
//
// Over loopback it starts two relays, each in a process of its own: the
// baseline, a bare gorilla/websocket broadcast relay over TLS that keeps
// frames only in memory (baseline.go), and the real relay (relay.Start,
// SQLite with synchronous=FULL and group commit, in a temporary folder).
// Both serve the same channels (sizes 3, 10 and 50, the same number of
// clients) and carry the same 16 KiB envelopes, sealed with package
// crypto by real protocol clients (internal/relayclient, as the client
// library uses it; the client library itself opens a SQLite home per
// operation, which would measure the client, not the relay).
//
// Workloads: throughput at saturation (closed loop, delivered messages a
// second), latency at 70% of the measured peak (p50, p99, p999 from the
// scheduled send to delivery), idle connections (memory per connection
// in the relay process), and crypto (seal+open against raw
// XChaCha20-Poly1305, rekeys, joins), and end to end (parley send on one
// home to parley read --follow on another, real processes; e2e.go). Runs of the two relays alternate in
// rounds and ratios are medians of the rounds', because the machine is
// shared. docs/benchmarks.md has the method and the figures.
//
// Usage:
//
//	parley-bench [-quick] [-sizes 3,10,50] [-clients 150] [-idle N]
//	             [-rounds R] [-load 0.7 | -rate N] [-cpuprofile DIR]
//	             [-tmp DIR] [-run throughput,latency,inline,idle,crypto,e2e]
//	             [-charts DIR]
//	parley-bench -growth FILE [-charts DIR]
//
// -charts DIR writes SVG charts (gonum.org/v1/plot) of the run:
// throughput.svg and latency-cdf-N.svg (charts.go). -growth FILE
// measures nothing: it reads the output of the client growth benchmark
// (go test -bench Growth ./client), prints it as a table and, with
// -charts, writes commands.svg; make bench passes it that output.
//
// -quick is the smoke run (under a minute); the full run takes about six
// minutes. All traffic is to 127.0.0.1.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"
)

type config struct {
	quick      bool
	sizes      []int
	clients    int
	idle       int
	rounds     int
	warm, dur  time.Duration
	tmp        string
	profileDir string
	runs       map[string]bool
	load       float64
	rate       float64
}

func main() {
	quick := flag.Bool("quick", false, "smoke run: short runs, fewer idle connections (under a minute)")
	sizes := flag.String("sizes", "3,10,50", "channel sizes")
	clients := flag.Int("clients", 150, "clients (connections) in the throughput and latency runs, split into channels")
	idle := flag.Int("idle", 0, "idle connections (default 10000, 1000 with -quick)")
	rounds := flag.Int("rounds", 0, "rounds per workload, alternating the relays (default 5, 1 with -quick)")
	tmp := flag.String("tmp", os.TempDir(), "where relay data folders go (use a real disk: fsync is measured)")
	profile := flag.String("cpuprofile", "", "write CPU profiles of both relays and of the clients during the first throughput round of each size to this folder")
	load := flag.Float64("load", 0.7, "latency run load, as a fraction of the measured peak")
	rate := flag.Float64("rate", 0, "latency run load in posts a second, instead of -load (no throughput run needed)")
	runList := flag.String("run", "throughput,latency,inline,idle,crypto,e2e", "workloads to run")
	charts := flag.String("charts", "", "write SVG charts of the run into this folder (throughput.svg, latency-cdf-N.svg; commands.svg with -growth)")
	growthFile := flag.String("growth", "", "instead of measuring, read the output of the client growth benchmark from this file (- for standard input), print it as a table and, with -charts, draw commands.svg")
	serve := flag.String("serve", "", "internal: run a relay of this kind (real, baseline) for the parent")
	data := flag.String("data", "", "internal: data folder of -serve")
	flag.Parse()
	if *serve != "" {
		if err := serveMain(*serve, *data); err != nil {
			fmt.Fprintln(os.Stderr, "parley-bench:", err)
			os.Exit(1)
		}
		return
	}
	if *growthFile != "" {
		if err := growthMain(*growthFile, *charts); err != nil {
			fatalf("%v", err)
		}
		return
	}

	cfg := &config{quick: *quick, clients: *clients, idle: *idle, rounds: *rounds, tmp: *tmp, profileDir: *profile, runs: map[string]bool{}, load: *load, rate: *rate}
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 2 || n > 50 {
			fatalf("-sizes: %q is not a channel size from 2 to 50", s)
		}
		cfg.sizes = append(cfg.sizes, n)
	}
	for _, r := range strings.Split(*runList, ",") {
		cfg.runs[strings.TrimSpace(r)] = true
	}
	limit := 12 * time.Minute
	if cfg.quick {
		cfg.warm, cfg.dur = 250*time.Millisecond, time.Second
		limit = 2 * time.Minute
		if cfg.idle == 0 {
			cfg.idle = 1000
		}
		if cfg.rounds == 0 {
			cfg.rounds = 1
		}
	} else {
		cfg.warm, cfg.dur = 500*time.Millisecond, 2500*time.Millisecond
		if cfg.idle == 0 {
			cfg.idle = 10000
		}
		if cfg.rounds == 0 {
			cfg.rounds = 5
		}
	}
	if cfg.profileDir != "" {
		if err := os.MkdirAll(cfg.profileDir, 0o755); err != nil {
			fatalf("%v", err)
		}
		if abs, err := filepath.Abs(cfg.profileDir); err == nil {
			cfg.profileDir = abs
		}
	}
	if isTmpfs(cfg.tmp) {
		fmt.Fprintf(os.Stderr, "parley-bench: warning: %s is a tmpfs; fsync costs nothing there, so the durable relay's figures are flattered (use -tmp)\n", cfg.tmp)
	}
	// Every run is bounded; this bounds the whole.
	watchdog := time.AfterFunc(limit, func() {
		fmt.Fprintf(os.Stderr, "parley-bench: still running after %v; giving up\n", limit)
		killServers()
		os.Exit(2)
	})
	defer watchdog.Stop()

	start := time.Now()
	load0 := loadAverage()
	disk, err := probeDisk(cfg.tmp)
	if err != nil {
		fatalf("probing the disk: %v", err)
	}
	rep, err := run(cfg)
	if err != nil {
		killServers()
		fatalf("%v", err)
	}
	rep.elapsed = time.Since(start)
	rep.disk = disk
	rep.load = [2]string{load0, loadAverage()}
	rep.print(os.Stdout, cfg)
	if *charts != "" {
		written, err := writeRunCharts(*charts, rep, cfg.quick)
		if err != nil {
			fatalf("charts: %v", err)
		}
		for _, path := range written {
			fmt.Fprintln(os.Stderr, "parley-bench: wrote", path)
		}
	}
}

// loadAverage is the 1-minute load average: other work on the machine
// during the run.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// diskProbe is the latency of a 64 KiB write and fsync where the relay's
// data goes: the floor under the durable relay's commit latency.
type diskProbe struct{ p50, p99 time.Duration }

func probeDisk(dir string) (diskProbe, error) {
	f, err := os.CreateTemp(dir, "parley-bench-fsync-")
	if err != nil {
		return diskProbe{}, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 64<<10)
	var ds []time.Duration
	deadline := time.Now().Add(time.Second)
	for i := 0; i < 200 && time.Now().Before(deadline); i++ {
		t := time.Now()
		if _, err := f.Write(buf); err != nil {
			return diskProbe{}, err
		}
		if err := f.Sync(); err != nil {
			return diskProbe{}, err
		}
		ds = append(ds, time.Since(t))
	}
	return diskProbe{percentile(ds, 0.5), percentile(ds, 0.99)}, nil
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "parley-bench: "+format+"\n", args...)
	os.Exit(1)
}

// Servers alive, for the watchdog.
var (
	serversMu sync.Mutex
	servers   = map[*server]bool{}
)

func killServers() {
	serversMu.Lock()
	defer serversMu.Unlock()
	for s := range servers {
		s.cmd.Process.Kill()
		os.RemoveAll(s.dir)
	}
}

// report is everything measured.
type report struct {
	disk    diskProbe
	load    [2]string // load average at the start and the end
	sizes   []*sizeResult
	idle    map[string]idleResult
	crypto  *cryptoResult
	e2e     *e2eResult
	elapsed time.Duration
}

func run(cfg *config) (*report, error) {
	rep := &report{idle: map[string]idleResult{}}
	progress := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "parley-bench: "+format+"\n", args...)
	}
	if cfg.runs["throughput"] || cfg.runs["latency"] || cfg.runs["inline"] {
		for _, n := range cfg.sizes {
			progress("channels of %d", n)
			sr, err := runSize(cfg, n)
			if err != nil {
				return nil, fmt.Errorf("channels of %d: %w", n, err)
			}
			rep.sizes = append(rep.sizes, sr)
		}
	}
	if cfg.runs["idle"] {
		progress("%d idle connections, baseline", cfg.idle)
		b, err := idleBaseline(cfg.tmp, cfg.idle)
		if err != nil {
			return nil, fmt.Errorf("idle run, baseline: %w", err)
		}
		rep.idle["baseline"] = b
		progress("%d idle connections, parley", cfg.idle)
		r, err := idleReal(cfg.tmp, cfg.idle)
		if err != nil {
			return nil, fmt.Errorf("idle run, parley: %w", err)
		}
		rep.idle["parley"] = r
	}
	if cfg.runs["crypto"] {
		progress("crypto")
		rounds, slice := 7, 30*time.Millisecond
		if !cfg.quick {
			rounds, slice = 15, 100*time.Millisecond
		}
		c, err := runCrypto(rounds, slice)
		if err != nil {
			return nil, fmt.Errorf("crypto run: %w", err)
		}
		rep.crypto = &c
	}
	if cfg.runs["e2e"] {
		progress("end to end: parley send -> parley read --follow")
		e, err := runE2E(cfg)
		if err != nil {
			return nil, fmt.Errorf("end-to-end run: %w", err)
		}
		rep.e2e = e
	}
	return rep, nil
}

// side is one relay under test with its clients.
type side struct {
	name    string
	srv     *server
	clients []*client
}

// sizeResult is what was measured with channels of one size.
type sizeResult struct {
	n, channels int
	tp          map[string][]tpResult
	inline      map[string][]tpResult
	lat         map[string]*latResult
	latOwn      *latResult // the baseline at 70% of its own peak
	latOwnErr   error
}

// median is the median over the rounds of one figure of one relay.
func (s *sizeResult) median(m map[string][]tpResult, name string, f func(tpResult) float64) float64 {
	var xs []float64
	for _, r := range m[name] {
		xs = append(xs, f(r))
	}
	return median(xs)
}

// ratio is the median over the rounds of parley's delivered rate over
// the baseline's in the same round (the two ran back to back).
func (s *sizeResult) ratio(m map[string][]tpResult) float64 {
	var xs []float64
	for i := range min(len(m["parley"]), len(m["baseline"])) {
		xs = append(xs, m["parley"][i].delivered/m["baseline"][i].delivered)
	}
	return median(xs)
}

func delivered(r tpResult) float64 { return r.delivered }
func posts(r tpResult) float64     { return r.posts }

func runSize(cfg *config, n int) (*sizeResult, error) {
	count := max(1, cfg.clients/n)
	chans, err := newChannels(count, n, time.Now())
	if err != nil {
		return nil, err
	}
	res := &sizeResult{n: n, channels: count, tp: map[string][]tpResult{}, inline: map[string][]tpResult{}, lat: map[string]*latResult{}}
	base, err := startServer("baseline", cfg.tmp)
	if err != nil {
		return nil, err
	}
	defer base.stop()
	real, err := startServer("real", cfg.tmp)
	if err != nil {
		return nil, err
	}
	defer real.stop()
	bc, err := setupBaseline(base.url, chans)
	if err != nil {
		return nil, err
	}
	defer closeAll(bc)
	rc, err := setupReal(real.url, chans)
	if err != nil {
		return nil, err
	}
	defer closeAll(rc)
	for _, c := range chans {
		for _, m := range c.members {
			if err := m.sealRing(64); err != nil {
				return nil, err
			}
		}
	}
	sides := []side{{"baseline", base, bc}, {"parley", real, rc}}
	order := func(r int) []side {
		if r%2 == 1 {
			return []side{sides[1], sides[0]}
		}
		return sides
	}

	if cfg.runs["throughput"] || (cfg.runs["latency"] && cfg.rate == 0) {
		for r := range cfg.rounds {
			for _, s := range order(r) {
				prof := cfg.profileDir != "" && r == 0
				var stopProf func()
				if prof {
					if stopProf, err = profileBoth(cfg.profileDir, s, n); err != nil {
						return nil, err
					}
				}
				t, err := runThroughput(s, n, cfg.warm, cfg.dur, false)
				if prof {
					stopProf()
				}
				if err != nil {
					return nil, fmt.Errorf("%s throughput: %w", s.name, err)
				}
				res.tp[s.name] = append(res.tp[s.name], t)
			}
		}
	}
	if cfg.runs["latency"] {
		// Both relays get the same offered load: 70% of the lower peak
		// (the durable relay's), so that the difference in latency is
		// the relay's and not the load's.
		peak := min(res.median(res.tp, "baseline", posts), res.median(res.tp, "parley", posts))
		rate := cfg.load * peak
		if cfg.rate > 0 {
			rate = cfg.rate
		}
		for _, s := range sides {
			res.lat[s.name] = &latResult{}
		}
		for r := range cfg.rounds {
			for _, s := range order(r) {
				if err := runLatency(s.clients, n, rate, cfg.warm, cfg.dur, res.lat[s.name]); err != nil {
					return nil, fmt.Errorf("%s latency: %w", s.name, err)
				}
			}
		}
	}
	if cfg.runs["inline"] && n == 10 {
		for r := range cfg.rounds {
			for _, s := range order(r) {
				t, err := runThroughput(s, n, cfg.warm, cfg.dur, true)
				if err != nil {
					return nil, fmt.Errorf("%s throughput with crypto inline: %w", s.name, err)
				}
				res.inline[s.name] = append(res.inline[s.name], t)
			}
		}
	}
	// Last, as it may end in the baseline dropping a client that fell
	// behind (its own peak leaves less room): informational only.
	if cfg.runs["latency"] && !cfg.quick && cfg.rate == 0 {
		res.latOwn = &latResult{}
		ownRate := cfg.load * res.median(res.tp, "baseline", posts)
		if err := runLatency(bc, n, ownRate, cfg.warm, cfg.dur, res.latOwn); err != nil {
			res.latOwnErr = err
		}
	}
	return res, nil
}

func isTmpfs(path string) bool {
	out, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return false
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return false
	}
	best, fs := "", ""
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		if (abs == f[1] || strings.HasPrefix(abs, strings.TrimSuffix(f[1], "/")+"/")) && len(f[1]) > len(best) {
			best, fs = f[1], f[2]
		}
	}
	return fs == "tmpfs"
}

// machine describes where the run happened.
func machine() string {
	mem := ""
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(data)) {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				f := strings.Fields(rest)
				if kb, err := strconv.ParseFloat(f[0], 64); err == nil {
					mem = fmt.Sprintf("%.1f GiB", kb/(1<<20))
				}
			}
		}
	}
	cpu := ""
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(data)) {
			if rest, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), ":"))
				break
			}
		}
	}
	return fmt.Sprintf("%d cores (%s), %s memory, %s %s/%s", runtime.NumCPU(), cpu, mem, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// profileBoth starts CPU profiles of the relay process and of this one
// (the clients) for a throughput run against s with channels of n.
func profileBoth(dir string, s side, n int) (func(), error) {
	if _, err := s.srv.command(fmt.Sprintf("prof-start %s", filepath.Join(dir, fmt.Sprintf("%s-throughput-%d.pprof", s.name, n)))); err != nil {
		return nil, err
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("clients-%s-throughput-%d.pprof", s.name, n)))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		s.srv.command("prof-stop")
	}, nil
}
