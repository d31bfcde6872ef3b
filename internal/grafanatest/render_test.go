package grafanatest

import (
	"image/color"
	"image/png"
	"net/http"
	"strings"
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
