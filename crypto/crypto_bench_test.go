package crypto

import (
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

// Micro-benchmarks of the message path and of epoch changes. `make bench`
// runs them; cmd/parley-bench measures the same operations side by side
// with a raw AEAD and reports the ratios.

// benchChannel is a channel of n members (the organizer included) whose
// members all hold the current epoch.
func benchChannel(b testing.TB, n int) *channel {
	b.Helper()
	policy := PolicyHard
	if n > PolicyHard.MemberCap() {
		policy = PolicySoft
	}
	c := newChannel(b, policy)
	next := c.roster.Next(testNow)
	for i := 1; i < n; i++ {
		p := newPerson(b, fmt.Sprintf("Member %d", i), RoleParticipant)
		pub := p.keys.Public()
		next.Members = append(next.Members, Member{Identity: *p.id.Public(), Name: p.name, Role: p.role, Keys: *pub, Binding: p.id.Bind(next.Channel, pub), KEMSig: p.keys.SignKEM(next.Channel)})
		c.people = append(c.people, p)
	}
	if err := next.Sign(c.org.keys); err != nil {
		b.Fatal(err)
	}
	for _, p := range c.people[1:] {
		p.roster = c.roster
	}
	c.publish(next)
	return c
}

// messageBench holds what a sender and a reader keep between messages:
// chains and pair keys, derived once per epoch.
type messageBench struct {
	channel ChannelID
	epoch   uint64
	sender  KeyID
	send    SendChain
	recv    ReceiveChain
	pairs   []PairKey // the sender's, one per reader
	slot    int       // the reader's tag slot
	body    []byte
	sdk     SenderDataKey
}

func newMessageBench(b *testing.B, n, bodySize int) *messageBench {
	c := benchChannel(b, n)
	from, to := c.people[1], c.people[n-1]
	k, err := from.secrets.SenderChain(Talks, from.keys.ID())
	if err != nil {
		b.Fatal(err)
	}
	rk, err := to.secrets.SenderChain(Talks, from.keys.ID())
	if err != nil {
		b.Fatal(err)
	}
	pairs, err := NewEpochView(from.roster, from.keys, from.secrets.SenderDataKey()).pairsFor(Talks)
	if err != nil {
		b.Fatal(err)
	}
	body := make([]byte, bodySize)
	rand.Read(body)
	return &messageBench{
		channel: c.roster.Channel, epoch: c.roster.Version, sender: from.keys.ID(),
		send: SendChain{Key: k}, recv: ReceiveChain{Key: rk}, pairs: pairs, sdk: from.secrets.SenderDataKey(),
		slot: to.roster.Slot(Talks, to.keys.ID()), body: body,
	}
}

func (m *messageBench) seal(b *testing.B) []byte {
	n, mk, err := m.send.advance()
	if err != nil {
		b.Fatal(err)
	}
	h := Header{Compartment: Talks, Epoch: m.epoch, Sender: m.sender, Counter: n}
	env, err := sealWithKey(m.channel, h, m.sdk, mk, m.pairs, Message{Type: 1, Body: m.body})
	if err != nil {
		b.Fatal(err)
	}
	return env
}

func (m *messageBench) open(b *testing.B, env []byte) {
	h, err := m.sdk.OpenHeader(m.channel, env)
	if err != nil {
		b.Fatal(err)
	}
	mk, err := m.recv.lookup(h.Counter)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := openMessage(m.channel, h, env, mk, m.slot, m.pairs[m.slot]); err != nil {
		b.Fatal(err)
	}
	m.recv.accept(h.Counter)
}

// BenchmarkSealMessage: chain step and seal of a 1 KiB body into a
// 16 KiB envelope with one tag per reader.
func BenchmarkSealMessage(b *testing.B) {
	for _, n := range []int{3, 10, 50} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			m := newMessageBench(b, n, 1024)
			b.SetBytes(EnvelopeSize)
			b.ReportAllocs()
			for b.Loop() {
				m.seal(b)
			}
		})
	}
}

// BenchmarkOpenMessage: header, chain lookup, open and accept, for the
// last reader of the channel.
func BenchmarkOpenMessage(b *testing.B) {
	for _, n := range []int{3, 10, 50} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			m := newMessageBench(b, n, 1024)
			// Envelopes are sealed ahead in batches, off the clock, so
			// the chain is always opened in order.
			const batch = 256
			envs := make([][]byte, 0, batch)
			b.SetBytes(EnvelopeSize)
			b.ReportAllocs()
			for b.Loop() {
				if len(envs) == 0 {
					b.StopTimer()
					for range batch {
						envs = append(envs, m.seal(b))
					}
					b.StartTimer()
				}
				m.open(b, envs[0])
				envs = envs[1:]
			}
		})
	}
}

// BenchmarkSealOpenMessage is the figure cmd/parley-bench compares with
// BenchmarkRawAEAD: one message sealed and opened.
func BenchmarkSealOpenMessage(b *testing.B) {
	m := newMessageBench(b, 10, 1024)
	b.SetBytes(EnvelopeSize)
	b.ReportAllocs()
	for b.Loop() {
		m.open(b, m.seal(b))
	}
}

// BenchmarkSealOpenView is BenchmarkSealOpenMessage through the API the
// client and cmd/parley-bench use: each member's EpochView for the epoch
// (its pair keys and sender-data AEAD made once), Seal, then Incoming
// (the header, to choose the chain) and OpenIncoming with the membership
// checks.
func BenchmarkSealOpenView(b *testing.B) {
	c := benchChannel(b, 10)
	from, to := c.people[1], c.people[9]
	send, recv := NewEpochView(from.roster, from.keys, from.secrets.SenderDataKey()), NewEpochView(to.roster, to.keys, to.secrets.SenderDataKey())
	k, err := from.secrets.SenderChain(Talks, from.keys.ID())
	if err != nil {
		b.Fatal(err)
	}
	sc, rc := SendChain{Key: k}, ReceiveChain{Key: k}
	body := make([]byte, 1024)
	rand.Read(body)
	b.SetBytes(EnvelopeSize)
	b.ReportAllocs()
	for b.Loop() {
		env, err := send.Seal(&sc, Talks, Message{Type: 1, Body: body})
		if err != nil {
			b.Fatal(err)
		}
		in, err := recv.Incoming(env)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := recv.OpenIncoming(&rc, in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawAEAD is the baseline: XChaCha20-Poly1305 seal and open of
// a frame of the same size, with a fixed key and a random nonce.
func BenchmarkRawAEAD(b *testing.B) {
	key := make([]byte, chacha20poly1305.KeySize)
	rand.Read(key)
	a, err := chacha20poly1305.NewX(key)
	if err != nil {
		b.Fatal(err)
	}
	pt := make([]byte, EnvelopeSize-a.NonceSize()-a.Overhead())
	rand.Read(pt)
	nonce := make([]byte, a.NonceSize())
	b.SetBytes(EnvelopeSize)
	b.ReportAllocs()
	for b.Loop() {
		rand.Read(nonce)
		ct := a.Seal(nil, nonce, pt, nil)
		if _, err := a.Open(nil, nonce, ct, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRekey50 is a timed rekey of a 50-member channel as the
// organizer does it: next roster, signed; its access list, signed; fresh
// epoch secrets wrapped to all 50 members; the bundle encoded.
func BenchmarkRekey50(b *testing.B) {
	c := benchChannel(b, 50)
	b.ReportAllocs()
	for b.Loop() {
		next := c.roster.Next(testNow.Add(time.Hour))
		if err := next.Sign(c.org.keys); err != nil {
			b.Fatal(err)
		}
		s := NewEpochSecrets(next)
		admin, _ := s.AdminKey()
		list := AccessListFor(next, admin.SigningPublicKey())
		if err := list.Sign(c.admin, admin); err != nil {
			b.Fatal(err)
		}
		bundle, err := NewEpochBundle(next, s, c.org.keys, c.admin)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := bundle.Marshal(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyRekey50 is one member's side of that rekey: parse and
// open the bundle, verify the roster against the one it holds.
func BenchmarkApplyRekey50(b *testing.B) {
	c := benchChannel(b, 50)
	next := c.roster.Next(testNow.Add(time.Hour))
	if err := next.Sign(c.org.keys); err != nil {
		b.Fatal(err)
	}
	bundle, err := NewEpochBundle(next, NewEpochSecrets(next), c.org.keys, nil)
	if err != nil {
		b.Fatal(err)
	}
	raw, err := bundle.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	p := c.people[len(c.people)-1]
	b.ReportAllocs()
	for b.Loop() {
		parsed, err := ParseEpochBundle(raw)
		if err != nil {
			b.Fatal(err)
		}
		_, r, err := parsed.Open(p.keys, nil, p.roster.IsOrganizer)
		if err != nil {
			b.Fatal(err)
		}
		if err := r.VerifyNext(p.roster); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJoin is the invitee's side: read the code, make a pseudonym,
// seal the join request.
func BenchmarkJoin(b *testing.B) {
	c := newChannel(b, PolicyHard)
	code := c.invite(RoleParticipant).String()
	id, err := GenerateIdentity()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		inv, err := ParseInvite(code)
		if err != nil {
			b.Fatal(err)
		}
		keys, err := GenerateChannelKeys()
		if err != nil {
			b.Fatal(err)
		}
		req, err := NewJoinRequest(inv, id, "Newcomer", keys)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := inv.SealJoinRequest(req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAdmit is the organizer's side of admitting one person to a
// 10-member channel: open the join request, sign the next roster and
// access list, start the epoch for 11 members.
func BenchmarkAdmit(b *testing.B) {
	c := benchChannel(b, 10)
	inv := c.invite(RoleParticipant)
	p := newPerson(b, "Newcomer", RoleParticipant)
	req, err := NewJoinRequest(inv, p.id, p.name, p.keys)
	if err != nil {
		b.Fatal(err)
	}
	sealed, err := inv.SealJoinRequest(req)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		got, err := inv.OpenJoinRequest(sealed)
		if err != nil {
			b.Fatal(err)
		}
		next := c.roster.Next(testNow)
		next.Members = append(next.Members, got.Member(RoleParticipant, time.Time{}))
		if err := next.Sign(c.org.keys); err != nil {
			b.Fatal(err)
		}
		s := NewEpochSecrets(next)
		admin, _ := s.AdminKey()
		list := AccessListFor(next, admin.SigningPublicKey())
		if err := list.Sign(c.admin, admin); err != nil {
			b.Fatal(err)
		}
		bundle, err := NewEpochBundle(next, s, c.org.keys, c.admin)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := bundle.Marshal(); err != nil {
			b.Fatal(err)
		}
	}
}
