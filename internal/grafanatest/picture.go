package grafanatest

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"slices"

	"github.com/panelcast/panelcast/pkg/demo"
)

// Colours of a Grafana time series panel on the dark theme, blended as
// they land on PanelBackground.
var (
	// GridColor is uPlot's grid line in Grafana's dark theme,
	// rgba(240, 250, 255, 0.09), over the panel.
	GridColor = blend(color.RGBA{240, 250, 255, 0xff}, 0.09, PanelBackground)
	// ThresholdLineColor is ThresholdColor stroked at 70 % opacity over the
	// panel, as Grafana draws a threshold line.
	ThresholdLineColor = blend(ThresholdColor, 0.7, PanelBackground)
)

// DemoPicture is what CheckDemoPicture found in a picture of a demo panel,
// in device pixels.
type DemoPicture struct {
	// Plot is the plotting area: its top edge is the grid line at DemoMax,
	// its bottom edge the one at DemoMin.
	Plot image.Rectangle
	// ThresholdY is the row of the dashed threshold line, and WantThresholdY
	// where DemoThreshold lies between the grid lines at DemoMin and DemoMax.
	ThresholdY, WantThresholdY int
}

// CheckDemoPicture checks that img is a picture of a demo panel (a solo
// panel of ScenarioDemo at any size and scale) as Grafana draws it, with
// every Demo series; see CheckDemoPictureOf.
func CheckDemoPicture(img image.Image) (DemoPicture, error) {
	return CheckDemoPictureOf(img, Demo)
}

// CheckDemoPictureOf checks that img is a picture of a demo panel whose
// instance variable selects shown: the panel background, horizontal grid
// lines, each shown series in its palette colour inside the plot and in
// the legend below it and no other Demo series in either, text in the
// title, y-axis and x-axis label areas (pixels on the way from the
// background to TextColor, spread along the axis), and a dashed line of
// ThresholdLineColor where DemoThreshold lies. The error lists everything
// missing.
func CheckDemoPictureOf(img image.Image, shown []demo.Series) (DemoPicture, error) {
	var c pictureCheck
	b := img.Bounds()
	if bg := countIn(img, b, func(c color.RGBA) bool { return closeTo(c, PanelBackground, 3) }); bg < b.Dx()*b.Dy()/2 {
		c.fail("%d of %d pixels are the panel background %s, want at least half", bg, b.Dx()*b.Dy(), demo.Hex(PanelBackground))
	}
	axes, ok := c.findAxes(img)
	if !ok {
		return DemoPicture{}, c.err()
	}
	p := DemoPicture{Plot: axes.plot}
	below := (b.Max.Y - p.Plot.Max.Y) / 2 // x-axis labels above, the legend below
	legend := image.Rect(b.Min.X, p.Plot.Max.Y+below, b.Max.X, b.Max.Y)
	for _, s := range Demo {
		inPlot := countIn(img, p.Plot, func(c color.RGBA) bool { return closeTo(c, s.Color, 8) })
		inLegend := countIn(img, legend, func(c color.RGBA) bool { return closeTo(c, s.Color, 8) })
		if !slices.ContainsFunc(shown, func(x demo.Series) bool { return x.Name == s.Name }) {
			if inPlot+inLegend > 10 {
				c.fail("series %s: %d pixels of %s in the plot and legend, want none: it is not selected", s.Name, inPlot+inLegend, demo.Hex(s.Color))
			}
			continue
		}
		if inPlot < p.Plot.Dx()/2 {
			c.fail("series %s: %d pixels of %s in the plot, want at least %d", s.Name, inPlot, demo.Hex(s.Color), p.Plot.Dx()/2)
		}
		if inLegend < 10 {
			c.fail("legend: %d pixels of %s's colour %s in %v, want at least 10", inLegend, s.Name, demo.Hex(s.Color), legend)
		}
	}
	p.ThresholdY, p.WantThresholdY = c.checkThreshold(img, axes)
	c.checkText(img, p.Plot, below)
	return p, c.err()
}

// pictureCheck gathers what a picture check found missing.
type pictureCheck struct{ problems []error }

func (c *pictureCheck) fail(format string, args ...any) {
	c.problems = append(c.problems, fmt.Errorf(format, args...))
}

func (c *pictureCheck) err() error { return errors.Join(c.problems...) }

// axes is where a picture's y axis runs: the plot, and the rows (centres,
// in fractional pixels) of its grid lines at DemoMax and DemoMin.
type axes struct {
	plot        image.Rectangle
	top, bottom float64
}

// findAxes finds the plot by its horizontal grid lines: rows that are
// mostly tinted towards the grid colour. A line a fraction of a device
// pixel off the pixel grid (at scale 1.5, say) tints two rows, each part
// way. Those under a series are tinted by its fill too and missed; the
// ones at DemoMax, above every series, and DemoMin, where the fill fades
// out, are found. The panel's border, rgba(204, 204, 220, 0.12), is a tint
// alike, so the rows at the picture's edges are not searched.
func (c *pictureCheck) findAxes(img image.Image) (axes, bool) {
	b := img.Bounds()
	grid := func(c color.RGBA) bool { return gridTint(c) >= 0.3 }
	type line struct{ first, last int }
	var lines []line
	for y := b.Min.Y + b.Dy()/33; y < b.Max.Y-b.Dy()/33; y++ {
		if countIn(img, image.Rect(b.Min.X, y, b.Max.X, y+1), grid) < b.Dx()*2/5 {
			continue
		}
		if n := len(lines); n > 0 && lines[n-1].last == y-1 {
			lines[n-1].last = y
		} else {
			lines = append(lines, line{y, y})
		}
	}
	if len(lines) < 2 || lines[len(lines)-1].first-lines[0].last < b.Dy()/4 {
		c.fail("found horizontal grid lines of %s at rows %v, want two at least a quarter of the height apart", demo.Hex(GridColor), lines)
		return axes{}, false
	}
	// Each line's centre, weighted by its rows' tint.
	centre := func(l line) float64 {
		var sum, weight float64
		for y := l.first; y <= l.last; y++ {
			w := gridTint(rgba(img.At(b.Min.X+b.Dx()/2, y)))
			sum, weight = sum+w*float64(y), weight+w
		}
		if weight == 0 {
			return float64(l.first+l.last) / 2
		}
		return sum / weight
	}
	bottomRow := lines[len(lines)-1]
	left, right := b.Max.X, b.Min.X
	for y := bottomRow.first; y <= bottomRow.last; y++ {
		l, r := extent(img, y, 4, grid)
		left, right = min(left, l), max(right, r)
	}
	return axes{
		plot: image.Rect(left, lines[0].first, right, bottomRow.last+1),
		top:  centre(lines[0]), bottom: centre(bottomRow),
	}, true
}

// checkThreshold finds the threshold: rows inside the plot with many short
// runs of its colour (Grafana dashes 10 on, 10 off), loosely: where a grid
// line lies under it, it is a little lighter. It returns the row found and
// the row wanted.
func (c *pictureCheck) checkThreshold(img image.Image, a axes) (got, want int) {
	var rows []int
	for y := a.plot.Min.Y; y < a.plot.Max.Y; y++ {
		n, runs := runsIn(img, y, a.plot.Min.X, a.plot.Max.X, func(c color.RGBA) bool { return closeTo(c, ThresholdLineColor, 12) })
		if n >= a.plot.Dx()/4 && runs >= 8 {
			rows = append(rows, y)
		}
	}
	frac := float64(DemoThreshold-DemoMin) / float64(DemoMax-DemoMin)
	want = int(math.Round(a.bottom - frac*(a.bottom-a.top)))
	if len(rows) == 0 {
		c.fail("no dashed line of %s in the plot (want one at y=%d)", demo.Hex(ThresholdLineColor), want)
		return 0, want
	}
	got = rows[len(rows)/2]
	if tolerance := max(2, a.plot.Dy()/100); abs(got-want) > tolerance || rows[len(rows)-1]-rows[0] > 2*tolerance {
		c.fail("dashed threshold line at rows %v, want y=%d±%d", rows, want, tolerance)
	}
	return got, want
}

// checkText looks for text in the title, y-axis and x-axis label areas
// around plot; below is the height of the x-axis labels' band.
func (c *pictureCheck) checkText(img image.Image, plot image.Rectangle, below int) {
	b := img.Bounds()
	plotW, plotH := plot.Dx(), plot.Dy()
	text := func(c color.RGBA) bool { return textInk(c) >= 0.5 }
	areas := []struct {
		what   string
		r      image.Rectangle
		spread func(image.Rectangle) bool
	}{
		{"title", image.Rect(b.Min.X, b.Min.Y, b.Max.X, plot.Min.Y-plotH/40), nil},
		{"y-axis labels", image.Rect(b.Min.X, plot.Min.Y-plotH/20, plot.Min.X, plot.Max.Y+plotH/20),
			func(ink image.Rectangle) bool { return ink.Dy() >= plotH/2 }},
		{"x-axis labels", image.Rect(plot.Min.X, plot.Max.Y+2, b.Max.X, plot.Max.Y+below),
			func(ink image.Rectangle) bool { return ink.Dx() >= plotW/2 }},
	}
	for _, a := range areas {
		n, ink := inkIn(img, a.r, text)
		if n < 40 {
			c.fail("%s: %d pixels of text in %v, want at least 40", a.what, n, a.r)
		} else if a.spread != nil && !a.spread(ink) {
			c.fail("%s: text only in %v of %v, want it spread along the axis", a.what, ink, a.r)
		}
	}
}

// gridTint says how far c lies on the way from PanelBackground to
// GridColor, 0 if it is off that line.
func gridTint(c color.RGBA) float64 { return onLine(c, PanelBackground, GridColor, 1.2) }

// textInk says how far c lies on the way from PanelBackground to TextColor
// (1 at the text colour), or 0 if it is off that line: anti-aliased text
// blends the two, series colours and grid lines lie elsewhere.
func textInk(c color.RGBA) float64 { return onLine(c, PanelBackground, TextColor, 1.05) }

// onLine says where c lies on the way from bg (0) to fg (1), up to limit,
// or 0 if its channels disagree: it is not a blend of the two.
func onLine(c, bg, fg color.RGBA, limit float64) float64 {
	ch := func(v, b, f uint8) float64 { return (float64(v) - float64(b)) / (float64(f) - float64(b)) }
	a := []float64{ch(c.R, bg.R, fg.R), ch(c.G, bg.G, fg.G), ch(c.B, bg.B, fg.B)}
	lo, hi := math.Min(a[0], math.Min(a[1], a[2])), math.Max(a[0], math.Max(a[1], a[2]))
	if hi-lo > 0.1 || lo < 0 || hi > limit {
		return 0
	}
	return (lo + hi) / 2
}

func blend(fg color.RGBA, alpha float64, bg color.RGBA) color.RGBA {
	mix := func(f, b uint8) uint8 { return uint8(math.Round(alpha*float64(f) + (1-alpha)*float64(b))) }
	return color.RGBA{mix(fg.R, bg.R), mix(fg.G, bg.G), mix(fg.B, bg.B), 0xff}
}

func rgba(c color.Color) color.RGBA {
	r, g, b, a := c.RGBA()
	return color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), uint8(a >> 8)}
}

func closeTo(a, b color.RGBA, tolerance int) bool {
	return abs(int(a.R)-int(b.R)) <= tolerance && abs(int(a.G)-int(b.G)) <= tolerance && abs(int(a.B)-int(b.B)) <= tolerance
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func countIn(img image.Image, r image.Rectangle, match func(color.RGBA) bool) int {
	n, _ := inkIn(img, r, match)
	return n
}

// inkIn counts the pixels of r that match, and bounds them.
func inkIn(img image.Image, r image.Rectangle, match func(color.RGBA) bool) (int, image.Rectangle) {
	r = r.Intersect(img.Bounds())
	n := 0
	var ink image.Rectangle
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if match(rgba(img.At(x, y))) {
				n++
				ink = ink.Union(image.Rect(x, y, x+1, y+1))
			}
		}
	}
	return n, ink
}

// extent is where the runs of at least minRun matching pixels in row y
// begin and end: a grid line, crossed by other lines, minus stray pixels
// of text that happen to match.
func extent(img image.Image, y, minRun int, match func(color.RGBA) bool) (x0, x1 int) {
	b := img.Bounds()
	x0, start := -1, -1
	for x := b.Min.X; x <= b.Max.X; x++ {
		if x < b.Max.X && match(rgba(img.At(x, y))) {
			if start < 0 {
				start = x
			}
			continue
		}
		if start >= 0 && x-start >= minRun {
			if x0 < 0 {
				x0 = start
			}
			x1 = x
		}
		start = -1
	}
	return max(x0, 0), x1
}

// runsIn counts the matching pixels of row y in [x0, x1) and the runs
// they form.
func runsIn(img image.Image, y, x0, x1 int, match func(color.RGBA) bool) (n, runs int) {
	in := false
	for x := x0; x < x1; x++ {
		m := match(rgba(img.At(x, y)))
		if m {
			n++
			if !in {
				runs++
			}
		}
		in = m
	}
	return n, runs
}

// CheckTitleGlyphs checks that a picture of the demo panel titled
// DemoKoreanTitle shows that title's glyphs, not the empty boxes ("tofu")
// Chromium draws for characters no font covers. Boxes are alike whatever
// the character, so the title's three words, which share no syllable,
// would look alike; drawn with a Hangul font they do not. It returns how
// much each pair of words differs (0 alike, 1 nothing in common).
func CheckTitleGlyphs(img image.Image) ([]float64, error) {
	p, err := CheckDemoPicture(img)
	if err != nil {
		return nil, fmt.Errorf("not a picture of a demo panel: %w", err)
	}
	b := img.Bounds()
	band := image.Rect(b.Min.X+1, b.Min.Y+1, b.Max.X-1, b.Min.Y+p.Plot.Min.Y*3/4)
	ink := func(x, y int) bool { return textInk(rgba(img.At(x, y))) >= 0.5 }
	words := wordsIn(band, ink, 3)
	if len(words) != 3 {
		return nil, fmt.Errorf("title: found %d words of text in %v, want the 3 of %q", len(words), band, DemoKoreanTitle)
	}
	var diffs []float64
	for i := range words {
		for j := i + 1; j < len(words); j++ {
			diffs = append(diffs, unlike(words[i], words[j], ink))
		}
	}
	for _, d := range diffs {
		if d <= 0.04 {
			return diffs, fmt.Errorf("title: its words look alike (differences %.2f, want each above 0.04, as boxes give 0): %q is drawn as empty boxes; install a CJK font (fonts-noto-cjk)", diffs, DemoKoreanTitle)
		}
	}
	return diffs, nil
}

// wordsIn splits the ink of r into n words at its n-1 widest gaps between
// inked columns, and bounds each word's ink.
func wordsIn(r image.Rectangle, ink func(x, y int) bool, n int) []image.Rectangle {
	var cols []int // inked columns, left to right
	for x := r.Min.X; x < r.Max.X; x++ {
		for y := r.Min.Y; y < r.Max.Y; y++ {
			if ink(x, y) {
				cols = append(cols, x)
				break
			}
		}
	}
	if len(cols) == 0 {
		return nil
	}
	// The n-1 widest gaps, in column order.
	gaps := make([]int, 0, len(cols)) // indexes i: a gap between cols[i-1] and cols[i]
	for i := 1; i < len(cols); i++ {
		if cols[i]-cols[i-1] > 1 {
			gaps = append(gaps, i)
		}
	}
	for i := 0; i < len(gaps); i++ { // sort by width, widest first
		for j := i + 1; j < len(gaps); j++ {
			wi, wj := cols[gaps[i]]-cols[gaps[i]-1], cols[gaps[j]]-cols[gaps[j]-1]
			if wj > wi || (wj == wi && gaps[j] < gaps[i]) {
				gaps[i], gaps[j] = gaps[j], gaps[i]
			}
		}
	}
	cuts := gaps[:min(len(gaps), n-1)]
	for i := 0; i < len(cuts); i++ {
		for j := i + 1; j < len(cuts); j++ {
			if cuts[j] < cuts[i] {
				cuts[i], cuts[j] = cuts[j], cuts[i]
			}
		}
	}
	var words []image.Rectangle
	start := 0
	for _, c := range append(cuts, len(cols)) {
		w := image.Rect(cols[start], r.Max.Y, cols[c-1]+1, r.Min.Y)
		for x := w.Min.X; x < w.Max.X; x++ {
			for y := r.Min.Y; y < r.Max.Y; y++ {
				if ink(x, y) {
					w.Min.Y, w.Max.Y = min(w.Min.Y, y), max(w.Max.Y, y+1)
				}
			}
		}
		words = append(words, w)
		start = c
	}
	return words
}

// unlike is the share of inked pixels of two word images, aligned at
// their top-left corners, that have no ink of the other within 1 pixel:
// glyphs placed a sub-pixel apart still match, different glyphs do not.
func unlike(a, b image.Rectangle, ink func(x, y int) bool) float64 {
	at := func(r image.Rectangle, x, y int) bool {
		return x >= 0 && y >= 0 && x < r.Dx() && y < r.Dy() && ink(r.Min.X+x, r.Min.Y+y)
	}
	near := func(r image.Rectangle, x, y int) bool {
		for dy := -1; dy <= 1; dy++ {
			for dx := -1; dx <= 1; dx++ {
				if at(r, x+dx, y+dy) {
					return true
				}
			}
		}
		return false
	}
	alone, inked := 0, 0
	for _, pair := range [][2]image.Rectangle{{a, b}, {b, a}} {
		for y := 0; y < pair[0].Dy(); y++ {
			for x := 0; x < pair[0].Dx(); x++ {
				if at(pair[0], x, y) {
					inked++
					if !near(pair[1], x, y) {
						alone++
					}
				}
			}
		}
	}
	if inked == 0 {
		return 0
	}
	return float64(alone) / float64(inked)
}
