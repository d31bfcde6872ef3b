package grafana

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func mustURL(t testing.TB, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestSoloURL(t *testing.T) {
	base := mustURL(t, "https://grafana.example.com/sub")
	u, err := SoloURL(base, SoloPanel{DashboardUID: "abc-1_X", PanelID: 7, OrgID: 2, From: " now-6h ", To: "now",
		Vars: map[string][]string{"host": {"a", "b&c"}}, Theme: " Dark", Timezone: "Asia/Seoul"})
	if err != nil {
		t.Fatal(err)
	}
	if u.Host != "grafana.example.com" || u.Path != "/sub/d-solo/abc-1_X/_" {
		t.Errorf("URL %s", u)
	}
	want := url.Values{"panelId": {"7"}, "orgId": {"2"}, "from": {"now-6h"}, "to": {"now"}, "var-host": {"a", "b&c"},
		"theme": {"dark"}, "timezone": {"Asia/Seoul"}, "render": {"1"}}
	if got := u.Query().Encode(); got != want.Encode() {
		t.Errorf("query %s, want %s", got, want.Encode())
	}
	if base.Path != "/sub" || base.RawQuery != "" {
		t.Errorf("base changed: %s", base)
	}
}

func TestSoloURLRefusals(t *testing.T) {
	ok := SoloPanel{DashboardUID: "abc", PanelID: 1}
	with := func(f func(*SoloPanel)) SoloPanel { p := ok; f(&p); return p }
	cases := []struct {
		name  string
		p     SoloPanel
		field string
		want  string
	}{
		{"bad uid", with(func(p *SoloPanel) { p.DashboardUID = "a/../b" }), "dashboardUid", "is not a Grafana dashboard UID"},
		{"long uid", with(func(p *SoloPanel) { p.DashboardUID = strings.Repeat("a", 41) }), "dashboardUid", "1 to 40"},
		{"no panel", with(func(p *SoloPanel) { p.PanelID = 0 }), "panelId", "is missing"},
		{"negative org", with(func(p *SoloPanel) { p.OrgID = -3 }), "orgId", "got -3"},
		{"control in to", with(func(p *SoloPanel) { p.To = "no\rw" }), "to", "must be a time"},
		{"long from", with(func(p *SoloPanel) { p.From = strings.Repeat("1", 65) }), "from", "at most 64"},
		{"empty var", with(func(p *SoloPanel) { p.Vars = map[string][]string{"": {"x"}} }), "vars", "variable name"},
		{"huge value", with(func(p *SoloPanel) { p.Vars = map[string][]string{"x": {strings.Repeat("v", 4097)}} }), "vars.x", "too long"},
		{"theme", with(func(p *SoloPanel) { p.Theme = "blue" }), "theme", "light or dark"},
		{"timezone", with(func(p *SoloPanel) { p.Timezone = "Mars/Olympus" }), "timezone", "IANA"},
		{"local", with(func(p *SoloPanel) { p.Timezone = "Local" }), "timezone", "IANA"},
	}
	many := map[string][]string{}
	for i := range 101 {
		many[strings.Repeat("v", i+1)] = nil
	}
	cases = append(cases, struct {
		name  string
		p     SoloPanel
		field string
		want  string
	}{"many vars", with(func(p *SoloPanel) { p.Vars = many }), "vars", "at most 100"})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := SoloURL(mustURL(t, "http://g"), c.p)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != c.field || !strings.Contains(err.Error(), c.want) ||
				!strings.HasPrefix(err.Error(), c.field+" ") {
				t.Errorf("err = %v, want field %s saying %q", err, c.field, c.want)
			}
		})
	}
}

func TestOnGrafana(t *testing.T) {
	base := mustURL(t, "https://grafana.example.com/grafana")
	cases := []struct {
		raw, want, uid string
	}{
		{"https://GRAFANA.example.com:443/grafana/d/uid9/x?viewPanel=3#frag", "https://GRAFANA.example.com:443/grafana/d/uid9/x?viewPanel=3", "uid9"},
		{"https://grafana.example.com/grafana/d-solo/u/_?panelId=1", "https://grafana.example.com/grafana/d-solo/u/_?panelId=1", "u"},
		{"https://grafana.example.com/grafana/render-test", "https://grafana.example.com/grafana/render-test", ""},
		{"https://grafana.example.com/grafana/d/bad!uid/x", "https://grafana.example.com/grafana/d/bad!uid/x", ""},
	}
	for _, c := range cases {
		u, err := OnGrafana(c.raw, base)
		if err != nil || u.String() != c.want {
			t.Errorf("%s: %v %v", c.raw, u, err)
			continue
		}
		if got := DashboardUID(u, base); got != c.uid {
			t.Errorf("%s: uid %q, want %q", c.raw, got, c.uid)
		}
	}
	for raw, want := range map[string]string{
		"https://evil.example.com/grafana/d/a":     "is not on Grafana",
		"http://grafana.example.com/grafana/d/a":   "is not on Grafana",
		"https://grafana.example.com:8443/grafana": "is not on Grafana",
		"https://grafana.example.com/grafanax/d/a": "is not on Grafana",
		"https://u:p@grafana.example.com/grafana/": "user name or password",
		"javascript:alert(1)":                      "is not an http(s) URL",
		"/grafana/d/a":                             "is not an http(s) URL",
	} {
		_, err := OnGrafana(raw, base)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != "url" || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", raw, err, want)
		}
	}
}

func TestForRender(t *testing.T) {
	u := mustURL(t, "http://g/d/a/b?orgId=1&render=0")
	if err := ForRender(u, "LIGHT", ""); err != nil {
		t.Fatal(err)
	}
	if got := u.Query().Encode(); got != "orgId=1&render=1&theme=light" {
		t.Errorf("query %s", got)
	}
}
