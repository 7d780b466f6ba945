package wire

import (
	"bytes"
	"encoding/binary"

	"golang.org/x/crypto/cryptobyte"
)

// The bodies below each have an Encode method that returns a whole frame
// and a Parse function that reads a Frame's body strictly.

// Challenge is the relay's first frame on every connection.
type Challenge struct{ Nonce [32]byte }

func (c Challenge) Encode() []byte {
	return Encode(TChallenge, 0, func(b *cryptobyte.Builder) { b.AddBytes(c.Nonce[:]) })
}

func ParseChallenge(body []byte) (c Challenge, err error) {
	s := cryptobyte.String(body)
	if !s.CopyBytes(c.Nonce[:]) || !s.Empty() {
		return c, malformed("challenge")
	}
	return c, nil
}

// Auth authenticates the connection as one pseudonym key of one channel.
// A connection authenticates once: one connection, one pseudonym, so the
// relay cannot link a person's channels through a shared connection.
type Auth struct {
	Channel   [16]byte
	Key       [32]byte
	Signature [64]byte
}

func (a Auth) Encode(id uint32) []byte {
	return Encode(TAuth, id, func(b *cryptobyte.Builder) {
		b.AddBytes(a.Channel[:])
		b.AddBytes(a.Key[:])
		b.AddBytes(a.Signature[:])
	})
}

func ParseAuth(body []byte) (a Auth, err error) {
	s := cryptobyte.String(body)
	if !s.CopyBytes(a.Channel[:]) || !s.CopyBytes(a.Key[:]) || !s.CopyBytes(a.Signature[:]) || !s.Empty() {
		return a, malformed("auth")
	}
	return a, nil
}

// Blob is a body that is one length-prefixed byte string: Create,
// SetAccess and AccessList carry an encoded access list, Burn and Burned a
// burn notice.
func EncodeBlob(t Type, id uint32, blob []byte) []byte {
	return encodeSized(t, id, 3+len(blob), func(b *cryptobyte.Builder) {
		b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(blob) })
	})
}

func ParseBlob(body []byte) ([]byte, error) {
	s := cryptobyte.String(body)
	var v cryptobyte.String
	if !s.ReadUint24LengthPrefixed(&v) || !s.Empty() {
		return nil, malformed("blob")
	}
	return bytes.Clone(v), nil
}

// Post stores a frame in the authenticated channel.
type Post struct {
	Kind    Kind
	Payload []byte
	// frame, from ParsePost, is pushPrefix bytes then Payload: room for
	// the Push frame that carries the post to the channel's other
	// members, which the relay then builds without copying the payload
	// again (PushFrame).
	frame []byte
}

// pushPrefix is what a Push frame holds before its payload.
const pushPrefix = frameHeaderSize + 8 + 1 + 8 + 3

func (p Post) Encode(id uint32) []byte {
	return encodeSized(TPost, id, 1+3+len(p.Payload), func(b *cryptobyte.Builder) {
		b.AddUint8(uint8(p.Kind))
		b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(p.Payload) })
	})
}

// Header is Encode(id) up to the payload: a client writes it and then
// the payload itself, without first copying a 16 KiB envelope into a
// frame of its own.
func (p Post) Header(id uint32) []byte {
	n := len(p.Payload)
	if n >= 1<<24 {
		panic("wire: post payload over the 24-bit length")
	}
	h := make([]byte, 0, frameHeaderSize+1+3)
	h = append(h, Version, uint8(TPost))
	h = binary.BigEndian.AppendUint32(h, id)
	return append(h, uint8(p.Kind), byte(n>>16), byte(n>>8), byte(n))
}

func ParsePost(body []byte) (p Post, err error) {
	s := cryptobyte.String(body)
	var k uint8
	var v cryptobyte.String
	if !s.ReadUint8(&k) || !s.ReadUint24LengthPrefixed(&v) || !s.Empty() {
		return p, malformed("post")
	}
	if Kind(k) != KindMessage && Kind(k) != KindBundle {
		return p, malformed("unknown kind")
	}
	frame := make([]byte, pushPrefix+len(v))
	copy(frame[pushPrefix:], v)
	return Post{Kind: Kind(k), Payload: frame[pushPrefix:], frame: frame}, nil
}

// PushFrame returns the Push frame of the post once stored as seq at
// time ms: the same bytes as EncodePush. A post from ParsePost is framed
// in place, around its payload, so the frame shares the payload's bytes
// and a second call overwrites the first one's header.
func (p Post) PushFrame(seq, ms uint64) []byte {
	if len(p.frame) != pushPrefix+len(p.Payload) {
		return EncodePush(Stored{Seq: seq, Kind: p.Kind, Time: ms, Payload: p.Payload})
	}
	h := append(p.frame[:0], Version, uint8(TPush), 0, 0, 0, 0)
	h = binary.BigEndian.AppendUint64(h, seq)
	h = append(h, uint8(p.Kind))
	h = binary.BigEndian.AppendUint64(h, ms)
	n := len(p.Payload)
	h = append(h, byte(n>>16), byte(n>>8), byte(n))
	return p.frame[:len(h)+n]
}

// EncodeUint64 and ParseUint64 serve Fetch (since) and OK (sequence).
func EncodeUint64(t Type, id uint32, v uint64) []byte {
	return Encode(t, id, func(b *cryptobyte.Builder) { b.AddUint64(v) })
}

func ParseUint64(body []byte) (uint64, error) {
	s := cryptobyte.String(body)
	var v uint64
	if !s.ReadUint64(&v) || !s.Empty() {
		return 0, malformed("uint64")
	}
	return v, nil
}

// Invite registers a single-use join capability.
type Invite struct {
	TokenID [32]byte
	Expires uint64 // Unix seconds
}

func (i Invite) Encode(id uint32) []byte {
	return Encode(TInvite, id, func(b *cryptobyte.Builder) {
		b.AddBytes(i.TokenID[:])
		b.AddUint64(i.Expires)
	})
}

func ParseInvite(body []byte) (i Invite, err error) {
	s := cryptobyte.String(body)
	if !s.CopyBytes(i.TokenID[:]) || !s.ReadUint64(&i.Expires) || !s.Empty() {
		return i, malformed("invite")
	}
	return i, nil
}

// Join posts one sealed join request with an invite token. It needs no
// authentication: the token is the capability.
type Join struct {
	Channel [16]byte
	Token   [32]byte
	Sealed  []byte
}

func (j Join) Encode(id uint32) []byte {
	return Encode(TJoin, id, func(b *cryptobyte.Builder) {
		b.AddBytes(j.Channel[:])
		b.AddBytes(j.Token[:])
		b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(j.Sealed) })
	})
}

func ParseJoin(body []byte) (j Join, err error) {
	s := cryptobyte.String(body)
	var v cryptobyte.String
	if !s.CopyBytes(j.Channel[:]) || !s.CopyBytes(j.Token[:]) || !s.ReadUint24LengthPrefixed(&v) || !s.Empty() {
		return j, malformed("join")
	}
	j.Sealed = bytes.Clone(v)
	return j, nil
}

// EncodeIDs and ParseIDs serve DropJoins.
func EncodeIDs(t Type, id uint32, ids []uint64) []byte {
	return Encode(t, id, func(b *cryptobyte.Builder) {
		b.AddUint16(uint16(len(ids)))
		for _, v := range ids {
			b.AddUint64(v)
		}
	})
}

// MaxIDs bounds the ids of one DropJoins frame.
const MaxIDs = 1024

func ParseIDs(body []byte) ([]uint64, error) {
	s := cryptobyte.String(body)
	var n uint16
	if !s.ReadUint16(&n) || int(n) > MaxIDs || len(s) != int(n)*8 {
		return nil, malformed("ids")
	}
	ids := make([]uint64, n)
	for i := range ids {
		s.ReadUint64(&ids[i])
	}
	return ids, nil
}

// ErrorBody is the body of an Error frame.
type ErrorBody struct {
	Code    Code
	Message string
}

func (e ErrorBody) Encode(id uint32) []byte {
	msg := e.Message
	if len(msg) > 255 {
		msg = msg[:255]
	}
	return Encode(TError, id, func(b *cryptobyte.Builder) {
		b.AddUint16(uint16(e.Code))
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(msg)) })
	})
}

func ParseError(body []byte) (e ErrorBody, err error) {
	s := cryptobyte.String(body)
	var c uint16
	var m cryptobyte.String
	if !s.ReadUint16(&c) || !s.ReadUint8LengthPrefixed(&m) || !s.Empty() {
		return e, malformed("error")
	}
	return ErrorBody{Code: Code(c), Message: string(m)}, nil
}

// Stored is one frame as the relay stored it.
type Stored struct {
	Seq     uint64
	Kind    Kind
	Time    uint64 // relay clock, Unix milliseconds, when committed
	Payload []byte
}

// storedSize is the encoded size of f (addStored).
func storedSize(f Stored) int { return 8 + 1 + 8 + 3 + len(f.Payload) }

func addStored(b *cryptobyte.Builder, f Stored) {
	b.AddUint64(f.Seq)
	b.AddUint8(uint8(f.Kind))
	b.AddUint64(f.Time)
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(f.Payload) })
}

func readStored(s *cryptobyte.String) (f Stored, ok bool) {
	var k uint8
	var v cryptobyte.String
	if !s.ReadUint64(&f.Seq) || !s.ReadUint8(&k) || !s.ReadUint64(&f.Time) || !s.ReadUint24LengthPrefixed(&v) {
		return f, false
	}
	f.Kind, f.Payload = Kind(k), v
	return f, true
}

// EncodeFrames answers a Fetch. More says that frames remain after these.
func EncodeFrames(id uint32, more bool, frames []Stored) []byte {
	size := 1 + 2
	for _, f := range frames {
		size += storedSize(f)
	}
	return encodeSized(TFrames, id, size, func(b *cryptobyte.Builder) {
		if more {
			b.AddUint8(1)
		} else {
			b.AddUint8(0)
		}
		b.AddUint16(uint16(len(frames)))
		for _, f := range frames {
			addStored(b, f)
		}
	})
}

// ParseFrames reads a Fetch's answer. The frames' payloads are slices of
// body, not copies: the caller keeps body for as long as it keeps them.
func ParseFrames(body []byte) (more bool, frames []Stored, err error) {
	s := cryptobyte.String(body)
	var m uint8
	var n uint16
	if !s.ReadUint8(&m) || m > 1 || !s.ReadUint16(&n) {
		return false, nil, malformed("frames")
	}
	for i := 0; i < int(n); i++ {
		f, ok := readStored(&s)
		if !ok {
			return false, nil, malformed("frames")
		}
		frames = append(frames, f)
	}
	if !s.Empty() {
		return false, nil, malformed("frames")
	}
	return m == 1, frames, nil
}

// EncodePush carries one frame as soon as it is committed.
func EncodePush(f Stored) []byte {
	return encodeSized(TPush, 0, storedSize(f), func(b *cryptobyte.Builder) { addStored(b, f) })
}

// ParsePush reads a Push. The frame's payload is a slice of body, as in
// ParseFrames.
func ParsePush(body []byte) (Stored, error) {
	s := cryptobyte.String(body)
	f, ok := readStored(&s)
	if !ok || !s.Empty() {
		return f, malformed("push")
	}
	return f, nil
}

// JoinRequest is one stored join request.
type JoinRequest struct {
	ID     uint64
	Sealed []byte
}

func EncodeJoinList(id uint32, joins []JoinRequest) []byte {
	return Encode(TJoinList, id, func(b *cryptobyte.Builder) {
		b.AddUint16(uint16(len(joins)))
		for _, j := range joins {
			b.AddUint64(j.ID)
			b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(j.Sealed) })
		}
	})
}

func ParseJoinList(body []byte) ([]JoinRequest, error) {
	s := cryptobyte.String(body)
	var n uint16
	if !s.ReadUint16(&n) {
		return nil, malformed("join list")
	}
	var out []JoinRequest
	for i := 0; i < int(n); i++ {
		var j JoinRequest
		var v cryptobyte.String
		if !s.ReadUint64(&j.ID) || !s.ReadUint24LengthPrefixed(&v) {
			return nil, malformed("join list")
		}
		j.Sealed = bytes.Clone(v)
		out = append(out, j)
	}
	if !s.Empty() {
		return nil, malformed("join list")
	}
	return out, nil
}

// ParseChannel reads a body that is one channel id (Tombstone).
func ParseChannel(body []byte) (c [16]byte, err error) {
	s := cryptobyte.String(body)
	if !s.CopyBytes(c[:]) || !s.Empty() {
		return c, malformed("channel")
	}
	return c, nil
}

func EncodeChannel(t Type, id uint32, c [16]byte) []byte {
	return Encode(t, id, func(b *cryptobyte.Builder) { b.AddBytes(c[:]) })
}

// ParseEmpty checks that a body is empty (Joins, GetAccess).
func ParseEmpty(body []byte) error {
	if len(body) != 0 {
		return malformed("unexpected body")
	}
	return nil
}
