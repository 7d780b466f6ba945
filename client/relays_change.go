package client

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"parley/crypto"
	"parley/internal/wire"
)

// RelayInfo is one relay of a channel as `parley channel relays` shows
// it.
type RelayInfo struct {
	ID  int    `json:"id"`
	URL string `json:"url"`
	// Reachable is whether the last attempt to use it worked; LastFetch
	// when this home last fetched everything it had; Error why the last
	// attempt failed.
	Reachable bool       `json:"reachable"`
	LastFetch *time.Time `json:"last_fetch,omitempty"`
	Error     string     `json:"error,omitempty"`
	// Forgot is set while it says it does not know the channel.
	Forgot bool `json:"forgot,omitempty"`
	// Withheld counts frames other relays delivered well before that it
	// has not (withheld.go); WithheldFrom the same, by the relay that
	// delivered each first.
	Withheld     int            `json:"withheld"`
	WithheldFrom map[string]int `json:"withheld_from,omitempty"`
	// ToCopy counts this home's frames another relay has and it lacks.
	ToCopy int `json:"to_copy"`
}

// Relays describes each relay of a channel, from what this home saw at
// its syncs (it does not connect).
func (c *Client) Relays(name string) ([]RelayInfo, error) {
	tx, err := c.db.Begin()
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	row, err := c.loadChannel(tx, name)
	if err != nil {
		return nil, err
	}
	lacks, err := c.lacks(tx, row)
	if err != nil {
		return nil, err
	}
	copies, err := c.items(tx, "copies", row.id)
	if err != nil {
		return nil, err
	}
	var out []RelayInfo
	for _, r := range row.st.Relays {
		info := RelayInfo{ID: r.ID, URL: r.URL, Reachable: !r.Synced.IsZero() && !r.Failed.After(r.Synced), Error: r.Error, Forgot: r.Forgot}
		if !r.Synced.IsZero() {
			t := r.Synced
			info.LastFetch = &t
		}
		if len(row.st.Relays) > 1 {
			info.Withheld = lacks[r.ID].Frames
			for id, n := range lacks[r.ID].From {
				if o := row.st.relay(id); o != nil {
					if info.WithheldFrom == nil {
						info.WithheldFrom = map[string]int{}
					}
					info.WithheldFrom[o.Name()] = n
				}
			}
		}
		for _, it := range copies {
			if !slices.Contains(it.Acked, r.ID) {
				info.ToCopy++
			}
		}
		out = append(out, info)
	}
	return out, nil
}

// AddRelay adds a relay to the channel (organizer): a new roster naming
// it, whose epoch goes to every relay. The new relay is given the
// channel (its access list, then the new epoch) at once; it holds only
// what is sent from then on.
func (c *Client) AddRelay(ctx context.Context, name, url string) error {
	if _, _, err := wire.ParseURL(url); err != nil {
		return err
	}
	return c.changeRelays(ctx, name, func(list []string) ([]string, error) {
		if slices.Contains(list, url) {
			return nil, fmt.Errorf("the channel uses %s already", url)
		}
		if len(list) >= crypto.MaxRelays {
			return nil, fmt.Errorf("a channel lives on at most %d relays", crypto.MaxRelays)
		}
		return append(list, url), nil
	}, url)
}

// RemoveRelay takes a relay (by address or number) out of the channel
// (organizer). Members stop using it once they hold the new roster; it
// keeps what it stored until its retention passes (it is not burned
// there: a burn notice at one relay erases the channel for every member
// who sees it).
func (c *Client) RemoveRelay(ctx context.Context, name, which string) error {
	row, err := c.view(name)
	if err != nil {
		return err
	}
	url := which
	for _, r := range row.st.Relays {
		if fmt.Sprint(r.ID) == which {
			url = r.URL
		}
	}
	return c.changeRelays(ctx, name, func(list []string) ([]string, error) {
		i := slices.Index(list, url)
		if i < 0 {
			return nil, fmt.Errorf("the channel does not use relay %s (parley channel relays %s lists them)", which, name)
		}
		if len(list) == 1 {
			return nil, errors.New("a channel needs at least one relay: add another before removing this one")
		}
		return slices.Delete(list, i, i+1), nil
	}, "")
}

// changeRelays proposes the next roster with the relay list change
// makes, and sends it to every relay (the added one too).
func (c *Client) changeRelays(ctx context.Context, name string, change func([]string) ([]string, error), added string) error {
	return c.changeRoster(ctx, name, nil, func(tx *sql.Tx, row *channelRow) error {
		cur, _, keys, err := row.st.self(crypto.RoleOrganizer)
		if err != nil {
			return err
		}
		list := slices.Clone(cur.Relays)
		if len(list) == 0 {
			list = row.st.relayURLs() // a channel from before rosters named relays
		}
		if list, err = change(list); err != nil {
			return err
		}
		next := cur.Next(c.Now())
		next.Relays = list
		if added != "" {
			// Known now, so that this sync reaches it; the roster makes
			// it permanent when its bundle comes back.
			if err := row.st.followRoster(&crypto.Roster{Relays: append(row.st.relayURLs(), added)}, c.Now()); err != nil {
				return err
			}
		}
		return c.rekey(tx, row, next, keys)
	})
}
