package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"

	"github.com/panelcast/panelcast/pkg/buildinfo"
	"github.com/panelcast/panelcast/pkg/config"
	"github.com/panelcast/panelcast/pkg/demo"
	"github.com/panelcast/panelcast/pkg/secret"
	"github.com/panelcast/panelcast/pkg/server"
	"github.com/panelcast/panelcast/pkg/service"
)

// runServe is `panelcast serve`: Grafana's remote rendering service, chat
// delivery and the web console. With neither grafana_url nor
// allowed_origins it serves the built-in demo dashboard and renders that.
// It checks the settings before starting anything, listens before
// starting the browser (a taken port fails fast), and shuts down
// gracefully when ctx ends (SIGTERM, SIGINT).
func runServe(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	cfg, _, err := config.FromArgs("panelcast serve", args, environ, stderr, nil)
	if err != nil {
		return err
	}
	log := jsonLogger(stderr, cfg.LogLevel)
	var demo *demoGrafana
	if cfg.GrafanaURL == "" && len(cfg.AllowedOrigins) == 0 {
		if demo, err = startDemoGrafana(&cfg, log); err != nil {
			return err
		}
		defer demo.Close()
	}
	if err := server.CheckConfig(cfg); err != nil {
		return err
	}
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
	opts := service.Options{Config: cfg, Log: log, InboxPermalink: server.InboxPermalink}
	if demo != nil {
		opts.DemoPanel = &demo.panel
	}
	svc := service.New(ctx, opts)
	// Without a browser binary nothing can ever render: better a clear
	// exit than a service that answers 503 forever. A browser that is
	// found but failed to start is retried by the next render.
	if svc.RendererStats().ChromiumPath == "" {
		ln.Close()
		return svc.StartErr()
	}
	srv, err := server.New(svc)
	if err != nil {
		ln.Close()
		_ = svc.Shutdown(context.Background(), nil)
		return err
	}
	// Chat delivery runs beside the render API; without it pushes get 503
	// with the reason, renders still work.
	// Serve stops it again at shutdown, before the renderer closes.
	if err := svc.Start(); err != nil {
		log.Error("chat delivery did not start; pushes are refused until it is fixed", "error", err)
	}
	base := "http://" + ln.Addr().String()
	origins, _ := service.AllowedOrigins(cfg)
	fmt.Fprintf(stdout, "panelcast %s serving Grafana's render API on %s (set [rendering] server_url = http://<this host>:%d/render); pages allowed on %s\n",
		buildinfo.Version, base, ln.Addr().(*net.TCPAddr).Port, strings.Join(origins, ", "))
	fmt.Fprintf(stdout, "console: %s/\n", base)
	if demo != nil {
		fmt.Fprintf(stdout, "demo: no grafana_url is set, so Panelcast serves its built-in demo dashboard on %s (https, a certificate for another name) and renders it; inbox:<channel> messages show in the console\n", demo.URL)
		fmt.Fprintf(stdout, "push the demo panel to inbox:demo:\n  %s\n", demo.curl(base, len(cfg.APITokens) > 0))
	}
	return srv.Serve(ctx, ln)
}

// demoGrafana is the Grafana serve renders when none is configured:
// package demo's dashboard, drawn by Grafana's own frontend, over https
// with a certificate for another name (the case the old renderer failed
// on), accepting a random service-account token as Grafana does.
type demoGrafana struct {
	*demo.Server
	panel service.DemoPanel
}

// startDemoGrafana starts the demo on a free loopback port and points cfg
// at it.
func startDemoGrafana(cfg *config.Config, log *slog.Logger) (*demoGrafana, error) {
	g, err := demo.Start(log)
	if err != nil {
		return nil, fmt.Errorf("start the built-in demo dashboard: %w", err)
	}
	cfg.GrafanaURL, cfg.GrafanaToken = g.URL, secret.New(g.Key)
	log.Info("no grafana_url set: serving the built-in demo dashboard", "grafana_url", g.URL)
	return &demoGrafana{Server: g, panel: service.DemoPanel{DashboardUID: demo.DashboardUID,
		PanelID: demo.PanelID, From: "now-6h", To: "now"}}, nil
}

// curl is a command line that pushes the demo panel to inbox:demo, as it
// can be pasted into a shell.
func (d *demoGrafana) curl(base string, token bool) string {
	auth := ""
	if token {
		auth = ` -H "Authorization: Bearer $PANELCAST_API_TOKEN"`
	}
	return fmt.Sprintf(`curl -sS %s/push -H 'Content-Type: application/json'%s -d '{"panel": {"dashboardUid": "%s", "panelId": %d, "from": "%s", "to": "%s"}, "to": "inbox:demo", "text": "Hello from curl"}'`,
		base, auth, d.panel.DashboardUID, d.panel.PanelID, d.panel.From, d.panel.To)
}
