package crypto

import (
	"encoding/binary"
	"fmt"
)

// A Report is what the sender of a message knew when it sealed it. It
// travels encrypted inside every envelope, covered by the sender's
// pairwise tags, so a reader can trust it as much as the message itself.
// It turns the relay's silent attacks into visible ones:
//
//   - Heard tells every reader how many messages the sender knows exist
//     from each member, so a message the relay withheld from one reader
//     shows as soon as anyone who got it speaks;
//   - PrevHeard does the same for the previous epoch, and its entry for
//     the sender closes the sender's chain there, so drops just before a
//     rekey are not forgotten;
//   - RosterHash names the roster the sender sealed for, so two halves of
//     a forked channel that share secrets see the fork;
//   - Synced is when the sender last fetched everything, so a sender can
//     tell that its own messages did not reach a reader who spoke after;
//   - PendingKey carries the sender's rotated KEM key until a roster
//     adopts it, so a relay cannot suppress key updates without
//     suppressing every message of that member.
type Report struct {
	// RosterHash is the hash of the sender's roster of the message's
	// epoch.
	RosterHash [32]byte
	// Heard[j] is one past the highest counter the sender opened from
	// reader j of the compartment (Roster.Readers order) in this epoch
	// (ReceiveChain.Received): counters below it exist. The sender's
	// own slot holds the message's counter.
	Heard []uint32
	// PrevHeard is Heard for the same compartment of the previous epoch,
	// in that epoch's reader order; the sender's own slot holds how many
	// messages it sent there. Empty when the sender had no previous
	// epoch.
	PrevHeard []uint32
	// Synced is when the sender last fetched every frame (Unix seconds).
	Synced uint64
	// ClosedEpoch and ClosedCount close the sender's chain in the last
	// epoch before this one in which it sent in this compartment: how
	// many messages it sent there. Zero when there is none. Unlike
	// PrevHeard it reaches past several epochs in which the sender
	// stayed silent.
	ClosedEpoch uint64
	ClosedCount uint32
	// PendingKey is a rotated KEM key with its kem_sig (§8.5), or nil.
	PendingKey []byte
}

// Report layout inside the plaintext, after the tag slots:
//
//	roster_hash (32) ‖ heard (64 × u32) ‖ prev_heard (64 × u32) ‖
//	u64(synced) ‖ u64(closed_epoch) ‖ u32(closed_count) ‖
//	u16(pending_len) ‖ pending (PendingKeySize)
//
// Heard and PrevHeard are zero beyond their readers; pending_len is 0 or
// PendingKeySize and the pending area is zero when unused.
func (r Report) marshalInto(b []byte) error {
	if len(r.Heard) > MaxMembers || len(r.PrevHeard) > MaxMembers {
		return fmt.Errorf("report for more than %d members: %w", MaxMembers, ErrTooLarge)
	}
	if len(r.PendingKey) != 0 && len(r.PendingKey) != PendingKeySize {
		return malformed("report", "pending key of the wrong size")
	}
	copy(b, r.RosterHash[:])
	heard, prev := b[32:32+4*MaxMembers], b[32+4*MaxMembers:32+8*MaxMembers]
	for i, n := range r.Heard {
		binary.BigEndian.PutUint32(heard[4*i:], n)
	}
	for i, n := range r.PrevHeard {
		binary.BigEndian.PutUint32(prev[4*i:], n)
	}
	rest := b[32+8*MaxMembers:]
	binary.BigEndian.PutUint64(rest, r.Synced)
	binary.BigEndian.PutUint64(rest[8:], r.ClosedEpoch)
	binary.BigEndian.PutUint32(rest[16:], r.ClosedCount)
	binary.BigEndian.PutUint16(rest[20:], uint16(len(r.PendingKey)))
	copy(rest[22:], r.PendingKey)
	return nil
}

// parseReport reads a report laid out by marshalInto. Heard and PrevHeard
// come back with all 64 slots; the caller knows how many readers each
// epoch has.
func parseReport(b []byte) (Report, error) {
	var r Report
	copy(r.RosterHash[:], b)
	r.Heard, r.PrevHeard = make([]uint32, MaxMembers), make([]uint32, MaxMembers)
	for i := range MaxMembers {
		r.Heard[i] = binary.BigEndian.Uint32(b[32+4*i:])
		r.PrevHeard[i] = binary.BigEndian.Uint32(b[32+4*MaxMembers+4*i:])
	}
	rest := b[32+8*MaxMembers:]
	r.Synced = binary.BigEndian.Uint64(rest)
	r.ClosedEpoch = binary.BigEndian.Uint64(rest[8:])
	r.ClosedCount = binary.BigEndian.Uint32(rest[16:])
	switch n := binary.BigEndian.Uint16(rest[20:]); {
	case n == PendingKeySize:
		r.PendingKey = append([]byte(nil), rest[22:22+n]...)
	case n != 0:
		return Report{}, malformed("report", "pending key of the wrong size")
	case !allZero(rest[22:]):
		return Report{}, malformed("report", "non-zero unused pending key")
	}
	return r, nil
}
