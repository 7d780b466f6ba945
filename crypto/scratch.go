package crypto

import (
	"crypto/sha256"
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
}

var scratchPool = sync.Pool{New: func() any {
	return &scratch{
		pt:  make([]byte, plaintextSize),
		ad:  make([]byte, 0, 256),
		sd:  make([]byte, 0, 64),
		buf: make([]byte, 0, 64),
		h:   sha256.New(),
	}
}}

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

// putScratch clears the first dirty bytes of the plaintext buffer (the
// rest is known to be zero) and returns sc to the pool: no plaintext
// outlives the call that opened it.
func putScratch(sc *scratch, dirty int) {
	clear(sc.pt[:dirty])
	clear(sc.sd[:cap(sc.sd)])
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
