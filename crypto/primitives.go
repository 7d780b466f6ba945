package crypto

import (
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
	var stack [256]byte
	msg := appendPrefixed(stack[:0], []byte(label))
	for _, p := range parts {
		msg = appendPrefixed(msg, p)
	}
	return hmacSHA256(key, msg)
}

// hmacSHA256 is HMAC-SHA256 (RFC 2104) under key of the concatenation of
// msg. Every key Parley MACs with is at most a block long and every input
// short (chain steps, sender tags: one per reader of each message, key
// derivations), so it hashes one buffer on the stack with sha256.Sum256:
// the same value as crypto/hmac, without its per-key setup and
// allocations, which cost as much as the hashing on the message path.
// (The tests check it against crypto/hmac.)
func hmacSHA256(key []byte, msg ...[]byte) [32]byte {
	var hashed [sha256.Size]byte
	if len(key) > sha256.BlockSize {
		// HMAC hashes a key longer than the block; no Parley key is.
		hashed = sha256.Sum256(key)
		key = hashed[:]
	}
	var stack [384]byte
	in := stack[:sha256.BlockSize]
	copy(in, key)
	for i := range in {
		in[i] ^= 0x36
	}
	for _, p := range msg {
		in = append(in, p...)
	}
	inner := sha256.Sum256(in)
	out := stack[:sha256.BlockSize]
	clear(out)
	copy(out, key)
	for i := range out {
		out[i] ^= 0x5c
	}
	out = append(out, inner[:]...)
	return sha256.Sum256(out)
}

// deriveKey is HKDF-SHA256 (RFC 5869) of secret with no salt and the
// label and context as info, computed with hmacSHA256: the same bytes as
// crypto/hkdf (the tests check it), for a fraction of the cost.
func deriveKey(secret []byte, label string, n int, context ...[]byte) []byte {
	if n > 255*sha256.Size {
		panic("parley/crypto: HKDF output too long")
	}
	out := make([]byte, (n+sha256.Size-1)/sha256.Size*sha256.Size)
	deriveKeyInto(out, secret, label, context...)
	return out[:n]
}

// deriveKeyInto is deriveKey writing len(dst) bytes into dst, which
// must be a multiple of 32 bytes long.
func deriveKeyInto(dst, secret []byte, label string, context ...[]byte) {
	var stack [128]byte
	info := appendPrefixed(stack[:0], []byte(label))
	for _, c := range context {
		info = appendPrefixed(info, c)
	}
	// Extract: no salt means a salt of HashLen zeros.
	var salt [sha256.Size]byte
	prk := hmacSHA256(salt[:], secret)
	// Expand: T(i) = HMAC(PRK, T(i-1) || info || i).
	var prev []byte
	for i := 1; (i-1)*sha256.Size < len(dst); i++ {
		t := hmacSHA256(prk[:], prev, info, []byte{byte(i)})
		prev = dst[(i-1)*sha256.Size : i*sha256.Size]
		copy(prev, t[:])
	}
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
