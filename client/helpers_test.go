package client_test

import (
	"context"
	"testing"
	"time"

	"parley/internal/parleytest"
	"parley/relay"
)

// The client's external tests use the shared setup of
// internal/parleytest: a relay on loopback and homes that join through it.

const passphrase = parleytest.Passphrase

type world = parleytest.World

func newWorld(t testing.TB, wrap func(relay.Store) relay.Store) *world {
	t.Helper()
	return parleytest.New(t, wrap)
}

// texts syncs a home and returns its transcript as lines.
var texts = parleytest.Texts

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // a bound for loaded machines, not an expectation
	t.Cleanup(cancel)
	return ctx
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
