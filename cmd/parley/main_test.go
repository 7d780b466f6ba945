package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"parley/relay"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"parley": func() {
			e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
			os.Exit(run(context.Background(), e, os.Args[1:]))
		},
	})
}

// TestScripts runs the command-line scripts in testdata/script. Each
// script gets its own relay on loopback (its URL in $RELAY, its data
// folder in $RELAY_DATA) and cheap scrypt for speed.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("testdata", "script"),
		Setup: func(e *testscript.Env) error {
			dir := filepath.Join(e.WorkDir, "relay-data")
			r, err := relay.Start(relay.Options{Listen: "127.0.0.1:0", DataDir: dir})
			if err != nil {
				return err
			}
			e.Defer(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				r.Close(ctx)
			})
			e.Setenv("RELAY", r.URL)
			e.Setenv("RELAY_DATA", dir)
			e.Setenv("PARLEY_SCRYPT_LOGN", "10")
			return nil
		},
	})
}
