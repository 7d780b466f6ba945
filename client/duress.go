package client

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"

	"parley/internal/durable"
)

// A home may have a duress passphrase (docs/threat-model.md §3.13). Typed
// at any unlock, it opens what looks like an ordinary, empty home and
// destroys the real one's keys on the way: the identity file, which holds
// the identity and the state key, and the state database, whose every
// secret is sealed under that key, are overwritten and deleted. Someone
// forced to unlock a laptop reveals nothing, and can then reveal nothing
// more: no passphrase opens the old home again.
//
// Every home holds a duress file, duress.age, beside identity.age: the
// identity of an empty home of the same name, encrypted under the duress
// passphrase, or, until one is set, under a random passphrase nobody
// knows. So the files do not show whether a duress passphrase is set,
// and after it was used the home has the same files as any other: the
// empty home's identity file, a fresh duress file, a fresh database.

const duressName = "duress.age"

// SetDuress sets the duress passphrase of the home in dir, whose
// passphrase is passphrase. It replaces any duress passphrase set before.
func SetDuress(dir, passphrase, duress string) error {
	if duress == "" {
		return errors.New("empty duress passphrase")
	}
	if duress == passphrase {
		return errors.New("the duress passphrase must differ from the passphrase")
	}
	f, err := openIdentity(filepath.Join(dir, identityName), passphrase)
	if err != nil {
		return err
	}
	return writeDecoy(dir, f.Name, duress)
}

// writeDecoy writes the duress file: a new, empty identity named name,
// under passphrase.
func writeDecoy(dir, name, passphrase string) error {
	f, err := newIdentityFile(name)
	if err != nil {
		return err
	}
	return writeIdentity(filepath.Join(dir, duressName), passphrase, f)
}

// destroyHome puts the empty home of decoy (the duress file just opened)
// in the place of the home in dir. The real identity file is destroyed
// first: after a crash at any later step the real keys are gone, and,
// until the duress file has taken the identity file's place, the duress
// passphrase still opens it and finishes the job.
func destroyHome(dir string, decoy *identityFile) error {
	real := filepath.Join(dir, identityName)
	if err := shred(real); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.Rename(filepath.Join(dir, duressName), real); err != nil {
		return err
	}
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		p := filepath.Join(dir, stateName+suffix)
		if err := shred(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	db, err := openState(filepath.Join(dir, stateName))
	if err != nil {
		return err
	}
	if err := db.Close(); err != nil {
		return err
	}
	if err := writeDecoy(dir, decoy.Name, hex.EncodeToString(randomBytes(32))); err != nil {
		return err
	}
	return durable.SyncDir(dir)
}

// shred overwrites a file's bytes in place with random ones and syncs
// them. On a disk that writes in place this destroys them; flash storage
// may keep the old blocks (docs/threat-model.md §3.13 says what that
// means).
func shred(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	buf := make([]byte, 64<<10)
	for off := int64(0); off < info.Size(); off += int64(len(buf)) {
		n := min(int64(len(buf)), info.Size()-off)
		rand.Read(buf[:n])
		if _, err := f.WriteAt(buf[:n], off); err != nil {
			return err
		}
	}
	return f.Sync()
}
