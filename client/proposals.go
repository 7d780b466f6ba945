package client

import (
	"bytes"
	"fmt"
	"time"

	"parley/crypto"
)

func ruleNote(q crypto.Quorum) string {
	if q == crypto.QuorumNone {
		return ""
	}
	return ", admission rule " + q.String()
}

// signerName is the name, in cur, of the organizer who signed r.
func signerName(cur, r *crypto.Roster) string {
	if m := cur.Member(crypto.KeyIDOf(r.Signer)); m != nil {
		return m.Name
	}
	return "an unknown key"
}

// describeChange says, phrase by phrase, what next changes from cur
// that an approver must know: who comes in (and as what), who goes,
// whose role or side changes, and the rules.
func describeChange(cur, next *crypto.Roster) []string {
	var out []string
	for _, m := range next.Members {
		old := cur.Member(m.ID())
		switch {
		case old == nil:
			out = append(out, fmt.Sprintf("admitting %s (%s%s, safety number %s)", m.Name, m.Role, sideNote(m.Side), m.Identity.SafetyNumber()))
		case old.Role != m.Role:
			out = append(out, fmt.Sprintf("making %s %s", m.Name, m.Role))
		case old.Side != m.Side:
			out = append(out, fmt.Sprintf("moving %s to side %q", m.Name, m.Side))
		case !bytes.Equal(old.Identity.SigningKey, m.Identity.SigningKey):
			out = append(out, fmt.Sprintf("giving %s another identity", m.Name))
		}
	}
	for _, m := range cur.Members {
		if next.Member(m.ID()) == nil {
			out = append(out, fmt.Sprintf("removing %s", m.Name))
		}
	}
	if cur.Quorum != next.Quorum {
		out = append(out, "setting the admission rule to "+next.Quorum.String())
	}
	if cur.Policy != next.Policy {
		out = append(out, fmt.Sprintf("setting the secrecy policy to %s", next.Policy))
	}
	if len(out) == 0 {
		out = append(out, "a new epoch")
	}
	return out
}

func sideNote(side string) string {
	if side == "" {
		return ""
	}
	return ", side " + side
}

// Proposal is one roster change waiting for approvals, as parley pending
// lists it.
type Proposal struct {
	Version uint64    `json:"version"`
	Maker   string    `json:"maker"`
	Mine    bool      `json:"mine,omitempty"`
	Time    time.Time `json:"time"`
	// Change says what it does, phrase by phrase; Added details the
	// members it admits, Removed names those it removes, Rule the
	// admission rule it sets.
	Change  []string `json:"change"`
	Added   []Member `json:"added,omitempty"`
	Removed []string `json:"removed,omitempty"`
	Rule    string   `json:"rule,omitempty"`
	// ApprovedBy names the organizers who approved it; Missing the sides
	// an organizer of which must still approve.
	ApprovedBy []string `json:"approved_by,omitempty"`
	Missing    []string `json:"missing_sides"`
	// Problem, when set, says why it can no longer be approved
	// (another change overtook it, or the relay delivered an old one).
	Problem string `json:"problem,omitempty"`
}

// proposalInfo describes p against cur, the roster in force.
func proposalInfo(st *channelState, p *proposalRecord, cur *crypto.Roster) Proposal {
	out := Proposal{Maker: p.Maker, Mine: p.Mine, Time: p.Received, Missing: []string{}}
	r, err := p.roster()
	if err != nil {
		out.Problem = err.Error()
		return out
	}
	out.Version = r.Version
	base := cur
	if e := st.epoch(r.Version - 1); e != nil {
		if b, err := crypto.ParseRoster(e.Roster); err == nil {
			base = b // an overtaken proposal is shown against its own base
		}
	}
	out.Change = describeChange(base, r)
	for _, m := range r.Members {
		if base.Member(m.ID()) == nil {
			out.Added = append(out.Added, Member{Name: m.Name, Role: m.Role.String(), Side: m.Side, SafetyNumber: m.Identity.SafetyNumber(),
				Verified: st.Verified[fmt.Sprintf("%x", m.Identity.Fingerprint())]})
		}
	}
	for _, m := range base.Members {
		if r.Member(m.ID()) == nil {
			out.Removed = append(out.Removed, m.Name)
		}
	}
	if r.Quorum != base.Quorum {
		out.Rule = r.Quorum.String()
	}
	for _, a := range r.Approvals {
		if m := base.Member(crypto.KeyIDOf(a.Signer)); m != nil {
			out.ApprovedBy = append(out.ApprovedBy, m.Name)
		}
	}
	if err := checkApprovable(r, cur); err != nil {
		out.Problem = err.Error()
		return out
	}
	missing, _ := r.VerifyProposal(cur)
	out.Missing = append(out.Missing, missing...)
	return out
}

// checkApprovable says why r cannot be approved on top of cur, or nil.
func checkApprovable(r, cur *crypto.Roster) error {
	if r.Version <= cur.Version {
		return fmt.Errorf("it is a change of roster version %d, and the channel is at version %d now: another change overtook it, or the relay delivered an old proposal; it cannot be approved", r.Version-1, cur.Version)
	}
	if _, err := r.VerifyProposal(cur); err != nil {
		return fmt.Errorf("it does not follow the roster in force: %w", err)
	}
	return nil
}

// Proposals lists the roster changes waiting for approvals that this
// home knows of (organizers), as they stand against the roster in
// force. parley pending syncs first.
func (c *Client) Proposals(name string) ([]Proposal, error) {
	row, err := c.view(name)
	if err != nil {
		return nil, err
	}
	cur, _, _, err := row.st.self(crypto.RoleOrganizer)
	if err != nil {
		return nil, err
	}
	var out []Proposal
	for _, p := range row.st.Proposals {
		out = append(out, proposalInfo(row.st, p, cur))
	}
	return out, nil
}
