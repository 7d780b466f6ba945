package crypto

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
)

// The MAC states a view keeps per pair key give the same MACs, and so
// the same sender tags, as hmacSHA256 and tag.
func TestMACKey(t *testing.T) {
	sc := getScratch()
	defer putScratch(sc, 0)
	for n := range 300 {
		var pair PairKey
		rand.Read(pair[:])
		msg := make([]byte, n)
		rand.Read(msg)
		if got, want := sc.mac(newMACKey(pair), msg), hmacSHA256(pair[:], msg); got != want {
			t.Fatalf("MAC of %d bytes: %x, want %x", n, got, want)
		}
		var ch [32]byte
		rand.Read(ch[:])
		got := sc.mac(newMACKey(pair), sc.tagInput(ch))
		if want := tag(pair, ch); !bytes.Equal(got[:TagSize], want) {
			t.Fatalf("tag: %x, want %x", got[:TagSize], want)
		}
	}
}

// An envelope sealed through a view (tags from MAC states) opens with
// openMessage (tags recomputed from the pair key) in every reader's slot,
// and one sealed with sealMessage opens through a view.
func TestViewTagsMatch(t *testing.T) {
	c := benchChannel(t, 5)
	from := c.people[1]
	sdk := from.secrets.SenderDataKey()
	send := NewEpochView(from.roster, from.keys, sdk)
	k, err := from.secrets.SenderChain(Talks, from.keys.ID())
	if err != nil {
		t.Fatal(err)
	}
	chain := SendChain{Key: k}
	env, err := send.Seal(&chain, Talks, Message{Type: 1, Body: []byte("tags")})
	if err != nil {
		t.Fatal(err)
	}
	h, err := sdk.OpenHeader(c.roster.Channel, env)
	if err != nil {
		t.Fatal(err)
	}
	mk, _ := (&ReceiveChain{Key: k}).lookup(h.Counter)
	for _, to := range c.people {
		if to == from {
			continue
		}
		pair, err := to.keys.pairKey(c.roster.Channel, from.keys.Public())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := openMessage(c.roster.Channel, h, env, mk, c.roster.Slot(Talks, to.keys.ID()), pair); err != nil {
			t.Errorf("%s: %v", to.name, err)
		}
	}
	to := c.people[4]
	pairs, err := send.pairsFor(Talks)
	if err != nil {
		t.Fatal(err)
	}
	env, err = sealWithKey(c.roster.Channel, Header{Compartment: Talks, Epoch: c.roster.Version, Sender: from.keys.ID(), Counter: 0}, sdk, mk, pairs, Message{Type: 1, Body: []byte("plain")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewEpochView(to.roster, to.keys, to.secrets.SenderDataKey()).Open(&ReceiveChain{Key: k}, env); err != nil {
		t.Fatal(err)
	}
}

// OpenIncoming refuses an Incoming of another view, and an envelope
// changed after its header was opened.
func TestOpenIncomingChecks(t *testing.T) {
	c := benchChannel(t, 3)
	from, to := c.people[1], c.people[2]
	send := NewEpochView(from.roster, from.keys, from.secrets.SenderDataKey())
	recv := NewEpochView(to.roster, to.keys, to.secrets.SenderDataKey())
	k, err := from.secrets.SenderChain(Talks, from.keys.ID())
	if err != nil {
		t.Fatal(err)
	}
	chain := SendChain{Key: k}
	env, err := send.Seal(&chain, Talks, Message{Type: 1, Body: []byte("once")})
	if err != nil {
		t.Fatal(err)
	}
	in, err := recv.Incoming(env)
	if err != nil {
		t.Fatal(err)
	}
	other := NewEpochView(to.roster, to.keys, to.secrets.SenderDataKey())
	if _, err := other.OpenIncoming(&ReceiveChain{Key: k}, in); !errors.Is(err, ErrWrongEpoch) {
		t.Fatalf("another view's Incoming: %v", err)
	}
	env[HeaderSize-1] ^= 1
	if _, err := recv.OpenIncoming(&ReceiveChain{Key: k}, in); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("changed header: %v", err)
	}
	env[HeaderSize-1] ^= 1
	if _, err := recv.OpenIncoming(&ReceiveChain{Key: k}, in); err != nil {
		t.Fatal(err)
	}
}
