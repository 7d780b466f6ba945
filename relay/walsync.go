package relay

import (
	"errors"
	"fmt"
	"os"
	"sync"
)

// The writer's connection commits with synchronous=NORMAL, which writes a
// commit to the WAL without syncing it, and the relay syncs the WAL itself
// (syncer below) before it acknowledges anything. Together that is
// synchronous=FULL, the sync taken out of the commit:
//
//   - An append is acknowledged only after an fsync of the WAL that began
//     after its commit was written, so an acknowledged frame survives a
//     crash of the machine, as with FULL. Every other write (channels,
//     access lists, invites, joins, burns, expiry) syncs the same way
//     before it returns.
//   - Between its commit and that fsync a frame is already in the WAL in
//     the kernel's cache: readers may have it (the relay pushes it at
//     once), and it survives the relay process being killed. Only if the
//     machine itself fails in that window (a power cut or a kernel crash,
//     about a millisecond) can a frame that members hold be missing from
//     the relay; the sender, never acknowledged, posts it again, and
//     members who had it drop the second copy as a replay.
//   - While one fsync runs the writer commits the next batch, so the
//     fsync no longer stands between two commits, and delivery no longer
//     waits for it.
//
// An fsync that fails leaves the WAL's durability unknown: the store then
// refuses every further write (the operator restarts the relay, and SQLite
// recovers from what is on disk), rather than acknowledge frames that
// might not be there.

// syncGroup is the appends of one commit, answered after the fsync.
type syncGroup []*appendReq

// walFile is the WAL, opened once for fsync. It is never closed while
// SQLite's connections are open: SQLite keeps no locks on it, but a file
// closed beside SQLite's own descriptors is a known way to lose them.
type walFile struct {
	mu     sync.Mutex
	f      *os.File
	path   string
	failed error // sticky: the first failed fsync
	// fsync is (*os.File).Sync; tests hold it or make it fail.
	fsync func(*os.File) error
}

func (w *walFile) sync() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failed != nil {
		return w.failed
	}
	if w.f == nil {
		f, err := os.OpenFile(w.path, os.O_RDWR, 0)
		if err != nil {
			w.failed = fmt.Errorf("%w: opening the WAL: %v", ErrSync, err)
			return w.failed
		}
		w.f = f
	}
	fsync := w.fsync
	if fsync == nil {
		fsync = (*os.File).Sync
	}
	if err := fsync(w.f); err != nil {
		w.failed = fmt.Errorf("%w: %v", ErrSync, err)
	}
	return w.failed
}

// err reports the sticky failure, if any, without syncing.
func (w *walFile) err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failed
}

func (w *walFile) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	return w.f.Close()
}

// ErrSync means the store could not make its WAL durable and refuses
// writes until the relay restarts.
var ErrSync = errors.New("syncing the relay's database failed; restart the relay")

// syncer makes committed appends durable and answers them, many commits
// to one fsync, until the writer closes syncs.
func (s *SQLiteStore) syncer() {
	defer s.wg.Done()
	for g := range s.syncs {
		groups := []syncGroup{g}
	drain:
		for {
			select {
			case more, ok := <-s.syncs:
				if !ok {
					break drain
				}
				groups = append(groups, more)
			default:
				break drain
			}
		}
		err := s.wal.sync()
		for _, g := range groups {
			for _, req := range g {
				req.durable <- err
			}
		}
	}
}

// synced makes a write committed on the writer's connection durable.
func (s *SQLiteStore) synced(err error) error {
	if err != nil {
		return err
	}
	return s.wal.sync()
}
