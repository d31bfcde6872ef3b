package service

import (
	"errors"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/panelcast/panelcast/pkg/config"
	"github.com/panelcast/panelcast/pkg/render"
)

// What Grafana sends as the time zone, and what the browser is given.
func TestGrafanaTimezone(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{in: "Europe/Berlin", want: "Europe/Berlin"},
		{in: "Etc/GMT+5", want: "Etc/GMT+5"}, // IANA, POSIX sign: UTC-5
		{in: "", want: ""},                   // alert screenshots: the configured default
		{in: "browser", want: ""},
		{in: " Default ", want: ""},
		{in: "utc", want: "UTC"},
		{in: "UTC", want: "UTC"},
		{in: "UTC-05:00", want: "Etc/GMT-5"}, // the dashboard's UTC+05:00, inverted by Grafana
		{in: "UTC+05:00", want: "Etc/GMT+5"},
		{in: "UTC-5", want: "Etc/GMT-5"},
		{in: "GMT+0300", want: "Etc/GMT+3"},
		{in: "UTC 02:00", want: "Etc/GMT+2"},     // a "+" a query string decoded to a space
		{in: "UTC-05:30", want: "GMT+05:30"},     // no Etc/GMT zone: ICU's fixed offset, usual sign
		{in: "UTC+03:30", want: "GMT-03:30"},     // the dashboard's UTC-03:30
		{in: "UTC-05:45", want: "GMT+05:45"},     // Nepal
		{in: "UTC-14:00", want: "Etc/GMT-14"},    // Kiribati
		{in: "UTC+12:00", want: "Etc/GMT+12"},    // Baker Island
		{in: "UTC+13:00", want: "GMT-13:00"},     // west of any Etc/GMT zone
		{in: "UTC+00:00", want: "UTC"},           // both signs of zero
		{in: "UTC%2B05%3A30", want: "GMT+05:30"}, // scenes: the dashboard's own (ISO) offset, encoded
		{in: "UTC%2D03%3A00", want: "Etc/GMT+3"},
		{in: "Europe%2FBerlin", want: "Europe/Berlin"},
		{in: "UTC-15:00", err: "no UTC offset in use"},
		{in: "UTC-05:75", err: "no UTC offset in use"},
		{in: "UTC%zz", err: "not a time zone"},
	} {
		got, err := GrafanaTimezone(c.in)
		switch {
		case c.err != "":
			if err == nil || !errors.Is(err, render.ErrBadRequest) || !strings.Contains(err.Error(), c.err) {
				t.Errorf("GrafanaTimezone(%q) = %q, %v; want an error with %q", c.in, got, err, c.err)
			}
		case err != nil || got != c.want:
			t.Errorf("GrafanaTimezone(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

// offsetOf is the UTC offset a zone the mapping returns has at
// 2024-01-01, from Go's zone database or the ICU form.
func offsetOf(t *testing.T, zone string) time.Duration {
	t.Helper()
	if m := regexp.MustCompile(`^GMT([+-])([0-9]{2}):([0-9]{2})$`).FindStringSubmatch(zone); m != nil {
		h, _ := strconv.Atoi(m[2])
		mins, _ := strconv.Atoi(m[3])
		d := time.Duration(h)*time.Hour + time.Duration(mins)*time.Minute
		if m[1] == "-" {
			d = -d
		}
		return d
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatalf("zone %q: %v", zone, err)
	}
	_, off := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC).In(loc).Zone()
	return time.Duration(off) * time.Second
}

// Whatever offset Grafana sends, the browser's zone has the offset the
// dashboard meant, and passes the renderer's validation.
func FuzzGrafanaTimezone(f *testing.F) {
	for _, s := range []string{"UTC-05:00", "UTC+05:30", "UTC%2B05%3A30", "utc", "browser", "Europe/Berlin", "GMT-0945", "UTC-14", "UTC%", "Etc/GMT+12"} {
		f.Add(s)
	}
	posix := regexp.MustCompile(`^(?i:UTC|GMT)([+-])([0-9]{1,2})(?::?([0-9]{2}))?$`)
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := GrafanaTimezone(raw)
		if err != nil {
			if !errors.Is(err, render.ErrBadRequest) {
				t.Fatalf("error does not wrap ErrBadRequest: %v", err)
			}
			return
		}
		m := posix.FindStringSubmatch(strings.TrimSpace(raw))
		if m == nil || strings.Contains(raw, "%") {
			return
		}
		h, _ := strconv.Atoi(m[2])
		mins := 0
		if m[3] != "" {
			mins, _ = strconv.Atoi(m[3])
		}
		want := time.Duration(h)*time.Hour + time.Duration(mins)*time.Minute
		if m[1] == "+" { // POSIX: + is west of UTC
			want = -want
		}
		if off := offsetOf(t, got); off != want {
			t.Fatalf("%q became %q, offset %s, want %s", raw, got, off, want)
		}
		r := render.Request{URL: "https://g/", Width: 1, Height: 1, Scale: 1, Timeout: time.Second, Encoding: render.PNG, Timezone: got}
		if err := r.Validate(render.Limits{MaxWidth: 1, MaxHeight: 1, MaxScale: 1, MaxTimeout: time.Second}); err != nil {
			t.Fatalf("%q became %q, which the renderer refuses: %v", raw, got, err)
		}
	})
}

func TestRequestPDFAndGuard(t *testing.T) {
	cfg := config.Default()
	cfg.GrafanaURL = "https://grafana.example:3000"
	s := &Service{cfg: cfg}
	pdf := func(page string, params url.Values) (render.PDFOptions, error) {
		r, err := s.Request(GrafanaRender{URL: page, Encoding: "pdf", PDF: params})
		return r.PDF, err
	}
	// The plugin door's Grafana puts the options in the page URL.
	o, err := pdf("https://grafana.example:3000/d/abc?render=1&pdf.format=a5&pdf.landscape=true&pdf.printBackground=true&pdf.pageRanges=1-2", nil)
	if err != nil || o != (render.PDFOptions{Format: "a5", Landscape: true, PrintBackground: true, PageRanges: "1-2"}) {
		t.Errorf("page URL options: %+v %v", o, err)
	}
	// The HTTP door's parameters win over the page URL's.
	o, err = pdf("https://grafana.example:3000/d/abc?pdf.format=a5&pdf.landscape=true", url.Values{"pdf.format": {"letter"}, "pdf.landscape": {"false"}})
	if err != nil || o.Format != "letter" || o.Landscape {
		t.Errorf("query over page URL: %+v %v", o, err)
	}
	for _, c := range []struct {
		page   string
		params url.Values
		want   string
	}{
		{"https://grafana.example:3000/d/abc?pdf.landscape=maybe", nil, "pdf.landscape must be true or false"},
		{"https://grafana.example:3000/d/abc", url.Values{"pdf.pageRanges": {"one"}}, "pdf.pageRanges"},
		{"https://grafana.example:3000/d/abc?pdf.format=b5", nil, "pdf.format must be one of"},
	} {
		if _, err := pdf(c.page, c.params); err == nil || !errors.Is(err, render.ErrBadRequest) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v: err = %v, want %q", c.page, c.params, err, c.want)
		}
	}

	for page, forbidden := range map[string]bool{
		"https://grafana.example:3000/d-solo/a/b": false, "https://GRAFANA.example:3000/x": false,
		"https://evil.example/d-solo/a/b": true, "http://grafana.example:3000/d-solo/a/b": true, "file:///etc/passwd": true,
	} {
		_, err := s.Request(GrafanaRender{URL: page})
		if got := errors.Is(err, ErrForbiddenURL); got != forbidden || (forbidden && !errors.Is(err, render.ErrBadRequest)) {
			t.Errorf("%s: err = %v, want forbidden %v", page, err, forbidden)
		}
	}
	// Without grafana_url or allowed_origins (a plugin) any http(s) page
	// Grafana asks for is rendered; other schemes are still refused.
	open := &Service{cfg: config.Default()}
	if _, err := open.Request(GrafanaRender{URL: "https://localhost:3000/d-solo/a"}); err != nil {
		t.Errorf("plugin without origins: %v", err)
	}
	if _, err := open.Request(GrafanaRender{URL: "chrome://settings"}); err == nil {
		t.Error("chrome: URL accepted")
	}
	// Limits and time zones are checked for both doors here.
	for _, g := range []GrafanaRender{
		{URL: "https://grafana.example:3000/", Width: 5000},
		{URL: "https://grafana.example:3000/", Timezone: "Mars/Olympus"},
		{URL: "https://grafana.example:3000/", Timezone: "UTC-15:00"},
	} {
		if _, err := s.Request(g); !errors.Is(err, render.ErrBadRequest) {
			t.Errorf("%+v: err = %v", g, err)
		}
	}
}
