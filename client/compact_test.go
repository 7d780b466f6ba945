package client

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func chunkCount(t *testing.T, c *Client, name string) int {
	t.Helper()
	row, err := c.view(name)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := c.db.QueryRow(`SELECT count(*) FROM transcript WHERE channel = ?`, row.id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func entryTexts(es []Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Text)
	}
	return out
}

// Old chunks are merged into archives: the transcript reads the same,
// a reader's mark stays valid (nothing is shown twice), and retention
// still drops exactly what expired.
func TestCompactionKeepsTranscriptAndMarks(t *testing.T) {
	_, _, _, alice := twoHomes(t)
	now := time.Now()
	alice.Now = func() time.Time { return now }
	old, recent := 600, 5
	put := func(i int, at time.Time) {
		if err := alice.update("c", func(tx *sql.Tx, row *channelRow) error {
			return alice.appendTranscript(tx, row.id, []Entry{{Seq: uint64(1000 + i), Time: at, Received: at, Kind: KindMessage, Sender: "Org", Text: fmt.Sprintf("message %d", i)}})
		}); err != nil {
			t.Fatal(err)
		}
	}
	// Chunks are stored in the order they are received: the old ones
	// first (with the join's), then, two hours on, the recent ones.
	for i := 0; i < old; i++ {
		put(i, now)
	}
	now = now.Add(2 * time.Hour)
	for i := old; i < old+recent; i++ {
		put(i, now)
	}
	before, mark, err := alice.ReadAfter("c", 0)
	if err != nil {
		t.Fatal(err)
	}
	n0 := chunkCount(t, alice, "c")
	for i := 0; i < 20; i++ {
		if err := alice.applyRetention("c"); err != nil {
			t.Fatal(err)
		}
	}
	n1 := chunkCount(t, alice, "c")
	if n1 > recent+3 {
		t.Fatalf("%d chunks before compaction, %d after; want the %d old ones in at most 3 archives", n0, n1, old)
	}
	after, _, err := alice.ReadAfter("c", 0) // the order of arrival, which compaction keeps
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(entryTexts(before), entryTexts(after)) {
		t.Fatalf("compaction changed the transcript: %d entries before, %d after", len(before), len(after))
	}
	if again, _, err := alice.ReadAfter("c", mark); err != nil || len(again) != 0 {
		t.Fatalf("a reader's mark after compaction gives %d entries again (%v)", len(again), err)
	}

	// 71 hours on: the old messages are 73 hours old, past the hard
	// policy's 72; the recent ones (71 hours) stay.
	later := now.Add(71 * time.Hour)
	alice.Now = func() time.Time { return later }
	if err := alice.applyRetention("c"); err != nil {
		t.Fatal(err)
	}
	kept, err := alice.Read("c")
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, e := range kept {
		if e.Kind == KindMessage {
			msgs = append(msgs, e.Text)
		}
	}
	want := []string{}
	for i := old; i < old+recent; i++ {
		want = append(want, fmt.Sprintf("message %d", i))
	}
	if !slices.Equal(msgs, want) {
		t.Fatalf("after retention: %q", msgs)
	}
}

// Compaction deletes the newest chunk once it is old; the next chunk
// must still get an id above every reader's mark, or no reader would
// ever see it.
func TestChunkIDsNeverReused(t *testing.T) {
	_, _, _, alice := twoHomes(t)
	now := time.Now()
	alice.Now = func() time.Time { return now }
	for i := 0; i < 3; i++ {
		if err := alice.update("c", func(tx *sql.Tx, row *channelRow) error {
			return alice.appendTranscript(tx, row.id, []Entry{{Time: now, Kind: KindMessage, Sender: "Org", Text: fmt.Sprintf("quiet %d", i)}})
		}); err != nil {
			t.Fatal(err)
		}
	}
	_, mark, err := alice.ReadAfter("c", 0)
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(11 * time.Minute)
	if err := alice.applyRetention("c"); err != nil {
		t.Fatal(err)
	}
	if err := alice.update("c", func(tx *sql.Tx, row *channelRow) error {
		return alice.appendTranscript(tx, row.id, []Entry{{Time: now, Kind: KindMessage, Sender: "Org", Text: "after the quiet"}})
	}); err != nil {
		t.Fatal(err)
	}
	got, _, err := alice.ReadAfter("c", mark)
	if err != nil || len(got) != 1 || got[0].Text != "after the quiet" {
		t.Fatalf("a reader at mark %d gets %q (%v)", mark, entryTexts(got), err)
	}
}

// A state database from before AUTOINCREMENT ids and chunk summaries is
// brought up to date when the home opens, rows and ids kept.
func TestStateMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	old, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE channels (id INTEGER PRIMARY KEY, name_ix BLOB NOT NULL UNIQUE, state BLOB NOT NULL)`,
		`CREATE TABLE outbox (id INTEGER PRIMARY KEY, channel INTEGER NOT NULL, item BLOB NOT NULL)`,
		`CREATE TABLE transcript (id INTEGER PRIMARY KEY, channel INTEGER NOT NULL, chunk BLOB NOT NULL)`,
		`CREATE INDEX transcript_channel ON transcript (channel)`,
		`INSERT INTO transcript (id, channel, chunk) VALUES (5, 1, x'01'), (9, 1, x'02')`,
		`INSERT INTO outbox (id, channel, item) VALUES (3, 1, x'03')`,
	} {
		if _, err := old.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()
	db, err := openState(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, table := range []string{"outbox", "transcript"} {
		var def string
		db.QueryRow(`SELECT sql FROM sqlite_master WHERE name = ?`, table).Scan(&def)
		if !strings.Contains(def, "AUTOINCREMENT") {
			t.Fatalf("%s not migrated: %s", table, def)
		}
	}
	var ids []int64
	rows, _ := db.Query(`SELECT id FROM transcript ORDER BY id`)
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		ids = append(ids, id)
	}
	rows.Close()
	if !slices.Equal(ids, []int64{5, 9}) {
		t.Fatalf("transcript ids after migration: %v", ids)
	}
	db.Exec(`DELETE FROM transcript WHERE id = 9`)
	res, err := db.Exec(`INSERT INTO transcript (channel, chunk) VALUES (1, x'04')`)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := res.LastInsertId(); id <= 9 {
		t.Fatalf("an id was given out again after migration: %d", id)
	}
	if _, err := openState(path); err != nil {
		t.Fatalf("opening a migrated database again: %v", err)
	}
}

// Transcript chunks are padded to size buckets: a short message and a
// long one of the same bucket leave chunks of one size on disk, and
// read back exactly.
func TestChunksArePadded(t *testing.T) {
	_, _, _, alice := twoHomes(t)
	sizes := func() []int {
		rows, err := alice.db.Query(`SELECT length(chunk) FROM transcript ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []int
		for rows.Next() {
			var n int
			rows.Scan(&n)
			out = append(out, n)
		}
		return out
	}
	before := len(sizes())
	for _, text := range []string{"yes", strings.Repeat("a considered answer ", 30)} {
		if err := alice.update("c", func(tx *sql.Tx, row *channelRow) error {
			return alice.appendTranscript(tx, row.id, []Entry{{Seq: 99, Time: time.Now(), Kind: KindMessage, Sender: "Org", Text: text}})
		}); err != nil {
			t.Fatal(err)
		}
	}
	got := sizes()[before:]
	if len(got) != 2 || got[0] != got[1] {
		t.Fatalf("chunks of a 3-byte and a 600-byte message: %v bytes", got)
	}
	entries, _ := alice.Read("c")
	if last := entries[len(entries)-1]; !strings.HasPrefix(last.Text, "a considered answer") {
		t.Fatalf("read back: %+v", last)
	}
	for n, want := range map[int]int{0: 1024, 1024: 1024, 1025: 2048, 40000: 65536, 65536: 65536, 65537: 131072, 200000: 262144} {
		if got := chunkBucket(n); got != want {
			t.Errorf("bucket of %d: %d, want %d", n, got, want)
		}
	}
}
