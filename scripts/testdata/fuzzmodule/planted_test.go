// Package fuzzmodule is a stand-in module for the tests of fuzz.sh: one
// fuzz target that is clean unless a crashing input is planted in its
// corpus.
package fuzzmodule

import (
	"bytes"
	"testing"
)

func FuzzPlanted(f *testing.F) {
	f.Add([]byte("seed"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.HasPrefix(data, []byte("PLANTED CRASH")) {
			panic("planted crash")
		}
	})
}
