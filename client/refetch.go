package client

import (
	"cmp"
	"context"
	"database/sql"
	"slices"
	"time"

	"parley/internal/relayclient"
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

// noteMissing records the sequence numbers between the last processed
// frame and seq.
func (st *channelState) noteMissing(seq uint64, now time.Time) {
	for s := max(st.LastSeq+1, seq-min(seq, maxMissing)); s < seq; s++ {
		st.Missing = append(st.Missing, missingSeq{Seq: s, Since: now})
	}
	if len(st.Missing) > maxMissing {
		st.Missing = st.Missing[len(st.Missing)-maxMissing:]
	}
}

// forgetExpired drops the skipped numbers the relay can no longer hold.
func (st *channelState) forgetExpired(now time.Time) {
	r, err := st.roster()
	if err != nil {
		return
	}
	st.Missing = slices.DeleteFunc(st.Missing, func(m missingSeq) bool { return now.Sub(m.Since) > r.Policy.Retention() })
}

// isMissing reports whether seq was skipped, and forgets it.
func (st *channelState) takeMissing(seq uint64) bool {
	i := slices.IndexFunc(st.Missing, func(m missingSeq) bool { return m.Seq == seq })
	if i < 0 {
		return false
	}
	st.Missing = slices.Delete(st.Missing, i, i+1)
	return true
}

// refetch asks the relay again for the frames it skipped, and processes
// those that it now delivers.
func (c *Client) refetch(ctx context.Context, conn *relayclient.Conn, name string, rep *SyncReport) error {
	row, err := c.view(name)
	if err != nil || len(row.st.Missing) == 0 {
		return err
	}
	slices.SortFunc(row.st.Missing, func(a, b missingSeq) int { return cmp.Compare(a.Seq, b.Seq) })
	since := row.st.Missing[0].Seq - 1
	last := row.st.Missing[len(row.st.Missing)-1].Seq
	for since < last {
		frames, more, err := conn.Fetch(ctx, since)
		if err != nil || len(frames) == 0 {
			return err
		}
		since = frames[len(frames)-1].Seq
		if err := c.update(name, func(tx *sql.Tx, row *channelRow) error {
			row.st.forgetExpired(c.Now())
			var entries []Entry
			for _, f := range frames {
				if !row.st.takeMissing(f.Seq) {
					continue
				}
				es, err := c.process(tx, row, f)
				if err != nil {
					return err
				}
				entries = append(entries, stamp(es, f.Seq, c.Now())...)
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
