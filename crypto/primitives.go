package crypto

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"time"
)

// labeledHash is SHA-256 over a length-prefixed label followed by the
// parts, each length-prefixed, so that no two (label, parts) tuples
// collide.
func labeledHash(label string, parts ...[]byte) [32]byte {
	h := sha256.New()
	writePrefixed(h, []byte(label))
	for _, p := range parts {
		writePrefixed(h, p)
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// labeledMAC is HMAC-SHA256 keyed by key over the same framing as
// labeledHash.
func labeledMAC(key []byte, label string, parts ...[]byte) [32]byte {
	m := hmac.New(sha256.New, key)
	writePrefixed(m, []byte(label))
	for _, p := range parts {
		writePrefixed(m, p)
	}
	var out [32]byte
	m.Sum(out[:0])
	return out
}

// deriveKey is HKDF-SHA256 with the label and context as info.
func deriveKey(secret []byte, label string, n int, context ...[]byte) []byte {
	info := make([]byte, 0, 64)
	info = appendPrefixed(info, []byte(label))
	for _, c := range context {
		info = appendPrefixed(info, c)
	}
	out, err := hkdf.Key(sha256.New, secret, nil, string(info), n)
	if err != nil {
		// Only possible for n > 255*32, a programming error.
		panic("parley/crypto: " + err.Error())
	}
	return out
}

type writer interface{ Write([]byte) (int, error) }

func writePrefixed(w writer, p []byte) {
	var l [4]byte
	binary.BigEndian.PutUint32(l[:], uint32(len(p)))
	w.Write(l[:])
	w.Write(p)
}

func appendPrefixed(b, p []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
	return append(b, p...)
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// unixSeconds encodes a time as Unix seconds, the zero time as 0.
func unixSeconds(t time.Time) uint64 {
	if t.IsZero() || t.Unix() <= 0 {
		return 0
	}
	return uint64(t.Unix())
}

// fromUnixSeconds is the inverse of unixSeconds.
func fromUnixSeconds(s uint64) time.Time {
	if s == 0 || s > 1<<62 {
		return time.Time{}
	}
	return time.Unix(int64(s), 0).UTC()
}

// expired reports whether a non-zero expiry is at or before now.
func expired(expires, now time.Time) bool {
	return !expires.IsZero() && !now.Before(expires)
}

// cipherAEAD is the subset of cipher.AEAD used here.
type cipherAEAD interface {
	NonceSize() int
	Overhead() int
	Seal(dst, nonce, plaintext, additionalData []byte) []byte
	Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error)
}
