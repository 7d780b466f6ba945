package client

import (
	"encoding/binary"
	"errors"
	"time"
)

// Message types inside the encrypted envelope (crypto.Message.Type).
const (
	typeText      byte = 1 // a message (talks) or a briefing
	typeLeave     byte = 2 // the sender leaves the channel
	typeDraft     byte = 3 // one chunk of a draft version (talks only)
	typeKeyUpdate byte = 4 // the sender's fresh KEM key, for the next roster
	typePadding   byte = 5 // rounds a draft's frames up to a power of two; content: the draft's id
	typeInitial   byte = 6 // a signatory's initial of a draft version (talks only; initial.go)
	typeProposal  byte = 7 // one piece of a roster change waiting for approvals (talks only; quorum_msg.go)
	typeApproval  byte = 8 // an organizer's approval of a proposal, or its maker's withdrawal (talks only)
)

// A body is the sender's clock, then the content. The time travels
// encrypted and authenticated with the message.
func encodeBody(t time.Time, content []byte) []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(t.UnixMilli()))
	return append(b, content...)
}

func decodeBody(b []byte) (time.Time, []byte, error) {
	if len(b) < 8 {
		return time.Time{}, nil, errors.New("message body too short")
	}
	ms := binary.BigEndian.Uint64(b)
	if ms > 1<<53 {
		return time.Time{}, nil, errors.New("message time out of range")
	}
	return time.UnixMilli(int64(ms)).UTC(), b[8:], nil
}
