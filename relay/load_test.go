package relay_test

import (
	"crypto/sha256"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"parley/crypto"
	"parley/internal/relayclient"
	"parley/internal/wire"
	"parley/relay"
)

// TestLoad runs 200 clients in 20 channels against one relay: every
// message reaches every other member of its channel exactly once, the
// relay's memory stays bounded, and its goroutines go when the clients
// leave. Bounded: 200 clients x 5 messages, a 60 s deadline.
func TestLoad(t *testing.T) {
	const channels, perChannel, each = 20, 10, 5
	r, _ := startRelay(t, relay.Config{})
	now := time.Now()
	runtime.GC()
	baseGoroutines := runtime.NumGoroutine()

	type client struct {
		m    *member
		c    *relayclient.Conn
		got  map[[32]byte]int
		ch   int
		sent [][32]byte
	}
	var clients []*client
	for ch := 0; ch < channels; ch++ {
		tc := newTestChannel(t, r.URL, now)
		clients = append(clients, &client{m: tc.org, c: tc.orgC, ch: ch, got: map[[32]byte]int{}})
		for i := 1; i < perChannel; i++ {
			m := newMember(t, fmt.Sprint("M", i), crypto.RoleParticipant)
			clients = append(clients, &client{m: m, c: tc.add(m, now, time.Time{}), ch: ch, got: map[[32]byte]int{}})
		}
		tc.adminC.Close() // not one of the clients counted below
	}
	if len(clients) != channels*perChannel {
		t.Fatalf("%d clients", len(clients))
	}
	deadline := time.Now().Add(60 * time.Second)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, cl := range clients {
		wg.Add(2)
		go func() { // sender
			defer wg.Done()
			for i := 0; i < each; i++ {
				e := envelope(cl.m.keys)
				if _, err := cl.c.Post(ctxT(t), wire.KindMessage, e); err != nil {
					t.Errorf("post: %v", err)
					return
				}
				mu.Lock()
				cl.sent = append(cl.sent, sha256.Sum256(e))
				mu.Unlock()
			}
		}()
		go func() { // receiver: (perChannel-1)*each pushes expected
			defer wg.Done()
			for n := 0; n < (perChannel-1)*each; n++ {
				select {
				case f := <-cl.c.Pushes():
					mu.Lock()
					cl.got[sha256.Sum256(f.Payload)]++
					mu.Unlock()
				case <-time.After(time.Until(deadline)):
					t.Errorf("a client received %d of %d messages before the deadline", n, (perChannel-1)*each)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for _, cl := range clients {
		for _, other := range clients {
			if other.ch != cl.ch || other == cl {
				continue
			}
			for _, h := range other.sent {
				if cl.got[h] != 1 {
					t.Fatalf("a message reached a member %d times", cl.got[h])
				}
			}
		}
		if len(cl.got) != (perChannel-1)*each {
			t.Fatalf("a member got %d distinct messages, want %d", len(cl.got), (perChannel-1)*each)
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("heap in use with %d clients connected: %d MiB; goroutines %d", len(clients), ms.HeapInuse>>20, runtime.NumGoroutine())
	// Bounded: the frames are in SQLite, not in memory. 1000 frames of
	// 16 KiB are 16 MiB; the heap must stay well below holding many
	// copies of them.
	if ms.HeapInuse > 512<<20 {
		t.Fatalf("heap in use %d MiB", ms.HeapInuse>>20)
	}
	for _, cl := range clients {
		cl.c.Close()
	}
	// Every connection's goroutines end once the clients have left.
	for i := 0; ; i++ {
		runtime.GC()
		g := runtime.NumGoroutine()
		if g <= baseGoroutines+4 {
			break
		}
		if i == 100 {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines remain after the clients left (baseline %d):\n%s", g, baseGoroutines, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(50 * time.Millisecond)
	}
}
