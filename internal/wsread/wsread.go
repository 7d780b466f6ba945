// Package wsread reads WebSocket messages into pooled, envelope-sized
// buffers. gorilla's ReadMessage grows a fresh buffer from 512 bytes for
// every message: for a 16 KiB envelope, half a dozen allocations and as
// many copies, paid by the relay for every post and by every client for
// every push. A pooled buffer costs none of that, and a connection that
// waits holds no buffer.
//
// A message read here is valid only until its buffer is released: the
// caller copies out what it keeps.
package wsread

import (
	"bytes"
	"sync"

	"github.com/gorilla/websocket"
)

// size holds a whole envelope with its frame headers.
const size = 20 << 10

var pool = sync.Pool{New: func() any { return bytes.NewBuffer(make([]byte, 0, size)) }}

// A Buffer holds one message.
type Buffer struct{ b *bytes.Buffer }

// Read reads the next message of ws.
func Read(ws *websocket.Conn) (Buffer, int, []byte, error) {
	mt, r, err := ws.NextReader()
	if err != nil {
		return Buffer{}, 0, nil, err
	}
	b := pool.Get().(*bytes.Buffer)
	b.Reset()
	if _, err := b.ReadFrom(r); err != nil {
		Buffer{b}.Release()
		return Buffer{}, 0, nil, err
	}
	return Buffer{b}, mt, b.Bytes(), nil
}

// Release hands the buffer back for the next message. A buffer grown by
// a large message (an epoch bundle) is left to the collector: the pool
// keeps envelope-sized ones.
func (b Buffer) Release() {
	if b.b != nil && b.b.Cap() <= 2*size {
		pool.Put(b.b)
	}
}
