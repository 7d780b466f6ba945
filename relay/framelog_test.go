package relay

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"parley/internal/noroom"
	"parley/internal/smalldisk"
	"parley/internal/wire"
)

// logFrame is a message frame whose payload is n bytes of mark.
func logFrame(ch ChannelID, mark string, n int, expires time.Time) NewFrame {
	return NewFrame{Channel: ch, Kind: wire.KindMessage, Expires: expires,
		Payload: bytes.Repeat([]byte(mark), n/len(mark))}
}

// openTestStore opens a store that puts even a single frame in the frame
// log, as a busy relay's batches are.
func openTestStore(t *testing.T, path string) *SQLiteStore {
	t.Helper()
	logEveryBatch(t)
	s, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func logEveryBatch(t *testing.T) {
	n := logMinFrames
	logMinFrames = 1
	t.Cleanup(func() { logMinFrames = n })
}

// fetchAll returns every payload of ch, in order.
func fetchAll(t *testing.T, s *SQLiteStore, ch ChannelID) [][]byte {
	t.Helper()
	var out [][]byte
	since := uint64(0)
	for {
		frames, more, err := s.Fetch(context.Background(), ch, since, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range frames {
			out = append(out, f.Payload)
			since = f.Seq
		}
		if !more {
			return out
		}
	}
}

// checkReads fails t unless ch reads back exactly want.
func checkReads(t *testing.T, s *SQLiteStore, ch ChannelID, want [][]byte, when string) {
	t.Helper()
	got := fetchAll(t, s, ch)
	if len(got) != len(want) {
		t.Fatalf("%sread %d frames, want %d", when, len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("%sframe %d does not read back as written", when, i)
		}
	}
}

// segments lists the frame log's files beside the store at path.
func segments(t *testing.T, path string) []string {
	t.Helper()
	m, err := filepath.Glob(path + "-frames.*")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// What a crash leaves in the frame log is tidied at the next start: bytes
// past the last committed frame are cut off and written over, a segment
// that no frame names is removed, and every committed frame reads back
// as it was.
func TestFrameLogAfterACrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "relay.db")
	ctx := context.Background()
	ch := ChannelID{1}
	hour := time.Now().Add(time.Hour)
	s := openTestStore(t, path)
	if err := s.CreateChannel(ctx, ch, []byte("access"), 1); err != nil {
		t.Fatal(err)
	}
	var want [][]byte
	for i := range 3 {
		f := logFrame(ch, fmt.Sprintf("frame-%d.", i), 16000, hour)
		if _, err := s.Append(ctx, []NewFrame{f}); err != nil {
			t.Fatal(err)
		}
		want = append(want, f.Payload)
	}
	s.Close()
	segs := segments(t, path)
	if len(segs) != 1 {
		t.Fatalf("segments after three appends: %v", segs)
	}
	fi, err := os.Stat(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s is %v, want 0600", filepath.Base(segs[0]), fi.Mode().Perm())
	}
	committed := fi.Size()

	// A batch written but never committed, and a segment made for a
	// batch that never committed.
	f, err := os.OpenFile(segs[0], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(bytes.Repeat([]byte("UNACKNOWLEDGED."), 2000))
	f.Close()
	head := make([]byte, segmentHeaderSize)
	if f, err := os.Open(segs[0]); err != nil {
		t.Fatal(err)
	} else {
		f.Read(head)
		f.Close()
	}
	orphan := segmentName(path+"-frames", 2)
	if err := os.WriteFile(orphan, append(head, "UNACKNOWLEDGED."...), 0o600); err != nil {
		t.Fatal(err)
	}
	headless := segmentName(path+"-frames", 3) // made, header not yet synced
	if err := os.WriteFile(headless, []byte("parley"), 0o600); err != nil {
		t.Fatal(err)
	}

	s = openTestStore(t, path)
	defer s.Close()
	for _, f := range []string{orphan, headless} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s, a segment no frame names, is still there: %v", filepath.Base(f), err)
		}
	}
	if fi, _ := os.Stat(segs[0]); fi.Size() != committed {
		t.Errorf("segment is %d bytes after the start, want its committed %d", fi.Size(), committed)
	}
	last := logFrame(ch, "after.", 16000, hour)
	if _, err := s.Append(ctx, []NewFrame{last}); err != nil {
		t.Fatal(err)
	}
	want = append(want, last.Payload)
	checkReads(t, s, ch, want, "")
}

// A store whose frame log lost a segment its frames are in is refused at
// start, naming the file, instead of serving frames it does not have.
func TestFrameLogMissingSegmentRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "relay.db")
	ctx := context.Background()
	ch := ChannelID{2}
	s := openTestStore(t, path)
	if err := s.CreateChannel(ctx, ch, []byte("access"), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, []NewFrame{logFrame(ch, "x", 100, time.Now().Add(time.Hour))}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	segs := segments(t, path)
	if len(segs) != 1 {
		t.Fatalf("segments: %v", segs)
	}
	os.Remove(segs[0])
	_, err := OpenSQLite(path)
	if err == nil || !strings.Contains(err.Error(), filepath.Base(segs[0])+" is missing") {
		t.Fatalf("opening a store without its segment: %v", err)
	}
}

// Expiry and burn zero a frame's bytes in the log and remove the
// segments left with no frame, while the frames still live read back
// whole.
func TestFrameLogPurgeAndBurn(t *testing.T) {
	defer func(n int64) { segmentBytes = n }(segmentBytes)
	segmentBytes = 40 << 10 // a new segment every third envelope
	dir := t.TempDir()
	path := filepath.Join(dir, "relay.db")
	ctx := context.Background()
	s := openTestStore(t, path)
	defer s.Close()
	old, kept, burned := ChannelID{3}, ChannelID{4}, ChannelID{5}
	for _, ch := range []ChannelID{old, kept, burned} {
		if err := s.CreateChannel(ctx, ch, []byte("access"), 1); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	var live [][]byte
	for i := range 12 {
		if _, err := s.Append(ctx, []NewFrame{logFrame(old, "EXPIRING-MARK.", 16000, now.Add(time.Minute))}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Append(ctx, []NewFrame{logFrame(burned, "BURNED-MARK.", 16000, now.Add(time.Hour))}); err != nil {
			t.Fatal(err)
		}
		if i%4 == 3 {
			f := logFrame(kept, fmt.Sprintf("LIVE-%d.", i), 16000, now.Add(time.Hour))
			if _, err := s.Append(ctx, []NewFrame{f}); err != nil {
				t.Fatal(err)
			}
			live = append(live, f.Payload)
		}
	}
	before := len(segments(t, path))
	if before < 8 {
		t.Fatalf("only %d segments for 27 envelopes", before)
	}

	if n, err := s.Expire(ctx, now.Add(2*time.Minute)); err != nil || n != 12 {
		t.Fatalf("expire: %d, %v", n, err)
	}
	if err := s.Burn(ctx, burned, []byte("notice"), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if found := grepFiles(t, dir, "EXPIRING-MARK.", "BURNED-MARK."); len(found) > 0 {
		t.Errorf("purged or burned frames still in %v", found)
	}
	// The live frames sit in three segments, and the current one stays.
	if after := len(segments(t, path)); after > 4 {
		t.Errorf("%d segments of %d left, with 3 live frames", after, before)
	}
	got := fetchAll(t, s, kept)
	if len(got) != len(live) {
		t.Fatalf("read %d live frames, want %d", len(got), len(live))
	}
	for i := range live {
		if !bytes.Equal(got[i], live[i]) {
			t.Errorf("live frame %d changed", i)
		}
	}
	var sum int64
	for _, p := range live {
		sum += int64(len(p))
	}
	if n, err := s.Usage(ctx, kept); err != nil || n != sum {
		t.Errorf("usage of the live channel: %d, %v; want %d", n, err, sum)
	}
}

// grepFiles returns the files under dir that hold any of marks.
func grepFiles(t *testing.T, dir string, marks ...string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range marks {
			if bytes.Contains(data, []byte(m)) {
				found = append(found, e.Name()+" ("+m+")")
			}
		}
	}
	return found
}

// A store made before the frame log keeps its payloads in the table and
// serves them, beside new frames that go to the log.
func TestStoreBeforeFrameLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "relay.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	ch := ChannelID{6}
	oldPayload := bytes.Repeat([]byte("old."), 4000)
	for _, q := range []string{
		`PRAGMA journal_mode = WAL`,
		`CREATE TABLE channels (id BLOB PRIMARY KEY, access BLOB NOT NULL, version INTEGER NOT NULL, next_seq INTEGER NOT NULL, bytes INTEGER NOT NULL) WITHOUT ROWID`,
		`CREATE TABLE frames (channel BLOB NOT NULL, seq INTEGER NOT NULL, kind INTEGER NOT NULL, time INTEGER NOT NULL, expires INTEGER NOT NULL, payload BLOB NOT NULL, PRIMARY KEY (channel, seq))`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	exp := time.Now().Add(time.Hour).UnixMilli()
	if _, err := db.Exec(`INSERT INTO channels VALUES (?, 'access', 1, 2, ?)`, ch[:], len(oldPayload)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO frames VALUES (?, 1, ?, 1, ?, ?)`, ch[:], wire.KindMessage, exp, oldPayload); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s := openTestStore(t, path)
	defer s.Close()
	ctx := context.Background()
	newFrame := logFrame(ch, "new.", 16000, time.Now().Add(time.Hour))
	if _, err := s.Append(ctx, []NewFrame{newFrame}); err != nil {
		t.Fatal(err)
	}
	got := fetchAll(t, s, ch)
	if len(got) != 2 || !bytes.Equal(got[0], oldPayload) || !bytes.Equal(got[1], newFrame.Payload) {
		t.Fatalf("read %d frames, not the old and the new one", len(got))
	}
	if n, err := s.Expire(ctx, time.Now().Add(2*time.Hour)); err != nil || n != 2 {
		t.Fatalf("expire: %d, %v", n, err)
	}
	if n, err := s.Usage(ctx, ch); err != nil || n != 0 {
		t.Errorf("usage after both expired: %d, %v", n, err)
	}
}

// writeAll puts many buffers, empty ones among them, end to end at the
// offset given, past the count one system call takes.
func TestWriteAll(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "seg"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var bufs [][]byte
	want := []byte("head")
	for i := range 2500 {
		b := []byte(fmt.Sprintf("<%d>", i))
		if i%7 == 0 {
			b = nil
		}
		bufs = append(bufs, b)
		want = append(want, b...)
	}
	if _, err := f.WriteAt([]byte("head"), 0); err != nil {
		t.Fatal(err)
	}
	if err := writeAll(f, bufs, 4); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("file holds %d bytes, want %d as written", len(got), len(want))
	}
}

// A post refused alone (over its channel's quota, or to a channel burned
// or never made) leaves no ciphertext in the frame log, though its
// payload was written there before the refusal.
func TestRefusedPostLeavesNoCiphertext(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, filepath.Join(dir, "relay.db"))
	defer s.Close()
	ctx := context.Background()
	ch := ChannelID{8}
	if err := s.CreateChannel(ctx, ch, []byte("access"), 1); err != nil {
		t.Fatal(err)
	}
	hour := time.Now().Add(time.Hour)
	kept := logFrame(ch, "KEPT-MARK.", 16000, hour)
	if _, err := s.Append(ctx, []NewFrame{kept}); err != nil {
		t.Fatal(err)
	}
	over := logFrame(ch, "OVER-QUOTA-MARK.", 16000, hour)
	over.MaxBytes = 20000
	if _, err := s.Append(ctx, []NewFrame{over}); err != ErrQuota {
		t.Fatalf("post over quota: %v", err)
	}
	if _, err := s.Append(ctx, []NewFrame{logFrame(ChannelID{9}, "NO-CHANNEL-MARK.", 16000, hour)}); err != ErrNotFound {
		t.Fatalf("post to no channel: %v", err)
	}
	found := grepFiles(t, dir, "KEPT-MARK.", "OVER-QUOTA-MARK.", "NO-CHANNEL-MARK.")
	if len(found) != 1 || !strings.Contains(found[0], "KEPT-MARK.") {
		t.Fatalf("marks found: %v; want only the stored frame's", found)
	}
	if got := fetchAll(t, s, ch); len(got) != 1 || !bytes.Equal(got[0], kept.Payload) {
		t.Fatalf("read %d frames, not the one stored", len(got))
	}
}

// An operator who moves relay.db and its WAL aside but leaves its frame
// log finds a relay that refuses to start, saying why, and the old
// store's segments still there; moved aside too, the store starts empty.
func TestFrameLogOfAnotherStoreKept(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "relay.db")
	ctx := context.Background()
	ch := ChannelID{10}
	s := openTestStore(t, path)
	if err := s.CreateChannel(ctx, ch, []byte("access"), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, []NewFrame{logFrame(ch, "OLD-STORE.", 16000, time.Now().Add(time.Hour))}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	aside := t.TempDir()
	for _, f := range []string{"relay.db", "relay.db-wal", "relay.db-shm"} {
		os.Rename(filepath.Join(dir, f), filepath.Join(aside, f))
	}
	segs := segments(t, path)
	if len(segs) != 1 {
		t.Fatalf("segments: %v", segs)
	}
	_, err := OpenSQLite(path)
	if err == nil || !strings.Contains(err.Error(), filepath.Base(segs[0])+" belongs to another store") {
		t.Fatalf("a new store beside an old store's segment: %v", err)
	}
	if found := grepFiles(t, dir, "OLD-STORE."); len(found) != 1 {
		t.Fatalf("the old store's segment is gone: %v", found)
	}
	// Put back, the old store opens with its frame.
	os.Remove(path)
	for _, f := range []string{"relay.db", "relay.db-wal", "relay.db-shm"} {
		os.Rename(filepath.Join(aside, f), filepath.Join(dir, f))
	}
	s = openTestStore(t, path)
	if got := fetchAll(t, s, ch); len(got) != 1 {
		t.Fatalf("the old store put back reads %d frames", len(got))
	}
	s.Close()
	// Moved aside with its segment, a new store starts empty.
	for _, f := range append([]string{path, path + "-wal", path + "-shm"}, segs...) {
		os.Rename(f, filepath.Join(aside, filepath.Base(f)))
	}
	s = openTestStore(t, path)
	defer s.Close()
	if _, _, err := s.Channel(ctx, ch); err != ErrNotFound {
		t.Fatalf("a new store knows the old channel: %v", err)
	}
}

// At light load a batch of one or two frames keeps its payloads in the
// table (one fsync, not two); a batch of logMinFrames goes to the log.
// Both read back the same.
func TestSmallBatchesStayInTheTable(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "relay.db")
	s, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	ch := ChannelID{11}
	if err := s.CreateChannel(ctx, ch, []byte("access"), 1); err != nil {
		t.Fatal(err)
	}
	hour := time.Now().Add(time.Hour)
	var want [][]byte
	one := logFrame(ch, "ALONE.", 16000, hour)
	if _, err := s.Append(ctx, []NewFrame{one}); err != nil {
		t.Fatal(err)
	}
	want = append(want, one.Payload)
	if segs := segments(t, path); len(segs) != 0 {
		t.Fatalf("a lone frame went to the frame log: %v", segs)
	}
	var many []NewFrame
	for i := range logMinFrames {
		many = append(many, logFrame(ch, fmt.Sprintf("MANY-%d.", i), 16000, hour))
		want = append(want, many[i].Payload)
	}
	if _, err := s.Append(ctx, many); err != nil {
		t.Fatal(err)
	}
	segs := segments(t, path)
	if len(segs) != 1 {
		t.Fatalf("a batch of %d: segments %v", logMinFrames, segs)
	}
	if found := grepFiles(t, dir, "MANY-0."); len(found) != 1 || !strings.HasPrefix(found[0], filepath.Base(segs[0])) {
		t.Errorf("the batch's payloads are in %v, not the frame log", found)
	}
	checkReads(t, s, ch, want, "")
}

// On a full disk the frame log refuses a batch as full (the relay then
// says so, noroom.IsFull) and keeps every frame it acknowledged, whether
// its write or a new segment ran out of room; with room again it takes
// batches at once, and a restart finds everything acknowledged.
func TestFrameLogOnAFullDisk(t *testing.T) {
	defer func(n int64) { segmentBytes = n }(segmentBytes)
	segmentBytes = 256 << 10 // new segments while the disk fills
	disk := smalldisk.Mount(t, "16m")
	path := filepath.Join(disk, "relay.db")
	ctx := context.Background()
	ch := ChannelID{12}
	s := openTestStore(t, path)
	if err := s.CreateChannel(ctx, ch, []byte("access"), 1); err != nil {
		t.Fatal(err)
	}
	var acked [][]byte
	batch := func(i int) error {
		var fs []NewFrame
		// 512 KB a batch: the log's write, not SQLite's few pages, is
		// what runs out of room.
		for j := range 32 {
			fs = append(fs, logFrame(ch, fmt.Sprintf("b%d.%d.", i, j), 16000, time.Now().Add(time.Hour)))
		}
		if _, err := s.Append(ctx, fs); err != nil {
			return err
		}
		for _, f := range fs {
			acked = append(acked, f.Payload)
		}
		return nil
	}
	filler := smalldisk.Fill(t, disk, 1<<20)
	var refused error
	for i := 0; i < 200 && refused == nil; i++ {
		refused = batch(i)
	}
	if !noroom.IsFull(refused) {
		t.Fatalf("a batch on a full disk: %v, want a full-disk error", refused)
	}
	if len(acked) == 0 {
		t.Fatal("no batch was taken before the disk was full")
	}
	t.Logf("refused after %d frames: %v", len(acked), refused)
	checkReads(t, s, ch, acked, "on the full disk: ")
	os.Remove(filler)
	for i := range 10 {
		if err := batch(1000 + i); err != nil {
			t.Fatalf("a batch once the disk had room: %v", err)
		}
	}
	s.Close()
	s = openTestStore(t, path)
	defer s.Close()
	checkReads(t, s, ch, acked, "after a restart: ")
	if v, err := s.IntegrityCheck(ctx); err != nil || v != "ok" {
		t.Fatalf("integrity check after a restart: %q, %v", v, err)
	}
	// A segment cut short behind the store's back is reported.
	segs := segments(t, path)
	if err := os.Truncate(segs[len(segs)-1], int64(segmentHeaderSize)); err != nil {
		t.Fatal(err)
	}
	if v, err := s.IntegrityCheck(ctx); err != nil || !strings.Contains(v, fmt.Sprintf("%s is %d bytes", filepath.Base(segs[len(segs)-1]), segmentHeaderSize)) {
		t.Fatalf("integrity check of a cut segment: %q, %v", v, err)
	}
}
