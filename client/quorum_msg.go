package client

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"parley/crypto"
)

// A proposal travels in the talks compartment as typeProposal messages,
// each one piece of the maker's signed roster (without approvals):
//
//	id (32: the hash of that roster) ‖ index (1) ‖ count (1) ‖ piece
//
// A roster of many members is larger than one message (each member
// carries two 1216-byte KEM keys), so it is cut in pieces; the whole
// must parse, hash to id and be signed by the sender. An approval or a
// withdrawal is one typeApproval message:
//
//	kind (1: 1 approve, 2 withdraw) ‖ version (8) ‖ id (32) ‖ signature (64, approvals only)
//
// whose signature is the sender's Roster.Approve of exactly that roster.

// proposalHeader is the size of a piece's header.
const proposalHeader = 32 + 2

// proposalPiece is the most roster bytes one message carries: what
// crypto.MaxBody leaves after the sender's time and the header.
const proposalPiece = crypto.MaxBody - 8 - proposalHeader

// maxProposalPieces bounds a proposal's pieces: enough for a roster of
// crypto.MaxMembers members with the longest names.
const maxProposalPieces = 16

const (
	approvalKindApprove  = 1
	approvalKindWithdraw = 2
)

// proposalChunks cuts a marshalled roster into message contents.
func proposalChunks(id [32]byte, raw []byte) [][]byte {
	n := (len(raw) + proposalPiece - 1) / proposalPiece
	var out [][]byte
	for i := range n {
		b := append(append([]byte(nil), id[:]...), byte(i), byte(n))
		out = append(out, append(b, raw[i*proposalPiece:min(len(raw), (i+1)*proposalPiece)]...))
	}
	return out
}

// partialProposal collects the pieces of a proposal still arriving.
type partialProposal struct {
	ID     [32]byte       `json:"id"`
	Count  int            `json:"count"`
	Pieces map[int][]byte `json:"pieces"`
}

func encodeApproval(kind byte, version uint64, id [32]byte, sig []byte) []byte {
	b := binary.BigEndian.AppendUint64([]byte{kind}, version)
	return append(append(b, id[:]...), sig...)
}

// receiveProposal takes one piece of a proposal from sender, an
// organizer of epoch roster r. Only organizers keep proposals; one
// maker has at most one on its way at a time.
func (st *channelState) receiveProposal(sender *crypto.Member, self *crypto.Member, t time.Time, content []byte) []Entry {
	if self.Role != crypto.RoleOrganizer {
		return nil // not ours to approve: nothing to show
	}
	if sender.Role != crypto.RoleOrganizer {
		return []Entry{notice(ReasonRejected, "ignored a roster proposal from %s, who is no organizer", sender.Name)}
	}
	if len(content) < proposalHeader {
		return []Entry{notice(ReasonMalformed, "rejected a malformed roster proposal from %s", sender.Name)}
	}
	var id [32]byte
	copy(id[:], content)
	index, count := int(content[32]), int(content[33])
	if count == 0 || count > maxProposalPieces || index >= count {
		return []Entry{notice(ReasonMalformed, "rejected a malformed roster proposal from %s", sender.Name)}
	}
	if st.PartialProposals == nil {
		st.PartialProposals = map[string]*partialProposal{}
	}
	p := st.PartialProposals[sender.Name]
	if p == nil || p.ID != id || p.Count != count {
		p = &partialProposal{ID: id, Count: count, Pieces: map[int][]byte{}}
		st.PartialProposals[sender.Name] = p
	}
	p.Pieces[index] = bytes.Clone(content[proposalHeader:])
	if len(p.Pieces) < count {
		return nil
	}
	delete(st.PartialProposals, sender.Name)
	var raw []byte
	for i := range count {
		raw = append(raw, p.Pieces[i]...)
	}
	r, err := crypto.ParseRoster(raw)
	if err != nil || len(r.Approvals) > 0 || r.Hash() != id {
		return []Entry{notice(ReasonMalformed, "rejected a malformed roster proposal from %s", sender.Name)}
	}
	if !bytes.Equal(r.Signer, sender.Keys.SigningKey) {
		return []Entry{notice(ReasonForged, "rejected a roster proposal that %s sent but did not sign", sender.Name)}
	}
	// The newest proposal of a maker replaces its older one.
	st.Proposals = slices.DeleteFunc(st.Proposals, func(q *proposalRecord) bool { return !q.Mine && q.Maker == sender.Name })
	st.Proposals = append(st.Proposals, &proposalRecord{Roster: raw, Maker: sender.Name, Received: t})
	cur, err := st.roster()
	if err != nil {
		return nil
	}
	missing, err := r.VerifyProposal(cur)
	if err != nil {
		return []Entry{notice(ReasonProposal, "%s proposed roster version %d, which cannot be approved: %v", sender.Name, r.Version, err)}
	}
	text := fmt.Sprintf("%s proposes %s (roster version %d); it needs the approval of an organizer of %s: parley pending %s shows it, parley approve %s approves it",
		sender.Name, strings.Join(describeChange(cur, r), ", "), r.Version, sidesPhrase(missing), st.Name, st.Name)
	return []Entry{{Time: t, Kind: KindSystem, Reason: ReasonProposal, Text: text}}
}

// receiveApproval takes an approval or withdrawal from sender.
func (st *channelState) receiveApproval(sender *crypto.Member, self *crypto.Member, t time.Time, content []byte) []Entry {
	if self.Role != crypto.RoleOrganizer {
		return nil
	}
	if sender.Role != crypto.RoleOrganizer {
		return []Entry{notice(ReasonRejected, "ignored an approval from %s, who is no organizer", sender.Name)}
	}
	if len(content) < 1+8+32 {
		return []Entry{notice(ReasonMalformed, "rejected a malformed approval from %s", sender.Name)}
	}
	kind, version := content[0], binary.BigEndian.Uint64(content[1:])
	var id [32]byte
	copy(id[:], content[9:])
	p := st.proposalByID(id)
	if p == nil {
		return nil // a proposal this home never had, or is done with
	}
	line := func(format string, args ...any) []Entry {
		return []Entry{{Time: t, Kind: KindSystem, Reason: ReasonApproval, Text: fmt.Sprintf(format, args...)}}
	}
	switch {
	case kind == approvalKindWithdraw && len(content) == 41 && p.Maker == sender.Name && !p.Mine:
		st.Proposals = slices.DeleteFunc(st.Proposals, func(q *proposalRecord) bool { return q == p })
		return line("%s withdrew their proposal of roster version %d", sender.Name, version)
	case kind != approvalKindApprove || len(content) != 41+crypto.SignatureSize:
		return []Entry{notice(ReasonMalformed, "rejected a malformed approval from %s", sender.Name)}
	}
	if slices.ContainsFunc(p.Approvals, func(a crypto.Approval) bool { return bytes.Equal(a.Signer, sender.Keys.SigningKey) }) {
		return nil
	}
	r, err := p.roster()
	if err != nil {
		return nil
	}
	a := crypto.Approval{Signer: bytes.Clone(sender.Keys.SigningKey), Signature: bytes.Clone(content[41:])}
	r.Approvals = append(r.Approvals, a)
	cur, err := st.roster()
	if err != nil {
		return nil
	}
	missing, err := r.VerifyProposal(cur)
	switch {
	case errors.Is(err, crypto.ErrBadSignature), errors.Is(err, crypto.ErrUnknownSigner):
		return []Entry{notice(ReasonForged, "rejected an approval from %s of roster version %d: %v", sender.Name, r.Version, err)}
	case err != nil:
		return nil // the proposal is void now; our own is dropped at the next duties
	case len(r.Approvals) > crypto.MaxApprovals:
		return nil
	}
	p.Approvals = r.Approvals
	whose := p.Maker + "'s"
	if p.Mine {
		whose = "your"
	}
	still := "every side it needs has approved it"
	if len(missing) > 0 {
		still = "it still needs " + sidesPhrase(missing)
	}
	return line("%s approved %s proposal of roster version %d; %s", sender.Name, whose, r.Version, still)
}
