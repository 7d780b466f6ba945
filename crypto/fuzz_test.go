package crypto

import (
	"bytes"
	"reflect"
	"testing"
)

// Each decoder is fuzzed: it must never panic, and whatever it accepts
// must encode back to exactly the input, so that every structure has one
// encoding (and one hash). Seeds are in testdata/fuzz, written by
// TestVectors -update.

func FuzzParseRoster(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRoster(data)
		if err != nil {
			return
		}
		again, err := r.Marshal()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("re-marshal differs: %v", err)
		}
		_ = r.VerifyGenesis()
	})
}

func FuzzParseAccessList(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ParseAccessList(data)
		if err != nil {
			return
		}
		again, err := a.Marshal()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("re-marshal differs: %v", err)
		}
		_ = a.VerifyGenesis()
	})
}

func FuzzParseEpochBundle(f *testing.F) {
	w := newVectorWorld(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ParseEpochBundle(data)
		if err != nil {
			return
		}
		again, err := b.Marshal()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("re-marshal differs: %v", err)
		}
		_, _, _ = b.Open(w.aliceKeys, nil, w.genesis.IsOrganizer)
	})
}

func FuzzParseBurnNotice(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ParseBurnNotice(data)
		if err != nil {
			return
		}
		if !bytes.Equal(b.Marshal(), data) {
			t.Fatal("re-marshal differs")
		}
		_ = b.Verify(b.Channel)
	})
}

func FuzzParseInvite(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := ParseInvite(string(data))
		if err != nil {
			return
		}
		again, err := ParseInvite(inv.String())
		if err != nil || !reflect.DeepEqual(again, inv) {
			t.Fatalf("invite does not survive a second round trip: %v", err)
		}
	})
}

func FuzzOpenJoinRequest(f *testing.F) {
	w := newVectorWorld(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := w.invite.OpenJoinRequest(data)
		if err != nil {
			return
		}
		if VerifyBinding(&req.Identity, w.invite.Channel, &req.Keys, req.Binding) != nil {
			t.Fatal("accepted a request with a bad binding")
		}
	})
}

func FuzzOpenMessage(f *testing.F) {
	w := newVectorWorld(f)
	ck, _ := w.secrets.SenderChain(Talks, w.aliceKeys.ID())
	mk, _ := (&ReceiveChain{Key: ck}).lookup(0)
	pk, _ := w.orgKeys.pairKey(w.v2.Channel, w.aliceKeys.Public())
	slot := w.v2.Slot(Talks, w.orgKeys.ID())
	genuine := w.aliceMessage(f)
	sdk := w.secrets.SenderDataKey()
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := ParseClearHeader(data); err != nil {
			return
		}
		h, err := sdk.OpenHeader(w.v2.Channel, data)
		if err != nil {
			return
		}
		if !bytes.Equal(h.marshal(w.v2.Channel, sdk), data[:HeaderSize]) {
			t.Fatal("header does not re-marshal")
		}
		m, err := openMessage(w.v2.Channel, h, data, mk, slot, pk)
		if err == nil && !bytes.Equal(data, genuine) {
			t.Fatalf("opened a forged envelope: %q", m.Body)
		}
	})
}

func FuzzParseReceiveChain(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseReceiveChain(data)
		if err != nil {
			return
		}
		again, _ := c.MarshalBinary()
		if !bytes.Equal(again, data) {
			// Skipped keys are written in counter order; other orders
			// parse to the same state.
			c2, err := ParseReceiveChain(again)
			if err != nil || c2.Next != c.Next || len(c2.Skipped) != len(c.Skipped) {
				t.Fatal("chain state does not survive a round trip")
			}
		}
	})
}

func FuzzParseAgreement(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ParseAgreement(data)
		if err != nil {
			return
		}
		// JSON has many spellings of one record; what is accepted must
		// write a record that parses back to the same one.
		again, err := a.MarshalJSON()
		if err != nil {
			t.Fatalf("an accepted record does not marshal: %v", err)
		}
		b, err := ParseAgreement(again)
		if err != nil || !reflect.DeepEqual(a, b) {
			t.Fatalf("the re-marshalled record differs: %v", err)
		}
		_ = a.Verify()
	})
}
