package relay_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"parley/crypto"
	"parley/internal/relayclient"
	"parley/internal/smalldisk"
	"parley/internal/wire"
)

// A relay whose disk fills refuses posts it cannot store, in one line
// that says why, and loses nothing it acknowledged: members still read
// everything stored, the relay takes posts again once there is room,
// and after a kill -9 every acknowledged frame is there.
func TestRelayOnAFullDisk(t *testing.T) {
	disk := smalldisk.Mount(t, "96m")
	dataDir := filepath.Join(disk, "relay")
	p := startProcess(t, dataDir)
	now := time.Now()
	tc := newTestChannel(t, p.url, now)
	m := newMember(t, "Alice", crypto.RoleParticipant)
	tc.add(m, now, time.Time{}).Close()
	c := dialAs(t, p.url, tc.roster.Channel, m.keys)
	var taken []acked
	post := func() error {
		e := envelope(m.keys)
		seq, err := c.Post(ctxT(t), wire.KindMessage, e)
		for errors.Is(err, relayclient.ErrRateLimited) {
			// 200 posts a second per key: wait for the bucket.
			time.Sleep(20 * time.Millisecond)
			seq, err = c.Post(ctxT(t), wire.KindMessage, e)
		}
		if err == nil {
			taken = append(taken, acked{seq, sha256.Sum256(e)})
		}
		return err
	}
	for range 20 {
		if err := post(); err != nil {
			t.Fatal(err)
		}
	}
	// The disk is filled but for 12 MiB, so that it runs out while the
	// relay works as usual: its WAL grown past the size at which it is
	// started over, checkpoints copying frames into the database.
	filler := smalldisk.Fill(t, disk, 12<<20)

	// Post until the relay refuses.
	var refused error
	for range 2000 {
		if refused = post(); refused != nil {
			break
		}
	}
	if refused == nil {
		t.Fatal("the relay took 2000 posts on a full disk")
	}
	var re *relayclient.Error
	if !errors.As(refused, &re) || re.Code != wire.CodeInternal || !strings.Contains(re.Message, "disk is full") {
		t.Fatalf("a post on a full disk: %v, want the relay to say it is out of space", refused)
	}
	t.Logf("refused after %d acknowledged posts: %v", len(taken), refused)
	// Refusals go on while the disk is full, and the relay stays up.
	for range 5 {
		if err := post(); err == nil {
			t.Fatal("a post was acknowledged on a full disk after a refusal")
		}
	}
	checkAll(t, tc, p.url, taken)
	// The operator's log says so once, not once a refusal.
	if n := strings.Count(p.stderr.String(), "disk full"); n != 1 {
		t.Fatalf("%d log lines for 6 refusals in a few seconds, want 1:\n%s", n, p.stderr)
	}

	// Room again: posts are taken without a restart, and the WAL is
	// started over again instead of growing.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	for range 1000 {
		if err := post(); err != nil {
			t.Fatalf("a post once the disk had room again: %v", err)
		}
	}
	fi, err := os.Stat(filepath.Join(dataDir, "relay.db-wal"))
	if err != nil || fi.Size() > 40<<20 {
		t.Fatalf("WAL after 16 MiB of posts with room again: %v", err)
	}
	t.Logf("WAL after 16 MiB of posts with room again: %.1f MiB", float64(fi.Size())/(1<<20))

	// A relay started on a full disk (SQLite cannot make its
	// shared-memory file and says "disk I/O error") says the disk is
	// full, not that its store is damaged, which would send the operator
	// to a backup; once there is room it starts with everything.
	if err := p.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("clean shutdown: %v\n%s", err, p.stderr)
	}
	filler = smalldisk.Fill(t, disk, 0)
	out, err := exec.Command(relayBinary(t), "--listen", "127.0.0.1:0", "--data", dataDir).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "is full") || strings.Contains(string(out), "damaged") {
		t.Fatalf("the relay started on a full disk: %v\n%s", err, out)
	}
	t.Logf("started on a full disk: %s", out)
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	p = startProcess(t, dataDir)
	c = dialAs(t, p.url, tc.roster.Channel, m.keys)
	for range 20 {
		if err := post(); err != nil {
			t.Fatalf("a post after the restart: %v", err)
		}
	}
	p.stop(t, syscall.SIGKILL)
	t.Logf("the relay's log:\n%s", p.stderr)
	p = startProcess(t, dataDir)
	checkAll(t, tc, p.url, taken)
	stopAndCheck(t, p, dataDir)
}

// checkAll fetches the channel as its organizer and checks that every
// acknowledged frame is there, unchanged, and no sequence number twice.
// It returns the hash of every stored frame by sequence number.
func checkAll(t *testing.T, tc *testChannel, url string, want []acked) map[uint64][32]byte {
	t.Helper()
	c := dialAs(t, url, tc.roster.Channel, tc.org.keys)
	stored := map[uint64][32]byte{}
	var since uint64
	for {
		frames, more, err := c.Fetch(context.Background(), since)
		if err != nil {
			t.Fatalf("fetch: %v", err)
		}
		for _, f := range frames {
			if _, dup := stored[f.Seq]; dup {
				t.Fatalf("sequence %d stored twice", f.Seq)
			}
			stored[f.Seq] = sha256.Sum256(f.Payload)
			since = f.Seq
		}
		if !more {
			break
		}
	}
	for _, a := range want {
		if h, ok := stored[a.seq]; !ok || h != a.hash {
			t.Fatalf("acknowledged frame %d lost or changed", a.seq)
		}
	}
	return stored
}
