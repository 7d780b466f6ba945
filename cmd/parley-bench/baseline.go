package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"parley/crypto"
	"parley/internal/wire"
	"parley/relay"
)

// The baseline is the bare relay Parley is measured against: a
// gorilla/websocket broadcast server in the style of gorilla's chat
// example. A connection joins a channel by naming it in the URL; every
// binary frame it sends is kept in memory (a ring of the channel's last
// frames), queued to every other connection of the channel, and
// acknowledged with its 8-byte sequence number. No store, no
// authentication, no access lists, no rate limits.
//
// What it shares with the real relay, so that the difference is Parley's
// and not the transport's: TLS 1.3 with the same kind of self-signed
// ECDSA P-256 certificate, pinned by the client; the same WebSocket
// buffer sizes and read limit; per connection a reader and a writer
// goroutine with a bounded queue (64 frames, a client too slow to drain
// it is dropped), pings every 30 s and write deadlines; the same
// 16 KiB frames; one request in flight per connection.

const (
	baseQueue = 64 // frames queued per connection, as relay's outQueue
	// baseRing is how many frames a channel keeps. A ring of 256 made the
	// baseline slower (hundreds of MB held at size 3; the collector and
	// fresh pages cost it up to half its throughput there); a short one
	// keeps it fast, so that it does not flatter Parley.
	baseRing      = 16
	baseIdle      = 90 * time.Second
	baseWriteWait = 10 * time.Second
)

type baseRelay struct {
	upgrader websocket.Upgrader
	mu       sync.Mutex
	channels map[string]*baseChannel
	conns    map[*baseConn]struct{}
}

type baseChannel struct {
	mu    sync.Mutex
	conns map[*baseConn]struct{}
	ring  [baseRing][]byte
	next  uint64
}

type baseConn struct {
	ws   *websocket.Conn
	ch   *baseChannel
	out  chan []byte
	quit chan struct{}
	once sync.Once
	// slow is set when the connection is dropped for a full queue: its
	// close frame then says so, as the real relay's does (1013, "too
	// slow").
	slow atomic.Bool
}

// startBaseline serves the baseline over TLS on a free loopback port and
// returns its URL (with the certificate pin, like a relay URL) and a
// function that stops it.
func startBaseline(dataDir string) (string, func(), error) {
	cert, pin, err := relay.SelfSignedCertificate(dataDir)
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	b := &baseRelay{channels: map[string]*baseChannel{}, conns: map[*baseConn]struct{}{}}
	b.upgrader = websocket.Upgrader{
		ReadBufferSize:  4096,
		WriteBufferSize: 4096,
		CheckOrigin:     func(*http.Request) bool { return true },
	}
	srv := &http.Server{
		Handler:           b,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go srv.ServeTLS(ln, "", "")
	stop := func() {
		srv.Close()
		b.mu.Lock()
		for c := range b.conns {
			c.close()
		}
		b.mu.Unlock()
	}
	return wire.FormatURL(ln.Addr().String(), pin), stop, nil
}

func (b *baseRelay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("ch")
	ws, err := b.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	b.mu.Lock()
	ch := b.channels[name]
	if ch == nil {
		ch = &baseChannel{conns: map[*baseConn]struct{}{}}
		b.channels[name] = ch
	}
	c := &baseConn{ws: ws, ch: ch, out: make(chan []byte, baseQueue), quit: make(chan struct{})}
	b.conns[c] = struct{}{}
	b.mu.Unlock()
	ch.mu.Lock()
	ch.conns[c] = struct{}{}
	ch.mu.Unlock()
	// As in gorilla's chat example, all work happens in new goroutines
	// so that the handler's memory can be collected.
	go c.writer()
	go c.reader(b)
}

func (c *baseConn) reader(b *baseRelay) {
	defer func() {
		c.ch.mu.Lock()
		delete(c.ch.conns, c)
		c.ch.mu.Unlock()
		b.mu.Lock()
		delete(b.conns, c)
		b.mu.Unlock()
		c.close()
		c.ws.Close()
	}()
	c.ws.SetReadLimit(wire.MaxFrame)
	c.ws.SetReadDeadline(time.Now().Add(baseIdle))
	c.ws.SetPongHandler(func(string) error { return c.ws.SetReadDeadline(time.Now().Add(baseIdle)) })
	for {
		mt, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		c.ws.SetReadDeadline(time.Now().Add(baseIdle))
		if mt != websocket.BinaryMessage {
			return
		}
		ch := c.ch
		ch.mu.Lock()
		seq := ch.next
		ch.next++
		ch.ring[seq%baseRing] = data
		targets := make([]*baseConn, 0, len(ch.conns))
		for o := range ch.conns {
			if o != c {
				targets = append(targets, o)
			}
		}
		ch.mu.Unlock()
		for _, t := range targets {
			t.send(data)
		}
		c.send(binary.BigEndian.AppendUint64(nil, seq))
	}
}

func (c *baseConn) writer() {
	ping := time.NewTicker(baseIdle / 3)
	defer ping.Stop()
	for {
		select {
		case data := <-c.out:
			c.ws.SetWriteDeadline(time.Now().Add(baseWriteWait))
			if err := c.ws.WriteMessage(websocket.BinaryMessage, data); err != nil {
				c.close()
				c.ws.Close()
				return
			}
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(baseWriteWait)); err != nil {
				c.close()
				c.ws.Close()
				return
			}
		case <-c.quit:
			msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
			if c.slow.Load() {
				msg = websocket.FormatCloseMessage(websocket.CloseTryAgainLater, "too slow")
			}
			c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
			c.ws.SetReadDeadline(time.Now())
			return
		}
	}
}

// send queues a frame; a connection whose queue is full is dropped.
func (c *baseConn) send(data []byte) {
	select {
	case c.out <- data:
	default:
		c.slow.Store(true)
		c.close()
	}
}

func (c *baseConn) close() { c.once.Do(func() { close(c.quit) }) }

// baseClient is the baseline's client: dial with the pin, post a frame
// and wait for its acknowledgement, receive pushed frames.
type baseClient struct {
	ws     *websocket.Conn
	wmu    sync.Mutex
	acks   chan uint64
	pushes chan []byte
	done   chan struct{}
	mu     sync.Mutex
	err    error
}

// dialer returns a WebSocket dialer set up as relayclient's: TLS 1.3,
// the certificate pin instead of CA verification, 16 KiB buffers.
func dialer(pin [32]byte) *websocket.Dialer {
	return &websocket.Dialer{
		HandshakeTimeout: 15 * time.Second,
		TLSClientConfig: &tls.Config{
			MinVersion:         tls.VersionTLS13,
			InsecureSkipVerify: true,
			VerifyConnection: func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) == 0 || sha256.Sum256(cs.PeerCertificates[0].RawSubjectPublicKeyInfo) != pin {
					return errors.New("certificate does not match the pin")
				}
				return nil
			},
		},
		ReadBufferSize:  16 << 10,
		WriteBufferSize: 16 << 10,
	}
}

func dialBaseline(ctx context.Context, url string, channel crypto.ChannelID) (*baseClient, error) {
	addr, pin, err := wire.ParseURL(url)
	if err != nil {
		return nil, err
	}
	ws, resp, err := dialer(pin).DialContext(ctx, addr+"?ch="+hex.EncodeToString(channel[:]), nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("connecting to the baseline: %w", err)
	}
	ws.SetReadLimit(wire.MaxFrame)
	c := &baseClient{ws: ws, acks: make(chan uint64, 16), pushes: make(chan []byte, 1024), done: make(chan struct{})}
	go c.reader()
	return c, nil
}

func (c *baseClient) reader() {
	defer close(c.done)
	for {
		data, err := readFrame(c.ws)
		if err != nil {
			c.fail(err)
			return
		}
		if len(data) == 8 {
			select {
			case c.acks <- binary.BigEndian.Uint64(data):
			default:
				c.fail(errors.New("unexpected acknowledgement"))
				return
			}
			continue
		}
		select {
		case c.pushes <- data:
		default:
			c.fail(errors.New("push queue overflow"))
			return
		}
	}
}

// readFrame reads one message into a buffer sized for an envelope.
// gorilla's ReadMessage grows its buffer from 512 bytes (io.ReadAll),
// zeroing about five times the frame on the way; that made the baseline's
// clients, which share the cores with the baseline, cost up to twice what
// they need, and so flattered Parley.
func readFrame(ws *websocket.Conn) ([]byte, error) {
	_, r, err := ws.NextReader()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 0, crypto.EnvelopeSize+64)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func (c *baseClient) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
	c.ws.Close()
}

func (c *baseClient) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *baseClient) Post(ctx context.Context, env []byte) error {
	c.wmu.Lock()
	c.ws.SetWriteDeadline(time.Now().Add(30 * time.Second))
	err := c.ws.WriteMessage(websocket.BinaryMessage, env)
	c.wmu.Unlock()
	if err != nil {
		if errors.Is(err, websocket.ErrCloseSent) {
			// The baseline's close frame is in the reader's hands:
			// report its reason ("too slow"), not the write's.
			select {
			case <-c.done:
			case <-time.After(5 * time.Second):
			}
		}
		c.fail(err)
		if cerr := c.Err(); cerr != err {
			return fmt.Errorf("%w (connection ended: %w)", err, cerr)
		}
		return err
	}
	select {
	case <-c.acks:
		return nil
	case <-c.done:
		return fmt.Errorf("baseline connection closed: %v", c.Err())
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *baseClient) Receive(stop <-chan struct{}, fn func([]byte)) error {
	for {
		select {
		case env := <-c.pushes:
			fn(env)
		case <-c.done:
			return c.Err()
		case <-stop:
			return nil
		}
	}
}

func (c *baseClient) Close() {
	c.wmu.Lock()
	c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	c.wmu.Unlock()
	c.ws.Close()
	<-c.done
}
