package service_test

import (
	"strings"
	"testing"
	"time"

	"github.com/panelcast/panelcast/internal/grafanatest"
	"github.com/panelcast/panelcast/internal/testenv"
	"github.com/panelcast/panelcast/pkg/render"
)

// TestBothDoorsShowTheIdleBrowser: with browser_idle_timeout, each door's
// metrics and health answer say the browser is warm after a render and
// stopped once it has been idle that long; the next render starts it
// again. The metrics also break the render down by phase.
func TestBothDoorsShowTheIdleBrowser(t *testing.T) {
	testenv.NeedChromium(t, render.FindChromium)
	g, err := grafanatest.Start(grafanatest.Options{TLS: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	settings := map[string]string{"grafana_url": g.URL, "browser_idle_timeout": "1s"}
	for _, d := range []door{pluginDoor(t, g, settings), httpDoor(t, settings)} {
		t.Run(d.name, func(t *testing.T) {
			waitRunning := func(want string) {
				t.Helper()
				for deadline := time.Now().Add(15 * time.Second); !strings.Contains(d.metrics(t), "\npanelcast_browser_running "+want+"\n"); {
					if time.Now().After(deadline) {
						t.Fatalf("panelcast_browser_running is not %s after 15 s:\n%s", want, d.metrics(t))
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
			if _, err := d.render(t, g, doorCase{tz: "UTC"}); err != nil {
				t.Fatal(err)
			}
			waitRunning("0")
			if h := d.health(t); !strings.Contains(h, `"browserRunning":false`) {
				t.Errorf("health while the browser is stopped: %s, want browserRunning false", h)
			}
			m := d.metrics(t)
			if strings.Contains(m, "\npanelcast_browser_idle_stops_total 0\n") {
				t.Errorf("no idle stop counted:\n%s", m)
			}
			for _, want := range []string{`panelcast_render_phase_seconds_count{phase="ready"} 1`,
				`panelcast_render_phase_seconds_count{phase="write"} 1`, "panelcast_browser_restarts_total 0"} {
				if !strings.Contains(m, want) {
					t.Errorf("metrics after one render and an idle stop lack %q:\n%s", want, m)
				}
			}
			if _, err := d.render(t, g, doorCase{tz: "UTC"}); err != nil {
				t.Fatalf("the render after an idle stop: %v", err)
			}
			if m := d.metrics(t); !strings.Contains(m, "\npanelcast_browser_running 1\n") {
				t.Error("panelcast_browser_running is not 1 right after a render")
			}
			if h := d.health(t); !strings.Contains(h, `"browserRunning":true`) {
				t.Errorf("health right after a render: %s, want browserRunning true", h)
			}
		})
	}
}
