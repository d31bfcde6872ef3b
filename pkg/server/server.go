// Package server is the second door: Grafana's remote rendering API over
// HTTP (GET /render, /render/csv, /render/version), for Grafana 13+, which
// no longer loads renderer plugins, and for any Grafana with
// [rendering] server_url set. It also serves /healthz and /metrics, the
// push and alert routes (/push, /alerts) and the web console at / with its
// API under /api/ (see console.go). Like the plugin door it only
// translates: every render and message goes to pkg/service.
package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/panelcast/panelcast/pkg/buildinfo"
	"github.com/panelcast/panelcast/pkg/config"
	"github.com/panelcast/panelcast/pkg/render"
	"github.com/panelcast/panelcast/pkg/service"
)

// Server is the HTTP door. It is an http.Handler; Serve runs it with
// graceful shutdown.
type Server struct {
	svc          *service.Service
	log          *slog.Logger
	metrics      *metrics
	handler      http.Handler
	shuttingDown atomic.Bool
}

// New builds the door on a service. It fails when the configuration names
// no origin that may be rendered (see service.AllowedOrigins).
func New(svc *service.Service) (*Server, error) {
	if _, err := service.AllowedOrigins(svc.Config); err != nil {
		return nil, err
	}
	s := &Server{svc: svc, log: svc.Log, metrics: newMetrics(svc.Renderer, svc.Collectors()...)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /render", s.render(false))
	mux.HandleFunc("GET /render/csv", s.render(true))
	mux.HandleFunc("GET /render/version", s.version)
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("GET /metrics", s.metrics.handler())
	// The console, its API and the push and alert routes (the handler the
	// plugin door mounts too) share one access check: api_token.
	s.mountConsole(mux, newAccess(svc.Config, svc))
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
	if len(cfg.AuthTokens) > 0 || loopback(cfg.Addr) {
		return nil
	}
	return fmt.Errorf("no auth_token is set and addr %s is reachable from other machines: set auth_token (Grafana's [rendering] renderer_token) or listen on 127.0.0.1", cfg.Addr)
}

func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Serve answers on ln until ctx ends, then shuts down gracefully: it stops
// accepting connections, lets renders in flight finish within
// shutdown_timeout, stops chat delivery (attempts in flight finish) and
// closes the renderer (killing the browser and any render still running
// after that); see service.Close.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	cfg := s.svc.Config
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
	st := s.svc.Renderer.Stats()
	s.log.Info("shutting down: refusing new connections, finishing renders in flight",
		"in_flight", st.InFlight, "queued", st.Queued, "shutdown_timeout", cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	// Chat delivery stops claiming jobs at once, while the HTTP door drains:
	// it finishes the attempts in flight (within its grace) and hands the
	// rest back to the other replicas, instead of taking new ones for as
	// long as the slowest render of a caller takes.
	delivered := make(chan struct{})
	go func() {
		defer close(delivered)
		if err := s.svc.StopDelivery(); err != nil {
			s.log.Warn("closing the outbox failed", "error", err)
		}
	}()
	var err error
	if shutErr := hs.Shutdown(sctx); shutErr != nil {
		err = fmt.Errorf("renders were still running after shutdown_timeout (%s) and were cut off: raise shutdown_timeout (and the supervisor's stop timeout) above your longest render", cfg.ShutdownTimeout)
	}
	<-delivered
	// The renderer closes last, so the pushes being rendered finished; with
	// the deadline gone, the browser is killed at once.
	_ = s.svc.Close(sctx)
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
	writeJSON(w, http.StatusOK, map[string]string{"version": buildinfo.GrafanaVersion(buildinfo.Version)})
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
		writeJSON(w, status, h)
		return
	}
	st := s.svc.Renderer.Stats()
	body := map[string]any{"ok": true, "version": buildinfo.Version, "chromium": st.ChromiumPath,
		"browser": st.BrowserVersion, "inFlight": st.InFlight, "queued": st.Queued}
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
	writeJSON(w, status, body)
}

func startError(svc *service.Service) string {
	if svc.StartErr != nil {
		return svc.StartErr.Error()
	}
	return render.ErrNoChromium.Error()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	// Sentences like "Bearer <api_token>" stay readable.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		writeError(w, http.StatusInternalServerError, "encode the answer: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// writeError answers with a sentence, as Grafana shows a renderer's text.
func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg + "\n"))
}
