package client

import (
	"fmt"
	"testing"
)

// BenchmarkClientSealOpen is the client's own per-message path (see
// MessagePath): one talks message with a 1 KiB text sealed by one home
// of a channel of 10 and taken in by another. "stored" adds each home's
// sealed state row, read and written once per message. Compare with
// crypto's BenchmarkSealOpenView and BenchmarkRawAEAD.
func BenchmarkClientSealOpen(b *testing.B) {
	text := string(make([]byte, 0, 1024))
	for len(text) < 1024 {
		text += "Article 1: both parties recognise each other. "
	}
	text = text[:1024]
	for _, stored := range []bool{false, true} {
		b.Run(fmt.Sprintf("stored=%v", stored), func(b *testing.B) {
			p, err := NewMessagePath(10)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := p.SealOpen(text, stored); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestMessagePath(t *testing.T) {
	p, err := NewMessagePath(4)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := p.SealOpen(fmt.Sprintf("message %d", i), i == 1); err != nil {
			t.Fatal(err)
		}
	}
}
