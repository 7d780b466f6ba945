package client

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"parley/internal/smalldisk"
)

// A home on a disk with no room left cannot even be opened (SQLite
// cannot make its shared-memory file, and says only "disk I/O error"):
// the error says the disk is full and that nothing was changed, and the
// home opens as before once there is room.
func TestStateOnAFullDisk(t *testing.T) {
	disk := smalldisk.Mount(t, "4m")
	path := filepath.Join(disk, stateName)
	db, err := openState(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE kept (v TEXT); INSERT INTO kept VALUES ('before the disk filled')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	filler := smalldisk.Fill(t, disk, 0)
	_, err = openState(path)
	if err == nil {
		t.Fatal("the home opened on a full disk (SQLite made its shared-memory file); the test assumed it cannot")
	}
	if msg := err.Error(); !strings.Contains(msg, "the disk that holds this home is full") || !strings.Contains(msg, "nothing was changed") || strings.Contains(msg, "\n") {
		t.Fatalf("opening on a full disk: %q", msg)
	}
	// Another error on the same full disk is not put down to it.
	other := errors.New("file is not a database")
	if got := noRoom(disk, other); got != other {
		t.Fatalf("another error on a full disk became %q", got)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	db, err = openState(path)
	if err != nil {
		t.Fatalf("opening once there is room: %v", err)
	}
	defer db.Close()
	var v string
	if err := db.QueryRow(`SELECT v FROM kept`).Scan(&v); err != nil || v != "before the disk filled" {
		t.Fatalf("after the full disk: %q %v", v, err)
	}
}
