package crypto

import (
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"hash"
	"sync"
)

// scratch holds the buffers one seal or open of a message works in: the
// opened plaintext, the associated data, the sender data and a SHA-256
// state. They are kept in a pool between messages, so that the message
// path allocates only what it returns.
type scratch struct {
	pt  []byte // an opened plaintext (plaintextSize)
	ad  []byte
	sd  []byte
	h   hash.Hash
	buf []byte
	sum [32]byte
	// tagMsg is the input of the sender tags (tagInput).
	tagMsg []byte
}

var scratchPool = sync.Pool{New: func() any {
	return &scratch{
		pt:     make([]byte, plaintextSize),
		ad:     make([]byte, 0, 256),
		sd:     make([]byte, 0, 64),
		buf:    make([]byte, 0, 64),
		tagMsg: make([]byte, 0, 256),
		h:      sha256.New(),
	}
}}

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

// putScratch clears the first dirty bytes of the plaintext buffer (the
// rest is known to be zero) and returns sc to the pool: no plaintext
// outlives the call that opened it.
func putScratch(sc *scratch, dirty int) {
	clear(sc.pt[:dirty])
	clear(sc.sd[:cap(sc.sd)])
	clear(sc.tagMsg[:cap(sc.tagMsg)]) // holds the content hash
	clear(sc.sum[:])
	sc.h.Reset()
	scratchPool.Put(sc)
}

// labeledHash is the package's labeledHash computed with sc's SHA-256
// state instead of a new one.
func (sc *scratch) labeledHash(label string, parts ...[]byte) [32]byte {
	sc.h.Reset()
	sc.buf = appendPrefixed(sc.buf[:0], []byte(label))
	sc.h.Write(sc.buf)
	for _, p := range parts {
		sc.buf = binary.BigEndian.AppendUint32(sc.buf[:0], uint32(len(p)))
		sc.h.Write(sc.buf)
		sc.h.Write(p)
	}
	sc.h.Sum(sc.sum[:0])
	return sc.sum
}

// A macKey is HMAC-SHA256 under one pair key with its two padded key
// blocks hashed already: the SHA-256 states after the inner and the
// outer pad. A view keeps one per pair key, so that each sender tag
// hashes two blocks instead of four.
type macKey struct{ inner, outer []byte }

func newMACKey(pair PairKey) *macKey {
	var pad [sha256.BlockSize]byte
	state := func(x byte) []byte {
		clear(pad[:])
		copy(pad[:], pair[:])
		for i := range pad {
			pad[i] ^= x
		}
		h := sha256.New()
		h.Write(pad[:])
		b, err := h.(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			panic("parley/crypto: SHA-256 state: " + err.Error())
		}
		return b
	}
	k := &macKey{inner: state(0x36), outer: state(0x5c)}
	clear(pad[:])
	return k
}

// mac is hmacSHA256(pair, msg) for k's pair key.
func (sc *scratch) mac(k *macKey, msg []byte) [32]byte {
	u := sc.h.(encoding.BinaryUnmarshaler)
	if err := u.UnmarshalBinary(k.inner); err != nil {
		panic("parley/crypto: SHA-256 state: " + err.Error())
	}
	sc.h.Write(msg)
	sc.h.Sum(sc.sum[:0])
	if err := u.UnmarshalBinary(k.outer); err != nil {
		panic("parley/crypto: SHA-256 state: " + err.Error())
	}
	sc.h.Write(sc.sum[:])
	sc.h.Sum(sc.sum[:0])
	return sc.sum
}

// tagInput is the message every sender tag of an envelope MACs (tag's
// framing: the label, then the content hash), built once in sc.tagMsg.
func (sc *scratch) tagInput(contentHash [32]byte) []byte {
	m := append(sc.tagMsg[:0], labelMessageTag...)
	m = append(m, contentHash[:]...)
	sc.tagMsg = m
	return m
}
