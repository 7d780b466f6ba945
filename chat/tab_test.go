package chat

import (
	"testing"

	"parley/client"
	"parley/crypto"
)

// Initials are talks: they must never show in the briefings tab, where a
// participant composes what mentors read.
func TestInitialsBelongToTheTalksTab(t *testing.T) {
	if got := tabOf(client.Entry{Kind: client.KindInitial}); got != crypto.Talks {
		t.Fatalf("an initial shows in tab %v, want the talks", got)
	}
}
