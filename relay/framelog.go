package relay

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"parley/internal/durable"
)

// The frame log holds the payloads of the frames that expire (message
// envelopes) of busy group commits, in append-only segment files beside
// relay.db ("relay.db-frames.000001", …); the frames table keeps each
// one's segment, offset and length. SQLite held them before: every 16
// KiB envelope went through its pager into the WAL and was copied into
// the database file again by the checkpoint, which made the single
// writer the relay's limit at small channel sizes (docs/benchmarks.md).
// Here a group commit's payloads are one write and one fsync. A batch of
// fewer than logMinFrames messages (light load) keeps them in the table:
// the log's second fsync would cost it more than the copies it saves.
//
// The rules that keep an acknowledgement and a deletion true:
//
//   - A batch's payloads are written and synced before the transaction
//     that indexes them commits, and a new segment's directory entry is
//     synced before any row names it. A committed row always finds its
//     bytes on disk.
//   - Bytes past the last committed frame of the current segment belong
//     to no acknowledged frame (a crash, a failed write or a failed
//     commit left them): opening the store cuts them off. A failed
//     write's bytes are written over by the next batch; a synced
//     batch's never are (frameLog.sync).
//   - A frame's bytes are overwritten with zeros, and synced, before its
//     row is deleted (expiry and burn), inside the transaction that
//     deletes it; a segment left with no frame is removed. Readers wait
//     while bytes are zeroed, so none is served a zeroed frame.
//   - Frames kept until the burn (epoch bundles) stay in SQLite: a
//     segment then empties within the relay's longest retention, and a
//     busy channel's bundle never pins one.
//   - Each segment begins with a header naming its store (a random id
//     kept in relay.db). A start removes only its own store's segments:
//     an operator who moved relay.db aside and left its segments finds
//     the relay refusing to start, and the segments still there.

// segmentBytes is the size past which the writer starts a new segment. A
// segment is removed whole once its last frame is gone, so smaller
// segments give space back sooner, at the cost of more files.
var segmentBytes int64 = 64 << 20

// segmentMagic begins every segment, before its store's id.
const segmentMagic = "parley frame log 1\x00"

// storeIDSize is the size of the random id relay.db keeps for its log.
const storeIDSize = 16

// segmentHeaderSize is where a segment's first frame begins.
const segmentHeaderSize = len(segmentMagic) + storeIDSize

func segmentHeader(storeID []byte) []byte {
	return append([]byte(segmentMagic), storeID...)
}

// logRegion is where one frame's payload lies in the log.
type logRegion struct {
	seg, off, size int64
}

// frameLog is the relay's set of segment files.
type frameLog struct {
	base   string // segment i is base + ".%06d"
	header []byte // what every segment of this store begins with
	// erasing is held for writing while bytes are zeroed, and for reading
	// by a fetch from its query until its reads are done.
	erasing sync.RWMutex

	mu    sync.Mutex
	files map[int64]*os.File // every segment on disk, open

	// The writer goroutine's: the segment it appends to (read by others
	// to keep it), where its committed bytes end, and the batch in hand.
	cur        atomic.Int64
	end        int64
	pending    [][]byte // the payloads themselves, written without a copy
	pendingLen int64
}

func segmentName(base string, seg int64) string {
	return fmt.Sprintf("%s.%06d", base, seg)
}

// openFrameLog opens the segments of the store at dbPath, whose id is
// storeID. committedEnds gives, for each segment the frames table names,
// where its last committed frame ends. A named segment that is missing,
// or is not this store's, is an error; a segment of this store that no
// frame names is removed, and one of another store is an error; the
// newest segment is cut to its committed end.
func openFrameLog(dbPath string, storeID []byte, committedEnds map[int64]int64) (*frameLog, error) {
	l := &frameLog{base: dbPath + "-frames", header: segmentHeader(storeID), files: map[int64]*os.File{}}
	onDisk, err := l.listSegments()
	if err != nil {
		return nil, err
	}
	var named []int64
	for seg := range committedEnds {
		if !onDisk[seg] {
			return nil, fmt.Errorf("%s is missing, and the store has frames in it: restore it from the same backup as the database", segmentName(l.base, seg))
		}
		named = append(named, seg)
	}
	for seg := range onDisk {
		ours, err := l.ours(seg)
		if err != nil {
			return nil, err
		}
		_, isNamed := committedEnds[seg]
		switch {
		case ours == segmentOther:
			return nil, fmt.Errorf("%s belongs to another store than %s: move it aside with the relay.db it belongs to", segmentName(l.base, seg), filepath.Base(dbPath))
		case isNamed && ours != segmentOurs:
			return nil, fmt.Errorf("%s has lost its header, and the store has frames in it: restore it from the same backup as the database", segmentName(l.base, seg))
		case !isNamed:
			// Emptied by a purge, or made for a batch that never
			// committed (perhaps before its header was synced).
			if err := os.Remove(segmentName(l.base, seg)); err != nil {
				return nil, err
			}
		}
	}
	for _, seg := range named {
		f, err := os.OpenFile(segmentName(l.base, seg), os.O_RDWR, 0o600)
		if err != nil {
			l.close()
			return nil, err
		}
		l.files[seg] = f
	}
	if len(named) == 0 {
		// The first segment is made by the first batch.
		l.cur.Store(0)
		l.end = segmentBytes
		return l, nil
	}
	cur := slices.Max(named)
	l.cur.Store(cur)
	l.end = committedEnds[cur]
	f := l.files[cur]
	if err := f.Truncate(l.end); err != nil {
		l.close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		l.close()
		return nil, err
	}
	return l, nil
}

// listSegments returns the numbers of the segment files on disk.
func (l *frameLog) listSegments() (map[int64]bool, error) {
	dir, prefix := filepath.Dir(l.base), filepath.Base(l.base)+"."
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	onDisk := map[int64]bool{}
	for _, e := range entries {
		n, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		seg, err := strconv.ParseInt(n, 10, 64)
		if err != nil || seg <= 0 {
			continue
		}
		onDisk[seg] = true
	}
	return onDisk, nil
}

// Whose a segment file is, by its header.
const (
	segmentOurs    = iota
	segmentOther   // another store's: a whole header, another id
	segmentNoOwner // too short for a header, or no segment header
)

func (l *frameLog) ours(seg int64) (int, error) {
	f, err := os.Open(segmentName(l.base, seg))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	h := make([]byte, len(l.header))
	if _, err := io.ReadFull(f, h); err != nil {
		return segmentNoOwner, nil
	}
	switch {
	case bytes.Equal(h, l.header):
		return segmentOurs, nil
	case bytes.HasPrefix(h, []byte(segmentMagic)):
		return segmentOther, nil
	}
	return segmentNoOwner, nil
}

// place adds payload to the batch in hand and says where it will lie.
// The writer goroutine calls begin, then place for each payload, then
// write and sync.
func (l *frameLog) place(payload []byte) logRegion {
	r := logRegion{seg: l.cur.Load(), off: l.end + l.pendingLen, size: int64(len(payload))}
	l.pending = append(l.pending, payload)
	l.pendingLen += r.size
	return r
}

// begin starts a batch, in a new segment if the current one is full.
func (l *frameLog) begin() error {
	clear(l.pending) // let go of the last batch's payloads
	l.pending, l.pendingLen = l.pending[:0], 0
	if l.end < segmentBytes {
		return nil
	}
	seg := l.cur.Load() + 1
	f, err := os.OpenFile(segmentName(l.base, seg), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(l.header)
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = durable.SyncDir(filepath.Dir(l.base))
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	l.mu.Lock()
	l.files[seg] = f
	l.mu.Unlock()
	l.cur.Store(seg)
	l.end = int64(len(l.header))
	return nil
}

// write puts the batch in the segment file, and sync makes it durable;
// sync must return before the transaction that indexes the batch
// commits. Once synced, the batch's bytes are never written over, even
// if that commit then fails: a commit that reports failure may still
// have reached the disk. Bytes written and not synced (the sync failed)
// are written over by the next batch: no row can name them.
func (l *frameLog) write() error {
	if len(l.pending) == 0 {
		return nil
	}
	return writeAll(l.file(l.cur.Load()), l.pending, l.end)
}

func (l *frameLog) sync() error {
	if len(l.pending) == 0 {
		return nil
	}
	if err := l.file(l.cur.Load()).Sync(); err != nil {
		return err
	}
	l.end += l.pendingLen
	return nil
}

func (l *frameLog) file(seg int64) *os.File {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.files[seg]
}

// read returns a frame's payload.
func (l *frameLog) read(r logRegion) ([]byte, error) {
	f := l.file(r.seg)
	if f == nil {
		return nil, fmt.Errorf("%s is missing", segmentName(l.base, r.seg))
	}
	buf := make([]byte, r.size)
	if _, err := f.ReadAt(buf, r.off); err != nil {
		return nil, fmt.Errorf("reading %s: %w", segmentName(l.base, r.seg), err)
	}
	return buf, nil
}

// covers says "ok" if segment seg is open and holds end bytes, and what
// is wrong otherwise.
func (l *frameLog) covers(seg, end int64) string {
	name := filepath.Base(segmentName(l.base, seg))
	f := l.file(seg)
	if f == nil {
		return name + " is missing"
	}
	fi, err := f.Stat()
	if err != nil {
		return name + ": " + err.Error()
	}
	if fi.Size() < end {
		return fmt.Sprintf("%s is %d bytes; its frames end at %d", name, fi.Size(), end)
	}
	return "ok"
}

// erase overwrites regions with zeros and syncs the segments it touched.
// The caller holds erasing for writing.
func (l *frameLog) erase(regions []logRegion) error {
	var zeros []byte
	touched := map[int64]*os.File{}
	for _, r := range regions {
		f := l.file(r.seg)
		if f == nil {
			continue // removed with all its frames
		}
		if int64(len(zeros)) < r.size {
			zeros = make([]byte, r.size)
		}
		if _, err := f.WriteAt(zeros[:r.size], r.off); err != nil {
			return err
		}
		touched[r.seg] = f
	}
	for _, f := range touched {
		if err := f.Sync(); err != nil {
			return err
		}
	}
	return nil
}

// erased reports whether a frame's bytes read from the log are all
// zeros: erase overwrote them. No frame an honest client posts is (an
// envelope begins with its version and carries a random nonce; an epoch
// bundle carries signatures); a member who posted zeros would only have
// its own frame left out of fetches.
func erased(payload []byte) bool {
	for len(payload) >= 8 {
		if binary.LittleEndian.Uint64(payload) != 0 {
			return false
		}
		payload = payload[8:]
	}
	for _, b := range payload {
		if b != 0 {
			return false
		}
	}
	return true
}

// removeEmpty removes the segments below below that keep does not name.
// The caller lists keep and reads below in the transaction that deleted
// frames, where the writer cannot commit (the store has one writing
// connection), and calls removeEmpty after that transaction committed:
// the writer only ever adds frames to segment below or newer ones, so a
// segment below it that had no frame then never gets one.
func (l *frameLog) removeEmpty(keep map[int64]bool, below int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	for seg, f := range l.files {
		if seg >= below || keep[seg] {
			continue
		}
		// Closed, it leaves the set even if it cannot be removed: no
		// frame names it, and a start removes it then.
		f.Close()
		delete(l.files, seg)
		if err := os.Remove(segmentName(l.base, seg)); err != nil && !os.IsNotExist(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (l *frameLog) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var first error
	for seg, f := range l.files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
		delete(l.files, seg)
	}
	return first
}
