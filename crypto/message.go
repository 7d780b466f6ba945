package crypto

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"io"

	"golang.org/x/crypto/chacha20poly1305"
)

// Message envelope layout; docs/protocol.md §10 has it byte by byte.
const (
	// EnvelopeSize is the size of every sealed message, whatever its body.
	EnvelopeSize = 16384
	// HeaderSize is the cleartext header: version, compartment, epoch,
	// sender, counter, nonce.
	HeaderSize = 1 + 1 + 8 + 16 + 4 + NonceSize
	// NonceSize is the random XChaCha20-Poly1305 nonce in the header.
	NonceSize = chacha20poly1305.NonceSizeX
	// TagSize is the size of one pairwise sender tag.
	TagSize = 16
	// PendingKeySize is a rotated KEM key with its signature (§8.5), the
	// one optional field of a report.
	PendingKeySize = KEMPublicKeySize + SignatureSize

	// EnvelopeVersion is the first byte of every envelope.
	EnvelopeVersion = 2
	plaintextSize   = EnvelopeSize - HeaderSize - chacha20poly1305.Overhead
	tagAreaSize     = MaxMembers * TagSize
	reportSize      = 32 + 2*4*MaxMembers + 8 + 8 + 4 + 2 + PendingKeySize
	bodyPrefix      = 1 + 4 // type, body length
	// MaxBody is the largest body one message carries; larger content
	// (drafts) is chunked by the caller.
	MaxBody = plaintextSize - tagAreaSize - reportSize - bodyPrefix
)

// Header is the cleartext part of a message envelope. The relay sees it;
// the AEAD binds it. Nonce is chosen at random by SealMessage.
type Header struct {
	Compartment Compartment
	Epoch       uint64
	Sender      KeyID
	Counter     uint32
	Nonce       [NonceSize]byte
}

func (h Header) marshal() []byte {
	b := make([]byte, 0, HeaderSize)
	b = append(b, EnvelopeVersion, byte(h.Compartment))
	b = binary.BigEndian.AppendUint64(b, h.Epoch)
	b = append(b, h.Sender[:]...)
	b = binary.BigEndian.AppendUint32(b, h.Counter)
	return append(b, h.Nonce[:]...)
}

// ParseHeader reads the header of an envelope. It checks only the size,
// version and compartment: nothing else in the envelope is read before the
// AEAD has verified it.
func ParseHeader(env []byte) (Header, error) {
	if len(env) != EnvelopeSize {
		return Header{}, malformed("message", fmt.Sprintf("size %d, want %d", len(env), EnvelopeSize))
	}
	if env[0] != EnvelopeVersion {
		return Header{}, malformed("message", "unknown version")
	}
	h := Header{Compartment: Compartment(env[1]), Epoch: binary.BigEndian.Uint64(env[2:10]), Counter: binary.BigEndian.Uint32(env[26:30])}
	copy(h.Sender[:], env[10:26])
	copy(h.Nonce[:], env[30:HeaderSize])
	if !h.Compartment.valid() {
		return Header{}, malformed("message", "unknown compartment")
	}
	return h, nil
}

// Message is the plaintext of an envelope. Type is the caller's (text,
// draft chunk, key update...); it travels encrypted, so the relay does not
// learn it, and it is authenticated with the body and the report.
type Message struct {
	Type   byte
	Body   []byte
	Report Report
}

func associatedData(channel ChannelID, h Header) []byte {
	ad := appendPrefixed(nil, []byte(labelMessageAD))
	ad = append(ad, channel[:]...)
	return append(ad, h.marshal()...)
}

// messageAEAD derives the AEAD key of one message. The nonce is not
// derived: it is random and travels in the header, so a message key used
// twice (a home restored from an older copy seals again under counters it
// already used) never repeats a key and nonce pair.
func messageAEAD(mk MessageKey) cipherAEAD {
	k := deriveKey(mk[:], labelMessageAEAD, chacha20poly1305.KeySize)
	a, _ := chacha20poly1305.NewX(k)
	return a
}

// tag is the deniable sender tag for one recipient: a MAC under the
// pairwise key over the associated data and the content hash.
func tag(pair PairKey, ad []byte, contentHash [32]byte) []byte {
	t := labeledMAC(pair[:], labelMessageTag, ad, contentHash[:])
	return t[:TagSize]
}

// contentHash covers what follows the tag slots up to the end of the
// body: report, type, length and body. The padding after it is not
// hashed (it must be zero, and the AEAD covers it), which keeps the cost
// of a short message short.
func contentHash(pt []byte) [32]byte {
	n := int(binary.BigEndian.Uint32(pt[tagAreaSize+reportSize+1:]))
	return labeledHash(labelContentHash, pt[tagAreaSize:tagAreaSize+reportSize+bodyPrefix+min(n, MaxBody)])
}

// sealWithKey encrypts m under message key mk with a fresh random nonce,
// which it writes into the header. pairs holds the sender's pair key with
// each reader of the compartment, in Roster.Readers order; each gets a tag
// in the same slot. The result is always EnvelopeSize bytes.
func sealWithKey(channel ChannelID, h Header, mk MessageKey, pairs []PairKey, m Message) ([]byte, error) {
	return sealMessage(rand.Reader, channel, h, mk, pairs, m)
}

// sealMessage is SealMessage with the nonce read from random, so that
// test vectors can be reproduced.
func sealMessage(random io.Reader, channel ChannelID, h Header, mk MessageKey, pairs []PairKey, m Message) ([]byte, error) {
	if len(m.Body) > MaxBody {
		return nil, fmt.Errorf("message body of %d bytes, max %d: %w", len(m.Body), MaxBody, ErrTooLarge)
	}
	if len(pairs) > MaxMembers {
		return nil, fmt.Errorf("%d recipients: %w", len(pairs), ErrTooLarge)
	}
	if !h.Compartment.valid() {
		return nil, malformed("message", "unknown compartment")
	}
	if _, err := io.ReadFull(random, h.Nonce[:]); err != nil {
		return nil, err
	}
	// The plaintext is laid out in the envelope itself, after the header,
	// and encrypted in place: one 16 KiB buffer per message, not two.
	// make zeroes it, so unused tag slots and the padding are zero.
	out := make([]byte, HeaderSize+plaintextSize, EnvelopeSize)
	copy(out, h.marshal())
	pt := out[HeaderSize:]
	if err := m.Report.marshalInto(pt[tagAreaSize : tagAreaSize+reportSize]); err != nil {
		return nil, err
	}
	body := pt[tagAreaSize+reportSize:]
	body[0] = m.Type
	binary.BigEndian.PutUint32(body[1:], uint32(len(m.Body)))
	copy(body[bodyPrefix:], m.Body)
	ad := associatedData(channel, h)
	ch := contentHash(pt)
	for i, p := range pairs {
		copy(pt[i*TagSize:], tag(p, ad, ch))
	}
	return messageAEAD(mk).Seal(out[:HeaderSize], h.Nonce[:], pt, ad), nil
}

// openMessage decrypts an envelope with mk and checks the sender tag in
// slot (the reader's position in Roster.Readers) under pair, the reader's
// pair key with the sender in the header. The AEAD is checked before any
// of the plaintext is parsed, the tag before the report and body are
// returned.
func openMessage(channel ChannelID, env []byte, mk MessageKey, slot int, pair PairKey) (Message, error) {
	h, err := ParseHeader(env)
	if err != nil {
		return Message{}, err
	}
	if slot < 0 || slot >= MaxMembers {
		return Message{}, fmt.Errorf("reader slot %d: %w", slot, ErrNotMember)
	}
	ad := associatedData(channel, h)
	pt, err := messageAEAD(mk).Open(nil, h.Nonce[:], env[HeaderSize:], ad)
	if err != nil {
		return Message{}, fmt.Errorf("message %s/%d: %w", h.Sender, h.Counter, ErrDecrypt)
	}
	body := pt[tagAreaSize+reportSize:]
	n := binary.BigEndian.Uint32(body[1:])
	if n > MaxBody {
		return Message{}, malformed("message", "body length out of range")
	}
	if !allZero(body[bodyPrefix+int(n):]) {
		return Message{}, malformed("message", "non-zero padding")
	}
	want := tag(pair, ad, contentHash(pt))
	if subtle.ConstantTimeCompare(want, pt[slot*TagSize:(slot+1)*TagSize]) != 1 {
		return Message{}, fmt.Errorf("message %s/%d: %w", h.Sender, h.Counter, ErrBadTag)
	}
	rep, err := parseReport(pt[tagAreaSize : tagAreaSize+reportSize])
	if err != nil {
		return Message{}, err
	}
	return Message{Type: body[0], Body: bytes.Clone(body[bodyPrefix : bodyPrefix+int(n)]), Report: rep}, nil
}
