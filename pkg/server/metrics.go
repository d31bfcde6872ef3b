package server

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/panelcast/panelcast/pkg/service"
)

// metricsHandler serves the service's series (the same in every door) and
// the process's, from a registry of the server's own so that two servers
// in one process (tests) do not collide.
func metricsHandler(svc *service.Service) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(svc.Collectors()...)
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}
