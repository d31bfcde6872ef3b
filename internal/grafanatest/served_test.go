package grafanatest

import "testing"

// TestServedCountsEachClass: every answer's body is counted once, in the
// class of its path.
func TestServedCountsEachClass(t *testing.T) {
	s := start(t, Options{})
	before := s.Served()
	css := do(t, s, "GET", "/public/build/app.css", "", nil, nil)
	page := do(t, s, "GET", "/d-solo/scenes/panel?orgId=1&panelId=2", s.RenderKey, nil, nil)
	page2 := do(t, s, "GET", "/d-solo/scenes/panel?orgId=1&panelId=2", s.RenderKey, nil, nil)
	api := do(t, s, "GET", "/api/health", "", nil, nil)
	got := Since(s.Served(), before)
	want := map[string]Traffic{
		ClassStatic: {1, int64(len(css.body))},
		ClassPage:   {2, int64(len(page.body) + len(page2.body))},
		ClassAPI:    {1, int64(len(api.body))},
	}
	for class, w := range want {
		if got[class] != w || w.Bytes == 0 {
			t.Errorf("%s: served %+v, want %+v (and some bytes)", class, got[class], w)
		}
	}
}
