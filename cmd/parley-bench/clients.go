package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"parley/internal/relayclient"
	"parley/internal/wire"
)

// benchConn is one member's connection to a relay under test.
type benchConn interface {
	// Post sends one envelope and returns once the relay acknowledged
	// it (for the real relay: once it is committed).
	Post(ctx context.Context, env []byte) error
	// Receive calls fn with every pushed envelope until stop is closed
	// or the connection ends.
	Receive(stop <-chan struct{}, fn func([]byte)) error
	Close()
}

// realConn is a real protocol client: internal/relayclient, the package
// the client library uses, authenticated with the member's pseudonym.
type realConn struct {
	c *relayclient.Conn
	// last is the sequence number of the last frame pushed to it: where
	// a member dropped as too slow fetches from once back.
	last atomic.Uint64
}

func (r *realConn) Post(ctx context.Context, env []byte) error {
	_, err := r.c.Post(ctx, wire.KindMessage, env)
	return err
}

func (r *realConn) Receive(stop <-chan struct{}, fn func([]byte)) error {
	for {
		select {
		case f := <-r.c.Pushes():
			r.last.Store(f.Seq)
			fn(f.Payload)
		case <-r.c.Done():
			return r.c.Err()
		case <-stop:
			return nil
		}
	}
}

func (r *realConn) Close() { r.c.Close() }

// droppedAsSlow tells whether a connection ended because a relay dropped
// it as too slow to drain its 64-frame queue (close code 1013 "too
// slow", sent by both relays), or because the client's own queue of
// pushed frames overflowed. Any other end of a connection during a run
// fails the run.
func droppedAsSlow(err error) bool {
	if err == nil {
		return false
	}
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code == websocket.CloseTryAgainLater
	}
	// relayclient keeps the close frame's text only.
	msg := err.Error()
	return (errors.Is(err, relayclient.ErrClosed) && strings.HasSuffix(msg, ": too slow")) ||
		strings.HasSuffix(msg, "push queue overflow")
}

// client is one member's connection to one relay, with the receiving
// goroutine that hands every delivery to the current phase.
type client struct {
	m     *member
	conn  benchConn
	phase atomic.Pointer[phase]
	stop  chan struct{}
	done  chan struct{}
	err   error
	// redial makes a new connection for the member, after a relay
	// dropped it as too slow.
	redial func(ctx context.Context) (benchConn, error)
	// got counts the deliveries of the current run that checked out.
	got atomic.Int64
}

// phase is what the receivers do with deliveries during one run.
type phase struct {
	delivered atomic.Int64
	errors    atomic.Int64
	onEnv     func(c *client, env []byte, at time.Time) error
	// after, when set, is called after each delivery that checked out.
	after func(c *client)
}

func newClient(m *member, conn benchConn, redial func(context.Context) (benchConn, error)) *client {
	c := &client{m: m, redial: redial}
	c.start(conn)
	return c
}

// start hands conn's deliveries to the current phase until stop.
func (c *client) start(conn benchConn) {
	c.conn, c.stop, c.done, c.err = conn, make(chan struct{}), make(chan struct{}), nil
	stop, done := c.stop, c.done
	go func() {
		defer close(done)
		c.err = conn.Receive(stop, func(env []byte) {
			at := time.Now()
			p := c.phase.Load()
			if p == nil {
				return
			}
			if p.onEnv != nil {
				if err := p.onEnv(c, env, at); err != nil {
					p.errors.Add(1)
					return
				}
			}
			p.delivered.Add(1)
			c.got.Add(1)
			if p.after != nil {
				p.after(c)
			}
		})
	}()
}

// ended tells whether the connection has ended.
func (c *client) ended() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// reconnect replaces a connection that ended with a new one. Only
// between runs: nothing else may use c meanwhile.
func (c *client) reconnect(ctx context.Context) error {
	<-c.done
	c.conn.Close()
	conn, err := c.redial(ctx)
	if err != nil {
		return err
	}
	if old, ok := c.conn.(*realConn); ok {
		conn.(*realConn).last.Store(old.last.Load())
	}
	c.start(conn)
	return nil
}

func (c *client) close() {
	close(c.stop)
	<-c.done
	c.conn.Close()
}

// closeAll closes clients on a few goroutines.
func closeAll(cs []*client) {
	parallel(len(cs), 32, func(i int) error { cs[i].close(); return nil })
}

// parallel runs f(0..n-1) on at most width goroutines and returns the
// first error.
func parallel(n, width int, f func(i int) error) error {
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	next := atomic.Int64{}
	for range min(width, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

func timeoutCtx(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

// setupReal creates the channels at the real relay the way an organizer
// does (genesis access list, authentication, the next access list with
// everyone, the epoch bundle), then connects and authenticates every
// member.
func setupReal(url string, chans []*benchChannel) ([]*client, error) {
	err := parallel(len(chans), 8, func(i int) error {
		c := chans[i]
		ctx, cancel := timeoutCtx(30 * time.Second)
		defer cancel()
		org, err := relayclient.Dial(ctx, url)
		if err != nil {
			return err
		}
		defer org.Close()
		if err := org.Create(ctx, c.genesis); err != nil {
			return fmt.Errorf("creating a channel: %w", err)
		}
		if err := org.Auth(ctx, c.roster.Channel, c.admin); err != nil {
			return err
		}
		if err := org.SetAccess(ctx, c.list); err != nil {
			return fmt.Errorf("setting the access list: %w", err)
		}
		if _, err := org.Post(ctx, wire.KindBundle, c.bundle); err != nil {
			return fmt.Errorf("posting the epoch bundle: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var ms []*member
	for _, c := range chans {
		ms = append(ms, c.members...)
	}
	out := make([]*client, len(ms))
	err = parallel(len(ms), 16, func(i int) error {
		m := ms[i]
		ctx, cancel := timeoutCtx(30 * time.Second)
		defer cancel()
		dial := func(ctx context.Context) (benchConn, error) {
			c, err := relayclient.Dial(ctx, url)
			if err != nil {
				return nil, err
			}
			if err := c.Auth(ctx, m.ch.roster.Channel, m.keys); err != nil {
				c.Close()
				return nil, fmt.Errorf("authenticating: %w", err)
			}
			return &realConn{c: c}, nil
		}
		// The epoch bundle posted above is pushed to nobody (no one was
		// connected yet); start each client after it.
		conn, err := dial(ctx)
		if err != nil {
			return err
		}
		out[i] = newClient(m, conn, dial)
		return nil
	})
	if err != nil {
		closeAll(nonNil(out))
		return nil, err
	}
	return out, nil
}

// setupBaseline connects every member to the baseline, in its channel.
func setupBaseline(url string, chans []*benchChannel) ([]*client, error) {
	var ms []*member
	for _, c := range chans {
		ms = append(ms, c.members...)
	}
	out := make([]*client, len(ms))
	err := parallel(len(ms), 16, func(i int) error {
		ctx, cancel := timeoutCtx(30 * time.Second)
		defer cancel()
		dial := func(ctx context.Context) (benchConn, error) {
			c, err := dialBaseline(ctx, url, ms[i].ch.roster.Channel)
			if err != nil {
				return nil, err
			}
			return c, nil
		}
		c, err := dial(ctx)
		if err != nil {
			return err
		}
		out[i] = newClient(ms[i], c, dial)
		return nil
	})
	if err != nil {
		closeAll(nonNil(out))
		return nil, err
	}
	return out, nil
}

func nonNil(cs []*client) []*client {
	var out []*client
	for _, c := range cs {
		if c != nil {
			out = append(out, c)
		}
	}
	return out
}
