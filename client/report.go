package client

import (
	"fmt"
	"slices"
	"time"

	"parley/crypto"
)

// Every message carries a crypto.Report of what its sender knew. This
// file fills it when sealing and compares it, on receipt, with what this
// home knows, turning the relay's silent attacks into transcript lines:
// messages withheld from us, our messages withheld from others, a forked
// roster, and this home restored from an older copy.

// withheldSlack is how long after one of our messages was posted a
// reader's sync must be before we conclude the relay kept it from them
// (it covers clocks that differ by a little).
const withheldSlack = 2 * time.Minute

// sentMark is when a relay first acknowledged one of this home's own
// messages (At, Unix seconds; 0 until one has).
type sentMark struct {
	Counter uint32 `json:"n"`
	At      int64  `json:"at"`
}

// sentRef names the mark of a message in the outbox, for its
// acknowledgement.
type sentRef struct {
	Epoch   uint64 `json:"epoch"`
	Chain   string `json:"chain"`
	Counter uint32 `json:"n"`
}

// maxSentMarks bounds the posting times kept per chain.
const maxSentMarks = 256

// heard returns, for the readers of comp in epoch e, one past the
// highest counter this home opened from each; ourCount stands in our own
// slot. Messages known only from others' reports do not count: the
// sender of a message withheld from us must learn it from our report.
func (e *epochState) heard(x *epochCtx, comp crypto.Compartment, self crypto.KeyID, ourCount uint32) ([]uint32, error) {
	side := ""
	if m := x.member(self); m != nil {
		side = m.Side
	}
	readers := x.roster.Readers(comp, side)
	out := make([]uint32, len(readers))
	for i, m := range readers {
		id := x.id(m)
		if id == self {
			out[i] = ourCount
			continue
		}
		if raw, ok := e.Recv[chainKey(comp, id)]; ok {
			if next, skipped, ok := crypto.PeekReceiveChain(raw); ok && skipped == 0 && len(raw) == 38 {
				out[i] = next // nothing awaited: Received is Next
				continue
			}
			ch, err := crypto.ParseReceiveChain(raw)
			if err != nil {
				return nil, err
			}
			out[i] = ch.Received()
		}
	}
	return out, nil
}

// report is what this home tells the readers of a message sealed with
// counter n in compartment comp of the current epoch. epochOf gives an
// epoch's parsed roster and its hash (the Client's cache).
func (st *channelState) report(comp crypto.Compartment, self crypto.KeyID, n uint32, epochOf func(*epochState) (*epochCtx, error)) (crypto.Report, error) {
	e := st.current()
	x, err := epochOf(e)
	if err != nil {
		return crypto.Report{}, err
	}
	rep := crypto.Report{RosterHash: x.hash}
	if rep.Heard, err = e.heard(x, comp, self, n); err != nil {
		return rep, err
	}
	if prev := st.epoch(e.Epoch - 1); prev != nil {
		px, err := epochOf(prev)
		if err != nil {
			return rep, err
		}
		sent := uint32(0)
		if raw, ok := prev.Send[chainKey(comp, self)]; ok {
			if ch, err := crypto.ParseSendChain(raw); err == nil {
				sent = ch.Next
			}
		}
		if rep.PrevHeard, err = prev.heard(px, comp, self, sent); err != nil {
			return rep, err
		}
	}
	if !st.Synced.IsZero() {
		rep.Synced = uint64(st.Synced.Unix())
	}
	if cl, ok := st.Closed[comp.String()]; ok && cl.Epoch < e.Epoch {
		rep.ClosedEpoch, rep.ClosedCount = cl.Epoch, cl.Count
	}
	if st.NextKeys != nil {
		if next, err := crypto.ParseChannelKeys(st.NextKeys); err == nil {
			rep.PendingKey = keyUpdate(st, next)
		}
	}
	return rep, nil
}

// noteSealed records that our message n of chain ck was sealed, for
// checkOurs; noteAcknowledged records when a relay first took it. A
// message no relay has acknowledged is nobody's to withhold: a refused
// or unanswered post keeps its bytes for the retry, and a reader's
// report made meanwhile must not read as the relay keeping it from them.
func (e *epochState) noteSealed(ck string, n uint32) {
	if e.SentAt == nil {
		e.SentAt = map[string][]sentMark{}
	}
	marks := append(e.SentAt[ck], sentMark{Counter: n})
	if len(marks) > maxSentMarks {
		marks = marks[len(marks)-maxSentMarks:]
	}
	e.SentAt[ck] = marks
}

func (e *epochState) noteAcknowledged(ck string, n uint32, at time.Time) {
	for i := range e.SentAt[ck] {
		if m := &e.SentAt[ck][i]; m.Counter == n && m.At == 0 {
			m.At = at.Unix()
		}
	}
}

// checkReport compares the report in a message from sender (already
// opened, tags checked and counter accepted) with what this home knows.
// x is e's derived state; epochOf gives another epoch's (the Client's
// cache).
func (st *channelState) checkReport(e *epochState, x *epochCtx, h crypto.Header, sender *crypto.Member, rep crypto.Report, self crypto.KeyID, epochOf func(*epochState) (*epochCtx, error)) []Entry {
	var out []Entry
	if rep.RosterHash != x.hash {
		out = append(out, notice(ReasonFork, "ALERT: %s sealed a message for a different roster of epoch %d than this home holds: the channel is forked (two rosters under one version), and members may not all see the same people", sender.Name, h.Epoch))
		return out // the reader order below is not ours to trust
	}
	out = append(out, st.extendChains(e, x, h.Compartment, sender, rep.Heard, self, "")...)
	if prev := st.epoch(h.Epoch - 1); prev != nil && len(rep.PrevHeard) > 0 {
		if px, err := epochOf(prev); err == nil {
			out = append(out, st.extendChains(prev, px, h.Compartment, sender, rep.PrevHeard, self, fmt.Sprintf(" in epoch %d", prev.Epoch))...)
		}
	}
	out = append(out, st.checkClosed(h, sender, rep)...)
	return append(out, st.checkOurs(e, x, h.Compartment, sender, rep, self)...)
}

// extendChains moves each receive chain of e up to what sender says
// exists, keeping the keys of the messages not yet here so they still
// open if they arrive late, and says how many were kept from us. The
// sender's own entry counts too: in the previous epoch it closes the
// sender's chain.
func (st *channelState) extendChains(e *epochState, x *epochCtx, comp crypto.Compartment, sender *crypto.Member, heard []uint32, self crypto.KeyID, where string) []Entry {
	var out []Entry
	senderID := x.id(sender)
	for i, m := range x.roster.Readers(comp, sender.Side) {
		id := x.id(m)
		if i >= len(heard) || id == self || (id == senderID && where == "") {
			continue
		}
		ck := chainKey(comp, id)
		raw, ok := e.Recv[ck]
		if !ok {
			continue
		}
		if next, _, ok := crypto.PeekReceiveChain(raw); ok && heard[i] <= next {
			continue // not behind the report: nothing to decode
		}
		ch, err := crypto.ParseReceiveChain(raw)
		if err != nil || heard[i] <= ch.Next {
			continue
		}
		n := ch.Expect(min(heard[i], ch.Next+crypto.MaxSkip))
		e.Recv[ck], _ = ch.MarshalBinary()
		had := sender.Name + " had them"
		if id == senderID {
			had = "its sender says it sent them"
		}
		out = append(out, notice(ReasonWithheld, "%s from %s%s never reached this home (%s): the relay withheld them, or they expired at the relay first", Count(n, "message", "messages"), m.Name, where, had))
	}
	return out
}

// checkOurs tells us when a reader's report, made after a sync that came
// well after one of our messages was posted, still lacks it: the relay
// kept our message from that reader. Each message is reported once.
func (st *channelState) checkOurs(e *epochState, x *epochCtx, comp crypto.Compartment, sender *crypto.Member, rep crypto.Report, self crypto.KeyID) []Entry {
	slot := x.slot(comp, self)
	if slot < 0 || slot >= len(rep.Heard) || rep.Synced == 0 {
		return nil
	}
	heard := rep.Heard[slot]
	ck := chainKey(comp, self)
	warned := chainKey(comp, x.id(sender))
	synced := time.Unix(int64(rep.Synced), 0)
	var missed []sentMark
	for _, mark := range e.SentAt[ck] {
		if mark.At != 0 && mark.Counter >= heard && mark.Counter >= e.Warned[warned] && time.Unix(mark.At, 0).Add(withheldSlack).Before(synced) {
			missed = append(missed, mark)
		}
	}
	if len(missed) == 0 {
		return nil
	}
	if e.Warned == nil {
		e.Warned = map[string]uint32{}
	}
	e.Warned[warned] = missed[len(missed)-1].Counter + 1
	first := time.Unix(missed[0].At, 0).UTC()
	return []Entry{notice(ReasonWithheldFromPeer, "%s of yours (the first sent %s) had not reached %s by their sync at %s: the relay withheld them from %s", Count(len(missed), "message", "messages"), first.Format("2006-01-02 15:04 MST"), sender.Name, synced.UTC().Format("2006-01-02 15:04 MST"), sender.Name)}
}

// restoredFrom handles one of our own messages found at the relay that
// this home neither has queued nor remembers sealing (its counter is at
// or past our sending chain): this home was restored from an older copy.
// The chain moves past it, so nothing is sealed twice under one message
// key (the random nonce already keeps such envelopes apart; readers
// would refuse the second as a replay).
func (st *channelState) restoredFrom(env []byte, keys *crypto.ChannelKeys) []Entry {
	clear, err := crypto.ParseClearHeader(env)
	if err != nil {
		return nil
	}
	e := st.epoch(clear.Epoch)
	if e == nil {
		return nil
	}
	r, err := crypto.ParseRoster(e.Roster)
	if err != nil {
		return nil
	}
	h, err := e.view(r, keys).Header(env)
	if err != nil {
		return nil
	}
	k := chainKey(h.Compartment, h.Sender)
	ch, err := crypto.ParseSendChain(e.Send[k])
	if err != nil || h.Counter < ch.Next {
		return nil
	}
	if err := ch.SkipTo(h.Counter + 1); err != nil {
		return nil
	}
	e.Send[k], _ = ch.MarshalBinary()
	if st.RestoredIn == h.Epoch {
		return nil
	}
	st.RestoredIn = h.Epoch
	return []Entry{notice(ReasonRestored, "ALERT: the relay holds messages this home sent that it does not remember (epoch %d): this home was restored from an older copy, or another copy of it is in use. Messages it sent after that copy was made are not in this transcript; if you did not restore it, someone else may hold a copy of this home", h.Epoch)}
}

// closedChain is our last epoch with messages sent in one compartment.
type closedChain struct {
	Epoch uint64 `json:"epoch"`
	Count uint32 `json:"count"`
}

// pastEpoch is what remains of an epoch whose chains were deleted: how
// many messages of each sender this home knew of there.
type pastEpoch struct {
	Epoch uint64            `json:"epoch"`
	Known map[string]uint32 `json:"known"`
	// AdminSecret is kept for a relay that missed later access lists
	// (an organizer's home only; admin.go).
	AdminSecret []byte `json:"admin_secret,omitempty"`
}

// maxPast bounds the past epochs a home remembers counts for.
const maxPast = 16

// closeEpoch records, as we leave epoch e, how many messages we sent in
// each compartment there.
func (st *channelState) closeEpoch(e *epochState) {
	for k, raw := range e.Send {
		ch, err := crypto.ParseSendChain(raw)
		if err != nil || ch.Next == 0 {
			continue
		}
		if st.Closed == nil {
			st.Closed = map[string]closedChain{}
		}
		st.Closed[compOf(k).String()] = closedChain{Epoch: e.Epoch, Count: ch.Next}
	}
}

// remember keeps the counts of an epoch whose chains are being deleted.
func (st *channelState) remember(e *epochState) {
	p := pastEpoch{Epoch: e.Epoch, Known: map[string]uint32{}, AdminSecret: e.AdminSecret}
	for k, raw := range e.Recv {
		if ch, err := crypto.ParseReceiveChain(raw); err == nil {
			p.Known[k] = ch.Next
		}
	}
	st.Past = append(st.Past, p)
	if len(st.Past) > maxPast {
		st.Past = st.Past[len(st.Past)-maxPast:]
	}
}

// compOf reads the compartment back from a chainKey.
func compOf(key string) crypto.Compartment {
	var c crypto.Compartment
	fmt.Sscanf(key, "%d:", &c)
	return c
}

// checkClosed compares a sender's statement of how many messages it sent
// in its last earlier epoch with what this home received there.
func (st *channelState) checkClosed(h crypto.Header, sender *crypto.Member, rep crypto.Report) []Entry {
	if rep.ClosedCount == 0 || rep.ClosedEpoch >= h.Epoch {
		return nil
	}
	ck := chainKey(h.Compartment, sender.ID())
	var n int
	if e := st.epoch(rep.ClosedEpoch); e != nil {
		raw, ok := e.Recv[ck]
		if !ok {
			return nil
		}
		ch, err := crypto.ParseReceiveChain(raw)
		if err != nil || rep.ClosedCount <= ch.Next {
			return nil
		}
		n = ch.Expect(min(rep.ClosedCount, ch.Next+crypto.MaxSkip))
		e.Recv[ck], _ = ch.MarshalBinary()
	} else {
		i := slices.IndexFunc(st.Past, func(p pastEpoch) bool { return p.Epoch == rep.ClosedEpoch })
		if i < 0 {
			return nil // an epoch before we joined
		}
		known, ok := st.Past[i].Known[ck]
		if !ok || rep.ClosedCount <= known {
			return nil
		}
		n = int(rep.ClosedCount - known)
		st.Past[i].Known[ck] = rep.ClosedCount
	}
	return []Entry{notice(ReasonWithheld, "%s from %s in epoch %d never reached this home (its sender says it sent them): the relay withheld them, or they expired at the relay first", Count(n, "message", "messages"), sender.Name, rep.ClosedEpoch)}
}
