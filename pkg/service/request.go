package service

import (
	"errors"
	"fmt"
	"net/textproto"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/panelcast/panelcast/pkg/config"
	"github.com/panelcast/panelcast/pkg/quote"
	"github.com/panelcast/panelcast/pkg/render"
	"github.com/panelcast/panelcast/pkg/secret"
)

// GrafanaRender is a render as Grafana asks for it, through either door,
// with Grafana's own spellings: zero values mean "use the configured
// default". The doors only translate their protocol into it; what Grafana's
// values mean (time zones, PDF options in the page URL, which origins may
// be rendered, the limits) is decided here, once for both.
type GrafanaRender struct {
	URL    string
	Width  int
	Height int
	Scale  float64
	// Timeout is the whole render's; 0 is the configured timeout.
	Timeout time.Duration
	// Timezone is what Grafana sent: an IANA name, UTC/utc, browser,
	// empty, a POSIX offset (UTC-05:00 is five hours east of UTC), or a
	// percent-encoded ISO offset (UTC%2B05%3A30); see GrafanaTimezone.
	Timezone string
	// RenderKey is the renderKey cookie's value Grafana gave the render.
	RenderKey secret.Value
	Domain    string
	Headers   map[string][]string
	Encoding  string
	// PDF holds the pdf.* parameters the HTTP door received (pdf.format,
	// pdf.landscape, pdf.printBackground, pdf.pageRanges); the page URL's
	// own pdf.* parameters, where the plugin door's Grafana puts them, fill
	// the rest.
	PDF url.Values
}

// Request turns Grafana's request into the renderer's: the configured
// defaults, Grafana's time zone spellings, the PDF options, then the
// limits and the URL guard. Errors wrap render.ErrBadRequest, and
// ErrForbiddenURL when the guard refused the page.
func (s *Service) Request(g GrafanaRender) (render.Request, error) {
	c := s.cfg
	req := render.Request{URL: strings.TrimSpace(g.URL), Width: g.Width, Height: g.Height, Scale: g.Scale, Timeout: g.Timeout,
		Encoding: render.Encoding(strings.ToLower(strings.TrimSpace(g.Encoding))), Headers: map[string]string{}}
	if req.Width == 0 {
		req.Width = c.Width
	}
	if req.Height == 0 {
		req.Height = c.Height
	}
	if req.Scale == 0 {
		req.Scale = c.Scale
	}
	if req.Timeout == 0 {
		req.Timeout = c.Timeout
	}
	if req.Encoding == "" {
		req.Encoding = render.PNG
	}
	var err error
	if req.Timezone, err = GrafanaTimezone(g.Timezone); err != nil {
		return req, err
	}
	if req.Timezone == "" {
		req.Timezone = c.Timezone
	}
	if req.Encoding == render.PDF {
		if req.PDF, err = pdfOptions(g.PDF, req.URL); err != nil {
			return req, err
		}
	}
	for k, v := range g.Headers {
		if len(v) > 0 {
			req.Headers[textproto.CanonicalMIMEHeaderKey(k)] = strings.Join(v, ", ")
		}
	}
	if _, ok := req.Headers["Accept-Language"]; !ok && c.Language != "" {
		req.Headers["Accept-Language"] = c.Language
	}
	if g.RenderKey.IsSet() {
		req.Cookies = append(req.Cookies, render.Cookie{Name: "renderKey", Value: g.RenderKey, Domain: strings.TrimSpace(g.Domain)})
	}
	if err := s.checkOrigin(req.URL); err != nil {
		return req, err
	}
	return req, req.Validate(Limits(c))
}

// ErrForbiddenURL marks a page the URL guard refused (it also wraps
// render.ErrBadRequest).
var ErrForbiddenURL = errors.New("forbidden url")

// checkOrigin is the URL guard: only http(s) pages, on the allowed origins
// when the configuration names any (see AllowedOrigins). A plugin without
// grafana_url or allowed_origins renders what Grafana asks for on any
// origin: Grafana is its only caller, and its callback URL need not be the
// app URL the plugin could learn.
func (s *Service) checkOrigin(page string) error {
	origins, err := AllowedOrigins(s.cfg)
	if err != nil {
		return nil //nolint:nilerr // no origin is configured: Validate still refuses anything but http(s) with a host
	}
	guard, err := render.NewGuard(origins...)
	if err == nil {
		err = guard.Check(page)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrForbiddenURL, err)
	}
	return nil
}

// AllowedOrigins are the origins whose pages may be rendered: grafana_url's
// and those in allowed_origins. Grafana asks for pages on its callback_url,
// so that is what grafana_url must be. With neither set it is an error,
// which the HTTP door refuses to start with.
func AllowedOrigins(cfg config.Config) ([]string, error) {
	origins := slices.Clone(cfg.AllowedOrigins)
	if cfg.GrafanaURL != "" {
		origins = append([]string{cfg.GrafanaURL}, origins...)
	}
	if len(origins) > 0 {
		return origins, nil
	}
	return nil, errors.New("no page may be rendered: set grafana_url to Grafana's [rendering] callback_url (e.g. PANELCAST_GRAFANA_URL=http://grafana:3000), or list origins in allowed_origins")
}

// utcOffset is a fixed offset as Grafana spells it: UTC+05:00, UTC-5,
// GMT+0530. A space stands for a plus sign that a query string decoded.
var utcOffset = regexp.MustCompile(`^(?i:UTC|GMT)([+\- ])([0-9]{1,2})(?::?([0-9]{2}))?$`)

// maxOffsetHours is the largest UTC offset in use (Kiribati, UTC+14).
const maxOffsetHours = 14

// GrafanaTimezone maps what Grafana sends as the render's time zone onto a
// zone the browser accepts (Emulation.setTimezoneOverride): an IANA name,
// or ICU's fixed-offset GMT+05:30. "" means the configured default.
//
//   - "", browser, default: Grafana's "no particular zone" (alert
//     screenshots send none); the configured default, as in 5.x.
//   - utc, UTC, gmt, z: UTC (Chromium refuses the lower case).
//   - UTC-05:00: Grafana's isoTimeOffsetToPosixTz turned the dashboard's
//     UTC+05:00 into this POSIX form, whose sign is inverted, so it is five
//     hours east of UTC: Etc/GMT-5, whose POSIX sign means the same. An
//     offset no Etc/GMT zone has (UTC-05:30, UTC+13:00) becomes ICU's
//     GMT+05:30, which keeps the usual sign.
//   - UTC%2B05%3A30: scenes' share link without Intl encodes the
//     dashboard's own offset twice; Grafana decodes once and, the prefix
//     not being "UTC+", does not invert it, so after decoding it is an ISO
//     offset: five and a half hours east.
//   - anything else is taken as an IANA name, which Validate checks.
func GrafanaTimezone(raw string) (string, error) {
	tz := strings.TrimSpace(raw)
	iso := false
	if strings.Contains(tz, "%") {
		dec, err := url.PathUnescape(tz)
		if err != nil {
			return "", render.BadRequest("timezone %q is not a time zone: send an IANA name such as Europe/Berlin or an offset such as UTC+05:30", quote.Clip(raw))
		}
		tz, iso = strings.TrimSpace(dec), true
	}
	switch strings.ToLower(tz) {
	case "", "browser", "default":
		return "", nil
	case "utc", "gmt", "z", "etc/utc", "etc/gmt":
		return "UTC", nil
	}
	m := utcOffset.FindStringSubmatch(tz)
	if m == nil {
		return tz, nil
	}
	hours, _ := strconv.Atoi(m[2])
	minutes := 0
	if m[3] != "" {
		minutes, _ = strconv.Atoi(m[3])
	}
	if hours*60+minutes > maxOffsetHours*60 || minutes > 59 {
		return "", render.BadRequest("timezone %q is no UTC offset in use (they run from UTC-12:00 to UTC+14:00): fix the dashboard's time zone", quote.Clip(raw))
	}
	if hours == 0 && minutes == 0 {
		return "UTC", nil
	}
	// The POSIX sign is the inverse of the ISO one.
	east := m[1] == "-"
	if iso {
		east = !east
	}
	// Etc/GMT-14 (east) to Etc/GMT+12 (west) exist, with POSIX signs.
	switch {
	case minutes == 0 && east:
		return "Etc/GMT-" + strconv.Itoa(hours), nil
	case minutes == 0 && hours <= 12:
		return "Etc/GMT+" + strconv.Itoa(hours), nil
	case east:
		return fmt.Sprintf("GMT+%02d:%02d", hours, minutes), nil
	}
	return fmt.Sprintf("GMT-%02d:%02d", hours, minutes), nil
}

// pageRanges is Chromium's printToPDF syntax: "1-5, 8, 11-13", open ends allowed.
var pageRanges = regexp.MustCompile(`^ *(([0-9]+( *- *[0-9]*)?|- *[0-9]+)( *, *([0-9]+( *- *[0-9]*)?|- *[0-9]+))*)? *$`)

// pdfOptions reads Grafana's pdf.* parameters: the request's, then, as
// 5.x does and for the plugin door's Grafana, which has no other place for
// them, the page URL's own query.
func pdfOptions(params url.Values, page string) (render.PDFOptions, error) {
	var pageQuery url.Values
	if u, err := url.Parse(page); err == nil {
		pageQuery = u.Query()
	}
	get := func(name string) string {
		if v := strings.TrimSpace(params.Get(name)); v != "" {
			return v
		}
		return strings.TrimSpace(pageQuery.Get(name))
	}
	var o render.PDFOptions
	o.Format = get("pdf.format")
	for _, b := range []struct {
		name string
		dst  *bool
	}{{"pdf.landscape", &o.Landscape}, {"pdf.printBackground", &o.PrintBackground}} {
		if v := get(b.name); v != "" {
			on, err := strconv.ParseBool(v)
			if err != nil {
				return o, render.BadRequest("%s must be true or false, got %q", b.name, quote.Clip(v))
			}
			*b.dst = on
		}
	}
	o.PageRanges = get("pdf.pageRanges")
	if len(o.PageRanges) > 200 || !pageRanges.MatchString(o.PageRanges) {
		return o, render.BadRequest("pdf.pageRanges must list pages such as 1-3,5, got %q", quote.Clip(o.PageRanges))
	}
	return o, nil
}
