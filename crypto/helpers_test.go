package crypto

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"testing"
	"time"
)

// testNow is the fixed clock of the tests.
var testNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// person is one test member: identity, pseudonym, and the state a client
// would keep.
type person struct {
	name    string
	role    Role
	id      *Identity
	keys    *ChannelKeys
	secrets *EpochSecrets
	roster  *Roster
	send    map[Compartment]*SendChain
	recv    map[[2]any]*ReceiveChain
}

// channel drives a whole channel the way clients would, for tests.
type channel struct {
	t      testing.TB
	org    *person
	people []*person
	roster *Roster
	// admin is the current epoch's administration key, which signs the
	// next bundle (nil before the first).
	admin *AdminKey
}

func newPerson(t testing.TB, name string, role Role) *person {
	t.Helper()
	id, err := GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	k, err := GenerateChannelKeys()
	if err != nil {
		t.Fatal(err)
	}
	return &person{name: name, role: role, id: id, keys: k}
}

func newChannel(t testing.TB, policy Policy) *channel {
	t.Helper()
	org := newPerson(t, "Organizer", RoleOrganizer)
	r, err := NewGenesisRoster(org.id, org.name, org.keys, policy, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.VerifyGenesis(); err != nil {
		t.Fatal(err)
	}
	c := &channel{t: t, org: org, people: []*person{org}, roster: r}
	c.publish(r)
	return c
}

// publish makes a bundle for r and has every member in r open it and
// verify the roster against what it holds.
func (c *channel) publish(r *Roster) *EpochBundle {
	c.t.Helper()
	s := NewEpochSecrets(r)
	b, err := NewEpochBundle(r, s, c.org.keys, c.admin)
	if err != nil {
		c.t.Fatal(err)
	}
	prev := c.adminPublic()
	c.admin, _ = s.AdminKey()
	raw, err := b.Marshal()
	if err != nil {
		c.t.Fatal(err)
	}
	parsed, err := ParseEpochBundle(raw)
	if err != nil {
		c.t.Fatal(err)
	}
	c.roster = r
	for _, p := range c.people {
		if r.Member(p.keys.ID()) == nil {
			continue
		}
		s, got, err := parsed.Open(p.keys, prev, p.authority(r))
		if err != nil {
			c.t.Fatalf("%s opening epoch %d: %v", p.name, r.Version, err)
		}
		if p.roster == nil {
			if err := got.VerifyGenesis(); err != nil && got.Version == 1 {
				c.t.Fatal(err)
			}
		} else if err := got.VerifyNext(p.roster); err != nil {
			c.t.Fatalf("%s verifying roster %d: %v", p.name, got.Version, err)
		}
		p.secrets, p.roster = s, got
		p.send = map[Compartment]*SendChain{}
		p.recv = map[[2]any]*ReceiveChain{}
	}
	return b
}

func (c *channel) invite(role Role) *Invite {
	c.t.Helper()
	inv, err := NewInvite("wss://127.0.0.1:4433/", [32]byte{1}, c.roster.Channel, c.org.keys.ID(), role, testNow.Add(time.Hour), "Oslo back channel")
	if err != nil {
		c.t.Fatal(err)
	}
	return inv
}

// admit runs invite, join request and admission for a new person.
func (c *channel) admit(name string, role Role) *person {
	c.t.Helper()
	return c.admitToSide(name, role, "")
}

// admitToSide is admit for a member of side.
func (c *channel) admitToSide(name string, role Role, side string) *person {
	c.t.Helper()
	p := newPerson(c.t, name, role)
	inv := c.invite(role)
	code, err := ParseInvite(inv.String())
	if err != nil {
		c.t.Fatal(err)
	}
	req, err := NewJoinRequest(code, p.id, name, p.keys)
	if err != nil {
		c.t.Fatal(err)
	}
	sealed, err := code.SealJoinRequest(req)
	if err != nil {
		c.t.Fatal(err)
	}
	got, err := inv.OpenJoinRequest(sealed)
	if err != nil {
		c.t.Fatal(err)
	}
	next := c.roster.Next(testNow)
	m := got.Member(role, time.Time{})
	m.Side = side
	next.Members = append(next.Members, m)
	if err := next.Sign(c.org.keys); err != nil {
		c.t.Fatal(err)
	}
	c.people = append(c.people, p)
	// The newcomer checks its first roster against the invite.
	p.roster = nil
	c.publishFor(next, p, inv)
	return p
}

// publishFor publishes r, the newcomer p checking it against its invite.
func (c *channel) publishFor(r *Roster, p *person, inv *Invite) *EpochBundle {
	c.t.Helper()
	s := NewEpochSecrets(r)
	b, err := NewEpochBundle(r, s, c.org.keys, c.admin)
	if err != nil {
		c.t.Fatal(err)
	}
	prev := c.adminPublic()
	c.admin, _ = s.AdminKey()
	ps, pr, err := b.Open(p.keys, nil, inv.IsOrganizer)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := pr.VerifyInvited(inv, p.keys.ID()); err != nil {
		c.t.Fatal(err)
	}
	p.secrets, p.roster = ps, pr
	p.send = map[Compartment]*SendChain{}
	p.recv = map[[2]any]*ReceiveChain{}
	others := c.people[:len(c.people)-1]
	for _, o := range others {
		os, or, err := b.Open(o.keys, prev, o.roster.IsOrganizer)
		if err != nil {
			c.t.Fatal(err)
		}
		if err := or.VerifyNext(o.roster); err != nil {
			c.t.Fatal(err)
		}
		o.secrets, o.roster = os, or
		o.send = map[Compartment]*SendChain{}
		o.recv = map[[2]any]*ReceiveChain{}
	}
	c.roster = r
	return b
}

// adminPublic is the current administration key's public half, nil
// before the first epoch.
func (c *channel) adminPublic() ed25519.PublicKey {
	if c.admin == nil {
		return nil
	}
	return c.admin.SigningPublicKey()
}

// remove issues the next roster without p.
func (c *channel) remove(p *person) *EpochBundle {
	c.t.Helper()
	next := c.roster.Next(testNow)
	if !next.Remove(p.keys.ID()) {
		c.t.Fatalf("%s not in roster", p.name)
	}
	if err := next.Sign(c.org.keys); err != nil {
		c.t.Fatal(err)
	}
	return c.publish(next)
}

// seal makes a message from p in compartment comp, through the one
// send sequence (EpochView.Seal) the client uses.
func (p *person) seal(t testing.TB, comp Compartment, typ byte, body []byte) ([]byte, error) {
	t.Helper()
	ch := p.send[comp]
	if ch == nil {
		k, err := p.secrets.SenderChain(comp, p.keys.ID())
		if err != nil {
			return nil, err
		}
		ch = &SendChain{Key: k}
		p.send[comp] = ch
	}
	return NewEpochView(p.roster, p.keys, p.secrets.SenderDataKey()).Seal(ch, comp, Message{Type: typ, Body: body})
}

// open receives env as the client does: the chain of the header's sender
// and compartment (none if p holds no secret there), then
// EpochView.Open, which makes every check and moves the chain only on
// success.
func (p *person) open(t testing.TB, env []byte) (Message, int, error) {
	t.Helper()
	v := NewEpochView(p.roster, p.keys, p.secrets.SenderDataKey())
	h, err := v.Header(env)
	if err != nil {
		return Message{}, 0, err
	}
	key := [2]any{h.Compartment, h.Sender}
	ch := p.recv[key]
	if ch == nil {
		if k, err := p.secrets.SenderChain(h.Compartment, h.Sender); err == nil {
			ch = &ReceiveChain{Key: k}
		}
	}
	o, err := v.Open(ch, env)
	if err != nil {
		return Message{}, 0, err
	}
	p.recv[key] = ch
	return o.Message, o.Gap, nil
}

// openBody opens env below the view, as the tests that make or alter
// envelopes by hand do: its header with sdk, then its body with mk.
func openBody(channel ChannelID, sdk SenderDataKey, env []byte, mk MessageKey, slot int, pair PairKey) (Message, error) {
	h, err := sdk.OpenHeader(channel, env)
	if err != nil {
		return Message{}, err
	}
	return openMessage(channel, h, env, mk, slot, pair)
}

func mustOpen(t testing.TB, p *person, env []byte, want string) {
	t.Helper()
	m, _, err := p.open(t, env)
	if err != nil {
		t.Fatalf("%s: %v", p.name, err)
	}
	if !bytes.Equal(m.Body, []byte(want)) {
		t.Fatalf("%s read %q, want %q", p.name, m.Body, want)
	}
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// authority is who p accepts epoch bundles from: organizers of the roster
// it holds, or, founding the channel, the founder of r.
func (p *person) authority(r *Roster) func(ed25519.PublicKey) bool {
	if p.roster != nil {
		return p.roster.IsOrganizer
	}
	return func(pub ed25519.PublicKey) bool { return bytes.Equal(pub, r.Founder) }
}
