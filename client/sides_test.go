package client_test

import (
	"testing"
	"time"

	"parley/crypto"
)

// A side name that could disguise itself on screen is refused, as a
// display name is, before any invite is made.
func TestSideNamesAreChecked(t *testing.T) {
	w := newWorld(t, nil)
	org := w.Organizer("Convener", "c")
	for _, side := range []string{"A\x1b[2J", "B\u202e", "C\nD", string(make([]byte, crypto.MaxSideLen+1))} {
		if code, err := org.InviteToSide(w.Ctx, "c", crypto.RoleParticipant, side, time.Hour, 0); err == nil {
			t.Errorf("side %q accepted: %s", side, code)
		}
	}
	if _, err := org.InviteToSide(w.Ctx, "c", crypto.RoleParticipant, "facilitators", time.Hour, 0); err != nil {
		t.Fatal(err)
	}
}
