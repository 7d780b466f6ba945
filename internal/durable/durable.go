// Package durable holds the step of making a file's name durable, which
// the relay's frame log and the client's duress wipe both need: fsync on
// a file makes its contents durable, not the directory entry that names
// it, and a crash can otherwise lose a file just made or bring back one
// just removed.
package durable

import "os"

// SyncDir syncs the directory dir, so that the names created in it or
// removed from it so far survive a crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
