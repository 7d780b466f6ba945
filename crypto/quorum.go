package crypto

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"slices"
)

// Quorum is a channel's admission rule: who must sign a roster change
// besides the organizer who makes it. Talks between sides do not accept
// one side, or the sponsor alone, adding a person to the room.
type Quorum uint8

const (
	// QuorumNone: any organizer's signature suffices.
	QuorumNone Quorum = 0
	// QuorumEverySide: a change that adds a member, changes a role or a
	// side, or changes the rule itself needs an organizer of every side
	// that has one; a change that only removes members needs an
	// organizer of each removed member's side. Timer and key-update
	// epochs need nobody more.
	QuorumEverySide Quorum = 1
)

func (q Quorum) valid() bool { return q == QuorumNone || q == QuorumEverySide }

// String is the rule's name: "every-side" or "none".
func (q Quorum) String() string {
	if q == QuorumEverySide {
		return "every-side"
	}
	return "none"
}

// ParseQuorum maps "every-side" or "none" to a Quorum.
func ParseQuorum(s string) (Quorum, bool) {
	for _, q := range []Quorum{QuorumNone, QuorumEverySide} {
		if q.String() == s {
			return q, true
		}
	}
	return 0, false
}

// MaxApprovals bounds the approvals a roster carries: one per side is
// what a quorum needs.
const MaxApprovals = 8

// An Approval is an organizer's signature of a roster another organizer
// made: its agreement to the change.
type Approval struct {
	Signer    ed25519.PublicKey
	Signature []byte
}

// Approve adds k's approval of r, which its maker has signed. The
// approval covers exactly what the maker's signature covers, so it
// approves this roster and no other (a replayed approval of an older
// proposal does not verify on a newer one).
func (r *Roster) Approve(k *ChannelKeys) error {
	if len(r.Approvals) >= MaxApprovals {
		return malformed("roster", "too many approvals")
	}
	msg, err := r.signedBytes()
	if err != nil {
		return err
	}
	r.Approvals = append(r.Approvals, Approval{Signer: k.SigningPublicKey(), Signature: k.sign(labelRosterApproval, msg)})
	return nil
}

// verifyQuorum checks r's approvals against cur, whose rule governs the
// change from cur to r, and that the rule is met. An error names the
// side whose approval is missing.
func (r *Roster) verifyQuorum(cur *Roster) error {
	signers, err := r.approvers(cur)
	if err != nil {
		return err
	}
	if missing := r.missingSides(cur, signers); len(missing) > 0 {
		return fmt.Errorf("roster version %d lacks the approval of an organizer of side %q: %w", r.Version, missing[0], ErrQuorum)
	}
	return nil
}

// approvers checks every approval of r (a good signature by an
// organizer of cur) and returns the maker's key and the approvers'.
func (r *Roster) approvers(cur *Roster) ([]ed25519.PublicKey, error) {
	msg, err := r.signedBytes()
	if err != nil {
		return nil, err
	}
	signers := []ed25519.PublicKey{r.Signer}
	for _, a := range r.Approvals {
		if !verify(a.Signer, labelRosterApproval, msg, a.Signature) {
			return nil, fmt.Errorf("roster version %d approval: %w", r.Version, ErrBadSignature)
		}
		if !cur.IsOrganizer(a.Signer) {
			return nil, fmt.Errorf("roster version %d approved by a key that is no organizer: %w", r.Version, ErrUnknownSigner)
		}
		signers = append(signers, a.Signer)
	}
	return signers, nil
}

// missingSides are the sides cur's rule needs for the change to r that
// no key of signers approved, in roster order.
func (r *Roster) missingSides(cur *Roster, signers []ed25519.PublicKey) []string {
	if cur.Quorum == QuorumNone {
		return nil
	}
	var missing []string
	for _, side := range r.sidesToApprove(cur) {
		if !slices.ContainsFunc(signers, func(k ed25519.PublicKey) bool {
			m := cur.Member(KeyIDOf(k))
			return m != nil && m.Role == RoleOrganizer && m.Side == side
		}) {
			missing = append(missing, side)
		}
	}
	return missing
}

// VerifyProposal checks r as the next roster after cur in every respect
// VerifyNext does but the quorum rule (chain, maker's signature, each
// approval, content), and returns the sides whose approval it still
// lacks: none when VerifyNext passes. It is what an organizer asked to
// approve a change checks, and what a proposal waiting for approvals
// shows.
func (r *Roster) VerifyProposal(cur *Roster) ([]string, error) {
	if err := r.verifyChain(cur); err != nil {
		return nil, err
	}
	if err := r.verifySignature(cur); err != nil {
		return nil, err
	}
	signers, err := r.approvers(cur)
	if err != nil {
		return nil, err
	}
	if err := r.verifyContent(); err != nil {
		return nil, err
	}
	return r.missingSides(cur, signers), nil
}

// Proposed is r as its maker signed it, without approvals: what
// identifies a proposal while approvals are added to it.
func (r *Roster) Proposed() *Roster {
	p := *r
	p.Approvals = nil
	return &p
}

// sidesToApprove are the sides, among those of cur that have an
// organizer, whose approval the change from cur to r needs.
func (r *Roster) sidesToApprove(cur *Roster) []string {
	var organized []string
	for _, m := range cur.Members {
		if m.Role == RoleOrganizer && m.Side != "" && !slices.Contains(organized, m.Side) {
			organized = append(organized, m.Side)
		}
	}
	everySide := r.Quorum != cur.Quorum
	var removedSides []string
	for _, m := range r.Members {
		old := cur.Member(m.ID())
		if old == nil || old.Role != m.Role || old.Side != m.Side || !bytes.Equal(old.Identity.SigningKey, m.Identity.SigningKey) {
			everySide = true
		}
	}
	for _, m := range cur.Members {
		if r.Member(m.ID()) == nil && !slices.Contains(removedSides, m.Side) {
			removedSides = append(removedSides, m.Side)
		}
	}
	if everySide {
		return organized
	}
	return slices.DeleteFunc(removedSides, func(s string) bool { return !slices.Contains(organized, s) })
}
