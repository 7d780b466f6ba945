package client

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"parley/crypto"
	"parley/internal/relayclient"
	"parley/internal/wire"
)

// MaxInviteLife is the longest an invite code may stay valid; the relay
// enforces the same bound.
const MaxInviteLife = 7 * 24 * time.Hour

// Invite makes a single-use invite code for role, valid for expires;
// membership, when not zero, makes the membership itself expire that
// long after admission.
func (c *Client) Invite(ctx context.Context, name string, role crypto.Role, expires, membership time.Duration) (string, error) {
	return c.InviteToSide(ctx, name, role, "", expires, membership)
}

// InviteToSide is Invite for a member of side (a delegation; "" for
// none), which the admitted member's roster entry carries.
func (c *Client) InviteToSide(ctx context.Context, name string, role crypto.Role, side string, expires, membership time.Duration) (string, error) {
	if side != "" {
		if err := checkSide(side); err != nil {
			return "", err
		}
	}
	if expires <= 0 || expires > MaxInviteLife {
		return "", fmt.Errorf("invite expiry must be between 1s and %s", FormatDuration(MaxInviteLife))
	}
	row, err := c.view(name)
	if err != nil {
		return "", err
	}
	_, _, keys, err := row.st.self(crypto.RoleOrganizer)
	if err != nil {
		return "", err
	}
	var addrs []crypto.InviteRelay
	for _, r := range row.st.Relays {
		dial, pin, err := wire.ParseURL(r.URL)
		if err != nil {
			return "", err
		}
		addrs = append(addrs, crypto.InviteRelay{URL: dial, Pin: pin})
	}
	inv, err := crypto.NewInvite(addrs[0].URL, addrs[0].Pin, row.st.channelID(), keys.ID(), role, c.Now().Add(expires), name)
	if err != nil {
		return "", err
	}
	inv.MoreRelays = addrs[1:]
	code := inv.String()
	if code == "" {
		return "", errors.New("the invite cannot be encoded (relay addresses too long)")
	}
	// Record the invite before the relay learns of it, so a join request
	// can always be opened.
	if err := c.update(name, func(tx *sql.Tx, row *channelRow) error {
		row.st.Invites = append(row.st.Invites, inviteRecord{Code: code, Role: role, Side: side, Membership: membership, Expires: inv.Expires})
		return nil
	}); err != nil {
		return "", err
	}
	// Every relay must know the invite, or the join request the invitee
	// posts there is refused; one that cannot be reached now is named.
	if n, err := c.administer(ctx, name, func(conn *relayclient.Conn) error {
		return conn.RegisterInvite(ctx, crypto.TokenID(inv.Token()), inv.Expires)
	}, nil); n < len(row.st.Relays) {
		if len(row.st.Relays) > 1 {
			err = fmt.Errorf("%w (no invite was made)", err)
		}
		return "", err
	}
	return code, nil
}

// Join sends a join request with an invite code and records the channel
// as pending under as (default: the organizer's name for it). It returns
// the local name.
func (c *Client) Join(ctx context.Context, code, as string) (string, error) {
	inv, err := crypto.ParseInvite(code)
	if err != nil {
		return "", fmt.Errorf("invite code: %w", err)
	}
	if inv.ExpiredAt(c.Now()) {
		return "", errors.New("this invite has expired; ask the organizer for a new one")
	}
	name := as
	if name == "" {
		name = inv.Name
	}
	if name == "" {
		return "", errors.New("the invite names no channel; choose a local name with --as")
	}
	if err := checkName(name); err != nil {
		return "", fmt.Errorf("channel %w", err)
	}
	if err := c.nameFree(name, "choose another with --as"); err != nil {
		return "", err
	}
	keys, err := crypto.GenerateChannelKeys()
	if err != nil {
		return "", err
	}
	req, err := crypto.NewJoinRequest(inv, c.id, c.name, keys)
	if err != nil {
		return "", err
	}
	sealed, err := inv.SealJoinRequest(req)
	if err != nil {
		return "", err
	}
	urls := []string{wire.JoinURL(inv.RelayURL, inv.Pin)}
	for _, r := range inv.MoreRelays {
		urls = append(urls, wire.JoinURL(r.URL, r.Pin))
	}
	st := &channelState{Name: name, Channel: inv.Channel[:], Keys: kb(keys), Status: statusPending, Invite: inv.String(), KeysUpdated: c.Now(), Relays: newRelayStates(urls, c.Now())}
	st.NextRelayID = len(urls) + 1
	// Commit the pending channel (and its keys) before the relay spends
	// the invite, so a crash cannot leave an admitted pseudonym whose
	// keys nobody holds.
	tx, err := c.db.Begin()
	if err != nil {
		return "", err
	}
	row, err := c.insertChannel(tx, st)
	if err != nil {
		tx.Rollback()
		return "", err
	}
	if err := c.appendTranscript(tx, row.id, []Entry{{Time: c.Now().UTC(), Kind: KindSystem,
		Text: "join request sent; waiting for an organizer to admit you"}}); err != nil {
		tx.Rollback()
		return "", err
	}
	if err := tx.Commit(); err != nil {
		return "", err
	}
	// The same sealed request goes to every relay; the organizer takes
	// the first copy. One relay that takes it is enough.
	var firstErr error
	sent := 0
	for _, u := range urls {
		err := func() error {
			dctx, cancel := context.WithTimeout(ctx, dialTimeout)
			defer cancel()
			conn, err := c.dial(dctx, u, keys.ID())
			if err != nil {
				return err
			}
			defer conn.Close()
			return conn.Join(dctx, inv.Channel, inv.Token(), sealed)
		}()
		if err == nil {
			sent++
		} else {
			firstErr = cmp.Or(firstErr, err)
		}
	}
	if sent == 0 {
		err := firstErr
		c.erase(row.id)
		if errors.Is(err, relayclient.ErrInviteInvalid) {
			return "", errors.New("the relay refused the invite: it was used already, has expired, or is unknown")
		}
		return "", err
	}
	return name, nil
}

// PendingJoin is a join request an organizer can admit.
type PendingJoin struct {
	Name         string `json:"name"`
	Role         string `json:"role"`
	Side         string `json:"side,omitempty"`
	SafetyNumber string `json:"safety_number"`
}

// Pending fetches new join requests from the relay, opens them with the
// channel's invites, and lists every request waiting for admission.
func (c *Client) Pending(ctx context.Context, name string) ([]PendingJoin, error) {
	row, err := c.view(name)
	if err != nil {
		return nil, err
	}
	if _, _, _, err := row.st.self(crypto.RoleOrganizer); err != nil {
		return nil, err
	}
	pulled, firstErr := c.administer(ctx, name, func(conn *relayclient.Conn) error {
		return c.pullJoins(ctx, conn, name)
	}, nil)
	if pulled == 0 && firstErr != nil {
		return nil, firstErr
	}
	row, err = c.view(name)
	if err != nil {
		return nil, err
	}
	var out []PendingJoin
	for _, p := range row.st.Pending {
		req, err := openPending(p)
		if err != nil {
			return nil, err
		}
		out = append(out, PendingJoin{Name: req.Name, Role: p.Role.String(), Side: p.Side, SafetyNumber: req.Identity.SafetyNumber()})
	}
	return out, nil
}

func openPending(p pendingJoin) (*crypto.JoinRequest, error) {
	inv, err := crypto.ParseInvite(p.Invite)
	if err != nil {
		return nil, err
	}
	return inv.OpenJoinRequest(p.Sealed)
}

// pullJoins moves join requests from the relay into the local pending
// list. Each request is opened with the invite it was made for; an
// invite, once used, is forgotten. Requests no invite opens are dropped.
func (c *Client) pullJoins(ctx context.Context, conn *relayclient.Conn, name string) error {
	joins, err := conn.Joins(ctx)
	if err != nil || len(joins) == 0 {
		return err
	}
	var ids []uint64
	err = c.update(name, func(tx *sql.Tx, row *channelRow) error {
		st := row.st
		var alerts []Entry
		for _, j := range joins {
			ids = append(ids, j.ID)
			if slices.ContainsFunc(st.Pending, func(p pendingJoin) bool { return bytes.Equal(p.Sealed, j.Sealed) }) {
				continue // the same request, from another relay
			}
			for i, inv := range st.Invites {
				code, _ := crypto.ParseInvite(inv.Code)
				req, err := code.OpenJoinRequest(j.Sealed)
				if errors.Is(err, crypto.ErrDecrypt) || len(j.Sealed) != crypto.SealedJoinSize {
					continue // made with another invite, or not a request at all
				}
				if err != nil {
					// Sealed with this invite's token, but its keys are
					// not the ones its sender signed: someone holding the
					// code altered it on the way. The invite is spent.
					alerts = append(alerts, Entry{Time: c.Now().UTC(), Kind: KindSystem, Reason: ReasonAdmissionAltered, Alarm: true, Text: fmt.Sprintf("ALERT: rejected a join request made with your invite for a %s (expiring %s): its keys are not the ones its sender signed (%v). Someone who has the invite code altered it on its way, with the relay's help; the invite is now void. Tell the person you invited, and hand them a new invite in person", inv.Role, inv.Expires.UTC().Format("2006-01-02 15:04 UTC"), err)})
					st.Invites = slices.Delete(st.Invites, i, i+1)
					break
				}
				if checkName(req.Name) != nil {
					// A name that could disguise itself on screen: the
					// request is dropped, and the invite with it.
					st.Invites = slices.Delete(st.Invites, i, i+1)
					break
				}
				st.Pending = append(st.Pending, pendingJoin{RelayID: j.ID, Invite: inv.Code, Sealed: j.Sealed, Name: req.Name,
					Role: inv.Role, Side: inv.Side, Membership: inv.Membership, Received: c.Now().UTC()})
				st.Invites = slices.Delete(st.Invites, i, i+1)
				break
			}
		}
		// Forget invites past their expiry: the relay refuses them too.
		st.Invites = slices.DeleteFunc(st.Invites, func(i inviteRecord) bool { return !c.Now().Before(i.Expires) })
		return c.appendTranscript(tx, row.id, alerts)
	})
	if err != nil {
		return err
	}
	return conn.DropJoins(ctx, ids)
}

// Admit admits pending join requests by display name (or all of them):
// a new roster, access list and epoch. It returns the names admitted.
func (c *Client) Admit(ctx context.Context, name string, names []string, all bool) ([]string, error) {
	// The join requests are pulled in the same session.
	var admitted []string
	err := c.changeRoster(ctx, name, func(conn *relayclient.Conn) error {
		return c.pullJoins(ctx, conn, name)
	}, func(tx *sql.Tx, row *channelRow) error {
		admitted = nil
		cur, _, keys, err := row.st.self(crypto.RoleOrganizer)
		if err != nil {
			return err
		}
		next := cur.Next(c.Now())
		var keep []pendingJoin
		for _, p := range row.st.Pending {
			if !all && !slices.Contains(names, p.Name) {
				keep = append(keep, p)
				continue
			}
			req, err := openPending(p)
			if err != nil {
				return err
			}
			for _, m := range next.Members {
				if m.Name == req.Name {
					return fmt.Errorf("a member named %q exists already; names must be unique in a channel", req.Name)
				}
			}
			var expires time.Time
			if p.Membership > 0 {
				expires = c.Now().Add(p.Membership)
			}
			m := req.Member(p.Role, expires)
			m.Side = p.Side
			next.Members = append(next.Members, m)
			admitted = append(admitted, req.Name)
		}
		for _, n := range names {
			if !slices.Contains(admitted, n) {
				return fmt.Errorf("no pending join request from %q (parley pending lists them)", n)
			}
		}
		if len(admitted) == 0 {
			return errors.New("no pending join requests")
		}
		if len(next.Members) > next.Policy.MemberCap() {
			return fmt.Errorf("a %s channel has at most %d members", next.Policy, next.Policy.MemberCap())
		}
		taken := slices.DeleteFunc(slices.Clone(row.st.Pending), func(p pendingJoin) bool {
			return slices.ContainsFunc(keep, func(k pendingJoin) bool { return k.Name == p.Name })
		})
		row.st.Pending = keep
		if err := c.rekey(tx, row, next, keys); err != nil {
			return err
		}
		if p := row.st.ownProposal(); p != nil {
			// Waiting for approvals: the requests come back if the
			// proposal is dropped.
			p.Restore = taken
		}
		return nil
	})
	if err != nil && !errors.Is(err, errQueued) {
		return nil, err
	}
	return admitted, err
}

// changeRoster makes a roster change in one administration session
// (administer.go): atRelay (nil: nothing) at each relay, then propose,
// on the newest state, queues the proposal, which goes out on the same
// connections. It fails with an error wrapping errQueued when the
// proposal was made but no relay took it yet.
func (c *Client) changeRoster(ctx context.Context, name string, atRelay func(*relayclient.Conn) error, propose func(tx *sql.Tx, row *channelRow) error) error {
	if err := c.mustOrganize(name); err != nil {
		return err
	}
	made, waits := false, false
	n, err := c.administer(ctx, name, atRelay, func() error {
		err := c.update(name, func(tx *sql.Tx, row *channelRow) error {
			if err := propose(tx, row); err != nil {
				return err
			}
			// rekey refuses a change while one of ours waits, so a
			// proposal now is this one.
			waits = row.st.ownProposal() != nil
			return nil
		})
		made = err == nil
		return err
	})
	if !made {
		return err
	}
	if waits {
		return c.proposalPosted(ctx, name)
	}
	return c.proposalSent(name, n, err)
}

// proposalPosted posts a proposal just made, which waits for other
// organizers' approvals, to the talks: on a member connection of its
// own, a random pause after the administration session (as adminConns
// does), since an administration key posts no messages. It returns the
// AwaitingApprovalError that says so.
func (c *Client) proposalPosted(ctx context.Context, name string) error {
	var syncErr error
	if syncErr = c.adminPause(ctx); syncErr == nil {
		_, syncErr = c.Sync(ctx, name)
	}
	row, err := c.view(name)
	if err != nil {
		return err
	}
	waiting := row.st.awaiting()
	if waiting == nil {
		return syncErr // approved and gone out meanwhile, or dropped: the transcript says which
	}
	if q, _ := c.Queued(name); q > 0 {
		waiting.Queued = cmp.Or(syncErr, errors.New("the relay has not taken it yet"))
	}
	return waiting
}

// proposalSent says how a change made in an administration session
// that reached n relays (err, the session's error) fared: nil once a
// relay took it.
func (c *Client) proposalSent(name string, n int, err error) error {
	if errors.Is(err, errProposalLost) {
		return err
	}
	queued, qerr := c.proposalQueued(name)
	if qerr != nil {
		return qerr
	}
	if !queued {
		return nil // at one relay at least; the others get copies at the next sync
	}
	if err == nil {
		err = fmt.Errorf("no relay took it (%d reached)", n)
	}
	return fmt.Errorf("%w (%w)", err, errQueued)
}

// errQueued marks a change that was made and waits to be sent.
var errQueued = errors.New("the change is queued; parley sync sends it")

// Member is one line of members.
type Member struct {
	Name         string     `json:"name"`
	Role         string     `json:"role"`
	Side         string     `json:"side,omitempty"`
	SafetyNumber string     `json:"safety_number"`
	Verified     bool       `json:"verified"`
	Expires      *time.Time `json:"expires,omitempty"`
	You          bool       `json:"you,omitempty"`
}

// Members lists the current roster.
func (c *Client) Members(name string) ([]Member, error) {
	row, err := c.view(name)
	if err != nil {
		return nil, err
	}
	r, _, keys, err := row.st.self(0)
	if err != nil {
		return nil, err
	}
	var out []Member
	for _, m := range r.Members {
		info := Member{Name: m.Name, Role: m.Role.String(), Side: m.Side, SafetyNumber: m.Identity.SafetyNumber(),
			Verified: row.st.Verified[fmt.Sprintf("%x", m.Identity.Fingerprint())], You: m.ID() == keys.ID()}
		if !m.Expires.IsZero() {
			t := m.Expires
			info.Expires = &t
		}
		out = append(out, info)
	}
	return out, nil
}

// Remove removes a member: new roster, access list and epoch at once,
// in one administration session. Once a relay took them, this home
// seals nothing more in the talks of the old epoch; it enters the new
// one when the relay returns its bundle, at its next sync (an
// administration session makes no member connection).
func (c *Client) Remove(ctx context.Context, name, member string) error {
	return c.changeRoster(ctx, name, nil, func(tx *sql.Tx, row *channelRow) error {
		cur, self, keys, err := row.st.self(crypto.RoleOrganizer)
		if err != nil {
			return err
		}
		if member == self.Name {
			return errors.New("you cannot remove yourself; use parley leave")
		}
		next := cur.Next(c.Now())
		var found bool
		for _, m := range cur.Members {
			if m.Name == member {
				found = next.Remove(m.ID())
			}
		}
		if !found {
			return fmt.Errorf("no member named %q", member)
		}
		return c.rekey(tx, row, next, keys)
	})
}

// Verify returns a member's safety number and whether it is marked
// verified; confirm marks it.
func (c *Client) Verify(name, member string, confirm bool) (string, bool, error) {
	var sn string
	var verified bool
	err := c.update(name, func(tx *sql.Tx, row *channelRow) error {
		r, _, _, err := row.st.self(0)
		if err != nil {
			return err
		}
		for _, m := range r.Members {
			if m.Name != member {
				continue
			}
			fp := fmt.Sprintf("%x", m.Identity.Fingerprint())
			if confirm {
				if row.st.Verified == nil {
					row.st.Verified = map[string]bool{}
				}
				row.st.Verified[fp] = true
			}
			sn, verified = m.Identity.SafetyNumber(), row.st.Verified[fp]
			return nil
		}
		return fmt.Errorf("no member named %q", member)
	})
	return sn, verified, err
}
