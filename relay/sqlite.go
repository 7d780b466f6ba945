package relay

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"parley/internal/noroom"
	"parley/internal/wire"

	"modernc.org/sqlite"
)

// SQLiteStore is the Store on one SQLite file in WAL mode with
// synchronous=FULL (a commit is on disk before it returns) and
// secure_delete=ON (deleted rows are overwritten, not left in free pages).
// Appends from many connections are group-committed: one writer goroutine
// takes every append waiting at that moment into one transaction, so the
// cost of an fsync is shared without weakening what an acknowledgement
// means.
type SQLiteStore struct {
	w, r    *sql.DB
	cpDB    *sql.DB // the checkpointer's connection (checkpoint.go)
	log     *frameLog
	cp      checkpointState
	stmts   appendStmts
	appends chan *appendReq
	done    chan struct{}
	stopped chan struct{} // closed when the writer has returned
	wg      sync.WaitGroup
	closeMu sync.Once
	dir     string // the folder of relay.db
	// early is the writer's record of early deliveries (early.go).
	early earlyState
	// beforeCommit, set by tests only, runs just before a group commit
	// commits; its error fails the commit.
	beforeCommit func() error
}

// appendStmts are the statements of the append path, prepared once on
// the writer connection: preparing them anew for every frame took a sixth
// of the append path's CPU.
type appendStmts struct {
	channel, insert, update *sql.Stmt
}

type appendReq struct {
	frames []NewFrame
	out    chan appendResult
}

type appendResult struct {
	stored []wire.Stored
	// walBytes is the payload it put in the database itself (not in
	// the frame log).
	walBytes int
	err      error
}

// schema is the store's layout. Frames live in an ordinary rowid table
// with (channel, seq) as a separate unique index: in a WITHOUT ROWID
// table every key comparison of an insert read the whole 16 KiB row back
// from its overflow pages, which doubled the CPU cost of each append.
// (A store made before that change keeps its WITHOUT ROWID table; every
// query works the same on both.) A frame whose payload is in the frame
// log (framelog.go) has an empty payload column and names its place
// with log_seg (from 1), log_off and log_len; log_seg is 0 for a frame
// kept whole in the table.
const schema = `
CREATE TABLE IF NOT EXISTS channels (
	id BLOB PRIMARY KEY,
	access BLOB NOT NULL,
	version INTEGER NOT NULL,
	next_seq INTEGER NOT NULL,
	bytes INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS frames (
	channel BLOB NOT NULL,
	seq INTEGER NOT NULL,
	kind INTEGER NOT NULL,
	time INTEGER NOT NULL,
	expires INTEGER NOT NULL,
	payload BLOB NOT NULL,
	log_seg INTEGER NOT NULL DEFAULT 0,
	log_off INTEGER NOT NULL DEFAULT 0,
	log_len INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (channel, seq)
);
CREATE INDEX IF NOT EXISTS frames_expires ON frames (expires) WHERE expires > 0;
CREATE TABLE IF NOT EXISTS invites (
	channel BLOB NOT NULL,
	token_id BLOB NOT NULL,
	expires INTEGER NOT NULL,
	spent INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (channel, token_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS joins (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	channel BLOB NOT NULL,
	expires INTEGER NOT NULL,
	sealed BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS joins_channel ON joins (channel);
CREATE TABLE IF NOT EXISTS meta (
	name TEXT PRIMARY KEY,
	value BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tombstones (
	channel BLOB PRIMARY KEY,
	notice BLOB NOT NULL,
	expires INTEGER NOT NULL
) WITHOUT ROWID;
`

// The store's three kinds of connection.
type role int

const (
	readerConn role = iota
	writerConn
	checkpointConn
)

func dsn(path string, r role) string {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "secure_delete(ON)", "busy_timeout(10000)", "foreign_keys(ON)"} {
		q.Add("_pragma", p)
	}
	switch r {
	case writerConn:
		q.Set("_txlock", "immediate")
		// No commit checkpoints: the checkpointer does (checkpoint.go).
		q.Add("_pragma", "wal_autocheckpoint(0)")
	case readerConn:
		q.Add("_pragma", "query_only(ON)")
	}
	return "file:" + path + "?" + q.Encode()
}

// OpenSQLite opens (creating if needed) the store at path. The database
// and its WAL and shared-memory files are the operator's alone (0600),
// and a damaged database is refused before the relay serves anything.
func OpenSQLite(path string) (*SQLiteStore, error) {
	if err := ownerOnly(path); err != nil {
		return nil, err
	}
	if err := setPageSize(path); err != nil {
		return nil, fmt.Errorf("creating %s: %w", path, err)
	}
	w, err := sql.Open("sqlite", dsn(path, writerConn))
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	if err := quickCheck(w, path); err != nil {
		w.Close()
		return nil, err
	}
	if _, err := w.Exec(schema); err != nil {
		w.Close()
		return nil, fmt.Errorf("creating schema: %w", err)
	}
	if err := errors.Join(dropCompartments(w), addLogColumns(w)); err != nil {
		w.Close()
		return nil, fmt.Errorf("updating schema: %w", err)
	}
	if err := skipAfterEarly(w); err != nil {
		w.Close()
		return nil, fmt.Errorf("moving sequence numbers past early deliveries: %w", err)
	}
	log, err := openLog(w, path)
	if err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", dsn(path, readerConn))
	if err != nil {
		w.Close()
		log.close()
		return nil, err
	}
	r.SetMaxOpenConns(4)
	cp, err := sql.Open("sqlite", dsn(path, checkpointConn))
	if err != nil {
		w.Close()
		r.Close()
		log.close()
		return nil, err
	}
	cp.SetMaxOpenConns(1)
	s := &SQLiteStore{w: w, r: r, cpDB: cp, log: log, dir: filepath.Dir(path), cp: checkpointState{ask: make(chan struct{}, 1)}, appends: make(chan *appendReq, 1024), done: make(chan struct{}), stopped: make(chan struct{})}
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&s.stmts.channel, `SELECT next_seq, bytes FROM channels WHERE id = ?`},
		{&s.stmts.insert, `INSERT INTO frames (channel, seq, kind, time, expires, payload, log_seg, log_off, log_len) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&s.stmts.update, `UPDATE channels SET next_seq = ?, bytes = ? WHERE id = ?`},
	} {
		if *p.stmt, err = w.Prepare(p.sql); err != nil {
			w.Close()
			r.Close()
			cp.Close()
			log.close()
			return nil, fmt.Errorf("preparing %q: %w", p.sql, err)
		}
	}
	s.wg.Add(2)
	go s.writer()
	go s.checkpointer()
	return s, nil
}

// ownerOnly creates path if needed and makes it and its WAL and
// shared-memory files mode 0600. SQLite gives the WAL and shared-memory
// files the database file's mode, so that one must be right first.
func ownerOnly(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// quickCheck refuses a damaged database: serving from one would fail
// every request, or worse, serve some of it.
func quickCheck(db *sql.DB, path string) error {
	var verdict string
	err := db.QueryRow(`PRAGMA quick_check(1)`).Scan(&verdict)
	if err == nil && verdict == "ok" {
		return nil
	}
	why := verdict
	if err != nil {
		why = err.Error()
	}
	why = strings.Join(strings.Fields(why), " ")
	if free, full := noroom.Full(filepath.Dir(path), err); full {
		return fmt.Errorf("the disk that holds %s is full (%d KiB free): make room and start the relay again; the store was not changed (%s)", path, free>>10, why)
	}
	if err != nil && !damaged(err) {
		// Not a verdict on the file: it could not be read.
		return fmt.Errorf("%s cannot be read (%s)", path, why)
	}
	return fmt.Errorf("%s is damaged (%s): restore it from a backup, or move it, its -wal file and its frame log (-frames.*) aside to start with an empty store", path, why)
}

// damaged reports whether err is SQLite finding its file corrupt.
func damaged(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	code := se.Code() & 0xff
	return code == 11 || code == 26 // SQLITE_CORRUPT, SQLITE_NOTADB
}

// Close stops the writer after the appends already queued, then closes
// the database.
func (s *SQLiteStore) Close() error {
	s.closeMu.Do(func() { close(s.done) })
	s.wg.Wait()
	return errors.Join(s.early.clear(s.w), s.r.Close(), s.cpDB.Close(), s.w.Close(), s.log.close())
}

// maxBatch bounds one group commit.
const maxBatch = 256

func (s *SQLiteStore) writer() {
	defer s.wg.Done()
	defer close(s.stopped)
	for {
		var first *appendReq
		select {
		case first = <-s.appends:
		case <-s.done:
			// Finish what was queued before Close.
			for {
				select {
				case r := <-s.appends:
					s.commit([]*appendReq{r})
				default:
					return
				}
			}
		}
		batch := []*appendReq{first}
		frames := len(first.frames)
	drain:
		for frames < maxBatch {
			select {
			case r := <-s.appends:
				batch = append(batch, r)
				frames += len(r.frames)
			default:
				break drain
			}
		}
		s.commit(batch)
	}
}

type chanState struct {
	next  uint64
	bytes int64
	dirty bool
}

// commit writes a batch in one transaction. A request that cannot be
// stored (unknown channel, quota) fails alone; if the transaction fails,
// every request in it fails and nothing was stored.
func (s *SQLiteStore) commit(batch []*appendReq) {
	results := make([]appendResult, len(batch))
	states := map[ChannelID]*chanState{}
	delivered := false
	err := func() error {
		var log *frameLog
		early := false
		if expiring(batch) >= logMinFrames {
			log = s.log
			early = s.deliversEarly(batch)
		}
		tx, err := s.w.Begin()
		if err != nil {
			return err
		}
		defer tx.Rollback()
		// The writer database has one connection, so these reuse the
		// statements prepared on it.
		stmts := appendStmts{channel: tx.Stmt(s.stmts.channel), insert: tx.Stmt(s.stmts.insert), update: tx.Stmt(s.stmts.update)}
		now := time.Now()
		if log != nil {
			// The frame log's batch begins only once the transaction
			// holds the store's one writing connection
			// (frameLog.removeEmpty).
			if err := log.begin(); err != nil {
				return err
			}
		}
		for i, req := range batch {
			results[i] = appendOne(stmts, states, &s.early, req.frames, now, log)
		}
		if err := s.early.storeFloors(stmts, states); err != nil {
			return err
		}
		for ch, st := range states {
			if !st.dirty {
				continue
			}
			if _, err := stmts.update.Exec(st.next, st.bytes, ch[:]); err != nil {
				return err
			}
		}
		if log != nil {
			if err := log.write(); err != nil {
				return err
			}
			if early && s.roomToCommit(batch) {
				deliver(batch, results)
				delivered = true
			}
			if err := log.sync(); err != nil {
				return err
			}
		}
		if s.beforeCommit != nil {
			if err := s.beforeCommit(); err != nil {
				return err
			}
		}
		return tx.Commit()
	}()
	switch {
	case err != nil && delivered:
		s.early.settle(states, true)
	case err == nil && len(s.early.floors) > 0:
		s.early.settle(states, false)
	}
	// What the commit adds to the WAL: the payloads kept in the
	// database, and the leaf, index and channel pages that every commit
	// rewrites.
	bytes := 3 * pageSize
	for i, req := range batch {
		if err != nil {
			results[i] = appendResult{err: err}
		}
		req.out <- results[i]
		bytes += results[i].walBytes
	}
	if err == nil {
		s.afterCommit(bytes)
	}
}

// logMinFrames is the fewest expiring frames for which a batch goes to
// the frame log. The log saves CPU per frame but costs a second fsync
// per commit: a batch of one or two, as at light load, commits sooner
// with its payloads in the table (an append alone took 0.53 ms that way
// against 1.17 ms through the log; BenchmarkStoreAppend,
// docs/benchmarks.md).
var logMinFrames = 4

// expiring counts a batch's frames that expire.
func expiring(batch []*appendReq) int {
	n := 0
	for _, req := range batch {
		for _, f := range req.frames {
			if !f.Expires.IsZero() {
				n++
			}
		}
	}
	return n
}

// appendOne indexes one request's frames. With log, the payloads of the
// frames that expire go to the frame log; without, all stay in the table.
func appendOne(stmts appendStmts, states map[ChannelID]*chanState, early *earlyState, frames []NewFrame, now time.Time, log *frameLog) appendResult {
	// Check every frame first so the request is all or nothing.
	planned := map[ChannelID]int64{}
	for _, f := range frames {
		st := states[f.Channel]
		if st == nil {
			st = new(chanState)
			err := stmts.channel.QueryRow(f.Channel[:]).Scan(&st.next, &st.bytes)
			if errors.Is(err, sql.ErrNoRows) {
				return appendResult{err: ErrNotFound}
			} else if err != nil {
				return appendResult{err: err}
			}
			early.floor(f.Channel, st)
			states[f.Channel] = st
		}
		planned[f.Channel] += int64(len(f.Payload))
		if f.MaxBytes > 0 && st.bytes+planned[f.Channel] > f.MaxBytes {
			return appendResult{err: ErrQuota}
		}
	}
	var out []wire.Stored
	walBytes := 0
	ms := uint64(now.UnixMilli())
	for _, f := range frames {
		st := states[f.Channel]
		var exp int64
		// Frames kept until the burn stay here, so that every segment
		// empties in time.
		inline, at := f.Payload, logRegion{}
		if !f.Expires.IsZero() {
			exp = f.Expires.UnixMilli()
			if log != nil {
				inline, at = []byte{}, log.place(f.Payload)
			}
		}
		if _, err := stmts.insert.Exec(f.Channel[:], st.next, f.Kind, ms, exp, inline, at.seg, at.off, at.size); err != nil {
			return appendResult{err: err}
		}
		walBytes += len(inline)
		out = append(out, wire.Stored{Seq: st.next, Kind: f.Kind, Time: ms, Payload: f.Payload})
		st.next++
		st.bytes += int64(len(f.Payload))
		st.dirty = true
	}
	return appendResult{stored: out, walBytes: walBytes}
}

// Append implements Store.
func (s *SQLiteStore) Append(ctx context.Context, frames []NewFrame) ([]wire.Stored, error) {
	req := &appendReq{frames: frames, out: make(chan appendResult, 1)}
	select {
	case s.appends <- req:
	case <-s.done:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	// Once queued, the append will be committed or fail; wait for the
	// answer even if ctx ends, so the caller never acknowledges blindly.
	// A request queued after the writer drained its queue and returned
	// is never taken: it was not stored.
	select {
	case r := <-req.out:
		return r.stored, r.err
	case <-s.stopped:
		select {
		case r := <-req.out:
			return r.stored, r.err
		default:
			return nil, ErrClosed
		}
	}
}

// CreateChannel implements Store.
func (s *SQLiteStore) CreateChannel(ctx context.Context, ch ChannelID, access []byte, version uint64) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRow(`SELECT (SELECT count(*) FROM channels WHERE id = ?) + (SELECT count(*) FROM tombstones WHERE channel = ?)`, ch[:], ch[:]).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return ErrExists
	}
	if _, err := tx.Exec(`INSERT INTO channels (id, access, version, next_seq, bytes) VALUES (?, ?, ?, 1, 0)`, ch[:], access, version); err != nil {
		return err
	}
	return tx.Commit()
}

// Channel implements Store.
func (s *SQLiteStore) Channel(ctx context.Context, ch ChannelID) ([]byte, uint64, error) {
	var access []byte
	var next uint64
	err := s.r.QueryRowContext(ctx, `SELECT access, next_seq FROM channels WHERE id = ?`, ch[:]).Scan(&access, &next)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, ErrNotFound
	}
	return access, next, err
}

// Origin implements Store.
func (s *SQLiteStore) Origin(ctx context.Context, ch ChannelID) (uint64, error) {
	var ms uint64
	err := s.r.QueryRowContext(ctx, `SELECT time FROM frames WHERE channel = ? AND kind = ? ORDER BY seq LIMIT 1`, ch[:], wire.KindBundle).Scan(&ms)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return ms, err
}

// ReplaceAccessList implements Store.
func (s *SQLiteStore) ReplaceAccessList(ctx context.Context, ch ChannelID, prev, version uint64, access []byte) error {
	res, err := s.w.ExecContext(ctx, `UPDATE channels SET access = ?, version = ? WHERE id = ? AND version = ?`, access, version, ch[:], prev)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, _, err := s.Channel(ctx, ch); err != nil {
			return err
		}
		return ErrStale
	}
	return nil
}

// fetchRows is how many rows one query reads.
const fetchRows = 64

// Fetch implements Store.
func (s *SQLiteStore) Fetch(ctx context.Context, ch ChannelID, since uint64, maxBytes int) ([]wire.Stored, bool, error) {
	// No frame's bytes are zeroed between the query that finds it and
	// the read of its payload.
	s.log.erasing.RLock()
	defer s.log.erasing.RUnlock()
	var out []wire.Stored
	size := 0
	for {
		// A frame past its retention is gone for readers at once, not
		// at the next purge.
		rows, err := s.r.QueryContext(ctx, `SELECT seq, kind, time, payload, log_seg, log_off, log_len FROM frames WHERE channel = ? AND seq > ? AND (expires = 0 OR expires > ?) ORDER BY seq LIMIT ?`, ch[:], since, time.Now().UnixMilli(), fetchRows)
		if err != nil {
			return nil, false, err
		}
		n := 0
		for rows.Next() {
			n++
			var f wire.Stored
			var at logRegion
			if err := rows.Scan(&f.Seq, &f.Kind, &f.Time, &f.Payload, &at.seg, &at.off, &at.size); err != nil {
				rows.Close()
				return nil, false, err
			}
			since = f.Seq
			if at.seg > 0 {
				f.Payload = nil // read below, if it fits
			}
			if len(out) > 0 && size+len(f.Payload)+int(at.size) > maxBytes {
				rows.Close()
				return out, true, nil
			}
			if at.seg > 0 {
				if f.Payload, err = s.log.read(at); err != nil {
					rows.Close()
					return nil, false, err
				}
				if erased(f.Payload) {
					// A burn or purge zeroed it and then failed to
					// commit, or was killed before it could: the row
					// outlived the bytes. It is not served as a frame.
					continue
				}
			}
			out = append(out, f)
			size += len(f.Payload)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, false, err
		}
		if n < fetchRows {
			return out, false, nil
		}
	}
}

// RegisterInvite implements Store.
func (s *SQLiteStore) RegisterInvite(ctx context.Context, ch ChannelID, tokenID [32]byte, expires time.Time) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO invites (channel, token_id, expires) VALUES (?, ?, ?)`, ch[:], tokenID[:], expires.UnixMilli())
	if err != nil && strings.Contains(err.Error(), "UNIQUE constraint") {
		return ErrExists
	}
	return err
}

// SpendInvite implements Store.
func (s *SQLiteStore) SpendInvite(ctx context.Context, ch ChannelID, tokenID [32]byte, now time.Time, sealed []byte) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.Exec(`UPDATE invites SET spent = 1 WHERE channel = ? AND token_id = ? AND spent = 0 AND expires > ?`, ch[:], tokenID[:], now.UnixMilli())
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrInviteInvalid
	}
	// The request waits as long as invites live at most: a week. Its id
	// is random, not the next of a relay-wide counter, which would tell
	// an organizer how many join requests all channels received.
	var idb [8]byte
	rand.Read(idb[:])
	id := int64(binary.BigEndian.Uint64(idb[:]) >> 2) // positive, below SQLite's AUTOINCREMENT ceiling
	if _, err := tx.Exec(`INSERT INTO joins (id, channel, expires, sealed) VALUES (?, ?, ?, ?)`, id, ch[:], now.Add(7*24*time.Hour).UnixMilli(), sealed); err != nil {
		return err
	}
	return tx.Commit()
}

// Joins implements Store.
func (s *SQLiteStore) Joins(ctx context.Context, ch ChannelID) ([]wire.JoinRequest, error) {
	// In order of arrival: expires is arrival plus a week (ids are random).
	rows, err := s.r.QueryContext(ctx, `SELECT id, sealed FROM joins WHERE channel = ? ORDER BY expires, id LIMIT 64`, ch[:])
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []wire.JoinRequest
	for rows.Next() {
		var j wire.JoinRequest
		if err := rows.Scan(&j.ID, &j.Sealed); err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// DropJoins implements Store.
func (s *SQLiteStore) DropJoins(ctx context.Context, ch ChannelID, ids []uint64) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, id := range ids {
		if _, err := tx.Exec(`DELETE FROM joins WHERE channel = ? AND id = ?`, ch[:], id); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Burn implements Store.
func (s *SQLiteStore) Burn(ctx context.Context, ch ChannelID, notice []byte, until time.Time) error {
	s.log.erasing.Lock()
	defer s.log.erasing.Unlock()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := s.eraseLogged(tx, `channel = ?`, ch[:]); err != nil {
		return err
	}
	for _, q := range []string{
		`DELETE FROM frames WHERE channel = ?`,
		`DELETE FROM invites WHERE channel = ?`,
		`DELETE FROM joins WHERE channel = ?`,
		`DELETE FROM channels WHERE id = ?`,
	} {
		if _, err := tx.Exec(q, ch[:]); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(`INSERT OR REPLACE INTO tombstones (channel, notice, expires) VALUES (?, ?, ?)`, ch[:], notice, until.UnixMilli()); err != nil {
		return err
	}
	if err := s.commitAndRemoveEmpty(tx); err != nil {
		return err
	}
	if err := s.scrub(ctx); err != nil {
		return fmt.Errorf("%w: %v", ErrScrub, err)
	}
	return nil
}

// scrub moves every page out of the WAL into the main file, where
// secure_delete has already zeroed what was deleted, and truncates the
// WAL, so no old page image of deleted rows is left in either file.
func (s *SQLiteStore) scrub(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		var busy, logPages, moved int
		err := s.w.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logPages, &moved)
		if err != nil {
			return err
		}
		if busy == 0 {
			return nil
		}
		if attempt == 50 {
			return errors.New("wal checkpoint stayed busy")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Tombstone implements Store.
func (s *SQLiteStore) Tombstone(ctx context.Context, ch ChannelID) ([]byte, error) {
	var notice []byte
	err := s.r.QueryRowContext(ctx, `SELECT notice FROM tombstones WHERE channel = ?`, ch[:]).Scan(&notice)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return notice, err
}

// Expire implements Store.
func (s *SQLiteStore) Expire(ctx context.Context, now time.Time) (int, error) {
	s.log.erasing.Lock()
	defer s.log.erasing.Unlock()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	ms := now.UnixMilli()
	if err := s.eraseLogged(tx, `expires > 0 AND expires <= ?`, ms); err != nil {
		return 0, err
	}
	total := 0
	for _, q := range []string{
		`DELETE FROM frames WHERE expires > 0 AND expires <= ?`,
		`DELETE FROM invites WHERE expires <= ?`,
		`DELETE FROM joins WHERE expires <= ?`,
		`DELETE FROM tombstones WHERE expires <= ?`,
	} {
		res, err := tx.Exec(q, ms)
		if err != nil {
			return 0, err
		}
		n, _ := res.RowsAffected()
		total += int(n)
	}
	if total == 0 {
		return 0, nil
	}
	if _, err := tx.Exec(`UPDATE channels SET bytes = (SELECT COALESCE(SUM(length(payload) + log_len), 0) FROM frames WHERE frames.channel = channels.id)`); err != nil {
		return 0, err
	}
	if err := s.commitAndRemoveEmpty(tx); err != nil {
		return 0, err
	}
	// As after a burn: the deleted rows' old page images leave the WAL.
	if err := s.scrub(ctx); err != nil {
		return total, fmt.Errorf("expired rows deleted, but the WAL checkpoint failed: %v", err)
	}
	return total, nil
}

// Usage implements Store.
func (s *SQLiteStore) Usage(ctx context.Context, ch ChannelID) (int64, error) {
	var n int64
	err := s.r.QueryRowContext(ctx, `SELECT bytes FROM channels WHERE id = ?`, ch[:]).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNotFound
	}
	return n, err
}

// IntegrityCheck runs PRAGMA integrity_check and checks that every
// segment of the frame log holds the frames its rows name; it returns
// the verdict ("ok" when both are sound).
func (s *SQLiteStore) IntegrityCheck(ctx context.Context) (string, error) {
	var v string
	if err := s.r.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&v); err != nil || v != "ok" {
		return v, err
	}
	s.log.erasing.RLock() // no segment is removed meanwhile
	defer s.log.erasing.RUnlock()
	rows, err := s.r.QueryContext(ctx, `SELECT log_seg, MAX(log_off + log_len) FROM frames WHERE log_seg > 0 GROUP BY log_seg`)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	for rows.Next() {
		var seg, end int64
		if err := rows.Scan(&seg, &end); err != nil {
			return "", err
		}
		if v := s.log.covers(seg, end); v != "ok" {
			return v, nil
		}
	}
	return "ok", rows.Err()
}

// dropCompartments removes the compartment column that stores made before
// envelope version 3 kept (a byte the relay no longer sees).
func dropCompartments(w *sql.DB) error {
	var n int
	if err := w.QueryRow(`SELECT count(*) FROM pragma_table_info('frames') WHERE name = 'comp'`).Scan(&n); err != nil || n == 0 {
		return err
	}
	_, err := w.Exec(`ALTER TABLE frames DROP COLUMN comp`)
	return err
}

// addLogColumns gives a store made before the frame log its columns.
func addLogColumns(w *sql.DB) error {
	var n int
	if err := w.QueryRow(`SELECT count(*) FROM pragma_table_info('frames') WHERE name = 'log_seg'`).Scan(&n); err != nil || n > 0 {
		return err
	}
	for _, c := range []string{"log_seg", "log_off", "log_len"} {
		if _, err := w.Exec(`ALTER TABLE frames ADD COLUMN ` + c + ` INTEGER NOT NULL DEFAULT 0`); err != nil {
			return err
		}
	}
	return nil
}

// openLog opens the frame log of the store at path, told by the frames
// table where each segment's committed frames end, and by the meta table
// the store's id (made at the first start).
func openLog(w *sql.DB, path string) (*frameLog, error) {
	id := make([]byte, storeIDSize)
	rand.Read(id)
	if _, err := w.Exec(`INSERT OR IGNORE INTO meta (name, value) VALUES ('frame_log_id', ?)`, id); err != nil {
		return nil, err
	}
	if err := w.QueryRow(`SELECT value FROM meta WHERE name = 'frame_log_id'`).Scan(&id); err != nil {
		return nil, err
	}
	if len(id) != storeIDSize {
		return nil, fmt.Errorf("%s has a frame log id of %d bytes, not %d", path, len(id), storeIDSize)
	}
	rows, err := w.Query(`SELECT log_seg, MAX(log_off + log_len) FROM frames WHERE log_seg > 0 GROUP BY log_seg`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ends := map[int64]int64{}
	for rows.Next() {
		var seg, end int64
		if err := rows.Scan(&seg, &end); err != nil {
			return nil, err
		}
		ends[seg] = end
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return openFrameLog(path, id, ends)
}

// eraseLogged zeroes the frame-log bytes of the frames that where (a
// condition on the frames table) selects, before tx deletes them. The
// caller holds s.log.erasing. The bytes go first, before the deletes and
// the commit that may fail (a full disk fails at the commit, when SQLite
// writes its WAL): a burn that could not be recorded has still destroyed
// what it was asked to, and Fetch serves no zeroed frame (erased).
func (s *SQLiteStore) eraseLogged(tx *sql.Tx, where string, args ...any) error {
	rows, err := tx.Query(`SELECT log_seg, log_off, log_len FROM frames WHERE log_seg > 0 AND `+where, args...)
	if err != nil {
		return err
	}
	var regions []logRegion
	for rows.Next() {
		var r logRegion
		if err := rows.Scan(&r.seg, &r.off, &r.size); err != nil {
			rows.Close()
			return err
		}
		regions = append(regions, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	return s.log.erase(regions)
}

// commitAndRemoveEmpty commits a transaction that deleted frames, then
// removes the segments of the frame log that no frame names any longer.
func (s *SQLiteStore) commitAndRemoveEmpty(tx *sql.Tx) error {
	rows, err := tx.Query(`SELECT DISTINCT log_seg FROM frames WHERE log_seg > 0`)
	if err != nil {
		return err
	}
	keep := map[int64]bool{}
	for rows.Next() {
		var seg int64
		if err := rows.Scan(&seg); err != nil {
			rows.Close()
			return err
		}
		keep[seg] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	below := s.log.cur.Load()
	if err := tx.Commit(); err != nil {
		return err
	}
	return s.log.removeEmpty(keep, below)
}
