package relay

import (
	"database/sql"
	"sync"
	"sync/atomic"
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
// stream of commits rarely leaves it. So once the WAL holds
// walRestartBytes the writer asks for one more pass and, between the two
// commits after it ends, copies what was committed during the pass
// itself; the next commit starts the file over. That copy ends with two
// fsyncs, which the appends waiting for the next commit wait for too:
// copying only what one pass left keeps it short (copying up to a
// megabyte there took up to 12 ms at 1500 posts a second).

// The sizes below count what the commits add to the WAL: their payloads
// and the few pages every commit rewrites (sqlite.go, commit).
const (
	// checkpointBytes is how much the writer commits between two
	// requests for a background checkpoint.
	checkpointBytes = 1 << 20
	// walRestartBytes is how large the WAL grows before the writer
	// starts it over.
	walRestartBytes = 4 << 20
	// walForceBytes is how large it may grow before the writer starts it
	// over whatever the checkpointer is doing, waiting for it if need be.
	walForceBytes = 32 << 20
)

// checkpointState is the writer's and the checkpointer's common state.
type checkpointState struct {
	ask chan struct{} // wakes the checkpointer
	mu  sync.Mutex    // held by whoever checkpoints
	// passEnded is set by the checkpointer after each pass and cleared
	// by the writer when it asks for the pass before a restart.
	passEnded atomic.Bool
	// Writer goroutine only: bytes committed since the writer last asked
	// for a pass, and since the WAL last started over; whether a restart
	// waits for the end of a pass.
	sinceAsk, walBytes int
	restartAsked       bool
}

// checkpointer runs a passive checkpoint whenever the writer asks, until
// the store closes.
func (s *SQLiteStore) checkpointer() {
	defer s.wg.Done()
	for {
		select {
		case <-s.cp.ask:
		case <-s.done:
			return
		}
		s.cp.mu.Lock()
		_, err := checkpoint(s.cpDB)
		s.cp.mu.Unlock()
		if err != nil {
			// The writer asks again after the next commits; a
			// checkpoint that keeps failing leaves a longer WAL,
			// not lost data.
			time.Sleep(100 * time.Millisecond)
			continue
		}
		s.cp.passEnded.Store(true)
	}
}

func (s *SQLiteStore) askCheckpoint() {
	s.cp.sinceAsk = 0
	select {
	case s.cp.ask <- struct{}{}:
	default: // one is already asked for
	}
}

// afterCommit counts a commit's bytes, asks for a background checkpoint
// when enough have gathered, and starts the WAL over when it is due. It
// runs on the writer goroutine, between commits.
func (s *SQLiteStore) afterCommit(bytes int) {
	cp := &s.cp
	cp.sinceAsk += bytes
	cp.walBytes += bytes
	if cp.sinceAsk >= checkpointBytes {
		s.askCheckpoint()
	}
	if cp.walBytes < walRestartBytes {
		return
	}
	forced := cp.walBytes >= walForceBytes
	if !cp.restartAsked && !forced {
		cp.restartAsked = true
		cp.passEnded.Store(false)
		s.askCheckpoint()
		return
	}
	if !cp.passEnded.Load() && !forced {
		return
	}
	if forced {
		cp.mu.Lock()
	} else if !cp.mu.TryLock() {
		return // another pass began; restart after it
	}
	defer cp.mu.Unlock()
	if all, err := checkpoint(s.w); err == nil && all {
		cp.walBytes, cp.restartAsked = 0, false
		return
	}
	// A reader's snapshot kept some frames from being copied (or the
	// copy failed): try again after another pass, not at every commit.
	cp.passEnded.Store(false)
	s.askCheckpoint()
}

// checkpoint runs a passive checkpoint on db and reports whether it
// copied every frame in the WAL.
func checkpoint(db *sql.DB) (all bool, err error) {
	var busy, logFrames, moved int
	if err := db.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logFrames, &moved); err != nil {
		return false, err
	}
	return busy == 0 && moved == logFrames, nil
}
