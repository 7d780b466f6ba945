package relay

import (
	"context"
	"crypto/ed25519"
)

type callerKey struct{}

// Caller returns the pseudonym key of the authenticated member on whose
// behalf a Store method runs, when the server knows it (Fetch, and the
// Append of a post). A Store
// wrapper uses it to play a relay that treats members differently: the
// test relay that withholds frames from one member only.
func Caller(ctx context.Context) (ed25519.PublicKey, bool) {
	k, ok := ctx.Value(callerKey{}).(ed25519.PublicKey)
	return k, ok
}

func withCaller(ctx context.Context, key ed25519.PublicKey) context.Context {
	return context.WithValue(ctx, callerKey{}, key)
}
