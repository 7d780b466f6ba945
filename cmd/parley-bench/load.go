package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"parley/crypto"
	"parley/internal/wire"
)

// maxPostsPerSender bounds every sending loop by count as well as time.
const maxPostsPerSender = 10_000_000

// tpResult is one throughput run.
type tpResult struct {
	delivered float64 // deliveries per second in the measured window
	posts     float64 // acknowledged posts per second
	// CPU time per delivery in the window, in microseconds: of the
	// relay process, and of this one (the clients).
	relayCPU, clientCPU float64
	// dropped is how many clients the relay dropped as too slow during
	// the run; delivered then counts what was delivered.
	dropped int
}

// droppedIn is how many clients were dropped as too slow over rounds.
func droppedIn(rs []tpResult) int {
	n := 0
	for _, r := range rs {
		n += r.dropped
	}
	return n
}

// window is the load generator's flow control for one channel: a sender
// may post only while no receiver of the channel lags more than limit
// posts behind. Without it a closed loop on acknowledgements alone lets
// receivers fall behind without bound at saturation, until a relay (the
// real one and the baseline alike) drops them as too slow. The bound is
// per receiver, not an average over the channel: with an average, one
// receiver starved of CPU on a loaded machine could hold the whole
// channel's allowance, overflow its queue and be dropped, failing the
// run by chance.
type window struct {
	mu     sync.Mutex
	cond   *sync.Cond
	posted int             // posts let through
	got    map[*client]int // posts each member has had (its own count as had)
	limit  int
	closed bool
}

// windowPerReceiver is how many posts a receiver may lag behind; the
// relays drop a connection with 64 frames queued (pushes and the
// acknowledgement of its own post in flight).
const windowPerReceiver = 32

func newWindow(limit int, members []*client) *window {
	w := &window{limit: limit, got: map[*client]int{}}
	for _, c := range members {
		w.got[c] = 0
	}
	w.cond = sync.NewCond(&w.mu)
	return w
}

func (w *window) lag() int {
	least := w.posted
	for _, n := range w.got {
		least = min(least, n)
	}
	return w.posted - least
}

// acquire waits until sender may post; it returns false once the window
// is closed.
func (w *window) acquire(sender *client) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.lag() >= w.limit && !w.closed {
		w.cond.Wait()
	}
	w.posted++
	if _, ok := w.got[sender]; ok {
		w.got[sender]++ // a sender is not sent its own post
	}
	return !w.closed
}

// release records a delivery to receiver.
func (w *window) release(receiver *client) {
	w.mu.Lock()
	if _, ok := w.got[receiver]; ok {
		w.got[receiver]++
	}
	w.cond.Broadcast()
	w.mu.Unlock()
}

// leave takes a member the relay dropped out of the window: it receives
// nothing more, so it must not hold the channel back.
func (w *window) leave(c *client) {
	w.mu.Lock()
	delete(w.got, c)
	w.cond.Broadcast()
	w.mu.Unlock()
}

func (w *window) close() {
	w.mu.Lock()
	w.closed = true
	w.cond.Broadcast()
	w.mu.Unlock()
}

// runThroughput drives every client's sender in a closed loop (post,
// wait for the acknowledgement, post again, within the channel's window)
// for warm+dur and counts the envelopes delivered to receivers during
// dur. With inline set, each
// post is sealed just before it is sent and each delivery is opened
// (chain, AEAD, tag) before it counts; otherwise the senders cycle
// through envelopes sealed ahead and receivers only count.
func runThroughput(s side, n int, warm, dur time.Duration, inline bool) (tpResult, error) {
	cs := s.clients
	p := &phase{}
	if inline {
		ops := make(map[*client]*opener, len(cs))
		for _, c := range cs {
			ops[c] = newOpener(c.m)
		}
		p.onEnv = func(c *client, env []byte, _ time.Time) error { return ops[c].open(env) }
	}
	members := map[*benchChannel][]*client{}
	for _, c := range cs {
		members[c.m.ch] = append(members[c.m.ch], c)
	}
	windows := map[*benchChannel]*window{}
	for ch, list := range members {
		windows[ch] = newWindow(windowPerReceiver, list)
	}
	p.after = func(c *client) { windows[c.m.ch].release(c) }
	rs := newRunState(cs, p)
	defer rs.end()
	// A member a relay drops leaves its channel's window.
	for _, c := range cs {
		done := c.done // c.done is replaced if c connects again
		go func() {
			select {
			case <-done:
				windows[c.m.ch].leave(c)
			case <-rs.over:
			}
		}()
	}
	start := time.Now()
	from, end := start.Add(warm), start.Add(warm+dur)
	stopWindows := time.AfterFunc(warm+dur, func() {
		for _, w := range windows {
			w.close()
		}
	})
	defer stopWindows.Stop()
	var posts atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, len(cs))
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithDeadline(context.Background(), end.Add(30*time.Second))
			defer cancel()
			w := windows[c.m.ch]
			for i := 0; i < maxPostsPerSender && time.Now().Before(end); i++ {
				if !w.acquire(c) {
					return
				}
				var env []byte
				if inline {
					var err error
					if env, _, err = c.m.seal(); err != nil {
						errc <- err
						return
					}
				} else {
					env = c.m.ring[i%len(c.m.ring)]
				}
				if !rs.post(ctx, c, env, errc) {
					return
				}
				posts.Add(1)
			}
		}()
	}
	time.Sleep(time.Until(from))
	d0, p0, t0 := p.delivered.Load(), posts.Load(), time.Now()
	r0, c0 := processCPU(s.srv.cmd.Process.Pid), selfCPU()
	time.Sleep(time.Until(end))
	d1, p1, t1 := p.delivered.Load(), posts.Load(), time.Now()
	r1, c1 := processCPU(s.srv.cmd.Process.Pid), selfCPU()
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return tpResult{}, err
	}
	dropped, err := rs.settle()
	if err != nil {
		return tpResult{}, err
	}
	el := t1.Sub(t0).Seconds()
	d := float64(max(d1-d0, 1))
	return tpResult{
		delivered: float64(d1-d0) / el, posts: float64(p1-p0) / el,
		relayCPU: float64((r1 - r0).Microseconds()) / d, clientCPU: float64((c1 - c0).Microseconds()) / d,
		dropped: dropped,
	}, nil
}

// runState is what one run's senders did, for the check that the run
// drained and for the members a relay dropped as too slow.
type runState struct {
	cs    []*client
	p     *phase
	over  chan struct{} // closed when the run is over
	acked map[*client]*atomic.Int64
	tried map[*client]*atomic.Int64 // posts sent, acknowledged or not
}

// newRunState starts a run: the phase p takes every delivery.
func newRunState(cs []*client, p *phase) *runState {
	rs := &runState{cs: cs, p: p, over: make(chan struct{}), acked: map[*client]*atomic.Int64{}, tried: map[*client]*atomic.Int64{}}
	for _, c := range cs {
		rs.acked[c], rs.tried[c] = &atomic.Int64{}, &atomic.Int64{}
		c.got.Store(0)
		c.phase.Store(p)
	}
	return rs
}

func (rs *runState) end() {
	select {
	case <-rs.over:
	default:
		close(rs.over)
	}
	for _, c := range rs.cs {
		c.phase.Store(nil)
	}
}

// post sends env for c and waits for the acknowledgement. It returns
// false when c must stop sending: with an error on errc, or without one
// when the relay dropped c as too slow (settle reports it).
func (rs *runState) post(ctx context.Context, c *client, env []byte, errc chan<- error) bool {
	rs.tried[c].Add(1)
	err := c.conn.Post(ctx, env)
	if err == nil {
		rs.acked[c].Add(1)
		return true
	}
	select {
	case <-c.done:
		if droppedAsSlow(c.err) {
			return false
		}
	case <-time.After(5 * time.Second):
	}
	errc <- fmt.Errorf("post: %w", err)
	return false
}

// settle runs once every sender has stopped. Every post a member's
// channel acknowledged must reach it (the run drains: nothing lost,
// nothing left in flight for the next run), unless a relay dropped the
// member as too slow during the run; no delivery may fail to check out,
// and no connection may end for another reason. Members dropped as too
// slow are counted, connected again and, at the durable relay, must find
// every acknowledged post they missed by fetching it: a frame the relay
// acknowledged and lost fails the run. It returns how many were
// dropped.
func (rs *runState) settle() (int, error) {
	type sums struct{ acked, tried int64 }
	per := map[*benchChannel]*sums{}
	for _, c := range rs.cs {
		s := per[c.m.ch]
		if s == nil {
			s = &sums{}
			per[c.m.ch] = s
		}
		s.acked += rs.acked[c].Load()
		s.tried += rs.tried[c].Load()
	}
	// want is what c must have had: its channel's acknowledged posts
	// but its own; slack is the posts of others that a dropped sender
	// sent but never had acknowledged, which may have been delivered.
	want := func(c *client) int64 { return per[c.m.ch].acked - rs.acked[c].Load() }
	slack := func(c *client) int64 {
		s := per[c.m.ch]
		return (s.tried - s.acked) - (rs.tried[c].Load() - rs.acked[c].Load())
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if bad := rs.p.errors.Load(); bad > 0 {
			return 0, fmt.Errorf("%d deliveries failed to check", bad)
		}
		waiting := 0
		for _, c := range rs.cs {
			if !c.ended() && c.got.Load() < want(c) {
				waiting++
			}
		}
		if waiting == 0 {
			break
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%d members still waiting for acknowledged posts after 20 s", waiting)
		}
		time.Sleep(10 * time.Millisecond)
	}
	var dropped []*client
	for _, c := range rs.cs {
		if c.ended() {
			if !droppedAsSlow(c.err) {
				return 0, fmt.Errorf("a connection closed: %v", c.err)
			}
			dropped = append(dropped, c)
			continue
		}
		if got, w := c.got.Load(), want(c); got > w+slack(c) {
			return 0, fmt.Errorf("a member had %d deliveries, expected %d", got, w)
		}
	}
	rs.end()
	for _, c := range dropped {
		ctx, cancel := timeoutCtx(30 * time.Second)
		err := c.reconnect(ctx)
		if err == nil {
			err = rs.refetch(ctx, c, want(c)-c.got.Load())
		}
		cancel()
		if err != nil {
			return 0, fmt.Errorf("a member dropped as too slow: %w", err)
		}
	}
	return len(dropped), nil
}

// refetch checks, for a member the durable relay dropped and that has
// just connected again, that the relay still holds the missed
// acknowledged posts of the others: at least missed of them after the
// last frame pushed to it. The baseline keeps no more than a ring of
// frames in memory and is not asked.
func (rs *runState) refetch(ctx context.Context, c *client, missed int64) error {
	rc, ok := c.conn.(*realConn)
	if !ok {
		return nil
	}
	since, found := rc.last.Load(), int64(0)
	for range 100_000 {
		frames, more, err := rc.c.Fetch(ctx, since)
		if err != nil {
			return fmt.Errorf("fetching what it missed: %w", err)
		}
		for _, f := range frames {
			since = max(since, f.Seq)
			if f.Kind != wire.KindMessage {
				continue
			}
			h, err := c.m.view.Header(f.Payload)
			if err != nil {
				return fmt.Errorf("a fetched frame: %w", err)
			}
			if h.Sender != c.m.kid {
				found++
			}
		}
		if !more || len(frames) == 0 {
			break
		}
	}
	rc.last.Store(since)
	if found < missed {
		return fmt.Errorf("parley relay lost acknowledged frames: %d missed, %d found by fetching", missed, found)
	}
	return nil
}

// latResult is the latencies of one or more latency runs.
type latResult struct {
	samples []time.Duration // scheduled send to delivery
	acks    []time.Duration // scheduled send to acknowledgement
	rate    float64         // offered posts per second
	// rounds holds each round's p99 of samples, for the median of the
	// per-round differences.
	rounds []time.Duration
	// dropped is how many clients the relay dropped as too slow, over
	// all rounds; samples are then of what was delivered.
	dropped int
}

func (l *latResult) percentile(q float64) time.Duration { return percentile(l.samples, q) }

func percentile(xs []time.Duration, q float64) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	i := int(math.Ceil(q*float64(len(xs)))) - 1
	return xs[max(0, min(i, len(xs)-1))]
}

// latState is a sender's schedule during a latency run: the intended
// send time of each counter, read by the receivers.
type latState struct {
	base  uint32
	sched []atomic.Int64
}

// runLatency offers rate posts per second in total, spread evenly over
// the clients, each sending on a fixed schedule with a random phase.
// Each post is sealed at its scheduled time (sealing is included in the
// latency); latency is from the scheduled send time to the receiver
// having the envelope in hand, so a sender held up by a slow
// acknowledgement adds its wait to the messages it sends late.
func runLatency(cs []*client, n int, rate float64, warm, dur time.Duration, into *latResult) error {
	per := rate / float64(len(cs))
	if per <= 0 {
		return errors.New("latency run: no load")
	}
	interval := time.Duration(float64(time.Second) / per)
	total := int((warm+dur)/interval) + 2
	states := make(map[crypto.KeyID]*latState, len(cs))
	for _, c := range cs {
		states[c.m.kid] = &latState{base: c.m.send.Next, sched: make([]atomic.Int64, total)}
	}
	start := time.Now()
	from, end := start.Add(warm), start.Add(warm+dur)
	var mu sync.Mutex
	var round []time.Duration
	p := &phase{onEnv: func(c *client, env []byte, at time.Time) error {
		h, err := c.m.view.Header(env)
		if err != nil {
			return err
		}
		st := states[h.Sender]
		if st == nil {
			return errors.New("unknown sender")
		}
		k := int64(h.Counter) - int64(st.base)
		if k < 0 || k >= int64(len(st.sched)) {
			return errors.New("counter out of the run")
		}
		sent := st.sched[k].Load()
		if sent == 0 {
			return errors.New("delivered before it was sent")
		}
		if sent >= from.UnixNano() {
			mu.Lock()
			round = append(round, at.Sub(time.Unix(0, sent)))
			mu.Unlock()
		}
		return nil
	}}
	rs := newRunState(cs, p)
	defer rs.end()
	var acks []time.Duration
	var wg sync.WaitGroup
	errc := make(chan error, len(cs))
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := states[c.m.kid]
			ctx, cancel := context.WithDeadline(context.Background(), end.Add(30*time.Second))
			defer cancel()
			first := start.Add(time.Duration(rand.Int64N(int64(interval))))
			for k := 0; k < total; k++ {
				at := first.Add(time.Duration(k) * interval)
				if !at.Before(end) {
					return
				}
				time.Sleep(time.Until(at))
				env, counter, err := c.m.seal()
				if err != nil {
					errc <- err
					return
				}
				st.sched[counter-st.base].Store(at.UnixNano())
				if !rs.post(ctx, c, env, errc) {
					return
				}
				if !at.Before(from) {
					mu.Lock()
					acks = append(acks, time.Since(at))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return err
	}
	dropped, err := rs.settle()
	if err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	into.dropped += dropped
	into.rate = rate
	into.samples = append(into.samples, round...)
	into.acks = append(into.acks, acks...)
	into.rounds = append(into.rounds, percentile(round, 0.99))
	return nil
}

// processCPU is the CPU time (user and system) a process has used, from
// /proc (in clock ticks of 10 ms).
func processCPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name may hold spaces; the fields after it do not.
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// selfCPU is the CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
