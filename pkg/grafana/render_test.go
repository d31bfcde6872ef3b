package grafana

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/panelcast/panelcast/pkg/secret"
)

// /render takes the page's path under Grafana's (sub)path and query, plus
// its own width, height, tz and timeout in whole seconds.
func TestRenderURL(t *testing.T) {
	c := &Client{BaseURL: "https://grafana.example.com/grafana/"}
	got, err := c.RenderURL("https://grafana.example.com/grafana/d-solo/abc/cpu?panelId=2&var-host=a&var-host=b", 500, 250, "Europe/Berlin", 1500*time.Millisecond)
	want := "https://grafana.example.com/grafana/render/d-solo/abc/cpu?height=250&panelId=2&timeout=2&tz=Europe%2FBerlin&var-host=a&var-host=b&width=500"
	if err != nil || got != want {
		t.Errorf("RenderURL = %s, %v\nwant %s", got, err, want)
	}
	for _, page := range []string{"https://other.example.com/grafana/d-solo/abc", "https://grafana.example.com/d-solo/abc"} {
		if _, err := c.RenderURL(page, 1, 1, "", 0); err == nil || !strings.Contains(err.Error(), "is not a page of Grafana") {
			t.Errorf("%s: %v", page, err)
		}
	}
}

// Render sends the token as a bearer and tells Grafana's failures (its
// renderer, temporary) from refusals and from answers that are no PNG.
func TestRender(t *testing.T) {
	answer := func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Header.Get("Authorization") != "Bearer glsa_render":
			w.WriteHeader(http.StatusUnauthorized)
		case r.URL.Query().Get("panelId") == "500":
			w.WriteHeader(http.StatusInternalServerError)
		case r.URL.Query().Get("panelId") == "html":
			_, _ = w.Write([]byte("<html>login</html>"))
		default:
			_, _ = w.Write(append(append([]byte{}, pngMagic...), "rest"...))
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(answer))
	defer srv.Close()
	c := &Client{BaseURL: srv.URL, Token: secret.New("glsa_render")}
	ctx := context.Background()
	if img, err := c.Render(ctx, srv.URL+"/d-solo/x?panelId=2", 10, 10, "", 0); err != nil || !strings.HasPrefix(string(img), string(pngMagic)) {
		t.Errorf("render: %v", err)
	}
	for panel, want := range map[string]struct {
		temporary bool
		text      string
	}{"500": {true, "its renderer failed or is missing"}, "html": {false, "not a PNG"}} {
		_, err := c.Render(ctx, srv.URL+"/d-solo/x?panelId="+panel, 10, 10, "", 0)
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.Temporary() != want.temporary || !strings.Contains(err.Error(), want.text) {
			t.Errorf("panel %s: %v", panel, err)
		}
	}
	c.Token = secret.New("glsa_wrong")
	if _, err := c.Render(ctx, srv.URL+"/d-solo/x?panelId=2", 10, 10, "", 0); err == nil || !strings.Contains(err.Error(), "refused grafana_token (401)") ||
		strings.Contains(err.Error(), "glsa_wrong") {
		t.Errorf("wrong token: %v", err)
	}
}
