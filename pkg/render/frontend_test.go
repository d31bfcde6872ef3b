package render

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/panelcast/panelcast/internal/grafanatest"
)

// The stand-in built from Grafana's own frontend: @grafana/scenes keeps the
// readiness signals and @grafana/ui draws the panel, so these renders check
// the renderer against Grafana's real code rather than an imitation of it.

func demoRequest(g *grafanatest.Server, scenario string, params url.Values, w, h int, scale float64) Request {
	req := panelRequest(g, scenario, w, h, scale)
	q := url.Values{"orgId": {"1"}, "panelId": {"2"}}
	for k, v := range params {
		q[k] = v
	}
	req.URL = g.PanelURL(scenario, q)
	// Grafana's bundle takes a while to start on a busy machine.
	req.Timeout = 30 * time.Second
	return req
}

func checkDemo(t *testing.T, out []byte, w, h int) grafanatest.DemoPicture {
	t.Helper()
	img := decode(t, out)
	wantSize(t, img, w, h)
	p, err := grafanatest.CheckDemoPicture(img)
	if err != nil {
		t.Errorf("not Grafana's time series panel with the demo data: %v", err)
	}
	return p
}

func TestRenderGrafanaFrontend(t *testing.T) {
	r := newRenderer(t, Options{})
	g := standIn(t)
	for _, c := range []struct {
		w, h  int
		scale float64
	}{{1000, 500, 1}, {600, 300, 2}, {800, 400, 1.5}} {
		t.Run(fmt.Sprintf("%dx%d@%g", c.w, c.h, c.scale), func(t *testing.T) {
			out, err := r.Render(context.Background(), demoRequest(g, grafanatest.ScenarioDemo, nil, c.w, c.h, c.scale))
			if err != nil {
				t.Fatal(err)
			}
			p := checkDemo(t, out, int(float64(c.w)*c.scale+0.5), int(float64(c.h)*c.scale+0.5))
			t.Logf("plot %v, threshold at y=%d (want %d)", p.Plot, p.ThresholdY, p.WantThresholdY)
		})
	}
}

// The demo's data is fixed and its fonts are preloaded, as on Grafana's
// pages, so the same request gives the same picture.
func TestRenderGrafanaFrontendIsTheSameEveryTime(t *testing.T) {
	r := newRenderer(t, Options{})
	g := standIn(t)
	var first []byte
	for i := 0; i < 3; i++ {
		out, err := r.Render(context.Background(), demoRequest(g, grafanatest.ScenarioDemo, nil, 1000, 500, 1))
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = out
			continue
		}
		if !bytes.Equal(out, first) {
			t.Errorf("render %d differs from the first", i+1)
		}
	}
}

// Grafana's pages set __grafanaSceneContext at once but leave the query
// count unset until the data source has loaded and the first query
// starts; a renderer that took the unset count for "done" would capture an
// empty panel. A slow query must be waited for too.
func TestRenderGrafanaFrontendWaitsForItsQuery(t *testing.T) {
	r := newRenderer(t, Options{})
	g := standIn(t)
	start := time.Now()
	out, err := r.Render(context.Background(), demoRequest(g, grafanatest.ScenarioDemo,
		url.Values{"querystart": {"1000"}, "query": {"1500"}}, 800, 400, 1))
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 2500*time.Millisecond {
		t.Errorf("rendered in %s, before the 1 s data source load and the 1.5 s query could end", took)
	}
	checkDemo(t, out, 800, 400)
}

// A failing query ends scenes' count too: the picture is the panel with its
// error, and it comes well before the timeout.
func TestRenderGrafanaFrontendFailingQuery(t *testing.T) {
	r := newRenderer(t, Options{})
	g := standIn(t)
	req := demoRequest(g, grafanatest.ScenarioDemoFailing, nil, 800, 400, 1)
	start := time.Now()
	out, err := r.Render(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > req.Timeout/2 {
		t.Errorf("took %s: the renderer did not see the count drain", took)
	}
	img := decode(t, out)
	header := image.Rect(0, 0, 100, 40)
	if n := countNear(img, header, grafanatest.PanelErrorColor); n < 100 {
		t.Errorf("%d pixels of Grafana's error indicator in the header, want its square", n)
	}
	if _, err := grafanatest.CheckDemoPicture(img); err == nil {
		t.Error("a panel whose query failed passes for a chart")
	}
}

// The plugin and HTTP doors both hand Grafana's login page to the renderer
// when the render key is wrong; the frontend page is guarded the same way.
func TestRenderGrafanaFrontendNeedsRenderKey(t *testing.T) {
	r := newRenderer(t, Options{})
	g := standIn(t)
	req := demoRequest(g, grafanatest.ScenarioDemo, nil, 400, 200, 1)
	req.Cookies = nil
	if _, err := r.Render(context.Background(), req); err == nil || !strings.Contains(err.Error(), "login page") {
		t.Fatalf("err = %v, want the login page explained", err)
	}
}

// countNear counts the pixels of r near the colour want.
func countNear(img image.Image, r image.Rectangle, want color.RGBA) int {
	n := 0
	r = r.Intersect(img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if near(color.RGBAModel.Convert(img.At(x, y)).(color.RGBA), want) {
				n++
			}
		}
	}
	return n
}
