package client

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"

	"golang.org/x/crypto/chacha20poly1305"
)

// sealer encrypts the rows of the state database under the home's state
// key, with the row's purpose as associated data so that rows cannot be
// swapped for one another.
type sealer struct{ key [32]byte }

func (s *sealer) seal(purpose string, plaintext []byte) []byte {
	a, _ := chacha20poly1305.NewX(s.key[:])
	out := make([]byte, a.NonceSize(), a.NonceSize()+len(plaintext)+a.Overhead())
	rand.Read(out)
	return a.Seal(out, out, plaintext, []byte("parley state/"+purpose))
}

var errCorrupt = errors.New("state database entry is corrupted or from another home")

func (s *sealer) open(purpose string, sealed []byte) ([]byte, error) {
	a, _ := chacha20poly1305.NewX(s.key[:])
	if len(sealed) < a.NonceSize()+a.Overhead() {
		return nil, errCorrupt
	}
	pt, err := a.Open(nil, sealed[:a.NonceSize()], sealed[a.NonceSize():], []byte("parley state/"+purpose))
	if err != nil {
		return nil, errCorrupt
	}
	return pt, nil
}

// index is the keyed hash used to find a row by a secret value (a
// channel's local name) without storing the value.
func (s *sealer) index(purpose, value string) []byte {
	m := hmac.New(sha256.New, s.key[:])
	m.Write([]byte("parley index/" + purpose + "\x00" + value))
	return m.Sum(nil)
}
