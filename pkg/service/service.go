// Package service holds Panelcast's use cases. The doors (plugin, server,
// CLI) translate their protocol into calls here and nothing else.
package service

import (
	"context"
	"log/slog"
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
