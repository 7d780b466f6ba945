package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/rogpeppe/go-internal/testscript"

	"parley/relay"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"parley": func() {
			os.Exit(run(context.Background(), processEnv(), os.Args[1:]))
		},
	})
}

// TestScripts runs the command-line scripts in testdata/script. Each
// script gets its own relay on loopback (its URL in $RELAY, its data
// folder in $RELAY_DATA) and cheap scrypt for speed.
//
// The command relay-restart stops the script's relay and starts it again
// on the same address and data folder. A second relay ($RELAY2) is there
// for channels on several relays; the relay-* commands act on it when
// given the argument 2.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("testdata", "script"),
		Setup: func(e *testscript.Env) error {
			h := &relayHolder{dir: filepath.Join(e.WorkDir, "relay-data"), addr: "127.0.0.1:0"}
			if err := h.start(); err != nil {
				return err
			}
			e.Values[relayKey{}] = h
			e.Defer(h.stop)
			e.Setenv("RELAY", h.r.URL)
			e.Setenv("RELAY_DATA", h.dir)
			h2 := &relayHolder{dir: filepath.Join(e.WorkDir, "relay2-data"), addr: "127.0.0.1:0"}
			if err := h2.start(); err != nil {
				return err
			}
			e.Values[relay2Key{}] = h2
			e.Defer(h2.stop)
			e.Setenv("RELAY2", h2.r.URL)
			e.Setenv("PARLEY_SCRYPT_LOGN", "10")
			e.Setenv("PARLEY_SYNC_SPREAD", "0") // spread.go is tested on its own
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// age-keygen ID RCPT writes a fresh hybrid age identity and
			// its recipient.
			"age-keygen": func(ts *testscript.TestScript, neg bool, args []string) {
				id, err := age.GenerateHybridIdentity()
				ts.Check(err)
				ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(id.String()+"\n"), 0o600))
				ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(id.Recipient().String()+"\n"), 0o644))
			},
			// age-decrypt ID IN OUT decrypts with the age library.
			"age-decrypt": func(ts *testscript.TestScript, neg bool, args []string) {
				ids, err := age.ParseIdentities(strings.NewReader(ts.ReadFile(args[0])))
				ts.Check(err)
				in, err := os.Open(ts.MkAbs(args[1]))
				ts.Check(err)
				defer in.Close()
				r, err := age.Decrypt(in, ids...)
				ts.Check(err)
				out, err := io.ReadAll(r)
				ts.Check(err)
				ts.Check(os.WriteFile(ts.MkAbs(args[2]), out, 0o600))
			},
			"sleep": func(ts *testscript.TestScript, neg bool, args []string) {
				d, err := time.ParseDuration(args[0])
				ts.Check(err)
				time.Sleep(d)
			},
			// mangle changes one character in the middle of a file.
			"mangle": func(ts *testscript.TestScript, neg bool, args []string) {
				path := ts.MkAbs(args[0])
				data, err := os.ReadFile(path)
				ts.Check(err)
				i := len(data) / 2
				if data[i] == 'a' {
					data[i] = 'b'
				} else {
					data[i] = 'a'
				}
				ts.Check(os.WriteFile(path, data, 0o600))
			},
			// relay-stop and relay-start take the relay away and bring
			// it back on the same address and data folder.
			"relay-stop": func(ts *testscript.TestScript, neg bool, args []string) {
				holder(ts, args).stop()
			},
			"relay-start": func(ts *testscript.TestScript, neg bool, args []string) {
				ts.Check(holder(ts, args).start())
			},
			// relay-wipe restarts the relay without its database, as
			// if its disk were lost: same address, same certificate.
			"relay-wipe": func(ts *testscript.TestScript, neg bool, args []string) {
				h := holder(ts, args)
				h.stop()
				for _, f := range []string{"relay.db", "relay.db-wal", "relay.db-shm"} {
					if err := os.Remove(filepath.Join(h.dir, f)); err != nil && !os.IsNotExist(err) {
						ts.Fatalf("%v", err)
					}
				}
				ts.Check(h.start())
			},
			"relay-restart": func(ts *testscript.TestScript, neg bool, args []string) {
				h := holder(ts, args)
				h.stop()
				ts.Check(h.start())
			},
		},
	})
}

type relayKey struct{}

type relay2Key struct{}

// holder is the relay a relay-* command acts on: the second with the
// argument 2.
func holder(ts *testscript.TestScript, args []string) *relayHolder {
	if len(args) > 0 && args[0] == "2" {
		return ts.Value(relay2Key{}).(*relayHolder)
	}
	return ts.Value(relayKey{}).(*relayHolder)
}

// relayHolder is a script's relay, restartable in place.
type relayHolder struct {
	dir, addr string
	r         *relay.Relay
}

func (h *relayHolder) start() error {
	r, err := relay.Start(relay.Options{Listen: h.addr, DataDir: h.dir})
	if err != nil {
		return err
	}
	h.r, h.addr = r, r.Addr.String()
	return nil
}

func (h *relayHolder) stop() {
	if h.r == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h.r.Close(ctx)
	h.r = nil
}
