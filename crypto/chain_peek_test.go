package crypto

import "testing"

func TestPeekReceiveChain(t *testing.T) {
	c := &ReceiveChain{Key: ChainKey{1}}
	for _, expect := range []uint32{0, 5, 9} {
		c.Expect(expect)
		raw, err := c.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		next, skipped, ok := PeekReceiveChain(raw)
		if !ok || next != c.Next || skipped != len(c.Skipped) {
			t.Fatalf("peek: %d %d %v, chain: %d %d", next, skipped, ok, c.Next, len(c.Skipped))
		}
	}
	if _, _, ok := PeekReceiveChain(make([]byte, 37)); ok {
		t.Fatal("a short chain peeked")
	}
}
