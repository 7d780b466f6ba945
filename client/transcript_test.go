package client_test

import (
	"bytes"
	"database/sql"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"parley/client"
	"parley/crypto"
)

func TestExportPolicy(t *testing.T) {
	w := newWorld(t, nil)
	ctx := ctxT(t)
	org := w.Home("Organizer")
	org.CreateChannel(ctx, "hard", w.Relay.URL, crypto.PolicyHard)
	org.CreateChannel(ctx, "soft", w.Relay.URL, crypto.PolicySoft)
	org.Send(ctx, "hard", crypto.Talks, "a hard-policy line")
	org.Send(ctx, "soft", crypto.Talks, "a soft-policy line")
	dir := t.TempDir()

	if err := org.Export("hard", filepath.Join(dir, "plain.txt"), nil); !errors.Is(err, client.ErrPlaintextExportRefused) {
		t.Fatalf("plaintext export under hard: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "plain.txt")); err == nil {
		t.Fatal("a refused export left a file")
	}
	id, _ := age.GenerateHybridIdentity()
	to := []age.Recipient{id.Recipient()}
	out := filepath.Join(dir, "hard.age")
	if err := org.Export("hard", out, to); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(out)
	if bytes.Contains(raw, []byte("hard-policy")) {
		t.Fatal("the encrypted export holds plaintext")
	}
	r, err := age.Decrypt(bytes.NewReader(raw), id)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(r)
	if !strings.Contains(string(plain), "Organizer: a hard-policy line") {
		t.Fatalf("decrypted export: %q", plain)
	}
	if err := org.Export("hard", out, to); err == nil {
		t.Fatal("an export overwrote a file")
	}

	soft := filepath.Join(dir, "soft.txt")
	if err := org.Export("soft", soft, nil); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(soft); !strings.Contains(string(b), "Organizer: a soft-policy line") {
		t.Fatalf("soft export: %q", b)
	}
}

func TestCorruptedTranscriptGivesNoPlaintext(t *testing.T) {
	w := newWorld(t, nil)
	ctx := ctxT(t)
	org := w.Home("Organizer")
	org.CreateChannel(ctx, "c", w.Relay.URL, crypto.PolicyHard)
	org.Send(ctx, "c", crypto.Talks, "first")
	org.Send(ctx, "c", crypto.Talks, "second")
	db, err := sql.Open("sqlite", "file:"+filepath.Join(w.Homes[0], "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Truncate the last chunk, as a torn write or tampering would.
	if _, err := db.Exec(`UPDATE transcript SET chunk = substr(chunk, 1, length(chunk) - 20) WHERE id = (SELECT max(id) FROM transcript)`); err != nil {
		t.Fatal(err)
	}
	entries, err := org.Read("c")
	if err == nil || !strings.Contains(err.Error(), "transcript is corrupted") || entries != nil {
		t.Fatalf("corrupted transcript: %d entries, %v", len(entries), err)
	}
}

func TestLocalRetention(t *testing.T) {
	w := newWorld(t, nil)
	ctx := ctxT(t)
	org := w.Home("Organizer")
	org.CreateChannel(ctx, "c", w.Relay.URL, crypto.PolicyHard)
	org.Send(ctx, "c", crypto.Talks, "old news")
	later := time.Now().Add(73 * time.Hour)
	org.Now = func() time.Time { return later }
	org.Send(ctx, "c", crypto.Talks, "fresh")
	got := texts(t, org, "c")
	if contains(got, "Organizer: old news") || !contains(got, "Organizer: fresh") {
		t.Fatalf("after the hard policy's 72 h: %q", got)
	}
}
