package grafanatest

import (
	"context"
	"errors"
	"image/color"
	"image/png"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// Grafana's /render of one of its pages, as a service account: a PNG of
// the asked size; refused without a token, 404 for no such dashboard.
func TestRenderPage(t *testing.T) {
	s := start(t, Options{ServiceAccountToken: "glsa_render_test"})
	bearer := http.Header{"Authorization": {"Bearer glsa_render_test"}}
	r := do(t, s, "GET", "/render/d-solo/"+ScenarioScenes+"/x?panelId=2&width=300&height=200", "", nil, bearer)
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "image/png" {
		t.Fatalf("render: %d %v", r.status, r.header)
	}
	img, err := png.Decode(strings.NewReader(r.body))
	if err != nil || img.Bounds().Dx() != 300 || img.Bounds().Dy() != 200 || color.RGBAModel.Convert(img.At(5, 5)) != RenderedColor {
		t.Errorf("the picture is not 300x200 of RenderedColor: %v", err)
	}
	if r := do(t, s, "GET", "/render/d-solo/"+ScenarioScenes+"/x?panelId=2", "", nil, nil); r.status != http.StatusUnauthorized {
		t.Errorf("without a token: %d", r.status)
	}
	if r := do(t, s, "GET", "/render/d-solo/nosuchdashboard/x?panelId=2", "", nil, bearer); r.status != http.StatusNotFound {
		t.Errorf("unknown dashboard: %d", r.status)
	}
	if r := do(t, s, "GET", "/api/frontend/settings", "", nil, bearer); !strings.Contains(r.body, `"rendererAvailable":true`) {
		t.Errorf("frontend settings name no renderer: %s", r.body)
	}
}

// With a Renderer, /render hands it the stand-in's own page with
// render=1, the render key and the size, and answers its picture; its
// failure is a 500 that says so.
func TestRenderPageThroughRenderer(t *testing.T) {
	type call struct {
		page, key string
		w, h      int
	}
	var (
		mu   sync.Mutex // the renderer runs in the server's goroutines
		got  call
		fail = errors.New("browser gone")
		err  error
	)
	s := start(t, Options{ServiceAccountToken: "glsa_render_test", Renderer: func(_ context.Context, page, key string, w, h int) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		got = call{page, key, w, h}
		return []byte("picture"), err
	}})
	last := func() call { mu.Lock(); defer mu.Unlock(); return got }
	bearer := http.Header{"Authorization": {"Bearer glsa_render_test"}}
	r := do(t, s, "GET", "/render/d-solo/"+ScenarioScenes+"/x?panelId=2&width=300&height=200&var-a=b", "", nil, bearer)
	if c := last(); r.status != http.StatusOK || r.body != "picture" || c.key != s.RenderKey || c.w != 300 || c.h != 200 {
		t.Fatalf("render: %d %q, renderer got %+v", r.status, r.body, c)
	}
	page := last().page
	u, perr := url.Parse(page)
	if perr != nil || u.Path != "/d-solo/"+ScenarioScenes+"/x" || u.Query().Get("render") != "1" || u.Query().Get("panelId") != "2" || u.Query().Get("var-a") != "b" ||
		!strings.HasPrefix(page, s.URL+"/") {
		t.Errorf("the renderer was given %q", page)
	}
	mu.Lock()
	err = fail
	mu.Unlock()
	if r := do(t, s, "GET", "/render/d-solo/"+ScenarioScenes+"/x?panelId=2", "", nil, bearer); r.status != http.StatusInternalServerError || !strings.Contains(r.body, "browser gone") {
		t.Errorf("a failed render: %d %s", r.status, r.body)
	}
}
