package client

import (
	"cmp"
	"context"
	"database/sql"
	"slices"
	"time"
)

// A relay that delays a frame past later ones would, if the client only
// asked for frames after the last it saw, turn a held frame into a lost
// one. The client remembers the sequence numbers the relay skipped and
// asks for them again at every sync, for as long as the relay could still
// hold them (the channel's retention).

// maxMissing bounds the skipped sequence numbers a home keeps asking for.
const maxMissing = 1024

// missingSeq is a sequence number the relay skipped, and when.
type missingSeq struct {
	Seq   uint64    `json:"seq"`
	Since time.Time `json:"since"`
}

// noteMissing records the sequence numbers between the last frame
// taken from the relay and seq.
func (r *relayState) noteMissing(seq uint64, now time.Time) {
	for s := max(r.LastSeq+1, seq-min(seq, maxMissing)); s < seq; s++ {
		r.Missing = append(r.Missing, missingSeq{Seq: s, Since: now})
	}
	if len(r.Missing) > maxMissing {
		r.Missing = r.Missing[len(r.Missing)-maxMissing:]
	}
}

// forgetExpired drops the skipped numbers the relay can no longer hold.
func (r *relayState) forgetExpired(st *channelState, now time.Time) {
	ros, err := st.roster()
	if err != nil {
		return
	}
	r.Missing = slices.DeleteFunc(r.Missing, func(m missingSeq) bool { return now.Sub(m.Since) > ros.Policy.Retention() })
}

// takeMissing reports whether seq was skipped, and forgets it.
func (r *relayState) takeMissing(seq uint64) bool {
	i := slices.IndexFunc(r.Missing, func(m missingSeq) bool { return m.Seq == seq })
	if i < 0 {
		return false
	}
	r.Missing = slices.Delete(r.Missing, i, i+1)
	return true
}

// refetch asks a relay again for the frames it skipped, and takes
// those that it now delivers.
func (c *Client) refetch(ctx context.Context, rc relayConn, name string, rep *SyncReport) error {
	row, err := c.view(name)
	if err != nil {
		return err
	}
	r := row.st.relay(rc.id)
	if r == nil || len(r.Missing) == 0 {
		return nil
	}
	slices.SortFunc(r.Missing, func(a, b missingSeq) int { return cmp.Compare(a.Seq, b.Seq) })
	since := r.Missing[0].Seq - 1
	last := r.Missing[len(r.Missing)-1].Seq
	for since < last {
		frames, more, err := rc.conn.Fetch(ctx, since)
		if err != nil || len(frames) == 0 {
			return err
		}
		since = frames[len(frames)-1].Seq
		if err := c.update(name, func(tx *sql.Tx, row *channelRow) error {
			r := row.st.relay(rc.id)
			if r == nil {
				return nil
			}
			r.forgetExpired(row.st, c.Now())
			var entries []Entry
			for _, f := range frames {
				if !r.takeMissing(f.Seq) {
					continue
				}
				es, err := c.take(tx, row, r, f)
				if err != nil {
					return err
				}
				entries = append(entries, es...)
			}
			rep.New = append(rep.New, entries...)
			return c.appendTranscript(tx, row.id, entries)
		}); err != nil {
			return err
		}
		if !more {
			return nil
		}
	}
	return nil
}

// stamp gives entries made from frame seq their sequence number, and a
// time when the frame carried none.
func stamp(es []Entry, seq uint64, now time.Time) []Entry {
	for i := range es {
		es[i].Seq = seq
		if es[i].Time.IsZero() {
			es[i].Time = now.UTC()
		}
	}
	return es
}
