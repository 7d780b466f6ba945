package wire

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the fuzz seed corpus in testdata/fuzz")

// TestSeedCorpus keeps testdata/fuzz/FuzzDecode in step with samples:
// regenerate with go test ./internal/wire -run TestSeedCorpus -update.
func TestSeedCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	for i, s := range samples() {
		path := filepath.Join(dir, fmt.Sprintf("sample-%02d", i))
		want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
		if *update {
			os.MkdirAll(dir, 0o755)
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Fatalf("seed %s is missing or stale (run with -update)", path)
		}
	}
}

// reencode parses f's body by type and encodes it again; ok is false when
// the body does not parse.
func reencode(f Frame) (out []byte, ok bool) {
	switch f.Type {
	case TChallenge:
		c, err := ParseChallenge(f.Body)
		return c.Encode(), err == nil && f.ID == 0
	case TAuth:
		a, err := ParseAuth(f.Body)
		return a.Encode(f.ID), err == nil
	case TCreate, TSetAccess, TBurn, TBurned, TAccessList:
		b, err := ParseBlob(f.Body)
		return EncodeBlob(f.Type, f.ID, b), err == nil
	case TPost:
		p, err := ParsePost(f.Body)
		return p.Encode(f.ID), err == nil
	case TFetch, TOK:
		v, err := ParseUint64(f.Body)
		return EncodeUint64(f.Type, f.ID, v), err == nil
	case TInvite:
		i, err := ParseInvite(f.Body)
		return i.Encode(f.ID), err == nil
	case TJoin:
		j, err := ParseJoin(f.Body)
		return j.Encode(f.ID), err == nil
	case TDropJoins:
		ids, err := ParseIDs(f.Body)
		return EncodeIDs(f.Type, f.ID, ids), err == nil
	case TError:
		e, err := ParseError(f.Body)
		return e.Encode(f.ID), err == nil
	case TFrames:
		more, fr, err := ParseFrames(f.Body)
		return EncodeFrames(f.ID, more, fr), err == nil
	case TPush:
		s, err := ParsePush(f.Body)
		return EncodePush(s), err == nil && f.ID == 0
	case TJoinList:
		j, err := ParseJoinList(f.Body)
		return EncodeJoinList(f.ID, j), err == nil
	case TTombstone:
		c, err := ParseChannel(f.Body)
		return EncodeChannel(f.Type, f.ID, c), err == nil
	case TJoins, TGetAccess:
		return Encode(f.Type, f.ID, nil), ParseEmpty(f.Body) == nil
	}
	return nil, false
}

func samples() [][]byte {
	return [][]byte{
		Challenge{Nonce: [32]byte{1}}.Encode(),
		Auth{Channel: [16]byte{2}, Key: [32]byte{3}, Signature: [64]byte{4}}.Encode(7),
		EncodeBlob(TCreate, 1, []byte("access list")),
		Post{Kind: KindMessage, Payload: bytes.Repeat([]byte{9}, 300)}.Encode(2),
		EncodeUint64(TFetch, 3, 42),
		Invite{TokenID: [32]byte{5}, Expires: 1800000000}.Encode(4),
		Join{Channel: [16]byte{6}, Token: [32]byte{7}, Sealed: []byte("sealed")}.Encode(5),
		EncodeIDs(TDropJoins, 6, []uint64{1, 2, 3}),
		ErrorBody{Code: CodeForbidden, Message: "not permitted"}.Encode(8),
		EncodeFrames(9, true, []Stored{{Seq: 1, Kind: KindMessage, Time: 5, Payload: []byte("a")}, {Seq: 2, Kind: KindBundle, Payload: []byte("b")}}),
		EncodePush(Stored{Seq: 3, Kind: KindMessage, Time: 6, Payload: []byte("c")}),
		EncodeJoinList(10, []JoinRequest{{ID: 1, Sealed: []byte("x")}}),
		EncodeChannel(TTombstone, 11, [16]byte{8}),
		Encode(TJoins, 12, nil),
	}
}

func TestRoundTrip(t *testing.T) {
	for _, s := range samples() {
		f, err := Decode(s)
		if err != nil {
			t.Fatal(err)
		}
		out, ok := reencode(f)
		if !ok || !bytes.Equal(out, s) {
			t.Fatalf("type %#x does not round-trip", f.Type)
		}
		// Every strict prefix of the body fails to parse.
		for i := 6; i < len(s); i++ {
			g, err := Decode(s[:i])
			if err != nil {
				continue
			}
			if _, ok := reencode(g); ok && f.Type != TJoins {
				t.Fatalf("type %#x accepted truncated to %d bytes", f.Type, i)
			}
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	for _, bad := range [][]byte{nil, {1}, {2, 1, 0, 0, 0, 0}, make([]byte, MaxFrame+1)} {
		if _, err := Decode(bad); !errors.Is(err, ErrMalformed) {
			t.Fatalf("Decode(%d bytes): %v", len(bad), err)
		}
	}
	if _, err := ParsePost([]byte{9, 0, 0, 0}); !errors.Is(err, ErrMalformed) {
		t.Fatal("unknown kind accepted")
	}
	if _, err := ParseIDs([]byte{0xff, 0xff}); !errors.Is(err, ErrMalformed) {
		t.Fatal("huge id count accepted")
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range samples() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := Decode(data)
		if err != nil {
			return
		}
		if out, ok := reencode(fr); ok && !bytes.Equal(out, data) {
			t.Fatalf("type %#x re-encodes differently", fr.Type)
		}
	})
}

// A post's Push frame, built in place around a parsed post's payload, is
// byte for byte what EncodePush makes, and so is one built from a Post
// not made by ParsePost.
func TestPushFrameInPlace(t *testing.T) {
	for _, n := range []int{0, 1, 300, 16384} {
		payload := make([]byte, n)
		for i := range payload {
			payload[i] = byte(i * 7)
		}
		for _, kind := range []Kind{KindMessage, KindBundle} {
			post := Post{Kind: kind, Payload: payload}
			f, err := Decode(post.Encode(9))
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := ParsePost(f.Body)
			if err != nil {
				t.Fatal(err)
			}
			want := EncodePush(Stored{Seq: 1<<40 + 5, Kind: kind, Time: 1_800_000_000_123, Payload: payload})
			if got := parsed.PushFrame(1<<40+5, 1_800_000_000_123); !bytes.Equal(got, want) {
				t.Errorf("%d bytes, kind %d: parsed post's push frame differs from EncodePush", n, kind)
			}
			if !bytes.Equal(parsed.Payload, payload) {
				t.Errorf("%d bytes: framing changed the payload", n)
			}
			if got := post.PushFrame(1<<40+5, 1_800_000_000_123); !bytes.Equal(got, want) {
				t.Errorf("%d bytes, kind %d: push frame of an unparsed post differs", n, kind)
			}
		}
	}
}
