package main

// The unlock agent serving its socket (agent.go): checking each caller
// and running the commands it is sent.

import (
	"context"
	"crypto/hmac"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

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
