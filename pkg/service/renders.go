package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/panelcast/panelcast/pkg/render"
	"github.com/panelcast/panelcast/pkg/secret"
)

// RenderKind is what a door was asked to render; it labels the render
// metrics.
type RenderKind string

// The kinds Grafana asks for.
const (
	KindPNG RenderKind = "png"
	KindPDF RenderKind = "pdf"
	KindCSV RenderKind = "csv"
)

// RenderCall is one render request as a door received it from Grafana.
type RenderCall struct {
	Kind RenderKind
	// AuthToken is the renderer token the caller presented.
	AuthToken string
	Request   GrafanaRender
	// Invalid, when set, is why the door could not read the request: it is
	// refused as a bad request once the token is checked.
	Invalid error
	// Deliver hands the result (and a CSV's file name) to the caller: the
	// HTTP answer, the plugin's output file. Its failure fails the render.
	Deliver func(body []byte, filename string) error
}

// RenderError is why a render request gave no picture: its class, for the
// door's status, and a sentence with the render key, the presented token
// and every configured secret taken out.
type RenderError struct {
	Class Failure
	msg   string
	err   error
}

func (e *RenderError) Error() string { return e.msg }
func (e *RenderError) Unwrap() error { return e.err }

// HandleRender runs a render request of Grafana's through either door:
// the renderer token, the request, the render and the delivery of its
// result, then the render metrics and one log line. Every failure is a
// *RenderError.
func (s *Service) HandleRender(ctx context.Context, c RenderCall) error {
	start := time.Now()
	size, err := s.handleRender(ctx, c)
	class := Failure("")
	if err != nil {
		class = Classify(err)
		if class == FailInternal {
			class = FailRender
		}
	}
	took := time.Since(start)
	if m := s.metrics; m != nil {
		m.renderDuration.WithLabelValues(string(c.Kind), renderResult(class)).Observe(took.Seconds())
		if class != "" {
			m.renderFailures.WithLabelValues(string(class)).Inc()
		}
	}
	if err == nil {
		s.logRender(ctx, "grafana", c.Kind, c.Request, took, size, nil)
		return nil
	}
	rerr := &RenderError{Class: class, msg: s.redact(err.Error(), c.Request.RenderKey, c.AuthToken), err: err}
	s.logRender(ctx, "grafana", c.Kind, c.Request, took, 0, rerr)
	return rerr
}

func (s *Service) handleRender(ctx context.Context, c RenderCall) (int, error) {
	if err := s.CheckRendererToken(c.AuthToken); err != nil {
		return 0, err
	}
	if c.Invalid != nil {
		return 0, invalidRequest{c.Invalid}
	}
	req, err := s.ready(c.Request)
	if err != nil {
		return 0, err
	}
	var body []byte
	var name string
	if c.Kind == KindCSV {
		body, name, err = s.renderer.RenderCSV(ctx, req)
	} else {
		body, err = s.renderer.Render(ctx, req)
	}
	if err != nil {
		return 0, err
	}
	start := time.Now()
	if err := c.Deliver(body, name); err != nil {
		return 0, err
	}
	s.metrics.renderPhase("write", time.Since(start))
	return len(body), nil
}

// CheckRendererToken compares a presented token with the configured ones in
// constant time. With none configured every caller is accepted, as
// Grafana's plugin host is the only one who can reach the plugin.
func (s *Service) CheckRendererToken(token string) error {
	if len(s.cfg.AuthTokens) == 0 {
		return nil
	}
	if token == "" {
		return fmt.Errorf("%w: no renderer token was sent (Grafana sends [rendering] renderer_token, to a remote renderer as the X-Auth-Token header): set renderer_token in grafana.ini to one of panelcast's auth_token values", ErrUnauthorized)
	}
	if !secret.OneOf(token, s.cfg.AuthTokens) {
		return fmt.Errorf("%w: the renderer token does not match: set [rendering] renderer_token in grafana.ini to one of auth_token", ErrUnauthorized)
	}
	return nil
}

// Render renders a page for a caller that is not Grafana (the CLI), with
// the same checks and log line as Grafana's requests.
func (s *Service) Render(ctx context.Context, g GrafanaRender) ([]byte, error) {
	start := time.Now()
	req, err := s.ready(g)
	var out []byte
	if err == nil {
		out, err = s.renderer.Render(ctx, req)
	}
	s.logRender(ctx, "cli", RenderKind(req.Encoding), g, time.Since(start), len(out), err)
	return out, err
}

// ready is the request, checked, and a renderer that can take it: a bad
// request is refused before a missing browser is reported.
func (s *Service) ready(g GrafanaRender) (render.Request, error) {
	req, err := s.Request(g)
	if err != nil {
		return req, err
	}
	return req, s.browserMissing()
}

// noBrowser is why no browser can ever start (none found, or
// chromium_path is no executable); to the doors it is render.ErrNoChromium.
type noBrowser struct{ err error }

func (e noBrowser) Error() string   { return e.err.Error() }
func (e noBrowser) Unwrap() []error { return []error{e.err, render.ErrNoChromium} }

// invalidRequest is a request the door could not read: a bad request, in
// the door's own words.
type invalidRequest struct{ err error }

func (e invalidRequest) Error() string   { return e.err.Error() }
func (e invalidRequest) Unwrap() []error { return []error{e.err, render.ErrBadRequest} }

// redact takes the request's render key and token, and every configured
// secret, out of an error's text: a browser or Go error may quote a URL or
// a header.
func (s *Service) redact(msg string, renderKey secret.Value, token string) string {
	for _, v := range []string{renderKey.Reveal(), token} {
		if len(v) >= 4 {
			msg = strings.ReplaceAll(msg, v, secret.Redacted)
		}
	}
	return secretScrubber(s.cfg).Replace(msg)
}

// logRender writes the one line of a render: which page (origin and path,
// never the query, which carries variables and the render key), for whom
// (source: grafana, alert, push, panel, cli), how it ended and how long
// it took.
func (s *Service) logRender(ctx context.Context, source string, kind RenderKind, g GrafanaRender, took time.Duration, size int, err error) {
	attrs := []slog.Attr{
		slog.String("source", source), slog.String("kind", string(kind)),
		slog.String("page", pagePath(g.URL)), slog.Duration("duration", took.Round(time.Millisecond)),
	}
	if g.Width != 0 || g.Height != 0 {
		attrs = append(attrs, slog.Int("width", g.Width), slog.Int("height", g.Height))
	}
	if err == nil {
		attrs = append(attrs, slog.String("result", "ok"), slog.Int("bytes", size))
		s.log.LogAttrs(ctx, slog.LevelInfo, "render request", attrs...)
		return
	}
	class := Classify(err)
	var rerr *RenderError
	if errors.As(err, &rerr) {
		class = rerr.Class
	}
	attrs = append(attrs, slog.String("result", renderResult(class)), slog.String("reason", string(class)),
		slog.String("error", err.Error()))
	level := slog.LevelWarn
	if class == FailRender || class == FailNoChromium || class == FailInternal {
		level = slog.LevelError
	}
	s.log.LogAttrs(ctx, level, "render request failed", attrs...)
}

// pagePath is a page URL's origin and path, for logs.
func pagePath(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host + u.EscapedPath()
}
