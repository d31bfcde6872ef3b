package service

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/panelcast/panelcast/pkg/render"
)

// assetCacheCollector reads the renderer's asset cache counters (see
// asset_cache_mb) at scrape time.
type assetCacheCollector struct{ r *render.Renderer }

var (
	assetHitsDesc = prometheus.NewDesc("panelcast_asset_cache_hits_total",
		"Grafana static files (bundles, fonts, images) served to renders from the asset cache instead of Grafana.", nil, nil)
	assetMissesDesc = prometheus.NewDesc("panelcast_asset_cache_misses_total",
		"Static file requests the asset cache had no fresh answer for, so Grafana (or the file's server) answered them.", nil, nil)
	assetBytesDesc = prometheus.NewDesc("panelcast_asset_cache_bytes",
		"Bytes the asset cache holds now (at most asset_cache_mb).", nil, nil)
)

func (c assetCacheCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{assetHitsDesc, assetMissesDesc, assetBytesDesc} {
		ch <- d
	}
}

func (c assetCacheCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.r.Stats().Assets
	ch <- prometheus.MustNewConstMetric(assetHitsDesc, prometheus.CounterValue, float64(st.Hits))
	ch <- prometheus.MustNewConstMetric(assetMissesDesc, prometheus.CounterValue, float64(st.Misses))
	ch <- prometheus.MustNewConstMetric(assetBytesDesc, prometheus.GaugeValue, float64(st.Bytes))
}
