package client

import (
	"context"
	"encoding/hex"

	"parley/crypto"
	"parley/internal/relayclient"
)

// SetProxy sends every connection to a relay through a SOCKS5 proxy
// (Tor's: socks5h://127.0.0.1:9050), or directly again with "". Each
// channel membership uses its own SOCKS username, so that a proxy that
// isolates streams by credentials (Tor does, by default) gives each its
// own circuit: a relay cannot link one person's channels by address.
func (c *Client) SetProxy(addr string) error {
	if addr == "" {
		c.proxy = nil
		return nil
	}
	p, err := relayclient.ParseProxy(addr)
	if err != nil {
		return err
	}
	c.proxy = p
	return nil
}

// Proxy is the proxy in use, or "".
func (c *Client) Proxy() string {
	if c.proxy == nil {
		return ""
	}
	return c.proxy.String()
}

// isolation is the SOCKS username of one channel membership: a keyed
// hash of its pseudonym, which means nothing outside this home (the
// proxy sees it; the relay does not).
func (c *Client) isolation(id crypto.KeyID) string {
	return hex.EncodeToString(c.seal.index("socks", string(id[:]))[:16])
}

// dial connects to a relay as the membership with pseudonym id: through
// the proxy when one is set.
func (c *Client) dial(ctx context.Context, url string, id crypto.KeyID) (*relayclient.Conn, error) {
	return relayclient.Dial(relayclient.WithProxy(ctx, c.proxy, c.isolation(id)), url)
}
