package client

import (
	"bytes"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"parley/crypto"
)

// Channel status values.
const (
	statusPending = "pending" // join request sent, not admitted yet
	statusActive  = "active"
	statusRemoved = "removed" // an organizer removed us; history kept
)

// channelState is everything a home knows about one channel. It is stored
// as one sealed row and changed only inside a transaction that reloads it,
// so two parley processes on one home never work from stale state.
type channelState struct {
	Name string `json:"name"`
	// Relays are the channel's relays (relays.go); NextRelayID the
	// lowest ID not yet given to one.
	Relays      []*relayState `json:"relays,omitempty"`
	NextRelayID int           `json:"next_relay_id,omitempty"`
	// Arrived counts the frames this home has taken in, from any relay:
	// the order of its transcript.
	Arrived uint64 `json:"arrived,omitempty"`
	// OldRelayURL, OldLastSeq and OldMissing are a state from before
	// channels had several relays, until migrateRelays moves them.
	OldRelayURL string       `json:"relay,omitempty"`
	OldLastSeq  uint64       `json:"last_seq,omitempty"`
	OldMissing  []missingSeq `json:"missing,omitempty"`
	Channel     []byte       `json:"channel"`
	Keys        []byte       `json:"keys"`
	Status      string       `json:"status"`
	// Invite is the code we joined with, until the first roster.
	Invite string `json:"invite,omitempty"`
	// Roster is the current roster; Epochs the receive state of the
	// current and previous epoch.
	Roster []byte        `json:"roster,omitempty"`
	Epochs []*epochState `json:"epochs,omitempty"`
	// Synced is when this home last fetched every frame there was; it
	// goes into the report of each message it seals.
	Synced time.Time `json:"synced,omitempty"`
	// NewerEpoch is the highest epoch seen in a message header that this
	// home has not entered: evidence that a bundle was kept from it.
	NewerEpoch uint64 `json:"newer_epoch,omitempty"`
	// AheadWarned is the newest such epoch already reported.
	AheadWarned uint64 `json:"ahead_warned,omitempty"`
	// RestoredIn is the epoch in which this home found its own messages
	// at the relay that it does not remember sending: it was restored
	// from an older copy. Reported once per epoch.
	RestoredIn uint64 `json:"restored_in,omitempty"`
	// setAside is set while a frame is processed that must be read
	// again once a missing epoch arrives (not stored).
	setAside bool
	// Closed holds, per compartment, our last epoch with messages sent
	// and how many; Past what we received in epochs whose keys are gone
	// (report.go).
	Closed map[string]closedChain `json:"closed,omitempty"`
	Past   []pastEpoch            `json:"past,omitempty"`
	// StaleWarned is the epoch whose age this home has warned about.
	StaleWarned uint64 `json:"stale_warned,omitempty"`
	// Verified maps identity fingerprints (hex) confirmed in person.
	Verified map[string]bool `json:"verified,omitempty"`
	// Identities maps pseudonym key ids to identity fingerprints, to
	// notice a member whose keys change.
	Identities map[string]string `json:"identities,omitempty"`

	// Organizer state.
	// NextAdmin is the administration secret of the epoch this home
	// proposed (NextAdminEpoch) until it enters it: the relay may have
	// taken the new access list while the bundle was still on its way.
	NextAdmin      []byte         `json:"next_admin,omitempty"`
	NextAdminEpoch uint64         `json:"next_admin_epoch,omitempty"`
	Invites        []inviteRecord `json:"invites,omitempty"`
	Pending        []pendingJoin  `json:"pending,omitempty"`
	// Leaving lists members who announced they left, for the next
	// roster.
	Leaving []string `json:"leaving,omitempty"`
	// RemovedSigned is set when an organizer-signed roster left us out
	// (not merely the relay refusing our key).
	RemovedSigned bool `json:"removed_signed,omitempty"`
	// DraftLines holds, per draft name, the versions known by number
	// (draft_versions.go).
	DraftLines map[string]*draftLine `json:"draft_lines,omitempty"`
	// Archive is the transcript chunk old chunks are merged into;
	// Compacted the last chunk compaction has looked at (chunks.go).
	Archive   int64 `json:"archive,omitempty"`
	Compacted int64 `json:"compacted,omitempty"`
	// Partial holds draft versions still arriving, by sender and id.
	Partial map[string]*partialDraft `json:"partial,omitempty"`

	// Proposals are roster changes waiting for organizers' approvals
	// under the every-side rule (quorum.go): at most one of ours, and
	// other organizers' as they arrive; PartialProposals those still
	// arriving, by maker.
	Proposals        []*proposalRecord           `json:"proposals,omitempty"`
	PartialProposals map[string]*partialProposal `json:"partial_proposals,omitempty"`
	// QuorumHeld names members whose leaving or expiry the organizer
	// duties could not act on alone (quorum.go), told once.
	QuorumHeld []string `json:"quorum_held,omitempty"`

	// KeysUpdated is when our KEM key was made; NextKeys a rotated key
	// waiting for a roster that carries it.
	KeysUpdated  time.Time `json:"keys_updated,omitempty"`
	NextKeys     []byte    `json:"next_keys,omitempty"`
	NextKeysSent time.Time `json:"next_keys_sent,omitempty"`
	// NextKeysMade is when NextKeys was made; NextKeysWarned is set once
	// the member was told no roster has adopted it.
	NextKeysMade   time.Time `json:"next_keys_made,omitempty"`
	NextKeysWarned bool      `json:"next_keys_warned,omitempty"`
	// KeyUpdates holds members' fresh KEM keys for the next roster
	// (organizers).
	KeyUpdates map[string][]byte `json:"key_updates,omitempty"`
}

// epochState is what remains of an epoch once its secrets are deleted:
// the roster and one ratchet chain per sender and compartment.
type epochState struct {
	Epoch    uint64            `json:"epoch"`
	Roster   []byte            `json:"roster"`
	StartSeq uint64            `json:"start_seq"`
	Recv     map[string][]byte `json:"recv"`
	Send     map[string][]byte `json:"send"`
	// SentAt holds when our recent messages were posted, per chain;
	// Warned, per compartment and reader, the counter from which our
	// messages withheld from that reader are still to be reported
	// (report.go).
	SentAt map[string][]sentMark `json:"sent_at,omitempty"`
	Warned map[string]uint32     `json:"warned,omitempty"`
	// Admin is the epoch's administration key at the relays, which
	// signs the next epoch's bundle; AdminSecret its secret, which only
	// an organizer holds (admin.go).
	Admin       []byte `json:"admin,omitempty"`
	AdminSecret []byte `json:"admin_secret,omitempty"`
	// SenderData is the epoch's key for envelope sender data
	// (compartment and counter), which every member holds.
	SenderData []byte `json:"sender_data"`
}

// view is keys' view of this epoch, whose verified roster is r.
func (e *epochState) view(r *crypto.Roster, keys *crypto.ChannelKeys) *crypto.EpochView {
	return crypto.NewEpochView(r, keys, crypto.SenderDataKey(e.SenderData))
}

type inviteRecord struct {
	Code       string        `json:"code"`
	Role       crypto.Role   `json:"role"`
	Side       string        `json:"side,omitempty"`
	Membership time.Duration `json:"membership,omitempty"`
	Expires    time.Time     `json:"expires"`
}

type pendingJoin struct {
	RelayID    uint64        `json:"relay_id"`
	Invite     string        `json:"invite"`
	Sealed     []byte        `json:"sealed"`
	Name       string        `json:"name"`
	Role       crypto.Role   `json:"role"`
	Side       string        `json:"side,omitempty"`
	Membership time.Duration `json:"membership,omitempty"`
	Received   time.Time     `json:"received"`
}

func chainKey(c crypto.Compartment, id crypto.KeyID) string {
	// fmt.Sprintf("%d:%x", c, id[:]), without fmt: it is made several
	// times for every message.
	var b [24 + 2*len(id)]byte
	k := strconv.AppendUint(b[:0], uint64(c), 10)
	k = append(k, ':')
	return string(hex.AppendEncode(k, id[:]))
}

func (st *channelState) channelID() crypto.ChannelID { return crypto.ChannelID(st.Channel) }

func (st *channelState) keys() (*crypto.ChannelKeys, error) { return crypto.ParseChannelKeys(st.Keys) }

func (st *channelState) roster() (*crypto.Roster, error) {
	if st.Roster == nil {
		return nil, errors.New("not admitted to this channel yet")
	}
	return crypto.ParseRoster(st.Roster)
}

func (st *channelState) epoch(n uint64) *epochState {
	for _, e := range st.Epochs {
		if e.Epoch == n {
			return e
		}
	}
	return nil
}

func (st *channelState) current() *epochState {
	if len(st.Epochs) == 0 {
		return nil
	}
	return st.Epochs[len(st.Epochs)-1]
}

// enterEpoch installs a verified roster and its secrets: it derives every
// chain this member will need in the epoch, then forgets the secrets.
// Only the current and previous epochs are kept; older chains are
// deleted.
func (st *channelState) enterEpoch(r *crypto.Roster, s *crypto.EpochSecrets, self crypto.KeyID, startSeq uint64) error {
	raw, err := r.Marshal()
	if err != nil {
		return err
	}
	e := &epochState{Epoch: r.Version, Roster: raw, StartSeq: startSeq, Recv: map[string][]byte{}, Send: map[string][]byte{}}
	side := ""
	if me := r.Member(self); me != nil {
		side = me.Side
	}
	for _, comp := range []crypto.Compartment{crypto.Talks, crypto.Briefings, crypto.Side} {
		if comp == crypto.Talks && s.Talks == nil || comp == crypto.Side && s.Side == nil {
			continue
		}
		for _, m := range r.Members {
			if !m.Reads(comp, side) {
				continue // cannot write there either
			}
			ck, err := s.SenderChain(comp, m.ID())
			if err != nil {
				return err
			}
			if m.ID() == self {
				e.Send[chainKey(comp, self)], _ = (&crypto.SendChain{Key: ck}).MarshalBinary()
			} else {
				e.Recv[chainKey(comp, m.ID())], _ = (&crypto.ReceiveChain{Key: ck}).MarshalBinary()
			}
		}
	}
	sd := s.SenderDataKey()
	e.SenderData = sd[:]
	e.Admin = bytes.Clone(s.AdminPublic)
	if s.Admin != nil {
		e.AdminSecret = bytes.Clone(s.Admin[:])
	}
	if st.NextAdminEpoch <= r.Version {
		st.NextAdmin, st.NextAdminEpoch = nil, 0
	}
	// Forward secrecy: the secrets go now.
	if s.Talks != nil {
		*s.Talks = [32]byte{}
	}
	if s.Side != nil {
		*s.Side = [32]byte{}
	}
	if s.Admin != nil {
		*s.Admin = [32]byte{}
	}
	*s = crypto.EpochSecrets{}
	st.Roster = raw
	if cur := st.current(); cur != nil {
		st.closeEpoch(cur)
	}
	st.Epochs = append(st.Epochs, e)
	if len(st.Epochs) > 2 {
		st.remember(st.Epochs[0])
		st.Epochs = st.Epochs[len(st.Epochs)-2:]
	}
	st.Status = statusActive
	st.Invite = ""
	return nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// channelRow is a loaded channel: its row id and state.
type channelRow struct {
	id int64
	st *channelState
}

// ErrNoChannel matches (errors.Is) a *NoChannelError.
var ErrNoChannel = &NoChannelError{}

// NoChannelError is returned for a local channel name this home does not
// have.
type NoChannelError struct{ Name string }

func (e *NoChannelError) Error() string {
	return fmt.Sprintf("no channel named %q (parley channel list shows yours)", e.Name)
}

func (e *NoChannelError) Is(target error) bool {
	_, ok := target.(*NoChannelError)
	return ok
}

// loadChannel finds a channel by its local name inside tx.
func (c *Client) loadChannel(tx *sql.Tx, name string) (*channelRow, error) {
	var id int64
	var sealed []byte
	err := tx.QueryRow(`SELECT id, state FROM channels WHERE name_ix = ?`, c.seal.index("channel", name)).Scan(&id, &sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, &NoChannelError{Name: name}
	} else if err != nil {
		return nil, err
	}
	return c.decodeChannel(id, sealed)
}

func (c *Client) decodeChannel(id int64, sealed []byte) (*channelRow, error) {
	plain, err := c.seal.open(fmt.Sprintf("channel/%d", id), sealed)
	if err != nil {
		return nil, err
	}
	st := new(channelState)
	if err := json.Unmarshal(plain, st); err != nil {
		return nil, errCorrupt
	}
	st.migrateRelays()
	return &channelRow{id: id, st: st}, nil
}

func (c *Client) saveChannel(tx *sql.Tx, row *channelRow) error {
	plain, err := json.Marshal(row.st)
	if err != nil {
		return err
	}
	_, err = tx.Exec(`UPDATE channels SET state = ? WHERE id = ?`, c.seal.seal(fmt.Sprintf("channel/%d", row.id), plain), row.id)
	return err
}

// insertChannel adds a new channel under its local name.
func (c *Client) insertChannel(tx *sql.Tx, st *channelState) (*channelRow, error) {
	ix := c.seal.index("channel", st.Name)
	var n int
	tx.QueryRow(`SELECT count(*) FROM channels WHERE name_ix = ?`, ix).Scan(&n)
	if n > 0 {
		return nil, fmt.Errorf("a channel named %q exists already; choose another name", st.Name)
	}
	res, err := tx.Exec(`INSERT INTO channels (name_ix, state) VALUES (?, x'')`, ix)
	if err != nil {
		return nil, err
	}
	id, _ := res.LastInsertId()
	row := &channelRow{id: id, st: st}
	return row, c.saveChannel(tx, row)
}

// nameFree refuses a local channel name this home has already, or has
// in another case: "Oslo" and "oslo" would be two channels that people
// take for one.
func (c *Client) nameFree(name, hint string) error {
	list, err := c.Channels()
	if err != nil {
		return err
	}
	for _, ch := range list {
		switch {
		case ch.Name == name:
			return fmt.Errorf("a channel named %q exists already; %s", name, hint)
		case strings.EqualFold(ch.Name, name):
			return fmt.Errorf("a channel named %q exists already, and %q differs from it only in case; %s", ch.Name, name, hint)
		}
	}
	return nil
}

// update runs f on the named channel inside one transaction and saves
// the state if f succeeds.
func (c *Client) update(name string, f func(tx *sql.Tx, row *channelRow) error) error {
	tx, err := c.db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	row, err := c.loadChannel(tx, name)
	if err != nil {
		return err
	}
	if err := f(tx, row); err != nil {
		return err
	}
	if err := c.saveChannel(tx, row); err != nil {
		return err
	}
	if failUpdate != nil {
		if err := failUpdate(tx); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// failUpdate, set only by tests (none of them parallel), fails an
// update's commit when it returns an error, as a full disk does.
var failUpdate func(tx *sql.Tx) error

// view loads the named channel read-only.
func (c *Client) view(name string) (*channelRow, error) {
	var out *channelRow
	err := c.read(name, func(_ *sql.Tx, row *channelRow) error { out = row; return nil })
	return out, err
}

// read runs f on channel name's row in a transaction that changes
// nothing (the read-only twin of update).
func (c *Client) read(name string, f func(tx *sql.Tx, row *channelRow) error) error {
	tx, err := c.db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	row, err := c.loadChannel(tx, name)
	if err != nil {
		return err
	}
	return f(tx, row)
}

func hexID(id crypto.KeyID) string { return hex.EncodeToString(id[:]) }
