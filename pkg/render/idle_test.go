package render

import (
	"bytes"
	"context"
	"image/png"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/panelcast/panelcast/internal/grafanatest"
)

// TestIdleStopLosesNoRender runs renders one after another, a few
// milliseconds apart, while the idle stop is checked every millisecond
// with an idle timeout of 1 ms: the browser is stopped between renders
// over and over, and renders start at the moment it is being stopped.
// Every render must give its picture, and none of the starts is counted
// as a restart.
func TestIdleStopLosesNoRender(t *testing.T) {
	r := newRenderer(t, Options{IdleTimeout: time.Millisecond})
	g := standIn(t)
	stop := make(chan struct{})
	var checks sync.WaitGroup
	checks.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				r.idleCheck()
			}
		}
	})
	for i := 0; i < 8; i++ {
		time.Sleep(time.Duration(i) * 8 * time.Millisecond) // from before the last render is cleaned up to after the stop
		img, err := r.Render(context.Background(), panelRequest(g, grafanatest.ScenarioScenes, 200, 100, 1))
		if err != nil {
			t.Errorf("render %d: %v", i, err)
			continue
		}
		if _, err := png.Decode(bytes.NewReader(img)); err != nil {
			t.Errorf("render %d is no PNG: %v", i, err)
		}
	}
	close(stop)
	checks.Wait()
	st := r.Stats()
	if st.IdleStops == 0 {
		t.Error("the browser was never stopped for being idle")
	}
	if st.Restarts != 0 {
		t.Errorf("browser restarts = %d, want 0: starts after an idle stop are no restarts", st.Restarts)
	}
}

// TestIdleTimeoutStopsAndStartsTheBrowser: after IdleTimeout without a
// render the browser process is gone and Stats says so; the next render
// starts it again.
func TestIdleTimeoutStopsAndStartsTheBrowser(t *testing.T) {
	r := newRenderer(t, Options{IdleTimeout: 300 * time.Millisecond, AssetCacheSize: 64 << 20})
	g := standIn(t)
	// The demo page's bundles fill the asset cache, which the stop empties.
	if _, err := r.Render(context.Background(), panelRequest(g, grafanatest.ScenarioDemo, 400, 200, 1)); err != nil {
		t.Fatal(err)
	}
	pid := r.Stats().BrowserPID
	if !r.Stats().BrowserRunning || pid == 0 || r.Stats().Assets.Entries == 0 {
		t.Fatalf("after a render: %+v, want a running browser and cached assets", r.Stats())
	}
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("browser %d still runs 10 s after a 300 ms idle timeout", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st := r.Stats(); st.BrowserRunning || !st.IdleStopped || st.IdleStops != 1 || st.Assets.Entries != 0 || st.Assets.Bytes != 0 {
		t.Errorf("stopped for being idle: running %v, idle stopped %v, idle stops %d, %d cached assets; want false, true, 1, 0",
			st.BrowserRunning, st.IdleStopped, st.IdleStops, st.Assets.Entries)
	}
	if _, err := r.Render(context.Background(), panelRequest(g, grafanatest.ScenarioScenes, 200, 100, 1)); err != nil {
		t.Fatalf("the render after an idle stop: %v", err)
	}
	if st := r.Stats(); !st.BrowserRunning || st.IdleStopped || st.BrowserPID == pid {
		t.Errorf("after the next render: running %v, idle stopped %v, pid %d (was %d); want a new running browser", st.BrowserRunning, st.IdleStopped, st.BrowserPID, pid)
	}
}
