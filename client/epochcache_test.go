package client

import (
	"bytes"
	"testing"
)

// The epoch cache serves a view only for the very bytes it was built
// from: new keys (a key update) or another roster under the same epoch
// number get a view of their own, and the keys replaced are dropped.
func TestEpochCacheFollowsState(t *testing.T) {
	p, err := NewMessagePath(4)
	if err != nil {
		t.Fatal(err)
	}
	c, st := p.c, p.from.st
	e := st.current()
	x1, err := c.cache.epoch(st, e)
	if err != nil {
		t.Fatal(err)
	}
	if x2, _ := c.cache.epoch(st, e); x2 != x1 {
		t.Fatal("the same state built a second view")
	}
	k, _ := st.keys()
	rotated, err := k.RotateKEM()
	if err != nil {
		t.Fatal(err)
	}
	st.Keys, _ = rotated.MarshalBinary()
	x3, err := c.cache.epoch(st, e)
	if err != nil {
		t.Fatal(err)
	}
	if x3 == x1 || !bytes.Equal(x3.keys.Public().KEMKey, rotated.Public().KEMKey) {
		t.Fatal("a view built with the replaced keys was served")
	}
	if len(c.cache.keys) != 1 || len(c.cache.epochs) != 1 {
		t.Fatalf("the cache holds %d keys and %d views, want 1 and 1", len(c.cache.keys), len(c.cache.epochs))
	}
	other, err := NewMessagePath(3)
	if err != nil {
		t.Fatal(err)
	}
	forged := *e
	forged.Roster = other.from.st.current().Roster
	if forged.Epoch != other.from.st.current().Epoch {
		t.Skip("the two channels' epochs differ")
	}
	x4, err := c.cache.epoch(st, &forged)
	if err != nil {
		t.Fatal(err)
	}
	if x4 == x3 || x4.roster.Channel == x3.roster.Channel {
		t.Fatal("a view of another roster was served")
	}
	c.cache.forget()
	if c.cache.keys != nil || c.cache.epochs != nil {
		t.Fatal("forget left keys behind")
	}
}
