package httpapi

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/panelcast/panelcast/pkg/render"
	"github.com/panelcast/panelcast/pkg/service"
)

// Whatever the body, decoding and planning a push either refuse it with a
// sentence or produce a render URL on Grafana's origin, under its path,
// with render=1, and an address of a configured provider.
func FuzzPushBody(f *testing.F) {
	for _, seed := range []string{
		goodPush,
		`{"panel": {"url": "https://grafana.example.com/sub/d/abc/x?orgId=1&viewPanel=2"}, "to": "slack:C0123ABCD"}`,
		`{"panel": {"dashboardUid": "a_b-c", "panelId": 9, "orgId": 3, "from": 1700000000000, "to": "now", "vars": {"x": ["1", 2, true], "y": "z"}, "width": 300, "height": 200, "theme": "light", "timezone": "Asia/Tokyo"}, "to": "slack:#ops", "text": "t", "thread": "th"}`,
		`{"panel": {"url": "https://evil.example.com/d/abc"}, "to": "slack:#ops"}`,
		`{"panel": {"url": "javascript:alert(1)"}, "to": "slack:#ops"}`,
		`{"panel": {"dashboardUid": "../../x", "panelId": -1}, "to": "teams:#x"}`,
		`{"panel": {"dashboardUid": "abc", "panelId": 2, "vars": {"": null}}, "to": "slack:#ops"}`,
		`{"panel": null, "to": ":"}`,
		`{"to": "slack:#ops", "text": "\u0000"}`,
		`[]`, `null`, `"x"`, `{`, ``,
	} {
		f.Add([]byte(seed))
	}
	check := planChecker()
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decode(bytes.NewReader(body))
		if err != nil {
			if msg := err.Error(); msg == "" || strings.HasPrefix(msg, "json:") {
				t.Fatalf("decode error %q is not a sentence", msg)
			}
			return
		}
		check(t, req)
	})
}

// Whatever the body of a console render, decoding it either refuses it
// with a sentence or yields a panel that plans as a push's does.
func FuzzRenderBody(f *testing.F) {
	for _, seed := range []string{
		`{"panel": {"dashboardUid": "demo", "panelId": 2, "from": "now-6h", "to": "now", "width": 800}}`,
		`{"panel": {"url": "https://grafana.example.com/sub/d-solo/abc/x?panelId=2"}}`,
		`{"panel": {"url": "https://evil.example.com/d/abc"}}`,
		`{"panel": {"dashboardUid": "abc", "panelId": 2}, "to": "slack:#ops"}`,
		`{"panel": {"dashboardUid": 7}}`,
		`{"panel": null}`, `{}`, `[]`, `{`, ``,
	} {
		f.Add([]byte(seed))
	}
	check := planChecker()
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := DecodeRender(bytes.NewReader(body))
		if err != nil {
			if msg := err.Error(); msg == "" || strings.HasPrefix(msg, "json:") || strings.Contains(msg, "a push") {
				t.Fatalf("decode error %q is not a sentence about a render", msg)
			}
			return
		}
		check(t, service.PushRequest{Panel: p, To: "inbox:demo"})
	})
}

// planChecker plans a decoded push and fails unless it is refused with a
// reason or renders a URL on Grafana's origin, under its path, with
// render=1, for an address of a configured provider (Slack) or the inbox.
func planChecker() func(*testing.T, service.PushRequest) {
	cfg := testConfig()
	cfg.GrafanaURL = "https://grafana.example.com/sub/"
	svc := service.New(context.Background(), service.Options{Config: cfg})
	grafana, _ := render.Origin(cfg.GrafanaURL)
	return func(t *testing.T, req service.PushRequest) {
		t.Helper()
		plan, err := svc.PlanPush(req, "")
		if err != nil {
			if !errors.Is(err, service.ErrBadPush) || len(err.Error()) <= len("bad push: ") {
				t.Fatalf("plan error %v is not a bad push with a reason", err)
			}
			return
		}
		u, err := url.Parse(plan.Render.URL)
		if err != nil {
			t.Fatalf("render URL %q does not parse: %v", plan.Render.URL, err)
		}
		if o, _ := render.Origin(plan.Render.URL); o != grafana || !strings.HasPrefix(u.Path+"/", "/sub/") {
			t.Fatalf("render URL %q is not under Grafana's URL %s", plan.Render.URL, cfg.GrafanaURL)
		}
		if u.Query().Get("render") != "1" || u.User != nil || u.Fragment != "" {
			t.Fatalf("render URL %q", plan.Render.URL)
		}
		if r := plan.Render; r.Width < 1 || r.Width > cfg.MaxWidth || r.Height < 1 || r.Height > cfg.MaxHeight {
			t.Fatalf("size %dx%d", r.Width, r.Height)
		}
		if (plan.Address.Provider != "slack" && plan.Address.Provider != "inbox") || plan.Address.Channel == "" {
			t.Fatalf("address %v; only slack and the inbox are there", plan.Address)
		}
	}
}
