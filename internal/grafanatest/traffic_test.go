package grafanatest

import (
	"net/http"
	"testing"
)

// Grafana's frontend comes with Grafana's static cache headers, the
// imitation pages' script stays uncacheable (its delay stands for start-up
// work), and pages and API answers are never cacheable.
func TestCacheHeaders(t *testing.T) {
	s := start(t, Options{})
	for path, want := range map[string]string{
		"/public/build/grafana.js?boot=0":                          "public, max-age=31536000",
		"/public/build/grafana.css":                                "public, max-age=31536000",
		"/public/build/img/icons/unicons/exclamation-triangle.svg": "public, max-age=31536000",
		"/public/fonts/inter/Inter-Regular.woff2":                  "public, max-age=3600",
		"/public/build/app.js?boot=0":                              "no-store",
		"/d-solo/demo/panel?panelId=2":                             "no-store",
		"/api/dashboards/uid/demo":                                 "no-store",
	} {
		r := do(t, s, "GET", path, s.RenderKey, nil, nil)
		if r.status != http.StatusOK || r.header.Get("Cache-Control") != want {
			t.Errorf("GET %s: %d, Cache-Control %q; want 200, %q", path, r.status, r.header.Get("Cache-Control"), want)
		}
	}
}

// Served counts requests and body bytes per path class; Since is what
// happened in between.
func TestServed(t *testing.T) {
	s := start(t, Options{})
	do(t, s, "GET", "/d-solo/demo/panel?panelId=2", s.RenderKey, nil, nil)
	before := s.Served()
	js := do(t, s, "GET", "/public/build/grafana.js?boot=0", s.RenderKey, nil, nil)
	css := do(t, s, "GET", "/public/build/grafana.css", s.RenderKey, nil, nil)
	api := do(t, s, "GET", "/api/dashboards/uid/demo", s.RenderKey, nil, nil)
	got := Since(s.Served(), before)
	want := map[string]Traffic{
		ClassStatic: {Requests: 2, Bytes: int64(len(js.body) + len(css.body))},
		ClassAPI:    {Requests: 1, Bytes: int64(len(api.body))},
		ClassPage:   {},
	}
	for c, w := range want {
		if got[c] != w {
			t.Errorf("%s: served %+v, want %+v", c, got[c], w)
		}
	}
	if all := s.Served(); all[ClassPage].Requests != 1 || all[ClassPage].Bytes == 0 {
		t.Errorf("the page before: %+v, want 1 request and its bytes", all[ClassPage])
	}
}
