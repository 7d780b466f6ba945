package relay

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"parley/internal/smalldisk"
	"parley/internal/wire"
)

// deliveredFrame is a frame with a Deliver that records what it was
// given and, at that moment, whether the store already served it.
type deliveredFrame struct {
	NewFrame
	got       []wire.Stored
	committed []bool
}

func newDelivered(t *testing.T, s *SQLiteStore, f NewFrame) *deliveredFrame {
	d := &deliveredFrame{NewFrame: f}
	d.Deliver = func(st wire.Stored) {
		d.got = append(d.got, st)
		frames, _, err := s.Fetch(context.Background(), f.Channel, st.Seq-1, 1<<20)
		if err != nil {
			t.Error(err)
		}
		d.committed = append(d.committed, len(frames) > 0 && frames[0].Seq == st.Seq)
	}
	return d
}

func appendDelivered(t *testing.T, s *SQLiteStore, f NewFrame) (*deliveredFrame, wire.Stored, error) {
	t.Helper()
	d := newDelivered(t, s, f)
	stored, err := s.Append(context.Background(), []NewFrame{d.NewFrame})
	if err != nil {
		return d, wire.Stored{}, err
	}
	return d, stored[0], nil
}

func newEarlyStore(t *testing.T, path string, ch ChannelID) *SQLiteStore {
	t.Helper()
	s := openTestStore(t, path)
	if err := s.CreateChannel(context.Background(), ch, []byte("access"), 1); err != nil {
		t.Fatal(err)
	}
	return s
}

// A batch that goes to the frame log is handed to Deliver once, before
// its commit, as Append then returns it.
func TestEarlyDeliveryBeforeCommit(t *testing.T) {
	ch := ChannelID{21}
	s := newEarlyStore(t, filepath.Join(t.TempDir(), "relay.db"), ch)
	defer s.Close()
	hour := time.Now().Add(time.Hour)
	for i := range 3 {
		d, stored, err := appendDelivered(t, s, logFrame(ch, "EARLY.", 16000, hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(d.got) != 1 {
			t.Fatalf("append %d: Deliver called %d times", i, len(d.got))
		}
		if d.committed[0] {
			t.Errorf("append %d: the frame was served before Deliver: not early", i)
		}
		if g := d.got[0]; g.Seq != stored.Seq || g.Time != stored.Time || g.Kind != stored.Kind || !bytes.Equal(g.Payload, stored.Payload) {
			t.Errorf("append %d: delivered %d/%d, stored %d/%d", i, g.Seq, g.Time, stored.Seq, stored.Time)
		}
	}
}

// A batch that stays in the table (light load) is not delivered early:
// it waits for its commit, as before.
func TestSmallBatchNotDeliveredEarly(t *testing.T) {
	ch := ChannelID{22}
	path := filepath.Join(t.TempDir(), "relay.db")
	s, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.CreateChannel(context.Background(), ch, []byte("access"), 1); err != nil {
		t.Fatal(err)
	}
	d, _, err := appendDelivered(t, s, logFrame(ch, "LATE.", 16000, time.Now().Add(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.got) != 0 {
		t.Fatalf("a lone frame in the table was delivered before its commit: %v", d.got)
	}
}

// A batch delivered early whose commit fails leaves its sequence
// numbers behind, in the same run and after a restart.
func TestFailedEarlyCommitLeavesItsSeqs(t *testing.T) {
	ch := ChannelID{23}
	path := filepath.Join(t.TempDir(), "relay.db")
	s := newEarlyStore(t, path, ch)
	hour := time.Now().Add(time.Hour)
	if _, _, err := appendDelivered(t, s, logFrame(ch, "KEPT.", 16000, hour)); err != nil {
		t.Fatal(err)
	}
	failed := errors.New("injected commit failure")
	fail := func() {
		s.beforeCommit = func() error { return failed }
		d, _, err := appendDelivered(t, s, logFrame(ch, "LOST.", 16000, hour))
		s.beforeCommit = nil
		if !errors.Is(err, failed) || len(d.got) != 1 {
			t.Fatalf("append: %v, %d deliveries; want the injected failure after one", err, len(d.got))
		}
	}
	fail()
	lost := s.early.floors[ch] - 1
	// The same run: the next frame gets a number past the one delivered.
	_, stored, err := appendDelivered(t, s, logFrame(ch, "AFTER.", 16000, hour))
	if err != nil {
		t.Fatal(err)
	}
	if stored.Seq <= lost {
		t.Fatalf("seq %d given again after a failed early commit (delivered %d)", stored.Seq, lost)
	}
	// A clean close with that stored leaves no gap behind it.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, path)
	_, again, err := appendDelivered(t, s, logFrame(ch, "AGAIN.", 16000, hour))
	if err != nil {
		t.Fatal(err)
	}
	if again.Seq != stored.Seq+1 {
		t.Fatalf("after a clean close: seq %d, want %d", again.Seq, stored.Seq+1)
	}
	// A failure with nothing stored after it, then a close: the next
	// start moves past every number a batch can hold.
	fail()
	lost = s.early.floors[ch] - 1
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, path)
	defer s.Close()
	_, next, err := appendDelivered(t, s, logFrame(ch, "NEXT.", 16000, hour))
	if err != nil {
		t.Fatal(err)
	}
	if next.Seq <= lost || next.Seq != again.Seq+1+seqGapAfterEarly {
		t.Fatalf("after a failed early commit and a restart: seq %d, want %d (past %d)", next.Seq, again.Seq+1+seqGapAfterEarly, lost)
	}
	checkReads(t, s, ch, [][]byte{
		logFrame(ch, "KEPT.", 16000, hour).Payload, logFrame(ch, "AFTER.", 16000, hour).Payload,
		logFrame(ch, "AGAIN.", 16000, hour).Payload, logFrame(ch, "NEXT.", 16000, hour).Payload,
	}, "")
}

// A batch with more frames of one channel than a start would skip is
// not delivered early: a crash could otherwise leave numbers a reader
// saw below the next one given out.
func TestLargeBatchNotDeliveredEarly(t *testing.T) {
	ch := ChannelID{24}
	s := newEarlyStore(t, filepath.Join(t.TempDir(), "relay.db"), ch)
	defer s.Close()
	calls := 0
	var frames []NewFrame
	for range seqGapAfterEarly + 1 {
		f := logFrame(ch, "MANY.", 1000, time.Now().Add(time.Hour))
		f.Deliver = func(wire.Stored) { calls++ }
		frames = append(frames, f)
	}
	if _, err := s.Append(context.Background(), frames); err != nil {
		t.Fatal(err)
	}
	if calls != 0 {
		t.Fatalf("%d frames of one channel in a batch: %d delivered early", len(frames), calls)
	}
	if _, err := s.Append(context.Background(), frames[:seqGapAfterEarly]); err != nil {
		t.Fatal(err)
	}
	if calls != seqGapAfterEarly {
		t.Fatalf("%d frames of one channel in a batch: %d delivered early, want all", seqGapAfterEarly, calls)
	}
}

// On a disk nearly full, a written batch waits for its commit, which
// could still run out of room, instead of being delivered early.
func TestNearlyFullDiskNotDeliveredEarly(t *testing.T) {
	disk := smalldisk.Mount(t, "64m")
	ch := ChannelID{25}
	s := newEarlyStore(t, filepath.Join(disk, "relay.db"), ch)
	defer s.Close()
	hour := time.Now().Add(time.Hour)
	filler := smalldisk.Fill(t, disk, earlyRoom/2)
	d, _, err := appendDelivered(t, s, logFrame(ch, "TIGHT.", 16000, hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.got) != 0 {
		t.Fatalf("delivered early with %d MiB free", earlyRoom/2>>20)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if d, _, err = appendDelivered(t, s, logFrame(ch, "ROOMY.", 16000, hour)); err != nil {
		t.Fatal(err)
	}
	if len(d.got) != 1 {
		t.Fatal("not delivered early once there was room")
	}
	// The frames a batch keeps in the table (epoch bundles) count
	// against the room too: 6 MiB of them with 24 MiB free.
	filler = smalldisk.Fill(t, disk, earlyRoom+8<<20)
	logged, bundle := newDelivered(t, s, logFrame(ch, "LOGGED.", 16000, hour)), newDelivered(t, s, logFrame(ch, "BUNDLE.", 6<<20, time.Time{}))
	if _, err := s.Append(context.Background(), []NewFrame{logged.NewFrame, bundle.NewFrame}); err != nil {
		t.Fatal(err)
	}
	if len(logged.got)+len(bundle.got) != 0 {
		t.Fatalf("a batch keeping 6 MiB in the table delivered early with %d MiB free", (earlyRoom+8<<20)>>20)
	}
	os.Remove(filler)
}

// appendBatch appends n frames of ch in one request, so in one batch,
// and returns the highest sequence number handed to Deliver (0 if the
// batch waited for its commit, which then delivers through the server,
// not here).
func appendBatch(s *SQLiteStore, ch ChannelID, mark string, n int) (uint64, error) {
	var top uint64
	frames := make([]NewFrame, n)
	for i := range frames {
		frames[i] = logFrame(ch, mark, 1000, time.Now().Add(time.Hour))
		frames[i].Deliver = func(st wire.Stored) { top = max(top, st.Seq) }
	}
	_, err := s.Append(context.Background(), frames)
	return top, err
}

// While a delivered batch's numbers are unstored, no other batch is
// delivered before its commit: two such batches failing in a row would
// leave delivered numbers past the one gap a start adds. The next commit
// stores the floor even when it touches only another channel, and early
// delivery resumes.
func TestEarlyDeliveryWaitsWhileFloorsUnstored(t *testing.T) {
	a, b := ChannelID{24}, ChannelID{25}
	path := filepath.Join(t.TempDir(), "relay.db")
	s := newEarlyStore(t, path, a)
	if err := s.CreateChannel(context.Background(), b, []byte("access"), 1); err != nil {
		t.Fatal(err)
	}
	failed := errors.New("injected commit failure")
	s.beforeCommit = func() error { return failed }
	seen, err := appendBatch(s, a, "FIRST.", 40)
	if !errors.Is(err, failed) || seen == 0 {
		t.Fatalf("first batch: %v, delivered up to %d; want the injected failure after delivery", err, seen)
	}
	top, err := appendBatch(s, a, "SECOND.", 40)
	if !errors.Is(err, failed) || top != 0 {
		t.Fatalf("second batch: %v, delivered up to %d; want the failure and no early delivery", err, top)
	}
	s.beforeCommit = nil
	if top, err := appendBatch(s, b, "OTHER.", 10); err != nil || top != 0 {
		t.Fatalf("the batch storing the floor: %v, delivered up to %d; want it to wait for its commit", err, top)
	}
	if top, err := appendBatch(s, b, "RESUMED.", 10); err != nil || top == 0 {
		t.Fatalf("the batch after it: %v, not delivered early; want early delivery resumed", err)
	}
	// A clean close with every floor stored leaves no gap: a's next
	// number is the one after the last any reader was given.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, path)
	defer s.Close()
	stored, err := s.Append(context.Background(), []NewFrame{logFrame(a, "NEW.", 1000, time.Now().Add(time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	if stored[0].Seq != seen+1 {
		t.Fatalf("after a clean restart: seq %d, want %d (readers were given up to %d)", stored[0].Seq, seen+1, seen)
	}
}

// The same after a crash: one delivered batch failed, a second batch of
// the same channel is written, and the process dies before its commit.
// The start's gap covers every number a reader was given.
func TestCrashAfterFailedEarlyCommitReusesNoSeq(t *testing.T) {
	ch := ChannelID{26}
	if dir := os.Getenv("PARLEY_TEST_EARLY_CRASH_DIR"); dir != "" {
		crashAfterFailedEarlyCommit(t, dir, ch)
		return
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "relay.db")
	s := newEarlyStore(t, path, ch)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashAfterFailedEarlyCommitReusesNoSeq$")
	cmd.Env = append(os.Environ(), "PARLEY_TEST_EARLY_CRASH_DIR="+dir)
	out, _ := cmd.CombinedOutput()
	b, err := os.ReadFile(filepath.Join(dir, "seen"))
	if err != nil {
		t.Fatalf("the child did not reach its crash: %s", out)
	}
	seen, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil || seen == 0 {
		t.Fatalf("the child's record of deliveries: %q", b)
	}
	s = openTestStore(t, path)
	defer s.Close()
	stored, err := s.Append(context.Background(), []NewFrame{logFrame(ch, "NEW.", 1000, time.Now().Add(time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	if stored[0].Seq <= seen {
		t.Fatalf("seq %d given to a new frame after the crash; readers were given up to %d", stored[0].Seq, seen)
	}
}

// crashAfterFailedEarlyCommit is the child of
// TestCrashAfterFailedEarlyCommitReusesNoSeq: it records the highest
// number delivered and exits inside the second batch's commit.
func crashAfterFailedEarlyCommit(t *testing.T, dir string, ch ChannelID) {
	s := openTestStore(t, filepath.Join(dir, "relay.db"))
	failed := errors.New("injected commit failure")
	s.beforeCommit = func() error { return failed }
	seen, err := appendBatch(s, ch, "FIRST.", 40)
	if !errors.Is(err, failed) || seen == 0 {
		t.Fatalf("first batch: %v, delivered up to %d", err, seen)
	}
	var second uint64
	s.beforeCommit = func() error {
		os.WriteFile(filepath.Join(dir, "seen"), []byte(strconv.FormatUint(max(seen, second), 10)), 0o600)
		os.Exit(3)
		return nil
	}
	frames := make([]NewFrame, 40)
	for i := range frames {
		frames[i] = logFrame(ch, "SECOND.", 1000, time.Now().Add(time.Hour))
		frames[i].Deliver = func(st wire.Stored) { second = max(second, st.Seq) }
	}
	s.Append(context.Background(), frames)
	t.Fatal("the second batch's commit did not run")
}
