// Package parleytest is the setup the test suites share: a real relay on
// loopback with its SQLite store in a temporary folder, and client homes
// that invite, join, admit and sync through it. It is for tests only;
// nothing else imports it. (The client package's own in-package tests
// cannot use it, since it imports the client: they keep twoHomes.)
//
// Homes use a cheap scrypt cost (PARLEY_SCRYPT_LOGN=10, see client.Init),
// set once for the whole test process.
package parleytest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"parley/client"
	"parley/crypto"
	"parley/relay"
)

// Passphrase unlocks every home a World makes.
const Passphrase = "correct horse battery staple"

var cheapScrypt sync.Once

// World is a relay on loopback and the homes that use it.
type World struct {
	T        testing.TB
	Relay    *relay.Relay
	RelayDir string
	// Ctx ends three minutes after the World is made (a bound for loaded
	// machines), or with the test.
	Ctx context.Context
	// Homes are the folders of the homes made, in order.
	Homes []string

	wrap func(relay.Store) relay.Store
	dirs map[*client.Client]string
}

// New starts a relay for the test; wrap, when not nil, wraps its store
// (a relay that lies, drops or withholds). The relay stops when the test
// ends.
func New(t testing.TB, wrap func(relay.Store) relay.Store) *World {
	t.Helper()
	cheapScrypt.Do(func() { os.Setenv("PARLEY_SCRYPT_LOGN", "10") })
	w := &World{T: t, RelayDir: t.TempDir(), wrap: wrap, dirs: map[*client.Client]string{}}
	w.StartRelay("127.0.0.1:0")
	t.Cleanup(w.StopRelay)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // a bound, not an expectation
	t.Cleanup(cancel)
	w.Ctx = ctx
	return w
}

// StartRelay starts the relay on addr over the World's data folder: a
// restart when addr is the address it had.
func (w *World) StartRelay(addr string) {
	w.T.Helper()
	r, err := relay.Start(relay.Options{Listen: addr, DataDir: w.RelayDir, WrapStore: w.wrap})
	if err != nil {
		w.T.Fatal(err)
	}
	w.Relay = r
}

// StopRelay shuts the relay down cleanly; the World keeps its data.
func (w *World) StopRelay() {
	if w.Relay == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w.Relay.Close(ctx)
	w.Relay = nil
}

// Home makes and opens a new home for name, closed when the test ends.
func (w *World) Home(name string) *client.Client {
	w.T.Helper()
	dir := filepath.Join(w.T.TempDir(), "home")
	if err := client.Init(dir, name, Passphrase); err != nil {
		w.T.Fatal(err)
	}
	c, err := client.Open(dir, Passphrase)
	if err != nil {
		w.T.Fatal(err)
	}
	w.T.Cleanup(func() { c.Close() })
	w.Homes = append(w.Homes, dir)
	w.dirs[c] = dir
	return c
}

// Dir is the folder of a home the World made.
func (w *World) Dir(c *client.Client) string { return w.dirs[c] }

// Organizer makes a home that founds channel with the hard policy.
func (w *World) Organizer(name, channel string) *client.Client {
	w.T.Helper()
	c := w.Home(name)
	if err := c.CreateChannel(w.Ctx, channel, w.Relay.URL, crypto.PolicyHard); err != nil {
		w.T.Fatal(err)
	}
	return c
}

// Join makes a home for name, invites it into channel with role, admits
// it and syncs it.
func (w *World) Join(org *client.Client, channel, name string, role crypto.Role) *client.Client {
	w.T.Helper()
	return w.JoinSide(org, channel, name, role, "")
}

// JoinSide is Join for a member of side.
func (w *World) JoinSide(org *client.Client, channel, name string, role crypto.Role, side string) *client.Client {
	w.T.Helper()
	c := w.Home(name)
	code, err := org.InviteToSide(w.Ctx, channel, role, side, time.Hour, 0)
	if err != nil {
		w.T.Fatal(err)
	}
	if _, err := c.Join(w.Ctx, code, channel); err != nil {
		w.T.Fatal(err)
	}
	if _, err := org.Admit(w.Ctx, channel, []string{name}, false); err != nil {
		w.T.Fatal(err)
	}
	if rep, err := c.Sync(w.Ctx, channel); err != nil || rep.Pending {
		w.T.Fatalf("%s syncing after admission: %+v %v", name, rep, err)
	}
	return c
}

// Texts syncs a home and returns its transcript of channel as "sender:
// text" lines, and system lines as "* text".
func Texts(t testing.TB, c *client.Client, channel string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // a bound, not an expectation
	defer cancel()
	if _, err := c.Sync(ctx, channel); err != nil {
		t.Fatal(err)
	}
	entries, err := c.Read(channel)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.Kind == client.KindSystem {
			out = append(out, "* "+e.Text)
		} else {
			out = append(out, e.Sender+": "+e.Text)
		}
	}
	return out
}

// Sweep returns every file under the homes and the relay's folder that
// holds any of the phrases: what must never be found at rest.
func (w *World) Sweep(phrases ...string) []string {
	w.T.Helper()
	var found []string
	for _, dir := range append([]string{w.RelayDir}, w.Homes...) {
		filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() {
				return nil
			}
			data, err := os.ReadFile(path)
			if err != nil {
				w.T.Fatal(err)
			}
			for _, p := range phrases {
				if bytes.Contains(data, []byte(p)) {
					found = append(found, fmt.Sprintf("%s holds %q", path, p))
				}
			}
			return nil
		})
	}
	return found
}
