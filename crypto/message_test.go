package crypto

import (
	"bytes"
	"errors"
	"testing"
)

func TestMessageRoundTripAndCompartments(t *testing.T) {
	c := newChannel(t, PolicyHard)
	alice := c.admit("Alice", RoleParticipant)
	bob := c.admit("Bob", RoleParticipant)
	mentor := c.admit("Mentor", RoleMentor)

	env, err := alice.seal(t, Talks, 1, []byte("the border clause stays"))
	if err != nil {
		t.Fatal(err)
	}
	if len(env) != EnvelopeSize {
		t.Fatalf("envelope is %d bytes, want %d", len(env), EnvelopeSize)
	}
	mustOpen(t, bob, env, "the border clause stays")
	mustOpen(t, c.org, env, "the border clause stays")

	// The mentor was never wrapped the talks secret: it cannot even
	// derive the chain, and guessing with the briefings secret fails.
	if _, _, err := mentor.open(t, env); !errors.Is(err, ErrNoCompartment) {
		t.Fatalf("mentor opening talks: %v, want ErrNoCompartment", err)
	}
	if mentor.secrets.Talks != nil {
		t.Fatal("mentor holds a talks secret")
	}
	k, _ := mentor.secrets.SenderChain(Briefings, alice.keys.ID())
	mk, _ := (&ReceiveChain{Key: k}).lookup(0)
	if _, err := openBody(c.roster.Channel, mentor.secrets.SenderDataKey(), env, mk, 0, PairKey{}); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("talks message under briefings key: %v, want ErrDecrypt", err)
	}
	if _, err := mentor.seal(t, Talks, 1, []byte("x")); !errors.Is(err, ErrNoCompartment) {
		t.Fatalf("mentor sealing talks: %v, want ErrNoCompartment", err)
	}

	brief, err := c.org.seal(t, Briefings, 1, []byte("progress on clause 4"))
	if err != nil {
		t.Fatal(err)
	}
	mustOpen(t, mentor, brief, "progress on clause 4")
	mustOpen(t, alice, brief, "progress on clause 4")
	reply, err := mentor.seal(t, Briefings, 1, []byte("push on water rights"))
	if err != nil {
		t.Fatal(err)
	}
	mustOpen(t, c.org, reply, "push on water rights")
}

func TestMessagePaddingSizes(t *testing.T) {
	c := newChannel(t, PolicyHard)
	alice := c.admit("Alice", RoleParticipant)
	for _, n := range []int{0, 1, MaxBody - 1, MaxBody} {
		body := bytes.Repeat([]byte{0xa5}, n)
		env, err := c.org.seal(t, Talks, 7, body)
		if err != nil {
			t.Fatalf("body of %d bytes: %v", n, err)
		}
		if len(env) != EnvelopeSize {
			t.Fatalf("body of %d bytes: envelope of %d bytes", n, len(env))
		}
		m, _, err := alice.open(t, env)
		if err != nil || m.Type != 7 || !bytes.Equal(m.Body, body) {
			t.Fatalf("body of %d bytes: got %d bytes, type %d, %v", n, len(m.Body), m.Type, err)
		}
	}
	if _, err := c.org.seal(t, Talks, 7, make([]byte, MaxBody+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("body of MaxBody+1 bytes: %v, want ErrTooLarge", err)
	}
}

func TestMessageRejections(t *testing.T) {
	c := newChannel(t, PolicyHard)
	alice := c.admit("Alice", RoleParticipant)
	bob := c.admit("Bob", RoleParticipant)
	env, err := alice.seal(t, Talks, 1, []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	// reopen gives bob a fresh view of the same message each time.
	mutate := func(f func([]byte)) []byte {
		e := bytes.Clone(env)
		f(e)
		return e
	}
	// A member holds the sender-data key and can seal other sender data
	// onto the envelope; the body's AEAD, under the key of the genuine
	// compartment and counter, still refuses it.
	resealed := func(f func(*Header)) []byte {
		sdk := bob.secrets.SenderDataKey()
		h, err := sdk.OpenHeader(c.roster.Channel, env)
		if err != nil {
			t.Fatal(err)
		}
		f(&h)
		return mutate(func(e []byte) { copy(e, h.marshal(c.roster.Channel, sdk)) })
	}
	cases := []struct {
		name string
		env  []byte
		want error
	}{
		{"tampered ciphertext", mutate(func(e []byte) { e[HeaderSize+100] ^= 1 }), ErrDecrypt},
		{"tampered padding", mutate(func(e []byte) { e[EnvelopeSize-20] ^= 1 }), ErrDecrypt},
		{"other counter", resealed(func(h *Header) { h.Counter = 1 }), ErrDecrypt},
		{"other compartment", resealed(func(h *Header) { h.Compartment = Briefings }), ErrDecrypt},
		{"tampered sender data", mutate(func(e []byte) { e[clearHeaderSize] ^= 1 }), ErrDecrypt},
		{"tampered sender data tag", mutate(func(e []byte) { e[HeaderSize-1] ^= 1 }), ErrDecrypt},
		{"unknown version", mutate(func(e []byte) { e[0] = 1 }), ErrMalformed},
		{"tampered nonce", mutate(func(e []byte) { e[clearHeaderSize-1] ^= 1 }), ErrDecrypt},
		{"tampered sender", mutate(func(e []byte) { e[9] ^= 1 }), ErrDecrypt},
		{"wrong epoch", mutate(func(e []byte) { e[8]++ }), ErrWrongEpoch},
		{"truncated", env[:EnvelopeSize-1], ErrMalformed},
		{"oversized", append(bytes.Clone(env), 0), ErrMalformed},
	}
	for _, tc := range cases {
		if _, _, err := bob.open(t, tc.env); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// Below the client's epoch check, the AEAD itself binds the epoch: the
	// right message key does not open the envelope under another epoch.
	k, _ := bob.secrets.SenderChain(Talks, alice.keys.ID())
	mk, _ := (&ReceiveChain{Key: k}).lookup(0)
	pair, _ := bob.keys.pairKey(c.roster.Channel, alice.keys.Public())
	slot := bob.roster.Slot(Talks, bob.keys.ID())
	if _, err := openBody(c.roster.Channel, bob.secrets.SenderDataKey(), mutate(func(e []byte) { e[8]++ }), mk, slot, pair); !errors.Is(err, ErrDecrypt) {
		t.Errorf("wrong epoch under the right key: %v, want ErrDecrypt", err)
	}
	if _, err := openBody(ChannelID{1}, bob.secrets.SenderDataKey(), env, mk, slot, pair); !errors.Is(err, ErrDecrypt) {
		t.Errorf("another channel's id: %v, want ErrDecrypt", err)
	}
	if _, err := openBody(c.roster.Channel, bob.secrets.SenderDataKey(), env, mk, slot, PairKey{}); !errors.Is(err, ErrBadTag) {
		t.Errorf("wrong pair key: %v, want ErrBadTag", err)
	}

	// A failed open must not move the chain: the genuine message still
	// opens, once.
	mustOpen(t, bob, env, "hello")
	if _, _, err := bob.open(t, env); !errors.Is(err, ErrReplay) {
		t.Fatalf("replay: %v, want ErrReplay", err)
	}
}

func TestMessageForgedSender(t *testing.T) {
	c := newChannel(t, PolicyHard)
	alice := c.admit("Alice", RoleParticipant)
	bob := c.admit("Bob", RoleParticipant)
	eve := c.admit("Eve", RoleParticipant)

	// Eve holds the talks secret, so she can derive Alice's chain and
	// encrypt as Alice; but she cannot make Alice's pairwise tags.
	k, err := eve.secrets.SenderChain(Talks, alice.keys.ID())
	if err != nil {
		t.Fatal(err)
	}
	_, mk, _ := (&SendChain{Key: k}).advance()
	pairs, _ := NewEpochView(eve.roster, eve.keys, eve.secrets.SenderDataKey()).pairsFor(Talks)
	h := Header{Compartment: Talks, Epoch: eve.secrets.Epoch, Sender: alice.keys.ID(), Counter: 0}
	forged, err := sealWithKey(c.roster.Channel, h, eve.secrets.SenderDataKey(), mk, pairs, Message{Type: 1, Body: []byte("concede everything")})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := bob.open(t, forged); !errors.Is(err, ErrBadTag) {
		t.Fatalf("forged sender: %v, want ErrBadTag", err)
	}
	// The rejected forgery did not burn Alice's counter 0.
	env, _ := alice.seal(t, Talks, 1, []byte("genuine"))
	mustOpen(t, bob, env, "genuine")
}

func TestMessageReorderGapsAndWindow(t *testing.T) {
	c := newChannel(t, PolicyHard)
	alice := c.admit("Alice", RoleParticipant)
	var envs [][]byte
	for i := 0; i < 4; i++ {
		e, err := c.org.seal(t, Talks, 1, []byte{byte('a' + i)})
		if err != nil {
			t.Fatal(err)
		}
		envs = append(envs, e)
	}
	// 0, then 3: a gap of two; then 1 and 2 arrive late and fill it.
	if _, gap, _ := alice.open(t, envs[0]); gap != 0 {
		t.Fatalf("gap %d after first message", gap)
	}
	if _, gap, err := alice.open(t, envs[3]); err != nil || gap != 2 {
		t.Fatalf("after skipping two: gap %d, %v", gap, err)
	}
	ch := alice.recv[[2]any{Talks, c.org.keys.ID()}]
	if got := ch.Missing(); len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Fatalf("missing %v, want [1 2]", got)
	}
	mustOpen(t, alice, envs[2], "c")
	mustOpen(t, alice, envs[1], "b")
	if len(ch.Missing()) != 0 {
		t.Fatalf("missing %v after late arrivals", ch.Missing())
	}
	for i, e := range envs {
		if _, _, err := alice.open(t, e); !errors.Is(err, ErrReplay) {
			t.Fatalf("replay of %d: %v", i, err)
		}
	}

	// Too far ahead.
	rc := &ReceiveChain{}
	if _, err := rc.lookup(MaxSkip + 1); !errors.Is(err, ErrTooFarAhead) {
		t.Fatalf("jump beyond MaxSkip: %v", err)
	}
	if _, err := rc.lookup(MaxSkip); err != nil {
		t.Fatalf("jump of MaxSkip: %v", err)
	}
	// The skipped-key window is bounded: the oldest keys go first.
	for n := uint32(MaxSkip); n <= 4*MaxSkip; n += MaxSkip {
		rc.accept(n)
	}
	if len(rc.Skipped) > MaxSkipped {
		t.Fatalf("%d skipped keys kept, max %d", len(rc.Skipped), MaxSkipped)
	}
	if _, err := rc.lookup(0); !errors.Is(err, ErrReplay) {
		t.Fatalf("evicted key: %v, want ErrReplay", err)
	}
}

func TestChainForwardSecrecy(t *testing.T) {
	// After Advance, the stored state must not yield the used key.
	sc := &SendChain{Key: ChainKey{9}}
	_, used, _ := sc.advance()
	rc := &ReceiveChain{Key: sc.Key, Next: sc.Next}
	if _, err := rc.lookup(0); !errors.Is(err, ErrReplay) {
		t.Fatalf("old counter from advanced state: %v", err)
	}
	k, _ := rc.lookup(1)
	if k == used {
		t.Fatal("advanced chain reproduces the used key")
	}
}

func TestChainStateRoundTrip(t *testing.T) {
	rc := &ReceiveChain{Key: ChainKey{3}}
	rc.accept(5)
	raw, _ := rc.MarshalBinary()
	got, err := ParseReceiveChain(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got.Key != rc.Key || got.Next != rc.Next || len(got.Skipped) != 5 {
		t.Fatalf("round trip changed the chain: %+v", got)
	}
	for n, k := range rc.Skipped {
		if got.Skipped[n] != k {
			t.Fatalf("skipped key %d changed", n)
		}
	}
	sc := &SendChain{Key: ChainKey{4}, Next: 17}
	raw, _ = sc.MarshalBinary()
	if got, err := ParseSendChain(raw); err != nil || *got != *sc {
		t.Fatalf("send chain round trip: %+v, %v", got, err)
	}
}

// TestRecipientCanForgeItsOwnView shows the deniability the tags give:
// Bob can make, without Alice, a message "from Alice" that his own client
// accepts. So a transcript Bob shows an outsider proves nothing about
// what Alice wrote.
func TestRecipientCanForgeItsOwnView(t *testing.T) {
	c := newChannel(t, PolicyHard)
	alice := c.admit("Alice", RoleParticipant)
	bob := c.admit("Bob", RoleParticipant)
	k, _ := bob.secrets.SenderChain(Talks, alice.keys.ID())
	_, mk, _ := (&SendChain{Key: k}).advance()
	pair, err := bob.keys.pairKey(c.roster.Channel, alice.keys.Public())
	if err != nil {
		t.Fatal(err)
	}
	pairs := make([]PairKey, len(bob.roster.Readers(Talks, "")))
	pairs[bob.roster.Slot(Talks, bob.keys.ID())] = pair
	h := Header{Compartment: Talks, Epoch: bob.secrets.Epoch, Sender: alice.keys.ID(), Counter: 0}
	env, err := sealWithKey(c.roster.Channel, h, bob.secrets.SenderDataKey(), mk, pairs, Message{Type: 1, Body: []byte("words Alice never wrote")})
	if err != nil {
		t.Fatal(err)
	}
	mustOpen(t, bob, env, "words Alice never wrote")
	// But towards anyone else the forgery fails.
	if _, _, err := c.org.open(t, env); !errors.Is(err, ErrBadTag) {
		t.Fatalf("forgery towards a third member: %v, want ErrBadTag", err)
	}
}

// The relay reads only the clear header: a talks message and a briefing
// from one sender, at the same counter, differ there only in their random
// nonces. Every member, mentors included, opens the sender data and so
// sorts each frame into its chain.
func TestHeaderHidesCompartment(t *testing.T) {
	c := newChannel(t, PolicyHard)
	alice := c.admit("Alice", RoleParticipant)
	mentor := c.admit("Mentor", RoleMentor)
	talks, err := alice.seal(t, Talks, 1, []byte("the map, second draft"))
	if err != nil {
		t.Fatal(err)
	}
	briefing, err := alice.seal(t, Briefings, 1, []byte("we met twice"))
	if err != nil {
		t.Fatal(err)
	}
	ht, _ := ParseClearHeader(talks)
	hb, _ := ParseClearHeader(briefing)
	if ht != hb {
		t.Fatalf("clear headers differ: %+v and %+v", ht, hb)
	}
	if !bytes.Equal(talks[:clearHeaderSize-NonceSize], briefing[:clearHeaderSize-NonceSize]) {
		t.Fatal("the bytes before the nonce differ")
	}
	v := NewEpochView(mentor.roster, mentor.keys, mentor.secrets.SenderDataKey())
	for env, want := range map[*[]byte]Compartment{&talks: Talks, &briefing: Briefings} {
		h, err := v.Header(*env)
		if err != nil || h.Compartment != want || h.Counter != 0 {
			t.Fatalf("mentor reads header %+v, %v; want %s counter 0", h, err, want)
		}
	}
	// An outsider's key (another epoch's, here) opens no sender data.
	other := *mentor.secrets
	other.Epoch++
	if _, err := other.SenderDataKey().OpenHeader(c.roster.Channel, talks); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("sender data under another key: %v, want ErrDecrypt", err)
	}
}
