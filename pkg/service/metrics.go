package service

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/panelcast/panelcast/pkg/buildinfo"
	"github.com/panelcast/panelcast/pkg/chat"
	"github.com/panelcast/panelcast/pkg/delivery"
	"github.com/panelcast/panelcast/pkg/grafana"
	"github.com/panelcast/panelcast/pkg/render"
)

// metrics are the service's Prometheus series. Each Service has its own, so
// that two in one process (tests) do not collide; the doors register them
// (Collectors) where they expose metrics.
type metrics struct {
	renderDuration *prometheus.HistogramVec
	renderFailures *prometheus.CounterVec
	renderPhases   *prometheus.HistogramVec
	alertsReceived *prometheus.CounterVec
	delivered      *prometheus.CounterVec
	failed         *prometheus.CounterVec
	rendersShared  prometheus.Counter
}

func newMetrics() *metrics {
	return &metrics{
		renderDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "panelcast_render_duration_seconds",
			Help: "Time from receiving Grafana's render request to answering it, queueing included, by kind (png, pdf, csv) and result (ok, bad_request, timeout, queue_full, unauthorized, error).",
			// A solo panel takes about a second; full dashboards and slow
			// data sources run into Grafana's timeouts (tens of seconds).
			Buckets: []float64{0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 300},
		}, []string{"kind", "result"}),
		renderPhases: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "panelcast_render_phase_seconds",
			Help: "Time a render spent in each phase: queue, browser (its start when it was not running), context, prepare, navigate, ready (the page's own work and noticing it is done), capture (paint and PNG encoding), write (handing the result to the caller).",
			// Most phases take milliseconds; ready and a cold browser seconds.
			Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}, []string{"phase"}),
		renderFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "panelcast_render_failures_total",
			Help: "Grafana's render requests that did not produce a picture, by reason: bad_request, unauthorized, forbidden_url, timeout, queue_full, no_chromium, shutting_down, render.",
		}, []string{"reason"}),
		alertsReceived: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "panelcast_alerts_received_total",
			Help: "Alerts received in webhook notifications, by source (grafana, alertmanager) and status (firing, resolved).",
		}, []string{"source", "status"}),
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "panelcast_messages_delivered_total",
			Help: "Chat messages posted, by provider and kind (push, alert).",
		}, []string{"provider", "kind"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "panelcast_messages_failed_total",
			Help: "Chat messages given up on, by provider, kind (push, alert) and reason (the chat's error code, render, grafana, interrupted, other).",
		}, []string{"provider", "kind", "reason"}),
		rendersShared: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "panelcast_alert_renders_shared_total",
			Help: "Alert pictures taken from another message's render of the same panel and window instead of rendering again.",
		}),
	}
}

// Collectors are the service's metrics, the same for every door, for the
// door's registry; none for a Service not made by New.
func (s *Service) Collectors() []prometheus.Collector {
	m := s.metrics
	if m == nil {
		return nil
	}
	return []prometheus.Collector{m.renderDuration, m.renderFailures, m.renderPhases, rendererCollector{s.renderer},
		m.alertsReceived, m.delivered, m.failed, m.rendersShared, outboxCollector{s}, assetCacheCollector{s.renderer}}
}

// rendererCollector reads the renderer's own counters at scrape time, so
// the numbers cannot drift from what the renderer does.
type rendererCollector struct{ r *render.Renderer }

var (
	inFlightDesc = prometheus.NewDesc("panelcast_renders_in_flight",
		"Renders holding a browser slot now.", nil, nil)
	queueDesc = prometheus.NewDesc("panelcast_render_queue_depth",
		"Renders waiting for a browser slot now.", nil, nil)
	rendersDesc = prometheus.NewDesc("panelcast_renders_total",
		"Renders that got a browser slot since start.", nil, nil)
	restartsDesc = prometheus.NewDesc("panelcast_browser_restarts_total",
		"Browser starts after the first: crashes, hangs and recycling (recycle_after); not the starts after an idle stop.", nil, nil)
	runningDesc = prometheus.NewDesc("panelcast_browser_running",
		"1 while the browser is started (warm), 0 while it is stopped (browser_idle_timeout, or not started yet).", nil, nil)
	idleStopsDesc = prometheus.NewDesc("panelcast_browser_idle_stops_total",
		"Times the browser was stopped after browser_idle_timeout without a render.", nil, nil)
	infoDesc = prometheus.NewDesc("panelcast_build_info",
		"Always 1; labels name the Panelcast release and the browser it drives.", []string{"version", "browser"}, nil)
)

func (c rendererCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{inFlightDesc, queueDesc, rendersDesc, restartsDesc, runningDesc, idleStopsDesc, infoDesc} {
		ch <- d
	}
}

func (c rendererCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.r.Stats()
	ch <- prometheus.MustNewConstMetric(inFlightDesc, prometheus.GaugeValue, float64(st.InFlight))
	ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(st.Queued))
	ch <- prometheus.MustNewConstMetric(rendersDesc, prometheus.CounterValue, float64(st.Renders))
	ch <- prometheus.MustNewConstMetric(restartsDesc, prometheus.CounterValue, float64(st.Restarts))
	running := 0.0
	if st.BrowserRunning {
		running = 1
	}
	ch <- prometheus.MustNewConstMetric(runningDesc, prometheus.GaugeValue, running)
	ch <- prometheus.MustNewConstMetric(idleStopsDesc, prometheus.CounterValue, float64(st.IdleStops))
	ch <- prometheus.MustNewConstMetric(infoDesc, prometheus.GaugeValue, 1, buildinfo.Version, st.BrowserVersion)
}

// outboxCollector reads the outbox's depth at scrape time. With a shared
// PostgreSQL outbox every replica reports the fleet's queue, which is what
// an autoscaler wants.
type outboxCollector struct{ s *Service }

var (
	outboxJobsDesc = prometheus.NewDesc("panelcast_outbox_jobs",
		"Messages in the outbox by state (queued includes those waiting for a retry; sent and failed are kept for outbox_retention).", []string{"state"}, nil)
	outboxOldestDesc = prometheus.NewDesc("panelcast_outbox_oldest_pending_seconds",
		"Age of the oldest message not yet sent or given up on; 0 when none waits.", nil, nil)
)

func (c outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- outboxJobsDesc
	ch <- outboxOldestDesc
}

// outboxScrapeTimeout keeps a slow database from stalling a scrape.
const outboxScrapeTimeout = 5 * time.Second

func (c outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), outboxScrapeTimeout)
	defer cancel()
	d, err := c.s.OutboxDepth(ctx)
	if err != nil {
		// No outbox (no chat configured) or unreachable: no series, rather
		// than zeros that would read as an empty queue.
		return
	}
	for state, n := range map[string]int{"queued": d.Queued, "sending": d.Sending, "sent": d.Sent, "failed": d.Failed} {
		ch <- prometheus.MustNewConstMetric(outboxJobsDesc, prometheus.GaugeValue, float64(n), state)
	}
	age := 0.0
	if !d.OldestPending.IsZero() {
		age = time.Since(d.OldestPending).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(outboxOldestDesc, prometheus.GaugeValue, age)
}

// The counting methods accept a nil *metrics (a Service not made by New,
// in tests) and count nothing.

func (m *metrics) alertReceived(source, status string) {
	if m != nil {
		m.alertsReceived.WithLabelValues(source, status).Inc()
	}
}

// renderPhase is the renderer's ObservePhase.
func (m *metrics) renderPhase(phase string, took time.Duration) {
	if m != nil {
		m.renderPhases.WithLabelValues(phase).Observe(took.Seconds())
	}
}

func (m *metrics) renderShared() {
	if m != nil {
		m.rendersShared.Inc()
	}
}

// countOutcome counts a job the worker finished, as its OnFinish.
func (s *Service) countOutcome(j delivery.Job, out delivery.Outcome) {
	if j.Kind == "alert" {
		s.alerts.finished(out.State == delivery.StateSent, out.LastError)
	}
	m := s.metrics
	if m == nil {
		return
	}
	provider := "unknown"
	if addr, err := chat.ParseAddress(j.Address); err == nil {
		provider = addr.Provider
	}
	if out.State == delivery.StateSent {
		m.delivered.WithLabelValues(provider, j.Kind).Inc()
		return
	}
	m.failed.WithLabelValues(provider, j.Kind, failureReason(out.Err)).Inc()
}

// failureReason names why a message failed, in few enough words to be a
// label: the chat's own error code, or the step that failed.
func failureReason(err error) string {
	var ce *chat.Error
	var ge *grafana.APIError
	switch {
	case errors.As(err, &ce):
		return ce.Code
	case errors.As(err, &ge):
		return "grafana"
	case errors.Is(err, render.ErrBadRequest), errors.Is(err, render.ErrNoChromium), errors.Is(err, render.ErrTimeout):
		return "render"
	case err == nil:
		// Failed without a send: interrupted too often, or no sender.
		return "interrupted"
	}
	return "other"
}
