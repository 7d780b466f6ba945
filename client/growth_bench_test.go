package client

import (
	"database/sql"
	"fmt"
	"testing"
	"time"

	"parley/crypto"
)

// BenchmarkGrowth measures what everyday commands cost on a home whose
// transcript holds 100 to 50,000 messages, against a real relay on
// loopback. sync (nothing new), send and the follower's step (read what
// one new message added) should stay flat; read-all (what parley read
// prints) grows with the transcript, by design, and is the reference.
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
			if n > 10000 {
				return // the baseline below takes minutes at 50,000
			}
			// Baseline in the same run: the same messages stored one
			// chunk each, as before compaction (the organizer's home).
			fillUncompacted(b, org, "c", n)
			b.Run("read-all-one-chunk-each", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					if _, err := org.Read("c"); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// fillTranscript gives a channel n messages received an hour ago, stored
// as a home that has synced all along keeps them: compacted into archive
// chunks (chunks.go).
func fillTranscript(b *testing.B, c *Client, name string, n int) {
	b.Helper()
	at := c.Now().Add(-time.Hour).UTC()
	for done := 0; done < n; done += archiveEntries {
		if err := c.update(name, func(tx *sql.Tx, row *channelRow) error {
			var entries []Entry
			for i := done; i < min(n, done+archiveEntries); i++ {
				entries = append(entries, Entry{Seq: uint64(i + 1), Time: at, Received: at, Sender: "Org", Kind: KindMessage,
					Text: fmt.Sprintf("earlier message %d: a sentence of the usual length in these talks", i)})
			}
			if err := c.appendTranscript(tx, row.id, entries); err != nil {
				return err
			}
			return tx.QueryRow(`SELECT max(id) FROM transcript WHERE channel = ?`, row.id).Scan(&row.st.Archive)
		}); err != nil {
			b.Fatal(err)
		}
	}
	if err := c.update(name, func(tx *sql.Tx, row *channelRow) error {
		row.st.Compacted = row.st.Archive
		return nil
	}); err != nil {
		b.Fatal(err)
	}
}

// fillUncompacted stores n messages one chunk each, as every fetch did
// before compaction, and keeps compaction away from them.
func fillUncompacted(b *testing.B, c *Client, name string, n int) {
	b.Helper()
	at := c.Now().Add(-time.Hour).UTC()
	for done := 0; done < n; done += 1000 {
		if err := c.update(name, func(tx *sql.Tx, row *channelRow) error {
			for i := done; i < min(n, done+1000); i++ {
				e := Entry{Seq: uint64(i + 1), Time: at, Received: at, Sender: "Org", Kind: KindMessage,
					Text: fmt.Sprintf("earlier message %d: a sentence of the usual length in these talks", i)}
				if err := c.appendTranscript(tx, row.id, []Entry{e}); err != nil {
					return err
				}
			}
			return tx.QueryRow(`SELECT max(id) FROM transcript WHERE channel = ?`, row.id).Scan(&row.st.Compacted)
		}); err != nil {
			b.Fatal(err)
		}
	}
}
