package render

import (
	"runtime/debug"
	"time"
)

// The phases of a render that Options.ObservePhase is told about, in order.
const (
	PhaseQueue    = "queue"    // waiting for a render slot
	PhaseBrowser  = "browser"  // a running browser: nothing when warm, its start when not
	PhaseContext  = "context"  // the incognito context and its page (a prepared one is taken at once)
	PhasePrepare  = "prepare"  // viewport, time zone, headers, cookies, the navigation guard
	PhaseNavigate = "navigate" // Page.navigate, until the document's response is committed
	PhaseReady    = "ready"    // the page's own work, and noticing that it is done
	PhaseCapture  = "capture"  // the screenshot: paint, PNG encoding in Chromium, transfer
)

// idleState is the idle stop's timer; the Renderer's mu guards it.
type idleState struct {
	timer   *time.Timer
	lastEnd time.Time // when the last render ended
	stopped bool      // the browser was stopped for being idle and not started since
}

// rested notes that a render ended and (re)arms the idle stop.
func (r *Renderer) rested() {
	if r.opts.IdleTimeout <= 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.idle.lastEnd = time.Now()
	if r.idle.timer == nil {
		r.idle.timer = time.AfterFunc(r.opts.IdleTimeout, r.idleCheck)
		return
	}
	r.idle.timer.Reset(r.opts.IdleTimeout)
}

// idleCheck stops the browser when no render has run for IdleTimeout. A
// render that starts at the same moment is never lost: one that took the
// browser first keeps it until it ends (retire waits for it), and one that
// comes after finds no browser and starts a new one (acquire).
func (r *Renderer) idleCheck() {
	r.mu.Lock()
	b := r.cur
	switch {
	case r.closed || b == nil:
		r.mu.Unlock()
		return
	case r.inFlight.Load() > 0:
		// Its end arms the timer again.
		r.mu.Unlock()
		return
	case time.Since(r.idle.lastEnd) < r.opts.IdleTimeout:
		// A render ended after the timer had fired.
		r.idle.timer.Reset(r.opts.IdleTimeout - time.Since(r.idle.lastEnd))
		r.mu.Unlock()
		return
	}
	r.cur = nil
	r.idle.stopped = true
	r.mu.Unlock()
	r.idleStops.Add(1)
	r.log.Info("stopping the browser: no render for browser_idle_timeout; the next render starts it again",
		"pid", b.pid(), "browser_idle_timeout", r.opts.IdleTimeout.String())
	b.retire()
	r.opts.assets.clear()
	go func() {
		// At rest the heap the renders used (screenshots, CDP messages, the
		// cleared asset cache) is garbage, and the code they ran is not
		// needed until the next render: give both back to the system now
		// rather than over minutes, or only under pressure.
		<-b.exited
		debug.FreeOSMemory()
		if err := releaseCode(); err != nil {
			r.log.Debug("the program's code pages stay resident until the kernel needs them", "error", err)
		}
	}()
}

// observe reports a phase's duration to Options.ObservePhase.
func (r *Renderer) observe(phase string, took time.Duration) {
	if r.opts.ObservePhase != nil {
		r.opts.ObservePhase(phase, took)
	}
}

// observeSince reports the phase that began at start and returns now, the
// next phase's start.
func (r *Renderer) observeSince(phase string, start time.Time) time.Time {
	now := time.Now()
	r.observe(phase, now.Sub(start))
	return now
}
