package e2e

import (
	"bytes"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"parley/crypto"
	"parley/internal/wire"
	"parley/relay"
)

// recordingRelay is the hostilerelay process with no rules and -record:
// an honest relay whose operator logs every request it sees.
type recordingRelay struct {
	t      *testing.T
	url    string
	data   string // the relay's data folder
	record string // the -record file
	steps  []recStep
}

// recStep is one parley command of the scripted session and the lines
// of the record that appeared while it ran.
type recStep struct {
	who, label, channel string // channel: the local name it concerns ("" for all)
	members             int    // members of that channel after the step, when it changes them
	from, to            int    // record lines [from, to)
}

func startRecording(t *testing.T) *recordingRelay {
	dir := t.TempDir()
	r := &recordingRelay{t: t, data: filepath.Join(dir, "data"), record: filepath.Join(dir, "record.jsonl")}
	r.url = runHostilerelay(t, "-data", r.data, "-record", r.record)
	return r
}

// lines counts the complete lines of the record. The relay writes a
// request's line before it answers, so once a command has exited every
// request it made is in.
func (r *recordingRelay) lines() int {
	raw, err := os.ReadFile(r.record)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		r.t.Fatal(err)
	}
	return bytes.Count(raw, []byte("\n"))
}

// do runs one command of h (named who) to its exit, and notes which
// record lines it produced.
func (r *recordingRelay) do(h *home, who, label, channel string, stdin []byte, args ...string) string {
	r.t.Helper()
	from := r.lines()
	out, err := h.run(stdin, args...)
	if err != nil {
		r.t.Fatalf("%s: %v", who, err)
	}
	r.steps = append(r.steps, recStep{who: who, label: label, channel: channel, from: from, to: r.lines()})
	return out
}

// doDefault is do with the command's default settings: no
// PARLEY_SYNC_SPREAD in the environment (the e2e homes set it to 0).
func (r *recordingRelay) doDefault(h *home, who, label string, args ...string) string {
	r.t.Helper()
	cmd := h.command(args...)
	cmd.Env = slices.DeleteFunc(cmd.Env, func(kv string) bool { return strings.HasPrefix(kv, "PARLEY_SYNC_SPREAD=") })
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	from := r.lines()
	if err := cmd.Run(); err != nil {
		r.t.Fatalf("%s: parley %s: %v: %s", who, strings.Join(args, " "), err, errb.String())
	}
	r.steps = append(r.steps, recStep{who: who, label: label, from: from, to: r.lines()})
	return out.String()
}

// recConn is one connection as the record shows it.
type recConn struct {
	serial  uint64
	step    int // index in steps of the command it opened during; -1 if none
	reqs    []relay.Observation
	key     string // hex; "" if it never authenticated
	channel [16]byte
	admin   bool
	closed  bool
}

func (c *recConn) first() time.Time { return c.reqs[0].Time }
func (c *recConn) last() time.Time  { return c.reqs[len(c.reqs)-1].Time }

func typeName(o relay.Observation) string {
	names := map[wire.Type]string{
		wire.TAuth: "auth", wire.TCreate: "create", wire.TSetAccess: "setaccess", wire.TPost: "post",
		wire.TFetch: "fetch", wire.TInvite: "invite", wire.TJoin: "join", wire.TJoins: "joins",
		wire.TDropJoins: "dropjoins", wire.TBurn: "burn", wire.TGetAccess: "getaccess", wire.TTombstone: "tombstone",
	}
	n, ok := names[o.Type]
	if !ok {
		n = fmt.Sprintf("type%#x", uint8(o.Type))
	}
	if o.Type == wire.TPost {
		switch o.Kind {
		case wire.KindMessage:
			n += "(message)"
		case wire.KindBundle:
			n += "(bundle)"
		default:
			n += fmt.Sprintf("(kind%d)", o.Kind)
		}
	}
	return n
}

// shape is a connection's request types with every run of one type
// written once, followed by "…": the number of fetch pages and of posts
// does not count.
func (c *recConn) shape() string {
	var parts []string
	for i, o := range c.reqs {
		n := typeName(o)
		switch {
		case i > 0 && typeName(c.reqs[i-1]) == n:
			if !strings.HasSuffix(parts[len(parts)-1], "…") {
				parts[len(parts)-1] += "…"
			}
		case o.Type == wire.TFetch || o.Type == wire.TPost:
			parts = append(parts, n+"…")
		default:
			parts = append(parts, n)
		}
	}
	return strings.Join(parts, " ")
}

// analysis is the record read back, with each connection tied to the
// command it came from.
type analysis struct {
	obs   []relay.Observation
	conns map[uint64]*recConn
	order []uint64
	steps []recStep
	// owner maps a member key (hex) to "who/channel" as the commands
	// that used it say; chanName maps a channel id to its local name.
	owner    map[string]string
	chanName map[[16]byte]string
}

func (r *recordingRelay) analyse() *analysis {
	raw, err := os.ReadFile(r.record)
	if err != nil {
		r.t.Fatal(err)
	}
	a := &analysis{conns: map[uint64]*recConn{}, steps: r.steps, owner: map[string]string{}, chanName: map[[16]byte]string{}}
	lines := strings.SplitAfter(string(raw), "\n")
	for i, l := range lines {
		if !strings.HasSuffix(l, "\n") {
			break // a line still being written
		}
		var o relay.Observation
		if err := json.Unmarshal([]byte(l), &o); err != nil {
			r.t.Fatalf("record line %d: %v", i+1, err)
		}
		a.obs = append(a.obs, o)
		c := a.conns[o.Conn]
		if c == nil {
			c = &recConn{serial: o.Conn, step: -1}
			for si, s := range r.steps {
				if i >= s.from && i < s.to {
					c.step = si
				}
			}
			a.conns[o.Conn] = c
			a.order = append(a.order, o.Conn)
		}
		if o.Closed {
			c.closed = true
			continue
		}
		c.reqs = append(c.reqs, o)
		if len(o.Key) > 0 {
			c.key, c.channel, c.admin = hex.EncodeToString(o.Key), o.Channel, o.Admin
		}
	}
	for _, c := range a.conns {
		if c.step < 0 || c.key == "" {
			continue
		}
		s := a.steps[c.step]
		if s.channel != "" {
			if prev, ok := a.chanName[c.channel]; ok && prev != s.channel {
				r.t.Errorf("channel %x used by commands for %q and %q", c.channel, prev, s.channel)
			}
			a.chanName[c.channel] = s.channel
		}
	}
	for _, c := range a.conns {
		if c.step < 0 || c.key == "" || c.admin {
			continue
		}
		who := a.steps[c.step].who + "/" + a.chanName[c.channel]
		if prev, ok := a.owner[c.key]; ok && prev != who {
			r.t.Errorf("member key %s… used by %s and %s", c.key[:8], prev, who)
		}
		a.owner[c.key] = who
	}
	return a
}

// connsOf returns the connections opened during step i.
func (a *analysis) connsOf(i int) []*recConn {
	var out []*recConn
	for _, s := range a.order {
		if c := a.conns[s]; c.step == i && len(c.reqs) > 0 {
			out = append(out, c)
		}
	}
	return out
}

func (a *analysis) describe(c *recConn) string {
	who := "unauthenticated"
	switch {
	case c.admin:
		who = "admin key of " + a.chanName[c.channel]
	case c.key != "":
		who = "member key " + a.owner[c.key]
	}
	return fmt.Sprintf("conn %d (%s): %s", c.serial, who, c.shape())
}

// What a relay that logs every request learns from a real session, and
// what it must not be able to derive (issue 15; docs/threat-model.md
// §3.1). An organizer O runs two channels: harbour with participants P1
// and P2 and mentor M (4 members, then 3 once P2 is removed), and quarry
// with P1 (2 members). Each property is its own subtest, so that a
// failure says exactly which property the current code does not have.
func TestWhatTheRelayLearns(t *testing.T) {
	r := startRecording(t)
	names := map[string]string{
		"O": "Ottoline Brackenridge", "P1": "Peregrine Ashcombe", "P2": "Philippa Dunmarrow", "M": "Mortimer Kestlewick",
	}
	homes := map[string]*home{}
	for _, who := range []string{"O", "P1", "P2", "M"} {
		homes[who] = newHome(t, names[who])
	}
	O, P1, P2, M := homes["O"], homes["P1"], homes["P2"], homes["M"]
	const c1, c2 = "harbourtalks", "quarryside"
	phrases := []string{
		"the northern ferry schedule is acceptable",
		"we cannot sign before the harvest moon",
		"convener proposes recess until thursday",
		"quarry delegation agrees to annex seven",
		"convener notes the quarry annex wording",
		"mentor asks whether the ferry clause holds",
		"briefing: the other side softened on fishing rights",
		"briefing: article nine remains contentious",
		"convener briefing on the overall mood",
		"draft text article one: the parties shall meet monthly",
		"draft memo: quarry boundary follows the old wall",
		"after the removal we speak more freely",
		"mentor reminds everyone about the deadline",
	}
	dir := t.TempDir()
	draft1, draft2 := filepath.Join(dir, "d1.txt"), filepath.Join(dir, "d2.txt")
	os.WriteFile(draft1, []byte(phrases[9]+"\n"), 0o600)
	os.WriteFile(draft2, []byte(phrases[10]+"\n"), 0o600)

	start := time.Now()
	// Channel 1: O organizes; P1, P2 participants, M mentor.
	r.do(O, "O", "channel create", c1, nil, "channel", "create", c1, "--relay", r.url)
	codes := map[string]string{}
	for _, x := range []struct{ who, role string }{{"P1", "participant"}, {"P2", "participant"}, {"M", "mentor"}} {
		codes[x.who] = r.do(O, "O", "invite", c1, nil, "invite", c1, "--role", x.role)
	}
	for _, who := range []string{"P1", "P2", "M"} {
		r.do(homes[who], who, "join", c1, []byte(codes[who]), "join", "-")
	}
	r.do(O, "O", "admit", c1, nil, "admit", c1, "--all")
	r.steps[len(r.steps)-1].members = 4
	for _, who := range []string{"P1", "P2", "M"} {
		r.do(homes[who], who, "sync", c1, nil, "sync", c1)
	}
	// Channel 2: O organizes; P1 participant.
	r.do(O, "O", "channel create", c2, nil, "channel", "create", c2, "--relay", r.url)
	code := r.do(O, "O", "invite", c2, nil, "invite", c2, "--role", "participant")
	r.do(P1, "P1", "join", c2, []byte(code), "join", "-")
	r.do(O, "O", "admit", c2, nil, "admit", c2, "--all")
	r.steps[len(r.steps)-1].members = 2
	r.do(P1, "P1", "sync", c2, nil, "sync", c2)

	// Talks, briefings, drafts, reads and syncs.
	r.do(P1, "P1", "send", c1, nil, "send", c1, phrases[0])
	r.do(P2, "P2", "send", c1, nil, "send", c1, phrases[1])
	r.do(O, "O", "send", c1, nil, "send", c1, phrases[2])
	r.do(P1, "P1", "send", c2, nil, "send", c2, phrases[3])
	r.do(O, "O", "send", c2, nil, "send", c2, phrases[4])
	r.do(M, "M", "brief", c1, nil, "brief", c1, phrases[5])
	r.do(P1, "P1", "brief", c1, nil, "brief", c1, phrases[6])
	r.do(P2, "P2", "brief", c1, nil, "brief", c1, phrases[7])
	r.do(O, "O", "brief", c1, nil, "brief", c1, phrases[8])
	r.do(P1, "P1", "draft put", c1, nil, "draft", "put", c1, "declaration", draft1)
	r.do(O, "O", "draft put", c2, nil, "draft", "put", c2, "memo", draft2)
	for _, x := range []struct{ who, ch string }{{"M", c1}, {"P1", c1}, {"P2", c1}, {"O", c1}, {"P1", c2}, {"O", c2}} {
		r.do(homes[x.who], x.who, "read", x.ch, nil, "read", x.ch)
	}
	for _, x := range []struct{ who, ch string }{{"M", c1}, {"P1", c1}, {"P2", c1}, {"O", c1}, {"P1", c2}, {"O", c2}} {
		r.do(homes[x.who], x.who, "sync", x.ch, nil, "sync", x.ch)
	}
	// A removal, and the channel after it.
	r.do(O, "O", "remove", c1, nil, "remove", c1, names["P2"])
	r.steps[len(r.steps)-1].members = 3
	for _, who := range []string{"M", "P1", "O"} {
		r.do(homes[who], who, "sync", c1, nil, "sync", c1)
	}
	r.do(P1, "P1", "send", c1, nil, "send", c1, phrases[11])
	r.do(M, "M", "brief", c1, nil, "brief", c1, phrases[12])
	r.do(M, "M", "read", c1, nil, "read", c1)
	r.do(P1, "P1", "read", c1, nil, "read", c1)
	if got, _ := M.run(nil, "transcript", c1); !strings.Contains(got, phrases[12]) || strings.Contains(got, phrases[0]) {
		t.Fatalf("the session did not go as scripted: the mentor's transcript is\n%s", got)
	}
	t.Logf("scripted session: %d commands in %v", len(r.steps), time.Since(start).Round(time.Millisecond))

	// P1 syncs both memberships at once, with the default settings.
	const syncRuns = 4
	syncAllFrom := len(r.steps)
	start = time.Now()
	for range syncRuns {
		r.doDefault(P1, "P1", "sync (all, default spread)", "sync")
	}
	t.Logf("%d default syncs of all channels in %v", syncRuns, time.Since(start).Round(time.Millisecond))

	a := r.analyse()
	keyOf := func(who, ch string) string {
		for k, o := range a.owner {
			if o == who+"/"+ch {
				return k
			}
		}
		t.Fatalf("no member key for %s in %s in the record", who, ch)
		return ""
	}
	var log strings.Builder
	for i, s := range a.steps {
		fmt.Fprintf(&log, "  %-3s %-26s %-12s", s.who, s.label, s.channel)
		var cs []string
		for _, c := range a.connsOf(i) {
			cs = append(cs, a.describe(c))
		}
		fmt.Fprintf(&log, " %s\n", strings.Join(cs, " | "))
	}
	t.Logf("the record, command by command (%d requests on %d connections):\n%s", len(a.obs), len(a.conns), log.String())

	t.Run("roles/message-size", func(t *testing.T) {
		sizes := map[int][]string{}
		for _, c := range a.conns {
			for _, o := range c.reqs {
				if o.Type == wire.TPost && o.Kind == wire.KindMessage {
					w := "admin"
					if !c.admin {
						w = a.owner[c.key]
					}
					sizes[o.Bytes] = append(sizes[o.Bytes], w)
				}
			}
		}
		t.Logf("message post sizes: %s", sizeSummary(sizes))
		if len(sizes) != 1 {
			t.Errorf("message posts come in %d sizes, so a size tells posts apart: %s", len(sizes), sizeSummary(sizes))
		}
	})

	// The request types each member key of c1 made, on member connections.
	typesOf := func(key string) []string {
		set := map[string]bool{}
		for _, c := range a.conns {
			if c.key == key && !c.admin {
				for _, o := range c.reqs {
					set[typeName(o)] = true
				}
			}
		}
		return slices.Sorted(func(yield func(string) bool) {
			for k := range set {
				if !yield(k) {
					return
				}
			}
		})
	}
	for _, who := range []string{"P1", "P2", "O"} {
		t.Run("roles/mentor-vs-"+who+"-request-types", func(t *testing.T) {
			mt, ot := typesOf(keyOf("M", c1)), typesOf(keyOf(who, c1))
			t.Logf("request types of member keys in %s: M %v, %s %v", c1, mt, who, ot)
			if !slices.Equal(mt, ot) {
				t.Errorf("the mentor's member key makes request types %v, %s's (%s) makes %v: the relay tells them apart", mt, who, map[string]string{"P1": "participant", "P2": "participant", "O": "organizer's member key"}[who], ot)
			}
		})
	}

	t.Run("roles/admin-key-is-no-member-key", func(t *testing.T) {
		admins, members := map[string]bool{}, map[string]bool{}
		for _, c := range a.conns {
			switch {
			case c.key == "":
			case c.admin:
				admins[c.key] = true
			default:
				members[c.key] = true
			}
		}
		lists := currentAccessLists(t, r.data)
		for _, al := range lists {
			for _, e := range al.Entries {
				members[hex.EncodeToString(e.Key)] = true
			}
		}
		t.Logf("%d admin keys on admin connections, %d member keys (member connections and current access lists of %d channels)", len(admins), len(members), len(lists))
		if len(admins) == 0 {
			t.Errorf("no admin connection in the record: the organizer's duties did not show up as admin connections")
		}
		for k := range admins {
			if members[k] {
				t.Errorf("admin key %s… is also a member key (%s)", k[:16], a.owner[k])
			}
		}
		for _, al := range lists {
			if al.Entry(al.Admin) != nil {
				t.Errorf("channel %x: the access list's admin key is one of its entries", al.Channel)
			}
		}
	})

	// An administration key that is no member's key still names the
	// organizer if its connections come with one member key's. An
	// organizer's administration sessions make no member connection
	// (client/administer.go): no command may make both. (Before that
	// change admit and remove made both, 7 to 41 ms apart.)
	t.Run("roles/no-command-both-administers-and-posts-as-a-member", func(t *testing.T) {
		for i, s := range a.steps {
			var admin, member []string
			for _, c := range a.connsOf(i) {
				switch {
				case c.admin:
					admin = append(admin, a.describe(c))
				case c.key != "":
					member = append(member, a.describe(c))
				}
			}
			if len(admin) > 0 && len(member) > 0 {
				t.Errorf("%s %s %s made administration and member connections: %s | %s", s.who, s.label, s.channel, strings.Join(admin, " | "), strings.Join(member, " | "))
			}
		}
	})

	// b. The command run.
	shapeRE := regexp.MustCompile(`^auth fetch…( post\(message\)… fetch…)?$`)
	for _, cmdName := range []string{"send", "brief", "draft put", "sync", "read"} {
		t.Run("commands/"+strings.ReplaceAll(cmdName, " ", "-"), func(t *testing.T) {
			shapes := map[string][]string{}
			var problems []string
			for i, s := range a.steps {
				if s.label != cmdName {
					continue
				}
				cs := a.connsOf(i)
				var members int
				for _, c := range cs {
					sh := c.shape()
					if c.admin {
						sh = "[admin] " + sh
					} else if c.key == "" {
						sh = "[unauthenticated] " + sh
					} else {
						members++
					}
					shapes[sh] = append(shapes[sh], s.who+"/"+s.channel)
					if !shapeRE.MatchString(c.shape()) {
						problems = append(problems, fmt.Sprintf("%s %s: %s", s.who, s.channel, a.describe(c)))
					}
				}
				if len(cs) != 1 || members != 1 {
					var d []string
					for _, c := range cs {
						d = append(d, a.describe(c))
					}
					problems = append(problems, fmt.Sprintf("%s %s: %d connections (%d on a member key) for one membership: %s", s.who, s.channel, len(cs), members, strings.Join(d, " | ")))
				}
			}
			var ks []string
			for sh, who := range shapes {
				ks = append(ks, fmt.Sprintf("%q ×%d (%s)", sh, len(who), strings.Join(who, ", ")))
			}
			sort.Strings(ks)
			t.Logf("%s: connection shapes found: %s", cmdName, strings.Join(ks, "; "))
			if len(shapes) == 0 {
				t.Fatalf("no %s in the record", cmdName)
			}
			for _, p := range problems {
				t.Errorf("%s: not one connection of shape \"auth fetch… [post(message)… fetch…]\": %s", cmdName, p)
			}
		})
	}
	// Across the five commands, with posts left out altogether (zero
	// posts is a number of posts too) and the fetch runs they separated
	// merged: what is left of an invocation (its connections, in order)
	// must be the same for every command, or the relay tells the
	// commands apart by more than whether they posted.
	t.Run("commands/alike-but-for-posts", func(t *testing.T) {
		seen := map[string][]string{}
		for i, s := range a.steps {
			switch s.label {
			case "send", "brief", "draft put", "sync", "read":
			default:
				continue
			}
			var cs []string
			for _, c := range a.connsOf(i) {
				cs = append(cs, withoutPosts(c.shape()))
			}
			sig := strings.Join(cs, " | ")
			if !slices.Contains(seen[sig], s.label) {
				seen[sig] = append(seen[sig], s.label)
			}
		}
		var ks []string
		for sig, cmds := range seen {
			ks = append(ks, fmt.Sprintf("%q: %s", sig, strings.Join(cmds, ", ")))
		}
		sort.Strings(ks)
		t.Logf("connections per invocation, posts left out, and the commands that made them: %s", strings.Join(ks, "; "))
		if len(seen) != 1 {
			t.Errorf("the commands make %d different connection patterns even with posts left out: %s", len(seen), strings.Join(ks, "; "))
		}
	})

	// c. Member count only to a bucket.
	t.Run("member-count/access-list-sizes", func(t *testing.T) {
		sizes := map[string]map[int][]string{}
		counts := map[int]bool{}
		for i, s := range a.steps {
			for _, c := range a.connsOf(i) {
				for _, o := range c.reqs {
					if o.Type != wire.TCreate && o.Type != wire.TSetAccess {
						continue
					}
					n := s.members
					if o.Type == wire.TCreate {
						n = 1
					}
					tn := typeName(o)
					if sizes[tn] == nil {
						sizes[tn] = map[int][]string{}
					}
					label := fmt.Sprintf("%s %s", s.label, s.channel)
					if n > 0 {
						label += fmt.Sprintf(" (%d members)", n)
						counts[n] = true
					}
					sizes[tn][o.Bytes] = append(sizes[tn][o.Bytes], label)
				}
			}
		}
		for tn, m := range sizes {
			t.Logf("%s sizes: %s", tn, sizeSummary(m))
			if len(m) != 1 {
				t.Errorf("%s requests come in %d sizes: %s", tn, len(m), sizeSummary(m))
			}
		}
		for _, n := range []int{2, 3, 4} {
			if !counts[n] {
				t.Errorf("no access list for a channel of %d members in the record: the check is vacuous", n)
			}
		}
	})
	t.Run("member-count/bundle-sizes", func(t *testing.T) {
		sizes := map[int][]string{}
		for i, s := range a.steps {
			for _, c := range a.connsOf(i) {
				for _, o := range c.reqs {
					if o.Type == wire.TPost && o.Kind == wire.KindBundle {
						label := fmt.Sprintf("%s %s", s.label, s.channel)
						if s.members > 0 {
							label += fmt.Sprintf(" (%d members)", s.members)
						}
						sizes[o.Bytes] = append(sizes[o.Bytes], label)
					}
				}
			}
		}
		t.Logf("bundle post sizes: %s", sizeSummary(sizes))
		if len(sizes) == 0 {
			t.Fatal("no epoch bundle posted in the record")
		}
		if len(sizes) != 1 {
			t.Errorf("epoch bundles come in %d sizes: %s", len(sizes), sizeSummary(sizes))
		}
	})

	// d. No cross-channel timing link. Rule: over the runs of `parley
	// sync` (all channels, default spread of 3 s), the two memberships'
	// connections must come in both orders in some runs, or be more
	// than 50 ms apart (the first request of the later one after the
	// last request of the earlier one) in at least syncRuns-1 runs.
	// cmd/parley/spread.go shuffles the order (each run 1/2 per order)
	// and pauses a uniform [0, 3 s) before each channel, and the gap
	// includes the second pause, so with the spread in force the test
	// fails only if all 4 runs have the same order (probability 1/8)
	// and 2 or more of the 4 pauses fall below 50 ms (probability at
	// most 6·(1/60)² = 1/600): at most 1/4800, about 0.02%. Without the
	// spread (PARLEY_SYNC_SPREAD=0) the order never changes and the gap
	// is a loopback TLS handshake and authentication, 11-14 ms when this
	// was written, so it fails every time; only a machine so loaded that
	// the handshake alone takes over 50 ms could let that pass.
	t.Run("timing/sync-all-unlinkable", func(t *testing.T) {
		k1, k2 := keyOf("P1", c1), keyOf("P1", c2)
		var orders []string
		var gaps []time.Duration
		wide := 0
		for i := syncAllFrom; i < len(a.steps); i++ {
			var m1, m2 []*recConn
			for _, c := range a.connsOf(i) {
				switch c.key {
				case k1:
					m1 = append(m1, c)
				case k2:
					m2 = append(m2, c)
				default:
					t.Errorf("run %d: a connection other than P1's two memberships: %s", i-syncAllFrom+1, a.describe(c))
				}
			}
			if len(m1) != 1 || len(m2) != 1 {
				t.Errorf("run %d: %d connections for %s and %d for %s, want one each", i-syncAllFrom+1, len(m1), c1, len(m2), c2)
				continue
			}
			first, second, order := m1[0], m2[0], c1+" then "+c2
			if second.first().Before(first.first()) {
				first, second, order = second, first, c2+" then "+c1
			}
			gap := second.first().Sub(first.last())
			orders = append(orders, order)
			gaps = append(gaps, gap)
			if gap > 50*time.Millisecond {
				wide++
			}
		}
		var runs []string
		for i := range orders {
			runs = append(runs, fmt.Sprintf("%s, gap %v", orders[i], gaps[i].Round(time.Millisecond)))
		}
		t.Logf("P1's default `parley sync` runs: %s", strings.Join(runs, "; "))
		if len(orders) != syncRuns {
			t.Fatalf("%d usable runs of %d", len(orders), syncRuns)
		}
		bothOrders := slices.ContainsFunc(orders, func(o string) bool { return o != orders[0] })
		if !bothOrders && wide < syncRuns-1 {
			t.Errorf("the two memberships' connections came in one order in all %d runs and only %d gaps exceed 50 ms: the relay can link them by timing (%s)", syncRuns, wide, strings.Join(runs, "; "))
		}
	})

	// e. Nothing plaintext.
	secrets := map[string][]string{"message phrases": phrases, "display names and channel names": {names["O"], names["P1"], names["P2"], names["M"], c1, c2}}
	for _, what := range []string{"message phrases", "display names and channel names"} {
		t.Run("plaintext/"+strings.ReplaceAll(what, " ", "-"), func(t *testing.T) {
			files := map[string][]byte{}
			filepath.WalkDir(r.data, func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					if raw, err := os.ReadFile(p); err == nil {
						files[p] = raw
					}
				}
				return nil
			})
			rec, err := os.ReadFile(r.record)
			if err != nil {
				t.Fatal(err)
			}
			files[r.record] = rec
			t.Logf("searched %d files (relay data folder and the record)", len(files))
			for p, raw := range files {
				for _, s := range secrets[what] {
					if bytes.Contains(bytes.ToLower(raw), bytes.ToLower([]byte(s))) {
						t.Errorf("%q is in %s", s, p)
					}
				}
			}
		})
	}
}

// withoutPosts drops the post runs of a shape and merges the runs of
// one type that they separated.
func withoutPosts(shape string) string {
	var out []string
	for _, p := range strings.Fields(shape) {
		if strings.HasPrefix(p, "post(") || len(out) > 0 && out[len(out)-1] == p {
			continue
		}
		out = append(out, p)
	}
	return strings.Join(out, " ")
}

func sizeSummary(m map[int][]string) string {
	var ks []int
	for k := range m {
		ks = append(ks, k)
	}
	sort.Ints(ks)
	var out []string
	for _, k := range ks {
		who := map[string]int{}
		for _, w := range m[k] {
			who[w]++
		}
		var ws []string
		for w, n := range who {
			ws = append(ws, fmt.Sprintf("%s×%d", w, n))
		}
		sort.Strings(ws)
		out = append(out, fmt.Sprintf("%d bytes ×%d [%s]", k, len(m[k]), strings.Join(ws, ", ")))
	}
	return strings.Join(out, "; ")
}

// currentAccessLists reads the relay's current access list of every
// channel from its database (read-only, beside the running relay).
func currentAccessLists(t *testing.T, dataDir string) []*crypto.AccessList {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, "relay.db")+"?_pragma=busy_timeout(10000)&_pragma=query_only(ON)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT access FROM channels")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []*crypto.AccessList
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			t.Fatal(err)
		}
		al, err := crypto.ParseAccessList(raw)
		if err != nil {
			t.Fatalf("access list in the relay's database: %v", err)
		}
		out = append(out, al)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
