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

// SQLite's primary result codes that this package reads.
const (
	sqliteIOErr = 10
	sqliteFull  = 13
)

// IsFull reports whether err says in so many words that there was no
// room: SQLite's SQLITE_FULL or the system's ENOSPC. The write it failed
// was rolled back.
func IsFull(err error) bool {
	var se *sqlite.Error
	return errors.Is(err, syscall.ENOSPC) || errors.As(err, &se) && se.Code()&0xff == sqliteFull
}

// Full reports whether err is an I/O or "full" error (SQLITE_IOERR,
// SQLITE_FULL, ENOSPC) met while the file system holding dir had less
// than 1 MiB free, and how many bytes it had. Any other error, or the
// same error with room to spare, is not put down to the disk.
func Full(dir string, err error) (free uint64, full bool) {
	var se *sqlite.Error
	if !IsFull(err) && !(errors.As(err, &se) && se.Code()&0xff == sqliteIOErr) {
		return 0, false
	}
	free, ok := Free(dir)
	return free, ok && free < below
}

// Free returns the bytes that the file system holding dir has free for
// an unprivileged writer, and false if it cannot tell.
func Free(dir string) (uint64, bool) {
	var st syscall.Statfs_t
	if syscall.Statfs(dir, &st) != nil {
		return 0, false
	}
	return uint64(st.Bavail) * uint64(st.Bsize), true
}
