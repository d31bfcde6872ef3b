package render

import (
	"testing"
	"time"
)

// TestReadiness plays sequences of probes through the decision and checks
// when it says done, newest Grafana signal first.
func TestReadiness(t *testing.T) {
	type probe struct {
		at      time.Duration
		s       signals
		binding bool
		netIdle time.Duration
	}
	scene := func(count int) signals { return signals{Scene: true, Count: count, Rendered: -1, State: "complete"} }
	cases := []struct {
		name   string
		probes []probe
		doneAt time.Duration // -1: never done
	}{
		{"scenes waits for the first query", []probe{
			{0, signals{Count: -1, Rendered: -1, State: "loading"}, false, 0},
			{100 * time.Millisecond, scene(0), false, time.Second}, // booted, query not started
			{300 * time.Millisecond, scene(0), false, time.Second},
			{400 * time.Millisecond, scene(1), false, 0},
			{700 * time.Millisecond, scene(0), false, 0},
			{740 * time.Millisecond, scene(0), false, 0}, // still zero after the page drew
		}, 740 * time.Millisecond},
		{"a count that rises again is not done", []probe{
			{0, scene(1), false, 0},
			{100 * time.Millisecond, scene(0), false, 0},
			{120 * time.Millisecond, scene(2), false, 0}, // lazy panels started
			{400 * time.Millisecond, scene(0), false, 0},
			{420 * time.Millisecond, scene(0), false, 0},
		}, 420 * time.Millisecond},
		{"scenes without queries ends after first_query_wait", []probe{
			{0, scene(0), false, time.Second},
			{time.Second, scene(0), false, time.Second},
			{2 * time.Second, scene(0), false, time.Second},
			{2100 * time.Millisecond, scene(0), false, time.Second},
		}, 2100 * time.Millisecond},
		{"query that never ends", []probe{
			{0, scene(1), false, 0},
			{10 * time.Second, scene(1), false, 0},
		}, -1},
		{"binding wins over a drained count", []probe{
			{0, signals{Binding: true, Scene: true, Count: 0, Rendered: -1}, false, time.Second},
			{5 * time.Second, signals{Binding: true, Scene: true, Count: 0, Rendered: -1}, false, time.Second},
			{5100 * time.Millisecond, signals{Binding: true, Scene: true, Count: 0, Rendered: -1}, true, time.Second},
		}, 5100 * time.Millisecond},
		{"legacy panelsRendered", []probe{
			{0, signals{Count: -1, Rendered: 0, Solo: 1}, false, 0},
			{500 * time.Millisecond, signals{Count: -1, Rendered: 1, Solo: 1}, false, 0},
		}, 500 * time.Millisecond},
		{"no signal: quiet DOM and network", []probe{
			{0, signals{Count: -1, Rendered: -1, State: "complete", Mutations: 3}, false, 0},
			{300 * time.Millisecond, signals{Count: -1, Rendered: -1, State: "complete", Mutations: 5}, false, 100 * time.Millisecond},
			{700 * time.Millisecond, signals{Count: -1, Rendered: -1, State: "complete", Mutations: 5}, false, 600 * time.Millisecond},
			{850 * time.Millisecond, signals{Count: -1, Rendered: -1, State: "complete", Mutations: 5}, false, 750 * time.Millisecond},
		}, 850 * time.Millisecond},
		{"no signal: still loading is never done", []probe{
			{0, signals{Count: -1, Rendered: -1, State: "interactive"}, false, time.Hour},
			{5 * time.Second, signals{Count: -1, Rendered: -1, State: "interactive"}, false, time.Hour},
		}, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Unix(0, 0)
			r := &readiness{firstQueryWait: 2 * time.Second}
			got := time.Duration(-1)
			for _, p := range c.probes {
				if done, _ := r.step(start.Add(p.at), p.s, p.binding, p.netIdle); done {
					got = p.at
					break
				}
			}
			if got != c.doneAt {
				t.Errorf("done at %v, want %v", got, c.doneAt)
			}
		})
	}
}
