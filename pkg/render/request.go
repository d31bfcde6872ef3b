package render

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/panelcast/panelcast/pkg/quote"
	"github.com/panelcast/panelcast/pkg/secret"
)

// Encoding is the output format.
type Encoding string

const (
	PNG Encoding = "png"
	PDF Encoding = "pdf"
)

// FullPage as Height captures the whole page, as Grafana asks for full
// dashboards.
const FullPage = -1

// Request is one render: which page, how big, and what the browser presents.
type Request struct {
	URL string
	// Width and Height are CSS pixels; Height may be FullPage.
	Width, Height int
	// Scale is the device scale factor: the PNG is Width*Scale x Height*Scale.
	Scale float64
	// Timezone is an IANA name ("Europe/Berlin", "Etc/GMT+5") or ICU's fixed
	// offset GMT+05:30 (usual sign: east of UTC); "" keeps the machine's.
	Timezone string
	// Headers are sent with every request the page makes (e.g. Accept-Language).
	Headers map[string]string
	// OriginHeaders are sent only to the page's own origin (Grafana's), e.g. a
	// service-account Authorization header that must not leak to other hosts;
	// their values are secrets.
	OriginHeaders map[string]secret.Value
	// Cookies are set before navigation (Grafana's renderKey).
	Cookies []Cookie
	// Timeout bounds the whole render, queueing included.
	Timeout  time.Duration
	Encoding Encoding
	PDF      PDFOptions
}

// Cookie is set for Domain (the URL's host when empty); its value is a
// secret.
type Cookie struct {
	Name   string
	Value  secret.Value
	Domain string
}

// PDFOptions follow Grafana's pdf.* parameters.
type PDFOptions struct {
	Format          string // a4, a3, a5, letter, legal, tabloid
	Landscape       bool
	PrintBackground bool
	PageRanges      string
}

// Limits bound what a request may ask for.
type Limits struct {
	MaxWidth, MaxHeight int
	MaxScale            float64
	MaxTimeout          time.Duration
}

// ErrBadRequest marks a request that can never succeed as asked.
var ErrBadRequest = errors.New("bad render request")

// BadRequest is an ErrBadRequest with a sentence, for every check of a
// request, in this package and the service's.
func BadRequest(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrBadRequest, fmt.Sprintf(format, a...))
}

var paperSizes = map[string][2]float64{ // inches, portrait
	"a3": {11.69, 16.54}, "a4": {8.27, 11.69}, "a5": {5.83, 8.27},
	"letter": {8.5, 11}, "legal": {8.5, 14}, "tabloid": {11, 17},
}

// Validate checks a request against the limits and the URL rules: only
// http(s) URLs with a host. Which hosts are allowed is the caller's policy
// (see Guard).
func (r *Request) Validate(l Limits) error {
	if err := checkURL(r.URL); err != nil {
		return err
	}
	if r.Width < 1 || r.Width > l.MaxWidth {
		return BadRequest("width must be 1..%d, got %d", l.MaxWidth, r.Width)
	}
	if r.Height != FullPage && (r.Height < 1 || r.Height > l.MaxHeight) {
		return BadRequest("height must be 1..%d (or -1 for the full page), got %d", l.MaxHeight, r.Height)
	}
	if !(r.Scale > 0 && r.Scale <= l.MaxScale) { // also refuses NaN
		return BadRequest("device scale factor must be above 0 and at most %g, got %g", l.MaxScale, r.Scale)
	}
	if r.Timeout < time.Second || r.Timeout > l.MaxTimeout {
		return BadRequest("timeout must be between 1s and %s, got %s", l.MaxTimeout, r.Timeout)
	}
	switch r.Encoding {
	case PNG, PDF:
	default:
		return BadRequest("encoding must be png or pdf, got %q", r.Encoding)
	}
	if r.Encoding == PDF && r.PDF.Format != "" {
		if _, ok := paperSizes[strings.ToLower(r.PDF.Format)]; !ok {
			return BadRequest("pdf.format must be one of a3, a4, a5, letter, legal, tabloid, got %q", r.PDF.Format)
		}
	}
	if r.Timezone != "" && !validTimezone(r.Timezone) {
		return BadRequest("timezone %q is not an IANA name such as Europe/Berlin nor an offset such as UTC+05:30", r.Timezone)
	}
	for k, v := range r.Headers {
		if !validHeader(k, v) {
			return BadRequest("header %q has characters HTTP does not allow", k)
		}
	}
	for k, v := range r.OriginHeaders {
		if !validHeader(k, v.Reveal()) {
			return BadRequest("header %q has characters HTTP does not allow", k)
		}
	}
	for _, c := range r.Cookies {
		if c.Name == "" || strings.ContainsAny(c.Name+c.Value.Reveal(), ";\r\n\x00") {
			return BadRequest("cookie %q is not a valid cookie", c.Name)
		}
	}
	return nil
}

func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return BadRequest("url %q does not parse: %v", quote.Clip(raw), err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return BadRequest("only http and https URLs are rendered, not %q", u.Scheme+":")
	}
	if u.Host == "" || u.Hostname() == "" {
		return BadRequest("url %q has no host", quote.Clip(raw))
	}
	if u.User != nil {
		return BadRequest("url must not carry a user name or password")
	}
	return nil
}

// icuOffset is ICU's custom zone id for a fixed offset, which Chromium's
// Emulation.setTimezoneOverride accepts (checked with Chromium 156; it
// refuses "UTC+05:30" and lower-case "utc").
var icuOffset = regexp.MustCompile(`^GMT[+-](0[0-9]|1[0-4]):[0-5][0-9]$`)

// validTimezone accepts names Chromium's ICU knows; Go's zone database is
// a good proxy, and it refuses path tricks and junk.
func validTimezone(tz string) bool {
	if icuOffset.MatchString(tz) {
		return true
	}
	if len(tz) > 64 || strings.Contains(tz, "..") {
		return false
	}
	_, err := time.LoadLocation(tz)
	return err == nil && tz != "Local"
}

func validHeader(k, v string) bool {
	if k == "" || len(k) > 256 || len(v) > 8192 {
		return false
	}
	for _, c := range k {
		if c <= ' ' || c >= 0x7f || strings.ContainsRune("()<>@,;:\\\"/[]?={}", c) {
			return false
		}
	}
	return !strings.ContainsAny(v, "\r\n\x00")
}

// Origin returns scheme://host:port of an http(s) URL, lower-cased, with the
// default port made explicit so "https://g" and "https://g:443" match.
func Origin(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return "", fmt.Errorf("%q is not an http(s) URL", quote.Clip(raw))
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return u.Scheme + "://" + host + ":" + port, nil
}

// Guard allows only URLs on the given origins.
type Guard struct {
	origins map[string]bool
}

// NewGuard builds a guard from origins or URLs on them.
func NewGuard(allowed ...string) (*Guard, error) {
	g := &Guard{origins: map[string]bool{}}
	for _, a := range allowed {
		o, err := Origin(a)
		if err != nil {
			return nil, err
		}
		g.origins[o] = true
	}
	return g, nil
}

// Check refuses URLs that are not http(s) on an allowed origin.
func (g *Guard) Check(raw string) error {
	if err := checkURL(raw); err != nil {
		return err
	}
	o, _ := Origin(raw)
	if !g.origins[o] {
		return BadRequest("url is on %s, which is not an allowed Grafana origin: add it to allowed_origins or grafana_url", o)
	}
	return nil
}
