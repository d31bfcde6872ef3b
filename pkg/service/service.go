// Package service holds Panelcast's use cases. The doors (plugin, server,
// CLI) translate their protocol into calls here and nothing else.
package service

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/panelcast/panelcast/pkg/config"
	"github.com/panelcast/panelcast/pkg/render"
	"github.com/panelcast/panelcast/pkg/tlspolicy"
)

// Service is the core every door calls.
type Service struct {
	Config   config.Config
	Renderer *render.Renderer
	Log      *slog.Logger
	// TLS decides Grafana's certificates for the browser and for every Go
	// client that talks to Grafana (Client builds one).
	TLS *tlspolicy.Policy
	// StartErr is why the renderer could not start (no Chromium), reported
	// by health checks and returned by renders.
	StartErr error
	// InboxPermalink, when set before StartDelivery, is the link to an
	// inbox message without its id: the console's "#inbox/".
	InboxPermalink string
	// DemoPanel, when set, is a panel health offers to try (the built-in
	// demo dashboard's).
	DemoPanel *DemoPanel

	push    pushState // chat delivery, see StartDelivery
	metrics *metrics
	alerts  alertCounts
	checks  checkCache // RecentHealth's
}

// DemoPanel is a panel of the built-in demo dashboard, as the push API
// names panels.
type DemoPanel struct {
	DashboardUID string `json:"dashboardUid"`
	PanelID      int64  `json:"panelId"`
	From         string `json:"from"`
	To           string `json:"to"`
}

// New starts the renderer from the configuration. A missing browser does
// not fail New: the service still answers health checks with the reason.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) *Service {
	policy, err := cfg.TLSPolicy()
	if err != nil {
		// Validate passed, so a file changed since: trust less, not more.
		log.Error("the TLS settings are unusable; only tls_mode applies", "error", err)
		policy, _ = tlspolicy.New(tlspolicy.Options{Mode: cfg.TLSMode})
	}
	r, err := render.New(ctx, RenderOptions(cfg, policy, log))
	if err != nil {
		log.Error("renderer did not start", "error", err)
	}
	return &Service{Config: cfg, Renderer: r, Log: log, TLS: policy, StartErr: err, metrics: newMetrics()}
}

// RenderOptions maps the configuration onto the renderer's options.
func RenderOptions(cfg config.Config, policy *tlspolicy.Policy, log *slog.Logger) render.Options {
	allowed := cfg.AllowedOrigins
	if cfg.GrafanaURL != "" {
		allowed = append([]string{cfg.GrafanaURL}, allowed...)
	}
	return render.Options{
		ChromiumPath:   cfg.ChromiumPath,
		ChromiumArgs:   cfg.ChromiumArgs,
		TLS:            policy,
		AllowedOrigins: allowed,
		Concurrency:    cfg.Concurrency,
		QueueLength:    cfg.QueueLength,
		RecycleAfter:   cfg.RecycleAfter,
		FirstQueryWait: cfg.FirstQueryWait,
		Limits:         Limits(cfg),
		Logger:         log,
	}
}

// Limits are the configured request bounds.
func Limits(cfg config.Config) render.Limits {
	return render.Limits{MaxWidth: cfg.MaxWidth, MaxHeight: cfg.MaxHeight, MaxScale: cfg.MaxScale, MaxTimeout: cfg.MaxTimeout}
}

// ErrUnauthorized is a wrong or missing renderer token.
var ErrUnauthorized = errors.New("unauthorized")

// CheckRendererToken compares a presented token with the configured ones in
// constant time. With none configured every caller is accepted, as
// Grafana's plugin host is the only one who can reach the plugin.
func (s *Service) CheckRendererToken(token string) error {
	if len(s.Config.AuthTokens) == 0 {
		return nil
	}
	ok := 0
	for _, t := range s.Config.AuthTokens {
		ok |= subtle.ConstantTimeCompare([]byte(token), []byte(t.Reveal()))
	}
	if ok != 1 {
		return fmt.Errorf("%w: the renderer token does not match: set [rendering] renderer_token in grafana.ini to one of auth_token", ErrUnauthorized)
	}
	return nil
}

// Render renders what Grafana asked for, through either door.
func (s *Service) Render(ctx context.Context, g GrafanaRender) ([]byte, error) {
	start := time.Now()
	req, err := s.ready(g)
	var out []byte
	if err == nil {
		out, err = s.Renderer.Render(ctx, req)
	}
	s.logRender(ctx, "render", g, start, err)
	return out, err
}

// RenderCSV fetches the CSV a page offers.
func (s *Service) RenderCSV(ctx context.Context, g GrafanaRender) ([]byte, string, error) {
	start := time.Now()
	req, err := s.ready(g)
	var out []byte
	var name string
	if err == nil {
		out, name, err = s.Renderer.RenderCSV(ctx, req)
	}
	s.logRender(ctx, "csv", g, start, err)
	return out, name, err
}

// ready is the request, checked, and a renderer that can take it: a bad
// request is refused before a missing browser is reported.
func (s *Service) ready(g GrafanaRender) (render.Request, error) {
	req, err := s.Request(g)
	if err != nil {
		return req, err
	}
	if s.StartErr != nil && s.Renderer.Stats().ChromiumPath == "" {
		return req, noBrowser{s.StartErr}
	}
	return req, nil
}

// noBrowser is why no browser can ever start (none found, or
// chromium_path is no executable); to the doors it is render.ErrNoChromium.
type noBrowser struct{ err error }

func (e noBrowser) Error() string   { return e.err.Error() }
func (e noBrowser) Unwrap() []error { return []error{e.err, render.ErrNoChromium} }

// logRender logs the path but never the query string (it can carry
// variables) nor the render key.
func (s *Service) logRender(ctx context.Context, kind string, g GrafanaRender, start time.Time, err error) {
	path := g.URL
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	attrs := []any{"kind", kind, "url", path, "width", g.Width, "height", g.Height, "duration", time.Since(start).Round(time.Millisecond)}
	if err != nil {
		s.Log.WarnContext(ctx, "render failed", append(attrs, "error", err)...)
		return
	}
	s.Log.InfoContext(ctx, "rendered", attrs...)
}

// SandboxHealth is whether Chromium runs in its sandbox, and why (or why
// not).
type SandboxHealth struct {
	Enabled bool   `json:"enabled"`
	Reason  string `json:"reason"`
}

// Health is what health checks report.
type Health struct {
	OK             bool   `json:"ok"`
	Message        string `json:"message"`
	Version        string `json:"version"`
	ChromiumPath   string `json:"chromiumPath,omitempty"`
	BrowserVersion string `json:"browserVersion,omitempty"`
	TLSMode        string `json:"tlsMode"`
	// Sandbox says whether Chromium runs sandboxed, and why.
	Sandbox     *SandboxHealth `json:"sandbox,omitempty"`
	InFlight    int64          `json:"inFlight"`
	Queued      int64          `json:"queued"`
	Renders     int64          `json:"renders"`
	Restarts    int64          `json:"browserRestarts"`
	ProbeMillis int64          `json:"probeMillis,omitempty"`
	// Fonts says whether Latin and CJK text can be drawn.
	Fonts render.Fonts `json:"fonts"`
	// Outbox and Chat are present while chat delivery runs; Chat lists
	// the configured providers (not the inbox, which has no credentials).
	Outbox *OutboxHealth `json:"outbox,omitempty"`
	Chat   []ChatHealth  `json:"chat"`
	Alerts *AlertsHealth `json:"alerts,omitempty"`
	// DemoPanel is Service.DemoPanel.
	DemoPanel *DemoPanel `json:"demoPanel,omitempty"`
	// CheckedAt is when the probe render and the chat checks ran.
	CheckedAt time.Time `json:"checkedAt"`
}
