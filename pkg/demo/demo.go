// Package demo is Panelcast's built-in demo Grafana, which `panelcast demo`
// renders and `panelcast serve` serves when no grafana_url is set: one
// dashboard of two time series panels drawn by Grafana's own frontend
// libraries (frontend/, committed built as assets/grafana.js) over data
// that depends only on the time asked for, served over https with a
// certificate for another name.
//
// It keeps nothing per request, so a demo left running stays the size it
// started at.
package demo

import (
	"image/color"
	"math"
	"time"
)

// The demo dashboard: two time series panels whose data depends only on
// the time asked for, so a picture of a fixed range is the same every time.
const (
	// DashboardUID and Title are the demo dashboard's.
	DashboardUID = "demo"
	Title        = "Demo"
	// PanelTitle is the title of the demo's first panel, PanelID.
	PanelTitle = "CPU usage"
	PanelID    = 2
	// KoreanPanelID is the demo panel titled KoreanTitle.
	KoreanPanelID = 3
	// KoreanTitle is "request latency" in Korean, for font checks: six
	// different Hangul syllables.
	KoreanTitle = "요청 지연 시간"
	// Min and Max are the demo panels' fixed y-axis range, and Threshold
	// the value of their dashed threshold line.
	Min       = 0
	Max       = 100
	Threshold = 80
	// Step is the spacing of the demo data's points.
	Step = time.Minute
)

// Series is one series of the demo panels, in the order Grafana's classic
// palette colours them; its name is its instance label.
type Series struct {
	Name  string
	Color color.RGBA
	// Low and High bound the series' values (Min ≤ Low < High ≤ Max).
	Low, High float64

	base, amplitude, period, phase, noise float64
	seed                                  uint64
}

// Colours of Grafana's dark theme (@grafana/data's createColors and
// createVisualizationColors) that the demo panels are drawn in.
var (
	// Background is the theme's page background.
	Background = color.RGBA{0x11, 0x12, 0x17, 0xff}
	// PanelBackground is the theme's background.primary, a panel's fill.
	PanelBackground = color.RGBA{0x18, 0x1b, 0x1f, 0xff}
	// TextColor is the theme's text.primary, used for titles and axes.
	TextColor = color.RGBA{0xcc, 0xcc, 0xdc, 0xff}
	// ThresholdColor is the palette's "red", the colour of the demo's
	// threshold step; Grafana strokes a dashed threshold at 70 % opacity.
	ThresholdColor = color.RGBA{0xf2, 0x49, 0x5c, 0xff}
	// PanelErrorColor is the theme's error.main, the background of the
	// icon a panel whose query failed shows in its header.
	PanelErrorColor = color.RGBA{0xd1, 0x0e, 0x5c, 0xff}
)

// All is the demo panels' series. Grafana's classic palette starts green,
// semi-dark yellow, blue.
var All = []Series{
	{Name: "web-1", Color: color.RGBA{0x73, 0xbf, 0x69, 0xff}, Low: 20, High: 60, base: 40, amplitude: 14, period: 95, phase: 0.3, noise: 5, seed: 0x5eed01},
	{Name: "web-2", Color: color.RGBA{0xf2, 0xcc, 0x0c, 0xff}, Low: 5, High: 45, base: 25, amplitude: 12, period: 47, phase: 2.1, noise: 6, seed: 0x5eed02},
	{Name: "db-1", Color: color.RGBA{0x57, 0x94, 0xf2, 0xff}, Low: 40, High: 95, base: 66, amplitude: 18, period: 140, phase: 4.0, noise: 4, seed: 0x5eed03},
}

// Value is the series' value at t: a slow wave plus smoothed noise seeded
// by the series and the minute, clamped to [Low, High].
func (s Series) Value(t time.Time) float64 {
	m := float64(t.UnixMilli()) / float64(Step.Milliseconds())
	k := int64(math.Floor(m))
	n := (hashUnit(s.seed, k-1) + 2*hashUnit(s.seed, k) + hashUnit(s.seed, k+1)) / 4
	v := s.base + s.amplitude*math.Sin(2*math.Pi*m/s.period+s.phase) + s.noise*n
	return math.Round(math.Max(s.Low, math.Min(s.High, v))*10) / 10
}

// hashUnit maps (seed, k) to [-1, 1] with SplitMix64, so every point is
// fixed by its time alone.
func hashUnit(seed uint64, k int64) float64 {
	z := seed + uint64(k)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return float64(z>>11)/float64(1<<52) - 1
}
