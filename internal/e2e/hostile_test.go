package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// hostileRelay is the hostilerelay process: the real relay under an
// operator who withholds, forks and tampers, as its rules file says.
type hostileRelay struct {
	t                      *testing.T
	url                    string
	rules, callers, frames string
}

type hideRule struct {
	Reader string   `json:"reader"`
	Sender string   `json:"sender,omitempty"`
	Seqs   []uint64 `json:"seqs,omitempty"`
}

type relayRules struct {
	Fork         bool       `json:"fork,omitempty"`
	Hide         []hideRule `json:"hide,omitempty"`
	TamperInvite string     `json:"tamper_invite,omitempty"`
}

func startHostile(t *testing.T) *hostileRelay {
	dir := t.TempDir()
	h := &hostileRelay{t: t, rules: filepath.Join(dir, "rules.json"), callers: filepath.Join(dir, "callers"), frames: filepath.Join(dir, "frames")}
	h.set(relayRules{})
	h.url = runHostilerelay(t, "--data", filepath.Join(dir, "data"), "--rules", h.rules, "--callers", h.callers, "--frames", h.frames)
	return h
}

// runHostilerelay starts the hostilerelay binary with args, killed when
// the test ends, and returns its URL.
func runHostilerelay(t *testing.T, args ...string) string {
	cmd := exec.Command(filepath.Join(binaries(t), "hostilerelay"), args...)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGKILL); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("hostile relay did not start: %v", err)
	}
	return strings.TrimSpace(line)
}

func (h *hostileRelay) set(r relayRules) {
	raw, _ := json.Marshal(r)
	if err := os.WriteFile(h.rules, raw, 0o600); err != nil {
		h.t.Fatal(err)
	}
}

func lastLine(t *testing.T, path string) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	return lines[len(lines)-1]
}

// keyOf syncs h alone and returns the pseudonym key the relay saw.
func (r *hostileRelay) keyOf(h *home) string {
	h.must("sync", "c")
	return lastLine(r.t, r.callers)
}

// lastBundle returns the sequence number of the newest epoch bundle.
func (r *hostileRelay) lastBundle() uint64 {
	seq, _ := r.lastBundleBy()
	return seq
}

// lastBundleBy returns the sequence number of the newest epoch bundle
// and the key that posted it: the channel's administration key of the
// epoch before, which every organizer of that epoch authenticates with.
func (r *hostileRelay) lastBundleBy() (uint64, string) {
	raw, err := os.ReadFile(r.frames)
	if err != nil {
		r.t.Fatal(err)
	}
	var seq uint64
	var by string
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var s, kind uint64
		var poster string
		if _, err := fmt.Sscanf(l, "%d %d %s", &s, &kind, &poster); err == nil && kind == 2 {
			seq, by = s, poster
		}
	}
	if seq == 0 {
		r.t.Fatal("no epoch bundle stored")
	}
	return seq, by
}

func mustContain(t *testing.T, who, got string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(got, p) {
			t.Fatalf("%s: no %q in:\n%s", who, p, got)
		}
	}
}

// The operator drops every message from Alice to Bob. Bob is told, by
// name, as soon as anyone who got them speaks.
func TestHostileRelayCensorsOneMember(t *testing.T) {
	r := startHostile(t)
	org, alice, bob := newHome(t, "Convener"), newHome(t, "Alice"), newHome(t, "Bob")
	channel(t, r.url, org, alice, bob)
	r.set(relayRules{Hide: []hideRule{{Reader: r.keyOf(bob), Sender: r.keyOf(alice)}}})
	alice.must("send", "c", "our offer on the border crossings")
	org.must("sync", "c")
	org.must("send", "c", "noted, thank you")
	got := bob.must("read", "c")
	mustContain(t, "Bob", got, "Convener: noted, thank you", "1 message from Alice never reached this home (Convener had them): the relay withheld them")
	if strings.Contains(got, "border crossings") {
		t.Fatalf("Bob read the withheld message:\n%s", got)
	}
	// A program reading the transcript tells the alarm apart without
	// parsing English.
	mustContain(t, "Bob (JSON)", bob.must("read", "c", "--json"), `"reason":"withheld","alarm":true`)
}

// The operator keeps the epoch that removes Carol from Bob, so that Bob
// would go on sealing in the old epoch, which Carol still reads. Bob's
// talks messages pause, with the reason, until the epoch arrives.
func TestHostileRelayWithholdsEpoch(t *testing.T) {
	r := startHostile(t)
	org, alice, bob, carol := newHome(t, "Convener"), newHome(t, "Alice"), newHome(t, "Bob"), newHome(t, "Carol")
	channel(t, r.url, org, alice, bob, carol)
	bobKey := r.keyOf(bob)
	org.must("remove", "c", "Carol")
	bundle := r.lastBundle()
	r.set(relayRules{Hide: []hideRule{{Reader: bobKey, Seqs: []uint64{bundle}}}})
	alice.must("send", "c", "now that we are among ourselves")
	got := bob.must("read", "c")
	mustContain(t, "Bob", got, "has not received that epoch: the relay may be withholding it from you")
	out, err := bob.run(nil, "send", "c", "for Carol's eyes too")
	if err == nil || !strings.Contains(err.Error(), "this home has not received that epoch") {
		t.Fatalf("Bob sent in the old epoch: %q, %v", out, err)
	}
	// The operator relents: Bob's next sync asks for the held bundle.
	r.set(relayRules{})
	bob.must("send", "c", "back with you")
	mustContain(t, "Bob", bob.must("read", "c"), "Carol is no longer a member", "Alice: now that we are among ourselves")
	mustContain(t, "Alice", alice.must("read", "c"), "Bob: back with you")
}

// Two organizers change the channel at once and the operator lets both
// win, showing each half of the channel its own roster for the same
// epoch. Each half is told it cannot read the other: a fork.
func TestHostileRelayForks(t *testing.T) {
	r := startHostile(t)
	org, alice, bob, carol := newHome(t, "Convener"), newHome(t, "Alice"), newHome(t, "Bob"), newHome(t, "Carol")
	channel(t, r.url, org, alice, bob, carol)
	sponsor := newHome(t, "Sponsor")
	code := org.must("invite", "c", "--role", "organizer")
	if _, err := sponsor.run([]byte(code), "join", "-"); err != nil {
		t.Fatal(err)
	}
	org.must("admit", "c", "--all")
	keys := map[string]string{}
	for name, h := range map[string]*home{"org": org, "sponsor": sponsor, "alice": alice, "bob": bob} {
		keys[name] = r.keyOf(h)
	}
	r.set(relayRules{Fork: true})
	org.must("remove", "c", "Carol")
	// The sponsor administers with the key the convener posted the
	// first change with (both organizers hold it): the operator hides
	// that change from it too.
	first, admin := r.lastBundleBy()
	hideFirst := []hideRule{{Reader: keys["sponsor"], Seqs: []uint64{first}}, {Reader: keys["bob"], Seqs: []uint64{first}}, {Reader: admin, Seqs: []uint64{first}}}
	r.set(relayRules{Fork: true, Hide: hideFirst})
	sponsor.must("remove", "c", "Carol")
	second := r.lastBundle()
	if second == first {
		t.Fatal("the second organizer's change was not stored")
	}
	r.set(relayRules{Fork: true, Hide: append(hideFirst,
		hideRule{Reader: keys["org"], Seqs: []uint64{second}}, hideRule{Reader: keys["alice"], Seqs: []uint64{second}})})
	alice.must("send", "c", "from one half")
	bob.must("send", "c", "from the other half")
	mustContain(t, "Alice", alice.must("read", "c"), "could not decrypt a message from Bob", "a fork")
	mustContain(t, "Bob", bob.must("read", "c"), "could not decrypt a message from Alice", "a fork")
}

// Someone who intercepted an invite code, working with the operator,
// swaps the joiner's key in the sealed join request. The organizer's
// client refuses the request and says why; nobody is admitted under the
// swapped key.
func TestHostileRelayTampersWithAdmission(t *testing.T) {
	r := startHostile(t)
	org, dave := newHome(t, "Convener"), newHome(t, "Dave")
	org.must("channel", "create", "c", "--relay", r.url)
	code := strings.TrimSpace(org.must("invite", "c", "--role", "participant"))
	r.set(relayRules{TamperInvite: code})
	if _, err := dave.run([]byte(code), "join", "-"); err != nil {
		t.Fatal(err)
	}
	if out := org.must("pending", "c"); strings.Contains(out, "Dave") {
		t.Fatalf("a tampered request is pending:\n%s", out)
	}
	mustContain(t, "Convener", org.must("read", "c"), "ALERT: rejected a join request made with your invite for a participant", "the invite is now void")
	if out, err := org.run(nil, "admit", "c", "--all"); err == nil {
		t.Fatalf("admitted after a tampered request: %s", out)
	}
}
