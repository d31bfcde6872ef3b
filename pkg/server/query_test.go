package server

import (
	"errors"
	"math"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/panelcast/panelcast/pkg/render"
	"github.com/panelcast/panelcast/pkg/service"
)

// grafanaQuery is what Grafana 13 sends for a PNG (pkg/services/rendering:
// deviceScaleFactor with six decimals, timeout in whole seconds).
func grafanaQuery() url.Values {
	return url.Values{
		"url":               {"http://grafana:3000/d-solo/abc/slug?orgId=1&panelId=2&render=1"},
		"width":             {"1000"},
		"height":            {"500"},
		"deviceScaleFactor": {"1.000000"},
		"timeout":           {"60"},
		"timezone":          {"Europe/Berlin"},
		"renderKey":         {"k3y"},
		"domain":            {"grafana"},
		"encoding":          {"png"},
	}
}

func TestParseRenderQueryGrafana(t *testing.T) {
	g, err := ParseRenderQuery(grafanaQuery(), false)
	if err != nil {
		t.Fatal(err)
	}
	if g.URL != grafanaQuery().Get("url") || g.Width != 1000 || g.Height != 500 || g.Scale != 1 ||
		g.Timeout != time.Minute || g.Timezone != "Europe/Berlin" || g.RenderKey.Reveal() != "k3y" || g.Domain != "grafana" || g.Encoding != "png" {
		t.Errorf("parsed %+v", g)
	}
}

func TestParseRenderQueryForms(t *testing.T) {
	cases := []struct {
		name  string
		set   map[string]string
		csv   bool
		check func(t *testing.T, g service.GrafanaRender)
	}{
		{"full page", map[string]string{"height": "-1"}, false, func(t *testing.T, g service.GrafanaRender) {
			if g.Height != render.FullPage {
				t.Errorf("height %d", g.Height)
			}
		}},
		{"pdf without size", map[string]string{"encoding": "pdf", "width": "", "height": "", "pdf.format": "a4", "pdf.landscape": "true", "pdf.printBackground": "1", "pdf.pageRanges": "1-3, 5"}, false, func(t *testing.T, g service.GrafanaRender) {
			want := url.Values{"pdf.format": {"a4"}, "pdf.landscape": {"true"}, "pdf.printBackground": {"1"}, "pdf.pageRanges": {"1-3, 5"}}
			if g.Width != 0 || g.Height != 0 || !reflect.DeepEqual(g.PDF, want) {
				t.Errorf("parsed %+v", g)
			}
		}},
		{"timeout as duration", map[string]string{"timeout": "1m30s"}, false, func(t *testing.T, g service.GrafanaRender) {
			if g.Timeout != 90*time.Second {
				t.Errorf("timeout %s", g.Timeout)
			}
		}},
		{"timeout zero is the default", map[string]string{"timeout": "0"}, false, func(t *testing.T, g service.GrafanaRender) {
			if g.Timeout != 0 {
				t.Errorf("timeout %s", g.Timeout)
			}
		}},
		{"time zone as Grafana sent it (the service maps it)", map[string]string{"timezone": " UTC-02:00 "}, false, func(t *testing.T, g service.GrafanaRender) {
			if g.Timezone != "UTC-02:00" {
				t.Errorf("timezone %q", g.Timezone)
			}
		}},
		{"csv", map[string]string{"encoding": "csv", "width": "", "height": "", "deviceScaleFactor": ""}, true, func(t *testing.T, g service.GrafanaRender) {
			if g.Encoding != "" || g.Width != 0 {
				t.Errorf("parsed %+v", g)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := grafanaQuery()
			for k, v := range c.set {
				if v == "" {
					q.Del(k)
				} else {
					q.Set(k, v)
				}
			}
			g, err := ParseRenderQuery(q, c.csv)
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, g)
		})
	}
}

// FuzzParseRenderQuery feeds raw query strings to the parser: it must never
// panic, refuse only with ErrBadRequest and never echo the render key, and
// what it accepts must be within the shapes the service expects.
func FuzzParseRenderQuery(f *testing.F) {
	f.Add(grafanaQuery().Encode())
	for _, s := range []string{
		"url=x&width=0", "url=x&height=-1&deviceScaleFactor=NaN", "url=x&timeout=1e309", "url=x&timeout=99999999999999999999",
		"url=x&timezone=UTC%2B05%3A30", "url=x&encoding=pdf&pdf.pageRanges=1-,-3", "url=x&domain=%5B%3A%3A1%5D",
		"url=http%3A%2F%2Fg%2Fd%3Fpdf.landscape%3Dmaybe&encoding=pdf", "url=x&deviceScaleFactor=-0", "url=x&width=9223372036854775808",
		"url=x&timeout=-1s", "url=x&encoding=CSV", "%zz&url=x",
	} {
		f.Add(s)
	}
	const secret = "rk-7f3a9c-SECRET"
	f.Fuzz(func(t *testing.T, raw string) {
		q, _ := url.ParseQuery(raw)
		if strings.Contains(raw, secret) {
			t.Skip()
		}
		q.Set("renderKey", secret)
		for _, csv := range []bool{false, true} {
			g, err := ParseRenderQuery(q, csv)
			if err != nil {
				if !errors.Is(err, render.ErrBadRequest) {
					t.Fatalf("error does not wrap ErrBadRequest: %v", err)
				}
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error repeats the render key: %v", err)
				}
				continue
			}
			if g.URL == "" || len(g.URL) > maxURLBytes {
				t.Fatalf("accepted url of %d bytes", len(g.URL))
			}
			if g.Width < 0 || (g.Height < 1 && g.Height != 0 && g.Height != render.FullPage) {
				t.Fatalf("accepted size %dx%d", g.Width, g.Height)
			}
			if g.Scale < 0 || math.IsNaN(g.Scale) || math.IsInf(g.Scale, 0) {
				t.Fatalf("accepted scale %g", g.Scale)
			}
			if g.Timeout < 0 {
				t.Fatalf("accepted timeout %s from %q", g.Timeout, q.Get("timeout"))
			}
			switch g.Encoding {
			case "", "png", "pdf":
			default:
				t.Fatalf("accepted encoding %q", g.Encoding)
			}
			if csv && g.Encoding != "" {
				t.Fatalf("csv got encoding %q", g.Encoding)
			}
			if g.RenderKey.Reveal() != secret {
				t.Fatalf("render key changed to %q", g.RenderKey.Reveal())
			}
		}
	})
}
