package client

import (
	"bytes"
	"errors"
	"sync"

	"parley/crypto"
)

// What a home derives from an epoch's stored state for every message it
// seals or opens there — the parsed roster, its hash, the parsed channel
// keys and the crypto.EpochView with its pair keys (one X25519 per
// reader) — depends only on the stored bytes, which never change for an
// epoch. The Client keeps it in memory, so that it is derived once per
// epoch and not for every message (docs/benchmarks.md, "Seal and open"). Every
// hit is checked against the stored bytes themselves, so a changed
// state (another process, a restored home) is never served a stale
// view. Nothing here is written anywhere; erasing a channel empties it.

// epochCtx is one epoch's derived state, immutable once built and
// shared by the goroutines of one Client: its roster and view are only
// read.
type epochCtx struct {
	rosterRaw []byte // e.Roster
	keysRaw   []byte // the channel keys it was built with (st.Keys)
	sdk       crypto.SenderDataKey
	roster    *crypto.Roster
	hash      [32]byte // roster.Hash()
	keys      *crypto.ChannelKeys
	view      *crypto.EpochView
	self      *crypto.Member // nil when the keys are not in the roster
	// ids and byID map the roster's members to their key ids and back
	// (a key id is a hash of the member's signing key).
	ids  map[*crypto.Member]crypto.KeyID
	byID map[crypto.KeyID]*crypto.Member
}

func newEpochCtx(r *crypto.Roster, keys *crypto.ChannelKeys, sdk crypto.SenderDataKey, rosterRaw, keysRaw []byte) *epochCtx {
	x := &epochCtx{rosterRaw: bytes.Clone(rosterRaw), keysRaw: bytes.Clone(keysRaw), sdk: sdk, roster: r, hash: r.Hash(), keys: keys,
		view: crypto.NewEpochView(r, keys, sdk), ids: map[*crypto.Member]crypto.KeyID{}, byID: map[crypto.KeyID]*crypto.Member{}}
	for i := range r.Members {
		m := &r.Members[i]
		id := m.ID()
		x.ids[m] = id
		if _, dup := x.byID[id]; !dup {
			x.byID[id] = m // the first, as Roster.Member finds it
		}
	}
	x.self = x.member(keys.ID())
	return x
}

// id is m.ID(), looked up for the members of x's roster.
func (x *epochCtx) id(m *crypto.Member) crypto.KeyID {
	if id, ok := x.ids[m]; ok {
		return id
	}
	return m.ID()
}

// member is x.roster.Member(id).
func (x *epochCtx) member(id crypto.KeyID) *crypto.Member { return x.byID[id] }

// slot is x.roster.Slot(c, id).
func (x *epochCtx) slot(c crypto.Compartment, id crypto.KeyID) int {
	side := ""
	if m := x.member(id); m != nil {
		side = m.Side
	}
	for i, m := range x.roster.Readers(c, side) {
		if x.id(m) == id {
			return i
		}
	}
	return -1
}

type epochCacheKey struct {
	channel string
	epoch   uint64
}

// epochCache is the Client's cache of epochCtx, and of each channel's
// parsed keys (a KEM key expanded from its seed: an ML-KEM key
// generation). It holds one set of keys per channel, the one its state
// holds now: keys replaced by a key update go at the next use, and so do
// the views built with them.
type epochCache struct {
	mu     sync.Mutex
	epochs map[epochCacheKey]*epochCtx
	keys   map[string]cachedKeys // by channel
}

type cachedKeys struct {
	raw  []byte
	keys *crypto.ChannelKeys
}

// maxCachedEpochs bounds the cache: a home keeps two epochs per channel.
const maxCachedEpochs = 64

// forget empties the cache (a channel was erased).
func (ec *epochCache) forget() {
	ec.mu.Lock()
	defer ec.mu.Unlock()
	ec.epochs, ec.keys = nil, nil
}

// channelKeys is st.keys(), parsed once for as long as st.Keys stays.
func (ec *epochCache) channelKeys(st *channelState) (*crypto.ChannelKeys, error) {
	ec.mu.Lock()
	k, ok := ec.keys[string(st.Channel)]
	ec.mu.Unlock()
	if ok && bytes.Equal(k.raw, st.Keys) {
		return k.keys, nil
	}
	keys, err := st.keys()
	if err != nil {
		return nil, err
	}
	ec.mu.Lock()
	if ec.keys == nil || len(ec.keys) >= maxCachedEpochs {
		ec.keys = map[string]cachedKeys{}
	}
	ec.keys[string(st.Channel)] = cachedKeys{raw: bytes.Clone(st.Keys), keys: keys}
	ec.mu.Unlock()
	return keys, nil
}

// epoch returns the derived state of epoch e of st, for st's current
// channel keys.
func (ec *epochCache) epoch(st *channelState, e *epochState) (*epochCtx, error) {
	key := epochCacheKey{string(st.Channel), e.Epoch}
	sdk := crypto.SenderDataKey(e.SenderData)
	ec.mu.Lock()
	x := ec.epochs[key]
	ec.mu.Unlock()
	if x != nil && x.sdk == sdk && bytes.Equal(x.keysRaw, st.Keys) && bytes.Equal(x.rosterRaw, e.Roster) {
		return x, nil
	}
	r, err := crypto.ParseRoster(e.Roster)
	if err != nil {
		return nil, err
	}
	keys, err := ec.channelKeys(st)
	if err != nil {
		return nil, err
	}
	x = newEpochCtx(r, keys, sdk, e.Roster, st.Keys)
	ec.mu.Lock()
	if ec.epochs == nil || len(ec.epochs) >= maxCachedEpochs {
		ec.epochs = map[epochCacheKey]*epochCtx{}
	}
	// Epochs the home no longer keeps go, with their pair keys, and so
	// do views built with keys the channel no longer uses.
	for k, old := range ec.epochs {
		if k.channel == key.channel && (st.epoch(k.epoch) == nil || !bytes.Equal(old.keysRaw, st.Keys)) {
			delete(ec.epochs, k)
		}
	}
	ec.epochs[key] = x
	ec.mu.Unlock()
	return x, nil
}

// currentEpoch is st.self(0) for the message paths: the current epoch's
// derived state and this member's entry in its roster, from the cache.
func (c *Client) currentEpoch(st *channelState) (*epochCtx, *crypto.Member, error) {
	cur := st.current()
	if st.Status != statusActive || cur == nil || !bytes.Equal(cur.Roster, st.Roster) {
		// Not a member that can seal now: st.self says why.
		if _, _, _, err := st.self(0); err != nil {
			return nil, nil, err
		}
		return nil, nil, errors.New("this home holds no current epoch of the channel")
	}
	x, err := c.cache.epoch(st, cur)
	if err != nil {
		return nil, nil, err
	}
	if x.self == nil {
		return nil, nil, errors.New("you are not in this channel's roster")
	}
	return x, x.self, nil
}
