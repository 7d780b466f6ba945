package client

import (
	"fmt"
	"strings"
	"time"

	"parley/crypto"
)

// A relay that withholds the next epoch's bundle from a member keeps that
// member sealing in the old epoch, which a removed member can still read.
// The freshness bound caps how long that can go on: a member stops
// posting in the talks when its newest roster is too old, or when it has
// seen that a newer epoch exists which it could not enter.

// Freshness bounds. Organizers' clients start a new epoch every
// RekeyInterval; the bound leaves room for an organizer who is away for a
// while, more under the soft policy.
const (
	// staleWarnAfter is when members are told the epoch is getting old.
	staleWarnAfter = RekeyInterval + 6*time.Hour
	// takeOverAfter is when an organizer other than the lead one starts
	// the next epoch itself.
	takeOverAfter = RekeyInterval + 4*time.Hour
)

// StaleAfter is how old a channel's newest roster may be before its
// members stop posting in the talks.
func StaleAfter(p crypto.Policy) time.Duration {
	if p == crypto.PolicySoft {
		return 4 * 24 * time.Hour
	}
	return RekeyInterval + 12*time.Hour
}

// ErrStale is wrapped by the error that refuses a talks message for want
// of a fresh epoch.
var ErrStale = fmt.Errorf("no fresh epoch")

// stale says why talks messages must not be sealed now, or nil.
func (st *channelState) stale(now time.Time) error {
	r, err := st.roster()
	if err != nil {
		return err
	}
	return st.staleIn(r, now)
}

// superseded says, when this home knows that an epoch after its own
// exists, that nothing may be sealed in its own, in any compartment: the
// epoch it does not have may be the one that removed someone who still
// holds this one. The age bound (staleIn) pauses only the talks, so that
// a member can still brief that it is stuck; a known newer epoch pauses
// the briefings too.
func (st *channelState) superseded(r *crypto.Roster) error {
	if st.NewerEpoch > r.Version {
		return fmt.Errorf("%w: messages of epoch %d exist, but this home has not received that epoch (it holds %d): the relay may be withholding it from you; nothing was sent, and parley sync tries again", ErrStale, st.NewerEpoch, r.Version)
	}
	return nil
}

// staleIn is stale with st's roster parsed already (r).
func (st *channelState) staleIn(r *crypto.Roster, now time.Time) error {
	if err := st.superseded(r); err != nil {
		return err
	}
	age, limit := now.Sub(r.Issued), StaleAfter(r.Policy)
	if age <= limit {
		return nil
	}
	return fmt.Errorf("%w: this home's newest roster is %s old, and the talks pause after %s without a new epoch: the relay may be withholding it, or no organizer has synced; an organizer (%s) running parley sync starts one. Nothing was sent in the talks", ErrStale, FormatDuration(age.Truncate(time.Hour)), FormatDuration(limit), organizerNames(r))
}

// staleWarning is the transcript line, once per epoch, that comes before
// the talks pause.
func (st *channelState) staleWarning(now time.Time) []Entry {
	r, err := st.roster()
	if err != nil || st.Status != statusActive || now.Sub(r.Issued) < staleWarnAfter || st.StaleWarned >= r.Version {
		return nil
	}
	st.StaleWarned = r.Version
	return []Entry{notice(ReasonStaleEpoch, "no new epoch for %s: the talks pause for this home at %s unless an organizer (%s) runs parley sync; the relay may also be withholding the new epoch", FormatDuration(now.Sub(r.Issued).Truncate(time.Hour)), FormatDuration(StaleAfter(r.Policy)), organizerNames(r))}
}

func organizerNames(r *crypto.Roster) string {
	var names []string
	for _, m := range r.Members {
		if m.Role == crypto.RoleOrganizer {
			names = append(names, m.Name)
		}
	}
	return strings.Join(names, ", ")
}
