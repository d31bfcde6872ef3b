package server

import (
	"mime"
	"strings"
	"testing"
)

// The CSV's name must come through Grafana's reading of the header:
// mime.ParseMediaType, then a filename without slashes or backslashes.
func TestCSVFilenameSurvivesGrafana(t *testing.T) {
	for in, want := range map[string]string{
		"panel-data.csv":  "panel-data.csv",
		"Überblick.csv":   "Überblick.csv",
		`..\..\evil.csv`:  ".._.._evil.csv",
		"a/b.csv":         "a_b.csv",
		"line\nbreak.csv": "line_break.csv",
		`quote".csv`:      `quote".csv`,
		"":                "data.csv",
	} {
		_, params, err := mime.ParseMediaType(contentDisposition(safeFilename(in)))
		got := params["filename"]
		if err != nil || got != want || strings.ContainsAny(got, `/\`) {
			t.Errorf("%q: Grafana reads %q (%v), want %q", in, got, err, want)
		}
	}
}
