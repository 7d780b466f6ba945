package relay_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"parley/relay"
)

// Every file the relay keeps is the operator's alone, also in a data
// folder made by an earlier version with looser modes.
func TestDataFolderIsOwnerOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 2; round++ {
		p := startProcess(t, dir)
		c := dial(t, p.url) // something to make the WAL exist
		c.Close()
		if err := p.stop(t, syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
			t.Errorf("round %d: data folder is %v", round, fi.Mode().Perm())
		}
		for _, e := range entries {
			fi, _ := e.Info()
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("round %d: %s is %v", round, e.Name(), fi.Mode().Perm())
			}
			os.Chmod(filepath.Join(dir, e.Name()), 0o644) // as an earlier version left them
		}
		os.Chmod(dir, 0o755)
	}
}

// A relay.db damaged in the middle is refused at start with a reason,
// not served.
func TestDamagedDatabaseRefused(t *testing.T) {
	dir := t.TempDir()
	r, err := relay.Start(relay.Options{Listen: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	newTestChannel(t, r.URL, time.Now())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	r.Close(ctx)
	cancel()

	db := filepath.Join(dir, "relay.db")
	data, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 3*4096 {
		t.Fatalf("relay.db is only %d bytes", len(data))
	}
	// Garble a page in the middle (not the header): SQLite opens the
	// file, and finds the damage only when it reads that page.
	for i := 2 * 4096; i < 3*4096; i++ {
		data[i] = 0xa5
	}
	if err := os.WriteFile(db, data, 0o600); err != nil {
		t.Fatal(err)
	}
	run, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	out, err := exec.CommandContext(run, relayBinary(t), "--listen", "127.0.0.1:0", "--data", dir).CombinedOutput()
	if err == nil {
		t.Fatalf("the relay started on a damaged database:\n%s", out)
	}
	if !strings.Contains(string(out), "relay.db is damaged") || strings.Contains(strings.TrimSpace(string(out)), "\n") {
		t.Fatalf("the relay's refusal:\n%s", out)
	}
}

func TestRelayVersionAndHelp(t *testing.T) {
	for _, arg := range []string{"--version", "--help"} {
		out, err := exec.Command(relayBinary(t), arg).Output()
		if err != nil {
			t.Fatalf("parley-relay %s: %v", arg, err)
		}
		if want := map[string]string{"--version": "parley-relay ", "--help": "usage: parley-relay"}[arg]; !strings.HasPrefix(string(out), want) {
			t.Fatalf("parley-relay %s printed %q", arg, out)
		}
	}
}
