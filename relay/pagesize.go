package relay

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
)

// pageSize is the page size of a new store. An envelope is 16 KiB: with
// SQLite's default 4 KiB pages it spilled over four overflow pages, each
// written to the WAL in two system calls and copied by the checkpoint
// once more; with 8 KiB pages it takes two, and the store appends about
// a third faster alone or under load (BenchmarkStoreAppend*,
// docs/benchmarks.md). 16 KiB pages (one overflow page) were measured
// too, and appended more slowly than 8 KiB in each benchmark: each
// commit also rewrites the last leaf, index and channel pages, which
// grow with the page size.
//
// A store made with another page size keeps it: changing it takes a
// VACUUM, which copies the whole database.
const pageSize = 8192

// setPageSize gives a store file that SQLite has not yet written its
// page size. The size is fixed when the first page is written, which
// switching to WAL does, so it is set on a connection of its own before
// the store's connections open the file.
func setPageSize(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.Size() > 0 {
		return nil
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	_, err1 := db.Exec(fmt.Sprintf(`PRAGMA page_size = %d`, pageSize))
	_, err2 := db.Exec(`PRAGMA journal_mode = WAL`)
	return errors.Join(err1, err2)
}
