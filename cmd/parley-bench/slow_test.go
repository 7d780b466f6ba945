package main

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"parley/internal/relayclient"
)

func TestDroppedAsSlow(t *testing.T) {
	for _, c := range []struct {
		err  error
		slow bool
	}{
		{&websocket.CloseError{Code: websocket.CloseTryAgainLater, Text: "too slow"}, true},
		{fmt.Errorf("%w: %s", relayclient.ErrClosed, "too slow"), true},
		{errors.New("push queue overflow"), true},
		{nil, false},
		{&websocket.CloseError{Code: websocket.CloseNormalClosure}, false},
		{&websocket.CloseError{Code: websocket.ClosePolicyViolation, Text: "access revoked"}, false},
		{fmt.Errorf("%w: %s", relayclient.ErrClosed, "access revoked"), false},
		{fmt.Errorf("%w: %v", relayclient.ErrClosed, websocket.ErrCloseSent), false},
		{errors.New("too slow"), false}, // not a relay's close
	} {
		if got := droppedAsSlow(c.err); got != c.slow {
			t.Errorf("droppedAsSlow(%v) = %v, want %v", c.err, got, c.slow)
		}
	}
}

// A member a relay dropped leaves the window: the others may post again.
func TestWindowLeave(t *testing.T) {
	a, b, c := &client{}, &client{}, &client{}
	w := newWindow(2, []*client{a, b, c})
	for range 2 {
		if !w.acquire(a) {
			t.Fatal("window closed")
		}
		w.release(b) // c receives nothing
	}
	got := make(chan bool)
	go func() { got <- w.acquire(a) }()
	select {
	case <-got:
		t.Fatal("a posted past the window while c lags 2 behind")
	case <-time.After(50 * time.Millisecond):
	}
	w.leave(c)
	select {
	case ok := <-got:
		if !ok {
			t.Fatal("window closed")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("c left, a is still held back")
	}
	w.release(c) // a late delivery to a member that left changes nothing
	if w.lag() != 1 {
		t.Fatalf("lag %d, want 1 (b)", w.lag())
	}
	w.close()
}
