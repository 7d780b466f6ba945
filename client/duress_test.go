package client_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"parley/client"
	"parley/crypto"
	"parley/internal/parleytest"
)

// fileNames lists a home's files.
func fileNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// The duress passphrase opens an empty home of the same name, and after
// it no passphrase opens the old channels: the identity file and the
// state database are overwritten, and what is left is what a new home
// has.
func TestDuressPassphrase(t *testing.T) {
	w := newWorld(t, nil)
	ctx := ctxT(t)
	org := w.Home("Organizer")
	org.CreateChannel(ctx, "talks", w.Relay.URL, crypto.PolicyHard)
	a := w.Join(org, "talks", "A", crypto.RoleParticipant)
	if err := a.Send(ctx, "talks", crypto.Talks, "the line of control runs along the river"); err != nil {
		t.Fatal(err)
	}
	texts(t, org, "talks")
	dir := w.Dir(org)
	before := org.Whoami()
	if err := client.SetDuress(dir, parleytest.Passphrase, parleytest.Passphrase); err == nil {
		t.Fatal("a duress passphrase equal to the passphrase was accepted")
	}
	if err := client.SetDuress(dir, "not the passphrase", "under duress"); !errors.Is(err, client.ErrWrongPassphrase) {
		t.Fatalf("setting a duress passphrase without the passphrase: %v", err)
	}
	if err := client.SetDuress(dir, parleytest.Passphrase, "under duress"); err != nil {
		t.Fatal(err)
	}
	// What must be gone afterwards: the identity file's bytes, and
	// pieces of every sealed row of the state database.
	identity, err := os.ReadFile(filepath.Join(dir, "identity.age"))
	if err != nil {
		t.Fatal(err)
	}
	marks := append(homeSamples(t, dir), identity[len(identity)-32:])
	if len(marks) < 3 {
		t.Fatal("no samples of the old home; the test would prove nothing")
	}
	org.Close()

	// A fresh home's files, for comparison.
	fresh := filepath.Join(t.TempDir(), "fresh")
	if err := client.Init(fresh, "Someone", "pw"); err != nil {
		t.Fatal(err)
	}

	c, err := client.Open(dir, "under duress")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Duressed() {
		t.Fatal("the duress unlock was not noted")
	}
	got := c.Whoami()
	if got.Name != before.Name || got.SafetyNumber == before.SafetyNumber {
		t.Fatalf("the home opened under duress is %+v, was %+v: want the same name, another identity", got, before)
	}
	if list, err := c.Channels(); err != nil || len(list) != 0 {
		t.Fatalf("the home opened under duress holds channels: %v, %v", list, err)
	}
	c.Close()

	for _, p := range []string{parleytest.Passphrase, "under duress"} {
		c, err := client.Open(dir, p)
		switch {
		case p == parleytest.Passphrase && !errors.Is(err, client.ErrWrongPassphrase):
			t.Fatalf("the old passphrase after the duress unlock: %v", err)
		case p == "under duress" && (err != nil || c.Duressed()):
			t.Fatalf("the duress passphrase, now the empty home's: %v", err)
		}
		if c != nil {
			c.Close()
		}
	}
	names := fileNames(t, dir)
	names = slices.DeleteFunc(names, func(n string) bool { return n == "lock" }) // any home used once has one
	if !slices.Equal(names, fileNames(t, fresh)) {
		t.Fatalf("after the duress unlock the home holds %v, a new home %v", names, fileNames(t, fresh))
	}
	for _, name := range names {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range marks {
			if bytes.Contains(data, m) {
				t.Fatalf("%s still holds bytes of the old home", name)
			}
		}
	}
}

// Without a duress passphrase a home still has a duress file, which no
// passphrase anyone knows opens.
func TestEveryHomeHasADuressFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "home")
	if err := client.Init(dir, "Someone", "pw"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "duress.age")); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Open(dir, "guess"); !errors.Is(err, client.ErrWrongPassphrase) {
		t.Fatalf("a wrong passphrase: %v", err)
	}
	c, err := client.Open(dir, "pw")
	if err != nil || c.Duressed() {
		t.Fatalf("the passphrase: %v", err)
	}
	c.Close()
}
