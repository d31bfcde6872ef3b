package service

import (
	"errors"
	"testing"
	"time"

	"github.com/panelcast/panelcast/pkg/config"
	"github.com/panelcast/panelcast/pkg/render"
	"github.com/panelcast/panelcast/pkg/secret"
)

func TestRequestFillsDefaults(t *testing.T) {
	cfg := config.Default()
	cfg.Timezone, cfg.Language = "Europe/Berlin", "de-DE"
	s := &Service{cfg: cfg}
	cases := []struct {
		name  string
		in    GrafanaRender
		check func(t *testing.T, r render.Request)
	}{
		{"zero values take the configured defaults", GrafanaRender{URL: "https://g/d-solo/a/b"}, func(t *testing.T, r render.Request) {
			if r.Width != 1000 || r.Height != 500 || r.Scale != 1 || r.Timeout != 30*time.Second || r.Encoding != render.PNG ||
				r.Timezone != "Europe/Berlin" || r.Headers["Accept-Language"] != "de-DE" || len(r.Cookies) != 0 {
				t.Errorf("%+v", r)
			}
		}},
		{"Grafana's values win", GrafanaRender{URL: "https://g/", Width: 800, Height: -1, Scale: 2, Timeout: 5 * time.Second,
			Timezone: "Asia/Tokyo", Encoding: "PDF", RenderKey: secret.New("k"), Domain: "localhost",
			Headers: map[string][]string{"accept-language": {"fr-FR", "en"}}}, func(t *testing.T, r render.Request) {
			if r.Width != 800 || r.Height != -1 || r.Scale != 2 || r.Timeout != 5*time.Second || r.Timezone != "Asia/Tokyo" ||
				r.Encoding != render.PDF || r.Headers["Accept-Language"] != "fr-FR, en" {
				t.Errorf("%+v", r)
			}
			if len(r.Cookies) != 1 || r.Cookies[0] != (render.Cookie{Name: "renderKey", Value: secret.New("k"), Domain: "localhost"}) {
				t.Errorf("cookies %+v", r.Cookies)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := s.Request(c.in)
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, r)
		})
	}
}

func TestCheckRendererToken(t *testing.T) {
	open := &Service{cfg: config.Config{}}
	if err := open.CheckRendererToken("-"); err != nil {
		t.Errorf("no tokens configured must accept Grafana's default '-': %v", err)
	}
	s := &Service{cfg: config.Config{AuthTokens: secret.List("old", "new")}}
	for tok, ok := range map[string]bool{"old": true, "new": true, "": false, "-": false, "ne": false, "newer": false} {
		err := s.CheckRendererToken(tok)
		if (err == nil) != ok || (err != nil && !errors.Is(err, ErrUnauthorized)) {
			t.Errorf("token %q: %v", tok, err)
		}
	}
}
