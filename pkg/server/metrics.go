package server

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/panelcast/panelcast/pkg/buildinfo"
	"github.com/panelcast/panelcast/pkg/render"
)

// Render results, the values of the duration histogram's result label.
const (
	resultOK           = "ok"
	resultBadRequest   = "bad_request"
	resultTimeout      = "timeout"
	resultQueueFull    = "queue_full"
	resultUnauthorized = "unauthorized"
	resultError        = "error"
)

// metrics are the server's Prometheus series, in a registry of their own so
// that two servers in one process (tests) do not collide.
type metrics struct {
	registry *prometheus.Registry
	duration *prometheus.HistogramVec
	failures *prometheus.CounterVec
}

func newMetrics(r *render.Renderer, more ...prometheus.Collector) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "panelcast_render_duration_seconds",
			Help: "Time from receiving a render request to answering it, queueing included, by kind (png, pdf, csv) and result (ok, bad_request, timeout, queue_full, unauthorized, error).",
			// A solo panel takes about a second; full dashboards and slow
			// data sources run into Grafana's timeouts (tens of seconds).
			Buckets: []float64{0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 300},
		}, []string{"kind", "result"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "panelcast_render_failures_total",
			Help: "Render requests that did not produce a picture, by reason: bad_request, unauthorized, forbidden_url, timeout, queue_full, no_chromium, shutting_down, render.",
		}, []string{"reason"}),
	}
	m.registry.MustRegister(more...)
	m.registry.MustRegister(m.duration, m.failures, statsCollector{r},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// statsCollector reads the renderer's own counters at scrape time, so the
// numbers cannot drift from what the renderer does.
type statsCollector struct{ r *render.Renderer }

var (
	inFlightDesc = prometheus.NewDesc("panelcast_renders_in_flight",
		"Renders holding a browser slot now.", nil, nil)
	queueDesc = prometheus.NewDesc("panelcast_render_queue_depth",
		"Renders waiting for a browser slot now.", nil, nil)
	rendersDesc = prometheus.NewDesc("panelcast_renders_total",
		"Renders that got a browser slot since start.", nil, nil)
	restartsDesc = prometheus.NewDesc("panelcast_browser_restarts_total",
		"Browser starts after the first: crashes, hangs and recycling (recycle_after).", nil, nil)
	infoDesc = prometheus.NewDesc("panelcast_build_info",
		"Always 1; labels name the Panelcast release and the browser it drives.", []string{"version", "browser"}, nil)
)

func (c statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{inFlightDesc, queueDesc, rendersDesc, restartsDesc, infoDesc} {
		ch <- d
	}
}

func (c statsCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.r.Stats()
	ch <- prometheus.MustNewConstMetric(inFlightDesc, prometheus.GaugeValue, float64(s.InFlight))
	ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(s.Queued))
	ch <- prometheus.MustNewConstMetric(rendersDesc, prometheus.CounterValue, float64(s.Renders))
	ch <- prometheus.MustNewConstMetric(restartsDesc, prometheus.CounterValue, float64(s.Restarts))
	ch <- prometheus.MustNewConstMetric(infoDesc, prometheus.GaugeValue, 1, buildinfo.Version, s.BrowserVersion)
}
