package main

// The unlock agent: parley unlock keeps a home unlocked for a bounded
// time in a process of its own, as ssh-agent and gpg-agent keep keys, so
// that a script's commands do not each pay the passphrase's scrypt (0.7 s
// of CPU and 275 MB at work factor 2^18). The agent holds the unlocked
// home and runs the commands it is given on a Unix socket in the home;
// the keys never leave its process. docs/threat-model.md §3.14 says what
// it risks.
//
// A command that finds the socket sends its arguments, its working
// folder and the few environment variables commands read (agentEnv) to
// the agent, which runs it on the home it holds and sends back stdout,
// stderr and the exit status, asking for stdin when the command reads
// it. Commands that change the passphrase or the identity (init, duress
// set), the interactive ones (chat, app) and read --follow never go to
// the agent: they unlock by themselves, as before.
//
// The agent ends, drops the home and removes its socket: at parley lock;
// at its deadline (--for; wall clock and monotonic clock both, so a
// laptop asleep past the deadline finds it ended); after --idle without
// a command; when the identity file changes (a duress unlock elsewhere
// destroyed the home); when its socket is removed or replaced; when a
// command gives a passphrase other than the one it was unlocked with
// (that command then unlocks by itself, so a duress passphrase does
// what it does at any unlock); on SIGINT or SIGTERM.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"parley/client"
)

const (
	agentSocketName = "agent.sock"
	// agentServeEnv marks the agent process that parley unlock starts.
	agentServeEnv = "PARLEY_AGENT_SERVE"

	defaultUnlockFor  = 15 * time.Minute
	defaultUnlockIdle = 10 * time.Minute
	maxUnlockFor      = 8 * time.Hour
	// agentTick is how often the agent checks its bounds, the identity
	// file and its socket.
	agentTick = 250 * time.Millisecond
)

// agentCommands are the commands an agent runs: those that only use an
// unlocked home. Others (init, duress, chat, app, agreement, help,
// version, unlock, lock) never go to it.
var agentCommands = map[string]bool{
	"whoami": true, "channel": true, "invite": true, "join": true, "pending": true,
	"admit": true, "approve": true, "withdraw": true, "members": true, "remove": true,
	"leave": true, "send": true, "brief": true, "sync": true, "outbox": true,
	"read": true, "transcript": true, "verify": true, "burn": true, "draft": true,
}

// agentCommand reports whether an agent may run the command rest (the
// arguments after the global options). read --follow runs until it is
// stopped, so it keeps its own unlock rather than hold the agent.
func agentCommand(rest []string) bool {
	if len(rest) == 0 || !agentCommands[rest[0]] {
		return false
	}
	for _, a := range rest[1:] {
		if a == "--" {
			break
		}
		name := strings.TrimLeft(a, "-")
		if strings.HasPrefix(a, "-") && (name == "follow" || strings.HasPrefix(name, "follow=")) {
			return false
		}
	}
	return true
}

// agentEnv are the environment variables a command sent to the agent
// takes along; nothing else of the caller's environment is used.
var agentEnv = []string{"HOME", "PARLEY_HOME", "PARLEY_PROXY", "ALL_PROXY", "all_proxy", "PARLEY_SYNC_SPREAD"}

// agentRequest is a command sent to the agent.
type agentRequest struct {
	Args     []string          `json:"args"`
	Env      map[string]string `json:"env"`
	Dir      string            `json:"dir"`
	Terminal bool              `json:"terminal"`
	// Passphrase is the passphrase the caller was given, if it was
	// given one: the agent runs the command only if it is the one it
	// was unlocked with.
	Passphrase *string `json:"passphrase,omitempty"`
}

// agentStatus is the agent's answer to a status request.
type agentStatus struct {
	Until time.Time     `json:"until"`
	Idle  time.Duration `json:"idle"`
}

// agentExit is a forwarded command's exit status: the agent has printed
// its error already.
type agentExit int

func (e agentExit) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// agentSocket is the path of the socket of the agent of home.
func agentSocket(home string) (string, error) {
	abs, err := filepath.Abs(home)
	if err != nil {
		return "", err
	}
	return filepath.Join(abs, agentSocketName), nil
}

var errOtherUser = errors.New("the unlock socket is another user's: remove it")

// dialAgent connects to the agent of home: nil without error when none
// answers there. An agent of another user is an error.
func dialAgent(home string) (*net.UnixConn, error) {
	sock, err := agentSocket(home)
	if err != nil {
		return nil, nil
	}
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		// No socket, a stale one, a path too long for a socket:
		// there is no agent to use.
		return nil, nil
	}
	uid, err := peerUID(conn)
	if err != nil || uid != os.Getuid() {
		conn.Close()
		return nil, fmt.Errorf("%w (%s)", errOtherUser, sock)
	}
	return conn, nil
}

// forward runs a command in the home's agent. served is false when no
// agent runs or it would not run the command: the caller then unlocks
// by itself.
func forward(ctx context.Context, e *env, g *global, args []string) (code int, served bool, err error) {
	given, err := g.givenPassphrase(e)
	if err != nil {
		return 0, false, err
	}
	conn, err := dialAgent(g.home)
	if conn == nil {
		return 0, false, err
	}
	defer conn.Close()
	dir := e.dir
	if dir == "" {
		if dir, err = os.Getwd(); err != nil {
			return 0, false, err
		}
	}
	req := agentRequest{Args: args, Env: map[string]string{}, Dir: dir, Terminal: e.terminal}
	for _, k := range agentEnv {
		if v := e.getenv(k); v != "" {
			req.Env[k] = v
		}
	}
	if given != "" {
		req.Passphrase = &given
	}
	data, _ := json.Marshal(req)
	f := &frameConn{rw: conn}
	if err := f.write(frameRequest, data); err != nil {
		return 0, false, nil
	}
	if typ, _, err := f.read(); err != nil || typ != frameAccepted {
		return 0, false, nil
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			conn.Close()
		case <-done:
		}
	}()
	var once sync.Once
	for {
		typ, payload, err := f.read()
		if err != nil {
			if ctx.Err() != nil {
				return 0, true, ctx.Err()
			}
			return 0, true, errors.New("the unlock agent ended during the command")
		}
		switch typ {
		case frameStdout:
			e.stdout.Write(payload)
		case frameStderr:
			e.stderr.Write(payload)
		case frameWant:
			once.Do(func() { go sendStdin(f, e.stdin) })
		case frameExit:
			if len(payload) != 4 {
				return 0, true, errors.New("the unlock agent sent a bad exit status")
			}
			return int(binary.BigEndian.Uint32(payload)), true, nil
		default:
			return 0, true, fmt.Errorf("the unlock agent sent an unknown frame %q", typ)
		}
	}
}

// sendStdin copies the caller's stdin to the agent.
func sendStdin(f *frameConn, in io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := in.Read(buf)
		if n > 0 {
			if f.write(frameStdin, buf[:n]) != nil {
				return
			}
		}
		if err != nil {
			f.write(frameStdinEOF, nil)
			return
		}
	}
}

// cmdUnlock is parley unlock [--for D] [--idle D].
func cmdUnlock(ctx context.Context, e *env, g *global, args []string) error {
	var d, idle time.Duration
	pos, err := flags("unlock", args, func(fs *flag.FlagSet) {
		fs.DurationVar(&d, "for", defaultUnlockFor, "how long the home stays unlocked at most")
		fs.DurationVar(&idle, "idle", defaultUnlockIdle, "lock after this long without a command")
	})
	if err != nil {
		return err
	}
	const use = "usage: parley unlock [--for D] [--idle D]"
	switch {
	case len(pos) != 0:
		return usagef(use)
	case d < time.Second || d > maxUnlockFor:
		return usagef("--for must be between 1s and %s", shortDuration(maxUnlockFor))
	case idle < time.Second || idle > maxUnlockFor:
		return usagef("--idle must be between 1s and %s", shortDuration(maxUnlockFor))
	}
	if !client.HomeExists(g.home) {
		return client.ErrNoHome
	}
	if st, err := agentStatusOf(g.home); err != nil {
		return err
	} else if st != nil {
		return fmt.Errorf("this home is already unlocked until %s; parley lock ends that first", clock(st.Until))
	}
	if err := checkPrivate(g.home); err != nil {
		return err
	}
	if err := agentSupported(); err != nil {
		return err
	}
	p, err := g.passphrase(e, false)
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(g.home)
	if err != nil {
		return err
	}
	if err := spawnAgent(ctx, agentConfig{Home: abs, Passphrase: p, For: d, Idle: idle}); err != nil {
		return err
	}
	// Said only once the agent answers on its socket.
	st, err := agentStatusOf(g.home)
	if err != nil {
		return err
	}
	if st == nil {
		return errors.New("the unlock agent does not answer")
	}
	fmt.Fprintf(e.stdout, "unlocked until %s, or %s without a command; parley lock locks it now\n", clock(st.Until), shortDuration(st.Idle))
	return nil
}

// cmdLock is parley lock.
func cmdLock(e *env, g *global, args []string) error {
	if len(args) != 0 {
		return usagef("usage: parley lock")
	}
	conn, err := dialAgent(g.home)
	if err != nil {
		return err
	}
	if conn == nil {
		fmt.Fprintln(e.stdout, "not unlocked; nothing to lock")
		return nil
	}
	defer conn.Close()
	f := &frameConn{rw: conn}
	if err := f.write(frameLock, nil); err != nil {
		return errors.New("the unlock agent does not answer")
	}
	if typ, _, err := f.read(); err != nil || typ != frameLocked {
		return errors.New("the unlock agent does not answer")
	}
	fmt.Fprintln(e.stdout, "locked")
	return nil
}

// agentStatusOf asks the agent of home for its bounds: nil when none
// answers.
func agentStatusOf(home string) (*agentStatus, error) {
	conn, err := dialAgent(home)
	if conn == nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	f := &frameConn{rw: conn}
	if err := f.write(frameStatus, nil); err != nil {
		return nil, nil
	}
	typ, payload, err := f.read()
	if err != nil || typ != frameStatusOK {
		return nil, nil
	}
	var st agentStatus
	if err := json.Unmarshal(payload, &st); err != nil {
		return nil, errors.New("the unlock agent sent a bad status")
	}
	return &st, nil
}

// checkPrivate refuses a home other users can enter: the socket's own
// mode is set only after it is made.
func checkPrivate(home string) error {
	info, err := os.Stat(home)
	if err != nil {
		return err
	}
	if info.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("other users can open the home folder %s: chmod 700 it first", home)
	}
	return nil
}

// clock is a time as a person reads it: 14:32, with seconds when it is
// less than two minutes away, with the day when it is not today.
func clock(t time.Time) string {
	t = t.Local()
	now := time.Now()
	switch {
	case t.YearDay() != now.YearDay() || t.Year() != now.Year():
		return t.Format("Mon 2 Jan 15:04")
	case t.Sub(now) < 2*time.Minute:
		return t.Format("15:04:05")
	}
	return t.Format("15:04")
}

// shortDuration is 15m rather than 15m0s.
func shortDuration(d time.Duration) string {
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// agentConfig is what parley unlock hands the agent process, on a pipe
// (never its arguments or environment).
type agentConfig struct {
	Home       string        `json:"home"`
	Passphrase string        `json:"passphrase"`
	For        time.Duration `json:"for"`
	Idle       time.Duration `json:"idle"`
}

// spawnAgent starts the agent process and waits until it has unlocked
// the home and listens, or failed (a wrong passphrase).
func spawnAgent(ctx context.Context, cfg agentConfig) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer cfgR.Close()
	defer cfgW.Close()
	stR, stW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer stR.Close()
	defer stW.Close()
	cmd := exec.Command(exe)
	cmd.Args = []string{os.Args[0]}
	cmd.Dir = "/"
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k != "PARLEY_PASSPHRASE" && k != "PARLEY_DURESS_PASSPHRASE" && k != agentServeEnv {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, agentServeEnv+"=1")
	cmd.ExtraFiles = []*os.File{cfgR, stW} // fds 3 and 4
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	cfgR.Close()
	stW.Close()
	data, _ := json.Marshal(cfg)
	cfgW.Write(data)
	cfgW.Close()
	status := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(stR, 4096))
		status <- string(b)
	}()
	select {
	case <-ctx.Done():
		cmd.Process.Kill()
		cmd.Wait()
		return ctx.Err()
	case s := <-status:
		if s == "ready\n" {
			return cmd.Process.Release()
		}
		cmd.Wait()
		if msg, ok := strings.CutPrefix(s, "error "); ok {
			return errors.New(strings.TrimSpace(msg))
		}
		return errors.New("the unlock agent did not start")
	}
}

// agentMain is the agent process: it reads its configuration on fd 3,
// unlocks, says "ready" on fd 4, and serves until it ends.
func agentMain(ctx context.Context) int {
	cfgF, stF := os.NewFile(3, "config"), os.NewFile(4, "status")
	if cfgF == nil || stF == nil {
		return 2
	}
	var cfg agentConfig
	err := json.NewDecoder(io.LimitReader(cfgF, 1<<16)).Decode(&cfg)
	cfgF.Close()
	var a *agent
	if err == nil {
		hardenProcess()
		a, err = startAgent(cfg)
	}
	if err != nil {
		fmt.Fprintf(stF, "error %s\n", client.OneLine(err.Error()))
		stF.Close()
		return 1
	}
	fmt.Fprintln(stF, "ready")
	stF.Close()
	select {
	case <-ctx.Done():
		a.end()
	case <-a.done:
	}
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		a.mu.Lock()
		n := a.replying
		a.mu.Unlock()
		if n == 0 {
			break
		}
	}
	return 0
}

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
	a.sock = filepath.Join(cfg.Home, agentSocketName)
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

func (a *agent) accept() {
	for {
		conn, err := a.ln.AcceptUnix()
		if err != nil {
			if a.isEnded() {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go a.serve(conn)
	}
}

// serve answers one connection: from this user's processes only.
func (a *agent) serve(conn *net.UnixConn) {
	defer conn.Close()
	if uid, err := peerUID(conn); err != nil || uid != a.uid {
		return
	}
	f := &frameConn{rw: conn}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	typ, payload, err := f.read()
	if err != nil {
		return
	}
	conn.SetReadDeadline(time.Time{})
	switch typ {
	case frameStatus:
		if a.isEnded() || a.expired() != "" {
			f.write(frameRefused, []byte("locked"))
			return
		}
		data, _ := json.Marshal(agentStatus{Until: a.until, Idle: a.idle})
		f.write(frameStatusOK, data)
	case frameLock:
		a.mu.Lock()
		a.replying++
		a.mu.Unlock()
		a.end()
		f.write(frameLocked, nil)
		a.mu.Lock()
		a.replying--
		a.mu.Unlock()
	case frameRequest:
		a.run(conn, f, payload)
	}
}

// refuse says why the agent will not run req, or "".
func (a *agent) refuse(req *agentRequest) string {
	getenv := func(k string) string { return req.Env[k] }
	g, rest, err := parseGlobal(&env{getenv: getenv}, req.Args)
	if err != nil || wantsHelp(rest) || !agentCommand(rest) {
		return "not a command the agent runs"
	}
	home := g.home
	if !filepath.IsAbs(home) {
		home = filepath.Join(req.Dir, home)
	}
	if info, err := os.Stat(home); err != nil || !os.SameFile(info, a.homeInfo) {
		return "another home"
	}
	return ""
}

// run runs one command for the caller on conn.
func (a *agent) run(conn *net.UnixConn, f *frameConn, payload []byte) {
	var req agentRequest
	if err := json.Unmarshal(payload, &req); err != nil {
		f.write(frameRefused, []byte("bad request"))
		return
	}
	if why := a.refuse(&req); why != "" {
		f.write(frameRefused, []byte(why))
		return
	}
	if req.Passphrase != nil && !hmac.Equal(a.mac(*req.Passphrase), a.passMAC) {
		// Another passphrase: a mistyped one, or the duress one. Either
		// way the caller unlocks by itself, and the agent, which cannot
		// tell which, ends first and lets that unlock decide.
		a.end()
		f.write(frameRefused, []byte("another passphrase"))
		return
	}
	if why := a.expired(); why != "" {
		a.end()
		f.write(frameRefused, []byte(why))
		return
	}
	a.cmd.Lock()
	defer a.cmd.Unlock()
	a.mu.Lock()
	if a.ended {
		a.mu.Unlock()
		f.write(frameRefused, []byte("locked"))
		return
	}
	a.running++
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.running--
		a.last = time.Now()
		a.lastWall = a.last.Round(0)
		a.mu.Unlock()
	}()
	if f.write(frameAccepted, nil) != nil {
		return
	}
	ctx, cancel := context.WithCancel(a.ctx)
	defer cancel()
	pr, pw := io.Pipe()
	defer pr.Close()
	go func() {
		for {
			typ, payload, err := f.read()
			if err != nil {
				// The caller went away (Ctrl+C): the command stops.
				pw.CloseWithError(io.ErrUnexpectedEOF)
				cancel()
				return
			}
			switch typ {
			case frameStdin:
				if _, err := pw.Write(payload); err != nil {
					return
				}
			case frameStdinEOF:
				pw.Close()
			}
		}
	}()
	e := &env{
		stdin:    &agentStdin{f: f, r: pr},
		stdout:   frameWriter{f, frameStdout},
		stderr:   frameWriter{f, frameStderr},
		getenv:   func(k string) string { return req.Env[k] },
		terminal: req.Terminal,
		dir:      req.Dir,
		held:     a.c,
	}
	code := run(ctx, e, req.Args)
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(code))
	f.write(frameExit, b[:])
}

// agentStdin asks the caller for its stdin at the first read.
type agentStdin struct {
	f    *frameConn
	r    io.Reader
	once sync.Once
}

func (s *agentStdin) Read(p []byte) (int, error) {
	s.once.Do(func() { s.f.write(frameWant, nil) })
	return s.r.Read(p)
}
