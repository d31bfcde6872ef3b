package demo

import (
	"image/color"
	"testing"
	"time"
)

// The demo's data is fixed by time alone, and shows what a reader should
// see: series apart from each other, one of them above the threshold for
// a while in a two-hour range.
func TestSeries(t *testing.T) {
	end := time.Date(2024, time.January, 1, 12, 0, 0, 0, time.UTC)
	var above int
	for m := 0; m <= 120; m++ {
		at := end.Add(time.Duration(m-120) * time.Minute)
		for _, s := range All {
			v := s.Value(at)
			if v != s.Value(at) || v < s.Low || v > s.High || v < Min || v > Max {
				t.Fatalf("%s at %v = %v, want a fixed value within [%v, %v]", s.Name, at, v, s.Low, s.High)
			}
		}
		if All[len(All)-1].Value(at) > Threshold {
			above++
		}
	}
	if above < 5 || above > 60 {
		t.Errorf("%s is above the threshold for %d of 121 minutes, want a visible stretch", All[len(All)-1].Name, above)
	}
	seen := map[color.RGBA]bool{}
	for _, s := range All {
		if seen[s.Color] {
			t.Errorf("colour %v used twice", s.Color)
		}
		seen[s.Color] = true
	}
}
