package client

import "fmt"

// Reason says what a system entry of the transcript reports, for
// programs reading `parley read --json` and for tests: the English text
// is for people and may change, the reason does not.
type Reason string

// Reasons of system entries. Those for which Alarm is true mean that the
// relay (or someone with it) may be attacking the channel.
const (
	// ReasonWithheld: messages that another member had never reached
	// this home.
	ReasonWithheld Reason = "withheld"
	// ReasonWithheldFromPeer: our messages had not reached a reader who
	// synced well after they were sent.
	ReasonWithheldFromPeer Reason = "withheld-from-peer"
	// ReasonGap: frames or messages missing, cause unknown (expired, or
	// withheld).
	ReasonGap Reason = "gap"
	// ReasonLate: a message arrived after later ones (it fills a gap).
	ReasonLate Reason = "late"
	// ReasonFork: two rosters under one epoch number.
	ReasonFork Reason = "fork"
	// ReasonUndecryptable: a member's message of an epoch we hold does
	// not decrypt (altered, or a fork).
	ReasonUndecryptable Reason = "undecryptable"
	// ReasonEpochWithheld: a newer epoch exists that this home has not
	// received.
	ReasonEpochWithheld Reason = "epoch-withheld"
	// ReasonStaleEpoch: the newest roster is getting old; the talks
	// pause at the policy's bound.
	ReasonStaleEpoch Reason = "stale-epoch"
	// ReasonKeyUpdateOverdue: our rotated key is in no roster after
	// KeyUpdateOverdue.
	ReasonKeyUpdateOverdue Reason = "key-update-overdue"
	// ReasonRestored: this home was restored from an older copy (or a
	// copy of it is in use elsewhere).
	ReasonRestored Reason = "restored"
	// ReasonAdmissionAltered: a join request was altered on its way.
	ReasonAdmissionAltered Reason = "admission-altered"
	// ReasonForged: a frame claims a sender it does not come from (bad
	// tag, a key outside the roster, a removed member, a role that
	// cannot post there).
	ReasonForged Reason = "forged"
	// ReasonReplay: a message or roster seen before, delivered again.
	ReasonReplay Reason = "replay"
	// ReasonMalformed: a frame that does not parse.
	ReasonMalformed Reason = "malformed"
	// ReasonRejected: a frame refused for another stated reason.
	ReasonRejected Reason = "rejected"
	// ReasonRemoved: a roster an organizer signed left us out.
	ReasonRemoved Reason = "removed"
	// ReasonRefused: the relay refuses our key, with no signed removal.
	ReasonRefused Reason = "refused"
	// ReasonDraftConflict: two versions of a draft share a number.
	ReasonDraftConflict Reason = "draft-conflict"
	// ReasonRelayWithheld: one relay of the channel lacks frames that
	// another delivered well before.
	ReasonRelayWithheld Reason = "relay-withheld"
	// ReasonProposal: a roster change waiting for organizers'
	// approvals arrived, was dropped, or went out.
	ReasonProposal Reason = "proposal"
	// ReasonApproval: an organizer approved a proposal, or its maker
	// withdrew it.
	ReasonApproval Reason = "approval"
	// ReasonQuorum: a roster signed by an organizer lacks the approvals
	// the channel's rule requires: an organizer's client went around
	// the rule.
	ReasonQuorum Reason = "quorum"
	// ReasonRelayRestored: a relay that did not know the channel was
	// given it again by this (organizer's) home.
	ReasonRelayRestored Reason = "relay-restored"
)

// Alarm reports whether the reason means an attack may be under way.
func (r Reason) Alarm() bool {
	switch r {
	case ReasonWithheld, ReasonWithheldFromPeer, ReasonFork, ReasonUndecryptable, ReasonEpochWithheld,
		ReasonRestored, ReasonAdmissionAltered, ReasonForged, ReasonReplay, ReasonRelayWithheld, ReasonQuorum:
		return true
	}
	return false
}

// notice is a system entry with its reason.
func notice(r Reason, format string, args ...any) Entry {
	return Entry{Kind: KindSystem, Reason: r, Alarm: r.Alarm(), Text: fmt.Sprintf(format, args...)}
}
