package crypto

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"time"

	"golang.org/x/crypto/cryptobyte"
)

// A BurnNotice ends a channel: the relay erases it and every client wipes
// its keys and transcript for it. It is signed by administration keys of
// the channel (AdminKey), never by a member's pseudonym: the burning
// organizer signs with each such key it holds (the current epoch's, the
// one it proposed, older ones), so that the relay finds the key it holds
// among them and a member that lags an epoch behind finds the key of an
// epoch it holds. Neither learns which member burned the channel.
type BurnNotice struct {
	Channel    ChannelID
	Issued     time.Time
	Signers    []ed25519.PublicKey
	Signatures [][]byte
}

const burnFormat = 2

// MaxBurnSigners bounds the administration keys that sign one notice.
const MaxBurnSigners = 4

// NewBurnNotice signs a burn notice for channel with keys, the first
// MaxBurnSigners of them.
func NewBurnNotice(keys []*AdminKey, channel ChannelID, now time.Time) (*BurnNotice, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("burn notice: no administration key: %w", ErrNoCompartment)
	}
	keys = keys[:min(len(keys), MaxBurnSigners)]
	b := &BurnNotice{Channel: channel, Issued: now.UTC().Truncate(time.Second)}
	for _, k := range keys {
		b.Signers = append(b.Signers, k.SigningPublicKey())
	}
	msg := b.signedBytes()
	for _, k := range keys {
		b.Signatures = append(b.Signatures, k.sign(labelBurn, msg))
	}
	return b, nil
}

func (b *BurnNotice) signedBytes() []byte {
	var bb cryptobyte.Builder
	bb.AddUint8(burnFormat)
	bb.AddBytes(b.Channel[:])
	bb.AddUint64(unixSeconds(b.Issued))
	bb.AddUint8(uint8(len(b.Signers)))
	for _, s := range b.Signers {
		bb.AddBytes(s)
	}
	return bb.BytesOrPanic()
}

// Marshal encodes the notice.
func (b *BurnNotice) Marshal() []byte {
	out := b.signedBytes()
	for _, s := range b.Signatures {
		out = append(out, s...)
	}
	return out
}

// ParseBurnNotice decodes a notice; Verify checks it.
func ParseBurnNotice(data []byte) (*BurnNotice, error) {
	s := cryptobyte.String(data)
	var format, n uint8
	var issued uint64
	b := new(BurnNotice)
	if !s.ReadUint8(&format) || format != burnFormat {
		return nil, malformed("burn notice", "unknown format")
	}
	if !s.CopyBytes(b.Channel[:]) || !s.ReadUint64(&issued) || !s.ReadUint8(&n) || n == 0 || n > MaxBurnSigners {
		return nil, malformed("burn notice", "bad header")
	}
	for range n {
		var k []byte
		if !s.ReadBytes(&k, ed25519.PublicKeySize) {
			return nil, malformed("burn notice", "truncated")
		}
		b.Signers = append(b.Signers, bytes.Clone(k))
	}
	for range n {
		var sig []byte
		if !s.ReadBytes(&sig, SignatureSize) {
			return nil, malformed("burn notice", "truncated")
		}
		b.Signatures = append(b.Signatures, bytes.Clone(sig))
	}
	if !s.Empty() {
		return nil, malformed("burn notice", "trailing data")
	}
	b.Issued = fromUnixSeconds(issued)
	if !bytes.Equal(b.Marshal(), data) {
		return nil, malformed("burn notice", "not canonical")
	}
	return b, nil
}

// Verify checks the channel and every signature. The caller checks that
// a signer has authority (SignedBy): the administration key the relay
// holds, or one of an epoch the member holds.
func (b *BurnNotice) Verify(channel ChannelID) error {
	if b.Channel != channel {
		return fmt.Errorf("burn notice: %w", ErrWrongChannel)
	}
	if len(b.Signers) == 0 || len(b.Signers) != len(b.Signatures) {
		return malformed("burn notice", "signers and signatures differ")
	}
	msg := b.signedBytes()
	for i, k := range b.Signers {
		if !verify(k, labelBurn, msg, b.Signatures[i]) {
			return fmt.Errorf("burn notice: %w", ErrBadSignature)
		}
	}
	return nil
}

// SignedBy reports whether key is one of the notice's signers (whose
// signatures Verify checks).
func (b *BurnNotice) SignedBy(key ed25519.PublicKey) bool {
	for _, s := range b.Signers {
		if s.Equal(key) {
			return true
		}
	}
	return false
}
