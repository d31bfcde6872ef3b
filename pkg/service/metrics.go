package service

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/panelcast/panelcast/pkg/chat"
	"github.com/panelcast/panelcast/pkg/delivery"
	"github.com/panelcast/panelcast/pkg/grafana"
	"github.com/panelcast/panelcast/pkg/render"
)

// metrics are the service's Prometheus series. Each Service has its own, so
// that two in one process (tests) do not collide; the doors register them
// (Collectors) where they expose metrics.
type metrics struct {
	alertsReceived *prometheus.CounterVec
	delivered      *prometheus.CounterVec
	failed         *prometheus.CounterVec
	rendersShared  prometheus.Counter
}

func newMetrics() *metrics {
	return &metrics{
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

// Collectors are the service's metrics, for a door's registry; none for a
// Service not made by New.
func (s *Service) Collectors() []prometheus.Collector {
	m := s.metrics
	if m == nil {
		return nil
	}
	return []prometheus.Collector{m.alertsReceived, m.delivered, m.failed, m.rendersShared}
}

// The counting methods accept a nil *metrics (a Service not made by New,
// in tests) and count nothing.

func (m *metrics) alertReceived(source, status string) {
	if m != nil {
		m.alertsReceived.WithLabelValues(source, status).Inc()
	}
}

func (m *metrics) renderShared() {
	if m != nil {
		m.rendersShared.Inc()
	}
}

// outcome counts what the worker reports of a finished job.
func (m *metrics) outcome(j delivery.Job, provider string, sent bool, err error) {
	if m == nil {
		return
	}
	if sent {
		m.delivered.WithLabelValues(provider, j.Kind).Inc()
		return
	}
	m.failed.WithLabelValues(provider, j.Kind, failureReason(err)).Inc()
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
	}
	return "other"
}
