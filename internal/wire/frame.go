package wire

import (
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
)

// Version is the frame format version.
const Version = 1

// MaxFrame is the largest frame either side accepts (the WebSocket read
// limit). The largest legitimate frames are epoch bundles and fetch
// responses.
const MaxFrame = 2 << 20

// Type says what a frame is.
type Type uint8

// Client to relay.
const (
	TAuth      Type = 0x02 // channel, key, signature over the challenge
	TCreate    Type = 0x03 // genesis access list
	TSetAccess Type = 0x04 // next access list
	TPost      Type = 0x05 // kind, payload
	TFetch     Type = 0x06 // since sequence number
	TInvite    Type = 0x07 // token id, expiry
	TJoin      Type = 0x08 // channel, token, sealed join request
	TJoins     Type = 0x09 // list join requests
	TDropJoins Type = 0x0a // join ids
	TBurn      Type = 0x0b // burn notice
	TGetAccess Type = 0x0c // current access list
	TTombstone Type = 0x0d // channel: is it burned?
)

// Relay to client.
const (
	TChallenge  Type = 0x01 // nonce, sent first on every connection
	TOK         Type = 0x80 // sequence number (0 when none)
	TError      Type = 0x81 // code, message
	TFrames     Type = 0x82 // more flag, stored frames
	TPush       Type = 0x83 // one stored frame, as it is committed
	TJoinList   Type = 0x84 // join requests
	TBurned     Type = 0x85 // burn notice
	TAccessList Type = 0x86 // access list
)

// Kind is the kind of a stored frame.
type Kind uint8

const (
	// KindMessage is a message envelope (crypto.EnvelopeSize bytes).
	KindMessage Kind = 1
	// KindBundle is an epoch bundle.
	KindBundle Kind = 2
)

// Code is an error code in an Error frame.
type Code uint16

const (
	CodeMalformed     Code = 1
	CodeUnauthorized  Code = 2 // not authenticated, or authentication failed
	CodeForbidden     Code = 3 // authenticated, but lacks the capability
	CodeNotFound      Code = 4
	CodeExists        Code = 5
	CodeStale         Code = 6 // access list version not newer
	CodeRateLimited   Code = 7
	CodeQuota         Code = 8
	CodeInviteInvalid Code = 9 // unknown, spent or expired: not told apart
	CodeBurned        Code = 10
	CodeInternal      Code = 11
	CodeRevoked       Code = 12 // the key was removed or expired
	CodeShuttingDown  Code = 13
)

func (c Code) String() string {
	switch c {
	case CodeMalformed:
		return "malformed request"
	case CodeUnauthorized:
		return "not authenticated"
	case CodeForbidden:
		return "not permitted"
	case CodeNotFound:
		return "no such channel"
	case CodeExists:
		return "channel exists"
	case CodeStale:
		return "stale access list"
	case CodeRateLimited:
		return "rate limited"
	case CodeQuota:
		return "channel storage quota exceeded"
	case CodeInviteInvalid:
		return "invite unknown, used or expired"
	case CodeBurned:
		return "channel burned"
	case CodeInternal:
		return "relay error"
	case CodeRevoked:
		return "access revoked"
	case CodeShuttingDown:
		return "relay shutting down"
	}
	return fmt.Sprintf("error %d", uint16(c))
}

// ErrMalformed is returned (wrapped) for any frame that does not decode.
var ErrMalformed = errors.New("malformed frame")

func malformed(what string) error { return fmt.Errorf("%w: %s", ErrMalformed, what) }

// Frame is one decoded frame: header and the still-encoded body.
type Frame struct {
	Type Type
	ID   uint32
	Body []byte
}

// Encode builds a frame from a header and a body written by fill.
func Encode(t Type, id uint32, fill func(b *cryptobyte.Builder)) []byte {
	return encodeSized(t, id, 0, fill)
}

// frameHeaderSize is a frame's version, type and id.
const frameHeaderSize = 1 + 1 + 4

// encodeSized is Encode into a buffer made for a body of bodySize bytes.
// A frame that carries an envelope is 16 KiB: grown from nothing, the
// buffer would be allocated and copied half a dozen times on the way, for
// every post and every push.
func encodeSized(t Type, id uint32, bodySize int, fill func(b *cryptobyte.Builder)) []byte {
	b := cryptobyte.NewBuilder(make([]byte, 0, frameHeaderSize+bodySize))
	b.AddUint8(Version)
	b.AddUint8(uint8(t))
	b.AddUint32(id)
	if fill != nil {
		fill(b)
	}
	return b.BytesOrPanic()
}

// Decode splits a frame into header and body.
func Decode(data []byte) (Frame, error) {
	if len(data) > MaxFrame {
		return Frame{}, malformed("too large")
	}
	s := cryptobyte.String(data)
	var v, t uint8
	var f Frame
	if !s.ReadUint8(&v) || !s.ReadUint8(&t) || !s.ReadUint32(&f.ID) {
		return Frame{}, malformed("short header")
	}
	if v != Version {
		return Frame{}, malformed("unknown version")
	}
	f.Type, f.Body = Type(t), []byte(s)
	return f, nil
}
