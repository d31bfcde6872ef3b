package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/panelcast/panelcast/pkg/buildinfo"
	"github.com/panelcast/panelcast/pkg/config"
	"github.com/panelcast/panelcast/pkg/delivery"
	"github.com/panelcast/panelcast/pkg/server"
	"github.com/panelcast/panelcast/pkg/service"
)

// runServe is `panelcast serve`: Grafana's remote rendering service. It
// checks the settings before starting anything, listens before starting
// the browser (a taken port fails fast), and shuts down gracefully when
// ctx ends (SIGTERM, SIGINT).
func runServe(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	cfg, _, err := config.FromArgs("panelcast serve", args, environ, stderr, nil)
	if err != nil {
		return err
	}
	if err := server.CheckConfig(cfg); err != nil {
		return err
	}
	log := jsonLogger(stderr, cfg.LogLevel)
	for _, t := range cfg.AuthTokens {
		if len(t.Reveal()) < 16 {
			log.Warn("an auth_token is shorter than 16 characters (Grafana's default is \"-\"): anyone who guesses it can make the browser load your dashboards; use a long random token in both places")
			break
		}
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w: choose another addr or stop what uses the port", cfg.Addr, err)
	}
	svc := service.New(ctx, cfg, log)
	// Without a browser binary nothing can ever render: better a clear
	// exit than a service that answers 503 forever. A browser that is
	// found but failed to start is retried by the next render.
	if svc.Renderer.Stats().ChromiumPath == "" {
		ln.Close()
		return svc.StartErr
	}
	srv, err := server.New(svc)
	if err != nil {
		ln.Close()
		_ = svc.Renderer.Close(context.Background())
		return err
	}
	// Chat delivery runs beside the render API; without it pushes get 503
	// with the reason, renders still work.
	// Serve stops it again at shutdown, before the renderer closes.
	if err := svc.StartDelivery(delivery.WorkerOptions{}); err != nil {
		log.Error("chat delivery did not start; pushes are refused until it is fixed", "error", err)
	}
	origins, _ := service.AllowedOrigins(cfg)
	fmt.Fprintf(stdout, "panelcast %s serving Grafana's render API on http://%s (set [rendering] server_url = http://<this host>:%d/render); pages allowed on %s\n",
		buildinfo.Version, ln.Addr(), ln.Addr().(*net.TCPAddr).Port, strings.Join(origins, ", "))
	return srv.Serve(ctx, ln)
}
