package relay

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"time"

	"github.com/gorilla/websocket"

	"parley/crypto"
	"parley/internal/noroom"
	"parley/internal/wire"
)

// opTimeout bounds one request's store work.
const opTimeout = 30 * time.Second

// maxFetchBytes bounds the payload of one Frames reply.
const maxFetchBytes = 1 << 20

// maxBundle bounds a stored epoch bundle. The largest honest one, for
// crypto.MaxMembers members, is about 250 KiB; the bound keeps every
// Fetch reply under wire.MaxFrame.
const maxBundle = 512 << 10

// maxInviteLife caps how long a registered invite stays usable.
const maxInviteLife = 7 * 24 * time.Hour

// relayError is a failure to report to the client.
type relayError struct {
	code wire.Code
	msg  string
}

func fail(code wire.Code, msg string) *relayError {
	if msg == "" {
		msg = code.String()
	}
	return &relayError{code, msg}
}

// handle serves one decoded frame and returns the reply.
func (c *conn) handle(f wire.Frame) []byte {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	reply, rerr := c.dispatch(ctx, f)
	if rerr != nil {
		if rerr.code == wire.CodeInternal {
			c.s.stats.errors.Add(1)
		}
		return wire.ErrorBody{Code: rerr.code, Message: rerr.msg}.Encode(f.ID)
	}
	return reply
}

func (c *conn) dispatch(ctx context.Context, f wire.Frame) ([]byte, *relayError) {
	// Operations open to unauthenticated connections.
	switch f.Type {
	case wire.TAuth:
		return c.auth(ctx, f)
	case wire.TCreate:
		return c.create(ctx, f)
	case wire.TJoin:
		return c.join(ctx, f)
	case wire.TTombstone:
		return c.tombstone(ctx, f)
	}
	if !c.authed {
		return nil, fail(wire.CodeUnauthorized, "")
	}
	c.s.mu.Lock()
	inForce := c.state.inForce(c, c.s.cfg.Now())
	c.s.mu.Unlock()
	if !inForce {
		c.revoke()
		return nil, fail(wire.CodeRevoked, "")
	}
	switch f.Type {
	case wire.TPost:
		return c.post(ctx, f)
	case wire.TGetAccess:
		if wire.ParseEmpty(f.Body) != nil {
			return nil, fail(wire.CodeMalformed, "")
		}
		c.s.mu.Lock()
		raw := c.state.raw
		c.s.mu.Unlock()
		return wire.EncodeBlob(wire.TAccessList, f.ID, raw), nil
	}
	if !c.admin {
		// A member fetches; everything else is the administration
		// key's, which no member key is.
		if f.Type == wire.TFetch {
			return c.fetch(ctx, f)
		}
		return nil, fail(wire.CodeForbidden, "")
	}
	switch f.Type {
	case wire.TSetAccess:
		return c.setAccess(ctx, f)
	case wire.TInvite:
		return c.invite(ctx, f)
	case wire.TJoins:
		if wire.ParseEmpty(f.Body) != nil {
			return nil, fail(wire.CodeMalformed, "")
		}
		joins, err := c.s.cfg.Store.Joins(ctx, c.ch)
		if err != nil {
			return nil, c.storeErr(err)
		}
		return wire.EncodeJoinList(f.ID, joins), nil
	case wire.TDropJoins:
		ids, err := wire.ParseIDs(f.Body)
		if err != nil {
			return nil, fail(wire.CodeMalformed, "")
		}
		if err := c.s.cfg.Store.DropJoins(ctx, c.ch, ids); err != nil {
			return nil, c.storeErr(err)
		}
		return wire.EncodeUint64(wire.TOK, f.ID, 0), nil
	case wire.TBurn:
		return c.burn(ctx, f)
	case wire.TFetch:
		// An organizer administers on this connection alone, never
		// next to its member connection, so it reads here what it must
		// know first (the newest epoch). It reads nothing a member
		// does not.
		return c.fetch(ctx, f)
	}
	return nil, fail(wire.CodeMalformed, "unknown frame type")
}

func (c *conn) storeErr(err error) *relayError {
	switch {
	case errors.Is(err, ErrNotFound):
		return fail(wire.CodeNotFound, "")
	case errors.Is(err, ErrExists):
		return fail(wire.CodeExists, "")
	case errors.Is(err, ErrStale):
		return fail(wire.CodeStale, "")
	case errors.Is(err, ErrInviteInvalid):
		return fail(wire.CodeInviteInvalid, "")
	case errors.Is(err, ErrQuota):
		return fail(wire.CodeQuota, "")
	case errors.Is(err, ErrClosed):
		return fail(wire.CodeShuttingDown, "")
	}
	if noroom.IsFull(err) {
		// Rolled back: nothing of the request was stored, and it can
		// succeed once the operator makes room.
		c.s.full.note(c.s.log, time.Now(), err)
		return fail(wire.CodeInternal, "the relay's disk is full; nothing was stored, try again later")
	}
	c.s.log.Error("store", "err", err)
	if damaged(err) {
		return fail(wire.CodeInternal, "the relay's database is damaged; its operator must restore it")
	}
	return fail(wire.CodeInternal, "")
}

func (c *conn) auth(ctx context.Context, f wire.Frame) ([]byte, *relayError) {
	if c.authed {
		return nil, fail(wire.CodeMalformed, "already authenticated")
	}
	a, err := wire.ParseAuth(f.Body)
	if err != nil {
		return nil, fail(wire.CodeMalformed, "")
	}
	st, err := c.s.channel(ctx, a.Channel)
	if errors.Is(err, ErrNotFound) {
		if _, terr := c.s.cfg.Store.Tombstone(ctx, a.Channel); terr == nil {
			return nil, fail(wire.CodeBurned, "")
		}
		// Said plainly: a member whose relay lost its data must not
		// be told it was removed. Channel ids are 32 random bytes that
		// only members (and the relay) know, so this tells an outsider
		// nothing; a listed key and a bad signature still look the same.
		return nil, fail(wire.CodeNotFound, "unknown channel")
	} else if err != nil {
		return nil, c.storeErr(err)
	}
	key := ed25519.PublicKey(bytes.Clone(a.Key[:]))
	listed, admin := c.s.listed(st, key)
	forked := false
	if !listed && c.s.cfg.ForkAccessLists != nil && c.s.cfg.ForkAccessLists() {
		// The test relay that forks lets any key in as administrator,
		// as a relay that accepts two organizers' lists would.
		listed, admin, forked = true, true, true
	}
	if !listed ||
		!crypto.VerifyRelayChallenge(key, c.s.cfg.Pin, crypto.ChannelID(a.Channel), c.challenge, a.Signature[:]) {
		return nil, fail(wire.CodeUnauthorized, "")
	}
	c.s.mu.Lock()
	if c.s.channels[a.Channel] != st {
		// Burned while we checked.
		c.s.mu.Unlock()
		return nil, fail(wire.CodeBurned, "")
	}
	c.authed, c.ch, c.key, c.state = true, a.Channel, key, st
	if admin {
		c.admin, c.adminKey, c.forked = true, key, forked
	}
	st.conns[c] = struct{}{}
	c.s.unauth--
	k := c.s.keys[string(key)]
	if k == nil {
		k = &keyState{limit: newBucket(c.s.cfg.KeyRate, c.s.cfg.KeyBurst)}
		c.s.keys[string(key)] = k
	}
	k.conns++
	c.s.mu.Unlock()
	c.ws.SetReadDeadline(time.Now().Add(c.s.cfg.IdleTimeout))
	// The answer carries the origin of this relay's copy of the channel
	// (when its first epoch bundle was stored), so that a client sees a
	// relay that lost its data and was given the channel again. A member
	// learns nothing its fetches would not tell it.
	origin, _ := c.s.cfg.Store.Origin(ctx, a.Channel)
	return wire.EncodeUint64(wire.TOK, f.ID, origin), nil
}

func (c *conn) create(ctx context.Context, f wire.Frame) ([]byte, *relayError) {
	raw, err := wire.ParseBlob(f.Body)
	if err != nil {
		return nil, fail(wire.CodeMalformed, "")
	}
	list, err := crypto.ParseAccessList(raw)
	if err != nil {
		return nil, fail(wire.CodeMalformed, "bad access list")
	}
	if err := list.VerifyGenesis(); err != nil {
		return nil, fail(wire.CodeForbidden, "access list not signed by the administration key it names")
	}
	if err := c.s.cfg.Store.CreateChannel(ctx, list.Channel, raw, list.Version); err != nil {
		return nil, c.storeErr(err)
	}
	return wire.EncodeUint64(wire.TOK, f.ID, 0), nil
}

func (c *conn) setAccess(ctx context.Context, f wire.Frame) ([]byte, *relayError) {
	raw, err := wire.ParseBlob(f.Body)
	if err != nil {
		return nil, fail(wire.CodeMalformed, "")
	}
	next, err := crypto.ParseAccessList(raw)
	if err != nil {
		return nil, fail(wire.CodeMalformed, "bad access list")
	}
	st := c.state
	st.admin.Lock()
	defer st.admin.Unlock()
	c.s.mu.Lock()
	cur := st.list
	c.s.mu.Unlock()
	if err := next.VerifyNext(cur); err != nil {
		if errors.Is(err, crypto.ErrRollback) && c.s.cfg.ForkAccessLists != nil && c.s.cfg.ForkAccessLists() {
			// The test relay's lie: this connection may go on as if
			// its list had been taken.
			c.s.mu.Lock()
			c.forked = true
			c.s.mu.Unlock()
			return wire.EncodeUint64(wire.TOK, f.ID, next.Version), nil
		}
		if errors.Is(err, crypto.ErrRollback) {
			return nil, fail(wire.CodeStale, "")
		}
		return nil, fail(wire.CodeForbidden, "access list rejected")
	}
	if err := c.s.cfg.Store.ReplaceAccessList(ctx, c.ch, cur.Version, next.Version, raw); err != nil {
		return nil, c.storeErr(err)
	}
	c.s.mu.Lock()
	st.list, st.raw = next, raw
	// The new list's second signature proved that this connection's
	// client holds the new administration key: it goes on with it.
	c.adminKey = next.Admin
	c.s.mu.Unlock()
	// Removed keys lose their connections now, not at their next request.
	c.s.cutExpired()
	return wire.EncodeUint64(wire.TOK, f.ID, next.Version), nil
}

func (c *conn) post(ctx context.Context, f wire.Frame) ([]byte, *relayError) {
	p, err := wire.ParsePost(f.Body)
	if err != nil {
		return nil, fail(wire.CodeMalformed, "")
	}
	c.s.mu.Lock()
	k := c.s.keys[string(c.key)]
	retention, version := c.state.list.Retention, c.state.list.Version
	c.s.mu.Unlock()
	if k != nil && !k.limit.allow(time.Now()) {
		return nil, fail(wire.CodeRateLimited, "")
	}
	now := c.s.cfg.Now()
	nf := NewFrame{Channel: c.ch, Kind: p.Kind, Payload: p.Payload, MaxBytes: c.s.cfg.MaxChannelBytes}
	switch p.Kind {
	case wire.KindMessage:
		if c.admin {
			return nil, fail(wire.CodeForbidden, "")
		}
		h, err := crypto.ParseClearHeader(p.Payload)
		if err != nil {
			return nil, fail(wire.CodeMalformed, "bad message envelope")
		}
		if h.Sender != crypto.KeyIDOf(c.key) {
			return nil, fail(wire.CodeForbidden, "sender is not the authenticated key")
		}
		// The epoch in the clear header is not something the relay
		// can check, but members read a later one as a sign that an
		// epoch is kept from them and stop writing in the talks. A
		// member may be one epoch ahead of this relay's list (another
		// relay of the channel took the change first); further ahead
		// is made up.
		if h.Epoch > version+1 {
			return nil, fail(wire.CodeForbidden, "message of an epoch this relay has not been told of")
		}
		nf.Expires = now.Add(min(retention, c.s.cfg.TTL))
	case wire.KindBundle:
		if !c.admin {
			return nil, fail(wire.CodeForbidden, "")
		}
		if len(p.Payload) > maxBundle {
			return nil, fail(wire.CodeMalformed, "epoch bundle too large")
		}
		b, err := crypto.ParseEpochBundle(p.Payload)
		if err != nil {
			return nil, fail(wire.CodeMalformed, "bad epoch bundle")
		}
		if b.Channel != crypto.ChannelID(c.ch) {
			return nil, fail(wire.CodeForbidden, "bundle of another channel")
		}
		// Epoch bundles are kept until the channel burns: a member who
		// was away longer than the retention still needs every roster
		// version to verify the chain. Members check the signatures.
	}
	// Readers get the frame from the store's writer while it commits,
	// or, if the store did not deliver it early, once it has. The
	// sender's acknowledgement waits for the commit either way.
	delivered := false
	push := func(s wire.Stored) {
		c.s.fanout(c.state, []pendingPush{{seq: s.Seq, kind: p.Kind, data: p.PushFrame(s.Seq, s.Time), from: c}})
	}
	nf.Deliver = func(s wire.Stored) { delivered = true; push(s) }
	stored, err := c.s.cfg.Store.Append(withCaller(ctx, c.key), []NewFrame{nf})
	if err != nil {
		return nil, c.storeErr(err)
	}
	c.s.stats.stored.Add(int64(len(stored)))
	if !delivered {
		push(stored[0])
	}
	return wire.EncodeUint64(wire.TOK, f.ID, stored[0].Seq), nil
}

func (c *conn) fetch(ctx context.Context, f wire.Frame) ([]byte, *relayError) {
	since, err := wire.ParseUint64(f.Body)
	if err != nil {
		return nil, fail(wire.CodeMalformed, "")
	}
	frames, more, err := c.s.cfg.Store.Fetch(withCaller(ctx, c.key), c.ch, since, maxFetchBytes)
	if err != nil {
		return nil, c.storeErr(err)
	}
	return wire.EncodeFrames(f.ID, more, frames), nil
}

func (c *conn) invite(ctx context.Context, f wire.Frame) ([]byte, *relayError) {
	inv, err := wire.ParseInvite(f.Body)
	if err != nil {
		return nil, fail(wire.CodeMalformed, "")
	}
	now := c.s.cfg.Now()
	expires := time.Unix(int64(min(inv.Expires, 1<<40)), 0)
	if expires.After(now.Add(maxInviteLife)) || inv.Expires == 0 {
		expires = now.Add(maxInviteLife)
	}
	if !expires.After(now) {
		return nil, fail(wire.CodeMalformed, "invite already expired")
	}
	if err := c.s.cfg.Store.RegisterInvite(ctx, c.ch, inv.TokenID, expires); err != nil {
		return nil, c.storeErr(err)
	}
	return wire.EncodeUint64(wire.TOK, f.ID, 0), nil
}

func (c *conn) join(ctx context.Context, f wire.Frame) ([]byte, *relayError) {
	j, err := wire.ParseJoin(f.Body)
	if err != nil || len(j.Sealed) != crypto.SealedJoinSize {
		return nil, fail(wire.CodeMalformed, "")
	}
	id := crypto.TokenID(j.Token)
	if err := c.s.cfg.Store.SpendInvite(ctx, j.Channel, id, c.s.cfg.Now(), j.Sealed); err != nil {
		return nil, c.storeErr(err)
	}
	return wire.EncodeUint64(wire.TOK, f.ID, 0), nil
}

func (c *conn) tombstone(ctx context.Context, f wire.Frame) ([]byte, *relayError) {
	ch, err := wire.ParseChannel(f.Body)
	if err != nil {
		return nil, fail(wire.CodeMalformed, "")
	}
	notice, err := c.s.cfg.Store.Tombstone(ctx, ch)
	if err != nil {
		return nil, c.storeErr(err)
	}
	return wire.EncodeBlob(wire.TBurned, f.ID, notice), nil
}

func (c *conn) burn(ctx context.Context, f wire.Frame) ([]byte, *relayError) {
	raw, err := wire.ParseBlob(f.Body)
	if err != nil {
		return nil, fail(wire.CodeMalformed, "")
	}
	notice, err := crypto.ParseBurnNotice(raw)
	if err != nil {
		return nil, fail(wire.CodeMalformed, "bad burn notice")
	}
	// Members check that an administration key of an epoch they hold
	// signed it; the relay, that the key it holds did.
	if notice.Verify(crypto.ChannelID(c.ch)) != nil {
		return nil, fail(wire.CodeForbidden, "burn notice does not verify")
	}
	st := c.state
	st.admin.Lock()
	defer st.admin.Unlock()
	c.s.mu.Lock()
	signed := notice.SignedBy(c.adminKey)
	c.s.mu.Unlock()
	if !signed {
		return nil, fail(wire.CodeForbidden, "burn notice not signed by the channel's administration key")
	}
	c.s.mu.Lock()
	retention := st.list.Retention
	c.s.mu.Unlock()
	// The tombstone outlives the channel's messages by the same span,
	// so every member who could still have fetched them learns of the
	// burn.
	until := c.s.cfg.Now().Add(max(retention, c.s.cfg.TTL))
	if err := c.s.cfg.Store.Burn(ctx, c.ch, raw, until); errors.Is(err, ErrScrub) {
		// The rows are gone; only the WAL checkpoint failed (a reader
		// held it). The next burn or restart folds the WAL back.
		c.s.log.Error("burn: wal checkpoint", "err", err)
	} else if err != nil {
		return nil, c.storeErr(err)
	}
	c.s.mu.Lock()
	delete(c.s.channels, c.ch)
	others := make([]*conn, 0, len(st.conns))
	for o := range st.conns {
		if o != c {
			others = append(others, o)
		}
	}
	c.s.mu.Unlock()
	burned := wire.EncodeBlob(wire.TBurned, 0, raw)
	for _, o := range others {
		o.send(burned)
		o.close(websocket.CloseNormalClosure, "channel burned")
	}
	// The burner's connection ends too, after its acknowledgement.
	c.send(wire.EncodeUint64(wire.TOK, f.ID, 0))
	c.close(websocket.CloseNormalClosure, "channel burned")
	return nil, nil
}
