package main

import (
	"encoding/xml"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// wellFormedSVG parses path with encoding/xml and checks that its root
// is an <svg> element with some drawing in it.
func wellFormedSVG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := xml.NewDecoder(f)
	root, elements := "", 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: not well-formed XML: %v", path, err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = se.Name.Local
			}
			elements++
		}
	}
	if root != "svg" {
		t.Fatalf("%s: root element %q, want svg", path, root)
	}
	if elements < 20 {
		t.Fatalf("%s: only %d elements", path, elements)
	}
}

func synthetic(n int, median time.Duration) []time.Duration {
	r := rand.New(rand.NewPCG(1, uint64(n)))
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = time.Duration(float64(median) * r.ExpFloat64())
	}
	return out
}

// PARLEY_CHARTS_KEEP=DIR keeps the charts of these tests in DIR, to
// look at them.

func TestRunChartsWellFormed(t *testing.T) {
	dir := t.TempDir()
	if d := os.Getenv("PARLEY_CHARTS_KEEP"); d != "" {
		dir = d
	}
	rep := &report{}
	for i, n := range []int{3, 10, 50} {
		s := &sizeResult{n: n, tp: map[string][]tpResult{}, lat: map[string]*latResult{}}
		for r := range 3 {
			s.tp["baseline"] = append(s.tp["baseline"], tpResult{delivered: float64(10000 * (i + 1)), posts: 1000})
			s.tp["parley"] = append(s.tp["parley"], tpResult{delivered: float64(5000*(i+1) + r), posts: 500})
		}
		if n == 50 {
			s.tp["baseline"][1].dropped = 2 // a bar marked as over what was delivered
		}
		s.lat["baseline"] = &latResult{rate: 700, samples: synthetic(5000, time.Millisecond)}
		s.lat["parley"] = &latResult{rate: 700, samples: synthetic(5000, 5*time.Millisecond), dropped: 1}
		rep.sizes = append(rep.sizes, s)
	}
	written, err := writeRunCharts(dir, rep, true)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"throughput.svg", "latency-cdf-3.svg", "latency-cdf-10.svg", "latency-cdf-50.svg"}
	if len(written) != len(want) {
		t.Fatalf("wrote %v, want %v", written, want)
	}
	for _, name := range want {
		wellFormedSVG(t, filepath.Join(dir, name))
	}
	data, err := os.ReadFile(filepath.Join(dir, "throughput.svg"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "dropped") {
		t.Error("throughput.svg does not mark the size where clients were dropped")
	}
}

const growthOutput = `goos: linux
goarch: amd64
pkg: parley/client
cpu: AMD EPYC
BenchmarkGrowth/messages=100/sync-2         	       5	  14000000 ns/op
BenchmarkGrowth/messages=100/send-2         	       5	  26000000 ns/op
BenchmarkGrowth/messages=100/follow-step-2  	       5	  16000000 ns/op
BenchmarkGrowth/messages=100/read-all-2     	       5	   4500000 ns/op
BenchmarkGrowth/messages=100/read-all-one-chunk-each-2         	       5	  39000000 ns/op
BenchmarkGrowth/messages=1000/sync-2        	       5	  17000000 ns/op
BenchmarkGrowth/messages=1000/send-2        	       5	  57000000 ns/op
BenchmarkGrowth/messages=1000/follow-step-2 	       5	  38000000 ns/op
BenchmarkGrowth/messages=1000/read-all-2    	       5	  18000000 ns/op
BenchmarkGrowth/messages=1000/read-all-one-chunk-each-2        	       5	 594000000 ns/op
BenchmarkGrowth/messages=50000/sync         	       5	  32000000 ns/op
BenchmarkGrowth/messages=50000/read-all     	       5	1244000000 ns/op
PASS
ok  	parley/client	123.4s
`

func TestParseGrowth(t *testing.T) {
	g, err := parseGrowth(strings.NewReader(growthOutput))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cmd string
		n   int
		ms  float64
	}{{"sync", 100, 14}, {"follow-step", 1000, 38}, {"read-all-one-chunk-each", 1000, 594}, {"read-all", 50000, 1244}, {"sync", 50000, 32}} {
		if got := g[c.cmd][c.n]; got != c.ms {
			t.Errorf("%s at %d: %v ms, want %v", c.cmd, c.n, got, c.ms)
		}
	}
	if got := g.sizes(); len(got) != 3 || got[0] != 100 || got[2] != 50000 {
		t.Errorf("sizes %v", got)
	}
	if _, err := parseGrowth(strings.NewReader("PASS\n")); err == nil {
		t.Error("no results parsed without an error")
	}
	p, err := commandsPlot(g, "")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if d := os.Getenv("PARLEY_CHARTS_KEEP"); d != "" {
		dir = d
	}
	path := filepath.Join(dir, "commands.svg")
	if err := writeSVG(p, path); err != nil {
		t.Fatal(err)
	}
	wellFormedSVG(t, path)
}
