package client

import (
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"parley/crypto"
)

// Under a channel's every-side rule (crypto/quorum.go, protocol §6.6) a
// roster change may need other organizers' approvals before any member
// would accept it. The organizer who makes such a change does not send
// it: the signed roster waits in its home (a proposal) and goes, in
// pieces, into the talks compartment, where the other organizers'
// clients keep it. An organizer approves it with one command, which
// posts its signature there too; the maker's client collects the
// signatures at its syncs and, once the rule is met, sends the change
// like any other (queueProposal). Mentors do not read the talks, so
// they never see a proposal; participants' clients ignore one.

// proposalRecord is a roster change waiting for approvals: our own
// (Mine), or another organizer's that reached this home.
type proposalRecord struct {
	// Roster is the change as its maker signed it, without approvals.
	Roster    []byte            `json:"roster"`
	Maker     string            `json:"maker"`
	Mine      bool              `json:"mine,omitempty"`
	Received  time.Time         `json:"received"`
	Approvals []crypto.Approval `json:"approvals,omitempty"`
	// Restore holds the join requests an admission took from the
	// pending list: they go back there if the proposal is dropped.
	Restore []pendingJoin `json:"restore,omitempty"`
}

func (p *proposalRecord) roster() (*crypto.Roster, error) {
	r, err := crypto.ParseRoster(p.Roster)
	if err != nil {
		return nil, err
	}
	r.Approvals = slices.Clone(p.Approvals)
	return r, nil
}

// id identifies the proposal whatever approvals it collects.
func (p *proposalRecord) id() [32]byte {
	r, err := crypto.ParseRoster(p.Roster)
	if err != nil {
		return [32]byte{}
	}
	return r.Proposed().Hash()
}

// ownProposal is this home's proposal waiting for approvals, or nil:
// only one change of ours may wait at a time.
func (st *channelState) ownProposal() *proposalRecord {
	for _, p := range st.Proposals {
		if p.Mine {
			return p
		}
	}
	return nil
}

// proposalByID finds a kept proposal.
func (st *channelState) proposalByID(id [32]byte) *proposalRecord {
	for _, p := range st.Proposals {
		if p.id() == id {
			return p
		}
	}
	return nil
}

// dropProposalRecord forgets p, giving back the join requests it took.
func (st *channelState) dropProposalRecord(p *proposalRecord) {
	st.Proposals = slices.DeleteFunc(st.Proposals, func(q *proposalRecord) bool { return q == p })
	for _, j := range p.Restore {
		if !slices.ContainsFunc(st.Pending, func(q pendingJoin) bool { return q.Name == j.Name }) {
			st.Pending = append(st.Pending, j)
		}
	}
}

// AwaitingApprovalError is what a roster change returns when the
// channel's rule needs approvals the maker's own signature does not
// give: nothing changed yet; the change waits as a proposal.
type AwaitingApprovalError struct {
	Channel string
	Version uint64
	// Change says what the proposal changes ("admitting Alice
	// (participant, side A)").
	Change []string
	// Sides are those an organizer of which must still approve.
	Sides []string
	// Queued, when set, says why the proposal has not reached the relay
	// yet: it waits in the outbox, and the next sync posts it.
	Queued error
}

func (e *AwaitingApprovalError) Error() string {
	s := fmt.Sprintf("proposed %s (roster version %d); it waits for the approval of an organizer of %s (they run: parley approve %s)",
		strings.Join(e.Change, ", "), e.Version, sidesPhrase(e.Sides), e.Channel)
	if e.Queued != nil {
		s += fmt.Sprintf("; the proposal is queued, not yet posted: parley sync sends it (%v)", e.Queued)
	}
	return s
}

// sidesPhrase names sides for a sentence: side "A" and side "B".
func sidesPhrase(sides []string) string {
	var out []string
	for _, s := range sides {
		out = append(out, "side "+s)
	}
	return strings.Join(out, " and ")
}

// propose keeps the signed roster next, which the current rule does not
// let go out on its maker's signature alone, as this home's proposal
// and posts it to the other organizers in the talks compartment.
func (c *Client) propose(tx *sql.Tx, row *channelRow, cur, next *crypto.Roster, keys *crypto.ChannelKeys) error {
	missing, err := next.VerifyProposal(cur)
	if err != nil {
		return fmt.Errorf("new roster does not verify: %w", err)
	}
	raw, err := next.Proposed().Marshal()
	if err != nil {
		return err
	}
	self := cur.Member(keys.ID())
	for _, piece := range proposalChunks(next.Proposed().Hash(), raw) {
		if err := c.seal1(tx, row, crypto.Talks, typeProposal, piece, nil); err != nil {
			return err
		}
	}
	row.st.Proposals = append(row.st.Proposals, &proposalRecord{Roster: raw, Maker: self.Name, Mine: true, Received: c.Now().UTC()})
	change := describeChange(cur, next)
	return c.appendTranscript(tx, row.id, []Entry{{Seq: row.st.Arrived, Time: c.Now().UTC(), Kind: KindSystem, Reason: ReasonProposal,
		Text: fmt.Sprintf("you proposed %s (roster version %d); it waits for the approval of an organizer of %s", strings.Join(change, ", "), next.Version, sidesPhrase(missing))}})
}

// awaiting is the AwaitingApprovalError for this home's proposal.
func (st *channelState) awaiting() *AwaitingApprovalError {
	p := st.ownProposal()
	if p == nil {
		return nil
	}
	r, err := p.roster()
	cur, err2 := st.roster()
	if err != nil || err2 != nil {
		return nil
	}
	missing, _ := r.VerifyProposal(cur)
	return &AwaitingApprovalError{Channel: st.Name, Version: r.Version, Change: describeChange(cur, r), Sides: missing}
}

// proposalDuties, at an organizer's sync: forget other organizers'
// proposals that are done with (adopted, or two rosters old); drop our
// own if another change overtook it; send it once every side it needs
// approved it.
func (c *Client) proposalDuties(tx *sql.Tx, row *channelRow, rep *SyncReport, cur *crypto.Roster, keys *crypto.ChannelKeys) error {
	st := row.st
	adopted := cur.Proposed().Hash()
	st.Proposals = slices.DeleteFunc(st.Proposals, func(p *proposalRecord) bool {
		r, err := crypto.ParseRoster(p.Roster)
		// A proposal for the version in force that is not the one in
		// force stays a while, so that approving it says why not.
		return !p.Mine && (err != nil || r.Version < cur.Version || p.id() == adopted)
	})
	p := st.ownProposal()
	if p == nil {
		return nil
	}
	line := func(format string, args ...any) error {
		return c.tell(tx, row, rep, Entry{Seq: st.Arrived, Time: c.Now().UTC(), Kind: KindSystem, Reason: ReasonProposal, Text: fmt.Sprintf(format, args...)})
	}
	if p.id() == adopted {
		st.Proposals = slices.DeleteFunc(st.Proposals, func(q *proposalRecord) bool { return q == p })
		return nil // our own, gone out and come back
	}
	r, err := p.roster()
	if err != nil {
		return err
	}
	missing, err := r.VerifyProposal(cur)
	if err != nil {
		st.dropProposalRecord(p)
		return line("your proposal of roster version %d was dropped: %v. Make the change again if it is still wanted", r.Version, err)
	}
	if len(missing) > 0 {
		return nil
	}
	if pending, err := c.hasProposal(tx, row.id); err != nil || pending {
		return err
	}
	st.Proposals = slices.DeleteFunc(st.Proposals, func(q *proposalRecord) bool { return q == p })
	if err := c.queueProposal(tx, row, r, keys); err != nil {
		return err
	}
	return line("every side approved your proposal of roster version %d (%s); it goes out now", r.Version, strings.Join(describeChange(cur, r), ", "))
}

// errOwnProposalWaits refuses a second change while ours waits.
func (st *channelState) errOwnProposalWaits() error {
	p := st.ownProposal()
	if p == nil {
		return nil
	}
	r, err := crypto.ParseRoster(p.Roster)
	if err != nil {
		return err
	}
	return fmt.Errorf("your proposal of roster version %d still waits for approval; only one change may wait at a time (parley pending %s shows it, parley withdraw %s takes it back)", r.Version, st.Name, st.Name)
}

var errNoProposal = errors.New("no proposal waits for approval (parley pending lists them)")

// holdForProposal keeps an organizer's duties from making an epoch
// that would overtake its own proposal while it waits for approvals;
// past takeOverAfter the channel's freshness comes first, and the
// proposal is dropped.
func (c *Client) holdForProposal(tx *sql.Tx, row *channelRow, rep *SyncReport, cur *crypto.Roster) (bool, error) {
	p := row.st.ownProposal()
	if p == nil {
		return false, nil
	}
	if c.Now().Sub(cur.Issued) < takeOverAfter {
		return true, nil
	}
	row.st.dropProposalRecord(p)
	version := cur.Version + 1
	return false, c.tell(tx, row, rep, Entry{Seq: row.st.Arrived, Time: c.Now().UTC(), Kind: KindSystem, Reason: ReasonProposal,
		Text: fmt.Sprintf("your proposal of roster version %d was dropped: it waited for approval longer than the channel can go without a new epoch (%s); make the change again if it is still wanted", version, FormatDuration(takeOverAfter))})
}

// needsOtherSide reports whether removing m needs, under cur's rule, an
// organizer of a side other than self's.
func needsOtherSide(cur *crypto.Roster, self, m *crypto.Member) bool {
	if cur.Quorum == crypto.QuorumNone || m.Side == self.Side {
		return false
	}
	return slices.ContainsFunc(cur.Members, func(o crypto.Member) bool { return o.Role == crypto.RoleOrganizer && o.Side == m.Side })
}

// noteHeld tells, once per member, that the duties leave a leaver's or
// an expired member's removal to their side.
func (c *Client) noteHeld(tx *sql.Tx, row *channelRow, rep *SyncReport, cur *crypto.Roster, held []string) error {
	var out []Entry
	for _, n := range held {
		if slices.Contains(row.st.QuorumHeld, n) {
			continue
		}
		side := ""
		for _, m := range cur.Members {
			if m.Name == n {
				side = m.Side
			}
		}
		out = append(out, Entry{Seq: row.st.Arrived, Time: c.Now().UTC(), Kind: KindSystem, Reason: ReasonProposal,
			Text: fmt.Sprintf("%s left or their membership expired; under the channel's admission rule an organizer of side %s removes them (parley remove %s %s), or any organizer proposes it", n, side, row.st.Name, n)})
	}
	row.st.QuorumHeld = slices.DeleteFunc(append(row.st.QuorumHeld, held...), func(n string) bool { return cur.Member(memberID(cur, n)) == nil })
	slices.Sort(row.st.QuorumHeld)
	row.st.QuorumHeld = slices.Compact(row.st.QuorumHeld)
	return c.tell(tx, row, rep, out...)
}

// tell adds system lines to the transcript and to the sync's report
// (nil: none), which parley sync prints.
func (c *Client) tell(tx *sql.Tx, row *channelRow, rep *SyncReport, es ...Entry) error {
	if rep != nil {
		rep.New = append(rep.New, es...)
	}
	return c.appendTranscript(tx, row.id, es)
}

// memberID is the pseudonym of the member named n in r (zero if none).
func memberID(r *crypto.Roster, n string) crypto.KeyID {
	for _, m := range r.Members {
		if m.Name == n {
			return m.ID()
		}
	}
	return crypto.KeyID{}
}
