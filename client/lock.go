package client

import (
	"os"
	"path/filepath"
	"syscall"
)

// lock takes an exclusive lock on the home for work that must not run
// twice at once (sending the outbox), waiting for another parley process
// that holds it.
func (c *Client) lock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(c.dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
