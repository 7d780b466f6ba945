package crypto

import (
	"bytes"
	"crypto/subtle"
	"encoding/binary"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// Message envelope layout; docs/protocol.md has it byte by byte.
const (
	// EnvelopeSize is the size of every sealed message, whatever its body.
	EnvelopeSize = 16384
	// HeaderSize is the cleartext header: version, compartment, epoch,
	// sender, counter.
	HeaderSize = 1 + 1 + 8 + 16 + 4
	// TagSize is the size of one pairwise sender tag.
	TagSize = 16

	envelopeVersion = 1
	plaintextSize   = EnvelopeSize - HeaderSize - chacha20poly1305.Overhead
	tagAreaSize     = MaxMembers * TagSize
	bodyPrefix      = 1 + 4 // type, body length
	// MaxBody is the largest body one message carries; larger content
	// (drafts) is chunked by the caller.
	MaxBody = plaintextSize - tagAreaSize - bodyPrefix
)

// Header is the cleartext part of a message envelope. The relay sees it;
// the AEAD binds it.
type Header struct {
	Compartment Compartment
	Epoch       uint64
	Sender      KeyID
	Counter     uint32
}

func (h Header) marshal() []byte {
	b := make([]byte, 0, HeaderSize)
	b = append(b, envelopeVersion, byte(h.Compartment))
	b = binary.BigEndian.AppendUint64(b, h.Epoch)
	b = append(b, h.Sender[:]...)
	return binary.BigEndian.AppendUint32(b, h.Counter)
}

// ParseHeader reads the header of an envelope. It checks only the size,
// version and compartment: nothing else in the envelope is read before the
// AEAD has verified it.
func ParseHeader(env []byte) (Header, error) {
	if len(env) != EnvelopeSize {
		return Header{}, malformed("message", fmt.Sprintf("size %d, want %d", len(env), EnvelopeSize))
	}
	if env[0] != envelopeVersion {
		return Header{}, malformed("message", "unknown version")
	}
	h := Header{Compartment: Compartment(env[1]), Epoch: binary.BigEndian.Uint64(env[2:10]), Counter: binary.BigEndian.Uint32(env[26:30])}
	copy(h.Sender[:], env[10:26])
	if !h.Compartment.valid() {
		return Header{}, malformed("message", "unknown compartment")
	}
	return h, nil
}

// Message is the plaintext of an envelope. Type is the caller's (text,
// draft chunk, key update...); it travels encrypted, so the relay does not
// learn it, and it is authenticated with the body.
type Message struct {
	Type byte
	Body []byte
}

func associatedData(channel ChannelID, h Header) []byte {
	ad := appendPrefixed(nil, []byte(labelMessageAD))
	ad = append(ad, channel[:]...)
	return append(ad, h.marshal()...)
}

func messageAEAD(mk MessageKey) (cipherAEAD, []byte) {
	kn := deriveKey(mk[:], labelMessageAEAD, chacha20poly1305.KeySize+chacha20poly1305.NonceSizeX)
	a, _ := chacha20poly1305.NewX(kn[:chacha20poly1305.KeySize])
	return a, kn[chacha20poly1305.KeySize:]
}

// tag is the deniable sender tag for one recipient: a MAC under the
// pairwise key over the associated data and a hash of type and body.
func tag(pair PairKey, ad []byte, bodyHash [32]byte) []byte {
	t := labeledMAC(pair[:], labelMessageTag, ad, bodyHash[:])
	return t[:TagSize]
}

func bodyHash(m Message) [32]byte { return labeledHash(labelBodyHash, []byte{m.Type}, m.Body) }

// SealMessage encrypts m under message key mk. pairs holds the sender's
// pair key with each reader of the compartment, in Roster.Readers order;
// each gets a tag in the same slot. The result is always EnvelopeSize
// bytes.
func SealMessage(channel ChannelID, h Header, mk MessageKey, pairs []PairKey, m Message) ([]byte, error) {
	if len(m.Body) > MaxBody {
		return nil, fmt.Errorf("message body of %d bytes, max %d: %w", len(m.Body), MaxBody, ErrTooLarge)
	}
	if len(pairs) > MaxMembers {
		return nil, fmt.Errorf("%d recipients: %w", len(pairs), ErrTooLarge)
	}
	if !h.Compartment.valid() {
		return nil, malformed("message", "unknown compartment")
	}
	ad := associatedData(channel, h)
	bh := bodyHash(m)
	// The plaintext is laid out in the envelope itself, after the header,
	// and encrypted in place: one 16 KiB buffer per message, not two.
	// make zeroes it, so unused tag slots and the padding are zero.
	out := make([]byte, HeaderSize+plaintextSize, EnvelopeSize)
	copy(out, h.marshal())
	pt := out[HeaderSize:]
	for i, p := range pairs {
		copy(pt[i*TagSize:], tag(p, ad, bh))
	}
	pt[tagAreaSize] = m.Type
	binary.BigEndian.PutUint32(pt[tagAreaSize+1:], uint32(len(m.Body)))
	copy(pt[tagAreaSize+bodyPrefix:], m.Body)
	a, nonce := messageAEAD(mk)
	return a.Seal(out[:HeaderSize], nonce, pt, ad), nil
}

// OpenMessage decrypts an envelope with mk and checks the sender tag in
// slot (the reader's position in Roster.Readers) under pair, the reader's
// pair key with the sender in the header. The AEAD is checked before any
// of the plaintext is parsed.
func OpenMessage(channel ChannelID, env []byte, mk MessageKey, slot int, pair PairKey) (Message, error) {
	h, err := ParseHeader(env)
	if err != nil {
		return Message{}, err
	}
	if slot < 0 || slot >= MaxMembers {
		return Message{}, fmt.Errorf("reader slot %d: %w", slot, ErrNotMember)
	}
	ad := associatedData(channel, h)
	a, nonce := messageAEAD(mk)
	pt, err := a.Open(nil, nonce, env[HeaderSize:], ad)
	if err != nil {
		return Message{}, fmt.Errorf("message %s/%d: %w", h.Sender, h.Counter, ErrDecrypt)
	}
	n := binary.BigEndian.Uint32(pt[tagAreaSize+1:])
	if n > MaxBody {
		return Message{}, malformed("message", "body length out of range")
	}
	end := tagAreaSize + bodyPrefix + int(n)
	if !allZero(pt[end:]) {
		return Message{}, malformed("message", "non-zero padding")
	}
	m := Message{Type: pt[tagAreaSize], Body: bytes.Clone(pt[tagAreaSize+bodyPrefix : end])}
	want := tag(pair, ad, bodyHash(m))
	if subtle.ConstantTimeCompare(want, pt[slot*TagSize:(slot+1)*TagSize]) != 1 {
		return Message{}, fmt.Errorf("message %s/%d: %w", h.Sender, h.Counter, ErrBadTag)
	}
	return m, nil
}
