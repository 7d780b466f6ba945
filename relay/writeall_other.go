//go:build !linux

package relay

import "os"

// writeAll writes bufs one after another at off.
func writeAll(f *os.File, bufs [][]byte, off int64) error {
	for _, b := range bufs {
		if _, err := f.WriteAt(b, off); err != nil {
			return err
		}
		off += int64(len(b))
	}
	return nil
}
