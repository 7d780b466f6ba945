package relay

import (
	"log/slog"
	"sync"
	"time"
)

// fullLog keeps a full disk from filling the operator's log as well:
// every post refused while the disk is full would otherwise log a line,
// and clients retry. The first refusal is logged at once, then one line
// a minute at most, with how many were refused since the last.
type fullLog struct {
	mu      sync.Mutex
	last    time.Time
	refused int
}

const fullLogEvery = time.Minute

func (f *fullLog) note(log *slog.Logger, now time.Time, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refused++
	if !f.last.IsZero() && now.Sub(f.last) < fullLogEvery {
		return
	}
	log.Error("store: disk full; requests refused, nothing of them stored", "refused", f.refused, "err", err)
	f.last, f.refused = now, 0
}
