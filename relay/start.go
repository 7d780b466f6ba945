package relay

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"parley/internal/cork"
	"parley/internal/wire"
)

// Options configure a relay started with Start.
type Options struct {
	// Listen is the address to listen on; port 0 picks a free one.
	Listen string
	// DataDir holds relay.db (and its WAL), the self-signed certificate
	// and relay.url.
	DataDir string
	// CertFile and KeyFile serve a given certificate instead of the
	// self-signed one.
	CertFile, KeyFile string
	// Config is passed to NewServer; Store and Pin are set by Start.
	Config Config
	// WrapStore, when set, wraps the SQLite store before the server uses
	// it: for instrumentation, and for tests that play a relay that
	// drops, replays or reorders what it stores.
	WrapStore func(Store) Store
}

// Relay is a running relay: store, server, TLS listener.
type Relay struct {
	Server *Server
	Store  *SQLiteStore
	// URL is what clients use, with the certificate pin.
	URL  string
	Pin  [32]byte
	Addr net.Addr

	http *http.Server
	done chan error
}

// Start opens the store, loads or makes the certificate, listens and
// serves in the background, and writes the URL to DataDir/relay.url.
func Start(opts Options) (*Relay, error) {
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return nil, err
	}
	// An existing folder is tightened too: it holds the TLS key and
	// every channel's ciphertext.
	if err := os.Chmod(opts.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	var cert tls.Certificate
	var pin [32]byte
	var err error
	if opts.CertFile != "" || opts.KeyFile != "" {
		cert, pin, err = LoadCertificate(opts.CertFile, opts.KeyFile)
	} else {
		cert, pin, err = SelfSignedCertificate(opts.DataDir)
	}
	if err != nil {
		return nil, err
	}
	store, err := OpenSQLite(filepath.Join(opts.DataDir, "relay.db"))
	if err != nil {
		return nil, fmt.Errorf("opening store: %w", err)
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		store.Close()
		return nil, err
	}
	cfg := opts.Config
	cfg.Store, cfg.Pin = store, pin
	if opts.WrapStore != nil {
		cfg.Store = opts.WrapStore(store)
	}
	srv := NewServer(cfg)
	r := &Relay{Server: srv, Store: store, Pin: pin, Addr: ln.Addr(), done: make(chan error, 1)}
	r.URL = wire.FormatURL(urlHost(ln.Addr(), cert), pin)
	r.http = &http.Server{
		Handler:           srv,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13},
		ReadHeaderTimeout: 10 * time.Second,
		// A connection that asked something other than a WebSocket
		// upgrade (answered 400) is in neither connection count; kept
		// alive with nothing to do, it would hold a descriptor and a
		// goroutine for ever. It gets as long as an unauthenticated
		// WebSocket. (An upgraded connection is the relay's, with
		// deadlines of its own.)
		IdleTimeout: srv.cfg.AuthTimeout,
		// The standard library logs TLS handshake failures with the
		// client's address; the relay logs no addresses.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	urlFile := filepath.Join(opts.DataDir, "relay.url")
	err = os.WriteFile(urlFile, []byte(r.URL+"\n"), 0o600)
	if err == nil {
		err = os.Chmod(urlFile, 0o600)
	}
	if err != nil {
		ln.Close()
		store.Close()
		return nil, err
	}
	go func() { r.done <- r.http.ServeTLS(cork.Listener{Listener: ln}, "", "") }()
	return r, nil
}

// urlHost is the host:port clients dial: the listen address, with an
// unspecified IP replaced by the certificate's first name (or loopback
// for the self-signed one).
func urlHost(addr net.Addr, cert tls.Certificate) string {
	host, port, _ := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
		if cert.Leaf != nil && len(cert.Leaf.DNSNames) > 0 && cert.Leaf.DNSNames[0] != "localhost" {
			host = cert.Leaf.DNSNames[0]
		}
	}
	return net.JoinHostPort(host, port)
}

// Close shuts the relay down gracefully: stop accepting, let every
// connection finish its request in hand, close them, then close the store
// once its queued commits are done.
func (r *Relay) Close(ctx context.Context) error {
	herr := r.http.Shutdown(ctx)
	serr := r.Server.Shutdown(ctx)
	cerr := r.Store.Close()
	if err := <-r.done; !errors.Is(err, http.ErrServerClosed) {
		herr = errors.Join(herr, err)
	}
	return errors.Join(herr, serr, cerr)
}

// NewLogger returns the relay's logger at level ("debug", "info",
// "warn", "error") writing text to w.
func NewLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
