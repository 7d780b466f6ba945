package relay_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"parley/crypto"
	"parley/internal/relayclient"
	"parley/internal/wire"
	"parley/relay"
)

// rawConn opens a WebSocket and reads the challenge.
func rawConn(t testing.TB, url string) *websocket.Conn {
	t.Helper()
	ws, _, err := relayclient.DialWebSocket(ctxT(t), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	if _, _, err := ws.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	return ws
}

// closeCode reads until the relay closes ws and returns the close code.
func closeCode(t testing.TB, ws *websocket.Conn) int {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code
			}
			t.Fatalf("connection ended without a close frame: %v", err)
		}
	}
}

// wellBehaved keeps a member posting while abuse goes on, and reports
// any failure.
func wellBehaved(t *testing.T, url string) (stop func()) {
	now := time.Now()
	tc := newTestChannel(t, url, now)
	alice := newMember(t, "Alice", crypto.RoleParticipant)
	ac := tc.add(alice, now, time.Time{})
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := uint32(0); ; i++ {
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if _, err := ac.Post(ctxT(t), wire.KindMessage, envelope(alice.keys)); err != nil {
				t.Errorf("well-behaved client failed during abuse: %v", err)
				return
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func TestOversizedFrameClosed(t *testing.T) {
	r, _ := startRelay(t, relay.Config{})
	ws := rawConn(t, r.URL)
	ws.WriteMessage(websocket.BinaryMessage, make([]byte, wire.MaxFrame+1))
	if code := closeCode(t, ws); code != websocket.CloseMessageTooBig {
		t.Fatalf("close code %d, want 1009", code)
	}
}

func TestGarbageFrames(t *testing.T) {
	r, _ := startRelay(t, relay.Config{})
	stop := wellBehaved(t, r.URL)
	defer stop()

	ws := rawConn(t, r.URL)
	ws.WriteMessage(websocket.TextMessage, []byte("hello"))
	if code := closeCode(t, ws); code != websocket.CloseUnsupportedData {
		t.Fatalf("text frame: close code %d, want 1003", code)
	}

	ws = rawConn(t, r.URL)
	garbage := [][]byte{{}, {0xff}, {1, 0x42, 0, 0, 0, 1}, bytes.Repeat([]byte{1}, 100)}
	for i := 0; i < 20; i++ {
		if err := ws.WriteMessage(websocket.BinaryMessage, garbage[i%len(garbage)]); err != nil {
			break
		}
	}
	if code := closeCode(t, ws); code != websocket.ClosePolicyViolation {
		t.Fatalf("garbage: close code %d, want 1008", code)
	}
}

func TestUnauthenticatedFlood(t *testing.T) {
	r, _ := startRelay(t, relay.Config{ConnRate: 50, ConnBurst: 50})
	stop := wellBehaved(t, r.URL)
	defer stop()
	c := dial(t, r.URL)
	limited := 0
	for i := 0; i < 300; i++ {
		_, err := c.Tombstone(ctxT(t), crypto.ChannelID{byte(i)})
		switch {
		case errors.Is(err, relayclient.ErrRateLimited):
			limited++
		case !errors.Is(err, relayclient.ErrNotFound):
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if limited == 0 {
		t.Fatal("300 requests at once were never rate limited")
	}
}

func TestIdleConnectionsClosed(t *testing.T) {
	r, _ := startRelay(t, relay.Config{AuthTimeout: 2 * time.Second})
	stop := wellBehaved(t, r.URL)
	defer stop()
	const n = 500
	conns := make([]*websocket.Conn, n)
	for i := range conns {
		ws, _, err := relayclient.DialWebSocket(ctxT(t), r.URL)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		defer ws.Close()
		conns[i] = ws
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	open := 0
	for _, ws := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ws.SetReadDeadline(time.Now().Add(20 * time.Second))
			for {
				if _, _, err := ws.ReadMessage(); err != nil {
					var ce *websocket.CloseError
					if !errors.As(err, &ce) {
						mu.Lock()
						open++ // timed out on our side: the relay kept it
						mu.Unlock()
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	if open > 0 {
		t.Fatalf("%d of %d idle connections were not closed by the relay", open, n)
	}
}

// A client that asks for the channel's frames again and again without
// reading the answers is dropped as too slow once its unread answers
// pass the byte bound, not kept holding a megabyte of the relay's memory
// for each of a queue's 64 places.
func TestUnreadFetchAnswersDropTheClient(t *testing.T) {
	tc, alice, ac := channelWithAlice(t)
	for range 80 { // over 1 MiB stored: each Fetch answers with a full megabyte
		if _, err := ac.Post(ctxT(t), wire.KindMessage, envelope(alice.keys)); err != nil {
			t.Fatal(err)
		}
	}
	ws, pin, err := relayclient.DialWebSocket(ctxT(t), tc.url)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_, data, err := ws.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	f, _ := wire.Decode(data)
	ch, _ := wire.ParseChallenge(f.Body)
	a := wire.Auth{Channel: tc.roster.Channel}
	copy(a.Key[:], alice.keys.SigningPublicKey())
	copy(a.Signature[:], alice.keys.SignRelayChallenge(pin, tc.roster.Channel, ch.Nonce))
	if err := ws.WriteMessage(websocket.BinaryMessage, a.Encode(1)); err != nil {
		t.Fatal(err)
	}
	if _, data, err := ws.ReadMessage(); err != nil || data[1] != uint8(wire.TOK) {
		t.Fatalf("auth: %v", err)
	}
	for id := uint32(2); id < 2+32; id++ {
		if err := ws.WriteMessage(websocket.BinaryMessage, wire.EncodeUint64(wire.TFetch, id, 0)); err != nil {
			break // the relay may close first
		}
	}
	time.Sleep(time.Second) // the answers pile up unread
	// The relay ends the connection: with a close frame ("too slow"), or
	// a reset when the requests still coming in meet a closed socket.
	// Kept open, the reads would run into the deadline.
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("the relay kept serving a client that reads none of its answers")
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) && ce.Code != websocket.CloseTryAgainLater {
			t.Fatalf("closed with %d, want %d (too slow)", ce.Code, websocket.CloseTryAgainLater)
		}
		return
	}
}

// A connection that asked for something other than a WebSocket, and
// was answered 400, is closed once idle as long as an unauthenticated
// WebSocket may be: it is in neither connection count, and kept alive it
// would hold a descriptor and a goroutine for ever.
func TestPlainHTTPConnectionTimesOut(t *testing.T) {
	r, _ := startRelay(t, relay.Config{AuthTimeout: time.Second})
	conn, err := tls.Dial("tcp", r.Addr.String(), &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	ask := func() (int, error) {
		fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: relay\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := ask(); code != http.StatusBadRequest {
		t.Fatalf("a plain request: %d, %v", code, err)
	}
	time.Sleep(2500 * time.Millisecond)
	if code, err := ask(); err == nil {
		t.Fatalf("an idle plain connection is still served after 2.5 s (status %d)", code)
	}
}
