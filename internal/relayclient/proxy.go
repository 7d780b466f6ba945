package relayclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"parley/internal/cork"
	"strconv"

	"golang.org/x/net/proxy"
)

// A Proxy is a SOCKS5 proxy (Tor's, typically) that every connection to
// a relay goes through. Each connection names an isolation key as its
// SOCKS username, so that a proxy which isolates by credentials (Tor's
// IsolateSOCKSAuth, on by default) gives each key its own circuit, and a
// relay cannot link two pseudonyms of one person by their address.
type Proxy struct {
	addr string
}

// ParseProxy reads socks5h://HOST:PORT (or socks5://, the same here: the
// relay's host name is always passed to the proxy to resolve, never
// looked up locally, so no DNS query leaves this machine).
func ParseProxy(s string) (*Proxy, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "socks5h" && u.Scheme != "socks5") || u.Host == "" || u.Path != "" && u.Path != "/" {
		return nil, fmt.Errorf("proxy %q: give socks5h://HOST:PORT (Tor: socks5h://127.0.0.1:9050)", s)
	}
	if u.User != nil {
		return nil, errors.New("proxy: give no user in the address; Parley chooses a SOCKS username per channel membership")
	}
	host, port, err := net.SplitHostPort(u.Host)
	if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
		return nil, fmt.Errorf("proxy %q: give socks5h://HOST:PORT (Tor: socks5h://127.0.0.1:9050)", s)
	}
	return &Proxy{addr: u.Host}, nil
}

// String is the proxy's address, for messages.
func (p *Proxy) String() string { return "socks5h://" + p.addr }

type dialerKey struct{}

// WithProxy returns a context whose relay connections go through p,
// authenticating to it as isolation (a name that means nothing outside
// this home). A nil p changes nothing.
func WithProxy(ctx context.Context, p *Proxy, isolation string) context.Context {
	if p == nil {
		return ctx
	}
	return context.WithValue(ctx, dialerKey{}, func(ctx context.Context, network, addr string) (net.Conn, error) {
		d, err := proxy.SOCKS5("tcp", p.addr, &proxy.Auth{User: isolation, Password: "parley"}, proxy.Direct)
		if err != nil {
			return nil, err
		}
		conn, err := d.(proxy.ContextDialer).DialContext(ctx, network, addr)
		if err != nil {
			return nil, fmt.Errorf("through the proxy %s: %w", p, err)
		}
		return conn, nil
	})
}

// netDial is the context's proxy dialer, or nil for a direct connection.
func netDial(ctx context.Context) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d, _ := ctx.Value(dialerKey{}).(func(ctx context.Context, network, addr string) (net.Conn, error))
	return d
}

// corkedDial dials as netDial says (the default dialer when it says
// nothing) and gives the connection a cork.Conn.
func corkedDial(ctx context.Context) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := netDial(ctx)
	if d == nil {
		d = new(net.Dialer).DialContext
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return cork.New(c), nil
	}
}
