package main

import (
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	"parley/crypto"
)

// A benchChannel is a channel built the way relay/helpers_test.go builds
// one, without the client library: a genesis roster and access list
// signed by the founder, then the next roster with every member in it,
// its access list, and the epoch bundle that keys it. Every member opens
// the bundle with its own keys and keeps what a real client keeps for
// the epoch: its sending chain, its pair keys, its tag slot.
type benchChannel struct {
	roster  *crypto.Roster
	genesis *crypto.AccessList
	// admin administers the genesis list, nextAdmin the list after it.
	admin, nextAdmin *crypto.AdminKey
	list             *crypto.AccessList
	bundle           []byte
	members          []*member // members[0] is the organizer
}

// member is one pseudonym of a bench channel.
type member struct {
	ch    *benchChannel
	index int // position among all members of the run (sender index)
	id    *crypto.Identity
	keys  *crypto.ChannelKeys
	kid   crypto.KeyID
	view  *crypto.EpochView // the member's view of the epoch: its pair keys, computed once
	sdk   crypto.SenderDataKey
	chain crypto.ChainKey // first chain key of its own sending chain

	// send is the sending chain. Only the one goroutine sending for
	// this member at a time touches it.
	send crypto.SendChain
	// ring is a set of envelopes sealed ahead, posted over and over by
	// the throughput run so that sealing is not timed there.
	ring [][]byte
}

// bodySize is the size of the text of every sealed benchmark message.
// Envelopes are always crypto.EnvelopeSize bytes whatever the body.
const bodySize = 1024

// newChannels builds count channels of n members each. Identities,
// pseudonyms and bundles are made on all cores.
func newChannels(count, n int, now time.Time) ([]*benchChannel, error) {
	chans := make([]*benchChannel, count)
	errs := make([]error, count)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i := range chans {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			chans[i], errs[i] = newChannel(n, now)
		}()
	}
	wg.Wait()
	index := 0
	for i, c := range chans {
		if errs[i] != nil {
			return nil, errs[i]
		}
		for _, m := range c.members {
			m.index = index
			index++
		}
	}
	return chans, nil
}

func newChannel(n int, now time.Time) (*benchChannel, error) {
	policy := crypto.PolicyHard
	if n > policy.MemberCap() {
		policy = crypto.PolicySoft
	}
	if n > policy.MemberCap() {
		return nil, fmt.Errorf("channel of %d members: the largest policy allows %d", n, policy.MemberCap())
	}
	c := &benchChannel{}
	for range n {
		id, err := crypto.GenerateIdentity()
		if err != nil {
			return nil, err
		}
		keys, err := crypto.GenerateChannelKeys()
		if err != nil {
			return nil, err
		}
		c.members = append(c.members, &member{ch: c, id: id, keys: keys, kid: keys.ID()})
	}
	org := c.members[0]
	genesis, err := crypto.NewGenesisRoster(org.id, "Member 0", org.keys, policy, now)
	if err != nil {
		return nil, err
	}
	genesisSecrets := crypto.NewEpochSecrets(genesis)
	genesisAdmin, _ := genesisSecrets.AdminKey()
	c.genesis = crypto.AccessListFor(genesis, genesisAdmin.SigningPublicKey())
	if err := c.genesis.Sign(genesisAdmin, genesisAdmin); err != nil {
		return nil, err
	}
	c.admin = genesisAdmin
	next := genesis.Next(now)
	for i, m := range c.members[1:] {
		pub := m.keys.Public()
		next.Members = append(next.Members, crypto.Member{
			Identity: *m.id.Public(), Name: fmt.Sprintf("Member %d", i+1), Role: crypto.RoleParticipant,
			Keys: *pub, Binding: m.id.Bind(next.Channel, pub), KEMSig: m.keys.SignKEM(next.Channel),
		})
	}
	if err := next.Sign(org.keys); err != nil {
		return nil, err
	}
	if err := next.VerifyNext(genesis); err != nil {
		return nil, err
	}
	c.roster = next
	secrets := crypto.NewEpochSecrets(next)
	admin, _ := secrets.AdminKey()
	c.list = crypto.AccessListFor(next, admin.SigningPublicKey())
	if err := c.list.Sign(genesisAdmin, admin); err != nil {
		return nil, err
	}
	c.nextAdmin = admin
	b, err := crypto.NewEpochBundle(next, secrets, org.keys, genesisAdmin)
	if err != nil {
		return nil, err
	}
	if c.bundle, err = b.Marshal(); err != nil {
		return nil, err
	}
	for _, m := range c.members {
		// Each member opens its own wrap, as a client does on sync.
		parsed, err := crypto.ParseEpochBundle(c.bundle)
		if err != nil {
			return nil, err
		}
		secrets, r, err := parsed.Open(m.keys, genesisAdmin.SigningPublicKey(), genesis.IsOrganizer)
		if err != nil {
			return nil, fmt.Errorf("member opening the epoch: %w", err)
		}
		if m.chain, err = secrets.SenderChain(crypto.Talks, m.kid); err != nil {
			return nil, err
		}
		m.send = crypto.SendChain{Key: m.chain}
		if r.Slot(crypto.Talks, m.kid) < 0 {
			return nil, fmt.Errorf("member has no tag slot")
		}
		m.sdk = secrets.SenderDataKey()
		m.view = crypto.NewEpochView(r, m.keys, m.sdk)
	}
	return c, nil
}

// body is the text every benchmark message carries.
var body = func() []byte {
	b := make([]byte, bodySize)
	rand.Read(b)
	return b
}()

// seal advances m's sending chain and seals the next message, through
// the client's send sequence (crypto.EpochView.Seal).
func (m *member) seal() ([]byte, uint32, error) {
	n := m.send.Next
	env, err := m.view.Seal(&m.send, crypto.Talks, crypto.Message{Type: 1, Body: body})
	return env, n, err
}

// sealRing seals k envelopes ahead for the throughput run.
func (m *member) sealRing(k int) error {
	m.ring = m.ring[:0]
	for range k {
		env, _, err := m.seal()
		if err != nil {
			return err
		}
		m.ring = append(m.ring, env)
	}
	return nil
}

// opener is what one member keeps to open the messages of the others:
// a receiving chain per sender, started where that sender's chain is now.
type opener struct {
	m      *member
	chains map[crypto.KeyID]*crypto.ReceiveChain
}

func newOpener(m *member) *opener {
	o := &opener{m: m, chains: map[crypto.KeyID]*crypto.ReceiveChain{}}
	for _, s := range m.ch.members {
		if s == m {
			continue
		}
		o.chains[s.kid] = &crypto.ReceiveChain{Key: s.send.Key, Next: s.send.Next}
	}
	return o
}

// open checks and decrypts env as a client does, through the one
// receive sequence (crypto.EpochView.Open): membership, chain lookup,
// AEAD and tag, and only then the chain moves on.
func (o *opener) open(env []byte) error {
	in, err := o.m.view.Incoming(env)
	if err != nil {
		return err
	}
	_, err = o.m.view.OpenIncoming(o.chains[in.Header().Sender], in)
	return err
}
