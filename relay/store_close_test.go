package relay_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"parley/internal/wire"
	"parley/relay"
)

// Every Append gets an answer, also when it races the store's Close (a
// shutdown that timed out with handlers still running): either the frame
// was committed, or ErrClosed says it was not.
func TestAppendAfterCloseAnswers(t *testing.T) {
	for round := 0; round < 20; round++ {
		s, err := relay.OpenSQLite(filepath.Join(t.TempDir(), "relay.db"))
		if err != nil {
			t.Fatal(err)
		}
		var ch relay.ChannelID
		ch[0] = byte(round + 1)
		if err := s.CreateChannel(context.Background(), ch, []byte("access"), 1); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		answers := make(chan error, 40)
		for i := 0; i < 40; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.Append(context.Background(), []relay.NewFrame{{Channel: ch, Kind: wire.KindMessage, Payload: []byte("frame")}})
				answers <- err
			}()
			if i == 20 {
				s.Close()
			}
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatalf("round %d: %d of 40 appends never returned", round, 40-len(answers))
		}
		close(answers)
		for err := range answers {
			if err != nil && !errors.Is(err, relay.ErrClosed) {
				t.Fatalf("an append racing Close failed with %v, want success or ErrClosed", err)
			}
		}
	}
}
