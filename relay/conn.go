package relay

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"parley/internal/cork"
	"parley/internal/wire"
	"parley/internal/wsread"
)

// outQueue bounds the frames waiting to be written to one connection,
// and outBytes their bytes. A client too slow to drain them is
// disconnected (it refetches on reconnect), so a connection's memory
// stays bounded. A frame count alone would not do: a Fetch's answer is up
// to 1 MiB, and a client that asked 64 times without reading held 64 MiB
// of the relay's memory. A client asks one thing at a time; 4 MiB is a
// full answer and a full queue of pushes, twice over.
const (
	outQueue = 64
	outBytes = 4 << 20
)

// maxMalformed is how many undecodable frames a connection may send
// before it is closed.
const maxMalformed = 8

const writeTimeout = 10 * time.Second

// conn is one WebSocket connection. Its reader goroutine handles one
// request at a time; its writer goroutine owns all writes.
type conn struct {
	s         *Server
	ws        *websocket.Conn
	cork      *cork.Conn // nil where the listener is not the relay's
	out       chan []byte
	outSize   atomic.Int64 // bytes in out
	quit      chan struct{}
	closeOnce sync.Once
	closeCode int
	closeText string
	limit     *bucket
	challenge [32]byte
	malformed int
	serial    uint64 // for Config.Observe

	// Set once by the reader when authentication succeeds, before the
	// connection is registered with its channel.
	authed bool
	ch     ChannelID
	key    ed25519.PublicKey
	state  *channelState
	// admin is set for a connection authenticated with the channel's
	// administration key rather than a member's; adminKey is that key,
	// moved on when this connection replaces it (SetAccess).
	admin    bool
	adminKey ed25519.PublicKey
	// forked is set only by a test relay that forks access lists
	// (Config.ForkAccessLists): its administrator stays in force.
	forked bool
}

func newConn(s *Server, ws *websocket.Conn) *conn {
	c := &conn{
		s:      s,
		ws:     ws,
		cork:   cork.Of(ws),
		out:    make(chan []byte, outQueue),
		quit:   make(chan struct{}),
		limit:  newBucket(s.cfg.ConnRate, s.cfg.ConnBurst),
		serial: s.serials.Add(1),
	}
	rand.Read(c.challenge[:])
	return c
}

// serve runs the connection until it closes.
func (c *conn) serve() {
	writerDone := make(chan struct{})
	go func() { c.writer(); close(writerDone) }()
	defer func() {
		c.close(websocket.CloseNormalClosure, "")
		<-writerDone
		c.ws.Close()
		c.s.forget(c)
		if c.s.cfg.Observe != nil {
			c.s.cfg.Observe(Observation{Time: time.Now(), Conn: c.serial, Remote: c.ws.RemoteAddr().String(), Closed: true})
		}
	}()

	c.ws.SetReadLimit(wire.MaxFrame)
	c.ws.SetReadDeadline(time.Now().Add(c.s.cfg.AuthTimeout))
	c.ws.SetPongHandler(func(string) error {
		if c.authed {
			c.ws.SetReadDeadline(time.Now().Add(c.s.cfg.IdleTimeout))
		}
		return nil
	})
	c.send(wire.Challenge{Nonce: c.challenge}.Encode())
	for {
		buf, mt, data, err := wsread.Read(c.ws)
		if err != nil {
			// gorilla has already answered an oversized frame with 1009.
			return
		}
		done := c.receive(mt, data)
		buf.Release()
		if done {
			return
		}
	}
}

// receive handles one message; it reports whether the connection ends.
// data is in a pooled buffer that is reused once receive returns.
func (c *conn) receive(mt int, data []byte) (done bool) {
	if mt != websocket.BinaryMessage {
		c.close(websocket.CloseUnsupportedData, "binary frames only")
		return true
	}
	if c.authed {
		c.ws.SetReadDeadline(time.Now().Add(c.s.cfg.IdleTimeout))
	}
	f, err := wire.Decode(data)
	if err != nil {
		if c.malformed++; c.malformed >= maxMalformed {
			c.close(websocket.ClosePolicyViolation, "too many malformed frames")
			return true
		}
		c.send(wire.ErrorBody{Code: wire.CodeMalformed, Message: "malformed frame"}.Encode(0))
		return false
	}
	if !c.limit.allow(time.Now()) {
		c.send(wire.ErrorBody{Code: wire.CodeRateLimited, Message: wire.CodeRateLimited.String()}.Encode(f.ID))
		return false
	}
	select {
	case <-c.quit:
		return true
	default:
	}
	if f.Type != wire.TPost {
		// Only a post is handled with its body in the pooled buffer
		// (ParsePost copies the payload out); other handlers may keep
		// slices of theirs.
		f.Body = bytes.Clone(f.Body)
	}
	reply := c.handle(f)
	c.observe(f, len(data))
	if reply != nil {
		c.send(reply)
	}
	return false
}

// writer owns the socket's write side: queued frames, pings, and the
// close frame.
func (c *conn) writer() {
	ping := time.NewTicker(c.s.cfg.IdleTimeout / 3)
	defer ping.Stop()
	for {
		select {
		case data := <-c.out:
			c.outSize.Add(-int64(len(data)))
			if err := c.writeQueued(data); err != nil {
				c.close(0, "")
				c.ws.Close()
				return
			}
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeTimeout)); err != nil {
				c.close(0, "")
				c.ws.Close()
				return
			}
		case <-c.quit:
			// Flush what the reader queued before closing (its last
			// reply), then say goodbye.
			for {
				select {
				case data := <-c.out:
					c.outSize.Add(-int64(len(data)))
					c.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
					if c.ws.WriteMessage(websocket.BinaryMessage, data) != nil {
						c.ws.Close()
						return
					}
					continue
				default:
				}
				break
			}
			if c.closeCode != 0 {
				c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(c.closeCode, c.closeText), time.Now().Add(time.Second))
			}
			// Unblock the reader.
			c.ws.SetReadDeadline(time.Now())
			return
		}
	}
}

// writeQueued writes data and what is queued behind it (at most a
// queue's worth), gathered below TLS so that they leave in as few system
// calls as their size allows (package cork).
func (c *conn) writeQueued(data []byte) error {
	c.cork.Hold()
	for n := 1; ; n++ {
		c.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
		if err := c.ws.WriteMessage(websocket.BinaryMessage, data); err != nil {
			c.cork.Release()
			return err
		}
		if n == cap(c.out) || len(c.out) == 0 {
			return c.cork.Release()
		}
		data = <-c.out
		c.outSize.Add(-int64(len(data)))
	}
}

// send queues a reply. A client that does not read its replies is
// dropped.
func (c *conn) send(data []byte) {
	// Queue first, even when closing: the writer flushes the queue
	// before its close frame, so the reply to the request in hand is
	// not lost.
	if c.outSize.Add(int64(len(data))) <= outBytes {
		select {
		case c.out <- data:
			return
		default:
		}
	}
	c.outSize.Add(-int64(len(data)))
	select {
	case <-c.quit:
	default:
		c.close(websocket.CloseTryAgainLater, "too slow")
	}
}

// push queues a pushed frame, like send.
func (c *conn) push(data []byte) { c.send(data) }

// close asks the writer to send a close frame with code and stop; the
// first call wins.
func (c *conn) close(code int, text string) {
	c.closeOnce.Do(func() {
		c.closeCode, c.closeText = code, text
		close(c.quit)
	})
}

// revoke cuts off a connection whose key was removed or has expired.
func (c *conn) revoke() {
	c.send(wire.ErrorBody{Code: wire.CodeRevoked, Message: wire.CodeRevoked.String()}.Encode(0))
	c.close(websocket.ClosePolicyViolation, "access revoked")
}

// goAway closes the connection for shutdown, after the request in hand.
func (c *conn) goAway() {
	c.close(websocket.CloseGoingAway, "relay shutting down")
}

// forget unregisters a closed connection.
func (s *Server) forget(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	if !c.authed {
		s.unauth--
		return
	}
	if c.state != nil {
		delete(c.state.conns, c)
	}
	if k := s.keys[string(c.key)]; k != nil {
		if k.conns--; k.conns == 0 {
			delete(s.keys, string(c.key))
		}
	}
}
