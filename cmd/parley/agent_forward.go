package main

// A command's side of the unlock agent (agent.go): finding the agent
// of its home and having it run the command.

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

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
