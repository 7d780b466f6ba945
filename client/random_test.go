package client_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"parley/client"
	"parley/crypto"
	"parley/internal/wire"
	"parley/relay"
)

var (
	longRandom = flag.Bool("long", false, "run the randomized interaction test for many more steps")
	seedFlag   = flag.Uint64("seed", 0, "seed of the randomized interaction test (0: from the clock)")
)

// chaosStore is a relay store driven by the test's random schedule: on
// fetch it may hide a message frame from the fetching client for good,
// or swap two message frames' contents. It never touches epoch bundles:
// a relay that withholds rosters denies service, which members see, but
// then they cannot agree on the roster.
type chaosStore struct {
	relay.Store
	rng             *rand.Rand
	dropP, swapP    float64
	dropped, swaped int
	fetches         int
	mu              sync.Mutex
}

func (s *chaosStore) Fetch(ctx context.Context, ch relay.ChannelID, since uint64, max int) ([]wire.Stored, bool, error) {
	frames, more, err := s.Store.Fetch(ctx, ch, since, max)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fetches++
	var out []wire.Stored
	for _, f := range frames {
		if f.Kind == wire.KindMessage && s.rng.Float64() < s.dropP {
			s.dropped++
			continue
		}
		out = append(out, f)
	}
	for i := 0; i+1 < len(out); i++ {
		if out[i].Kind == wire.KindMessage && out[i+1].Kind == wire.KindMessage && s.rng.Float64() < s.swapP {
			out[i].Payload, out[i+1].Payload = out[i+1].Payload, out[i].Payload
			s.swaped++
		}
	}
	return out, more, err
}

type sent struct {
	channel, sender, text string
	comp                  crypto.Compartment
	step                  int
}

type person struct {
	name   string
	c      *client.Client
	local  map[string]string // channel -> local name of the current membership
	role   map[string]crypto.Role
	old    map[string][]string // channel -> local names of memberships ended by removal
	leftAt map[string]int      // local name -> step of removal
}

// TestRandomizedInteraction drives people in two channels through a
// seeded random schedule of sends, syncs, drops, replays, reorders,
// removals and rejoins, and checks after every step that everything
// shown was sent, by the sender shown, in order (or marked late); that a
// removed member decrypts nothing sent after the removal; and that all
// members agree on the roster. The seed is printed; rerun a failure with
// go test ./client -run Randomized -seed N (add -long for a long run).
func TestRandomizedInteraction(t *testing.T) {
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d", seed)
	steps := 40
	if *longRandom {
		steps = 400
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	chaos := &chaosStore{rng: rand.New(rand.NewPCG(seed, 2))}
	w := newWorld(t, func(s relay.Store) relay.Store { chaos.Store = s; return chaos })
	// A bound, not an expectation: 40 steps take a few seconds alone,
	// but over a minute under -race on a loaded 2-core machine.
	budget := 5 * time.Minute
	if *longRandom {
		budget = 20 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()

	names := []string{"Ana", "Ben", "Cai", "Dov", "Eli", "Fay"}
	people := map[string]*person{}
	for _, n := range names {
		people[n] = &person{name: n, c: w.Home(n), local: map[string]string{}, role: map[string]crypto.Role{},
			old: map[string][]string{}, leftAt: map[string]int{}}
	}
	orgs := map[string]string{"north": "Ana", "south": "Dov"}
	for ch, o := range orgs {
		if err := people[o].c.CreateChannel(ctx, ch, w.Relay.URL, crypto.PolicySoft); err != nil {
			t.Fatal(err)
		}
		people[o].local[ch], people[o].role[ch] = ch, crypto.RoleOrganizer
	}
	admit := func(ch, who string, role crypto.Role, step int) {
		org := people[orgs[ch]]
		p := people[who]
		code, err := org.c.Invite(ctx, ch, role, time.Hour, 0)
		if err != nil {
			t.Fatalf("seed %d: invite: %v", seed, err)
		}
		local := fmt.Sprintf("%s-%d", ch, step)
		if _, err := p.c.Join(ctx, code, local); err != nil {
			t.Fatalf("seed %d: join: %v", seed, err)
		}
		if _, err := org.c.Admit(ctx, ch, []string{who}, false); err != nil {
			t.Fatalf("seed %d: admit: %v", seed, err)
		}
		p.local[ch], p.role[ch] = local, role
	}
	admit("north", "Ben", crypto.RoleParticipant, 0)
	admit("north", "Cai", crypto.RoleParticipant, 0)
	admit("north", "Fay", crypto.RoleMentor, 0)
	admit("south", "Eli", crypto.RoleParticipant, 0)
	admit("south", "Ben", crypto.RoleParticipant, 0)

	chaos.dropP, chaos.swapP = 0.05, 0.1
	var log []sent
	var removals, rejoins, replays int
	for step := 1; step <= steps; step++ {
		ch := []string{"north", "south"}[rng.IntN(2)]
		var members []string
		for _, n := range names {
			if people[n].local[ch] != "" {
				members = append(members, n)
			}
		}
		who := people[members[rng.IntN(len(members))]]
		switch r := rng.IntN(10); {
		case r < 5: // send
			comp := crypto.Talks
			if who.role[ch] == crypto.RoleMentor || rng.IntN(3) == 0 {
				comp = crypto.Briefings
			}
			text := fmt.Sprintf("%s step %d from %s", ch, step, who.name)
			if err := who.c.Send(ctx, who.local[ch], comp, text); err != nil {
				t.Fatalf("seed %d step %d: %s sending: %v", seed, step, who.name, err)
			}
			log = append(log, sent{ch, who.name, text, comp, step})
		case r < 7: // replay a random earlier frame of the channel
			id, _ := people[orgs[ch]].c.ChannelID(ch)
			frames := channelFrames(t, w.Relay.Store, id)
			f := frames[rng.IntN(len(frames))]
			if f.Kind == wire.KindMessage {
				replays++
				w.Relay.Store.Append(ctx, []relay.NewFrame{{Channel: id, Kind: wire.KindMessage, Payload: f.Payload}})
			}
		case r < 8 && len(members) > 2: // remove someone
			victim := members[rng.IntN(len(members))]
			if victim == orgs[ch] {
				break
			}
			if err := people[orgs[ch]].c.Remove(ctx, ch, victim); err != nil {
				t.Fatalf("seed %d step %d: remove %s: %v", seed, step, victim, err)
			}
			v := people[victim]
			v.old[ch] = append(v.old[ch], v.local[ch])
			v.leftAt[v.local[ch]] = step
			v.local[ch] = ""
			removals++
		case r < 9: // rejoin someone who is out
			for _, n := range names {
				if people[n].local[ch] == "" && len(people[n].old[ch]) > 0 {
					admit(ch, n, crypto.RoleParticipant, step)
					rejoins++
					break
				}
			}
		default: // just a sync
		}
		checkInvariants(t, seed, step, people, names, log)
	}
	t.Logf("seed %d: %d steps, %d messages, %d replays, %d removals, %d rejoins; the relay dropped %d and swapped %d frames in %d fetches",
		seed, steps, len(log), replays, removals, rejoins, chaos.dropped, chaos.swaped, chaos.fetches)
	var phrases []string
	for _, s := range log {
		phrases = append(phrases, s.text)
	}
	// Names here are too short to search for in binary files without
	// chance matches; the other tests search for long names.
	if found := w.Sweep(phrases...); len(found) > 0 {
		t.Fatalf("seed %d: plaintext at rest: %s", seed, found[0])
	}
}

func checkInvariants(t *testing.T, seed uint64, step int, people map[string]*person, names []string, log []sent) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Fatalf("seed %d step %d: %s", seed, step, fmt.Sprintf(format, args...))
	}
	bySender := map[string]sent{}
	for _, s := range log {
		bySender[s.text] = s
	}
	rosters := map[string][]string{}
	for _, n := range names {
		p := people[n]
		for ch, local := range p.local {
			var locals []string
			if local != "" {
				locals = append(locals, local)
			}
			for _, old := range p.old[ch] {
				locals = append(locals, old)
			}
			for _, l := range locals {
				if _, err := p.c.Sync(context.Background(), l); err != nil {
					fail("%s sync %s: %v", n, l, err)
				}
				entries, err := p.c.Read(l)
				if err != nil {
					fail("%s read %s: %v", n, l, err)
				}
				last := map[string]int{}
				late := false
				for _, e := range entries {
					if e.Kind == client.KindSystem {
						late = late || strings.HasPrefix(e.Text, "a late message")
						continue
					}
					if e.Kind == client.KindDraft {
						continue
					}
					s, ok := bySender[e.Text]
					if !ok || s.sender != e.Sender || s.channel != ch {
						fail("%s shows %q from %q, which was not sent so", n, e.Text, e.Sender)
					}
					if s.comp == crypto.Talks && p.role[ch] == crypto.RoleMentor {
						fail("mentor %s shows talks %q", n, e.Text)
					}
					if at, removed := p.leftAt[l]; removed && s.step > at {
						fail("%s, removed at step %d, shows %q", n, at, e.Text)
					}
					if s.step < last[s.sender] && !late {
						fail("%s shows %q out of %s's order, unmarked", n, e.Text, s.sender)
					}
					last[s.sender] = max(last[s.sender], s.step)
					late = false
				}
			}
			if local != "" {
				ms, err := p.c.Members(local)
				if err != nil {
					fail("%s members: %v", n, err)
				}
				var got []string
				for _, m := range ms {
					got = append(got, m.Name+"/"+m.Role)
				}
				slices.Sort(got)
				key := strings.Join(got, ",")
				rosters[ch] = append(rosters[ch], key)
			}
		}
	}
	for ch, keys := range rosters {
		for _, k := range keys {
			if k != keys[0] {
				fail("members of %s disagree on the roster: %q", ch, keys)
			}
		}
	}
}
