package client

import (
	"fmt"
	"testing"

	"parley/crypto"
)

// BenchmarkRelays measures what a channel on three relays costs a client
// against the same channel on one, in the same run, with real relays on
// loopback: send (Send returns once a relay has the message, after
// syncing with every relay) and a reader's sync that takes in one new
// message (from every relay: the first copy is read, the others are
// recognised). Frames on the wire scale with the relays: each is posted
// and fetched k times.
//
//	go test -run '^$' -bench Relays -benchtime 200x ./client
func BenchmarkRelays(b *testing.B) {
	for _, k := range []int{1, 3} {
		b.Run(fmt.Sprintf("relays=%d", k), func(b *testing.B) {
			ctx, _, org, alice := homesOnRelays(b, k)
			b.Run("send", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					if err := alice.Send(ctx, "c", crypto.Talks, fmt.Sprintf("message %d", i)); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("sync-one-new", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					if err := alice.Send(ctx, "c", crypto.Talks, fmt.Sprintf("news %d", i)); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					if _, err := org.Sync(ctx, "c"); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
