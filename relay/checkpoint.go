package relay

import (
	"database/sql"
	"time"
)

// The relay checkpoints its WAL beside the writer, on a connection of its
// own, instead of inside the commit that crosses SQLite's autocheckpoint
// threshold. A checkpoint copies the WAL's pages into the database file
// and syncs it; done inside a commit, every append waiting for that
// commit waited for the copy too, and at small channel sizes the copy
// took a third of the writer's time. A PASSIVE checkpoint takes no lock
// the writer needs, so the copy and the commits proceed side by side.
// Durability is unchanged: a commit is on disk once its WAL frames are
// synced, checkpointed or not.
//
// SQLite starts the WAL file over only when a write transaction begins
// with every frame already copied, which a checkpointer racing a steady
// stream of commits rarely leaves it. So the writer copies the few frames
// committed since the checkpointer's last pass itself, between two
// commits, and the next commit starts the file over. That copy ends with
// two fsyncs, which every append waiting for the next commit waits for:
// the writer does it when no append is waiting, once the WAL holds
// walIdleRestartBytes, and under a load that never leaves it idle, at
// walRestartBytes.

// The sizes below count the payloads committed, which is close to what
// the WAL grows by: an envelope's pages hold little else.
const (
	// checkpointBytes is how much the writer commits between two
	// requests for a background checkpoint.
	checkpointBytes = 1 << 20
	// walIdleRestartBytes is how large the WAL grows before the writer
	// starts it over at its next idle moment.
	walIdleRestartBytes = 4 << 20
	// walRestartBytes is how large it grows before the writer starts it
	// over between two commits, idle or not, unless the checkpointer is
	// at work.
	walRestartBytes = 16 << 20
	// walForceBytes is how large it may grow before the writer waits for
	// a running background checkpoint to do so.
	walForceBytes = 2 * walRestartBytes
)

// checkpointer runs a passive checkpoint whenever the writer asks, until
// the store closes.
func (s *SQLiteStore) checkpointer() {
	defer s.wg.Done()
	for {
		select {
		case <-s.askCheckpoint:
		case <-s.done:
			return
		}
		s.cpMu.Lock()
		_, _, err := checkpoint(s.cp)
		s.cpMu.Unlock()
		if err != nil {
			// The writer asks again after the next commits; a
			// checkpoint that keeps failing leaves a longer WAL,
			// not lost data.
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// afterCommit counts a commit's bytes, asks for a background checkpoint
// when enough have gathered, and finishes one itself when the WAL is due
// to start over. It runs on the writer goroutine, between commits; idle
// says that no append is waiting for the next.
func (s *SQLiteStore) afterCommit(bytes int, idle bool) {
	s.sinceCheckpoint += bytes
	s.walBytes += bytes
	if s.sinceCheckpoint >= checkpointBytes {
		s.sinceCheckpoint = 0
		select {
		case s.askCheckpoint <- struct{}{}:
		default: // one is already asked for
		}
	}
	if s.walBytes < walIdleRestartBytes || (!idle && s.walBytes < walRestartBytes) {
		return
	}
	if s.walBytes < walForceBytes {
		if !s.cpMu.TryLock() {
			return // the checkpointer is at work; try after the next commit
		}
	} else {
		s.cpMu.Lock()
	}
	defer s.cpMu.Unlock()
	if all, _, err := checkpoint(s.w); err == nil && all {
		s.walBytes = 0
	}
}

// checkpoint runs a passive checkpoint on db and reports whether it
// copied every frame in the WAL, and how many there were.
func checkpoint(db *sql.DB) (all bool, frames int, err error) {
	var busy, logFrames, moved int
	if err := db.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logFrames, &moved); err != nil {
		return false, 0, err
	}
	return busy == 0 && moved == logFrames, logFrames, nil
}
