package relay

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// Refusals on a full disk are logged at once, then once a minute with
// their count.
func TestFullLogOncePerMinute(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	var f fullLog
	start := time.Unix(1764000000, 0)
	err := errors.New("database or disk is full (13)")
	for i := range 100 {
		f.note(log, start.Add(time.Duration(i)*100*time.Millisecond), err) // 10 s of refusals
	}
	if n := strings.Count(buf.String(), "disk full"); n != 1 {
		t.Fatalf("%d lines for 10 s of refusals, want 1:\n%s", n, &buf)
	}
	f.note(log, start.Add(61*time.Second), err)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], "refused=100") {
		t.Fatalf("after a minute, want a second line counting the 99 since and this one:\n%s", &buf)
	}
}
