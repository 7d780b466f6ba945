package client

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	"parley/crypto"
	"parley/internal/relayclient"
)

// An organizer administers a channel in sessions of their own: at each
// relay, one connection authenticated with the channel's administration
// key alone takes in what the relay holds, does the administration (join
// requests, invites), and posts the queued access lists and epoch
// bundles. No member connection is part of it, so the relay, which sees
// an administrator at work, is not shown beside which member key. The
// member's own syncs post messages only; an epoch change their organizer
// duties queue goes out in an administration session of its own, after
// a random pause (Client.AdminSpread).

// mustOrganize fails unless this home is an organizer of channel name.
func (c *Client) mustOrganize(name string) error {
	row, err := c.view(name)
	if err != nil {
		return err
	}
	_, _, _, err = row.st.self(crypto.RoleOrganizer)
	return err
}

// administer runs one administration session of channel name. At every
// relay it reaches it takes in what the relay holds and runs atRelay
// (nil: nothing); then, once, change (nil: nothing), which may queue a
// proposal; then it posts the queued access lists and bundles on the
// same connections and takes in the result, entering the epoch it made.
// It returns how many relays the session completed at and the first
// error (the relay named when the channel has several). With no relay
// reached, change does not run.
func (c *Client) administer(ctx context.Context, name string, atRelay func(*relayclient.Conn) error, change func() error) (int, error) {
	return c.administerInto(ctx, name, &SyncReport{}, atRelay, change)
}

// administerInto is administer adding what it takes in to rep.
func (c *Client) administerInto(ctx context.Context, name string, rep *SyncReport, atRelay func(*relayclient.Conn) error, change func() error) (int, error) {
	row, err := c.view(name)
	if err != nil {
		return 0, err
	}
	conns, firstErr := c.adminConns(ctx, name, nil)
	defer func() { closeAll(conns) }()
	if len(conns) == 0 && errors.Is(firstErr, relayclient.ErrUnauthorized) {
		// Even caught up, no relay takes an administration key of ours:
		// another organizer's change is there, whose epoch has not
		// reached us (or left us out). A proposal of ours is void.
		_, err := c.dropProposal(name)
		return 0, cmp.Or(err, errProposalLost)
	}
	if len(conns) == 0 {
		return 0, cmp.Or(firstErr, errNotAdmin)
	}
	live := slices.Clone(conns)
	phase := func(step func(rc relayConn) error) error {
		var fatal error
		live = slices.DeleteFunc(live, func(rc relayConn) bool {
			if fatal != nil {
				return true
			}
			err := step(rc)
			switch {
			case err == nil:
				return false
			case errors.Is(err, errProposalLost), errors.Is(err, ErrNoChannel):
				fatal = err
				return true
			}
			if r := row.st.relay(rc.id); r != nil && len(row.st.Relays) > 1 {
				err = fmt.Errorf("%s: %w", r.Name(), err)
			}
			firstErr = cmp.Or(firstErr, err)
			c.noteRelay(name, rc.id, err, nil)
			return true
		})
		return fatal
	}
	take := func(rc relayConn) error {
		if err := c.refetch(ctx, rc, name, rep); err != nil {
			return err
		}
		return c.fetch(ctx, rc, name, rep)
	}
	if err := phase(take); err != nil {
		return 0, err
	}
	if atRelay != nil {
		if err := phase(func(rc relayConn) error { return atRelay(rc.conn) }); err != nil {
			return 0, err
		}
	}
	if change != nil {
		if len(live) == 0 {
			return 0, firstErr
		}
		if err := change(); err != nil {
			return 0, err
		}
		// A relay the change adds is reached now, so that it gets the
		// change with the others.
		have := map[int]bool{}
		for _, rc := range conns {
			have[rc.id] = true
		}
		added, err := c.adminConns(ctx, name, have)
		conns = append(conns, added...)
		live = append(live, added...)
		firstErr = cmp.Or(firstErr, err)
	}
	if err := phase(func(rc relayConn) error { return c.flushAdmin(ctx, rc, name) }); err != nil {
		return 0, err
	}
	if err := phase(take); err != nil {
		return 0, err
	}
	return len(live), firstErr
}

// dropProposal drops the access lists and bundles waiting in the outbox.
func (c *Client) dropProposal(name string) (bool, error) {
	var drop []outboxItem
	err := c.update(name, func(tx *sql.Tx, row *channelRow) error {
		items, err := c.outbox(tx, row.id)
		for _, it := range items {
			if it.Kind != outMessage {
				drop = append(drop, it)
			}
		}
		return err
	})
	if err != nil || len(drop) == 0 {
		return false, err
	}
	return true, c.dropItems(name, drop)
}

// adminConns connects to every relay of the channel but those in skip
// as its administrator, founding the channel again at a relay that lost
// it. A home behind the channel (every relay holds an administration key
// it has not seen) catches up once as a member, a pause before, and
// tries again.
func (c *Client) adminConns(ctx context.Context, name string, skip map[int]bool) ([]relayConn, error) {
	caughtUp := false
	for {
		row, err := c.view(name)
		if err != nil {
			return nil, err
		}
		if _, err := row.st.adminKey(); err != nil {
			return nil, err
		}
		var conns []relayConn
		var firstErr error
		refused := 0
		for _, r := range row.st.Relays {
			if skip[r.ID] {
				continue
			}
			conn, err := c.adminConn(ctx, row.st, r.URL)
			if errors.Is(err, relayclient.ErrNotFound) {
				conn, err = c.restoreRelay(ctx, name, r, true)
			} else if err == nil {
				if err = c.noteOrigin(row.st, r, conn); err != nil {
					conn.Close()
				}
			}
			if err != nil {
				if errors.Is(err, relayclient.ErrUnauthorized) {
					refused++
				}
				if len(row.st.Relays) > 1 {
					err = fmt.Errorf("%s: %w", r.Name(), err)
				}
				firstErr = cmp.Or(firstErr, err)
				continue
			}
			conns = append(conns, relayConn{r.ID, conn})
		}
		if len(conns) > 0 || refused == 0 || caughtUp || skip != nil {
			return conns, firstErr
		}
		// Another organizer changed the channel since this home last
		// synced. The one member connection this takes comes a random
		// pause before the administration one.
		caughtUp = true
		if _, err := c.Sync(ctx, name); err != nil {
			return nil, err
		}
		if err := c.adminPause(ctx); err != nil {
			return nil, err
		}
	}
}

// adminPause waits a random time below AdminSpread, so that an
// administration session does not follow this home's member connection
// by a fixed, recognisable delay.
func (c *Client) adminPause(ctx context.Context) error {
	if c.AdminSpread <= 0 {
		return nil
	}
	n, err := rand.Int(rand.Reader, big.NewInt(int64(c.AdminSpread)))
	if err != nil {
		return err
	}
	t := time.NewTimer(time.Duration(n.Int64()))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// adminDue runs an administration session, after a pause, when this
// home holds a proposal still to post (its organizer duties queued one
// in a member sync): what keeps the channel's epochs going without a
// member connection ever carrying them.
func (c *Client) adminDue(ctx context.Context, name string, rep *SyncReport) error {
	row, err := c.view(name)
	if err != nil {
		return err
	}
	if _, err := row.st.adminKey(); err != nil {
		return nil // not an organizer: nothing of ours to post
	}
	due, err := c.adminQueued(name)
	if err != nil || !due {
		return err
	}
	if err := c.adminPause(ctx); err != nil {
		return err
	}
	n, err := c.administerInto(ctx, name, rep, nil, nil)
	if n > 0 && !errors.Is(err, errProposalLost) {
		return nil // a relay missed now is one the next session reaches
	}
	return err
}
