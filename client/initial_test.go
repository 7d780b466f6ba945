package client

import (
	"crypto/sha256"
	"testing"

	"parley/crypto"
)

// An initial counts only as its sender's roster entry: signed by their
// identity, as their name and side, of the version it names.
func TestReceiveInitialChecksTheSigner(t *testing.T) {
	alice, err := crypto.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	mallory, err := crypto.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	st := &channelState{Channel: make([]byte, 16)}
	st.Channel[0] = 7
	sender := &crypto.Member{Identity: *alice.Public(), Name: "Alice", Side: "A", Role: crypto.RoleParticipant}
	agreed := crypto.AgreedText{Channel: st.channelID(), Draft: "declaration", Version: 2, SHA256: sha256.Sum256([]byte("text"))}
	sign := func(id *crypto.Identity, name, side string) []byte {
		in, err := id.SignInitial(&agreed, name, side)
		if err != nil {
			t.Fatal(err)
		}
		return encodeInitial(&agreed, in.Signature)
	}

	good := st.receiveInitial(sender, sign(alice, "Alice", "A"))
	if good.Kind != KindInitial || good.Initial == nil || good.Initial.Side != "A" || good.Initial.Version != 2 {
		t.Fatalf("a good initial: %+v", good)
	}
	for name, content := range map[string][]byte{
		"signed by another identity": sign(mallory, "Alice", "A"),
		"signed for another side":    sign(alice, "Alice", "B"),
		"signed under another name":  sign(alice, "Alicia", "A"),
	} {
		if e := st.receiveInitial(sender, content); e.Kind != KindSystem || e.Reason != ReasonForged {
			t.Errorf("%s: %+v, want a forgery notice", name, e)
		}
	}
	other := *st
	other.Channel = make([]byte, 16)
	if e := other.receiveInitial(sender, sign(alice, "Alice", "A")); e.Reason != ReasonForged {
		t.Errorf("an initial of another channel: %+v", e)
	}
	if e := st.receiveInitial(sender, []byte{3, 'a'}); e.Reason != ReasonRejected {
		t.Errorf("a malformed initial: %+v", e)
	}
	noSide := *sender
	noSide.Side = ""
	if e := st.receiveInitial(&noSide, sign(alice, "Alice", "A")); e.Reason != ReasonRejected {
		t.Errorf("an initial from a member of no side: %+v", e)
	}
}
