package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The end-to-end run measures what a person sees: one home runs `parley
// send`, another has `parley read --follow` open, and the figure is the
// time from send's return to the text on the reader's output. Everything
// is a real process (the parley binary, built for the run, and the real
// relay), on loopback, at a light load: one message at a time, a pause
// between. `parley chat` and `parley app` follow through the same
// client.Follow as read --follow.
//
// Both homes use a cheap passphrase work factor (PARLEY_SCRYPT_LOGN=10):
// the reader unlocks once, before the run; the sender's unlock is part of
// "from send's start" only, which is shown for information (the unlock's
// own cost is in "The client's own costs").

// e2eResult is the end-to-end run's samples.
type e2eResult struct {
	afterReturn, fromStart []time.Duration
	early                  int // texts shown before send returned
}

func runE2E(cfg *config) (*e2eResult, error) {
	probes := 100
	if cfg.quick {
		probes = 20
	}
	dir, err := os.MkdirTemp(cfg.tmp, "parley-bench-e2e-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	parley, err := buildParley(dir)
	if err != nil {
		return nil, err
	}
	srv, err := startServer("real", cfg.tmp)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	alice, bob := e2eHome{parley, filepath.Join(dir, "alice")}, e2eHome{parley, filepath.Join(dir, "bob")}
	for _, h := range []struct {
		e2eHome
		name string
	}{{alice, "Alice"}, {bob, "Bob"}} {
		if _, err := h.run(nil, "init", "--name", h.name); err != nil {
			return nil, err
		}
	}
	if _, err := alice.run(nil, "channel", "create", "c", "--relay", srv.url); err != nil {
		return nil, err
	}
	code, err := alice.run(nil, "invite", "c", "--role", "participant")
	if err != nil {
		return nil, err
	}
	if _, err := bob.run([]byte(code), "join", "-"); err != nil {
		return nil, err
	}
	if _, err := alice.run(nil, "admit", "c", "--all"); err != nil {
		return nil, err
	}
	if _, err := bob.run(nil, "sync", "c"); err != nil {
		return nil, err
	}
	follow, err := bob.follow()
	if err != nil {
		return nil, err
	}
	defer follow.stop()

	res := &e2eResult{}
	for i := range probes {
		text := "probe " + strconv.Itoa(i)
		start := time.Now()
		if _, err := alice.run(nil, "send", "c", text); err != nil {
			return nil, err
		}
		returned := time.Now()
		shown, err := follow.wait(text, 10*time.Second)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", text, err)
		}
		if shown.Before(returned) {
			res.early++
		}
		res.afterReturn = append(res.afterReturn, max(0, shown.Sub(returned)))
		res.fromStart = append(res.fromStart, shown.Sub(start))
		time.Sleep(time.Duration(50+rand.IntN(100)) * time.Millisecond) // light load
	}
	return res, nil
}

// buildParley builds the parley command into dir: the run measures the
// code of this checkout.
func buildParley(dir string) (string, error) {
	out := filepath.Join(dir, "parley")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/parley")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building parley (run parley-bench from the repository's root): %v\n%s", err, msg)
	}
	return out, nil
}

type e2eHome struct{ bin, dir string }

func (h e2eHome) command(args ...string) *exec.Cmd {
	cmd := exec.Command(h.bin, append([]string{"--home", h.dir}, args...)...)
	cmd.Env = append(os.Environ(), "PARLEY_PASSPHRASE=bench", "PARLEY_SCRYPT_LOGN=10", "PARLEY_SYNC_SPREAD=0", "ALL_PROXY=", "PARLEY_PROXY=")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

func (h e2eHome) run(stdin []byte, args ...string) (string, error) {
	cmd := h.command(args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("parley %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// follower is a running `parley read --follow --json` and the time each
// text reached its output.
type follower struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	seen map[string]time.Time
	wake chan struct{}
	done chan struct{}
}

func (h e2eHome) follow() (*follower, error) {
	f := &follower{cmd: h.command("read", "c", "--follow", "--json"), seen: map[string]time.Time{}, wake: make(chan struct{}, 1), done: make(chan struct{})}
	out, err := f.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := f.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		defer close(f.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			at := time.Now()
			var e struct{ Text string }
			if json.Unmarshal(sc.Bytes(), &e) != nil {
				continue
			}
			f.mu.Lock()
			f.seen[e.Text] = at
			f.mu.Unlock()
			select {
			case f.wake <- struct{}{}:
			default:
			}
		}
	}()
	return f, nil
}

// wait returns when text was shown, waiting at most d for it.
func (f *follower) wait(text string, d time.Duration) (time.Time, error) {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		f.mu.Lock()
		at, ok := f.seen[text]
		f.mu.Unlock()
		if ok {
			return at, nil
		}
		select {
		case <-f.wake:
		case <-f.done:
			return time.Time{}, errors.New("read --follow ended")
		case <-deadline.C:
			return time.Time{}, fmt.Errorf("not shown by read --follow within %v", d)
		}
	}
}

func (f *follower) stop() {
	f.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-f.done:
	case <-time.After(5 * time.Second):
		f.cmd.Process.Kill()
	}
	f.cmd.Wait()
}
