// Package server is the second door: Grafana's remote rendering API over
// HTTP (GET /render, /render/csv, /render/version), for Grafana 13+, which
// no longer loads renderer plugins, and for any Grafana with
// [rendering] server_url set. It also serves /healthz and /metrics. Like
// the plugin door it only translates: every render goes to pkg/service.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/panelcast/panelcast/pkg/buildinfo"
	"github.com/panelcast/panelcast/pkg/chatapi"
	"github.com/panelcast/panelcast/pkg/config"
	"github.com/panelcast/panelcast/pkg/render"
	"github.com/panelcast/panelcast/pkg/service"
)

// Server is the HTTP door. It is an http.Handler; Serve runs it with
// graceful shutdown.
type Server struct {
	svc          *service.Service
	log          *slog.Logger
	guard        *render.Guard
	metrics      *metrics
	handler      http.Handler
	shuttingDown atomic.Bool
}

// New builds the door on a service. It fails when the configuration names
// no origin that may be rendered (see AllowedOrigins).
func New(svc *service.Service) (*Server, error) {
	origins, err := AllowedOrigins(svc.Config)
	if err != nil {
		return nil, err
	}
	guard, err := render.NewGuard(origins...)
	if err != nil {
		return nil, fmt.Errorf("allowed_origins: %w", err)
	}
	s := &Server{svc: svc, log: svc.Log, guard: guard, metrics: newMetrics(svc.Renderer, svc.Collectors()...)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /render", s.render(false))
	mux.HandleFunc("GET /render/csv", s.render(true))
	mux.HandleFunc("GET /render/version", s.version)
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("GET /metrics", s.metrics.handler())
	// The push and alert routes are the same handler the plugin door
	// mounts; here a bearer api_token admits the caller.
	chatapi.Mount(mux, chatapi.New(svc, chatapi.Options{Authorize: chatapi.BearerToken(svc.Config.APITokens)}))
	s.handler = withRequestID(mux)
	return s, nil
}

// ServeHTTP answers one request; every answer carries X-Request-Id.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// AllowedOrigins are the origins whose pages may be rendered: grafana_url's
// and those in allowed_origins. Grafana asks for pages on its callback_url,
// so that is what grafana_url must be.
func AllowedOrigins(cfg config.Config) ([]string, error) {
	origins := slices.Clone(cfg.AllowedOrigins)
	if cfg.GrafanaURL != "" {
		origins = append([]string{cfg.GrafanaURL}, origins...)
	}
	if len(origins) > 0 {
		return origins, nil
	}
	return nil, errors.New("no page may be rendered: set grafana_url to Grafana's [rendering] callback_url (e.g. PANELCAST_GRAFANA_URL=http://grafana:3000), or list origins in allowed_origins")
}

// CheckConfig refuses settings that would expose the service: without
// auth_token anyone who reaches the port could make the browser load
// Grafana pages, so that is allowed only on a loopback address. It also
// wants an origin to render (AllowedOrigins).
func CheckConfig(cfg config.Config) error {
	if _, err := AllowedOrigins(cfg); err != nil {
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
// shutdown_timeout, and closes the renderer (killing the browser and any
// render still running after that).
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
	var err error
	if shutErr := hs.Shutdown(sctx); shutErr != nil {
		err = fmt.Errorf("renders were still running after shutdown_timeout (%s) and were cut off: raise shutdown_timeout (and the supervisor's stop timeout) above your longest render", cfg.ShutdownTimeout)
	}
	// With the deadline gone, Close kills the browser at once.
	_ = s.svc.Renderer.Close(sctx)
	_ = hs.Close()
	if serveErr == nil {
		<-served
	}
	s.log.Info("stopped")
	return errors.Join(serveErr, err)
}

// version answers Grafana's capability check. Grafana reads "version" and
// compares it with semver constraints (full-height and scaled-down images
// need >= 3.4.0, PDF >= 3.10.0); a pre-release such as 4.0.0-3-gabc fails
// every such constraint, so only MAJOR.MINOR.PATCH is given.
func (s *Server) version(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"version": RenderVersion(buildinfo.Version)})
}

// protocolFloor is the renderer version whose whole protocol Panelcast
// speaks (the 4.x plugin's: full height, scaling, PDF, CSV).
const protocolFloor = "4.0.0"

// RenderVersion is the version Grafana is told: the release's
// MAJOR.MINOR.PATCH, but never below protocolFloor, so a development build
// or a young release number does not switch Grafana's PDF and full-page
// rendering off.
func RenderVersion(release string) string {
	v := strings.TrimPrefix(strings.TrimSpace(release), "v")
	if i := strings.IndexAny(v, "-+"); i >= 0 {
		v = v[:i]
	}
	got, ok := semver(v)
	floor, _ := semver(protocolFloor)
	if !ok || slices.Compare(got[:], floor[:]) < 0 {
		return protocolFloor
	}
	return fmt.Sprintf("%d.%d.%d", got[0], got[1], got[2])
}

// semver reads MAJOR.MINOR.PATCH and nothing else.
func semver(v string) ([3]int, bool) {
	var out [3]int
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return out, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return out, false
		}
		out[i] = n
	}
	return out, true
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
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "encode the answer: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// writeError answers with a sentence, as Grafana shows a renderer's text.
func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg + "\n"))
}
