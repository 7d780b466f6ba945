package main

// The unlock agent's state (agent.go): the home it holds and the bounds
// that end it.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"parley/client"
)

// agent holds an unlocked home and serves commands on its socket.
type agent struct {
	home     string
	homeInfo os.FileInfo
	sock     string
	sockInfo os.FileInfo
	c        *client.Client
	uid      int
	// macKey and passMAC recognise the passphrase the agent was
	// unlocked with without keeping it.
	macKey, passMAC []byte
	idSum           [32]byte

	start       time.Time
	until       time.Time // wall clock (no monotonic reading)
	limit, idle time.Duration

	ln     *net.UnixListener
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	// cmd is held while a command runs: one at a time.
	cmd sync.Mutex
	// mu guards what follows.
	mu       sync.Mutex
	last     time.Time
	lastWall time.Time
	running  int
	ended    bool
	// replying counts answers to parley lock still being written: the
	// process waits for them before it exits.
	replying int
}

// startAgent unlocks the home of cfg and serves it on its socket, to
// processes of this user.
func startAgent(cfg agentConfig) (*agent, error) { return startAgentFor(cfg, os.Getuid()) }

// startAgentFor is startAgent serving the user uid (tests give another).
func startAgentFor(cfg agentConfig, uid int) (*agent, error) {
	if err := agentSupported(); err != nil {
		return nil, err
	}
	if err := checkPrivate(cfg.Home); err != nil {
		return nil, err
	}
	homeInfo, err := os.Stat(cfg.Home)
	if err != nil {
		return nil, err
	}
	c, err := client.Open(cfg.Home, cfg.Passphrase)
	if err != nil {
		return nil, err
	}
	// scrypt's 256 MiB go back to the system: the agent lives on.
	debug.FreeOSMemory()
	a := &agent{home: cfg.Home, homeInfo: homeInfo, c: c, uid: uid, limit: cfg.For, idle: cfg.Idle, done: make(chan struct{})}
	// Read after the unlock: a duress unlock has replaced the file.
	if a.idSum, err = identitySum(cfg.Home); err != nil {
		c.Close()
		return nil, err
	}
	a.macKey = make([]byte, 32)
	rand.Read(a.macKey)
	a.passMAC = a.mac(cfg.Passphrase)
	if a.sock, err = agentSocket(cfg.Home); err != nil {
		c.Close()
		return nil, err
	}
	if info, err := os.Lstat(a.sock); err == nil {
		if info.Mode().Type() != os.ModeSocket {
			c.Close()
			return nil, fmt.Errorf("%s is in the way of the unlock socket", a.sock)
		}
		os.Remove(a.sock) // a stale socket: its agent answered nobody
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: a.sock, Net: "unix"})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("unlock socket: %w", err)
	}
	ln.SetUnlinkOnClose(false) // end removes it, if it is still ours
	if err := os.Chmod(a.sock, 0o600); err != nil {
		ln.Close()
		os.Remove(a.sock)
		c.Close()
		return nil, err
	}
	if a.sockInfo, err = os.Lstat(a.sock); err != nil {
		ln.Close()
		c.Close()
		return nil, err
	}
	a.ln = ln
	a.start = time.Now()
	a.until = a.start.Add(a.limit).Round(0)
	a.last, a.lastWall = a.start, a.start.Round(0)
	a.ctx, a.cancel = context.WithCancel(context.Background())
	go a.watch()
	go a.accept()
	return a, nil
}

func (a *agent) mac(passphrase string) []byte {
	m := hmac.New(sha256.New, a.macKey)
	m.Write([]byte(passphrase))
	return m.Sum(nil)
}

// identitySum is the hash of the home's identity file: a duress unlock,
// or anything else that replaces it, changes it.
func identitySum(home string) ([32]byte, error) {
	data, err := os.ReadFile(filepath.Join(home, "identity.age"))
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(data), nil
}

// expired says why the agent must end now, or "".
func (a *agent) expired() string {
	now := time.Now()
	a.mu.Lock()
	idle := a.running == 0 && (now.Sub(a.last) >= a.idle || now.Round(0).Sub(a.lastWall) >= a.idle)
	a.mu.Unlock()
	switch {
	case now.Sub(a.start) >= a.limit || !now.Round(0).Before(a.until):
		return "its time is up"
	case idle:
		return "idle"
	}
	if sum, err := identitySum(a.home); err != nil || !bytes.Equal(sum[:], a.idSum[:]) {
		return "the home changed"
	}
	if info, err := os.Lstat(a.sock); err != nil || !os.SameFile(info, a.sockInfo) {
		return "its socket is gone"
	}
	return ""
}

// watch ends the agent when a bound is reached.
func (a *agent) watch() {
	t := time.NewTicker(agentTick)
	defer t.Stop()
	for {
		select {
		case <-a.done:
			return
		case <-t.C:
			if a.expired() != "" {
				a.end()
				return
			}
		}
	}
}

// end stops serving, waits for a running command (its context is
// cancelled), closes the home and removes the socket.
func (a *agent) end() {
	a.mu.Lock()
	if a.ended {
		a.mu.Unlock()
		<-a.done
		return
	}
	a.ended = true
	a.mu.Unlock()
	a.ln.Close()
	if info, err := os.Lstat(a.sock); err == nil && os.SameFile(info, a.sockInfo) {
		os.Remove(a.sock)
	}
	a.cancel()
	a.cmd.Lock()
	a.c.Close()
	a.cmd.Unlock()
	close(a.done)
}

func (a *agent) isEnded() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ended
}
