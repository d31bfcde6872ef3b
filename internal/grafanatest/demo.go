package grafanatest

import "github.com/panelcast/panelcast/pkg/demo"

// The demo scenarios (ScenarioDemo, ScenarioDemoFailing) serve package
// demo's dashboard, assets and data, with the stand-in's delays, failures
// and recording; these are demo's names, for tests that check its pictures.
const (
	DemoPanelTitle  = demo.PanelTitle
	DemoPanelID     = demo.PanelID
	DemoKoreanTitle = demo.KoreanTitle
	DemoMin         = demo.Min
	DemoMax         = demo.Max
	DemoThreshold   = demo.Threshold
	DemoStep        = demo.Step
)

// Demo is the demo panels' series.
var Demo = demo.All

// Colours of Grafana's dark theme that the demo panels are drawn in.
var (
	PanelBackground = demo.PanelBackground
	TextColor       = demo.TextColor
	ThresholdColor  = demo.ThresholdColor
	PanelErrorColor = demo.PanelErrorColor
)
