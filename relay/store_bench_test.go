package relay_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"parley/crypto"
	"parley/internal/relayclient"
	"parley/internal/wire"
	"parley/relay"
)

// Micro-benchmarks of the relay's durable path. `make bench` runs them;
// cmd/parley-bench measures the relay as a whole against a baseline.
// The store is in a temporary folder: on a tmpfs fsync is free and the
// figures flatter the store.

func benchStore(b testing.TB, channels int) (*relay.SQLiteStore, []relay.ChannelID) {
	b.Helper()
	s, err := relay.OpenSQLite(filepath.Join(b.TempDir(), "relay.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	ids := make([]relay.ChannelID, channels)
	for i := range ids {
		rand.Read(ids[i][:])
		if err := s.CreateChannel(context.Background(), ids[i], []byte("access list"), 1); err != nil {
			b.Fatal(err)
		}
	}
	return s, ids
}

func envelopeFrame(ch relay.ChannelID) relay.NewFrame {
	payload := make([]byte, crypto.EnvelopeSize)
	rand.Read(payload)
	return relay.NewFrame{Channel: ch, Kind: wire.KindMessage,
		Expires: time.Now().Add(time.Hour), Payload: payload}
}

// BenchmarkStoreAppend appends one 16 KiB envelope at a time and waits
// for its commit: one transaction and one fsync per frame.
func BenchmarkStoreAppend(b *testing.B) {
	s, ids := benchStore(b, 1)
	f := envelopeFrame(ids[0])
	b.SetBytes(crypto.EnvelopeSize)
	for b.Loop() {
		if _, err := s.Append(context.Background(), []relay.NewFrame{f}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStoreAppendConcurrent appends from many writers at once, as
// many connections posting do: the store groups their appends into
// shared commits. The figure is per frame.
func BenchmarkStoreAppendConcurrent(b *testing.B) {
	for _, writers := range []int{16, 128} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s, ids := benchStore(b, 8)
			frames := make([]relay.NewFrame, writers)
			for i := range frames {
				frames[i] = envelopeFrame(ids[i%len(ids)])
			}
			b.SetBytes(crypto.EnvelopeSize)
			b.ResetTimer()
			var wg sync.WaitGroup
			work := make(chan struct{}, writers)
			for i := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range work {
						if _, err := s.Append(context.Background(), []relay.NewFrame{frames[i]}); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			for range b.N {
				work <- struct{}{}
			}
			close(work)
			wg.Wait()
		})
	}
}

// BenchmarkStoreAppendPaced offers 1000 appends a second from 100
// writers (as many connections posting at a steady rate) and reports
// the latency of an append, from its intended time to its commit: what
// a post waits for at the relay. Its tail shows the checkpoints: the
// store runs them beside the writer so that no commit waits for one.
func BenchmarkStoreAppendPaced(b *testing.B) {
	const writers, rate = 100, 1000.0
	s, ids := benchStore(b, 10)
	interval := time.Duration(float64(time.Second) * writers / rate)
	lat := make([]time.Duration, b.N)
	var wg sync.WaitGroup
	start := time.Now()
	b.ResetTimer()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := envelopeFrame(ids[w%len(ids)])
			first := start.Add(interval * time.Duration(w) / writers)
			for k := 0; ; k++ {
				i := k*writers + w
				if i >= b.N {
					return
				}
				at := first.Add(time.Duration(k) * interval)
				time.Sleep(time.Until(at))
				if _, err := s.Append(context.Background(), []relay.NewFrame{f}); err != nil {
					b.Error(err)
					return
				}
				lat[i] = time.Since(at)
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1e3 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}

// BenchmarkStoreFetch reads back 16 KiB envelopes, as a client catching
// up after being away does.
func BenchmarkStoreFetch(b *testing.B) {
	s, ids := benchStore(b, 1)
	f := envelopeFrame(ids[0])
	batch := make([]relay.NewFrame, 64)
	for i := range batch {
		batch[i] = f
	}
	if _, err := s.Append(context.Background(), batch); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(64 * crypto.EnvelopeSize)
	for b.Loop() {
		frames, _, err := s.Fetch(context.Background(), ids[0], 0, 2<<20)
		if err != nil || len(frames) != 64 {
			b.Fatal(len(frames), err)
		}
	}
}

// BenchmarkPostFanout is one post through a running relay (TLS,
// WebSocket, access-list checks, commit, fanout) to a channel of 10
// whose other members are connected and reading; a post returns once it
// is committed and queued to them.
func BenchmarkPostFanout(b *testing.B) {
	r, _ := startRelay(b, relay.Config{ConnRate: 1e9, ConnBurst: 1e9, KeyRate: 1e9, KeyBurst: 1e9, MaxChannelBytes: 1 << 40})
	now := time.Now()
	tc := newTestChannel(b, r.URL, now)
	readers := []*relayclient.Conn{tc.orgC}
	var sender *member
	var sc *relayclient.Conn
	for i := range 9 {
		m := newMember(b, fmt.Sprintf("Member %d", i), crypto.RoleParticipant)
		c := tc.add(m, now, time.Time{})
		if i == 0 {
			sender, sc = m, c
			continue
		}
		readers = append(readers, c)
	}
	for _, c := range readers {
		go func() {
			for {
				select {
				case <-c.Pushes():
				case <-c.Done():
					return
				}
			}
		}()
	}
	env := envelope(sender.keys)
	b.SetBytes(crypto.EnvelopeSize)
	for b.Loop() {
		if _, err := sc.Post(ctxT(b), wire.KindMessage, env); err != nil {
			b.Fatal(err)
		}
	}
}
