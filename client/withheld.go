package client

import (
	"database/sql"
	"fmt"
	"time"
)

// withheldAfter is how long after a frame reached this home from one
// relay another may still lack it before it is named: its sender may
// have reached it a little later, or retried after a failure.
const withheldAfter = 10 * time.Minute

// relayLack is what one relay of a channel lacks that others delivered.
type relayLack struct {
	// Frames counts frames another relay delivered more than
	// withheldAfter before this relay was last fetched to its end, that
	// this relay has not delivered.
	Frames int
	// From counts them by the relay (ID) that delivered each first.
	From map[int]int
}

// lacks counts, for every relay of the channel, the frames it lacks.
// Only frames that arrived after the relay was added count, and only up
// to its last complete fetch: a relay that cannot be reached lacks
// nothing yet.
func (c *Client) lacks(tx *sql.Tx, row *channelRow) (map[int]*relayLack, error) {
	out := map[int]*relayLack{}
	for _, r := range row.st.Relays {
		out[r.ID] = &relayLack{From: map[int]int{}}
	}
	cutoff := c.Now().Add(-row.st.retention())
	err := c.eachSeen(tx, row.id, func(info *seenInfo) seenAction {
		// Posted before the relay was in use (or past the retention): not
		// expected from it. Arrived here less than withheldAfter before
		// its last complete fetch: its sender may not have reached it yet
		// (a sender posts to one relay after another, and retries).
		if info.Refused {
			return keepSeen
		}
		at, arrived := time.UnixMilli(info.At), time.UnixMilli(max(info.Arrived, info.At))
		for _, r := range row.st.Relays {
			if info.Relays&r.bit() != 0 || at.Before(r.Added) || at.Before(cutoff) || r.Synced.Sub(arrived) < withheldAfter {
				continue
			}
			out[r.ID].Frames++
			out[r.ID].From[info.First]++
		}
		return keepSeen
	})
	return out, err
}

// withheldLines names, once per increase, a relay that lacks frames
// other relays delivered: "relay 2 (host) has not delivered 14 frames
// that relay 1 (host) delivered".
func (c *Client) withheldLines(tx *sql.Tx, row *channelRow) ([]Entry, error) {
	if len(row.st.Relays) < 2 {
		return nil, nil
	}
	lacks, err := c.lacks(tx, row)
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, r := range row.st.Relays {
		l := lacks[r.ID]
		if l.Frames > r.Withheld {
			from := ""
			for id, n := range l.From {
				if o := row.st.relay(id); o != nil {
					if from != "" {
						from += ", "
					}
					from += fmt.Sprintf("%d from %s", n, o.Name())
				}
			}
			e := notice(ReasonRelayWithheld, "%s has not delivered %d frame(s) that other relays delivered at least %s earlier (%s): it withholds them, lost them, or their senders could not reach it; this home reads them from the other relays",
				r.Name(), l.Frames, FormatDuration(withheldAfter), from)
			e.Seq, e.Time = row.st.Arrived, c.Now().UTC()
			out = append(out, e)
		}
		r.Withheld = l.Frames
	}
	return out, nil
}

// retention is how long the channel's frames live at a relay.
func (st *channelState) retention() time.Duration {
	if r, err := st.roster(); err == nil {
		return r.Policy.Retention()
	}
	return 72 * time.Hour
}

// epochAheadLine says, once per epoch, that frames of an epoch this home
// has not entered arrived and no relay delivered the epoch itself. With
// several relays it is said after every relay was fetched: one relay is
// often a little ahead of another.
func (st *channelState) epochAheadLine(now time.Time) []Entry {
	cur := st.current()
	if len(st.Relays) < 2 || cur == nil || st.NewerEpoch <= cur.Epoch || st.AheadWarned >= st.NewerEpoch {
		return nil
	}
	st.AheadWarned = st.NewerEpoch
	e := notice(ReasonEpochWithheld, "frames of epoch %d arrived, but no relay has delivered that epoch to this home (it holds %d): the relays may be withholding it from you; talks messages wait until it arrives", st.NewerEpoch, cur.Epoch)
	e.Seq, e.Time = st.Arrived, now.UTC()
	return []Entry{e}
}
