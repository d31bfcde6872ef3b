package demo

import (
	"slices"
	"strings"
	"time"
)

// Panel is one panel of the demo dashboard in Grafana's dashboard JSON,
// with the keys the page reads.
type Panel struct {
	ID     int    `json:"id"`
	Title  string `json:"title"`
	Type   string `json:"type"`
	Height int    `json:"height"`
	// FieldConfig and Options are Grafana's time series panel settings.
	FieldConfig map[string]any `json:"fieldConfig"`
	Options     map[string]any `json:"options"`
}

// Panels are the demo dashboard's panels.
func Panels() []Panel {
	panel := func(id int, title, unit string) Panel {
		return Panel{ID: id, Title: title, Type: "timeseries", Height: 400,
			FieldConfig: map[string]any{
				"defaults": map[string]any{
					"unit":  unit,
					"min":   Min,
					"max":   Max,
					"color": map[string]any{"mode": "palette-classic"},
					"thresholds": map[string]any{"mode": "absolute", "steps": []any{
						map[string]any{"color": "green", "value": nil},
						map[string]any{"color": "red", "value": Threshold},
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
	return []Panel{panel(PanelID, PanelTitle, "percent"), panel(KoreanPanelID, KoreanTitle, "ms")}
}

// allValue is Grafana's value of a variable's All option.
const allValue = "$__all"

// Variables is the demo dashboard's template variables in Grafana's JSON
// model (dashboard.templating.list): instance, a custom multi-value
// variable over the series' names with All selected, so an alert labelled
// instance=web-1 is drawn with var-instance=web-1, web-1's line alone.
func Variables() []any {
	names := make([]string, 0, len(All))
	options := []any{map[string]any{"selected": true, "text": "All", "value": allValue}}
	for _, s := range All {
		names = append(names, s.Name)
		options = append(options, map[string]any{"selected": false, "text": s.Name, "value": s.Name})
	}
	return []any{map[string]any{
		"current":     map[string]any{"selected": true, "text": []string{"All"}, "value": []string{allValue}},
		"hide":        0,
		"includeAll":  true,
		"label":       "Instance",
		"multi":       true,
		"name":        "instance",
		"options":     options,
		"query":       strings.Join(names, ","),
		"skipUrlSync": false,
		"type":        "custom",
	}}
}

// Frames answers a demo query for [from, to] and the instance variable's
// values (none, or All, is every series): one data frame per series, as a
// Prometheus data source returns them, with a point every Step (or
// coarser, for at most 1000 points).
func Frames(from, to time.Time, instances []string) []any {
	step := Step
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
	every := len(instances) == 0 || slices.Contains(instances, allValue)
	frames := make([]any, 0, len(All))
	for _, s := range All {
		if !every && !slices.Contains(instances, s.Name) {
			continue
		}
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
