// Package cork gathers a connection's writes below TLS while its writer
// has more to send.
//
// A WebSocket message holding a whole envelope is two TLS records (at
// most 16 KiB of plaintext each), and TLS hands each record to the
// connection in a write of its own: two system calls per message, one of
// them for a few dozen bytes, each going through loopback's TCP stack.
// A Conn sits below TLS and, while held, gathers those writes so that a
// message, or a run of messages queued together, leaves in one. It
// changes no byte on the wire, only how the bytes are split into
// writes. Nothing is gathered unless the writer holds the Conn, and
// Release writes everything out: an answer is never kept back behind a
// message that is not coming.
package cork

import (
	"crypto/tls"
	"net"
	"sync"

	"github.com/gorilla/websocket"
)

// Limit is how much a held Conn gathers before it writes anyway.
const Limit = 64 << 10

// slack is room past Limit for the write that crosses it.
const slack = 20 << 10

var buffers = sync.Pool{New: func() any { b := make([]byte, 0, Limit+slack); return &b }}

// Conn is a net.Conn whose writes can be held and sent together.
type Conn struct {
	net.Conn
	mu  sync.Mutex
	buf *[]byte // while held
}

// New wraps c.
func New(c net.Conn) *Conn { return &Conn{Conn: c} }

// Listener gives every connection it accepts a Conn.
type Listener struct{ net.Listener }

func (l Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return New(c), nil
}

// Of returns the Conn under a WebSocket connection over TLS, or nil if
// there is none.
func Of(ws *websocket.Conn) *Conn {
	tc, ok := ws.NetConn().(*tls.Conn)
	if !ok {
		return nil
	}
	c, _ := tc.NetConn().(*Conn)
	return c
}

func (c *Conn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf == nil {
		return c.Conn.Write(p)
	}
	if len(*c.buf)+len(p) > Limit {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
	}
	*c.buf = append(*c.buf, p...)
	return len(p), nil
}

func (c *Conn) flushLocked() error {
	b := *c.buf
	*c.buf = b[:0]
	if len(b) == 0 {
		return nil
	}
	_, err := c.Conn.Write(b)
	return err
}

// Hold gathers the writes that follow, until Release. Safe on nil.
func (c *Conn) Hold() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf == nil {
		c.buf = buffers.Get().(*[]byte)
	}
}

// Release writes what was gathered, in one write, and lets writes
// through again. Safe on nil.
func (c *Conn) Release() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf == nil {
		return nil
	}
	err := c.flushLocked()
	if cap(*c.buf) <= Limit+slack {
		buffers.Put(c.buf)
	}
	c.buf = nil
	return err
}
