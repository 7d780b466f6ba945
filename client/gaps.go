package client

import (
	"fmt"

	"parley/crypto"
)

// unseen counts the frames between the last one processed and seq that
// the relay did not deliver. Frames are deleted only by retention (epoch
// bundles never), so for a member who reads every compartment a gap is
// an expired message, or one the relay withholds. A mentor's fetch skips
// the talks, so its gaps mean nothing; a pending member's gaps are from
// before its admission.
func (st *channelState) unseen(seq uint64) uint64 {
	if st.Status != statusActive || st.LastSeq == 0 || seq <= st.LastSeq+1 {
		return 0
	}
	if _, m, _, err := st.self(0); err != nil || !m.Role.CanRead(crypto.Talks) {
		return 0
	}
	return seq - st.LastSeq - 1
}

// missingLine is the transcript line for n messages the relay did not
// deliver.
func (st *channelState) missingLine(n uint64) string {
	what, them := fmt.Sprintf("%d messages were", n), "them"
	if n == 1 {
		what, them = "1 message was", "it"
	}
	keeps := "a limited time"
	if r, err := st.roster(); err == nil {
		keeps = FormatDuration(r.Policy.Retention())
	}
	return fmt.Sprintf("%s missing before this home fetched %s: %s expired at the relay (it keeps messages %s), or the relay withheld %s; this home asks for %s again at every sync", what, them, subject(n), keeps, them, them)
}

func subject(n uint64) string {
	if n == 1 {
		return "it"
	}
	return "they"
}
