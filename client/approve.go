package client

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"parley/crypto"
)

// Approve approves another organizer's proposal (version 0: the only
// one waiting), after syncing: it checks the proposal completely
// against the roster in force (its maker is an organizer of it, the
// signature is good, it is the very next version chained to it, its
// content is sound), signs exactly that roster (crypto.Roster.Approve)
// and posts the approval in the talks, where the maker's client
// collects it. It returns what it approved. A proposal for an older
// roster is refused: an approval is good for one roster only.
func (c *Client) Approve(ctx context.Context, name string, version uint64) (*Proposal, error) {
	if err := c.mustOrganize(name); err != nil {
		return nil, err
	}
	var approved *Proposal
	_, err := c.syncThen(ctx, name, func() error {
		return c.update(name, func(tx *sql.Tx, row *channelRow) error {
			cur, self, keys, err := row.st.self(crypto.RoleOrganizer)
			if err != nil {
				return err
			}
			p, err := pickProposal(row.st, version)
			if err != nil {
				return err
			}
			r, err := p.roster()
			if err != nil {
				return err
			}
			if err := checkApprovable(r, cur); err != nil {
				return fmt.Errorf("%s's proposal of roster version %d: %w", p.Maker, r.Version, err)
			}
			if slices.ContainsFunc(r.Approvals, func(a crypto.Approval) bool { return crypto.KeyIDOf(a.Signer) == keys.ID() }) {
				return fmt.Errorf("you approved %s's proposal of roster version %d already", p.Maker, r.Version)
			}
			info := proposalInfo(row.st, p, cur)
			if err := r.Approve(keys); err != nil {
				return err
			}
			a := r.Approvals[len(r.Approvals)-1]
			if err := c.seal1(tx, row, crypto.Talks, typeApproval, encodeApproval(approvalKindApprove, r.Version, r.Proposed().Hash(), a.Signature), nil); err != nil {
				return err
			}
			p.Approvals = r.Approvals
			info.ApprovedBy = append(info.ApprovedBy, self.Name)
			info.Missing, _ = r.VerifyProposal(cur)
			approved = &info
			return c.appendTranscript(tx, row.id, []Entry{{Seq: row.st.Arrived, Time: c.Now().UTC(), Kind: KindSystem, Reason: ReasonApproval,
				Text: fmt.Sprintf("you approved %s's proposal of roster version %d: %s", p.Maker, r.Version, strings.Join(info.Change, ", "))}})
		})
	})
	if approved == nil {
		return nil, err
	}
	if q, _ := c.Queued(name); q > 0 && err == nil {
		err = errors.New("the relay has not taken the approval yet")
	}
	if err != nil {
		return approved, fmt.Errorf("%w (the approval is queued; parley sync sends it)", err)
	}
	return approved, nil
}

// pickProposal finds the other organizers' proposal to approve: the
// one of version, or (0) the only one.
func pickProposal(st *channelState, version uint64) (*proposalRecord, error) {
	var found []*proposalRecord
	for _, p := range st.Proposals {
		r, err := crypto.ParseRoster(p.Roster)
		if p.Mine || err != nil || version != 0 && r.Version != version {
			continue
		}
		found = append(found, p)
	}
	switch {
	case len(found) == 0 && version != 0:
		return nil, fmt.Errorf("no proposal of roster version %d waits for approval (parley pending lists them)", version)
	case len(found) == 0:
		if st.ownProposal() != nil {
			return nil, errors.New("the only proposal waiting is your own: other organizers approve it")
		}
		return nil, errNoProposal
	case len(found) > 1:
		var makers []string
		for _, p := range found {
			makers = append(makers, p.Maker)
		}
		return nil, fmt.Errorf("proposals by %s wait; name the version to approve (parley pending lists them)", joinNames(makers))
	}
	return found[0], nil
}

// Withdraw takes back this home's proposal: it is forgotten here (an
// admission's join requests go back to the pending list) and the other
// organizers are told, in the talks, to forget it too. Approvals given
// to it meanwhile are void: they sign that roster and no other.
func (c *Client) Withdraw(ctx context.Context, name string) (*Proposal, error) {
	if err := c.mustOrganize(name); err != nil {
		return nil, err
	}
	var out *Proposal
	_, err := c.syncThen(ctx, name, func() error {
		return c.update(name, func(tx *sql.Tx, row *channelRow) error {
			cur, _, _, err := row.st.self(crypto.RoleOrganizer)
			if err != nil {
				return err
			}
			p := row.st.ownProposal()
			if p == nil {
				return errors.New("no proposal of yours waits for approval (one that every side approved has gone out)")
			}
			r, err := p.roster()
			if err != nil {
				return err
			}
			info := proposalInfo(row.st, p, cur)
			out = &info
			row.st.dropProposalRecord(p)
			if err := c.seal1(tx, row, crypto.Talks, typeApproval, encodeApproval(approvalKindWithdraw, r.Version, r.Proposed().Hash(), nil), nil); err != nil {
				return err
			}
			return c.appendTranscript(tx, row.id, []Entry{{Seq: row.st.Arrived, Time: c.Now().UTC(), Kind: KindSystem, Reason: ReasonApproval,
				Text: fmt.Sprintf("you withdrew your proposal of roster version %d (%s)", r.Version, strings.Join(info.Change, ", "))}})
		})
	})
	if out == nil {
		return nil, err
	}
	if err != nil {
		return out, fmt.Errorf("withdrawn here; the other organizers are told with the next sync (%w)", err)
	}
	return out, nil
}

// Rule returns the channel's admission rule: every-side or none.
func (c *Client) Rule(name string) (string, error) {
	row, err := c.view(name)
	if err != nil {
		return "", err
	}
	cur, _, _, err := row.st.self(0)
	if err != nil {
		return "", err
	}
	return cur.Quorum.String(), nil
}

// SetRule changes the channel's admission rule: a roster change like
// any other, so the rule in force decides who must approve it (under
// every-side, an organizer of every side that has one).
func (c *Client) SetRule(ctx context.Context, name string, q crypto.Quorum) error {
	return c.changeRoster(ctx, name, nil, func(tx *sql.Tx, row *channelRow) error {
		cur, _, keys, err := row.st.self(crypto.RoleOrganizer)
		if err != nil {
			return err
		}
		if cur.Quorum == q {
			return fmt.Errorf("the admission rule is %s already", q.String())
		}
		next := cur.Next(c.Now())
		next.Quorum = q
		return c.rekey(tx, row, next, keys)
	})
}
