package app

import (
	"context"
	"crypto/rand"
	"errors"
	"math/big"
	"net/http"
	"time"

	"parley/client"
)

// channelSummary is a channel as the page's list shows it.
type channelSummary struct {
	client.ChannelInfo
	// Unread counts other people's messages, briefings and drafts, and
	// alarms, that the page has not shown since the home was unlocked
	// here.
	Unread int `json:"unread"`
	// Queued counts what waits in the outbox for the relay.
	Queued int `json:"queued"`
	// Link is the last background sync with the relay, if any yet.
	Link *linkState `json:"link,omitempty"`
	// Relays and RelaysDown count a channel's relays and those the last
	// attempt did not reach (a channel on several goes on without them).
	Relays     int `json:"relays"`
	RelaysDown int `json:"relays_down"`
}

// linkState is what the last background sync said.
type linkState struct {
	OK    bool      `json:"ok"`
	At    time.Time `json:"at"`
	Error string    `json:"error,omitempty"`
}

func (s *Server) channels(_ context.Context, c *client.Client, _ *http.Request) (any, error) {
	list, err := c.Channels()
	if err != nil {
		return nil, err
	}
	me := c.Whoami().Name
	out := []channelSummary{}
	for _, ch := range list {
		sum := channelSummary{ChannelInfo: ch}
		sum.Name = cleanName(ch.Name)
		sum.Queued, _ = c.Queued(ch.Name)
		if relays, err := c.Relays(ch.Name); err == nil {
			sum.Relays = len(relays)
			for _, r := range relays {
				if !r.Reachable && (r.Error != "" || r.Forgot) {
					sum.RelaysDown++
				}
			}
		}
		s.mu.Lock()
		mark := s.seen[ch.Name] // zero for a channel joined since the unlock
		if l, ok := s.links[ch.Name]; ok {
			sum.Link = &l
		}
		s.mu.Unlock()
		entries, _, _ := c.ReadAfter(ch.Name, mark)
		for _, e := range entries {
			if e.Sender != me && (e.Kind != client.KindSystem || e.Alarm) {
				sum.Unread++
			}
		}
		out = append(out, sum)
	}
	return out, nil
}

// marks returns each channel's transcript mark now: what counts as read
// when the home is unlocked. Channels joined later count from zero.
func marks(c *client.Client) map[string]int64 {
	seen := map[string]int64{}
	list, _ := c.Channels()
	for _, ch := range list {
		if _, next, err := c.ReadAfter(ch.Name, 0); err == nil {
			seen[ch.Name] = next
		}
	}
	return seen
}

// shown records that the page has shown a channel's transcript up to
// mark.
func (s *Server) shown(channel string, mark int64) {
	s.mu.Lock()
	if s.seen != nil && mark > s.seen[channel] {
		s.seen[channel] = mark
	}
	s.mu.Unlock()
}

// Background sync keeps every channel current while the home is
// unlocked, so the list shows new messages and the relay's state for
// channels the page is not showing. Channels are synced one at a time, in
// random order and at random gaps, so that the relay does not see one
// connection per channel opened in the same instant (which would link a
// person's pseudonyms across channels).
const (
	// DefaultSyncEvery is how often the background sync goes round.
	DefaultSyncEvery = 30 * time.Second
	syncGap          = 4 * time.Second
)

func (s *Server) syncLoop(ctx context.Context, c *client.Client) {
	every := s.opts.SyncEvery
	wait := randomUpTo(min(syncGap, every))
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		list, _ := c.Channels()
		for _, i := range randomOrder(len(list)) {
			name := list[i].Name
			sctx, cancel := context.WithTimeout(ctx, opTimeout)
			_, err := c.Sync(sctx, name)
			cancel()
			if ctx.Err() != nil {
				return
			}
			l := linkState{OK: err == nil, At: s.opts.Now()}
			if err != nil {
				l.Error = client.OneLine(err.Error())
			}
			s.mu.Lock()
			if s.links != nil {
				s.links[name] = l
			}
			s.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-time.After(randomUpTo(min(syncGap, every))):
			}
		}
		wait = every + randomUpTo(every/2)
	}
}

func randomUpTo(d time.Duration) time.Duration {
	n, _ := rand.Int(rand.Reader, big.NewInt(int64(d)))
	return time.Duration(n.Int64())
}

func randomOrder(n int) []int {
	order := make([]int, n)
	for i := range order {
		j := int(randomUpTo(time.Duration(i + 1)))
		order[i] = order[j]
		order[j] = i
	}
	return order
}

func (s *Server) refuseJoin(_ context.Context, c *client.Client, r *http.Request) (any, error) {
	var req struct{ Names []string }
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if len(req.Names) == 0 {
		return nil, errors.New("name the join requests to refuse")
	}
	return ok{true}, c.Refuse(r.PathValue("ch"), req.Names)
}
