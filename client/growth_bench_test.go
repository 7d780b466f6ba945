package client

import (
	"database/sql"
	"fmt"
	"testing"

	"parley/crypto"
)

// BenchmarkGrowth measures what everyday commands cost on a home whose
// transcript holds 100 to 50,000 messages, against a real relay on
// loopback. sync (nothing new), send and the follower's step (read what
// one new message added) should stay flat; read-all prints the whole
// transcript, so it grows, and is here as the reference.
//
//	go test -run '^$' -bench Growth -benchtime 20x ./client
func BenchmarkGrowth(b *testing.B) {
	for _, n := range []int{100, 1000, 10000, 50000} {
		if testing.Short() && n > 1000 {
			continue
		}
		b.Run(fmt.Sprintf("messages=%d", n), func(b *testing.B) {
			ctx, _, org, alice := twoHomes(b)
			fillTranscript(b, alice, "c", n)
			_, mark, err := alice.ReadAfter("c", 0)
			if err != nil {
				b.Fatal(err)
			}
			b.Run("sync", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					if _, err := alice.Sync(ctx, "c"); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("send", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					if err := alice.Send(ctx, "c", crypto.Talks, fmt.Sprintf("message %d", i)); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("follow-step", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					if err := org.Send(ctx, "c", crypto.Talks, fmt.Sprintf("news %d", i)); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					if _, err := alice.Sync(ctx, "c"); err != nil {
						b.Fatal(err)
					}
					if _, mark, err = alice.ReadAfter("c", mark); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("read-all", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					if _, err := alice.Read("c"); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// fillTranscript gives a channel n received messages, one chunk each,
// as n fetches would.
func fillTranscript(b *testing.B, c *Client, name string, n int) {
	b.Helper()
	const batch = 1000
	for done := 0; done < n; done += batch {
		if err := c.update(name, func(tx *sql.Tx, row *channelRow) error {
			for i := done; i < min(n, done+batch); i++ {
				e := Entry{Seq: uint64(i + 1), Time: c.Now().UTC(), Sender: "Org", Kind: KindMessage,
					Text: fmt.Sprintf("earlier message %d: a sentence of the usual length in these talks", i)}
				if err := c.appendTranscript(tx, row.id, []Entry{e}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
}
