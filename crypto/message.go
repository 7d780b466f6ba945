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
	// HeaderSize is the header: version, epoch, sender and nonce in
	// clear, then the sealed sender data (compartment and counter).
	HeaderSize = clearHeaderSize + senderDataSize
	// NonceSize is the random XChaCha20-Poly1305 nonce in the header.
	NonceSize = chacha20poly1305.NonceSizeX
	// TagSize is the size of one pairwise sender tag.
	TagSize = 16
	// PendingKeySize is a rotated KEM key with its signature (§8.5), the
	// one optional field of a report.
	PendingKeySize = KEMPublicKeySize + SignatureSize

	// EnvelopeVersion is the first byte of every envelope.
	EnvelopeVersion = 4
	clearHeaderSize = 1 + 8 + 16 + NonceSize
	senderDataSize  = 1 + 4 + chacha20poly1305.Overhead
	plaintextSize   = EnvelopeSize - HeaderSize - chacha20poly1305.Overhead
	tagAreaSize     = MaxMembers * TagSize
	reportSize      = 32 + 2*4*MaxMembers + 8 + 8 + 4 + 2 + PendingKeySize
	bodyPrefix      = 1 + 4 // type, body length
	// MaxBody is the largest body one message carries; larger content
	// (drafts) is chunked by the caller.
	MaxBody = plaintextSize - tagAreaSize - reportSize - bodyPrefix
)

// Header is a message envelope's header as a member reads it. The
// relay sees only its ClearHeader: Compartment and Counter travel
// sealed under the epoch's SenderDataKey, so the relay cannot tell a
// briefing from a talks message, nor count one compartment's messages.
// The AEAD of the body binds all of it. Nonce is chosen at random by
// SealMessage.
type Header struct {
	Compartment Compartment
	Epoch       uint64
	Sender      KeyID
	Counter     uint32
	Nonce       [NonceSize]byte
}

// ClearHeader is the part of a header anyone reads: the epoch whose keys
// open the message and the sender, whom the relay knows anyway as the
// key that posted it (and checks).
type ClearHeader struct {
	Epoch  uint64
	Sender KeyID
}

// A SenderDataKey seals the compartment and counter of every envelope of
// one epoch (§10.2). It derives from the briefings secret, which every
// member holds, mentors included: a member can sort every frame into its
// chain, the relay none.
type SenderDataKey [32]byte

// SenderDataKey returns the epoch's key for envelope sender data.
func (s *EpochSecrets) SenderDataKey() SenderDataKey {
	return SenderDataKey(deriveKey(s.Briefings[:], labelSenderData, 32, s.Channel[:], u64(s.Epoch)))
}

func (k SenderDataKey) aead() cipherAEAD {
	a, _ := chacha20poly1305.NewX(k[:])
	return a
}

// senderDataAD binds the sealed sender data to the channel and to the
// clear part of its header. The nonce is the envelope's random one,
// used here under a key of its own.
func senderDataAD(channel ChannelID, clear []byte) []byte {
	return appendSenderDataAD(nil, channel, clear)
}

func appendSenderDataAD(ad []byte, channel ChannelID, clear []byte) []byte {
	ad = appendPrefixed(ad, []byte(labelSenderData))
	ad = append(ad, channel[:]...)
	return append(ad, clear...)
}

// marshal encodes the header with its sender data sealed under k.
func (h Header) marshal(channel ChannelID, k SenderDataKey) []byte {
	return h.appendSealed(make([]byte, 0, HeaderSize), channel, k.aead(), nil)
}

// appendSealed appends the header to b with its sender data sealed by
// sd (a SenderDataKey's AEAD); sc, when not nil, lends the buffers.
func (h Header) appendSealed(b []byte, channel ChannelID, sd cipherAEAD, sc *scratch) []byte {
	if sc == nil {
		sc = new(scratch)
	}
	start := len(b)
	b = append(b, EnvelopeVersion)
	b = binary.BigEndian.AppendUint64(b, h.Epoch)
	b = append(b, h.Sender[:]...)
	b = append(b, h.Nonce[:]...)
	sc.sd = append(sc.sd[:0], byte(h.Compartment))
	sc.sd = binary.BigEndian.AppendUint32(sc.sd, h.Counter)
	sc.ad = appendSenderDataAD(sc.ad[:0], channel, b[start:])
	// The nonce is read from b, not h: h would escape to the heap.
	return sd.Seal(b, b[start+25:start+clearHeaderSize], sc.sd, sc.ad)
}

// ParseClearHeader reads the clear part of an envelope's header. It
// checks only the size and version: nothing else in the envelope is read
// before an AEAD has verified it.
func ParseClearHeader(env []byte) (ClearHeader, error) {
	if len(env) != EnvelopeSize {
		return ClearHeader{}, malformed("message", fmt.Sprintf("size %d, want %d", len(env), EnvelopeSize))
	}
	if env[0] != EnvelopeVersion {
		return ClearHeader{}, malformed("message", "unknown version")
	}
	h := ClearHeader{Epoch: binary.BigEndian.Uint64(env[1:9])}
	copy(h.Sender[:], env[9:25])
	return h, nil
}

// OpenHeader reads an envelope's whole header, opening its sender data
// with k. It fails with ErrDecrypt when k is not the key of the
// envelope's channel and epoch, or the header was altered.
func (k SenderDataKey) OpenHeader(channel ChannelID, env []byte) (Header, error) {
	return openHeader(channel, k.aead(), env, nil)
}

// openHeader is OpenHeader with the key's AEAD made already; sc, when
// not nil, lends the buffers.
func openHeader(channel ChannelID, sdAEAD cipherAEAD, env []byte, sc *scratch) (Header, error) {
	ch, err := ParseClearHeader(env)
	if err != nil {
		return Header{}, err
	}
	if sc == nil {
		sc = new(scratch)
	}
	h := Header{Epoch: ch.Epoch, Sender: ch.Sender}
	copy(h.Nonce[:], env[25:clearHeaderSize])
	sc.ad = appendSenderDataAD(sc.ad[:0], channel, env[:clearHeaderSize])
	sd, err := sdAEAD.Open(sc.sd[:0], env[25:clearHeaderSize], env[clearHeaderSize:HeaderSize], sc.ad)
	if err != nil {
		return Header{}, fmt.Errorf("sender data of a message from %s: %w", h.Sender, ErrDecrypt)
	}
	h.Compartment, h.Counter = Compartment(sd[0]), binary.BigEndian.Uint32(sd[1:])
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

// associatedData binds the body to the channel and the whole header as
// sent, sealed sender data included.
func associatedData(channel ChannelID, header []byte) []byte {
	return appendAssociatedData(nil, channel, header)
}

func appendAssociatedData(ad []byte, channel ChannelID, header []byte) []byte {
	ad = appendPrefixed(ad, []byte(labelMessageAD))
	ad = append(ad, channel[:]...)
	return append(ad, header...)
}

// messageAEAD is the AEAD of one message, keyed by the message key
// itself: a message key is the output of a chain step under a label of
// its own (ChainKey.messageKey) and keys this one AEAD and nothing else,
// so a second derivation would add hashing and no separation. The nonce
// is not derived: it is random and travels in the header, so a message
// key used twice (a home restored from an older copy seals again under
// counters it already used) never repeats a key and nonce pair.
func messageAEAD(mk MessageKey) cipherAEAD {
	a, _ := chacha20poly1305.NewX(mk[:])
	return a
}

// tag is the deniable sender tag for one recipient: a MAC under the
// pairwise key of the label and the content hash, which already covers
// the associated data. The input is a fixed 53 bytes, so with the pad
// blocks hashed ahead (macKey) a tag costs one SHA-256 block inside and
// one outside, whatever the size of the message.
func tag(pair PairKey, contentHash [32]byte) []byte {
	t := hmacSHA256(pair[:], []byte(labelMessageTag), contentHash[:])
	return t[:TagSize]
}

// contentHash covers the associated data (channel and header), the
// report, and the type, length and body. Runs of zeros that say nothing
// are left out, which keeps the hash of a short message in a small
// channel short (about 21 SHA-256 blocks for a 1 KiB body in a channel
// of 10, where hashing the whole report took 46):
//
//   - the zero counters at the end of heard and prev_heard (a channel of
//     10 uses 10 of 64 slots). The parts are length-prefixed, so the
//     trimmed list still names exactly one array: a forger who turns a
//     zero into a count, or a count into a zero, changes the hash;
//   - the pending-key area when pending_len is 0, and the padding after
//     the body. Both must be zero (parseReport and openMessage refuse an
//     envelope otherwise) and the AEAD covers them.
func contentHash(ad, pt []byte) [32]byte {
	return contentHashWith(ad, pt, nil)
}

// contentHashWith is contentHash with sc's hash (nil: a new one). The
// lengths it reads are not yet checked: each is capped at its maximum,
// and the caller refuses an envelope whose lengths are out of range.
func contentHashWith(ad, pt []byte, sc *scratch) [32]byte {
	report := pt[tagAreaSize : tagAreaSize+reportSize]
	rosterHash := report[:32]
	heard := trimZeroCounters(report[32 : 32+4*MaxMembers])
	prevHeard := trimZeroCounters(report[32+4*MaxMembers : 32+8*MaxMembers])
	rest := report[32+8*MaxMembers : reportSize-PendingKeySize] // synced … pending_len
	pendingLen := int(binary.BigEndian.Uint16(rest[len(rest)-2:]))
	pending := report[reportSize-PendingKeySize:][:min(pendingLen, PendingKeySize)]
	n := int(binary.BigEndian.Uint32(pt[tagAreaSize+reportSize+1:]))
	body := pt[tagAreaSize+reportSize : tagAreaSize+reportSize+bodyPrefix+min(n, MaxBody)]
	if sc == nil {
		return labeledHash(labelContentHash, ad, rosterHash, heard, prevHeard, rest, pending, body)
	}
	return sc.labeledHash(labelContentHash, ad, rosterHash, heard, prevHeard, rest, pending, body)
}

// trimZeroCounters returns b, a list of u32 counters, without the zero
// counters at its end.
func trimZeroCounters(b []byte) []byte {
	for len(b) >= 4 && binary.BigEndian.Uint32(b[len(b)-4:]) == 0 {
		b = b[:len(b)-4]
	}
	return b
}

// sealWithKey encrypts m under message key mk with a fresh random nonce,
// which it writes into the header, and seals the header's sender data
// under sdk. pairs holds the sender's pair key with
// each reader of the compartment, in Roster.Readers order; each gets a tag
// in the same slot. The result is always EnvelopeSize bytes.
func sealWithKey(channel ChannelID, h Header, sdk SenderDataKey, mk MessageKey, pairs []PairKey, m Message) ([]byte, error) {
	return sealMessage(rand.Reader, channel, h, sdk, mk, pairs, m)
}

// sealMessage is SealMessage with the nonce read from random, so that
// test vectors can be reproduced.
func sealMessage(random io.Reader, channel ChannelID, h Header, sdk SenderDataKey, mk MessageKey, pairs []PairKey, m Message) ([]byte, error) {
	return sealMessageWith(random, channel, h, sdk.aead(), mk, pairs, nil, m)
}

// sealMessageWith is sealMessage with the sender-data key's AEAD made
// already (an EpochView keeps it for the epoch) and, when macs is not
// nil, the pair keys' MAC states (macs[i] is pairs[i]'s).
func sealMessageWith(random io.Reader, channel ChannelID, h Header, sd cipherAEAD, mk MessageKey, pairs []PairKey, macs []*macKey, m Message) ([]byte, error) {
	if len(m.Body) > MaxBody {
		return nil, fmt.Errorf("message body of %d bytes, max %d: %w", len(m.Body), MaxBody, ErrTooLarge)
	}
	if len(pairs) > MaxMembers {
		return nil, fmt.Errorf("%d recipients: %w", len(pairs), ErrTooLarge)
	}
	if !h.Compartment.valid() {
		return nil, malformed("message", "unknown compartment")
	}
	// The plaintext is laid out in the envelope itself, after the header,
	// and encrypted in place: one 16 KiB buffer per message, not two.
	// make zeroes it, so unused tag slots and the padding are zero.
	out := make([]byte, HeaderSize+plaintextSize, EnvelopeSize)
	// The nonce is read into out, then h: reading into h would move h
	// to the heap.
	if _, err := io.ReadFull(random, out[25:clearHeaderSize]); err != nil {
		return nil, err
	}
	copy(h.Nonce[:], out[25:clearHeaderSize])
	sc := getScratch()
	defer putScratch(sc, 0)
	h.appendSealed(out[:0], channel, sd, sc)
	pt := out[HeaderSize:]
	if err := m.Report.marshalInto(pt[tagAreaSize : tagAreaSize+reportSize]); err != nil {
		return nil, err
	}
	body := pt[tagAreaSize+reportSize:]
	body[0] = m.Type
	binary.BigEndian.PutUint32(body[1:], uint32(len(m.Body)))
	copy(body[bodyPrefix:], m.Body)
	sc.ad = appendAssociatedData(sc.ad[:0], channel, out[:HeaderSize])
	ad := sc.ad
	ch := contentHashWith(ad, pt, sc)
	if macs != nil {
		msg := sc.tagInput(ch)
		for i := range pairs {
			t := sc.mac(macs[i], msg)
			copy(pt[i*TagSize:], t[:TagSize])
		}
	} else {
		for i, p := range pairs {
			copy(pt[i*TagSize:], tag(p, ch))
		}
	}
	return messageAEAD(mk).Seal(out[:HeaderSize], out[25:clearHeaderSize], pt, ad), nil
}

// openMessage decrypts an envelope, whose header h was opened with
// SenderDataKey.OpenHeader, with mk and checks the sender tag in slot
// (the reader's position in Roster.Readers) under pair, the reader's pair
// key with the sender in the header. The AEAD is checked before any of
// the plaintext is parsed, the tag before the report and body are
// returned.
func openMessage(channel ChannelID, h Header, env []byte, mk MessageKey, slot int, pair PairKey) (Message, error) {
	return openMessageWith(channel, h, env, mk, slot, pair, nil)
}

// openMessageWith is openMessage with, when mac is not nil, pair's MAC
// states.
func openMessageWith(channel ChannelID, h Header, env []byte, mk MessageKey, slot int, pair PairKey, mac *macKey) (Message, error) {
	if slot < 0 || slot >= MaxMembers {
		return Message{}, fmt.Errorf("reader slot %d: %w", slot, ErrNotMember)
	}
	// The plaintext goes into a buffer kept for the next message (the
	// report is parsed and the body copied out of it), cleared before it
	// is put back: no 16 KiB allocation per message.
	sc := getScratch()
	dirty := plaintextSize
	defer func() { putScratch(sc, dirty) }()
	sc.ad = appendAssociatedData(sc.ad[:0], channel, env[:HeaderSize])
	ad := sc.ad
	pt, err := messageAEAD(mk).Open(sc.pt[:0], env[25:clearHeaderSize], env[HeaderSize:], ad)
	if err != nil {
		dirty = 0 // Open clears what it wrote
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
	// The padding is zero: only what precedes it needs clearing.
	dirty = tagAreaSize + reportSize + bodyPrefix + int(n)
	var want []byte
	if ch := contentHashWith(ad, pt, sc); mac != nil {
		t := sc.mac(mac, sc.tagInput(ch))
		want = t[:TagSize]
	} else {
		want = tag(pair, ch)
	}
	if subtle.ConstantTimeCompare(want, pt[slot*TagSize:(slot+1)*TagSize]) != 1 {
		return Message{}, fmt.Errorf("message %s/%d: %w", h.Sender, h.Counter, ErrBadTag)
	}
	rep, err := parseReport(pt[tagAreaSize : tagAreaSize+reportSize])
	if err != nil {
		return Message{}, err
	}
	return Message{Type: body[0], Body: bytes.Clone(body[bodyPrefix : bodyPrefix+int(n)]), Report: rep}, nil
}
