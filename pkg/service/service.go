// Package service holds Panelcast's use cases. The doors (plugin, server,
// CLI) translate their protocol into calls here and nothing else.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/panelcast/panelcast/pkg/config"
	"github.com/panelcast/panelcast/pkg/delivery"
	"github.com/panelcast/panelcast/pkg/render"
	"github.com/panelcast/panelcast/pkg/tlspolicy"
)

// Service is the core every door calls. Make it with New, start what runs
// beside the doors with Start, and stop it with Shutdown.
type Service struct {
	cfg      config.Config
	renderer *render.Renderer
	log      *slog.Logger
	// tls decides Grafana's certificates for the browser and for every Go
	// client that talks to Grafana (Client builds one).
	tls *tlspolicy.Policy
	// startErr is why the renderer could not start (no Chromium), reported
	// by health checks and returned by renders.
	startErr error
	// throughGrafana renders for chat through Grafana's /render; renderer
	// is then nil (Options.RenderThroughGrafana).
	throughGrafana bool
	inboxPermalink string
	demoPanel      *DemoPanel
	deliveryOpts   delivery.WorkerOptions

	push    pushState // chat delivery, see Start
	metrics *metrics
	alerts  alertCounts
	checks  checkCache // RecentHealth's
}

// Options are what a door, or the command that starts it, decides.
type Options struct {
	Config config.Config
	// Log is the one logger of the service and its door.
	Log *slog.Logger
	// Delivery tunes chat delivery's worker (tests); its zero values take
	// max_attempts, outbox_lease, outbox_retention and the worker's
	// defaults.
	Delivery delivery.WorkerOptions
	// InboxPermalink is the link to an inbox message without its id (the
	// console's "#inbox/"); "" where no console shows the inbox.
	InboxPermalink string
	// DemoPanel, when set, is a panel health offers to try (the built-in
	// demo dashboard's).
	DemoPanel *DemoPanel
	// RenderThroughGrafana renders the pictures for chat through Grafana's
	// /render API as grafana_token's service account, with whatever
	// renderer Grafana has, instead of a browser of Panelcast's own: no
	// Chromium starts, and Grafana's own render requests are refused (the
	// app door, which Grafana does not use as its renderer).
	RenderThroughGrafana bool
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
// not fail New: the service still answers health checks with the reason
// (StartErr).
func New(ctx context.Context, opts Options) *Service {
	log, cfg := opts.Log, opts.Config
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	policy, err := cfg.TLSPolicy()
	if err != nil {
		// Validate passed, so a file changed since: trust less, not more.
		log.Error("the TLS settings are unusable; only tls_mode applies", "error", err)
		policy, _ = tlspolicy.New(tlspolicy.Options{Mode: cfg.TLSMode})
	}
	s := &Service{cfg: cfg, log: log, tls: policy, inboxPermalink: opts.InboxPermalink,
		demoPanel: opts.DemoPanel, deliveryOpts: opts.Delivery, metrics: newMetrics(), throughGrafana: opts.RenderThroughGrafana}
	if s.throughGrafana {
		s.startErr = errThroughGrafana
		return s
	}
	ro := RenderOptions(cfg, policy, log)
	ro.ObservePhase = s.metrics.renderPhase
	s.renderer, s.startErr = render.New(ctx, ro)
	if s.startErr != nil {
		log.Error("renderer did not start", "error", s.startErr)
	}
	return s
}

// Config is the configuration the service runs with.
func (s *Service) Config() config.Config { return s.cfg }

// Logger is the service's logger, for its door.
func (s *Service) Logger() *slog.Logger { return s.log }

// StartErr is why the browser could not start, or nil.
func (s *Service) StartErr() error { return s.startErr }

// RendererStats are the renderer's counters and the browser it found.
func (s *Service) RendererStats() render.Stats {
	if s.renderer == nil {
		return render.Stats{}
	}
	return s.renderer.Stats()
}

// errThroughGrafana is why a service that renders through Grafana's /render
// takes no render request of Grafana's own.
var errThroughGrafana = errors.New("this Panelcast renders through Grafana's /render and has no browser of its own: make the Panelcast renderer plugin or `panelcast serve` Grafana's renderer")

// browserMissing is why no browser can render, or nil.
func (s *Service) browserMissing() error {
	if s.startErr != nil && s.RendererStats().ChromiumPath == "" {
		return noBrowser{s.startErr}
	}
	return nil
}

// Start starts what runs beside the doors: chat delivery. Its error is the
// outbox's, and leaves renders working: pushes are then answered 503 with
// it, and health shows it.
func (s *Service) Start() error { return s.startDelivery(s.deliveryOpts) }

// Shutdown stops the service in the one order every door follows, so that
// nothing is lost:
//  1. stopDoor: the door stops taking requests and lets those in flight
//     finish within ctx (shutdown_timeout);
//  2. at the same time chat delivery stops claiming jobs, finishes the
//     attempts in flight within the worker's shutdown grace
//     (delivery.DefaultShutdownGrace) and hands the rest back to other
//     replicas, instead of taking new ones while the slowest render of a
//     caller runs;
//  3. then the browser closes: the renders of the door and of delivery
//     finished, or ctx ended and they are cut off.
//
// stopDoor may be nil (a command with no door).
func (s *Service) Shutdown(ctx context.Context, stopDoor func(context.Context) error) error {
	delivered := make(chan error, 1)
	go func() { delivered <- s.stopDelivery() }()
	var doorErr error
	if stopDoor != nil {
		doorErr = stopDoor(ctx)
	}
	derr := <-delivered
	if derr != nil {
		derr = fmt.Errorf("closing the outbox failed: %w", derr)
	}
	var rerr error
	if s.renderer != nil {
		rerr = s.renderer.Close(ctx)
	}
	return errors.Join(doorErr, derr, rerr)
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
		AssetCacheSize: int64(cfg.AssetCacheMB) << 20,
		RecycleAfter:   cfg.RecycleAfter,
		IdleTimeout:    cfg.BrowserIdleTimeout,
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

// GrafanaRendererHealth is whether Grafana's /render can draw panels.
type GrafanaRendererHealth struct {
	URL     string `json:"url"`
	Version string `json:"version,omitempty"`
	Error   string `json:"error,omitempty"`
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
	// BrowserRunning says the browser is started (warm); it is false
	// while browser_idle_timeout has it stopped until the next render.
	BrowserRunning bool `json:"browserRunning"`
	// Renderer is Grafana's renderer, for a service that renders through
	// Grafana's /render (no browser of its own).
	Renderer *GrafanaRendererHealth `json:"grafanaRenderer,omitempty"`
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
