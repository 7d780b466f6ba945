package client

import (
	"database/sql"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"parley/crypto"
)

// An organizer whose client goes around the every-side rule (it sends a
// change without the approval it needs) is refused by every other
// member, with an alarm naming the side whose approval is missing; and
// a proposal for an older roster, as a relay delivering an old proposal
// late leaves it in an organizer's home, cannot be approved.
func TestQuorumBypassRejected(t *testing.T) {
	ctx, _, org, alice := twoHomes(t)
	orgB := openHome(t, "Organizer B")
	code, err := org.InviteToSide(ctx, "c", crypto.RoleOrganizer, "B", time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := orgB.Join(ctx, code, "c"); err != nil {
		t.Fatal(err)
	}
	dan := openHome(t, "Dan")
	code, err = org.Invite(ctx, "c", crypto.RoleParticipant, time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dan.Join(ctx, code, "c"); err != nil {
		t.Fatal(err)
	}
	if _, err := org.Admit(ctx, "c", nil, true); err != nil {
		t.Fatal(err)
	}
	if err := org.SetRule(ctx, "c", crypto.QuorumEverySide); err != nil {
		t.Fatalf("turning the rule on while none is in force: %v", err)
	}
	for _, h := range []*Client{orgB, alice} {
		if _, err := h.Sync(ctx, "c"); err != nil {
			t.Fatal(err)
		}
	}
	// The honest way waits for side B.
	err = org.Remove(ctx, "c", "Organizer B")
	var w *AwaitingApprovalError
	if !errors.As(err, &w) || !slices.Equal(w.Sides, []string{"B"}) {
		t.Fatalf("removing side B's organizer: %v", err)
	}
	if _, err := orgB.Sync(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	row, err := orgB.view("c")
	if err != nil || len(row.st.Proposals) != 1 {
		t.Fatalf("organizer B holds %d proposals: %v", len(row.st.Proposals), err)
	}
	old := *row.st.Proposals[0]
	if _, err := org.Withdraw(ctx, "c"); err != nil {
		t.Fatal(err)
	}

	// The withdrawn proposal, delivered again as a relay could, once
	// another change has gone out: refused, saying why.
	if err := org.Remove(ctx, "c", "Dan"); err != nil {
		t.Fatalf("removing a member of no side: %v", err)
	}
	if _, err := orgB.Sync(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if err := orgB.update("c", func(tx *sql.Tx, row *channelRow) error {
		row.st.Proposals = append(row.st.Proposals, &old)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, err = orgB.Approve(ctx, "c", 0)
	if err == nil || !strings.Contains(err.Error(), "the relay delivered an old proposal") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("approving an old proposal: %v", err)
	}

	// The rogue way: moving Alice to side A, sent on org's word alone.
	if err := org.update("c", func(tx *sql.Tx, row *channelRow) error {
		cur, _, keys, err := row.st.self(0)
		if err != nil {
			return err
		}
		next := cur.Next(org.Now())
		next.Members[slices.IndexFunc(next.Members, func(m crypto.Member) bool { return m.Name == "Alice" })].Side = "A"
		if err := next.Sign(keys); err != nil {
			return err
		}
		return org.queueProposal(tx, row, next, keys)
	}); err != nil {
		t.Fatal(err)
	}
	if n, err := org.administer(ctx, "c", nil, nil); n == 0 {
		t.Fatalf("the rogue change did not go out: %v", err)
	}
	for _, h := range []*Client{orgB, alice} {
		if _, err := h.Sync(ctx, "c"); err != nil {
			t.Fatal(err)
		}
		entries, err := h.Read("c")
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(entries, func(e Entry) bool { return e.Reason == ReasonQuorum })
		if i < 0 || !entries[i].Alarm || !strings.Contains(entries[i].Text, `lacks the approval of an organizer of side "B"`) {
			t.Fatalf("the change without side B's approval: %+v", entries)
		}
		ms, _ := h.Members("c")
		if slices.ContainsFunc(ms, func(m Member) bool { return m.Side == "A" }) {
			t.Fatal("the rogue roster was taken")
		}
	}
}

// An organizer of one side who leaves another side's organizer out of an
// epoch, alone: the new roster is sealed to those who remain, so the one
// left out cannot check its approvals, and its client must not claim a
// removal it cannot verify.
func TestQuorumRemovalNotClaimed(t *testing.T) {
	ctx, _, org, _ := twoHomes(t)
	orgB := openHome(t, "Organizer B")
	code, err := org.InviteToSide(ctx, "c", crypto.RoleOrganizer, "B", time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := orgB.Join(ctx, code, "c"); err != nil {
		t.Fatal(err)
	}
	if _, err := org.Admit(ctx, "c", nil, true); err != nil {
		t.Fatal(err)
	}
	if err := org.SetRule(ctx, "c", crypto.QuorumEverySide); err != nil {
		t.Fatal(err)
	}
	if _, err := orgB.Sync(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if err := org.update("c", func(tx *sql.Tx, row *channelRow) error {
		cur, _, keys, err := row.st.self(0)
		if err != nil {
			return err
		}
		next := cur.Next(org.Now())
		next.Remove(cur.Members[slices.IndexFunc(cur.Members, func(m crypto.Member) bool { return m.Name == "Organizer B" })].ID())
		if err := next.Sign(keys); err != nil {
			return err
		}
		return org.queueProposal(tx, row, next, keys)
	}); err != nil {
		t.Fatal(err)
	}
	if n, err := org.administer(ctx, "c", nil, nil); n == 0 {
		t.Fatalf("the rogue removal did not go out: %v", err)
	}
	orgB.Sync(ctx, "c")
	entries, err := orgB.Read("c")
	if err != nil {
		t.Fatal(err)
	}
	// Its client learns of it in one of two ways: the relay refuses its
	// key first (its word only, said as such), or it fetches the signed
	// epoch that leaves it out. Neither may claim a verified removal.
	i := slices.IndexFunc(entries, func(e Entry) bool { return e.Reason == ReasonRemoved || e.Reason == ReasonRefused })
	if i < 0 || strings.Contains(entries[i].Text, "you were removed") ||
		(entries[i].Reason == ReasonRemoved && !strings.Contains(entries[i].Text, "cannot check")) {
		t.Fatalf("side B's organizer left out by side A alone is told: %+v", entries)
	}
	if err := orgB.Send(ctx, "c", crypto.Talks, "still here?"); err == nil || strings.Contains(err.Error(), "you were removed") {
		t.Fatalf("sending after being left out: %v", err)
	}
}
