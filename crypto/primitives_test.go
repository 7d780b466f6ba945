package crypto

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"testing"
)

// labeledMAC and deriveKey compute HMAC and HKDF by hand; they must agree
// with crypto/hmac and crypto/hkdf for every key, input and output
// length, across block boundaries.
func TestLabeledMACMatchesHMAC(t *testing.T) {
	for _, keyLen := range []int{0, 1, 16, 32, 63, 64, 65, 100} {
		for _, partLen := range []int{0, 1, 20, 55, 56, 64, 119, 120, 300, 1000} {
			key := make([]byte, keyLen)
			rand.Read(key)
			a, b := make([]byte, partLen), make([]byte, partLen/3)
			rand.Read(a)
			rand.Read(b)
			m := hmac.New(sha256.New, key)
			writePrefixed(m, []byte(labelMessageTag))
			writePrefixed(m, a)
			writePrefixed(m, b)
			want := m.Sum(nil)
			if got := labeledMAC(key, labelMessageTag, a, b); !hmac.Equal(got[:], want) {
				t.Fatalf("key %d bytes, parts %d+%d bytes: %x, want %x", keyLen, partLen, partLen/3, got, want)
			}
		}
	}
}

func TestDeriveKeyMatchesHKDF(t *testing.T) {
	for _, secretLen := range []int{0, 1, 32, 64, 65, 200} {
		for _, n := range []int{1, 16, 31, 32, 33, 56, 64, 65, 100, 255 * 32} {
			secret := make([]byte, secretLen)
			rand.Read(secret)
			ctx := make([]byte, n%70)
			rand.Read(ctx)
			got := deriveKey(secret, labelMessageKey, n, ctx, secret)
			info := appendPrefixed(nil, []byte(labelMessageKey))
			info = appendPrefixed(info, ctx)
			info = appendPrefixed(info, secret)
			want, err := hkdf.Key(sha256.New, secret, nil, string(info), n)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("secret %d bytes, %d bytes out: %x, want %x", secretLen, n, got, want)
			}
		}
	}
}

func TestAllZero(t *testing.T) {
	for n := range 100 {
		b := make([]byte, n)
		if !allZero(b) {
			t.Fatalf("%d zero bytes: not all zero", n)
		}
		for i := range n {
			b[i] = 1
			if allZero(b) {
				t.Fatalf("%d bytes with byte %d set: all zero", n, i)
			}
			b[i] = 0
		}
	}
}
