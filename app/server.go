package app

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"parley/client"
)

// DefaultIdleLock is how long the home stays unlocked without a person
// doing anything in the page.
const DefaultIdleLock = 10 * time.Minute

// presenceLock is how long the home stays unlocked once no page is open:
// an open page asks for the channel list every 15 seconds (a browser may
// slow a hidden tab's timers to one a minute) and holds its live stream.
const presenceLock = 3 * time.Minute

// Options configure a Server.
type Options struct {
	// Home is the home folder; Passphrase, when set, unlocks it at once
	// (scripts), otherwise the page asks for it.
	Home       string
	Passphrase string
	// Listen is a loopback address; port 0 picks a free one.
	Listen string
	// IdleLock locks the home after this long without a request
	// (DefaultIdleLock when zero).
	IdleLock time.Duration
	// Now is the clock (tests). Default time.Now.
	Now func() time.Time
	// SyncEvery is how often every channel is synced in the background
	// (DefaultSyncEvery when zero).
	SyncEvery time.Duration
	// Proxy, when set, is the SOCKS5 proxy for every relay connection
	// (client.SetProxy).
	Proxy string
}

// Server is a running `parley app`.
type Server struct {
	opts     Options
	listener net.Listener
	host     string // exactly what the Host header must say
	http     *http.Server

	mu       sync.Mutex
	token    []byte // the launch secret; nil once spent
	sessions map[string]string
	client   *client.Client
	lastSeen time.Time            // a person's last action: the idle lock
	present  time.Time            // any page's last request: the closed-tab lock
	streams  int                  // live streams open
	seen     map[string]int64     // per channel, the transcript mark the page has shown
	links    map[string]linkState // per channel, the last background sync
	lockCtx  context.Context      // ends when the home locks
	lockEnd  context.CancelFunc
	quitCh   chan struct{}
	quitOnce sync.Once
}

// Start listens and serves. The address to open is URL().
func Start(opts Options) (*Server, error) {
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	if opts.IdleLock == 0 {
		opts.IdleLock = DefaultIdleLock
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SyncEvery == 0 {
		opts.SyncEvery = DefaultSyncEvery
	}
	host, _, err := net.SplitHostPort(opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("--listen %s: %w", opts.Listen, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("--listen %s: parley app listens on a loopback address only (127.0.0.1 or ::1)", opts.Listen)
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, listener: ln, host: ln.Addr().String(), sessions: map[string]string{}, token: random(32), quitCh: make(chan struct{})}
	if opts.Passphrase != "" {
		if err := s.unlock(opts.Passphrase); err != nil {
			ln.Close()
			return nil, err
		}
		s.opts.Passphrase = "" // used once; an idle lock asks the person again
	}
	s.http = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	go s.http.Serve(ln)
	go s.idleLoop()
	return s, nil
}

// URL is the address that opens the app: it carries the launch secret,
// which the first visit spends.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("http://%s/login?token=%s", s.host, hex.EncodeToString(s.token))
}

// Origin is the only origin the server accepts requests from.
func (s *Server) Origin() string { return "http://" + s.host }

// Close stops the server and locks the home.
func (s *Server) Close() error {
	s.lock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.http.Shutdown(ctx)
}

// Done is closed when the page asked to lock and quit.
func (s *Server) Done() <-chan struct{} { return s.quitCh }

// quit locks the home and closes Done.
func (s *Server) quit() {
	s.lock()
	s.quitOnce.Do(func() { close(s.quitCh) })
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// unlock opens the home with passphrase.
func (s *Server) unlock(passphrase string) error {
	c, err := client.Open(s.opts.Home, passphrase)
	if err != nil {
		return err
	}
	if err := c.SetProxy(s.opts.Proxy); err != nil {
		c.Close()
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client != nil {
		c.Close()
		return nil
	}
	s.client, s.lastSeen, s.present = c, s.opts.Now(), s.opts.Now()
	s.lockCtx, s.lockEnd = context.WithCancel(context.Background())
	s.seen, s.links = marks(c), map[string]linkState{}
	go s.syncLoop(s.lockCtx, c)
	return nil
}

// lock closes the client, which drops the home's keys, and ends every
// live stream.
func (s *Server) lock() {
	s.mu.Lock()
	c, end := s.client, s.lockEnd
	s.client, s.lockEnd = nil, nil
	s.mu.Unlock()
	if end != nil {
		end() // live streams stop using the client
	}
	if c != nil {
		c.Close()
	}
}

// home returns the unlocked client and the context that ends when the
// home locks, or an error when it is locked.
func (s *Server) home() (*client.Client, context.Context, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		return nil, nil, errLocked
	}
	return s.client, s.lockCtx, nil
}

var errLocked = errors.New("the home is locked: unlock it with its passphrase")

func (s *Server) touch() {
	s.mu.Lock()
	s.lastSeen = s.opts.Now()
	s.mu.Unlock()
}

// markPresent records that a page is still open.
func (s *Server) markPresent() {
	s.mu.Lock()
	s.present = s.opts.Now()
	s.mu.Unlock()
}

// stream counts live streams in (+1) and out (-1); a stream's end counts
// as the page's last sign of life.
func (s *Server) stream(delta int) {
	s.mu.Lock()
	s.streams += delta
	s.present = s.opts.Now()
	s.mu.Unlock()
}

// openStreams is how many live streams are open.
func (s *Server) openStreams() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.streams
}

// idleLoop locks the home when nobody has used the page for IdleLock, or
// when no page has been open for presenceLock (the tab was closed, the
// browser quit, the laptop slept).
func (s *Server) idleLoop() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for range t.C {
		s.mu.Lock()
		now := s.opts.Now()
		idle := s.client != nil && (now.Sub(s.lastSeen) >= s.opts.IdleLock || s.streams == 0 && now.Sub(s.present) >= presenceLock)
		s.mu.Unlock()
		if idle {
			s.lock()
		}
	}
}

// spendToken checks the launch secret and spends it.
func (s *Server) spendToken(given string) bool {
	b, err := hex.DecodeString(given)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil || s.token == nil || subtle.ConstantTimeCompare(b, s.token) != 1 {
		return false
	}
	s.token = nil
	return true
}

// newSession returns a fresh session id (the cookie) and its key (the
// header, guard.go).
func (s *Server) newSession() (id, key string) {
	id, key = hex.EncodeToString(random(32)), hex.EncodeToString(random(32))
	s.mu.Lock()
	s.sessions[id] = key
	s.mu.Unlock()
	return id, key
}

// session returns the key of session id.
func (s *Server) session(id string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key, ok := s.sessions[id]
	return key, ok
}
