package client

import (
	"fmt"
	"time"

	"parley/crypto"
)

// refusedLine says why the relay turned this member's key away, as far as
// the home knows. Only a roster signed by an organizer proves a removal,
// and a removed member's key is refused before it can fetch that roster;
// so the relay's refusal alone is reported as what it is. A membership
// whose end, set in the signed roster, has passed is the one refusal the
// home can explain.
func (st *channelState) refusedLine(now time.Time) string {
	if end, ok := st.membershipEnded(now); ok {
		return fmt.Sprintf("your membership ended on %s, as set when you were admitted; the relay no longer accepts this member's key", end.UTC().Format("2006-01-02 15:04 UTC"))
	}
	return "the relay refuses this member's key, and this home has seen no removal signed by an organizer: you may have been removed, or the relay lost its data or is hostile; each sync asks again"
}

// refusedError is what a command that needs the channel says while the
// channel is closed to this member.
func (st *channelState) refusedError(now time.Time) error {
	switch {
	case st.RemovedSigned:
		if r, err := st.roster(); err == nil && r.Quorum != crypto.QuorumNone {
			return fmt.Errorf("an organizer signed an epoch of this channel without you (this home cannot check that your side approved it)")
		}
		return fmt.Errorf("you were removed from this channel (by a roster an organizer signed)")
	case func() bool { _, ok := st.membershipEnded(now); return ok }():
		return fmt.Errorf("your membership of this channel has ended")
	}
	return fmt.Errorf("the relay refuses this member's key (no removal signed by an organizer has been seen); nothing can be sent until it accepts the key again")
}

// membershipEnded reports whether the signed roster gave this member an
// end that has passed.
func (st *channelState) membershipEnded(now time.Time) (time.Time, bool) {
	r, err := st.roster()
	if err != nil {
		return time.Time{}, false
	}
	k, err := st.keys()
	if err != nil {
		return time.Time{}, false
	}
	m := r.Member(k.ID())
	if m == nil || m.Expires.IsZero() || now.Before(m.Expires) {
		return time.Time{}, false
	}
	return m.Expires, true
}
