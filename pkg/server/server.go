// Package server is the second door: Grafana's remote rendering API over
// HTTP (GET /render, /render/csv, /render/version), for Grafana 13+, which
// no longer loads renderer plugins, and for any Grafana with
// [rendering] server_url set. It also serves /healthz and /metrics, the
// push and alert routes (/push, /alerts) and the web console at / with its
// API under /api/ (see console.go). Like the plugin door it only
// translates: every render and message goes to pkg/service.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/panelcast/panelcast/pkg/buildinfo"
	"github.com/panelcast/panelcast/pkg/config"
	"github.com/panelcast/panelcast/pkg/httpapi"
	"github.com/panelcast/panelcast/pkg/render"
	"github.com/panelcast/panelcast/pkg/service"
)

// Server is the HTTP door. It is an http.Handler; Serve runs it with
// graceful shutdown.
type Server struct {
	svc          *service.Service
	log          *slog.Logger
	handler      http.Handler
	shuttingDown atomic.Bool
}

// New builds the door on a service. It fails when the configuration names
// no origin that may be rendered (see service.AllowedOrigins).
func New(svc *service.Service) (*Server, error) {
	if _, err := service.AllowedOrigins(svc.Config()); err != nil {
		return nil, err
	}
	s := &Server{svc: svc, log: svc.Logger()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /render", s.render(false))
	mux.HandleFunc("GET /render/csv", s.render(true))
	mux.HandleFunc("GET /render/version", s.version)
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("GET /metrics", metricsHandler(svc))
	// The console, its API and the push and alert routes (the handler the
	// plugin door mounts too) share one access check: api_token.
	s.mountConsole(mux, newAccess(svc.Config(), svc))
	s.handler = withRequestID(mux)
	return s, nil
}

// ServeHTTP answers one request; every answer carries X-Request-Id.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// CheckConfig refuses settings that would expose the service: without
// auth_token anyone who reaches the port could make the browser load
// Grafana pages, so that is allowed only on a loopback address. It also
// wants an origin to render (service.AllowedOrigins).
func CheckConfig(cfg config.Config) error {
	if _, err := service.AllowedOrigins(cfg); err != nil {
		return err
	}
	if len(cfg.AuthTokens) > 0 || loopbackHost(cfg.Addr) {
		return nil
	}
	return fmt.Errorf("no auth_token is set and addr %s is reachable from other machines: set auth_token (Grafana's [rendering] renderer_token) or listen on 127.0.0.1", cfg.Addr)
}

// Serve answers on ln until ctx ends, then shuts down gracefully in the
// service's order (service.Shutdown): it stops accepting connections and
// lets renders in flight finish within shutdown_timeout while chat
// delivery stops, then the browser closes.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	cfg := s.svc.Config()
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		// A render may wait for its whole timeout, at most max_timeout.
		WriteTimeout: cfg.MaxTimeout + 30*time.Second,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	var serveErr error
	select {
	case serveErr = <-served:
		serveErr = fmt.Errorf("serve on %s: %w", ln.Addr(), serveErr)
	case <-ctx.Done():
	}
	s.shuttingDown.Store(true)
	st := s.svc.RendererStats()
	s.log.Info("shutting down: refusing new connections, finishing renders in flight",
		"in_flight", st.InFlight, "queued", st.Queued, "shutdown_timeout", cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	err := s.svc.Shutdown(sctx, func(ctx context.Context) error {
		if hs.Shutdown(ctx) != nil {
			return fmt.Errorf("renders were still running after shutdown_timeout (%s) and were cut off: raise shutdown_timeout (and the supervisor's stop timeout) above your longest render", cfg.ShutdownTimeout)
		}
		return nil
	})
	_ = hs.Close()
	if serveErr == nil {
		<-served //nolint:errcheck // http.ErrServerClosed, after Shutdown
	}
	s.log.Info("stopped")
	return errors.Join(serveErr, err)
}

// version answers Grafana's capability check. Grafana reads "version" and
// compares it with semver constraints, so it gets buildinfo.GrafanaVersion,
// as plugin.json does.
func (s *Server) version(w http.ResponseWriter, _ *http.Request) {
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"version": buildinfo.GrafanaVersion(buildinfo.Version)})
}

// healthz is the cheap liveness and readiness answer: 200 while the browser
// binary is known and the server is not shutting down. With ?probe=1 it
// runs the service's probe render instead (a render slot for a tiny page),
// so that needs the renderer token.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("probe") != "" {
		if err := s.svc.CheckRendererToken(r.Header.Get("X-Auth-Token")); err != nil {
			writeError(w, http.StatusUnauthorized, err.Error())
			return
		}
		h := s.svc.Health(r.Context())
		status := http.StatusOK
		if !h.OK || s.shuttingDown.Load() {
			status = http.StatusServiceUnavailable
		}
		httpapi.WriteJSON(w, status, h)
		return
	}
	st := s.svc.RendererStats()
	body := map[string]any{"ok": true, "version": buildinfo.Version, "chromium": st.ChromiumPath,
		"browser": st.BrowserVersion, "browserRunning": st.BrowserRunning, "inFlight": st.InFlight, "queued": st.Queued}
	if a := s.svc.AlertsHealth(); a != nil {
		body["alerts"] = a
	}
	status := http.StatusOK
	switch {
	case st.ChromiumPath == "":
		status, body["ok"], body["message"] = http.StatusServiceUnavailable, false, startError(s.svc)
	case s.shuttingDown.Load():
		status, body["ok"], body["message"] = http.StatusServiceUnavailable, false, "shutting down"
	}
	httpapi.WriteJSON(w, status, body)
}

func startError(svc *service.Service) string {
	if svc.StartErr() != nil {
		return svc.StartErr().Error()
	}
	return render.ErrNoChromium.Error()
}

// writeError answers with a sentence, as Grafana shows a renderer's text.
func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg + "\n"))
}
