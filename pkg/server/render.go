package server

import (
	"context"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/panelcast/panelcast/pkg/render"
	"github.com/panelcast/panelcast/pkg/service"
)

// retryAfter is what a refused render is told to wait. Grafana itself does
// not retry (it maps 429 to "too many requests"); other callers may.
const retryAfter = "5"

// outcome is how one render request ended, for the answer, the log line and
// the metrics.
type outcome struct {
	status int
	result string // duration histogram label
	reason string // failures counter label; "" when a picture was sent
	msg    string
}

// render serves GET /render (csv false) and GET /render/csv.
func (s *Server) render(csv bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		q := r.URL.Query()
		kind := "png"
		switch {
		case csv:
			kind = "csv"
		case strings.EqualFold(strings.TrimSpace(q.Get("encoding")), "pdf"):
			kind = "pdf"
		}
		g, out, body, filename := s.serveRender(r, q, csv)
		if out.status == http.StatusOK {
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			switch kind {
			case "csv":
				w.Header().Set("Content-Type", "text/csv; charset=utf-8")
				w.Header().Set("Content-Disposition", contentDisposition(filename))
			case "pdf":
				w.Header().Set("Content-Type", "application/pdf")
			default:
				w.Header().Set("Content-Type", "image/png")
			}
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(body)
		} else {
			out.msg = redact(out.msg, g.RenderKey.Reveal())
			if out.status == http.StatusTooManyRequests {
				w.Header().Set("Retry-After", retryAfter)
			}
			writeError(w, out.status, out.msg)
		}
		took := time.Since(start)
		s.metrics.duration.WithLabelValues(kind, out.result).Observe(took.Seconds())
		if out.reason != "" {
			s.metrics.failures.WithLabelValues(out.reason).Inc()
		}
		s.logRender(r, kind, g, out, len(body), took)
	}
}

// serveRender does the steps of a render request in order: token, query,
// render (the service checks the request and the page's origin). It
// returns the parsed request (for the log), how it ended, and on success
// the bytes and the CSV's name.
func (s *Server) serveRender(r *http.Request, q url.Values, csv bool) (service.GrafanaRender, outcome, []byte, string) {
	token := r.Header.Get("X-Auth-Token")
	if err := s.svc.CheckRendererToken(token); err != nil {
		msg := err.Error()
		if token == "" {
			msg = "missing X-Auth-Token header: set [rendering] renderer_token in grafana.ini to one of panelcast's auth_token values"
		}
		return service.GrafanaRender{}, outcome{http.StatusUnauthorized, resultUnauthorized, "unauthorized", msg}, nil, ""
	}
	g, err := ParseRenderQuery(q, csv)
	if err != nil {
		return g, failure(err), nil, ""
	}
	if v := r.Header.Values("Accept-Language"); len(v) > 0 {
		g.Headers = map[string][]string{"Accept-Language": v}
	}
	var body []byte
	var name string
	if csv {
		body, name, err = s.svc.RenderCSV(r.Context(), g)
	} else {
		body, err = s.svc.Render(r.Context(), g)
	}
	if err != nil {
		return g, failure(err), nil, ""
	}
	return g, outcome{status: http.StatusOK, result: resultOK}, body, safeFilename(name)
}

// failure maps the renderer's and the service's errors onto the answers
// Grafana understands: 400 bad input, 401 bad token, 408 timeout (Grafana
// shows its timeout picture), 429 queue full, 503 no browser or shutting
// down, 500 anything else.
func failure(err error) outcome {
	msg := err.Error()
	switch {
	case errors.Is(err, service.ErrForbiddenURL):
		return outcome{http.StatusBadRequest, resultBadRequest, "forbidden_url", msg}
	case errors.Is(err, render.ErrBadRequest):
		return outcome{http.StatusBadRequest, resultBadRequest, "bad_request", msg}
	case errors.Is(err, service.ErrUnauthorized):
		return outcome{http.StatusUnauthorized, resultUnauthorized, "unauthorized", msg}
	case errors.Is(err, render.ErrQueueFull):
		return outcome{http.StatusTooManyRequests, resultQueueFull, "queue_full", msg}
	case errors.Is(err, render.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return outcome{http.StatusRequestTimeout, resultTimeout, "timeout", msg}
	case errors.Is(err, render.ErrNoChromium):
		return outcome{http.StatusServiceUnavailable, resultError, "no_chromium", msg}
	case errors.Is(err, render.ErrClosed):
		return outcome{http.StatusServiceUnavailable, resultError, "shutting_down", msg + ": retry on another replica"}
	}
	return outcome{http.StatusInternalServerError, resultError, "render", msg}
}

// safeFilename is the CSV's name as Grafana accepts it: Grafana refuses a
// Content-Disposition filename with a slash or backslash.
func safeFilename(name string) string {
	name = strings.Map(func(c rune) rune {
		if c == '/' || c == '\\' || c < ' ' || c == 0x7f {
			return '_'
		}
		return c
	}, name)
	if name == "" {
		return "data.csv"
	}
	return name
}

// contentDisposition names the CSV; Grafana needs a filename to save it.
func contentDisposition(name string) string {
	if cd := mime.FormatMediaType("attachment", map[string]string{"filename": name}); cd != "" {
		return cd
	}
	return `attachment; filename="data.csv"`
}

// redact keeps the render key out of answers and logs even if some error
// text should ever quote it.
func redact(msg, secret string) string {
	if len(secret) < 4 {
		return msg
	}
	return strings.ReplaceAll(msg, secret, "[render key]")
}

// logRender writes one line per render request: the page's origin and
// path but never its query (dashboard variables), the render key or a
// token.
func (s *Server) logRender(r *http.Request, kind string, g service.GrafanaRender, out outcome, size int, took time.Duration) {
	attrs := []slog.Attr{
		slog.String("kind", kind), slog.String("result", out.result), slog.Int("status", out.status),
		slog.Int64("duration_ms", took.Milliseconds()), slog.String("page", pagePath(g.URL)),
	}
	if g.Width != 0 || g.Height != 0 {
		attrs = append(attrs, slog.Int("width", g.Width), slog.Int("height", g.Height))
	}
	if out.status == http.StatusOK {
		attrs = append(attrs, slog.Int("bytes", size))
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "render request", attrs...)
		return
	}
	attrs = append(attrs, slog.String("error", out.msg))
	level := slog.LevelWarn
	if out.status >= 500 {
		level = slog.LevelError
	}
	s.log.LogAttrs(r.Context(), level, "render request failed", attrs...)
}

func pagePath(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host + u.EscapedPath()
}
