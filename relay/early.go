package relay

import (
	"database/sql"
	"errors"

	"parley/internal/noroom"
)

// Early delivery. Under load the relay's one writer is busy nearly all
// the time with group commits whose two fsyncs (the frame log's and
// SQLite's) take a millisecond or more each, and a reader used to get a
// frame only once its commit was done. A batch that goes to the frame
// log is now handed to the connected readers (NewFrame.Deliver) as soon
// as its sequence numbers are fixed and its payloads written to the
// log, while its fsyncs run; the sender is still acknowledged only after
// the commit (docs/decisions.md, "Early delivery").
//
// The rules that keep a sequence number meaning one frame:
//
//   - Only batches whose payloads are already written go early: a full
//     disk then refuses a batch (at the log's write) before anyone saw
//     it. A batch written with less than earlyRoom left on the disk,
//     beyond what its frames kept in the table will take, waits for its
//     commit, which could still run out of room. Small batches,
//     at light load, go after their commit as before.
//   - A batch delivered early whose commit fails leaves its sequence
//     numbers behind: the writer keeps a floor per channel below which it
//     assigns none, and the next commit stores every floor. Until one has,
//     no batch goes early, so at most one delivered batch is ever
//     unstored.
//   - Before the first early delivery of a run, the store records that
//     one may happen (the meta row earlyDeliveryMark, committed on its
//     own). A clean Close with no floor outstanding clears it. A start
//     that finds it (the relay was killed, or a delivered batch never
//     committed) moves every channel's next sequence number on by
//     seqGapAfterEarly, more than a batch delivered early holds of any
//     one channel: numbers a reader may have seen are never given to
//     another frame. Clients ask for a gap again at every sync for the
//     channel's retention (one Fetch each, protocol.md §15.14), and find
//     nothing in it.
//
// What a reader can still see: a frame whose commit never happened (the
// relay died or its disk failed in the few milliseconds between the
// delivery and the commit). Its sender was never acknowledged and posts
// it again, so the reader is given the same bytes a second time, which
// its client refuses and reports as a replay (docs/threat-model.md).

// earlyDeliveryMark is the meta row present while frames may have been
// delivered before their commit.
const earlyDeliveryMark = "early_delivery"

// seqGapAfterEarly is how far a start moves every channel's sequence
// numbers on after a run that may have delivered frames that never
// committed. Only one batch at a time is delivered and not yet
// committed, and only a batch with at most this many frames of each
// channel goes early. A channel of twelve members posting one message
// at a time puts twelve in a batch; a client keeps asking for the
// numbers of a gap for the channel's retention, so it is kept small.
const seqGapAfterEarly = 64

// deliversEarly reports whether a batch about to go to the frame log is
// delivered before its commit: every frame has a Deliver, no channel has
// more frames in it than the gap a start leaves, no earlier delivered
// batch's numbers are still unstored (floors), and the store has
// recorded that early deliveries may happen. With floors outstanding, a
// second delivered batch that also failed would leave delivered numbers
// beyond the one gap a start adds; the batch that stores the floors
// (storeFloors) therefore waits for its commit, and the next may go
// early again.
func (s *SQLiteStore) deliversEarly(batch []*appendReq) bool {
	if len(s.early.floors) > 0 {
		return false
	}
	per := map[ChannelID]int{}
	for _, req := range batch {
		for _, f := range req.frames {
			per[f.Channel]++
			if f.Deliver == nil || per[f.Channel] > seqGapAfterEarly {
				return false
			}
		}
	}
	if !s.early.marked {
		// Committed on its own, before any delivery: the batch's own
		// commit is what early delivery does not wait for.
		if _, err := s.w.Exec(`INSERT OR REPLACE INTO meta (name, value) VALUES (?, x'01')`, earlyDeliveryMark); err != nil {
			return false
		}
		s.early.marked = true
	}
	return true
}

// earlyRoom is the free space a disk must have left, once a batch's
// payloads are written, for the batch to be delivered before its commit:
// far more than the commit's few pages of WAL need.
const earlyRoom = 16 << 20

// roomToCommit reports whether the disk holding the store has earlyRoom
// free beyond what the batch's frames kept in the table (epoch bundles,
// up to 512 KiB each) will add to the WAL.
func (s *SQLiteStore) roomToCommit(batch []*appendReq) bool {
	inline := int64(0)
	for _, req := range batch {
		for _, f := range req.frames {
			if f.Expires.IsZero() {
				inline += int64(len(f.Payload))
			}
		}
	}
	free, ok := noroom.Free(s.dir)
	return ok && free >= earlyRoom+uint64(inline)
}

// deliver hands a written batch's stored frames to their Deliver.
func deliver(batch []*appendReq, results []appendResult) {
	for i, req := range batch {
		if results[i].err != nil {
			continue
		}
		for j, f := range req.frames {
			f.Deliver(results[i].stored[j])
		}
	}
}

// earlyState is the writer's record of early deliveries.
type earlyState struct {
	marked bool
	// floors holds, per channel, the lowest sequence number the writer
	// may assign, above numbers delivered in a batch that did not
	// commit.
	floors map[ChannelID]uint64
}

// settle updates the floors after a batch delivered early: a failed
// commit leaves its channels' numbers behind; a commit that stored a
// channel's next number at or past its floor has made the floor
// durable.
func (e *earlyState) settle(states map[ChannelID]*chanState, failed bool) {
	for ch, st := range states {
		switch {
		case failed:
			if e.floors == nil {
				e.floors = map[ChannelID]uint64{}
			}
			e.floors[ch] = max(e.floors[ch], st.next)
		case st.dirty && st.next >= e.floors[ch]:
			delete(e.floors, ch)
		}
	}
}

// floor raises a channel's next sequence number, as read from the
// store, to its floor.
func (e *earlyState) floor(ch ChannelID, st *chanState) {
	if f := e.floors[ch]; f > st.next {
		st.next, st.dirty = f, true
	}
}

// storeFloors adds to states, raised to its floor, every channel with a
// floor that the batch does not touch, so that the commit stores every
// outstanding floor, not only those of channels posted to again. A
// channel no longer in the store (burned) needs no floor: it is given no
// more numbers.
func (e *earlyState) storeFloors(stmts appendStmts, states map[ChannelID]*chanState) error {
	for ch := range e.floors {
		if states[ch] != nil {
			continue
		}
		st := new(chanState)
		err := stmts.channel.QueryRow(ch[:]).Scan(&st.next, &st.bytes)
		if errors.Is(err, sql.ErrNoRows) {
			delete(e.floors, ch)
			continue
		} else if err != nil {
			return err
		}
		e.floor(ch, st)
		states[ch] = st
	}
	return nil
}

// clear removes the mark at a clean Close, once the writer has stopped,
// unless a delivered batch's numbers were never stored.
func (e *earlyState) clear(w *sql.DB) error {
	if !e.marked || len(e.floors) > 0 {
		return nil
	}
	_, err := w.Exec(`DELETE FROM meta WHERE name = ?`, earlyDeliveryMark)
	return err
}

// skipAfterEarly moves every channel's sequence numbers on, at a start,
// if the last run may have delivered frames that never committed.
func skipAfterEarly(w *sql.DB) error {
	tx, err := w.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var v []byte
	err = tx.QueryRow(`SELECT value FROM meta WHERE name = ?`, earlyDeliveryMark).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	} else if err != nil {
		return err
	}
	if _, err := tx.Exec(`UPDATE channels SET next_seq = next_seq + ?`, seqGapAfterEarly); err != nil {
		return err
	}
	if _, err := tx.Exec(`DELETE FROM meta WHERE name = ?`, earlyDeliveryMark); err != nil {
		return err
	}
	return tx.Commit()
}
