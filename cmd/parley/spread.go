package main

import (
	"crypto/rand"
	"math/big"
	"time"
)

// defaultSpread bounds the random pause before each channel's sync when
// `parley sync` syncs them all: channels are synced in random order, each
// on its own connections, at independent random times, so that a relay
// (or several relays run by one operator) cannot link one person's
// pseudonyms by connections that open milliseconds apart.
const defaultSpread = 3 * time.Second

// syncStep is one channel of a spread sync: wait, then sync it.
type syncStep struct {
	name string
	wait time.Duration
}

// spread orders names at random and gives each a random pause in
// [0, max). max 0 keeps the order and pauses not at all (tests).
func spread(names []string, max time.Duration) []syncStep {
	out := make([]syncStep, len(names))
	for i, n := range names {
		out[i] = syncStep{name: n}
	}
	if max <= 0 {
		return out
	}
	for i := len(out) - 1; i > 0; i-- {
		j := randomBelow(int64(i + 1))
		out[i], out[j] = out[j], out[i]
	}
	for i := range out {
		out[i].wait = time.Duration(randomBelow(int64(max)))
	}
	return out
}

func randomBelow(n int64) int64 {
	v, err := rand.Int(rand.Reader, big.NewInt(n))
	if err != nil {
		panic(err) // crypto/rand does not fail on the systems Parley runs on
	}
	return v.Int64()
}
