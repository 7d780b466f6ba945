package relay

import (
	"context"
	"crypto/ed25519"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"parley/crypto"
	"parley/internal/wire"
)

// Config configures a Server. Zero fields take the defaults below.
type Config struct {
	Store Store
	// Pin is the relay certificate's pin; clients bind it into their
	// authentication so a response made for one relay is useless to
	// another.
	Pin    [32]byte
	Logger *slog.Logger
	// TTL caps how long messages are kept; a channel's own retention
	// applies when shorter. Default 72h.
	TTL time.Duration
	// AuthTimeout is how long a connection may stay unauthenticated.
	// Default 10s.
	AuthTimeout time.Duration
	// IdleTimeout closes an authenticated connection that neither sends
	// nor answers pings for this long. Default 90s; pings go out every
	// third of it.
	IdleTimeout time.Duration
	// ConnRate and ConnBurst limit frames per connection; KeyRate and
	// KeyBurst limit posts per pseudonym key across its connections.
	ConnRate, ConnBurst float64
	KeyRate, KeyBurst   float64
	// MaxChannelBytes is each channel's storage quota. Default 256 MiB.
	MaxChannelBytes int64
	// MaxConns bounds open connections. Default 20000.
	MaxConns int
	// MaxUnauthenticated bounds connections not yet authenticated.
	// Default 1024.
	MaxUnauthenticated int
	// Now is the relay's clock. Default time.Now.
	Now func() time.Time
	// ForkAccessLists, when set and returning true, makes the server
	// answer OK to an access list that is not newer than the current
	// one, without storing it: the relay that lets two organizers
	// believe their competing changes both won. Only the test relay that
	// plays a hostile operator (internal/hostilerelay) sets it;
	// parley-relay never does.
	ForkAccessLists func() bool
	// Observe, when set, is called with every request a connection
	// makes, after it is handled, and once when the connection closes:
	// the record of what the relay learns (Observation). Only the test
	// relay sets it, for the test that checks what that record does not
	// show; parley-relay never does.
	Observe func(Observation)
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	deff := func(f *float64, v float64) {
		if *f == 0 {
			*f = v
		}
	}
	def(&c.TTL, 72*time.Hour)
	def(&c.AuthTimeout, 10*time.Second)
	def(&c.IdleTimeout, 90*time.Second)
	deff(&c.ConnRate, 200)
	deff(&c.ConnBurst, 400)
	deff(&c.KeyRate, 200)
	deff(&c.KeyBurst, 400)
	if c.MaxChannelBytes == 0 {
		c.MaxChannelBytes = 256 << 20
	}
	if c.MaxConns == 0 {
		c.MaxConns = 20000
	}
	if c.MaxUnauthenticated == 0 {
		c.MaxUnauthenticated = 1024
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Server is the relay. It is an http.Handler that upgrades every request
// to a WebSocket.
type Server struct {
	cfg      Config
	log      *slog.Logger
	upgrader websocket.Upgrader

	mu       sync.Mutex
	channels map[ChannelID]*channelState
	keys     map[string]*keyState
	conns    map[*conn]struct{}
	unauth   int
	closing  bool
	serials  atomic.Uint64 // numbers connections for Config.Observe
	wg       sync.WaitGroup

	stop     chan struct{}
	stopOnce sync.Once
	bgDone   chan struct{}

	stats struct {
		accepted, rejected, stored, pushed, errors atomic.Int64
	}
	full fullLog
}

// channelState is the cached view of one channel: its parsed access list
// and its live, authenticated connections.
type channelState struct {
	admin    sync.Mutex // serializes access-list changes and burns
	list     *crypto.AccessList
	raw      []byte
	conns    map[*conn]struct{}
	nextPush uint64
	pending  map[uint64]pendingPush
}

type pendingPush struct {
	seq  uint64
	kind wire.Kind
	data []byte // the encoded Push frame
	from *conn
}

type keyState struct {
	limit *bucket
	conns int
}

// NewServer makes a relay on cfg.Store and starts its expiry loop.
func NewServer(cfg Config) *Server {
	cfg.setDefaults()
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		channels: make(map[ChannelID]*channelState),
		keys:     make(map[string]*keyState),
		conns:    make(map[*conn]struct{}),
		stop:     make(chan struct{}),
		bgDone:   make(chan struct{}),
	}
	s.upgrader = websocket.Upgrader{
		ReadBufferSize: 4096,
		// Write buffers are borrowed from a pool for the time of one
		// message, so an idle connection holds none, and a buffer is
		// large enough for a whole envelope: a push goes to TLS in one
		// write instead of one per 4 KiB (fewer records and system
		// calls; docs/benchmarks.md).
		WriteBufferSize: writeBuffer,
		WriteBufferPool: &writeBuffers,
		// Clients are not browsers; there is no origin to check, and no
		// cookie or ambient authority for a cross-site request to use.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	go s.background()
	return s
}

// writeBuffer holds a push of a whole envelope with its frame headers.
const writeBuffer = 20 << 10

var writeBuffers sync.Pool

// ServeHTTP upgrades the request to a WebSocket and serves it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closing || len(s.conns) >= s.cfg.MaxConns || s.unauth >= s.cfg.MaxUnauthenticated {
		s.mu.Unlock()
		s.stats.rejected.Add(1)
		http.Error(w, "relay busy", http.StatusServiceUnavailable)
		return
	}
	s.unauth++
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()

	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		s.mu.Lock()
		s.unauth--
		s.mu.Unlock()
		return
	}
	s.stats.accepted.Add(1)
	c := newConn(s, ws)
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	// Serve on a goroutine of its own and return, as gorilla's chat
	// example does, so that what the HTTP handler held (its grown stack,
	// the request, the server's buffers for the hijacked connection) is
	// freed: that was a third of an idle connection's memory.
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		c.serve()
	}()
}

// background expires stored rows and cuts off expired keys.
func (s *Server) background() {
	defer close(s.bgDone)
	sweep := time.NewTicker(time.Second)
	defer sweep.Stop()
	expire := time.NewTicker(time.Minute)
	defer expire.Stop()
	s.expire() // what expired while the relay was down goes now
	for {
		select {
		case <-s.stop:
			return
		case <-sweep.C:
			s.cutExpired()
		case <-expire.C:
			s.expire()
		}
	}
}

func (s *Server) expire() {
	n, err := s.cfg.Store.Expire(context.Background(), s.cfg.Now())
	if err != nil {
		s.log.Error("expiring rows", "err", err)
	} else if n > 0 {
		s.log.Debug("expired rows", "count", n)
	}
}

// cutExpired closes every connection whose key has expired or left its
// channel's access list.
func (s *Server) cutExpired() {
	now := s.cfg.Now()
	var cut []*conn
	s.mu.Lock()
	for _, st := range s.channels {
		for c := range st.conns {
			if !st.inForce(c, now) {
				cut = append(cut, c)
			}
		}
	}
	s.mu.Unlock()
	for _, c := range cut {
		c.revoke()
	}
}

// Shutdown stops the relay: no new connections, every connection
// finishes the request it is handling (so an acknowledged frame is a
// committed one), then closes with "going away". The store is left open
// for the caller to close.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.bgDone
	s.mu.Lock()
	s.closing = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.goAway()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.log.Info("relay stopped", "connections", s.stats.accepted.Load(), "rejected", s.stats.rejected.Load(),
		"frames_stored", s.stats.stored.Load(), "pushes", s.stats.pushed.Load(), "errors", s.stats.errors.Load())
	return nil
}

// channel returns the cached state of ch, loading it from the store.
func (s *Server) channel(ctx context.Context, ch ChannelID) (*channelState, error) {
	s.mu.Lock()
	st := s.channels[ch]
	s.mu.Unlock()
	if st != nil {
		return st, nil
	}
	raw, next, err := s.cfg.Store.Channel(ctx, ch)
	if err != nil {
		return nil, err
	}
	list, err := crypto.ParseAccessList(raw)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.channels[ch]; st != nil {
		return st, nil
	}
	st = &channelState{list: list, raw: raw, conns: make(map[*conn]struct{}), nextPush: next, pending: map[uint64]pendingPush{}}
	s.channels[ch] = st
	return st, nil
}

// listed reports whether key may authenticate to st: a member's key,
// listed and unexpired, or the channel's administration key.
func (s *Server) listed(st *channelState, key ed25519.PublicKey) (ok, admin bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st.list.IsAdmin(key) {
		return true, true
	}
	e := st.list.Entry(key)
	return e != nil && !e.ExpiredAt(s.cfg.Now()), false
}

// inForce reports whether c's key still opens st. Called with s.mu held.
func (st *channelState) inForce(c *conn, now time.Time) bool {
	if c.admin {
		return c.forked || st.list.IsAdmin(c.adminKey)
	}
	e := st.list.Entry(c.key)
	return e != nil && !e.ExpiredAt(now)
}

// fanout pushes committed frames, encoded (the caller encodes them
// before the server's lock is taken: copying 16 KiB envelopes under it
// held up every other connection's requests), to the channel's other
// connections that may read them, in sequence order: a frame waits until
// every earlier sequence number of the channel has been pushed, so a
// client that saw sequence n has seen everything before it that it may
// read.
func (s *Server) fanout(st *channelState, pushes []pendingPush) {
	s.mu.Lock()
	var ready []pendingPush
	for _, p := range pushes {
		if p.seq < st.nextPush {
			ready = append(ready, p)
			continue
		}
		st.pending[p.seq] = p
	}
	for {
		p, ok := st.pending[st.nextPush]
		if !ok {
			break
		}
		delete(st.pending, st.nextPush)
		st.nextPush++
		ready = append(ready, p)
	}
	type target struct {
		c    *conn
		data []byte
	}
	var targets []target
	now := s.cfg.Now()
	for _, p := range ready {
		for c := range st.conns {
			// Every member gets every frame: the relay knows no roles,
			// and a compartment a member may not read is closed to it by
			// the keys alone. The administration connection reads nothing.
			if c == p.from || c.admin || !st.inForce(c, now) {
				continue
			}
			targets = append(targets, target{c, p.data})
		}
	}
	s.mu.Unlock()
	for _, t := range targets {
		t.c.push(t.data)
		s.stats.pushed.Add(1)
	}
}
