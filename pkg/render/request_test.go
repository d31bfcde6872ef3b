package render

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/panelcast/panelcast/pkg/secret"
)

func validRequest() Request {
	return Request{URL: "https://localhost:3000/d-solo/abc/x?orgId=1&panelId=2&render=1", Width: 1000, Height: 500,
		Scale: 1, Timeout: 30 * time.Second, Encoding: PNG}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Request)
		want string // "" = valid
	}{
		{"valid", func(*Request) {}, ""},
		{"full page", func(r *Request) { r.Height = FullPage }, ""},
		{"pdf a4", func(r *Request) { r.Encoding = PDF; r.PDF.Format = "A4" }, ""},
		{"file url", func(r *Request) { r.URL = "file:///etc/passwd" }, "only http and https"},
		{"chrome url", func(r *Request) { r.URL = "chrome://settings" }, "only http and https"},
		{"javascript url", func(r *Request) { r.URL = "javascript:alert(1)" }, "only http and https"},
		{"data url", func(r *Request) { r.URL = "data:text/html,hi" }, "only http and https"},
		{"no host", func(r *Request) { r.URL = "https:///x" }, "no host"},
		{"userinfo", func(r *Request) { r.URL = "https://a:b@localhost/" }, "user name"},
		{"width 0", func(r *Request) { r.Width = 0 }, "width must be 1..3000"},
		{"width huge", func(r *Request) { r.Width = 99999 }, "width must be"},
		{"height -2", func(r *Request) { r.Height = -2 }, "height must be"},
		{"scale 0", func(r *Request) { r.Scale = 0 }, "scale factor"},
		{"scale NaN", func(r *Request) { r.Scale = math.NaN() }, "scale factor"},
		{"scale too big", func(r *Request) { r.Scale = 5 }, "scale factor"},
		{"timeout 0", func(r *Request) { r.Timeout = 0 }, "timeout"},
		{"timeout huge", func(r *Request) { r.Timeout = time.Hour }, "timeout"},
		{"encoding gif", func(r *Request) { r.Encoding = "gif" }, "encoding"},
		{"pdf format", func(r *Request) { r.Encoding = PDF; r.PDF.Format = "b5" }, "pdf.format"},
		{"timezone junk", func(r *Request) { r.Timezone = "Not/AZone" }, "timezone"},
		{"timezone Local", func(r *Request) { r.Timezone = "Local" }, "timezone"},
		{"timezone path", func(r *Request) { r.Timezone = "../../etc/passwd" }, "timezone"},
		{"timezone fixed offset", func(r *Request) { r.Timezone = "GMT+05:30" }, ""},
		{"timezone offset beyond any zone", func(r *Request) { r.Timezone = "GMT+15:00" }, "timezone"},
		{"timezone offset Chromium refuses", func(r *Request) { r.Timezone = "UTC+05:30" }, "timezone"},
		{"header newline", func(r *Request) { r.Headers = map[string]string{"X": "a\r\nb: c"} }, "header"},
		{"header name", func(r *Request) { r.Headers = map[string]string{"Bad Name": "x"} }, "header"},
		{"cookie semicolon", func(r *Request) { r.Cookies = []Cookie{{Name: "renderKey", Value: secret.New("a;b")}} }, "cookie"},
	}
	limits := Limits{MaxWidth: 3000, MaxHeight: 3000, MaxScale: 4, MaxTimeout: 5 * time.Minute}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := validRequest()
			c.edit(&r)
			err := r.Validate(limits)
			if c.want == "" {
				if err != nil {
					t.Fatalf("valid request refused: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want a bad request mentioning %q", err, c.want)
			}
		})
	}
}

func TestGuard(t *testing.T) {
	g, err := NewGuard("https://Grafana.example.com", "http://localhost:3000/")
	if err != nil {
		t.Fatal(err)
	}
	for raw, ok := range map[string]bool{
		"https://grafana.example.com/d-solo/a/b": true,
		"https://grafana.example.com:443/d/a":    true,
		"http://localhost:3000/d/x":              true,
		"http://localhost:3001/d/x":              false,
		"https://localhost:3000/d/x":             false,
		"https://evil.example.com/":              false,
		"https://grafana.example.com.evil.com/":  false,
		"file:///etc/passwd":                     false,
		"javascript:alert(1)":                    false,
		"http://user:pw@localhost:3000/":         false,
		"http://[::1]:3000/":                     false,
	} {
		err := g.Check(raw)
		if (err == nil) != ok {
			t.Errorf("Check(%q) = %v, want allowed=%v", raw, err, ok)
		}
	}
}

func FuzzValidate(f *testing.F) {
	f.Add("https://localhost:3000/d-solo/a/b?x=1", 1000, 500, 1.0, "Europe/Berlin", "Accept-Language", "de")
	f.Add("javascript:alert(1)", -1, -1, math.Inf(1), "", "", "")
	f.Add("http://[::1]:80/", 1, 1, 0.5, "Etc/GMT+5", "X\r\n", "\x00")
	f.Fuzz(func(t *testing.T, u string, w, h int, scale float64, tz, hk, hv string) {
		r := Request{URL: u, Width: w, Height: h, Scale: scale, Timezone: tz, Timeout: time.Second, Encoding: PNG,
			Headers: map[string]string{hk: hv}}
		if err := r.Validate(Limits{MaxWidth: 3000, MaxHeight: 3000, MaxScale: 4, MaxTimeout: time.Minute}); err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("refusal is not a bad request: %v", err)
			}
			return
		}
		// Accepted requests hold the invariants the renderer relies on.
		if !(strings.HasPrefix(u, "http://") || strings.HasPrefix(strings.ToLower(u), "http")) || w < 1 || scale <= 0 || scale > 4 {
			t.Fatalf("accepted a request outside the limits: %+v", r)
		}
		if strings.ContainsAny(hv, "\r\n") {
			t.Fatalf("accepted a header value with a line break")
		}
	})
}
