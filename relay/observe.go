package relay

import (
	"crypto/ed25519"
	"time"

	"parley/internal/wire"
)

// An Observation is one request as the relay sees it once the WebSocket
// frame is decoded: what an operator who patched the relay to log
// everything would record. Conn numbers connections in the order they
// were accepted; Key, Channel and Admin are set once the connection has
// authenticated (Key is the key it authenticated with).
type Observation struct {
	Time    time.Time
	Conn    uint64
	Remote  string
	Type    wire.Type
	Bytes   int
	Kind    wire.Kind // for posts
	Channel ChannelID
	Key     ed25519.PublicKey
	Admin   bool
	// Closed marks the connection's end (no request).
	Closed bool
}

// observe hands one request to Config.Observe, if set.
func (c *conn) observe(f wire.Frame, size int) {
	if c.s.cfg.Observe == nil {
		return
	}
	o := Observation{Time: time.Now(), Conn: c.serial, Remote: c.ws.RemoteAddr().String(), Type: f.Type, Bytes: size}
	if f.Type == wire.TPost {
		if p, err := wire.ParsePost(f.Body); err == nil {
			o.Kind = p.Kind
		}
	}
	if c.authed {
		o.Channel, o.Key, o.Admin = c.ch, c.key, c.admin
	}
	c.s.cfg.Observe(o)
}
