package grafanatest

import (
	"image/color"
	"math"
	"time"
)

// The demo dashboard (ScenarioDemo): two time series panels drawn by
// Grafana's own frontend, over data that depends only on the time asked
// for, so a picture of the default range (PanelURL's, ending at
// ReportInstant) is the same every time.
const (
	// DemoPanelTitle is the title of the demo's solo panel, DemoPanelID
	// (PanelURL's panel).
	DemoPanelTitle = "CPU usage"
	DemoPanelID    = soloPanelID
	// DemoKoreanPanelID is the demo panel titled DemoKoreanTitle.
	DemoKoreanPanelID = 3
	// DemoKoreanTitle is "request latency" in Korean, for font checks: six
	// different Hangul syllables.
	DemoKoreanTitle = "요청 지연 시간"
	// DemoMin and DemoMax are the demo panels' fixed y-axis range, and
	// DemoThreshold the value of their dashed threshold line.
	DemoMin       = 0
	DemoMax       = 100
	DemoThreshold = 80
	// DemoStep is the spacing of the demo data's points.
	DemoStep = time.Minute
)

// DemoSeries is one series of the demo panels, in the order Grafana's
// classic palette colours them.
type DemoSeries struct {
	Name  string
	Color color.RGBA
	// Low and High bound the series' values (DemoMin ≤ Low < High ≤ DemoMax).
	Low, High float64

	base, amplitude, period, phase, noise float64
	seed                                  uint64
}

// Colours of Grafana's dark theme (@grafana/data's createColors and
// createVisualizationColors) that the demo panels are drawn in.
var (
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

// Demo is the demo panels' series. Grafana's classic palette starts green,
// semi-dark yellow, blue.
var Demo = []DemoSeries{
	{Name: "web-1", Color: SeriesColor, Low: 20, High: 60, base: 40, amplitude: 14, period: 95, phase: 0.3, noise: 5, seed: 0x5eed01},
	{Name: "web-2", Color: color.RGBA{0xf2, 0xcc, 0x0c, 0xff}, Low: 5, High: 45, base: 25, amplitude: 12, period: 47, phase: 2.1, noise: 6, seed: 0x5eed02},
	{Name: "db-1", Color: color.RGBA{0x57, 0x94, 0xf2, 0xff}, Low: 40, High: 95, base: 66, amplitude: 18, period: 140, phase: 4.0, noise: 4, seed: 0x5eed03},
}

// Value is the series' value at t: a slow wave plus smoothed noise seeded
// by the series and the minute, clamped to [Low, High].
func (s DemoSeries) Value(t time.Time) float64 {
	m := float64(t.UnixMilli()) / float64(DemoStep.Milliseconds())
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

// demoPanels are the demo dashboard's panels in Grafana's dashboard JSON.
func demoPanels() []panelModel {
	panel := func(id int, title, unit string) panelModel {
		return panelModel{ID: id, Title: title, Type: "timeseries", Height: 400,
			FieldConfig: map[string]any{
				"defaults": map[string]any{
					"unit":  unit,
					"min":   DemoMin,
					"max":   DemoMax,
					"color": map[string]any{"mode": "palette-classic"},
					"thresholds": map[string]any{"mode": "absolute", "steps": []any{
						map[string]any{"color": "green", "value": nil},
						map[string]any{"color": "red", "value": DemoThreshold},
					}},
					"custom": map[string]any{
						"lineWidth":         2,
						"fillOpacity":       12,
						"gradientMode":      "opacity",
						"lineInterpolation": "smooth",
						"showPoints":        "never",
						"thresholdsStyle":   map[string]any{"mode": "dashed"},
					},
				},
				"overrides": []any{},
			},
			Options: map[string]any{
				"legend":  map[string]any{"showLegend": true, "displayMode": "list", "placement": "bottom", "calcs": []any{}},
				"tooltip": map[string]any{"mode": "multi", "sort": "none"},
			},
		}
	}
	return []panelModel{panel(soloPanelID, DemoPanelTitle, "percent"), panel(DemoKoreanPanelID, DemoKoreanTitle, "ms")}
}

// demoFrames answers a demo query for [from, to]: one data frame per
// series, as a Prometheus data source returns them, with a point every
// DemoStep (or coarser, for at most 1000 points).
func demoFrames(from, to time.Time) []any {
	step := DemoStep
	for to.Sub(from)/step > 1000 {
		step *= 2
	}
	start := from.Truncate(step)
	if start.Before(from) {
		start = start.Add(step)
	}
	var times []int64
	for t := start; !t.After(to); t = t.Add(step) {
		times = append(times, t.UnixMilli())
	}
	frames := make([]any, 0, len(Demo))
	for _, s := range Demo {
		values := make([]float64, len(times))
		for i, ms := range times {
			values[i] = s.Value(time.UnixMilli(ms))
		}
		frames = append(frames, map[string]any{
			"schema": map[string]any{"name": s.Name, "refId": "A", "fields": []any{
				map[string]any{"name": "Time", "type": "time", "typeInfo": map[string]any{"frame": "time.Time"}},
				map[string]any{"name": "Value", "type": "number", "typeInfo": map[string]any{"frame": "float64"},
					"labels": map[string]string{"instance": s.Name},
					"config": map[string]any{"displayNameFromDS": s.Name}},
			}},
			"data": map[string]any{"values": []any{times, values}},
		})
	}
	return frames
}
