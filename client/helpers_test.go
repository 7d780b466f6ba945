package client_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"parley/client"
	"parley/crypto"
	"parley/relay"
)

func init() {
	// Cheap scrypt for tests only; see client.scryptLogN.
	os.Setenv("PARLEY_SCRYPT_LOGN", "10")
}

const passphrase = "correct horse battery staple"

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// world is a relay on loopback and the homes that talk through it.
type world struct {
	t      testing.TB
	relay  *relay.Relay
	relDir string
	homes  []string
}

func newWorld(t testing.TB, wrap func(relay.Store) relay.Store) *world {
	t.Helper()
	dir := t.TempDir()
	r, err := relay.Start(relay.Options{Listen: "127.0.0.1:0", DataDir: dir, WrapStore: wrap})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r.Close(ctx)
	})
	return &world{t: t, relay: r, relDir: dir}
}

// home makes and opens a new home for name.
func (w *world) home(name string) *client.Client {
	w.t.Helper()
	dir := filepath.Join(w.t.TempDir(), "home")
	if err := client.Init(dir, name, passphrase); err != nil {
		w.t.Fatal(err)
	}
	c, err := client.Open(dir, passphrase)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { c.Close() })
	w.homes = append(w.homes, dir)
	return c
}

// join invites a new home into channel with role, admits it, and syncs
// it, returning it.
func (w *world) join(org *client.Client, channel, name string, role crypto.Role) *client.Client {
	w.t.Helper()
	ctx := ctxT(w.t)
	c := w.home(name)
	code, err := org.Invite(ctx, channel, role, time.Hour, 0)
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := c.Join(ctx, code, channel); err != nil {
		w.t.Fatal(err)
	}
	if _, err := org.Admit(ctx, channel, []string{name}, false); err != nil {
		w.t.Fatal(err)
	}
	rep, err := c.Sync(ctx, channel)
	if err != nil || rep.Pending {
		w.t.Fatalf("%s syncing after admission: %+v %v", name, rep, err)
	}
	return c
}

// texts returns "sender: text" for the message and briefing entries of a
// channel, and the system lines prefixed with "* ".
func texts(t testing.TB, c *client.Client, channel string) []string {
	t.Helper()
	if _, err := c.Sync(ctxT(t), channel); err != nil {
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
			out = append(out, fmt.Sprintf("%s: %s", e.Sender, e.Text))
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// sweep returns every file under the homes and the relay's folder that
// holds any of the phrases.
func (w *world) sweep(phrases ...string) []string {
	w.t.Helper()
	var found []string
	for _, dir := range append([]string{w.relDir}, w.homes...) {
		filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() {
				return nil
			}
			data, err := os.ReadFile(path)
			if err != nil {
				w.t.Fatal(err)
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
