package client

import (
	"io"
	"net"
	"sync"
	"testing"

	"parley/crypto"
)

// socksRecorder is the first steps of a SOCKS5 server: it takes the
// username/password method, records each username, and refuses the
// connection itself. It checks what Parley's SOCKS client (x/net/proxy)
// sends, not the proxying (the e2e test goes through a real SOCKS5
// server for that).
type socksRecorder struct {
	ln    net.Listener
	mu    sync.Mutex
	users []string
}

func startSocksRecorder(t *testing.T) *socksRecorder {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &socksRecorder{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go r.serve(conn)
		}
	}()
	return r
}

func (r *socksRecorder) serve(conn net.Conn) {
	defer conn.Close()
	head := make([]byte, 2)
	if _, err := io.ReadFull(conn, head); err != nil || head[0] != 5 {
		return
	}
	methods := make([]byte, head[1])
	if _, err := io.ReadFull(conn, methods); err != nil {
		return
	}
	conn.Write([]byte{5, 2}) // username/password
	var ver, n [1]byte
	io.ReadFull(conn, ver[:])
	io.ReadFull(conn, n[:])
	user := make([]byte, n[0])
	io.ReadFull(conn, user)
	io.ReadFull(conn, n[:])
	io.ReadFull(conn, make([]byte, n[0]))
	r.mu.Lock()
	r.users = append(r.users, string(user))
	r.mu.Unlock()
	conn.Write([]byte{1, 0})
	req := make([]byte, 4)
	io.ReadFull(conn, req)
	conn.Write([]byte{5, 1, 0, 1, 0, 0, 0, 0, 0, 0}) // general failure
}

func (r *socksRecorder) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.users...)
}

// Through a proxy, each channel membership authenticates with its own
// SOCKS username (Tor's IsolateSOCKSAuth gives each its own circuit),
// the same at every connection, and nothing is dialled directly.
func TestProxyIsolatesMemberships(t *testing.T) {
	ctx, r, org, _ := twoHomes(t)
	if err := org.CreateChannel(ctx, "d", r.URL, crypto.PolicyHard); err != nil {
		t.Fatal(err)
	}
	rec := startSocksRecorder(t)
	if err := org.SetProxy("socks5h://" + rec.ln.Addr().String()); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []string{"c", "d", "c"} {
		if _, err := org.Sync(ctx, ch); err == nil {
			t.Fatalf("a sync of %s went through a proxy that refuses every connection", ch)
		}
	}
	users := rec.seen()
	if len(users) != 3 || users[0] == users[1] || users[0] != users[2] || len(users[0]) != 32 {
		t.Fatalf("SOCKS usernames for channels c, d, c: %q", users)
	}
	for _, bad := range []string{"http://127.0.0.1:8080", "socks5h://user:pw@127.0.0.1:9050", "socks5h://127.0.0.1"} {
		if err := org.SetProxy(bad); err == nil {
			t.Errorf("proxy %q accepted", bad)
		}
	}
}
