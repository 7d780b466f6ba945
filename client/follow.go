package client

import (
	"context"
	"errors"
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
		row, err := c.view(name)
		if err != nil {
			return err
		}
		conn, err := c.connect(ctx, row.st)
		switch {
		case errors.Is(err, relayclient.ErrBurned):
			rep := &SyncReport{}
			if err := c.burned(ctx, name, rep); err != nil {
				return err
			}
			show(Entry{Time: c.Now().UTC(), Kind: KindSystem, Text: "the channel was burned; it is erased from this home"})
			return nil
		case errors.Is(err, relayclient.ErrNotFound):
			return ErrRelayForgot
		case errors.Is(err, relayclient.ErrUnauthorized):
			rep, err := c.Sync(ctx, name)
			if err != nil {
				return err
			}
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
		err = c.followOn(ctx, conn, name, mark, show)
		conn.Close()
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

func (c *Client) followOn(ctx context.Context, conn *relayclient.Conn, name string, mark *int64, show func(Entry)) error {
	sync := func() error {
		err := c.syncOn(ctx, conn, name, &SyncReport{})
		if serr := c.showAfter(name, mark, show); err == nil {
			err = serr
		}
		return err
	}
	if err := sync(); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-conn.Done():
			return conn.Err()
		case <-conn.Pushes():
			// Drain what else arrived, then fetch: the fetch gets every
			// frame in order, pushed or not.
			for len(conn.Pushes()) > 0 {
				<-conn.Pushes()
			}
			if err := sync(); err != nil {
				return err
			}
		case ev := <-conn.Events():
			if ev.Type == wire.TBurned {
				select { // reconnecting finds the tombstone
				case <-conn.Done():
				case <-ctx.Done():
				}
				return nil
			}
		}
	}
}

// Burn burns a channel (organizer): the relay erases it and every
// member's client wipes it on its next sync; this home erases it now.
func (c *Client) Burn(ctx context.Context, name string) error {
	row, err := c.view(name)
	if err != nil {
		return err
	}
	_, _, keys, err := row.st.self(crypto.RoleOrganizer)
	if err != nil {
		return err
	}
	conn, err := c.connect(ctx, row.st)
	if err != nil {
		return err
	}
	defer conn.Close()
	notice := crypto.NewBurnNotice(keys, row.st.channelID(), c.Now())
	if err := conn.Burn(ctx, notice); err != nil {
		return err
	}
	return c.erase(row.id)
}
