// Package noroom tells a full disk from the errors it causes. On a full
// disk SQLite fails in ways that do not say so: it cannot make the
// shared-memory file it opens a database with, and reports a bare "disk
// I/O error", which reads like a damaged file. Saying "damaged" there
// would send a person to a backup, or an operator to move the relay's
// store aside, when making room is all it takes.
package noroom

import (
	"errors"
	"syscall"

	"modernc.org/sqlite"
)

// below is how little room counts as none: SQLite needs a few pages and
// a 32 KiB shared-memory file to open a database.
const below = 1 << 20

// Full reports whether err is an I/O or "full" error (SQLITE_IOERR,
// SQLITE_FULL, ENOSPC) met while the file system holding dir had less
// than 1 MiB free, and how many bytes it had. Any other error, or the
// same error with room to spare, is not put down to the disk.
func Full(dir string, err error) (free uint64, full bool) {
	var se *sqlite.Error
	ioOrFull := errors.Is(err, syscall.ENOSPC) || errors.As(err, &se) && (se.Code()&0xff == 10 || se.Code()&0xff == 13)
	if !ioOrFull {
		return 0, false
	}
	var st syscall.Statfs_t
	if syscall.Statfs(dir, &st) != nil {
		return 0, false
	}
	free = uint64(st.Bavail) * uint64(st.Bsize)
	return free, free < below
}
