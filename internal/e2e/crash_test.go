package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestClientKilledDuringDraftPut kills parley draft put at random points;
// each time the home stays usable, the next sync completes, and every
// version that reaches the others is byte-exact.
func TestClientKilledDuringDraftPut(t *testing.T) {
	r := startRelay(t)
	org, alice := newHome(t, "Organizer"), newHome(t, "Alice")
	channel(t, r.url, org, alice)
	var puts [][]byte
	rounds, killed := 5, 0
	for i := 0; i < rounds; i++ {
		data := make([]byte, 1<<20)
		rand.Read(data)
		puts = append(puts, data)
		cmd := alice.command("draft", "put", "c", "annex", "-")
		cmd.Stdin = bytes.NewReader(data)
		if !killAfter(t, cmd, time.Duration(100+mrand.IntN(800))*time.Millisecond) {
			killed++
		}
		alice.must("sync", "c")
	}
	alice.must("sync", "c")
	var list []struct {
		Version int    `json:"version"`
		Size    int    `json:"size"`
		SHA256  string `json:"sha256"`
	}
	if err := json.Unmarshal([]byte(org.must("draft", "list", "c", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	for _, v := range list {
		got := org.must("draft", "get", "c", "annex", "--version", fmt.Sprint(v.Version))
		found := false
		for _, p := range puts {
			found = found || bytes.Equal([]byte(got), p)
		}
		if !found {
			t.Fatalf("version %d (%d bytes) matches nothing that was put", v.Version, len(got))
		}
	}
	t.Logf("%d puts, %d of them killed; %d versions arrived, each whole; the others never left", rounds, killed, len(list))
}

// TestClientKilledDuringSync kills parley sync repeatedly while messages
// wait; afterwards every message is shown exactly once, in order.
func TestClientKilledDuringSync(t *testing.T) {
	r := startRelay(t)
	org, alice := newHome(t, "Organizer"), newHome(t, "Alice")
	channel(t, r.url, org, alice)
	const n = 30
	for i := 0; i < n; i++ {
		org.must("send", "c", fmt.Sprintf("message %02d", i))
	}
	for i := 0; i < 8; i++ {
		killAfter(t, alice.command("sync", "c"), time.Duration(10+mrand.IntN(150))*time.Millisecond)
	}
	alice.must("sync", "c")
	checkOnceInOrder(t, alice.must("transcript", "c"), n)
}

func checkOnceInOrder(t *testing.T, transcript string, n int) {
	t.Helper()
	last := -1
	for i := 0; i < n; i++ {
		msg := fmt.Sprintf("Organizer: message %02d\n", i)
		if c := strings.Count(transcript, msg); c != 1 {
			t.Fatalf("%q shown %d times", strings.TrimSpace(msg), c)
		}
		at := strings.Index(transcript, msg)
		if at < last {
			t.Fatalf("%q out of order", strings.TrimSpace(msg))
		}
		last = at
	}
}

// TestRelayKilledDuringSends kills the relay with SIGKILL while sends are
// under way, restarting it in place: every send that succeeded reaches
// the receiver exactly once, and nothing is shown twice.
func TestRelayKilledDuringSends(t *testing.T) {
	r := startRelay(t)
	org, alice := newHome(t, "Organizer"), newHome(t, "Alice")
	channel(t, r.url, org, alice)
	const n = 24
	ok := map[int]bool{}
	for i := 0; i < n; i++ {
		var killed chan struct{}
		if i%6 == 3 {
			killed = make(chan struct{})
			go func() {
				defer close(killed)
				time.Sleep(time.Duration(mrand.IntN(40)) * time.Millisecond)
				r.kill()
			}()
		}
		_, err := org.run(nil, "send", "c", fmt.Sprintf("message %02d", i))
		ok[i] = err == nil
		if killed != nil {
			<-killed
			r.start()
		}
	}
	org.must("sync", "c") // sends whatever a failed send left queued
	alice.must("sync", "c")
	got := alice.must("transcript", "c")
	delivered := 0
	for i := 0; i < n; i++ {
		c := strings.Count(got, fmt.Sprintf("Organizer: message %02d\n", i))
		if c > 1 {
			t.Fatalf("message %02d shown %d times", i, c)
		}
		if ok[i] && c != 1 {
			t.Fatalf("message %02d was acknowledged but never arrived", i)
		}
		delivered += c
	}
	if strings.Contains(got, "replayed") {
		t.Fatalf("a resend reached the receiver as a replay:\n%s", got)
	}
	// A send that failed before sealing (the relay down during its
	// first sync) sends nothing; one that failed after sealing left its
	// message queued, and the later syncs sent it, once.
	t.Logf("%d of %d messages delivered; %d sends reported failure", delivered, n, n-countTrue(ok))
}

func countTrue(m map[int]bool) int {
	n := 0
	for _, v := range m {
		if v {
			n++
		}
	}
	return n
}
