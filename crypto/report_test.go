package crypto

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

// aliceToBob seals one talks message from Alice with rep and returns the
// envelope with what Bob needs to open it by hand.
func aliceToBob(t *testing.T, rep Report) (env []byte, mk MessageKey, bob *person, pair PairKey, slot int) {
	t.Helper()
	c := newChannel(t, PolicyHard)
	alice := c.admit("Alice", RoleParticipant)
	bob = c.admit("Bob", RoleParticipant)
	ck, _ := alice.secrets.SenderChain(Talks, alice.keys.ID())
	n, mk, _ := (&SendChain{Key: ck}).advance()
	pairs, err := NewEpochView(alice.roster, alice.keys, alice.secrets.SenderDataKey()).pairsFor(Talks)
	if err != nil {
		t.Fatal(err)
	}
	h := Header{Compartment: Talks, Epoch: alice.secrets.Epoch, Sender: alice.keys.ID(), Counter: n}
	env, err = sealWithKey(c.roster.Channel, h, alice.secrets.SenderDataKey(), mk, pairs, Message{Type: 1, Body: []byte("hello"), Report: rep})
	if err != nil {
		t.Fatal(err)
	}
	pair, _ = bob.keys.pairKey(c.roster.Channel, alice.keys.Public())
	return env, mk, bob, pair, bob.roster.Slot(Talks, bob.keys.ID())
}

// rewrite decrypts env with mk, lets change edit the plaintext, and
// encrypts it again under the same header: what any reader of the
// compartment (who can derive every sender's message keys) can do.
// With fixTag, it also recomputes the tag in slot under pair, which only
// the sender and that reader can do.
func rewrite(t *testing.T, channel ChannelID, env []byte, mk MessageKey, change func(pt []byte), pair *PairKey, slot int) []byte {
	t.Helper()
	nonce := env[clearHeaderSize-NonceSize : clearHeaderSize]
	ad := associatedData(channel, env[:HeaderSize])
	pt, err := messageAEAD(mk).Open(nil, nonce, env[HeaderSize:], ad)
	if err != nil {
		t.Fatal(err)
	}
	change(pt)
	if pair != nil {
		copy(pt[slot*TagSize:], tag(*pair, contentHash(ad, pt)))
	}
	return messageAEAD(mk).Seal(bytes.Clone(env[:HeaderSize]), nonce, pt, ad)
}

func TestReportRoundTrip(t *testing.T) {
	pending := bytes.Repeat([]byte{7}, PendingKeySize)
	rep := Report{RosterHash: [32]byte{1, 2, 3}, Heard: []uint32{0, 5, 1 << 31}, PrevHeard: []uint32{9}, Synced: 1764000000, ClosedEpoch: 6, ClosedCount: 11, PendingKey: pending}
	env, mk, bob, pair, slot := aliceToBob(t, rep)
	m, err := openBody(bob.roster.Channel, bob.secrets.SenderDataKey(), env, mk, slot, pair)
	if err != nil {
		t.Fatal(err)
	}
	got := m.Report
	if got.RosterHash != rep.RosterHash || got.Synced != rep.Synced || got.ClosedEpoch != 6 || got.ClosedCount != 11 || !bytes.Equal(got.PendingKey, pending) {
		t.Fatalf("report came back as %+v", got)
	}
	if !slices.Equal(got.Heard[:3], rep.Heard) || !slices.Equal(got.PrevHeard[:1], rep.PrevHeard) || got.Heard[3] != 0 || got.PrevHeard[1] != 0 {
		t.Fatalf("heard %v / %v", got.Heard[:4], got.PrevHeard[:2])
	}
	// Without a pending key the field stays empty.
	env, mk, bob, pair, slot = aliceToBob(t, Report{Heard: []uint32{1}})
	if m, err := openBody(bob.roster.Channel, bob.secrets.SenderDataKey(), env, mk, slot, pair); err != nil || m.Report.PendingKey != nil {
		t.Fatalf("no pending key: %v, %v", m.Report.PendingKey, err)
	}
}

func TestReportRejectsBadInput(t *testing.T) {
	if _, err := aliceToBobSeal(Report{PendingKey: []byte{1}}); !errors.Is(err, ErrMalformed) {
		t.Errorf("short pending key: %v, want ErrMalformed", err)
	}
	if _, err := aliceToBobSeal(Report{Heard: make([]uint32, MaxMembers+1)}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("65 readers: %v, want ErrTooLarge", err)
	}
}

func aliceToBobSeal(rep Report) ([]byte, error) {
	return sealWithKey(ChannelID{}, Header{Compartment: Talks}, SenderDataKey{}, MessageKey{}, nil, Message{Report: rep})
}

// A reader of the compartment can decrypt and re-encrypt any message,
// but the tags cover the report: changing what Alice said she had seen
// makes the message fail for everyone else.
func TestReportCoveredByTags(t *testing.T) {
	env, mk, bob, pair, slot := aliceToBob(t, Report{Heard: []uint32{4, 4, 4}})
	off := tagAreaSize + 32
	forged := rewrite(t, bob.roster.Channel, env, mk, func(pt []byte) { pt[off+3] = 9 }, nil, 0)
	if _, err := openBody(bob.roster.Channel, bob.secrets.SenderDataKey(), forged, mk, slot, pair); !errors.Is(err, ErrBadTag) {
		t.Fatalf("changed report: %v, want ErrBadTag", err)
	}
	// The content hash leaves out the zero counters at the end of heard
	// and prev_heard; a count written into one of them, or a count
	// turned into zero, still changes it.
	for name, change := range map[string]func([]byte){
		"count in an unused heard slot":      func(pt []byte) { pt[off+4*40+3] = 1 },
		"count in an unused prev_heard slot": func(pt []byte) { pt[off+4*MaxMembers+3] = 1 },
		"last count made zero":               func(pt []byte) { pt[off+4*2+3] = 0 },
	} {
		bad := rewrite(t, bob.roster.Channel, env, mk, change, nil, 0)
		if _, err := openBody(bob.roster.Channel, bob.secrets.SenderDataKey(), bad, mk, slot, pair); !errors.Is(err, ErrBadTag) {
			t.Errorf("%s: %v, want ErrBadTag", name, err)
		}
	}
	// The unused pending key area must be zero, and its length one of
	// two values, even under a valid tag.
	pendingLen := tagAreaSize + 32 + 8*MaxMembers + 20
	for name, change := range map[string]func([]byte){
		"bad pending length":  func(pt []byte) { pt[pendingLen+1] = 3 },
		"non-zero pending":    func(pt []byte) { pt[pendingLen+2+100] = 1 },
		"non-zero padding":    func(pt []byte) { pt[len(pt)-1] = 1 },
		"body length too big": func(pt []byte) { pt[tagAreaSize+reportSize+1] = 0xff },
	} {
		bad := rewrite(t, bob.roster.Channel, env, mk, change, &pair, slot)
		if _, err := openBody(bob.roster.Channel, bob.secrets.SenderDataKey(), bad, mk, slot, pair); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

// Two envelopes sealed under one message key (a home restored from an
// older copy) never share a nonce.
func TestMessageNonceFreshUnderOneKey(t *testing.T) {
	var mk MessageKey
	h := Header{Compartment: Talks}
	var sdk SenderDataKey
	a, _ := sealWithKey(ChannelID{}, h, sdk, mk, nil, Message{Body: []byte("first")})
	b, _ := sealWithKey(ChannelID{}, h, sdk, mk, nil, Message{Body: []byte("other")})
	ha, _ := sdk.OpenHeader(ChannelID{}, a)
	hb, _ := sdk.OpenHeader(ChannelID{}, b)
	if ha.Nonce == hb.Nonce || ha.Nonce == [NonceSize]byte{} {
		t.Fatalf("nonces %x and %x", ha.Nonce, hb.Nonce)
	}
	// The zero padding of both, XORed, no longer cancels out.
	tail := EnvelopeSize - 64
	if bytes.Equal(a[tail:EnvelopeSize-16], b[tail:EnvelopeSize-16]) {
		t.Fatal("same keystream under one key")
	}
}

func FuzzParseReport(f *testing.F) {
	var seed [reportSize]byte
	f.Add(seed[:])
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) != reportSize {
			return
		}
		r, err := parseReport(data)
		if err != nil {
			return
		}
		again := make([]byte, reportSize)
		if err := r.marshalInto(again); err != nil || !bytes.Equal(again, data) {
			t.Fatalf("report does not round-trip: %v", err)
		}
	})
}

// Expect keeps the keys of messages another member says exist; Received
// counts only what was opened, so a report tells the sender what never
// arrived.
func TestReceiveChainExpectAndReceived(t *testing.T) {
	c := &ReceiveChain{Key: ChainKey{9}}
	send := &SendChain{Key: ChainKey{9}}
	var keys []MessageKey
	for range 4 {
		_, mk, _ := send.advance()
		keys = append(keys, mk)
	}
	c.accept(0)
	if n := c.Expect(3); n != 2 || c.Received() != 1 || !slices.Equal(c.Missing(), []uint32{1, 2}) {
		t.Fatalf("after Expect(3): skipped %d, received %d, missing %v", n, c.Received(), c.Missing())
	}
	if c.Expect(2) != 0 {
		t.Fatal("Expect moved a chain backwards")
	}
	for _, n := range []uint32{2, 1} {
		mk, err := c.lookup(n)
		if err != nil || mk != keys[n] {
			t.Fatalf("counter %d after Expect: %v", n, err)
		}
		c.accept(n)
	}
	if c.Received() != 3 || len(c.Missing()) != 0 {
		t.Fatalf("received %d, missing %v", c.Received(), c.Missing())
	}
	if mk, err := c.lookup(3); err != nil || mk != keys[3] || c.accept(3) != 0 {
		t.Fatalf("counter 3: %v", err)
	}
}

// The tags cover the header through the content hash: a reader who
// re-seals Alice's message with a nonce of its own (new sender data, new
// AD, a valid AEAD) and keeps her tags is refused by Bob's tag. Only the
// body and report are re-sealed unchanged; without the AD in the hash
// this envelope would pass.
func TestTagsCoverHeader(t *testing.T) {
	env, mk, bob, pair, slot := aliceToBob(t, Report{Heard: []uint32{1, 0, 0}})
	channel, sdk := bob.roster.Channel, bob.secrets.SenderDataKey()
	h, err := sdk.OpenHeader(channel, env)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := messageAEAD(mk).Open(nil, h.Nonce[:], env[HeaderSize:], associatedData(channel, env[:HeaderSize]))
	if err != nil {
		t.Fatal(err)
	}
	h.Nonce[0] ^= 1
	header := h.marshal(channel, sdk)
	forged := messageAEAD(mk).Seal(header, h.Nonce[:], pt, associatedData(channel, header))
	if _, err := openBody(channel, sdk, forged, mk, slot, pair); !errors.Is(err, ErrBadTag) {
		t.Fatalf("re-sealed under a new header: %v, want ErrBadTag", err)
	}
	// The same re-seal with Bob's tag recomputed over the new AD opens:
	// the refusal above is the tag's, not the AEAD's.
	copy(pt[slot*TagSize:], tag(pair, contentHash(associatedData(channel, header), pt)))
	fixed := messageAEAD(mk).Seal(bytes.Clone(header), h.Nonce[:], pt, associatedData(channel, header))
	if _, err := openBody(channel, sdk, fixed, mk, slot, pair); err != nil {
		t.Fatalf("re-sealed with the tag fixed: %v", err)
	}
}
