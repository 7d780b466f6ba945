package relay_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"parley/crypto"
	"parley/internal/wire"
	"parley/relay"
)

var (
	buildOnce sync.Once
	relayBin  string
	buildErr  error
)

// relayBinary builds cmd/parley-relay once per test run.
func relayBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "parley-relay-bin")
		if err != nil {
			buildErr = err
			return
		}
		relayBin = filepath.Join(dir, "parley-relay")
		out, err := exec.Command("go", "build", "-o", relayBin, "parley/cmd/parley-relay").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return relayBin
}

// relayProcess is a parley-relay process.
type relayProcess struct {
	cmd    *exec.Cmd
	url    string
	stderr *syncBuffer
	exited chan error
}

// syncBuffer is the relay's standard error, which a test may read while
// the relay still writes it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func startProcess(t testing.TB, dataDir string, args ...string) *relayProcess {
	t.Helper()
	cmd := exec.Command(relayBinary(t), append([]string{"--listen", "127.0.0.1:0", "--data", dataDir}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &relayProcess{cmd: cmd, stderr: new(syncBuffer), exited: make(chan error, 1)}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		t.Fatalf("relay printed no URL: %v\n%s", err, p.stderr)
	}
	p.url = strings.TrimSpace(line)
	go func() { p.exited <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill(); <-p.exited })
	return p
}

// stop sends sig and waits for the exit.
func (p *relayProcess) stop(t testing.TB, sig os.Signal) error {
	t.Helper()
	p.cmd.Process.Signal(sig)
	select {
	case err := <-p.exited:
		p.exited <- err // for the cleanup
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("relay did not exit")
	}
	return nil
}

type acked struct {
	seq  uint64
	hash [32]byte
}

func TestCrashLosesNoAcknowledgedFrame(t *testing.T) {
	dataDir := t.TempDir()
	p := startProcess(t, dataDir)
	tc, senders := channelOfFour(t, p.url)
	reader := newMember(t, "R", crypto.RoleParticipant)
	tc.add(reader, time.Now(), time.Time{}).Close()
	// pushed is what the reader was handed, by sequence number: frames
	// are delivered while their commit runs (early.go), so some of them
	// die with the relay, but a number once pushed must never name
	// another frame.
	pushed := map[uint64][32]byte{}
	var all []acked
	early := false
	rounds := 4
	if testing.Short() {
		rounds = 2
	}
	for round := 0; round < rounds; round++ {
		var mu sync.Mutex
		var wg sync.WaitGroup
		logged := frameLogBytes(t, dataDir)
		rc := dialAs(t, p.url, tc.roster.Channel, reader.keys)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case f := <-rc.Pushes():
					mu.Lock()
					if h, ok := pushed[f.Seq]; ok && h != sha256.Sum256(f.Payload) {
						t.Errorf("sequence %d pushed as two frames", f.Seq)
					}
					pushed[f.Seq] = sha256.Sum256(f.Payload)
					mu.Unlock()
				case <-rc.Done():
					return
				}
			}
		}()
		flood(t, p.url, tc.roster.Channel, senders, &wg, &mu, &all)
		time.Sleep(time.Duration(100+rand.IntN(400)) * time.Millisecond)
		p.stop(t, syscall.SIGKILL)
		wg.Wait()
		// A round whose batches went to the frame log delivered them
		// early (every post has readers to push to), so the store was
		// marked and the restart must skip the gap.
		marked := frameLogBytes(t, dataDir) > logged
		early = early || marked

		p = startProcess(t, dataDir)
		tc.url = p.url
		stored := checkAll(t, tc, p.url, all)
		lost := 0
		for seq, h := range pushed {
			sh, ok := stored[seq]
			if !ok {
				lost++ // delivered while its commit ran, never committed
			} else if sh != h {
				t.Fatalf("sequence %d was pushed as one frame and is stored as another", seq)
			}
		}
		t.Logf("round %d: %d acknowledged frames, all present; %d pushed, %d of them never committed", round, len(all), len(pushed), lost)
		if marked {
			// The killed run may have pushed numbers it never stored:
			// the restarted relay gives none of them out.
			c := dialAs(t, p.url, tc.roster.Channel, senders[0].keys)
			e := envelope(senders[0].keys)
			seq, err := c.Post(ctxT(t), wire.KindMessage, e)
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
			if top := slices.Max(slices.Collect(maps.Keys(stored))); seq <= top+relay.SeqGapAfterEarly {
				t.Fatalf("after a kill with frames delivered early, the next frame got %d; the last stored was %d", seq, top)
			}
			all = append(all, acked{seq, sha256.Sum256(e)})
		}
	}
	if len(all) == 0 || len(pushed) == 0 {
		t.Fatal("no frame was acknowledged or pushed; the test proved nothing")
	}
	if !early {
		t.Fatal("no round wrote to the frame log, whose batches go early; the test did not cover it")
	}
	if segs, _ := filepath.Glob(filepath.Join(dataDir, "relay.db-frames.*")); len(segs) == 0 {
		t.Fatal("no batch went to the frame log; the test did not cover it")
	}
	stopAndCheck(t, p, dataDir)
}

// channelOfFour makes a channel at url with four participants, who
// post in the process tests.
func channelOfFour(t *testing.T, url string) (*testChannel, []*member) {
	t.Helper()
	now := time.Now()
	tc := newTestChannel(t, url, now)
	var senders []*member
	for i := range 4 {
		m := newMember(t, fmt.Sprint("P", i), crypto.RoleParticipant)
		tc.add(m, now, time.Time{}).Close()
		senders = append(senders, m)
	}
	return tc, senders
}

// flood posts from four connections per sender until the relay goes
// away, adding each acknowledged frame to all: sixteen posts in flight
// make group commits large enough for the frame log.
func flood(t *testing.T, url string, ch crypto.ChannelID, senders []*member, wg *sync.WaitGroup, mu *sync.Mutex, all *[]acked) {
	t.Helper()
	for _, m := range slices.Repeat(senders, 4) {
		c := dialAs(t, url, ch, m.keys)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				e := envelope(m.keys)
				seq, err := c.Post(context.Background(), wire.KindMessage, e)
				if err != nil {
					return // the relay went away; this frame was never acknowledged
				}
				mu.Lock()
				*all = append(*all, acked{seq, sha256.Sum256(e)})
				mu.Unlock()
			}
		}()
	}
}

// A clean stop after early deliveries leaves no gap: the relay stored
// every batch it pushed, clears its mark, and numbers go on from the
// last one.
func TestCleanStopAfterEarlyDeliveryLeavesNoGap(t *testing.T) {
	dataDir := t.TempDir()
	p := startProcess(t, dataDir)
	tc, senders := channelOfFour(t, p.url)
	var mu sync.Mutex
	var wg sync.WaitGroup
	var all []acked
	flood(t, p.url, tc.roster.Channel, senders, &wg, &mu, &all)
	time.Sleep(300 * time.Millisecond)
	if err := p.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: exit %v\n%s", err, p.stderr)
	}
	wg.Wait()
	if frameLogBytes(t, dataDir) == 0 {
		t.Fatal("no batch went to the frame log, so none went early; the test did not cover it")
	}
	p = startProcess(t, dataDir)
	tc.url = p.url
	stored := checkAll(t, tc, p.url, all)
	c := dialAs(t, p.url, tc.roster.Channel, senders[0].keys)
	seq, err := c.Post(ctxT(t), wire.KindMessage, envelope(senders[0].keys))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if top := slices.Max(slices.Collect(maps.Keys(stored))); seq != top+1 {
		t.Fatalf("after a clean stop the next frame got %d; the last stored was %d", seq, top)
	}
	stopAndCheck(t, p, dataDir)
}

// frameLogBytes is the size of a relay's frame-log segments together.
func frameLogBytes(t *testing.T, dataDir string) int64 {
	t.Helper()
	segs, err := filepath.Glob(filepath.Join(dataDir, "relay.db-frames.*"))
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, seg := range segs {
		if fi, err := os.Stat(seg); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// stopAndCheck stops the relay cleanly and runs SQLite's integrity check
// on the store it leaves.
func stopAndCheck(t *testing.T, p *relayProcess, dataDir string) {
	t.Helper()
	if err := p.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("clean shutdown: %v\n%s", err, p.stderr)
	}
	s, err := relay.OpenSQLite(filepath.Join(dataDir, "relay.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.IntegrityCheck(ctxT(t)); err != nil || v != "ok" {
		t.Fatalf("integrity_check: %q %v", v, err)
	}
}

func TestGracefulShutdownAndLogs(t *testing.T) {
	dataDir := t.TempDir()
	p := startProcess(t, dataDir, "--log-level", "debug")
	if got, _ := os.ReadFile(filepath.Join(dataDir, "relay.url")); strings.TrimSpace(string(got)) != p.url {
		t.Fatalf("relay.url holds %q, stdout said %q", got, p.url)
	}
	now := time.Now()
	tc := newTestChannel(t, p.url, now)
	alice := newMember(t, "Alice", crypto.RoleParticipant)
	ac := tc.add(alice, now, time.Time{})
	if _, err := ac.Post(ctxT(t), wire.KindMessage, envelope(alice.keys)); err != nil {
		t.Fatal(err)
	}
	// A failed authentication and a garbage frame give the relay
	// something to log.
	stranger := newMember(t, "Stranger", crypto.RoleParticipant)
	dial(t, p.url).Auth(ctxT(t), tc.roster.Channel, stranger.keys)
	rawConn(t, p.url).WriteMessage(2, []byte{0xff})

	if err := p.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: exit %v\n%s", err, p.stderr)
	}
	waitClosed(t, ac)
	logs := p.stderr.String()
	if !strings.Contains(logs, "relay stopped") {
		t.Fatalf("no shutdown line in the log:\n%s", logs)
	}
	for _, secret := range []string{
		"127.0.0.1", "[::1]",
		tc.roster.Channel.String(),
		fmt.Sprintf("%x", alice.keys.SigningPublicKey()),
		fmt.Sprintf("%x", stranger.keys.SigningPublicKey()),
		alice.keys.ID().String(),
	} {
		if strings.Contains(logs, secret) {
			t.Fatalf("the relay log contains %q:\n%s", secret, logs)
		}
	}
}
