package client

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"filippo.io/age"

	"parley/crypto"
)

// identityFile is the plaintext of DIR/identity.age: everything secret a
// home has that is not per channel.
type identityFile struct {
	Version int       `json:"version"`
	Name    string    `json:"name"`
	Seed    []byte    `json:"identity"`
	State   []byte    `json:"state_key"`
	Age     string    `json:"age_identity"`
	Created time.Time `json:"created"`
}

const (
	identityName = "identity.age"
	stateName    = "state.db"
)

// Errors a user can act on.
var (
	ErrNoHome          = errors.New("no Parley identity here: run parley init --name NAME first")
	ErrHomeExists      = errors.New("this home already has an identity")
	ErrWrongPassphrase = errors.New("wrong passphrase")
)

// scryptLogN is the scrypt work factor of the identity file: 2^18, as age
// uses. PARLEY_SCRYPT_LOGN lowers it, for test suites only: it makes the
// passphrase proportionally cheaper to guess.
func scryptLogN() int {
	if v, err := strconv.Atoi(os.Getenv("PARLEY_SCRYPT_LOGN")); err == nil && v >= 10 && v <= 22 {
		return v
	}
	return 18
}

// HomeExists reports whether dir holds a home (an identity made by Init).
func HomeExists(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, identityName))
	return err == nil
}

// Init makes a new identity in dir, encrypted under passphrase.
func Init(dir, name, passphrase string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if passphrase == "" {
		return errors.New("empty passphrase")
	}
	if _, err := os.Stat(filepath.Join(dir, identityName)); err == nil {
		return ErrHomeExists
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := newIdentityFile(name)
	if err != nil {
		return err
	}
	if err := writeIdentity(filepath.Join(dir, identityName), passphrase, f); err != nil {
		return err
	}
	// Every home has a duress file; until a duress passphrase is set,
	// one under a passphrase nobody knows (duress.go).
	if err := writeDecoy(dir, name, hex.EncodeToString(randomBytes(32))); err != nil {
		return err
	}
	db, err := openState(filepath.Join(dir, stateName))
	if err != nil {
		return err
	}
	return db.Close()
}

// newIdentityFile makes the secrets of a new identity named name: the
// identity, the state key and the transcripts' age identity.
func newIdentityFile(name string) (identityFile, error) {
	id, err := crypto.GenerateIdentity()
	if err != nil {
		return identityFile{}, err
	}
	ageID, err := age.GenerateHybridIdentity()
	if err != nil {
		return identityFile{}, err
	}
	seed, _ := id.MarshalBinary()
	return identityFile{Version: 1, Name: name, Seed: seed, State: randomBytes(32), Age: ageID.String(), Created: time.Now().UTC()}, nil
}

// writeIdentity encrypts f under passphrase (scrypt, as age does) and
// writes it to path atomically.
func writeIdentity(path, passphrase string, f identityFile) error {
	plain, _ := json.Marshal(f)
	r, err := age.NewScryptRecipient(passphrase)
	if err != nil {
		return err
	}
	r.SetWorkFactor(scryptLogN())
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, r)
	if err != nil {
		return err
	}
	w.Write(plain)
	if err := w.Close(); err != nil {
		return err
	}
	return writeFileAtomic(path, buf.Bytes(), 0o600)
}

// loadIdentity decrypts the identity file. A passphrase that opens the
// duress file instead destroys the home's keys and opens the empty home
// that takes its place (duress.go): duressed is then set.
func loadIdentity(dir, passphrase string) (f *identityFile, duressed bool, err error) {
	f, err = openIdentity(filepath.Join(dir, identityName), passphrase)
	if err == nil || errors.Is(err, ErrNoHome) {
		return f, false, err
	}
	// The first scrypt's 256 MiB go back before the second takes as
	// much: the peak stays that of one unlock.
	runtime.GC()
	decoy, derr := openIdentity(filepath.Join(dir, duressName), passphrase)
	if derr != nil {
		return nil, false, err
	}
	if err := destroyHome(dir, decoy); err != nil {
		return nil, false, err
	}
	return decoy, true, nil
}

// openIdentity decrypts one identity file.
func openIdentity(path, passphrase string) (*identityFile, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoHome
	} else if err != nil {
		return nil, err
	}
	sid, err := age.NewScryptIdentity(passphrase)
	if err != nil {
		return nil, err
	}
	sid.SetMaxWorkFactor(22)
	r, err := age.Decrypt(bytes.NewReader(data), sid)
	if err != nil {
		var noMatch *age.NoIdentityMatchError
		if errors.As(err, &noMatch) {
			return nil, ErrWrongPassphrase
		}
		return nil, fmt.Errorf("identity file: %w", err)
	}
	plain, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("identity file: %w", err)
	}
	var f identityFile
	if err := json.Unmarshal(plain, &f); err != nil || f.Version != 1 || len(f.State) != 32 {
		return nil, errors.New("identity file: unknown format")
	}
	return &f, nil
}

// checkSide checks a side's name as a display name is checked.
func checkSide(side string) error {
	if len(side) > crypto.MaxSideLen || Clean(side) != side || strings.ContainsRune(side, '\n') {
		return fmt.Errorf("a side is 1 to %d bytes, without control or direction-override characters", crypto.MaxSideLen)
	}
	return nil
}

func checkName(name string) error {
	if name == "" || len(name) > crypto.MaxNameLen {
		return fmt.Errorf("name must be 1 to %d bytes", crypto.MaxNameLen)
	}
	if Clean(name) != name || strings.ContainsRune(name, '\n') {
		return errors.New("name must not contain control or direction-override characters")
	}
	return nil
}

// writeFileAtomic writes data to a temporary file, syncs it and renames
// it over path, so a crash leaves either the old file or the new one.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
