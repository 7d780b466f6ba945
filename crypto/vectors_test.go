package crypto

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// Known-answer vectors live in testdata/vectors.json. Regenerate them, and
// the fuzz seed corpora, only on purpose, with:
//
//	go test ./crypto -run TestVectors -update
//
// Without -update the test recomputes every deterministic value and fails
// if the code has drifted; randomized values (HPKE wraps, the sealed
// roster, the sealed join request) are stored once and must still open to
// the stored secrets.
var update = flag.Bool("update", false, "rewrite testdata/vectors.json and the fuzz seed corpora")

const vectorsFile = "testdata/vectors.json"

func seeded(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }

type vectorWorld struct {
	org, alice, mentor       *Identity
	orgKeys, aliceKeys, mKey *ChannelKeys
	genesis, v2              *Roster
	secrets                  *EpochSecrets
	genesisAdmin             *AdminKey
	invite                   *Invite
}

// newVectorWorld builds a channel from fixed seeds, so every
// deterministic output is reproducible.
func newVectorWorld(t testing.TB) *vectorWorld {
	w := new(vectorWorld)
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	var err error
	w.org, err = identityFromSeed(seeded(0x01, 64))
	must(err)
	w.alice, err = identityFromSeed(seeded(0x02, 64))
	must(err)
	w.mentor, err = identityFromSeed(seeded(0x03, 64))
	must(err)
	w.orgKeys, err = channelKeysFromSeed(seeded(0x11, channelKeysSize))
	must(err)
	w.aliceKeys, err = channelKeysFromSeed(seeded(0x12, channelKeysSize))
	must(err)
	w.mKey, err = channelKeysFromSeed(seeded(0x13, channelKeysSize))
	must(err)

	issued := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	g := &Roster{Version: 1, Issued: issued, Policy: PolicyHard, Founder: w.orgKeys.SigningPublicKey(),
		Relays: []string{"wss://127.0.0.1:7443/#pin=sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "wss://127.0.0.1:7444/#pin=sha256:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"}}
	copy(g.Nonce[:], seeded(0x21, 16))
	g.Channel = NewChannelID(g.Founder, g.Nonce)
	member := func(id *Identity, name string, role Role, k *ChannelKeys) Member {
		pub := k.Public()
		return Member{Identity: *id.Public(), Name: name, Role: role, Keys: *pub, Binding: id.Bind(g.Channel, pub), KEMSig: k.SignKEM(g.Channel)}
	}
	g.Members = []Member{member(w.org, "Convener", RoleOrganizer, w.orgKeys)}
	must(g.Sign(w.orgKeys))
	must(g.VerifyGenesis())
	w.genesis = g

	v2 := g.Next(issued.Add(time.Hour))
	m := member(w.alice, "Delegate A", RoleParticipant, w.aliceKeys)
	m.Expires = issued.Add(30 * 24 * time.Hour)
	m.Side = "A"
	mentor := member(w.mentor, "Mentor A", RoleMentor, w.mKey)
	mentor.Side = "A"
	v2.Members = append(v2.Members, m, mentor)
	must(v2.Sign(w.orgKeys))
	must(v2.VerifyNext(g))
	w.v2 = v2

	w.secrets = &EpochSecrets{Channel: v2.Channel, Epoch: v2.Version, RosterHash: v2.Hash(), Talks: (*[32]byte)(seeded(0x31, 32))}
	copy(w.secrets.Briefings[:], seeded(0x32, 32))
	w.secrets.Admin = (*[32]byte)(seeded(0x33, 32))
	w.secrets.sides = map[string]*[32]byte{"A": (*[32]byte)(seeded(0x34, 32))}
	w.secrets.AdminPublic = NewAdminKey(v2.Channel, v2.Version, *w.secrets.Admin).SigningPublicKey()
	w.genesisAdmin = NewAdminKey(g.Channel, g.Version, [32]byte(seeded(0x34, 32)))

	w.invite = &Invite{RelayURL: "wss://127.0.0.1:7443/", Channel: g.Channel, Organizer: w.orgKeys.ID(), Role: RoleParticipant, Expires: issued.Add(24 * time.Hour), Name: "Back channel"}
	copy(w.invite.Pin[:], seeded(0x41, 32))
	w.invite.MoreRelays = []InviteRelay{{URL: "wss://127.0.0.1:7444/", Pin: [32]byte(seeded(0x43, 32))}}
	copy(w.invite.Secret[:], seeded(0x42, 32))
	return w
}

// deterministic computes every vector that depends only on the fixed
// inputs.
func (w *vectorWorld) deterministic(t *testing.T) map[string]string {
	v := map[string]string{}
	hx := hex.EncodeToString
	v["identity_org_public"] = hx(must1(w.org.Public().MarshalBinary()))
	v["safety_number_org"] = w.org.Public().SafetyNumber()
	v["safety_number_alice"] = w.alice.Public().SafetyNumber()
	v["key_id_org"] = w.orgKeys.ID().String()
	v["channel_id"] = w.genesis.Channel.String()
	v["roster_v1"] = hx(must1(w.genesis.Marshal()))
	v["roster_v1_hash"] = hx(ptr(w.genesis.Hash()))
	v["roster_v2"] = hx(must1(w.v2.Marshal()))
	v["roster_v2_hash"] = hx(ptr(w.v2.Hash()))
	v["roster_v2_signature"] = hx(w.v2.Signature)

	// The access list of version 2, padded with keys from fixed seeds
	// (AccessListFor draws fresh ones), signed by the genesis's
	// administration key and the new one.
	admin := must1(w.secrets.AdminKey())
	al := &AccessList{Channel: w.v2.Channel, Version: w.v2.Version, Retention: w.v2.Policy.Retention(), Admin: admin.SigningPublicKey()}
	for _, k := range []*ChannelKeys{w.orgKeys, w.aliceKeys, w.mKey, must1(channelKeysFromSeed(seeded(0x14, channelKeysSize)))} {
		al.Entries = append(al.Entries, AccessEntry{Key: k.SigningPublicKey()})
	}
	slices.SortFunc(al.Entries, func(a, b AccessEntry) int { return bytes.Compare(a.Key, b.Key) })
	if err := al.Sign(w.genesisAdmin, admin); err != nil {
		t.Fatal(err)
	}
	v["admin_key_v2_public"] = hx(admin.SigningPublicKey())
	v["access_list_v2"] = hx(must1(al.Marshal()))

	for _, comp := range []Compartment{Talks, Briefings} {
		ck, err := w.secrets.SenderChain(comp, w.aliceKeys.ID())
		if err != nil {
			t.Fatal(err)
		}
		v[fmt.Sprintf("chain_alice_%s_0", comp)] = hx(ck[:])
		sc := &SendChain{Key: ck}
		for i := 0; i < 3; i++ {
			_, mk, _ := sc.advance()
			v[fmt.Sprintf("message_key_alice_%s_%d", comp, i)] = hx(mk[:])
		}
	}
	pk, err := w.aliceKeys.pairKey(w.v2.Channel, w.orgKeys.Public())
	if err != nil {
		t.Fatal(err)
	}
	v["pair_key_alice_org"] = hx(pk[:])

	env := w.aliceMessage(t)
	v["message_alice_talks_0_sha256"] = hx(ptr(sha256.Sum256(env)))
	v["message_alice_talks_0_head"] = hx(env[:HeaderSize+64])
	v["sender_data_key_epoch_2"] = hx(ptr(w.secrets.SenderDataKey()))
	v["message_alice_talks_0_ad"] = hx(associatedData(w.v2.Channel, env[:HeaderSize]))

	v["invite_code"] = w.invite.String()
	v["invite_token"] = hx(ptr(w.invite.Token()))
	v["invite_token_id"] = hx(ptr(TokenID(w.invite.Token())))
	v["burn_notice"] = hx(must1(NewBurnNotice([]*AdminKey{must1(w.secrets.AdminKey())}, w.genesis.Channel, w.v2.Issued)).Marshal())
	v["relay_auth_signature"] = hx(w.aliceKeys.SignRelayChallenge(w.invite.Pin, w.v2.Channel, [32]byte(seeded(0x51, 32))))
	return v
}

// aliceMessage is Alice's first talks message of epoch 2.
func (w *vectorWorld) aliceMessage(t testing.TB) []byte {
	ck, _ := w.secrets.SenderChain(Talks, w.aliceKeys.ID())
	n, mk, _ := (&SendChain{Key: ck}).advance()
	pairs, err := NewEpochView(w.v2, w.aliceKeys, w.secrets.SenderDataKey()).pairsFor(Talks)
	if err != nil {
		t.Fatal(err)
	}
	h := Header{Compartment: Talks, Epoch: 2, Sender: w.aliceKeys.ID(), Counter: n}
	rep := Report{RosterHash: w.v2.Hash(), Heard: []uint32{3, 0, 1}, Synced: uint64(w.v2.Issued.Unix())}
	env, err := sealMessage(bytes.NewReader(seeded(0x4e, NonceSize)), w.v2.Channel, h, w.secrets.SenderDataKey(), mk, pairs, Message{Type: 1, Body: []byte("Article 1: both parties recognise each other."), Report: rep})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func must1[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func ptr(a [32]byte) []byte { return a[:] }

func TestVectors(t *testing.T) {
	w := newVectorWorld(t)
	got := w.deterministic(t)
	if *update {
		bundle, err := NewEpochBundle(w.v2, w.secrets, w.orgKeys, w.genesisAdmin)
		if err != nil {
			t.Fatal(err)
		}
		got["epoch_bundle_v2"] = hex.EncodeToString(must1(bundle.Marshal()))
		req := must1(NewJoinRequest(w.invite, w.alice, "Delegate A", w.aliceKeys))
		got["join_request"] = hex.EncodeToString(must1(w.invite.SealJoinRequest(req)))
		out, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(vectorsFile, append(out, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		writeFuzzSeeds(t, w, got)
	}
	raw, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]string
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	for k, g := range got {
		if want[k] != g {
			t.Errorf("vector %s drifted:\n got %.80s\nwant %.80s", k, g, want[k])
		}
	}

	// Stored randomized vectors must still open to the fixed secrets.
	b, err := ParseEpochBundle(mustHex(t, want["epoch_bundle_v2"]))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []*ChannelKeys{w.orgKeys, w.aliceKeys, w.mKey} {
		s, r, err := b.Open(k, w.genesisAdmin.SigningPublicKey(), w.genesis.IsOrganizer)
		if err != nil {
			t.Fatal(err)
		}
		if (s.Admin != nil) != (k == w.orgKeys) || !bytes.Equal(s.AdminPublic, w.secrets.AdminPublic) {
			t.Fatal("stored bundle's administration secret is wrong for the role")
		}
		if r.Hash() != w.v2.Hash() || s.Briefings != w.secrets.Briefings {
			t.Fatal("stored bundle opened to other values")
		}
		if (s.Talks != nil) != (k != w.mKey) || (s.Talks != nil && *s.Talks != *w.secrets.Talks) {
			t.Fatal("stored bundle's talks secret is wrong for the role")
		}
	}
	req, err := w.invite.OpenJoinRequest(mustHex(t, want["join_request"]))
	if err != nil {
		t.Fatal(err)
	}
	if req.Name != "Delegate A" || !req.Identity.Equal(w.alice.Public()) {
		t.Fatal("stored join request opened to other values")
	}
	// And the stored message opens for the organizer.
	env := w.aliceMessage(t)
	ck, _ := w.secrets.SenderChain(Talks, w.aliceKeys.ID())
	mk, _ := (&ReceiveChain{Key: ck}).lookup(0)
	pk, _ := w.orgKeys.pairKey(w.v2.Channel, w.aliceKeys.Public())
	m, err := openBody(w.v2.Channel, w.secrets.SenderDataKey(), env, mk, w.v2.Slot(Talks, w.orgKeys.ID()), pk)
	if err != nil || string(m.Body) != "Article 1: both parties recognise each other." {
		t.Fatalf("vector message: %q, %v", m.Body, err)
	}
	if m.Report.RosterHash != w.v2.Hash() || !slices.Equal(m.Report.Heard[:4], []uint32{3, 0, 1, 0}) {
		t.Fatalf("vector message report: %+v", m.Report)
	}
}

// writeFuzzSeeds stores valid encodings as seed corpora for the fuzz
// targets, in the format go test reads from testdata/fuzz.
func writeFuzzSeeds(t *testing.T, w *vectorWorld, v map[string]string) {
	seeds := map[string][][]byte{
		"FuzzParseRoster":      {mustHex(t, v["roster_v1"]), mustHex(t, v["roster_v2"])},
		"FuzzParseAccessList":  {mustHex(t, v["access_list_v2"])},
		"FuzzParseEpochBundle": {mustHex(t, v["epoch_bundle_v2"])},
		"FuzzParseBurnNotice":  {mustHex(t, v["burn_notice"])},
		"FuzzParseInvite":      {[]byte(v["invite_code"])},
		"FuzzOpenJoinRequest":  {mustHex(t, v["join_request"])},
		"FuzzOpenMessage":      {w.aliceMessage(t)},
	}
	rc := &ReceiveChain{Key: ChainKey{1}}
	rc.accept(3)
	seeds["FuzzParseReceiveChain"] = [][]byte{must1(rc.MarshalBinary())}
	rep := make([]byte, reportSize)
	if err := (Report{RosterHash: w.v2.Hash(), Heard: []uint32{3, 0, 1}, PrevHeard: []uint32{2}, Synced: 1, PendingKey: seeded(0x70, PendingKeySize)}).marshalInto(rep); err != nil {
		t.Fatal(err)
	}
	seeds["FuzzParseReport"] = [][]byte{rep}
	for name, list := range seeds {
		dir := filepath.Join("testdata", "fuzz", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, s := range list {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("vector-%d", i)), fuzzSeed(s), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// fuzzSeed is b as a seed corpus file of a []byte fuzz target.
func fuzzSeed(b []byte) []byte { return fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", b) }
