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
		{"a query that ran between two probes has started", []probe{
			{0, scene(0), false, time.Second},
			{100 * time.Millisecond, signals{Scene: true, Queried: true, Rendered: -1, State: "complete"}, false, time.Second},
			{140 * time.Millisecond, signals{Scene: true, Queried: true, Rendered: -1, State: "complete"}, false, time.Second},
		}, 140 * time.Millisecond},
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

// TestPollInterval: a probe comes rarely where the page wakes the render,
// soon where only polling sees the end, and never after the moment the
// page could be done by the clock.
func TestPollInterval(t *testing.T) {
	start := time.Unix(0, 0)
	scene := signals{Scene: true, Rendered: -1, State: "complete"}
	plain := signals{Rendered: -1, State: "complete"}
	cases := []struct {
		name     string
		s        signals
		sawQuery bool
		at       time.Duration // since the scene appeared, and since the DOM last changed
		netIdle  time.Duration
		want     time.Duration
	}{
		{"binding page: its call wakes the render", signals{Binding: true, Scene: true, Rendered: -1}, false, 0, 0, signalledPollEvery},
		{"legacy solo panel: panelsRendered wakes it", signals{Rendered: 0, Solo: 1}, false, 0, 0, signalledPollEvery},
		{"legacy dashboard: its panels' DOM decides", signals{Rendered: 0, DashPanels: 2}, false, 0, 0, pollEvery},
		{"scenes, query running: the drain wakes it", signals{Scene: true, Count: 1, Rendered: -1}, true, 0, 0, signalledPollEvery},
		{"scenes, no query yet, long before the wait ends", scene, false, 0, 0, signalledPollEvery},
		{"scenes, no query yet, 50 ms before the wait ends", scene, false, 1950 * time.Millisecond, 0, 50 * time.Millisecond},
		{"scenes, no query yet, the wait about to end", scene, false, 1995 * time.Millisecond, 0, pollEvery},
		{"scenes, a query ran, near the end of the wait", scene, true, 1950 * time.Millisecond, 0, signalledPollEvery},
		{"scenes that also counts rendered panels: the scene decides, as in step", signals{Scene: true, Rendered: 0, Solo: 1, State: "complete"}, false, 1950 * time.Millisecond, 0, 50 * time.Millisecond},
		{"still loading: signals are yet to come", signals{Rendered: -1, State: "interactive"}, false, 0, 0, signalledPollEvery},
		{"between documents", signals{}, false, 0, 0, signalledPollEvery},
		{"no signal, DOM just changed", plain, false, 0, time.Second, signalledPollEvery},
		{"no signal, quiet 60 ms from now", plain, false, 440 * time.Millisecond, time.Second, 60 * time.Millisecond},
		{"no signal, DOM quiet, network 30 ms from quiet", plain, false, time.Second, 470 * time.Millisecond, 30 * time.Millisecond},
		{"no signal, quiet any moment", plain, false, 495 * time.Millisecond, time.Second, pollEvery},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &readiness{firstQueryWait: 2 * time.Second, sceneSince: start, stableSince: start, sawQuery: c.sawQuery}
			if got := r.next(start.Add(c.at), c.s, c.netIdle); got != c.want {
				t.Errorf("next = %v, want %v", got, c.want)
			}
		})
	}
}
