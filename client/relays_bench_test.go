package client

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"parley/crypto"
	"parley/relay"
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
			ctx, org, alice := homesOnRelays(b, k)
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

// homesOnRelays makes an organizer and a participant in a channel on k
// relays started for the benchmark.
func homesOnRelays(b *testing.B, k int) (context.Context, *Client, *Client) {
	os.Setenv("PARLEY_SCRYPT_LOGN", "10")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute) // a bound, not an expectation
	b.Cleanup(cancel)
	var urls []string
	for range k {
		r, err := relay.Start(relay.Options{Listen: "127.0.0.1:0", DataDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { r.Close(context.Background()) })
		urls = append(urls, r.URL)
	}
	open := func(name string) *Client {
		dir := filepath.Join(b.TempDir(), "h")
		if err := Init(dir, name, "pw"); err != nil {
			b.Fatal(err)
		}
		c, err := Open(dir, "pw")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		return c
	}
	org, alice := open("Org"), open("Alice")
	if err := org.CreateChannel(ctx, "c", urls[0], crypto.PolicyHard, urls[1:]...); err != nil {
		b.Fatal(err)
	}
	code, err := org.Invite(ctx, "c", crypto.RoleParticipant, time.Hour, 0)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := alice.Join(ctx, code, "c"); err != nil {
		b.Fatal(err)
	}
	if _, err := org.Admit(ctx, "c", nil, true); err != nil {
		b.Fatal(err)
	}
	if _, err := alice.Sync(ctx, "c"); err != nil {
		b.Fatal(err)
	}
	return ctx, org, alice
}
