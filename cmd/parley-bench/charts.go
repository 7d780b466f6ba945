package main

import (
	"bufio"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Charts (-charts DIR): SVG pictures of the figures in the table, drawn
// with gonum.org/v1/plot from the same measurements.
//
//	throughput.svg       delivered msg/s by channel size, both relays
//	latency-cdf-N.svg    CDF of delivery latency at channel size N, both
//	                     relays at the same offered load
//	commands.svg         client command time against transcript size,
//	                     from BenchmarkGrowth's output (-growth FILE)

var (
	colorBaseline = color.RGBA{R: 0x88, G: 0x88, B: 0x88, A: 0xff}
	colorParley   = color.RGBA{R: 0x1f, G: 0x5f, B: 0xa8, A: 0xff}
	// Commands, in the order of the table in docs/benchmarks.md.
	commandColors = []color.Color{
		color.RGBA{R: 0x1f, G: 0x5f, B: 0xa8, A: 0xff},
		color.RGBA{R: 0xd9, G: 0x7b, B: 0x16, A: 0xff},
		color.RGBA{R: 0x2a, G: 0x9d, B: 0x4a, A: 0xff},
		color.RGBA{R: 0xb8, G: 0x2e, B: 0x2e, A: 0xff},
		color.RGBA{R: 0x88, G: 0x88, B: 0x88, A: 0xff},
	}
)

const chartW, chartH = 16 * vg.Centimeter, 10 * vg.Centimeter

func newPlot(title string) *plot.Plot {
	plot.DefaultFont = font.Font{Typeface: "Liberation", Variant: "Sans"}
	p := plot.New()
	p.Title.Text = title
	p.Legend.Top = true
	p.Legend.Left = true
	// Below the title, inside the data area, off the left axis.
	p.Legend.XOffs, p.Legend.YOffs = vg.Points(8), -vg.Points(14)
	return p
}

// writeSVG writes p as an SVG file.
func writeSVG(p *plot.Plot, path string) error {
	wt, err := p.WriterTo(chartW, chartH, "svg")
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := wt.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// tpBar is the throughput of both relays at one channel size.
type tpBar struct {
	size             int
	baseline, parley float64 // delivered msg/s, median of the rounds
	// dropped is how many clients each relay dropped as too slow: the
	// bar then counts what was delivered and says so.
	droppedBaseline, droppedParley int
}

// throughputPlot draws grouped bars: delivered msg/s by channel size.
func throughputPlot(bars []tpBar, note string) (*plot.Plot, error) {
	if len(bars) == 0 {
		return nil, fmt.Errorf("no throughput figures")
	}
	p := newPlot("Throughput at saturation" + note)
	p.X.Label.Text = "channel size (members)"
	p.Y.Label.Text = "messages delivered per second"
	var b, r plotter.Values
	var names []string
	for _, x := range bars {
		b = append(b, x.baseline)
		r = append(r, x.parley)
		name := fmt.Sprint(x.size)
		if x.droppedBaseline+x.droppedParley > 0 {
			name += fmt.Sprintf(" (%d/%d dropped*)", x.droppedBaseline, x.droppedParley)
		}
		names = append(names, name)
	}
	w := vg.Points(28)
	bb, err := plotter.NewBarChart(b, w)
	if err != nil {
		return nil, err
	}
	bb.Color, bb.LineStyle.Width, bb.Offset = colorBaseline, 0, -w/2
	rb, err := plotter.NewBarChart(r, w)
	if err != nil {
		return nil, err
	}
	rb.Color, rb.LineStyle.Width, rb.Offset = colorParley, 0, w/2
	p.Add(bb, rb)
	p.Legend.Add("baseline (gorilla/websocket, memory only)", bb)
	p.Legend.Add("Parley relay (SQLite, fsync per commit)", rb)
	p.NominalX(names...)
	p.Y.Min = 0
	p.Y.Max *= 1.45 // room for the legend
	return p, nil
}

// cdfLine is one relay's latency samples.
type cdfLine struct {
	name    string
	samples []time.Duration
	color   color.Color
}

// cdfPoints is the empirical CDF of samples (sorted in place) at no
// more than 500 points, always with the first and the last sample.
func cdfPoints(samples []time.Duration) plotter.XYs {
	slices.Sort(samples)
	n := len(samples)
	step := max(1, n/500)
	var xy plotter.XYs
	for i := 0; i < n; i += step {
		xy = append(xy, plotter.XY{X: max(ms(samples[i]), 0.01), Y: float64(i+1) / float64(n)})
	}
	if n > 0 && xy[len(xy)-1].Y < 1 {
		xy = append(xy, plotter.XY{X: max(ms(samples[n-1]), 0.01), Y: 1})
	}
	return xy
}

// latencyPlot draws the CDFs of delivery latency of both relays at one
// channel size and one offered load, on a logarithmic time axis.
func latencyPlot(size int, rate float64, lines []cdfLine, note string) (*plot.Plot, error) {
	p := newPlot(fmt.Sprintf("Delivery latency, channels of %d, %.0f posts/s offered to each relay%s", size, rate, note))
	p.X.Label.Text = "scheduled send to delivery, ms (log scale)"
	p.Y.Label.Text = "fraction of deliveries"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Y.Min, p.Y.Max = 0, 1.3 // above 1: room for the legend
	drawn := 0
	for _, l := range lines {
		if len(l.samples) == 0 {
			continue
		}
		xy := cdfPoints(l.samples)
		ln, err := plotter.NewLine(xy)
		if err != nil {
			return nil, err
		}
		ln.Color, ln.Width = l.color, vg.Points(1.5)
		p.Add(ln)
		drawn++
		p.Legend.Add(fmt.Sprintf("%s (p50 %.2f ms, p99 %.2f ms)", l.name, ms(percentile(l.samples, 0.5)), ms(percentile(l.samples, 0.99))), ln)
	}
	if drawn == 0 {
		return nil, fmt.Errorf("no latency samples at size %d", size)
	}
	p.Add(plotter.NewGrid())
	return p, nil
}

// growthCommands are the sub-benchmarks of BenchmarkGrowth, in the
// order of the table in docs/benchmarks.md, with their labels.
var growthCommands = []struct{ bench, label string }{
	{"sync", "sync (nothing new)"},
	{"send", "send"},
	{"follow-step", "follow step"},
	{"read-all", "read all"},
	{"read-all-one-chunk-each", "read all, one chunk each (baseline)"},
}

// growth is BenchmarkGrowth's result: ms per operation by command and
// transcript size.
type growth map[string]map[int]float64

var growthLine = regexp.MustCompile(`^BenchmarkGrowth/messages=(\d+)/([A-Za-z-]+?)(?:-\d+)?\s+\d+\s+([0-9.]+) ns/op`)

// parseGrowth reads the output of `go test -bench Growth ./client`;
// every other line is ignored.
func parseGrowth(r io.Reader) (growth, error) {
	g := growth{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		m := growthLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		n, err := strconv.Atoi(m[1])
		if err != nil {
			return nil, err
		}
		ns, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			return nil, err
		}
		if g[m[2]] == nil {
			g[m[2]] = map[int]float64{}
		}
		g[m[2]][n] = ns / 1e6
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(g) == 0 {
		return nil, fmt.Errorf("no BenchmarkGrowth results in the input")
	}
	return g, nil
}

// sizes is every transcript size measured, ascending.
func (g growth) sizes() []int {
	var out []int
	for _, byN := range g {
		for n := range byN {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	sort.Ints(out)
	return out
}

// print writes g as a table, ms per operation.
func (g growth) print(w io.Writer) {
	fmt.Fprintf(w, "%10s", "messages")
	for _, c := range growthCommands {
		fmt.Fprintf(w, "  %14s", c.bench)
	}
	fmt.Fprintln(w)
	for _, n := range g.sizes() {
		fmt.Fprintf(w, "%10d", n)
		for _, c := range growthCommands {
			if v, ok := g[c.bench][n]; ok {
				fmt.Fprintf(w, "  %14.2f", v)
			} else {
				fmt.Fprintf(w, "  %14s", "-")
			}
		}
		fmt.Fprintln(w)
	}
}

// commandsPlot draws the time of each client command against the size
// of the transcript, both axes logarithmic.
func commandsPlot(g growth, note string) (*plot.Plot, error) {
	p := newPlot("Client commands as the transcript grows" + note)
	p.X.Label.Text = "messages in the transcript (log scale)"
	p.Y.Label.Text = "ms per command (log scale)"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	drawn := 0
	for i, c := range growthCommands {
		byN := g[c.bench]
		var xy plotter.XYs
		for _, n := range g.sizes() {
			if v, ok := byN[n]; ok && v > 0 {
				xy = append(xy, plotter.XY{X: float64(n), Y: v})
			}
		}
		if len(xy) == 0 {
			continue
		}
		l, s, err := plotter.NewLinePoints(xy)
		if err != nil {
			return nil, err
		}
		l.Color, l.Width = commandColors[i], vg.Points(1.5)
		s.Color, s.Shape = commandColors[i], draw.CircleGlyph{}
		if c.bench == "read-all-one-chunk-each" {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		p.Add(l, s)
		drawn++
		p.Legend.Add(c.label, l, s)
	}
	if drawn == 0 {
		return nil, fmt.Errorf("no command timings to draw")
	}
	p.Add(plotter.NewGrid())
	// Log axes need the range padded to whole decades to show ticks.
	p.X.Min, p.X.Max = decadeBelow(p.X.Min), decadeAbove(p.X.Max)
	// A decade below the fastest for the legend, bottom right.
	p.Y.Min, p.Y.Max = decadeBelow(p.Y.Min)/10, decadeAbove(p.Y.Max)
	p.Legend.Top, p.Legend.Left = false, false
	p.Legend.XOffs, p.Legend.YOffs = -vg.Points(8), vg.Points(8)
	return p, nil
}

func decadeBelow(x float64) float64 { return math.Pow(10, math.Floor(math.Log10(x))) }
func decadeAbove(x float64) float64 { return math.Pow(10, math.Ceil(math.Log10(x))) }

// chartNote marks charts of a quick run in their titles.
func chartNote(quick bool) string {
	if quick {
		return " (quick run)"
	}
	return ""
}

// writeRunCharts writes throughput.svg and latency-cdf-N.svg from what
// this run measured (each only when its workload ran).
func writeRunCharts(dir string, rep *report, quick bool) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	note := chartNote(quick)
	var written []string
	var bars []tpBar
	for _, s := range rep.sizes {
		if len(s.tp["parley"]) == 0 || len(s.tp["baseline"]) == 0 {
			continue
		}
		bars = append(bars, tpBar{
			size:            s.n,
			baseline:        s.median(s.tp, "baseline", delivered),
			parley:          s.median(s.tp, "parley", delivered),
			droppedBaseline: droppedIn(s.tp["baseline"]),
			droppedParley:   droppedIn(s.tp["parley"]),
		})
	}
	if len(bars) > 0 {
		p, err := throughputPlot(bars, note)
		if err != nil {
			return nil, err
		}
		path := filepath.Join(dir, "throughput.svg")
		if err := writeSVG(p, path); err != nil {
			return nil, err
		}
		written = append(written, path)
	}
	for _, s := range rep.sizes {
		lb, lp := s.lat["baseline"], s.lat["parley"]
		if lb == nil || lp == nil || len(lb.samples)+len(lp.samples) == 0 {
			continue
		}
		p, err := latencyPlot(s.n, lp.rate, []cdfLine{
			{latLabel("baseline", lb.dropped), lb.samples, colorBaseline},
			{latLabel("Parley", lp.dropped), lp.samples, colorParley},
		}, note)
		if err != nil {
			return nil, err
		}
		path := filepath.Join(dir, fmt.Sprintf("latency-cdf-%d.svg", s.n))
		if err := writeSVG(p, path); err != nil {
			return nil, err
		}
		written = append(written, path)
	}
	return written, nil
}

func latLabel(name string, dropped int) string {
	if dropped > 0 {
		return fmt.Sprintf("%s, %d dropped as too slow*", name, dropped)
	}
	return name
}

// growthMain is parley-bench -growth FILE: read BenchmarkGrowth's output
// ("-" for standard input), print it as a table and, with -charts,
// write commands.svg. Nothing is measured.
func growthMain(file, dir string) error {
	var r io.Reader = os.Stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	g, err := parseGrowth(r)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	fmt.Println("client commands, ms per operation, by transcript size (BenchmarkGrowth)")
	g.print(os.Stdout)
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	p, err := commandsPlot(g, "")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, "commands.svg")
	if err := writeSVG(p, path); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "parley-bench: wrote", path)
	return nil
}
