package e2e

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// microsocks starts the Debian package's SOCKS5 server on loopback,
// sending its outgoing connections from bind. CI installs it (.ci/run)
// and sets PARLEY_REQUIRE_SOCKS, so that a missing server fails there.
func microsocks(t *testing.T, bind string) string {
	exe, err := exec.LookPath("microsocks")
	if err != nil {
		if os.Getenv("PARLEY_REQUIRE_SOCKS") != "" {
			t.Fatal("no microsocks on this machine (apt-get install -y microsocks), and PARLEY_REQUIRE_SOCKS is set")
		}
		t.Skip("the SOCKS5 test needs microsocks (apt-get install -y microsocks); .ci/run installs it")
	}
	for attempt := 0; ; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		cmd := exec.Command(exe, "-i", "127.0.0.1", "-p", fmt.Sprint(port), "-b", bind)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Signal(syscall.SIGKILL); cmd.Wait() })
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		for range 50 {
			if c, err := net.Dial("tcp", addr); err == nil {
				c.Close()
				return addr
			}
			time.Sleep(20 * time.Millisecond)
		}
		if attempt == 3 {
			t.Fatal("microsocks did not start")
		}
	}
}

// tap forwards TCP connections to target and records the address each
// came from: what the relay's operator would see.
type tap struct {
	ln    net.Listener
	mu    sync.Mutex
	peers map[string]bool
}

func startTap(t *testing.T, listen, target string) *tap {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	tp := &tap{ln: ln, peers: map[string]bool{}}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			tp.mu.Lock()
			tp.peers[in.RemoteAddr().(*net.TCPAddr).IP.String()] = true
			tp.mu.Unlock()
			go func() {
				defer in.Close()
				out, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer out.Close()
				go io.Copy(out, in)
				io.Copy(in, out)
			}()
		}
	}()
	return tp
}

func (tp *tap) seen() []string {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	var out []string
	for ip := range tp.peers {
		out = append(out, ip)
	}
	return out
}

// With --proxy, every connection goes through a real SOCKS5 server
// (microsocks): the relay sees only the proxy's address, never the
// members', and the talks work as without it. The same member without
// the proxy shows the tap can tell.
func TestThroughSOCKS5(t *testing.T) {
	socks := "socks5h://" + microsocks(t, "127.0.0.2")
	r := startRelay(t)
	tp := startTap(t, "127.0.0.3:0", r.listen)
	url := strings.Replace(r.url, r.listen, tp.ln.Addr().String(), 1)
	org, alice := newHome(t, "Convener"), newHome(t, "Alice")
	via := func(h *home, args ...string) string { return h.must(append([]string{"--proxy", socks}, args...)...) }
	via(org, "channel", "create", "c", "--relay", url)
	code := via(org, "invite", "c", "--role", "participant")
	if _, err := alice.run([]byte(code), "--proxy", socks, "join", "-"); err != nil {
		t.Fatal(err)
	}
	via(org, "admit", "c", "--all")
	via(alice, "sync", "c")
	via(alice, "send", "c", "through the proxy")
	if got := via(org, "read", "c"); !strings.Contains(got, "Alice: through the proxy") {
		t.Fatalf("the organizer read:\n%s", got)
	}
	if seen := tp.seen(); len(seen) != 1 || seen[0] != "127.0.0.2" {
		t.Fatalf("the relay saw connections from %v, want only the proxy's 127.0.0.2", seen)
	}
	// A bad proxy setting is refused, not ignored for a direct connection.
	if _, err := alice.run(nil, "--proxy", "http://127.0.0.1:8080", "sync", "c"); err == nil || !strings.Contains(err.Error(), "SOCKS5") {
		t.Fatalf("an http proxy: %v", err)
	}
	alice.must("sync", "c")
	if seen := tp.seen(); len(seen) != 2 {
		t.Fatalf("without the proxy the tap saw %v: it cannot tell addresses apart", seen)
	}
}
