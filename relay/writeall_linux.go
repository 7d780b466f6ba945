package relay

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// maxIovecs is how many buffers one pwritev takes (IOV_MAX).
const maxIovecs = 1024

// writeAll writes bufs one after another at off, in as few system calls
// as pwritev allows: a group commit's payloads go down in one, without
// being copied together first.
func writeAll(f *os.File, bufs [][]byte, off int64) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	for {
		for len(bufs) > 0 && len(bufs[0]) == 0 {
			bufs = bufs[1:]
		}
		if len(bufs) == 0 {
			return nil
		}
		iovs := bufs[:min(len(bufs), maxIovecs)]
		var n int
		var werr error
		if err := rc.Write(func(fd uintptr) bool {
			n, werr = unix.Pwritev(int(fd), iovs, off)
			return true
		}); err != nil {
			return err
		}
		if werr != nil {
			return &os.PathError{Op: "pwritev", Path: f.Name(), Err: werr}
		}
		if n == 0 {
			return &os.PathError{Op: "pwritev", Path: f.Name(), Err: io.ErrShortWrite}
		}
		off += int64(n)
		// Drop what was written; a short write resumes mid-buffer.
		for n >= len(bufs[0]) {
			n -= len(bufs[0])
			bufs = bufs[1:]
			if len(bufs) == 0 {
				return nil
			}
		}
		if n > 0 {
			bufs = append([][]byte{bufs[0][n:]}, bufs[1:]...)
		}
	}
}
