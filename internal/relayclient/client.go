// Package relayclient speaks the relay protocol (internal/wire) for a
// client: it dials the relay over TLS with the certificate pin, answers
// the authentication challenge with a channel pseudonym key, and turns
// requests into replies and pushed frames.
//
// It checks nothing about the frames' contents: the relay is untrusted,
// and the caller verifies everything it receives with package crypto.
package relayclient

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"parley/crypto"
	"parley/internal/cork"
	"parley/internal/wire"
	"parley/internal/wsread"
)

// Error is an error frame from the relay.
type Error struct {
	Code    wire.Code
	Message string
}

func (e *Error) Error() string { return "relay: " + e.Message }

// Is lets errors.Is(err, &Error{Code: c}) match on the code alone.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Code sentinels for errors.Is.
var (
	ErrUnauthorized  = &Error{Code: wire.CodeUnauthorized}
	ErrForbidden     = &Error{Code: wire.CodeForbidden}
	ErrNotFound      = &Error{Code: wire.CodeNotFound}
	ErrExists        = &Error{Code: wire.CodeExists}
	ErrStale         = &Error{Code: wire.CodeStale}
	ErrRateLimited   = &Error{Code: wire.CodeRateLimited}
	ErrQuota         = &Error{Code: wire.CodeQuota}
	ErrInviteInvalid = &Error{Code: wire.CodeInviteInvalid}
	ErrBurned        = &Error{Code: wire.CodeBurned}
	ErrRevoked       = &Error{Code: wire.CodeRevoked}
	ErrMalformed     = &Error{Code: wire.CodeMalformed}
)

// ErrClosed is returned for requests on a closed connection.
var ErrClosed = errors.New("relay connection closed")

// pushQueue bounds pushed frames waiting for the caller.
const pushQueue = 1024

// Conn is one connection to the relay.
type Conn struct {
	ws        *websocket.Conn
	cork      *cork.Conn // a request's TLS records leave in one write
	pin       [32]byte
	challenge [32]byte

	wmu     sync.Mutex
	mu      sync.Mutex
	nextID  uint32
	pending map[uint32]chan wire.Frame
	err     error

	pushes chan wire.Stored
	events chan wire.Frame // Burned and unsolicited errors (revocation)
	done   chan struct{}

	// origin identifies the relay's copy of the channel, as Auth's
	// answer said.
	origin uint64
}

// DialWebSocket opens a raw WebSocket to the relay at relayURL, checking
// the certificate pin. Tests use it to speak malformed protocol; everyone
// else uses Dial.
func DialWebSocket(ctx context.Context, relayURL string) (*websocket.Conn, [32]byte, error) {
	addr, pin, err := wire.ParseURL(relayURL)
	if err != nil {
		return nil, pin, err
	}
	d := websocket.Dialer{
		HandshakeTimeout: 15 * time.Second,
		TLSClientConfig: &tls.Config{
			MinVersion: tls.VersionTLS13,
			// The pin replaces CA verification: the relay's certificate
			// is accepted if and only if its public key hashes to the
			// pin carried in the URL or invite.
			InsecureSkipVerify: true,
			VerifyConnection: func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) == 0 {
					return errors.New("relay sent no certificate")
				}
				if sha256.Sum256(cs.PeerCertificates[0].RawSubjectPublicKeyInfo) != pin {
					return errors.New("relay certificate does not match the pin")
				}
				return nil
			},
		},
		ReadBufferSize:  16 << 10,
		WriteBufferSize: 16 << 10,
		// Through the SOCKS5 proxy when the context carries one
		// (WithProxy): then the relay's name goes to the proxy, and
		// nothing is resolved or dialled from here.
		NetDialContext: corkedDial(ctx),
	}
	ws, resp, err := d.DialContext(ctx, addr, http.Header{})
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, pin, fmt.Errorf("connecting to relay: %w", err)
	}
	ws.SetReadLimit(wire.MaxFrame)
	return ws, pin, nil
}

// Dial connects to the relay and reads its challenge.
func Dial(ctx context.Context, relayURL string) (*Conn, error) {
	ws, pin, err := DialWebSocket(ctx, relayURL)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		ws.SetReadDeadline(dl)
	}
	_, data, err := ws.ReadMessage()
	ws.SetReadDeadline(time.Time{})
	if err != nil {
		ws.Close()
		return nil, fmt.Errorf("reading relay challenge: %w", err)
	}
	f, err := wire.Decode(data)
	if err != nil || f.Type != wire.TChallenge {
		ws.Close()
		return nil, errors.New("relay did not start with a challenge")
	}
	ch, err := wire.ParseChallenge(f.Body)
	if err != nil {
		ws.Close()
		return nil, err
	}
	c := &Conn{
		ws: ws, cork: cork.Of(ws), pin: pin, challenge: ch.Nonce,
		pending: make(map[uint32]chan wire.Frame),
		pushes:  make(chan wire.Stored, pushQueue),
		events:  make(chan wire.Frame, 16),
		done:    make(chan struct{}),
	}
	ws.SetPingHandler(func(data string) error {
		c.wmu.Lock()
		defer c.wmu.Unlock()
		return ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(10*time.Second))
	})
	go c.reader()
	return c, nil
}

func (c *Conn) reader() {
	defer close(c.done)
	for {
		buf, _, data, err := wsread.Read(c.ws)
		if err != nil {
			c.fail(err)
			return
		}
		f, err := wire.Decode(data)
		if err != nil {
			c.fail(err)
			return
		}
		if f.Type != wire.TPush {
			// Replies are read by their callers after the buffer is
			// reused.
			f.Body = bytes.Clone(f.Body)
			buf.Release()
		}
		// A push's payload stays in its buffer (wire.ParsePush does not
		// copy it), which goes with it to whoever takes the push and is
		// never handed back for reuse: a 16 KiB copy fewer per push.
		err = c.take(f)
		if err != nil {
			c.fail(err)
			return
		}
	}
}

// take hands one frame to whoever waits for it.
func (c *Conn) take(f wire.Frame) error {
	switch {
	case f.Type == wire.TPush:
		s, err := wire.ParsePush(f.Body)
		if err != nil {
			return err
		}
		select {
		case c.pushes <- s:
		default:
			return errors.New("push queue overflow")
		}
	case f.ID == 0:
		select {
		case c.events <- f:
		default:
		}
	default:
		c.mu.Lock()
		ch := c.pending[f.ID]
		delete(c.pending, f.ID)
		c.mu.Unlock()
		if ch != nil {
			ch <- f
		}
	}
	return nil
}

func (c *Conn) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			err = fmt.Errorf("%w: %s", ErrClosed, ce.Text)
		} else {
			err = fmt.Errorf("%w: %v", ErrClosed, err)
		}
		c.err = err
	}
	c.ws.Close()
}

// Err returns why the connection ended, once Done is closed.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Done is closed when the connection ends.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Pushes delivers frames the relay pushes after authentication, in the
// relay's sequence order.
func (c *Conn) Pushes() <-chan wire.Stored { return c.pushes }

// Events delivers unsolicited frames: Burned notices and errors such as
// a revocation.
func (c *Conn) Events() <-chan wire.Frame { return c.events }

// Close closes the connection.
func (c *Conn) Close() error {
	c.wmu.Lock()
	c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	c.wmu.Unlock()
	err := c.ws.Close()
	<-c.done
	return err
}

// WriteRaw sends bytes as one binary message, for tests of the relay.
func (c *Conn) WriteRaw(data []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.write([][]byte{data})
}

// write sends parts, one after another, as one binary message, its TLS
// records gathered into one write (package cork). Called with wmu held.
func (c *Conn) write(parts [][]byte) error {
	c.cork.Hold()
	err := c.writeMessage(parts)
	if rerr := c.cork.Release(); err == nil {
		err = rerr
	}
	return err
}

func (c *Conn) writeMessage(parts [][]byte) error {
	if len(parts) == 1 {
		return c.ws.WriteMessage(websocket.BinaryMessage, parts[0])
	}
	w, err := c.ws.NextWriter(websocket.BinaryMessage)
	if err != nil {
		return err
	}
	for _, p := range parts {
		if _, err := w.Write(p); err != nil {
			w.Close()
			return err
		}
	}
	return w.Close()
}

// requestTimeout bounds a request whose context has no deadline, so a
// relay that stops answering cannot hang a client.
const requestTimeout = 60 * time.Second

// call sends one request built by build and waits for its reply.
func (c *Conn) call(ctx context.Context, build func(id uint32) []byte) (wire.Frame, error) {
	return c.callParts(ctx, func(id uint32) [][]byte { return [][]byte{build(id)} })
}

// callParts is call for a request sent in parts (Post: its header, then
// the envelope as the caller holds it).
func (c *Conn) callParts(ctx context.Context, build func(id uint32) [][]byte) (wire.Frame, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, requestTimeout)
		defer cancel()
	}
	reply := make(chan wire.Frame, 1)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return wire.Frame{}, err
	}
	c.nextID++
	if c.nextID == 0 {
		c.nextID = 1
	}
	id := c.nextID
	c.pending[id] = reply
	c.mu.Unlock()

	c.wmu.Lock()
	c.ws.SetWriteDeadline(time.Now().Add(30 * time.Second))
	err := c.write(build(id))
	c.wmu.Unlock()
	if err != nil {
		if errors.Is(err, websocket.ErrCloseSent) {
			// The relay's close frame is in the reader's hands (the
			// close handler answered it): report the relay's reason,
			// such as "too slow", rather than the write's.
			select {
			case <-c.done:
			case <-time.After(5 * time.Second):
			}
		}
		c.fail(err)
		return wire.Frame{}, c.Err()
	}
	select {
	case f := <-reply:
		if f.Type == wire.TError {
			e, err := wire.ParseError(f.Body)
			if err != nil {
				return f, err
			}
			return f, &Error{Code: e.Code, Message: e.Message}
		}
		return f, nil
	case <-c.done:
		return wire.Frame{}, c.Err()
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return wire.Frame{}, ctx.Err()
	}
}

func expect(f wire.Frame, err error, t wire.Type) (wire.Frame, error) {
	if err != nil {
		return f, err
	}
	if f.Type != t {
		return f, fmt.Errorf("relay answered with frame type %#x, want %#x", f.Type, t)
	}
	return f, nil
}

func (c *Conn) okCall(ctx context.Context, build func(id uint32) []byte) (uint64, error) {
	return c.okCallParts(ctx, func(id uint32) [][]byte { return [][]byte{build(id)} })
}

func (c *Conn) okCallParts(ctx context.Context, build func(id uint32) [][]byte) (uint64, error) {
	f, err := c.callParts(ctx, build)
	f, err = expect(f, err, wire.TOK)
	if err != nil {
		return 0, err
	}
	return wire.ParseUint64(f.Body)
}

// A Signer answers the relay's challenge: a member's pseudonym keys
// (*crypto.ChannelKeys) or the channel's administration key
// (*crypto.AdminKey).
type Signer interface {
	SigningPublicKey() ed25519.PublicKey
	SignRelayChallenge(pin [32]byte, channel crypto.ChannelID, challenge [32]byte) []byte
}

// Auth authenticates the connection as keys in channel: a member's
// pseudonym, or the channel's administration key.
func (c *Conn) Auth(ctx context.Context, channel crypto.ChannelID, keys Signer) error {
	var a wire.Auth
	a.Channel = channel
	copy(a.Key[:], keys.SigningPublicKey())
	copy(a.Signature[:], keys.SignRelayChallenge(c.pin, channel, c.challenge))
	origin, err := c.okCall(ctx, a.Encode)
	c.origin = origin
	return err
}

// Origin identifies the relay's copy of the channel: when it stored the
// channel's first epoch bundle (0: none yet). Another origin than before
// means the relay lost the channel and was given it again, and numbers
// its frames from 1 again.
func (c *Conn) Origin() uint64 { return c.origin }

// Create registers a channel with its genesis access list.
func (c *Conn) Create(ctx context.Context, list *crypto.AccessList) error {
	raw, err := list.Marshal()
	if err != nil {
		return err
	}
	_, err = c.okCall(ctx, func(id uint32) []byte { return wire.EncodeBlob(wire.TCreate, id, raw) })
	return err
}

// SetAccess replaces the access list (admin).
func (c *Conn) SetAccess(ctx context.Context, list *crypto.AccessList) error {
	raw, err := list.Marshal()
	if err != nil {
		return err
	}
	_, err = c.okCall(ctx, func(id uint32) []byte { return wire.EncodeBlob(wire.TSetAccess, id, raw) })
	return err
}

// Post stores a frame and returns its sequence number once the relay has
// committed it.
func (c *Conn) Post(ctx context.Context, kind wire.Kind, payload []byte) (uint64, error) {
	p := wire.Post{Kind: kind, Payload: payload}
	return c.okCallParts(ctx, func(id uint32) [][]byte { return [][]byte{p.Header(id), payload} })
}

// Fetch returns frames after since, and whether more remain.
func (c *Conn) Fetch(ctx context.Context, since uint64) ([]wire.Stored, bool, error) {
	f, err := c.call(ctx, func(id uint32) []byte { return wire.EncodeUint64(wire.TFetch, id, since) })
	f, err = expect(f, err, wire.TFrames)
	if err != nil {
		return nil, false, err
	}
	more, frames, err := wire.ParseFrames(f.Body)
	return frames, more, err
}

// RegisterInvite registers an invite token id (admin).
func (c *Conn) RegisterInvite(ctx context.Context, tokenID [32]byte, expires time.Time) error {
	_, err := c.okCall(ctx, wire.Invite{TokenID: tokenID, Expires: uint64(max(expires.Unix(), 0))}.Encode)
	return err
}

// Join posts a sealed join request with an invite token.
func (c *Conn) Join(ctx context.Context, channel crypto.ChannelID, token [32]byte, sealed []byte) error {
	_, err := c.okCall(ctx, wire.Join{Channel: channel, Token: token, Sealed: sealed}.Encode)
	return err
}

// Joins lists pending join requests (admin).
func (c *Conn) Joins(ctx context.Context) ([]wire.JoinRequest, error) {
	f, err := c.call(ctx, func(id uint32) []byte { return wire.Encode(wire.TJoins, id, nil) })
	f, err = expect(f, err, wire.TJoinList)
	if err != nil {
		return nil, err
	}
	return wire.ParseJoinList(f.Body)
}

// DropJoins deletes handled join requests (admin).
func (c *Conn) DropJoins(ctx context.Context, ids []uint64) error {
	_, err := c.okCall(ctx, func(id uint32) []byte { return wire.EncodeIDs(wire.TDropJoins, id, ids) })
	return err
}

// Burn sends a burn notice (admin). The relay closes the connection
// after acknowledging it.
func (c *Conn) Burn(ctx context.Context, notice *crypto.BurnNotice) error {
	raw := notice.Marshal()
	_, err := c.okCall(ctx, func(id uint32) []byte { return wire.EncodeBlob(wire.TBurn, id, raw) })
	return err
}

// Tombstone returns the burn notice of a burned channel, or an error
// matching ErrNotFound.
func (c *Conn) Tombstone(ctx context.Context, channel crypto.ChannelID) ([]byte, error) {
	f, err := c.call(ctx, func(id uint32) []byte { return wire.EncodeChannel(wire.TTombstone, id, channel) })
	f, err = expect(f, err, wire.TBurned)
	if err != nil {
		return nil, err
	}
	return wire.ParseBlob(f.Body)
}

// AccessList returns the relay's current access list for the
// authenticated channel, unverified.
func (c *Conn) AccessList(ctx context.Context) ([]byte, error) {
	f, err := c.call(ctx, func(id uint32) []byte { return wire.Encode(wire.TGetAccess, id, nil) })
	f, err = expect(f, err, wire.TAccessList)
	if err != nil {
		return nil, err
	}
	return wire.ParseBlob(f.Body)
}
