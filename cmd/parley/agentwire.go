package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// The unlock agent (agent.go) and the parley commands that use it speak
// over a Unix socket in frames: one type byte, a 4-byte big-endian
// length, the payload. One connection carries one exchange.
//
//	caller → agent   'Q' request (JSON agentRequest): run a command
//	                 'S' status; 'L' lock now
//	                 'I' stdin bytes; 'E' end of stdin
//	agent → caller   'A' the command runs; 'N' not served (text: why;
//	                 the caller unlocks by itself)
//	                 'W' the command reads stdin: send it
//	                 'O' stdout bytes; 'X' stderr bytes; 'C' exit code
//	                 'T' status (JSON agentStatus); 'K' locked
const (
	frameRequest  = 'Q'
	frameStatus   = 'S'
	frameLock     = 'L'
	frameStdin    = 'I'
	frameStdinEOF = 'E'
	frameAccepted = 'A'
	frameRefused  = 'N'
	frameWant     = 'W'
	frameStdout   = 'O'
	frameStderr   = 'X'
	frameExit     = 'C'
	frameStatusOK = 'T'
	frameLocked   = 'K'
)

// maxFrame bounds a frame's payload; stdin and output go in pieces of
// at most this size.
const maxFrame = 64 << 10

var errFrameTooLarge = errors.New("agent: frame too large")

// frameConn reads and writes frames; writes are safe from several
// goroutines.
type frameConn struct {
	rw io.ReadWriter
	mu sync.Mutex
}

func (f *frameConn) write(typ byte, payload []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for {
		n := min(len(payload), maxFrame)
		hdr := [5]byte{typ}
		binary.BigEndian.PutUint32(hdr[1:], uint32(n))
		if _, err := f.rw.Write(append(hdr[:], payload[:n]...)); err != nil {
			return err
		}
		payload = payload[n:]
		if len(payload) == 0 {
			return nil
		}
	}
}

func (f *frameConn) read() (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(f.rw, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > maxFrame {
		return 0, nil, errFrameTooLarge
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(f.rw, payload); err != nil {
		return 0, nil, err
	}
	return hdr[0], payload, nil
}

// frameWriter is an io.Writer that sends what is written as frames of
// one type (a command's stdout or stderr).
type frameWriter struct {
	f   *frameConn
	typ byte
}

func (w frameWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if err := w.f.write(w.typ, p); err != nil {
		return 0, fmt.Errorf("agent: the caller went away: %w", err)
	}
	return len(p), nil
}
