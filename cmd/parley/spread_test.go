package main

import (
	"slices"
	"testing"
	"time"
)

// Syncing every channel visits each once, in an order that changes from
// one run to the next, each after its own pause below the bound; a bound
// of 0 keeps the order and does not pause.
func TestSpread(t *testing.T) {
	names := []string{"a", "b", "c", "d", "e", "f"}
	orders := map[string]bool{}
	for range 50 {
		steps := spread(names, time.Second)
		var got []string
		for _, s := range steps {
			if s.wait < 0 || s.wait >= time.Second {
				t.Fatalf("pause %v outside [0, 1s)", s.wait)
			}
			got = append(got, s.name)
		}
		orders[fmtOrder(got)] = true
		slices.Sort(got)
		if !slices.Equal(got, names) {
			t.Fatalf("not every channel once: %v", got)
		}
	}
	if len(orders) < 10 {
		t.Fatalf("50 spreads of 6 channels gave only %d orders", len(orders))
	}
	for i, s := range spread(names, 0) {
		if s.name != names[i] || s.wait != 0 {
			t.Fatalf("spread 0: %+v", s)
		}
	}
}

func fmtOrder(names []string) string {
	out := ""
	for _, n := range names {
		out += n
	}
	return out
}
