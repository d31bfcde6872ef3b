package server

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/panelcast/panelcast/pkg/quote"
	"github.com/panelcast/panelcast/pkg/render"
	"github.com/panelcast/panelcast/pkg/secret"
	"github.com/panelcast/panelcast/pkg/service"
)

// maxURLBytes bounds the page URL; Grafana refuses callback paths above
// 16 KiB itself, so a longer one is not from Grafana.
const maxURLBytes = 16 << 10

// maxTimeoutSeconds keeps a timeout far from time.Duration's overflow; the
// configured max_timeout refuses anything near it with its own sentence.
const maxTimeoutSeconds = 1e6

func badQuery(format string, a ...any) error {
	return fmt.Errorf("%w: %s", render.ErrBadRequest, fmt.Sprintf(format, a...))
}

// ParseRenderQuery reads the query of Grafana's GET /render (csv false) or
// GET /render/csv into a service request. It checks the syntax of each
// parameter; what the values mean (time zone spellings, PDF options, the
// limits, the page's origin) the service decides for both doors. Absent
// parameters stay zero, which the service fills with the configured
// defaults (Grafana sends no width or height for PDF and CSV). Errors wrap
// render.ErrBadRequest and never repeat the render key.
func ParseRenderQuery(q url.Values, csv bool) (service.GrafanaRender, error) {
	var g service.GrafanaRender
	g.URL = strings.TrimSpace(q.Get("url"))
	if g.URL == "" {
		return g, badQuery("url is missing: send the page to render as the url parameter, as Grafana does")
	}
	if len(g.URL) > maxURLBytes {
		return g, badQuery("url is %d bytes, more than the %d a Grafana page URL can have", len(g.URL), maxURLBytes)
	}
	var err error
	var set bool
	if g.Width, set, err = intParam(q, "width"); err != nil {
		return g, err
	}
	if set && g.Width < 1 {
		return g, badQuery("width must be 1 or more CSS pixels, got %d", g.Width)
	}
	if g.Height, set, err = intParam(q, "height"); err != nil {
		return g, err
	}
	if set && g.Height < 1 && g.Height != render.FullPage {
		return g, badQuery("height must be 1 or more CSS pixels, or -1 for the full page, got %d", g.Height)
	}
	if s := strings.TrimSpace(q.Get("deviceScaleFactor")); s != "" {
		g.Scale, err = strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(g.Scale) || math.IsInf(g.Scale, 0) || g.Scale <= 0 {
			return g, badQuery("deviceScaleFactor must be a number above 0 such as 1 or 2, got %q", quote.Clip(s))
		}
	}
	if g.Timeout, err = parseTimeout(q.Get("timeout")); err != nil {
		return g, err
	}
	g.Timezone = strings.TrimSpace(q.Get("timezone"))
	g.RenderKey = secret.New(q.Get("renderKey"))
	g.Domain = strings.TrimSpace(q.Get("domain"))
	if !validDomain(g.Domain) {
		return g, badQuery("domain must be a host name such as grafana.example.com (Grafana's callback host), got %q", quote.Clip(g.Domain))
	}
	enc := strings.ToLower(strings.TrimSpace(q.Get("encoding")))
	if csv {
		// Grafana names the kind on this route too: encoding=csv.
		if enc != "" && enc != "csv" {
			return g, badQuery("encoding must be csv (or absent) on /render/csv, got %q", quote.Clip(enc))
		}
		return g, nil
	}
	switch enc {
	case "", string(render.PNG):
	case string(render.PDF):
		g.PDF = url.Values{}
		for name, v := range q {
			if strings.HasPrefix(name, "pdf.") {
				g.PDF[name] = v
			}
		}
	default:
		return g, badQuery("encoding must be png or pdf, got %q", quote.Clip(enc))
	}
	g.Encoding = enc
	return g, nil
}

// intParam reads a whole number; set is false when the parameter is absent
// or empty, which leaves the configured default.
func intParam(q url.Values, name string) (n int, set bool, err error) {
	s := strings.TrimSpace(q.Get(name))
	if s == "" {
		return 0, false, nil
	}
	if n, err = strconv.Atoi(s); err != nil {
		return 0, true, badQuery("%s must be a whole number of CSS pixels, got %q", name, quote.Clip(s))
	}
	return n, true, nil
}

var secondsPattern = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)

// parseTimeout reads seconds, as Grafana sends them ("30"), or a Go
// duration ("30s", "1m30s"), as grafana-image-renderer 5.x also accepts.
// Zero and absent both mean the configured default.
func parseTimeout(raw string) (time.Duration, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return 0, nil
	}
	if secondsPattern.MatchString(s) {
		secs, err := strconv.ParseFloat(s, 64)
		if err != nil || secs > maxTimeoutSeconds {
			return 0, badQuery("timeout %q is far above any max_timeout: send seconds such as 30", quote.Clip(s))
		}
		return time.Duration(secs * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, badQuery("timeout must be a number of seconds such as 30 (or a duration such as 45s), got %q", quote.Clip(s))
	}
	return d, nil
}

// validDomain accepts what Grafana sends as the cookie domain: the host of
// its callback URL (a name, an IPv4 or an IPv6 address) or nothing.
func validDomain(d string) bool {
	if len(d) > 253 {
		return false
	}
	for _, c := range d {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(".-_:[]", c)) {
			return false
		}
	}
	return true
}
