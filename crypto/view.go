package crypto

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"sync"
)

// An EpochView is one member's view of one epoch: the epoch's verified
// roster and the member's channel keys, with the pairwise keys it has
// needed so far (computed once per view, not per message). Seal and Open
// are the whole send and receive sequence of docs/protocol.md §13.1: a
// caller cannot reorder the checks, skip the membership ones, or move a
// chain on a message that failed. A view is safe for concurrent use;
// the chains passed to it are not.
type EpochView struct {
	roster     *Roster
	keys       *ChannelKeys
	senderData SenderDataKey
	// sd is senderData's AEAD, made once for the view: it seals and
	// opens the sender data of every envelope.
	sd     cipherAEAD
	self   *Member
	selfID KeyID
	// members indexes the roster by key id; readers and slot are each
	// compartment's readers and our tag slot among them (-1: none).
	members map[KeyID]*Member
	readers map[Compartment][]*Member
	slot    map[Compartment]int

	mu    sync.Mutex
	pairs map[KeyID]PairKey
	// macs holds each pair key's HMAC states (the padded key blocks
	// hashed once, not for every tag).
	macs map[KeyID]*macKey
	// sealPairs holds, once computed, the pair keys with each
	// compartment's readers in slot order, and sealMACs their MAC
	// states: what every seal needs.
	sealPairs map[Compartment][]PairKey
	sealMACs  map[Compartment][]*macKey
}

// NewEpochView returns keys' view of the epoch of roster r, which the
// caller has verified (Roster.VerifyNext, VerifyInvited or
// VerifyGenesis, or the roster stored after such a check), with the
// epoch's sender-data key. The roster's lookups are made here, once, not
// for every message.
func NewEpochView(r *Roster, keys *ChannelKeys, sd SenderDataKey) *EpochView {
	v := &EpochView{roster: r, keys: keys, senderData: sd, members: map[KeyID]*Member{}, readers: map[Compartment][]*Member{},
		slot: map[Compartment]int{}, pairs: map[KeyID]PairKey{}, sealPairs: map[Compartment][]PairKey{}, sd: sd.aead(),
		macs: map[KeyID]*macKey{}, sealMACs: map[Compartment][]*macKey{}}
	self := keys.ID()
	v.selfID = self
	for i := range r.Members {
		m := &r.Members[i]
		id := m.ID()
		v.members[id] = m
		if id == self {
			v.self = m
		}
	}
	// The Side readers are those of this member's own side: the only
	// side whose messages it can seal or open.
	side := ""
	if v.self != nil {
		side = v.self.Side
	}
	for _, c := range []Compartment{Talks, Briefings, Side} {
		v.slot[c] = -1
		for i := range r.Members {
			m := &r.Members[i]
			if !m.Reads(c, side) {
				continue
			}
			if m == v.self {
				v.slot[c] = len(v.readers[c])
			}
			v.readers[c] = append(v.readers[c], m)
		}
	}
	return v
}

func (v *EpochView) pair(id KeyID, m *Member) (PairKey, *macKey, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if p, ok := v.pairs[id]; ok {
		return p, v.macs[id], nil
	}
	p, err := v.keys.pairKey(v.roster.Channel, &m.Keys)
	if err != nil {
		return PairKey{}, nil, fmt.Errorf("pair key with %s: %w", m.Name, err)
	}
	mac := newMACKey(p)
	v.pairs[id], v.macs[id] = p, mac
	return p, mac, nil
}

// pairsFor returns the pair keys with the readers of c, in slot order.
func (v *EpochView) pairsFor(c Compartment) ([]PairKey, error) {
	pairs, _, err := v.sealKeys(c)
	return pairs, err
}

// sealKeys returns the pair keys with the readers of c, in slot order,
// and their MAC states.
func (v *EpochView) sealKeys(c Compartment) ([]PairKey, []*macKey, error) {
	v.mu.Lock()
	pairs, ok := v.sealPairs[c]
	macs := v.sealMACs[c]
	v.mu.Unlock()
	if ok {
		return pairs, macs, nil
	}
	readers := v.readers[c]
	pairs = make([]PairKey, len(readers))
	macs = make([]*macKey, len(readers))
	for i, r := range readers {
		p, mac, err := v.pair(r.ID(), r)
		if err != nil {
			return nil, nil, err
		}
		pairs[i], macs[i] = p, mac
	}
	v.mu.Lock()
	v.sealPairs[c], v.sealMACs[c] = pairs, macs
	v.mu.Unlock()
	return pairs, macs, nil
}

// Seal seals m as the view's member in compartment c with the next link
// of chain, which it moves on. The member must be in the roster with a
// role that posts in c; the report's own slot should hold chain.Next.
func (v *EpochView) Seal(chain *SendChain, c Compartment, m Message) ([]byte, error) {
	self := v.self
	if self == nil {
		return nil, fmt.Errorf("sealing: %w", ErrNotMember)
	}
	if !self.Posts(c) {
		return nil, fmt.Errorf("a %s posting in %s: %w", self.Role, c, ErrNoCompartment)
	}
	pairs, macs, err := v.sealKeys(c)
	if err != nil {
		return nil, err
	}
	next := *chain
	n, mk, err := next.advance()
	if err != nil {
		return nil, err
	}
	env, err := sealMessageWith(rand.Reader, v.roster.Channel, Header{Compartment: c, Epoch: v.roster.Version, Sender: v.selfID, Counter: n}, v.sd, mk, pairs, macs, m)
	if err != nil {
		return nil, err
	}
	*chain = next
	return env, nil
}

// Opened is a message that passed every receiver check.
type Opened struct {
	Header  Header
	Sender  *Member
	Message Message
	// Gap is how many counters before this one have not arrived (shown
	// as missing until they do); Late is set when this message fills an
	// earlier gap.
	Gap  int
	Late bool
}

// Header opens the header of env, which must name the view's epoch:
// what the receiver needs to choose the chain to pass to Open.
func (v *EpochView) Header(env []byte) (Header, error) {
	in, err := v.Incoming(env)
	return in.h, err
}

// An Incoming is an envelope whose header a view has opened (Incoming):
// the receiver chooses the chain from its Header, then passes both to
// OpenIncoming, which does not open the header a second time.
type Incoming struct {
	h   Header
	env []byte
	// header is env's header as it was opened.
	header [HeaderSize]byte
	v      *EpochView
}

// Header is the envelope's header, its sender data opened.
func (in Incoming) Header() Header { return in.h }

// Incoming opens the header of env, which must name the view's epoch,
// for OpenIncoming. Header and Open, together, are Incoming and
// OpenIncoming with the header opened twice.
func (v *EpochView) Incoming(env []byte) (Incoming, error) {
	ch, err := ParseClearHeader(env)
	if err != nil {
		return Incoming{}, err
	}
	if ch.Epoch != v.roster.Version {
		return Incoming{}, fmt.Errorf("message of epoch %d, view of %d: %w", ch.Epoch, v.roster.Version, ErrWrongEpoch)
	}
	sc := getScratch()
	h, err := openHeader(v.roster.Channel, v.sd, env, sc)
	putScratch(sc, 0)
	if err != nil {
		return Incoming{}, err
	}
	in := Incoming{h: h, env: env, v: v}
	copy(in.header[:], env)
	return in, nil
}

// Open runs the receiver checks of §13.1 on env, whose header must name
// the view's epoch, with chain the receiver's chain for the header's
// sender and compartment (nil when it holds none). Only when every check
// has passed does it accept the counter on chain; on any error chain is
// unchanged.
func (v *EpochView) Open(chain *ReceiveChain, env []byte) (*Opened, error) {
	in, err := v.Incoming(env)
	if err != nil {
		return nil, err
	}
	return v.OpenIncoming(chain, in)
}

// OpenIncoming is Open of an envelope whose header this view opened
// with Incoming. An envelope whose header changed since fails with
// ErrDecrypt (the rest is authenticated by the body's AEAD, as in Open).
func (v *EpochView) OpenIncoming(chain *ReceiveChain, in Incoming) (*Opened, error) {
	if in.v != v {
		return nil, fmt.Errorf("an envelope whose header another view opened: %w", ErrWrongEpoch)
	}
	if len(in.env) != EnvelopeSize || !bytes.Equal(in.header[:], in.env[:HeaderSize]) {
		return nil, fmt.Errorf("an envelope whose header changed after it was opened: %w", ErrDecrypt)
	}
	h, env := in.h, in.env
	sender := v.members[h.Sender]
	if sender == nil {
		return nil, fmt.Errorf("sender %s: %w", h.Sender, ErrNotMember)
	}
	if !sender.Posts(h.Compartment) {
		return nil, fmt.Errorf("%s, a %s, in %s: %w", sender.Name, sender.Role, h.Compartment, ErrNotMember)
	}
	if h.Compartment == Side && (v.self == nil || sender.Side != v.self.Side) {
		// Another side's briefings: this member holds no key to them.
		return nil, fmt.Errorf("%s of side %q: %w", h.Compartment, sender.Side, ErrNoCompartment)
	}
	if chain == nil {
		return nil, fmt.Errorf("%s: %w", h.Compartment, ErrNoCompartment)
	}
	mk, err := chain.lookup(h.Counter)
	if err != nil {
		return nil, err
	}
	pair, mac, err := v.pair(h.Sender, sender)
	if err != nil {
		return nil, err
	}
	m, err := openMessageWith(v.roster.Channel, h, env, mk, v.slot[h.Compartment], pair, mac)
	if err != nil {
		return nil, err
	}
	late := h.Counter < chain.Next
	gap := chain.accept(h.Counter)
	return &Opened{Header: h, Sender: sender, Message: m, Gap: gap, Late: late}, nil
}
