package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"parley/crypto"
	"parley/internal/relayclient"
	"parley/internal/wire"
)

// Follow syncs a channel and then stays connected, calling show for
// every entry the transcript gains after *mark (see ReadAfter) as frames
// arrive, until ctx ends or the channel is burned, and keeps *mark up to
// date. What another parley process on this home fetched or sent is
// shown too: Follow reads the transcript, not only its own fetches. It
// reconnects after a lost connection; state is reported through status
// ("connected", "reconnecting").
func (c *Client) Follow(ctx context.Context, name string, mark *int64, show func(Entry), status func(string)) error {
	if status == nil {
		status = func(string) {}
	}
	backoff := time.Second
	for ctx.Err() == nil {
		rep := &SyncReport{}
		conns, err := c.connectAll(ctx, name, rep)
		switch {
		case err == nil && rep.Burned:
			show(Entry{Time: c.Now().UTC(), Kind: KindSystem, Text: "the channel was burned; it is erased from this home"})
			return nil
		case errors.Is(err, ErrRelayForgot) || errors.Is(err, ErrNoChannel):
			return err
		case err == nil && len(conns) == 0: // pending, or the relay refuses our key
			if err := c.showAfter(name, mark, show); err != nil {
				return err
			}
			if rep.Pending {
				return errors.New("not admitted yet: an organizer must admit you")
			}
			return nil
		case err != nil:
			status("reconnecting")
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		backoff = time.Second
		status("connected")
		err = c.followOn(ctx, conns, name, mark, show)
		closeAll(conns)
		if err != nil && !errors.Is(err, relayclient.ErrClosed) {
			return err
		}
		if ctx.Err() == nil {
			status("reconnecting")
		}
	}
	return nil
}

// showAfter shows what the transcript gained after *mark.
func (c *Client) showAfter(name string, mark *int64, show func(Entry)) error {
	entries, last, err := c.ReadAfter(name, *mark)
	if err != nil {
		return err
	}
	for _, e := range entries {
		show(e)
	}
	*mark = last
	return nil
}

// retryRelaysEvery is how often Follow, while it lacks some relays of
// the channel, connects again to reach them.
const retryRelaysEvery = time.Minute

// followOn syncs with every connected relay, then again whenever any of
// them pushes a frame. It returns when a relay's connection ends (to
// reconnect to all), or, while some relay is missing, after
// retryRelaysEvery.
func (c *Client) followOn(ctx context.Context, conns []relayConn, name string, mark *int64, show func(Entry)) error {
	sync := func() error {
		err := c.syncAll(ctx, conns, name, &SyncReport{}, nil)
		if serr := c.showAfter(name, mark, show); err == nil {
			err = serr
		}
		return err
	}
	if err := sync(); err != nil {
		return err
	}
	pushes := make(chan struct{}, 1)
	ended := make(chan error, len(conns))
	burned := make(chan struct{}, 1)
	for _, rc := range conns {
		go func(conn *relayclient.Conn) {
			for {
				select {
				case <-ctx.Done():
					return
				case <-conn.Done():
					ended <- conn.Err()
					return
				case <-conn.Pushes():
					// Drain what else arrived, then fetch: the fetch
					// gets every frame in order, pushed or not.
					for len(conn.Pushes()) > 0 {
						<-conn.Pushes()
					}
					select {
					case pushes <- struct{}{}:
					default:
					}
				case ev := <-conn.Events():
					if ev.Type == wire.TBurned {
						select {
						case burned <- struct{}{}:
						default:
						}
					}
				}
			}
		}(rc.conn)
	}
	erased := c.erased.wait()
	var retry <-chan time.Time
	if row, err := c.view(name); err == nil && len(conns) < len(row.st.Relays) {
		retry = time.After(retryRelaysEvery)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-ended:
			return err
		case <-retry:
			return nil
		case <-burned:
			// Reconnecting finds the tombstone.
			return nil
		case <-pushes:
			if err := sync(); err != nil {
				return err
			}
		case <-erased:
			// This process erased a channel (leave, burn): if it is this
			// one, the sync says so and the follow ends.
			erased = c.erased.wait()
			if err := sync(); err != nil {
				return err
			}
		}
	}
}

// Burn burns a channel (organizer): each relay erases it and every
// member's client wipes it on its next sync; this home erases it now.
// When some relays could not be reached, the channel is burned at the
// others and erased here, and a *BurnIncompleteError says so.
func (c *Client) Burn(ctx context.Context, name string) error {
	row, err := c.view(name)
	if err != nil {
		return err
	}
	if _, _, _, err := row.st.self(crypto.RoleOrganizer); err != nil {
		return err
	}
	// At every relay that can be reached; one is enough for members to
	// erase the channel (each relay's notice suffices), and a relay
	// missed here still holds nothing it can read. Signed by the
	// administration keys, not our pseudonym: nobody learns from it
	// which organizer burned.
	notice, err := crypto.NewBurnNotice(row.st.adminKeys(), row.st.channelID(), c.Now())
	if err != nil {
		return err
	}
	burned, firstErr := c.atEachRelay(ctx, row.st, func(conn *relayclient.Conn) error {
		if err := conn.Burn(ctx, notice); !errors.Is(err, relayclient.ErrBurned) {
			return err
		}
		return nil // burned there already
	})
	if burned == 0 {
		return firstErr
	}
	if err := c.erase(row.id); err != nil {
		return err
	}
	if burned < len(row.st.Relays) {
		return &BurnIncompleteError{Burned: burned, Of: len(row.st.Relays), Err: firstErr}
	}
	return nil
}

// BurnIncompleteError is what Burn returns when it burned the channel at
// some of its relays only. The channel is burned (members erase it as
// soon as any relay shows them the notice) and erased from this home;
// the relays missed keep ciphertext they cannot read until their
// retention passes.
type BurnIncompleteError struct {
	Burned, Of int
	Err        error
}

func (e *BurnIncompleteError) Error() string {
	return fmt.Sprintf("burned at %d of %d relays and erased here; the others could not be reached (%v): they keep the channel's ciphertext until their retention passes, and a member who reaches only them erases the channel once another relay shows the notice", e.Burned, e.Of, e.Err)
}
