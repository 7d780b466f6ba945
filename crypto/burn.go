package crypto

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"time"

	"golang.org/x/crypto/cryptobyte"
)

// A BurnNotice ends a channel: the relay erases it and every client wipes
// its keys and transcript for it. It is signed by an organizer's pseudonym
// key; the relay checks that key against the access list (CapAdmin), a
// client against the roster (organizer).
type BurnNotice struct {
	Channel   ChannelID
	Issued    time.Time
	Signer    ed25519.PublicKey
	Signature []byte
}

const burnFormat = 1

// BurnNoticeSize is the size of an encoded burn notice.
const BurnNoticeSize = 1 + 16 + 8 + 32 + SignatureSize

// NewBurnNotice signs a burn notice for channel with k.
func NewBurnNotice(k *ChannelKeys, channel ChannelID, now time.Time) *BurnNotice {
	b := &BurnNotice{Channel: channel, Issued: now.UTC().Truncate(time.Second), Signer: k.SigningPublicKey()}
	b.Signature = k.sign(labelBurn, b.signedBytes())
	return b
}

func (b *BurnNotice) signedBytes() []byte {
	var bb cryptobyte.Builder
	bb.AddUint8(burnFormat)
	bb.AddBytes(b.Channel[:])
	bb.AddUint64(unixSeconds(b.Issued))
	bb.AddBytes(b.Signer)
	return bb.BytesOrPanic()
}

// Marshal encodes the notice.
func (b *BurnNotice) Marshal() []byte { return append(b.signedBytes(), b.Signature...) }

// ParseBurnNotice decodes a notice; Verify checks it.
func ParseBurnNotice(data []byte) (*BurnNotice, error) {
	if len(data) != BurnNoticeSize || data[0] != burnFormat {
		return nil, malformed("burn notice", "wrong size or format")
	}
	s := cryptobyte.String(data[1:])
	b := new(BurnNotice)
	var issued uint64
	var signer, sig []byte
	if !s.CopyBytes(b.Channel[:]) || !s.ReadUint64(&issued) || !s.ReadBytes(&signer, 32) || !s.ReadBytes(&sig, SignatureSize) {
		return nil, malformed("burn notice", "truncated")
	}
	b.Issued, b.Signer, b.Signature = fromUnixSeconds(issued), bytes.Clone(signer), bytes.Clone(sig)
	if !bytes.Equal(b.Marshal(), data) {
		return nil, malformed("burn notice", "not canonical")
	}
	return b, nil
}

// Verify checks the signature and the channel. The caller checks that
// Signer has authority (an organizer of the roster, CapAdmin at the
// relay).
func (b *BurnNotice) Verify(channel ChannelID) error {
	if b.Channel != channel {
		return fmt.Errorf("burn notice: %w", ErrWrongChannel)
	}
	if !verify(b.Signer, labelBurn, b.signedBytes(), b.Signature) {
		return fmt.Errorf("burn notice: %w", ErrBadSignature)
	}
	return nil
}
