package client

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"time"

	"parley/crypto"
	"parley/internal/relayclient"
	"parley/internal/wire"
)

// A channel lives on one to five relays (crypto.MaxRelays), named in the
// organizer-signed roster. The relays never talk to each other: this
// home posts every frame to each of them and fetches from each, keeping
// a cursor per relay. A frame is recognised by a keyed hash of its bytes
// (the seen table), so the copy that arrives first is processed and
// later copies only record that that relay had it too. Which frames one
// relay lacks that another delivered is how this home names a relay
// that withholds (withheld.go).

// relayState is one relay of a channel, as this home knows it.
type relayState struct {
	// ID is the relay's number within the channel, never reused: the
	// seen table records which relays delivered a frame as a bit set of
	// IDs.
	ID  int    `json:"id"`
	URL string `json:"url"`
	// LastSeq is the relay's sequence number of the last frame fetched
	// from it; Missing the numbers it skipped (refetch.go).
	LastSeq uint64       `json:"last_seq"`
	Missing []missingSeq `json:"missing,omitempty"`
	// Added is when this home began to use the relay: frames older than
	// that are not expected from it.
	Added time.Time `json:"added"`
	// Synced is when this home last fetched every frame the relay had;
	// Failed and Error the last time it could not, and why.
	Synced time.Time `json:"synced,omitempty"`
	Failed time.Time `json:"failed,omitempty"`
	Error  string    `json:"error,omitempty"`
	// Forgot is set while the relay says it does not know the channel;
	// Origin identifies the relay's copy of it (relayclient.Conn.Origin).
	Forgot bool   `json:"forgot,omitempty"`
	Origin uint64 `json:"origin,omitempty"`
	// Withheld is the count of frames others delivered that it had not,
	// as last reported to the member.
	Withheld int `json:"withheld,omitempty"`
}

// maxRelayID bounds relay IDs: the seen table's bit set is an int64.
const maxRelayID = 62

func (r *relayState) bit() int64 { return 1 << r.ID }

// Name is how the relay is shown: its number and host, never its pin.
func (r *relayState) Name() string {
	host := r.URL
	if u, err := url.Parse(r.URL); err == nil && u.Host != "" {
		host = u.Host
	}
	return fmt.Sprintf("relay %d (%s)", r.ID, host)
}

// migrateRelays moves a state written before channels had several
// relays onto the relay list: its one relay becomes relay 1, and the
// home's own arrival counter starts at that relay's last sequence
// number, so that the transcript's order goes on unbroken.
func (st *channelState) migrateRelays() {
	if len(st.Relays) > 0 || st.OldRelayURL == "" {
		return
	}
	st.Relays = []*relayState{{ID: 1, URL: st.OldRelayURL, LastSeq: st.OldLastSeq, Missing: st.OldMissing}}
	st.Arrived = max(st.Arrived, st.OldLastSeq)
	st.OldRelayURL, st.OldLastSeq, st.OldMissing = "", 0, nil
}

// newRelayStates makes the relay list of a new channel.
func newRelayStates(urls []string, now time.Time) []*relayState {
	var out []*relayState
	for i, u := range urls {
		out = append(out, &relayState{ID: i + 1, URL: u, Added: now})
	}
	return out
}

// relay returns the relay with id, or nil.
func (st *channelState) relay(id int) *relayState {
	for _, r := range st.Relays {
		if r.ID == id {
			return r
		}
	}
	return nil
}

// followRoster makes the relay list the one roster r names: relays it
// adds get a fresh cursor, relays it drops are forgotten. A roster from
// before relays were named (none listed) changes nothing.
func (st *channelState) followRoster(r *crypto.Roster, now time.Time) error {
	if len(r.Relays) == 0 {
		return nil
	}
	var next []*relayState
	for _, u := range r.Relays {
		if i := slices.IndexFunc(st.Relays, func(rs *relayState) bool { return rs.URL == u }); i >= 0 {
			next = append(next, st.Relays[i])
			continue
		}
		id := 1
		for _, rs := range st.Relays {
			id = max(id, rs.ID+1)
		}
		for _, rs := range next {
			id = max(id, rs.ID+1)
		}
		id = max(id, st.NextRelayID)
		if id > maxRelayID {
			return fmt.Errorf("this channel has changed relays more than %d times", maxRelayID)
		}
		st.NextRelayID = id + 1
		next = append(next, &relayState{ID: id, URL: u, Added: now})
	}
	st.Relays = next
	return nil
}

// relayURLs lists the channel's relay addresses in order.
func (st *channelState) relayURLs() []string {
	var out []string
	for _, r := range st.Relays {
		out = append(out, r.URL)
	}
	return out
}

// frameDigest identifies a frame's bytes in the seen table: keyed with
// the home's key, so the table tells someone holding the home's files
// (but not its passphrase) nothing they could match with a relay's.
func (c *Client) frameDigest(kind uint8, payload []byte) []byte {
	return c.seal.index("frame", string(append([]byte{kind}, payload...)))
}

// seenInfo is what the seen table knows of one frame, sealed like every
// other row: which relays had it, which one first, when it arrived, and
// whether it is an epoch bundle (kept as long as the channel: relays
// keep bundles until the burn).
type seenInfo struct {
	Relays int64 `json:"r"`
	First  int   `json:"f"`
	// At is when the frame was posted, as far as this home can tell (its
	// sender's time, if earlier than its arrival); Arrived when it first
	// reached this home. Unix milliseconds.
	At      int64 `json:"t"`
	Arrived int64 `json:"a,omitempty"`
	Bundle  bool  `json:"b,omitempty"`
	// Refused is set when this home refused the frame (a replay, a
	// forgery, one that does not open): no relay is expected to hold it,
	// so none is named for lacking it.
	Refused bool `json:"x,omitempty"`
}

// refusedFrame reports whether taking a frame produced a refusal.
func refusedFrame(es []Entry) bool {
	return slices.ContainsFunc(es, func(e Entry) bool {
		switch e.Reason {
		case ReasonReplay, ReasonForged, ReasonMalformed, ReasonRejected, ReasonUndecryptable:
			return true
		}
		return false
	})
}

// refuseSeen marks a frame's record as refused.
func (c *Client) refuseSeen(tx *sql.Tx, channel int64, digest []byte) error {
	info, err := c.loadSeen(tx, channel, digest)
	if err != nil || info == nil {
		return err
	}
	info.Refused = true
	return c.storeSeen(tx, channel, digest, info)
}

func seenPurpose(digest []byte) string { return fmt.Sprintf("seen/%x", digest) }

func (c *Client) loadSeen(tx *sql.Tx, channel int64, digest []byte) (*seenInfo, error) {
	var sealed []byte
	err := tx.QueryRow(`SELECT info FROM seen WHERE channel = ? AND digest = ?`, channel, digest).Scan(&sealed)
	if err == sql.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	plain, err := c.seal.open(seenPurpose(digest), sealed)
	if err != nil {
		return nil, err
	}
	info := new(seenInfo)
	if err := json.Unmarshal(plain, info); err != nil {
		return nil, errCorrupt
	}
	return info, nil
}

func (c *Client) storeSeen(tx *sql.Tx, channel int64, digest []byte, info *seenInfo) error {
	plain, _ := json.Marshal(info)
	_, err := tx.Exec(`INSERT INTO seen (channel, digest, info) VALUES (?, ?, ?)
		ON CONFLICT (channel, digest) DO UPDATE SET info = excluded.info`, channel, digest, c.seal.seal(seenPurpose(digest), plain))
	return err
}

// seenFrame records that relay delivered a frame. It reports whether
// another relay delivered it before (a copy: nothing to do), and whether
// this relay did (a replay: the frame checks name it).
func (c *Client) seenFrame(tx *sql.Tx, channel int64, digest []byte, relay *relayState, bundle bool) (dup, replay bool, err error) {
	info, err := c.loadSeen(tx, channel, digest)
	if err != nil {
		return false, false, err
	}
	if info != nil {
		if info.Relays&relay.bit() != 0 {
			return false, true, nil
		}
		info.Relays |= relay.bit()
		return true, false, c.storeSeen(tx, channel, digest, info)
	}
	return false, false, c.storeSeen(tx, channel, digest, &seenInfo{Relays: relay.bit(), First: relay.ID, At: c.Now().UnixMilli(), Arrived: c.Now().UnixMilli(), Bundle: bundle})
}

// forgetSeen drops a frame's record: a frame set aside until its epoch
// arrives must be read again when it is fetched again.
func (c *Client) forgetSeen(tx *sql.Tx, channel int64, digest []byte) error {
	_, err := tx.Exec(`DELETE FROM seen WHERE channel = ? AND digest = ?`, channel, digest)
	return err
}

// seenAction is what eachSeen does with a record after its callback.
type seenAction int

const (
	keepSeen   seenAction = iota
	dropSeen              // delete the record
	updateSeen            // store the record as the callback changed it
)

// eachSeen calls f with every frame record of a channel and does what f
// says with it.
func (c *Client) eachSeen(tx *sql.Tx, channel int64, f func(*seenInfo) seenAction) error {
	rows, err := tx.Query(`SELECT digest, info FROM seen WHERE channel = ?`, channel)
	if err != nil {
		return err
	}
	type change struct {
		digest []byte
		info   *seenInfo
		act    seenAction
	}
	var changes []change
	for rows.Next() {
		var digest, sealed []byte
		if err := rows.Scan(&digest, &sealed); err != nil {
			rows.Close()
			return err
		}
		plain, err := c.seal.open(seenPurpose(digest), sealed)
		if err != nil {
			rows.Close()
			return err
		}
		info := new(seenInfo)
		if err := json.Unmarshal(plain, info); err != nil {
			rows.Close()
			return errCorrupt
		}
		if act := f(info); act != keepSeen {
			changes = append(changes, change{digest, info, act})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, ch := range changes {
		var err error
		if ch.act == dropSeen {
			err = c.forgetSeen(tx, channel, ch.digest)
		} else {
			err = c.storeSeen(tx, channel, ch.digest, ch.info)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// expireRelayRecords forgets, past the retention, what relays could no
// longer hold: records of message frames (a day later still, for frames
// a slow relay delivers late) and copies a relay never took. Records of
// epoch bundles stay as long as the channel: relays keep bundles.
func (c *Client) expireRelayRecords(tx *sql.Tx, row *channelRow, cutoff time.Time) error {
	seenCutoff := cutoff.Add(-24 * time.Hour).UnixMilli()
	if err := c.eachSeen(tx, row.id, func(info *seenInfo) seenAction {
		if !info.Bundle && info.At < seenCutoff {
			return dropSeen
		}
		return keepSeen
	}); err != nil {
		return err
	}
	copies, err := c.items(tx, "copies", row.id)
	if err != nil {
		return err
	}
	for _, it := range copies {
		if it.FirstAck.Before(cutoff) {
			if _, err := tx.Exec(`DELETE FROM copies WHERE id = ?`, it.id); err != nil {
				return err
			}
		}
	}
	return nil
}

// datedSeen dates a frame's record by the earliest time its entries
// carry (a message's send time, a roster's issue time), if earlier than
// its arrival.
func (c *Client) datedSeen(tx *sql.Tx, channel int64, digest []byte, es []Entry) error {
	var earliest time.Time
	for _, e := range es {
		t := e.Time
		if t.IsZero() {
			continue
		}
		if t.Nanosecond() == 0 {
			// A whole second (a roster's issue time): the frame was made
			// within that second, so it counts from the end of it.
			t = t.Add(time.Second - time.Millisecond)
		}
		if earliest.IsZero() || t.Before(earliest) {
			earliest = t
		}
	}
	if earliest.IsZero() {
		return nil
	}
	info, err := c.loadSeen(tx, channel, digest)
	if err != nil || info == nil || earliest.UnixMilli() >= info.At {
		return err
	}
	info.At = earliest.UnixMilli()
	return c.storeSeen(tx, channel, digest, info)
}

// atEachRelay connects to each relay of a channel as the channel's
// administrator (a burn: nothing to read first) and runs do on each
// connection. It returns how many relays did it, and the first
// error (with the relay named when the channel has several).
func (c *Client) atEachRelay(ctx context.Context, st *channelState, do func(*relayclient.Conn) error) (int, error) {
	conns, firstErr := c.adminConns(ctx, st.Name, nil)
	defer closeAll(conns)
	done := 0
	for _, rc := range conns {
		err := do(rc.conn)
		if err == nil {
			done++
			continue
		}
		if r := st.relay(rc.id); r != nil && len(st.Relays) > 1 {
			err = fmt.Errorf("%s: %w", r.Name(), err)
		}
		firstErr = cmp.Or(firstErr, err)
	}
	return done, firstErr
}

// mightBeOurs reports whether f could be a frame this home posted: a
// message under our pseudonym, or any epoch bundle (rare; the outbox
// check that follows is exact).
func (st *channelState) mightBeOurs(f wire.Stored) bool {
	if f.Kind == wire.KindBundle {
		return true
	}
	k, err := st.keys()
	if err != nil {
		return false
	}
	h, err := crypto.ParseClearHeader(f.Payload)
	return err == nil && h.Sender == k.ID()
}

// forgetRelayBit clears relay r from every frame record: a relay read
// from the start again (it lost its data, or came back from an older
// backup) delivers frames that are copies to this home, not replays.
func (c *Client) forgetRelayBit(tx *sql.Tx, channel int64, r *relayState) error {
	return c.eachSeen(tx, channel, func(info *seenInfo) seenAction {
		if info.Relays&r.bit() == 0 {
			return keepSeen
		}
		info.Relays &^= r.bit()
		return updateSeen
	})
}
