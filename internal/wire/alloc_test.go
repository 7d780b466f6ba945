package wire

import (
	"bytes"
	"testing"
)

// A frame that carries envelopes is built in a buffer made for its final
// size, not grown to it (a grown buffer ends with the capacity of a size
// class, and the smaller ones before it were thrown away): the relay
// builds one for every post it takes, every push and every fetch.
func TestEnvelopeFramesBuiltInOneBuffer(t *testing.T) {
	env := make([]byte, 16384)
	stored := Stored{Seq: 7, Kind: KindMessage, Time: 1, Payload: env}
	for name, out := range map[string][]byte{
		"push":   EncodePush(stored),
		"post":   Post{Kind: KindMessage, Payload: env}.Encode(3),
		"frames": EncodeFrames(3, false, []Stored{stored, stored}),
		"blob":   EncodeBlob(TBurned, 0, env),
	} {
		if len(out) != cap(out) {
			t.Errorf("%s: %d bytes in a buffer of %d", name, len(out), cap(out))
		}
	}
}

// A client sends a post as Header, then the payload it holds: the same
// bytes as Encode.
func TestPostHeaderThenPayloadIsEncode(t *testing.T) {
	for _, n := range []int{0, 1, 300, 16384, 1<<16 + 1, 1<<24 - 1} {
		p := Post{Kind: KindMessage, Payload: make([]byte, n)}
		for i := range p.Payload {
			p.Payload[i] = byte(i * 7)
		}
		sent := append(p.Header(0x01020304), p.Payload...)
		if !bytes.Equal(sent, p.Encode(0x01020304)) {
			t.Fatalf("payload of %d bytes: Header then payload differs from Encode", n)
		}
	}
}
