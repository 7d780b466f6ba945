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
//
// With several relays a gap at one of them says little (another may have
// delivered those frames); the seen table names a relay that lacks what
// others delivered (withheld.go), so only a one-relay channel reports
// gaps this way.
func (st *channelState) unseen(r *relayState, seq uint64) uint64 {
	if len(st.Relays) > 1 || !st.gapMatters(r, seq) {
		return 0
	}
	return seq - r.LastSeq - 1
}

// gapMatters reports whether the relay skipping the numbers before seq
// means frames this home should have had.
func (st *channelState) gapMatters(r *relayState, seq uint64) bool {
	if st.Status != statusActive || r.LastSeq == 0 || seq <= r.LastSeq+1 {
		return false
	}
	_, m, _, err := st.self(0)
	return err == nil && m.Role.CanRead(crypto.Talks)
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
