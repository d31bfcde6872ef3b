package render

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/go-rod/rod/lib/proto"
)

const (
	// pollEvery is how often a page without a Grafana signal that wakes the
	// render (see drainSignal) is asked whether it is done: a render should
	// end within a few tens of milliseconds of the page being done.
	pollEvery = 20 * time.Millisecond
	// signalledPollEvery is how often a page that wakes the render when it
	// is done is asked anyway. Each probe costs the browser's main thread
	// and the page's about a millisecond, which 8 renders at once queue for.
	signalledPollEvery = 100 * time.Millisecond
	// quiet is how long a page without any Grafana signal must have no
	// request in flight and no DOM change.
	quiet = 500 * time.Millisecond
)

// probe reads every readiness signal Grafana has had, newest first.
const probe = `(() => {
  const w = window, d = document;
  const q = w.__grafanaRunningQueryCount;
  const dash = Array.from(d.querySelectorAll('[data-panelid]'));
  return {
    binding: w.__grafanaRenderBindingSupported === true,
    scene: w.__grafanaSceneContext !== undefined && w.__grafanaSceneContext !== null,
    count: typeof q === 'number' ? q : -1,
    rendered: typeof w.panelsRendered === 'number' ? w.panelsRendered : -1,
    solo: d.querySelectorAll('.panel-solo').length || d.querySelectorAll("[class$='panel-container']").length,
    dashPanels: dash.length,
    dashDone: dash.filter(p => p.classList.contains('dashboard-row') || p.querySelector('.dashboard-row') ||
      ((p.querySelector('.panel-content') || {}).childElementCount > 0)).length,
    queried: w.__panelcastQueried === true,
    mutations: w.__panelcastMutations || 0,
    state: d.readyState,
    path: location.pathname,
  };
})()`

type signals struct {
	Binding    bool   `json:"binding"`
	Scene      bool   `json:"scene"`
	Count      int    `json:"count"`
	Rendered   int    `json:"rendered"`
	Solo       int    `json:"solo"`
	DashPanels int    `json:"dashPanels"`
	DashDone   int    `json:"dashDone"`
	Queried    bool   `json:"queried"` // the query count was above 0 at some time (see drainSignal)
	Mutations  int    `json:"mutations"`
	State      string `json:"state"`
	Path       string `json:"path"`
}

// readiness is the decision over successive probes.
type readiness struct {
	firstQueryWait time.Duration
	sawQuery       bool
	sceneSince     time.Time
	zeroSince      time.Time // when the drained count was first seen
	mutations      int
	stableSince    time.Time
	last           signals // the newest probe's, for the time to the next (see next)
}

// signal is the Grafana signal a probe shows that readiness follows.
type signal int

const (
	signalNone       signal = iota // no Grafana signal: a quiet DOM and network
	signalBinding                  // Grafana 12+'s completion binding
	signalScene                    // Grafana 10–12's running query count
	signalLegacySolo               // older pages' panelsRendered against their solo panels
	signalLegacyDash               // older full dashboards: their panels' DOM
)

// followed is the signal readiness follows for s, newest Grafana first.
func (s signals) followed() signal {
	switch {
	case s.Binding:
		return signalBinding
	case s.Scene:
		return signalScene
	case s.Rendered >= 0 && s.Solo > 0:
		return signalLegacySolo
	case s.DashPanels > 0 && s.Rendered >= 0:
		return signalLegacyDash
	}
	return signalNone
}

// step returns whether the page is done, and what it is waiting for.
func (r *readiness) step(now time.Time, s signals, bindingCalled bool, netIdle time.Duration) (bool, string) {
	if bindingCalled {
		return true, ""
	}
	switch s.followed() {
	case signalBinding:
		return false, "waiting for Grafana's completion signal"
	case signalScene:
		if s.Count > 0 {
			r.sawQuery, r.zeroSince = true, time.Time{}
			return false, fmt.Sprintf("waiting for %d running queries", s.Count)
		}
		r.sawQuery = r.sawQuery || s.Queried
		if r.sceneSince.IsZero() {
			r.sceneSince = now
		}
		if !r.sawQuery && now.Sub(r.sceneSince) < r.firstQueryWait {
			return false, "waiting for the first query to start"
		}
		// The count drained: done once it is still zero after the page has
		// drawn two more frames (see framesPassed), so the panel that got the
		// data has painted it.
		if r.zeroSince.IsZero() {
			r.zeroSince = now
			return false, "waiting for panels to paint"
		}
		return true, ""
	case signalLegacySolo:
		return s.Rendered >= s.Solo, fmt.Sprintf("waiting for panels: %d of %d rendered", s.Rendered, s.Solo)
	case signalLegacyDash:
		return s.DashDone >= s.DashPanels, fmt.Sprintf("waiting for panels: %d of %d rendered", s.DashDone, s.DashPanels)
	}
	// No Grafana signal: the DOM and the network must both be quiet.
	if s.Mutations != r.mutations || r.stableSince.IsZero() {
		r.mutations, r.stableSince = s.Mutations, now
	}
	if s.State == "complete" && netIdle >= quiet && now.Sub(r.stableSince) >= quiet {
		return true, ""
	}
	return false, fmt.Sprintf("waiting for the page to load and stop changing: document %s, network idle %s, DOM unchanged %s",
		s.State, netIdle.Round(time.Millisecond), now.Sub(r.stableSince).Round(time.Millisecond))
}

// next is how long to wait for the next probe after one that was not done
// (s, with the network idle for netIdle): rarely where the page wakes the
// render itself, soon where only polling notices the end, and never later
// than the moment the page could be done by the clock (the end of the wait
// for a first query, or of the quiet time of a page without signals).
func (r *readiness) next(now time.Time, s signals, netIdle time.Duration) time.Duration {
	switch s.followed() {
	case signalBinding, signalLegacySolo:
		return signalledPollEvery
	case signalScene:
		if r.sawQuery {
			return signalledPollEvery
		}
		return within(r.firstQueryWait - now.Sub(r.sceneSince))
	case signalLegacyDash:
		return pollEvery // the panels' DOM decides, and nothing wakes the render
	}
	if s.State != "complete" || r.stableSince.IsZero() {
		// Loading, or between documents: Grafana's signals, which the next
		// probes act on, are yet to appear.
		return within(signalledPollEvery)
	}
	return within(max(quiet-now.Sub(r.stableSince), quiet-netIdle))
}

// within is a time to the next probe: until, kept between pollEvery and
// signalledPollEvery.
func within(until time.Duration) time.Duration {
	return min(max(until, pollEvery), signalledPollEvery)
}

// waitReady polls until the page is done or ctx ends; a binding call
// (Grafana 12's completion signal, or drainSignal) ends a wait early.
func (s *session) waitReady(ctx context.Context) error {
	r := &readiness{firstQueryWait: s.opts.FirstQueryWait}
	return s.poll(ctx, r)
}

// waitSettled waits again after a resize, giving newly visible panels a
// short time to start their queries.
func (s *session) waitSettled(ctx context.Context) error {
	wait := s.opts.FirstQueryWait
	if wait > 300*time.Millisecond {
		wait = 300 * time.Millisecond
	}
	s.bindingCalled.Store(false)
	r := &readiness{firstQueryWait: wait}
	done, err := s.pollOnce(ctx, r)
	if err != nil || done {
		// Pages that signalled completion through the binding before the
		// resize will not call it again.
		return err
	}
	return s.poll(ctx, r)
}

func (s *session) poll(ctx context.Context, r *readiness) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		done, err := s.pollOnce(ctx, r)
		if err != nil || done {
			return err
		}
		t.Reset(r.next(time.Now(), r.last, s.net.idleFor()))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		case <-s.wake: // a binding was called: the page says it is done, or its queries drained
		}
	}
}

func (s *session) pollOnce(ctx context.Context, r *readiness) (bool, error) {
	for {
		// The page that is left after a refused navigation is an error
		// page that would never be done.
		if err := s.refusedNavigation(); err != nil {
			return false, err
		}
		var sig signals
		if err := s.eval(ctx, probe, &sig); err != nil {
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			r.last = signals{}
			// Between documents (redirects, reloads) there is briefly no
			// context to evaluate in; the next poll will find the new one.
			return false, nil
		}
		if isLoginPath(sig.Path) {
			return false, fmt.Errorf("grafana answered with its login page: the renderKey cookie was not accepted; check [rendering] renderer_domain and callback_url")
		}
		r.last = sig
		drained := !r.zeroSince.IsZero()
		done, stage := r.step(time.Now(), sig, s.bindingCalled.Load(), s.net.idleFor())
		if done {
			return true, nil
		}
		s.setStage(stage)
		if drained || r.zeroSince.IsZero() {
			return false, nil
		}
		// The count just drained: let the page draw, then look again at
		// once instead of after a fixed settle time.
		if err := s.framesPassed(ctx); err != nil {
			return false, err
		}
	}
}

// framesPassed waits for the page to draw two animation frames: React
// commits the data it got and the compositor paints it. It returns an
// error only when ctx ends.
func (s *session) framesPassed(ctx context.Context) error {
	_, err := proto.RuntimeEvaluate{Expression: `new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`,
		AwaitPromise: true, ReturnByValue: true}.Call(s.page.Context(ctx))
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return nil
}

func isLoginPath(p string) bool {
	return p == "/login" || len(p) > 6 && p[len(p)-6:] == "/login"
}

func (s *session) eval(ctx context.Context, expr string, out any) error {
	res, err := proto.RuntimeEvaluate{Expression: expr, ReturnByValue: true}.Call(s.page.Context(ctx))
	if err != nil {
		return err
	}
	if res.ExceptionDetails != nil {
		return fmt.Errorf("page script failed: %s", res.ExceptionDetails.Text)
	}
	return json.Unmarshal([]byte(res.Result.Value.JSON("", "")), out)
}
