package wsread

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// Messages of every size come back byte for byte, one after another
// through the same pooled buffers, including one larger than a buffer.
func TestReadRoundTrip(t *testing.T) {
	msgs := [][]byte{[]byte("a"), bytes.Repeat([]byte{7}, 16394), bytes.Repeat([]byte{9}, 3*size), nil, []byte("last")}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		for _, m := range msgs {
			ws.WriteMessage(websocket.BinaryMessage, m)
		}
	}))
	defer srv.Close()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	for i, want := range msgs {
		buf, mt, got, err := Read(ws)
		if err != nil || mt != websocket.BinaryMessage || !bytes.Equal(got, want) {
			t.Fatalf("message %d: %d bytes, type %d, %v; want %d bytes", i, len(got), mt, err, len(want))
		}
		buf.Release()
	}
	if _, _, _, err := Read(ws); err == nil {
		t.Fatal("a read after the server closed succeeded")
	}
}
