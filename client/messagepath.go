package client

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"parley/crypto"
	"parley/internal/wire"
)

// MessagePath is the per-message part of the client's send and receive
// paths, for two homes of one channel held in memory: what a home does
// between reading a channel's state and writing it back when it seals a
// queued message (sealEnvelope, as prepareToPost calls it) and when it
// takes in a fetched one (process, as take calls it: the epoch's view,
// the header, the chain, EpochView.OpenIncoming, the report's checks,
// the body). It leaves out the store (SQLite, the sealed state row), the
// relay and the network. cmd/parley-bench and BenchmarkClientSealOpen
// time it against the crypto core and the raw AEAD.
type MessagePath struct {
	// c is the sender's Client, r the reader's.
	c, r     *Client
	from, to *channelRow
	relay    *relayState
	// sealed holds each home's state row as stored (SealOpen, stored).
	sealed map[*channelRow][]byte
	seq    uint64
	now    time.Time
}

// NewMessagePath makes a channel of n members (an organizer and n-1
// participants, keys and roster made as the crypto package's tests make
// them) and the state of two of its homes, member 1 (the sender) and
// member n-1 (the reader), each entering the epoch with the secrets it
// opened from its own wrap, as a sync does.
func NewMessagePath(n int) (*MessagePath, error) {
	if n < 3 {
		return nil, errors.New("a message path needs 3 members or more")
	}
	now := time.Now().UTC()
	policy := crypto.PolicyHard
	if n > policy.MemberCap() {
		policy = crypto.PolicySoft
	}
	ids := make([]*crypto.Identity, n)
	keys := make([]*crypto.ChannelKeys, n)
	for i := range n {
		var err error
		if ids[i], err = crypto.GenerateIdentity(); err != nil {
			return nil, err
		}
		if keys[i], err = crypto.GenerateChannelKeys(); err != nil {
			return nil, err
		}
	}
	genesis, err := crypto.NewGenesisRoster(ids[0], "Member 0", keys[0], policy, now)
	if err != nil {
		return nil, err
	}
	next := genesis.Next(now)
	for i := 1; i < n; i++ {
		pub := keys[i].Public()
		next.Members = append(next.Members, crypto.Member{Identity: *ids[i].Public(), Name: fmt.Sprintf("Member %d", i), Role: crypto.RoleParticipant,
			Keys: *pub, Binding: ids[i].Bind(next.Channel, pub), KEMSig: keys[i].SignKEM(next.Channel)})
	}
	if err := next.Sign(keys[0]); err != nil {
		return nil, err
	}
	if err := next.VerifyNext(genesis); err != nil {
		return nil, err
	}
	bundle, err := crypto.NewEpochBundle(next, crypto.NewEpochSecrets(next), keys[0], nil)
	if err != nil {
		return nil, err
	}
	raw, err := bundle.Marshal()
	if err != nil {
		return nil, err
	}
	home := func(k *crypto.ChannelKeys, id int64) (*channelRow, error) {
		b, err := crypto.ParseEpochBundle(raw)
		if err != nil {
			return nil, err
		}
		secrets, r, err := b.Open(k, nil, genesis.IsOrganizer)
		if err != nil {
			return nil, err
		}
		if err := r.VerifyNext(genesis); err != nil {
			return nil, err
		}
		kr, _ := k.MarshalBinary()
		st := &channelState{Name: "bench", Channel: r.Channel[:], Keys: kr, Relays: []*relayState{{ID: 1}}, NextRelayID: 2, Synced: now}
		if err := st.enterEpoch(r, secrets, k.ID(), 1); err != nil {
			return nil, err
		}
		return &channelRow{id: id, st: st}, nil
	}
	p := &MessagePath{c: &Client{Now: time.Now, seal: &sealer{}}, r: &Client{Now: time.Now, seal: &sealer{}}, relay: &relayState{ID: 1}, now: now, sealed: map[*channelRow][]byte{}}
	rand.Read(p.c.seal.key[:])
	rand.Read(p.r.seal.key[:])
	if p.from, err = home(keys[1], 1); err != nil {
		return nil, err
	}
	if p.to, err = home(keys[n-1], 2); err != nil {
		return nil, err
	}
	return p, nil
}

// SealOpen seals text as a talks message from the sender's home and
// takes it in at the reader's, checking that it arrived as sent. With
// stored, each home's state also goes through the sealed JSON row it is
// kept in, read before and written after, as each of their transactions
// does (one per message: the sender's prepareToPost, and a reader whose
// fetch brings one message).
func (p *MessagePath) SealOpen(text string, stored bool) error {
	if stored {
		if err := p.reload(p.from); err != nil {
			return err
		}
	}
	env, _, err := p.c.sealEnvelope(p.from, crypto.Talks, typeText, []byte(text), p.now)
	if err != nil {
		return err
	}
	if stored {
		if err := p.save(p.from); err != nil {
			return err
		}
		if err := p.reload(p.to); err != nil {
			return err
		}
	}
	p.seq++
	p.to.st.Arrived++
	es, err := p.r.process(nil, p.to, p.relay, wire.Stored{Seq: p.seq, Kind: wire.KindMessage, Payload: env})
	if err != nil {
		return err
	}
	if len(es) != 1 || es[0].Kind != KindMessage || es[0].Text != text {
		return fmt.Errorf("message path: the reader got %+v", es)
	}
	if stored {
		return p.save(p.to)
	}
	return nil
}

// home is the Client of row's home.
func (p *MessagePath) home(row *channelRow) *Client {
	if row == p.from {
		return p.c
	}
	return p.r
}

// The state row of a home, sealed as saveChannel seals it; reload reads
// it back as loadChannel does.
func (p *MessagePath) save(row *channelRow) error {
	plain, err := json.Marshal(row.st)
	if err != nil {
		return err
	}
	p.sealed[row] = p.home(row).seal.seal(fmt.Sprintf("channel/%d", row.id), plain)
	return nil
}

func (p *MessagePath) reload(row *channelRow) error {
	if p.sealed[row] == nil {
		if err := p.save(row); err != nil {
			return err
		}
	}
	got, err := p.home(row).decodeChannel(row.id, p.sealed[row])
	if err != nil {
		return err
	}
	row.st = got.st
	return nil
}
