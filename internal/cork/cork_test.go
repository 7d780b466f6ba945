package cork

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"io"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"
)

// countingConn records every write that reaches it.
type countingConn struct {
	net.Conn
	mu     sync.Mutex
	writes [][]byte
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes = append(c.writes, bytes.Clone(p))
	c.mu.Unlock()
	if c.Conn == nil {
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func (c *countingConn) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = nil
}

func (c *countingConn) got() (int, []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.writes), bytes.Join(c.writes, nil)
}

func TestHoldGathersAndReleaseWrites(t *testing.T) {
	under := &countingConn{}
	c := New(under)
	c.Write([]byte("a"))
	c.Write([]byte("b"))
	if n, _ := under.got(); n != 2 {
		t.Fatalf("not held: %d writes reached the connection, want 2", n)
	}
	c.Hold()
	c.Write([]byte("c"))
	c.Write([]byte("d"))
	if n, _ := under.got(); n != 2 {
		t.Fatalf("held: %d writes reached the connection, want still 2", n)
	}
	if err := c.Release(); err != nil {
		t.Fatal(err)
	}
	if n, all := under.got(); n != 3 || string(all) != "abcd" {
		t.Fatalf("after release: %d writes, %q; want 3, \"abcd\"", n, all)
	}
	if err := c.Release(); err != nil {
		t.Fatal(err)
	}
	var none *Conn
	none.Hold()
	if err := none.Release(); err != nil {
		t.Fatal(err)
	}
}

func TestHeldPastTheLimit(t *testing.T) {
	under := &countingConn{}
	c := New(under)
	c.Hold()
	var want []byte
	for i := range 10 {
		p := bytes.Repeat([]byte{byte('a' + i)}, 16<<10)
		want = append(want, p...)
		c.Write(p)
	}
	c.Release()
	n, all := under.got()
	if !bytes.Equal(all, want) {
		t.Fatal("bytes changed or out of order")
	}
	// 160 KiB in writes of at most Limit.
	if n != 3 {
		t.Fatalf("%d writes for 160 KiB held, want 3", n)
	}
	for _, w := range under.writes {
		if len(w) > Limit {
			t.Fatalf("a write of %d bytes, past the limit", len(w))
		}
	}
}

// What the package is for: a message of more than one TLS record leaves
// in one write.
func TestTLSRecordsInOneWrite(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	under := &countingConn{Conn: a}
	c := New(under)
	server := tls.Server(b, &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}, MinVersion: tls.VersionTLS13})
	client := tls.Client(c, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
	go server.Handshake()
	if err := client.Handshake(); err != nil {
		t.Fatal(err)
	}
	msg := bytes.Repeat([]byte("x"), 16<<10+100) // two records
	done := make(chan []byte)
	go func() {
		got := make([]byte, len(msg))
		io.ReadFull(server, got)
		done <- got
	}()
	under.reset()
	c.Hold()
	if _, err := client.Write(msg); err != nil {
		t.Fatal(err)
	}
	if n, _ := under.got(); n != 0 {
		t.Fatalf("held: %d writes reached the connection", n)
	}
	if err := c.Release(); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-done:
		if !bytes.Equal(got, msg) {
			t.Fatal("the message arrived changed")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the message did not arrive")
	}
	if n, _ := under.got(); n != 1 {
		t.Fatalf("a message of two TLS records left in %d writes, want 1", n)
	}
	// Not held, the same message is a write per record.
	under.reset()
	go func() {
		got := make([]byte, len(msg))
		io.ReadFull(server, got)
		done <- got
	}()
	if _, err := client.Write(msg); err != nil {
		t.Fatal(err)
	}
	<-done
	// (TLS starts a connection with small records, so more than two.)
	if n, _ := under.got(); n < 2 {
		t.Fatalf("not held: %d writes, want one per record (2 or more)", n)
	}
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
