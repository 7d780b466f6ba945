package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"parley/relay"
)

// Each relay under test runs in a process of its own (this binary, with
// -serve), so that its memory can be read apart from the clients' and
// its CPU profile holds only the relay. The parent talks to it over
// stdin/stdout, one command and one answer a line; the child exits when
// its stdin closes.

// benchRelayConfig is the real relay's configuration in the benchmark.
// The defaults are kept except for abuse controls that would otherwise
// cap a saturation run: the per-connection and per-key token buckets
// (200 frames/s by default; they are still consulted on every frame) and
// the per-channel storage quota (256 MiB by default; a throughput run
// writes more than that into one channel). Connection limits stay at
// their defaults (20000 connections, 1024 unauthenticated): the idle run
// dials at most 32 at a time.
func benchRelayConfig() relay.Config {
	return relay.Config{
		ConnRate: 1e9, ConnBurst: 1e9,
		KeyRate: 1e9, KeyBurst: 1e9,
		MaxChannelBytes: 1 << 40,
	}
}

// memStats is a relay process's memory after a forced collection.
type memStats struct {
	RSS        int64 `json:"rss"`        // resident set, bytes
	HeapAlloc  int64 `json:"heap_alloc"` // live heap objects, bytes
	HeapInuse  int64 `json:"heap_inuse"`
	StackInuse int64 `json:"stack_inuse"`
	Goroutines int   `json:"goroutines"`
}

func readMem() memStats {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memStats{RSS: rss(), HeapAlloc: int64(ms.HeapAlloc), HeapInuse: int64(ms.HeapInuse),
		StackInuse: int64(ms.StackInuse), Goroutines: runtime.NumGoroutine()}
}

// rss reads VmRSS from /proc/self/status.
func rss() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// serveMain is the child: start the relay of the given kind, print its
// URL, answer commands.
func serveMain(kind, dataDir string) error {
	var url string
	var stop func()
	switch kind {
	case "real":
		r, err := relay.Start(relay.Options{Listen: "127.0.0.1:0", DataDir: dataDir, Config: benchRelayConfig()})
		if err != nil {
			return err
		}
		url = r.URL
		stop = func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			r.Close(ctx)
		}
	case "baseline":
		u, s, err := startBaseline(dataDir)
		if err != nil {
			return err
		}
		url, stop = u, s
	default:
		return fmt.Errorf("-serve %q: want real or baseline", kind)
	}
	defer stop()
	fmt.Println("url", url)
	var prof *os.File
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "mem":
			out, _ := json.Marshal(readMem())
			fmt.Println(string(out))
		case "prof-start":
			if len(f) != 2 || prof != nil {
				fmt.Println("error bad prof-start")
				continue
			}
			p, err := os.Create(f[1])
			if err == nil {
				err = pprof.StartCPUProfile(p)
			}
			if err != nil {
				fmt.Println("error", err)
				continue
			}
			prof = p
			fmt.Println("ok")
		case "prof-stop":
			if prof != nil {
				pprof.StopCPUProfile()
				prof.Close()
				prof = nil
			}
			fmt.Println("ok")
		case "quit":
			fmt.Println("ok")
			return nil
		default:
			fmt.Println("error unknown command")
		}
	}
	return nil
}

// server is the parent's handle on a relay process.
type server struct {
	kind   string
	dir    string
	url    string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr *bytes.Buffer
	exited chan struct{}
}

// startServer starts a relay process of the given kind with a fresh
// data folder under parent.
func startServer(kind, parent string) (*server, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(parent, "parley-bench-"+kind+"-")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-serve", kind, "-data", dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	s := &server{kind: kind, dir: dir, cmd: cmd, lines: make(chan string, 16), stderr: new(bytes.Buffer), exited: make(chan struct{})}
	cmd.Stderr = s.stderr
	if s.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
	}()
	go func() { cmd.Wait(); close(s.exited) }()
	serversMu.Lock()
	servers[s] = true
	serversMu.Unlock()
	line, err := s.read(30 * time.Second)
	if err != nil {
		s.kill()
		return nil, fmt.Errorf("%s relay did not start: %v\n%s", kind, err, s.stderr)
	}
	url, ok := strings.CutPrefix(line, "url ")
	if !ok {
		s.kill()
		return nil, fmt.Errorf("%s relay: unexpected first line %q", kind, line)
	}
	s.url = url
	return s, nil
}

func (s *server) read(timeout time.Duration) (string, error) {
	select {
	case line, ok := <-s.lines:
		if !ok {
			return "", errors.New("relay process exited")
		}
		return line, nil
	case <-time.After(timeout):
		return "", errors.New("relay process did not answer")
	}
}

// command sends one command and returns the answer.
func (s *server) command(cmd string) (string, error) {
	if _, err := fmt.Fprintln(s.stdin, cmd); err != nil {
		return "", err
	}
	line, err := s.read(60 * time.Second)
	if err != nil {
		return "", err
	}
	if rest, ok := strings.CutPrefix(line, "error"); ok {
		return "", fmt.Errorf("%s relay: %s", s.kind, strings.TrimSpace(rest))
	}
	return line, nil
}

func (s *server) mem() (memStats, error) {
	var m memStats
	line, err := s.command("mem")
	if err != nil {
		return m, err
	}
	return m, json.Unmarshal([]byte(line), &m)
}

// stop asks the relay to shut down, kills it if it does not, and removes
// its data folder.
func (s *server) stop() {
	s.command("quit")
	s.stdin.Close()
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
	}
	s.kill()
}

func (s *server) kill() {
	s.cmd.Process.Kill()
	<-s.exited
	os.RemoveAll(s.dir)
	serversMu.Lock()
	delete(servers, s)
	serversMu.Unlock()
}
