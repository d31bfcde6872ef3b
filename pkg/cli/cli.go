// Package cli is the command line: plugin mode when Grafana starts the
// binary, else the subcommands a person runs.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/panelcast/panelcast/pkg/app"
	"github.com/panelcast/panelcast/pkg/buildinfo"
	"github.com/panelcast/panelcast/pkg/config"
	"github.com/panelcast/panelcast/pkg/plugin"
	"github.com/panelcast/panelcast/pkg/render"
	"github.com/panelcast/panelcast/pkg/secret"
	"github.com/panelcast/panelcast/pkg/service"
)

const Usage = `Panelcast renders Grafana panels with a warm headless Chromium.

Usage:
  panelcast render --url URL -o panel.png [--width 1000 --height 500 ...]
  panelcast demo -o panel.png      render the built-in demo panel
  panelcast push --panel URL|UID:PANEL_ID --to slack:#ops [--text ...]
                                   render a panel and post it to chat (or inbox:<channel>)
  panelcast serve --grafana-url URL [--addr 0.0.0.0:8081]
                                   Grafana's remote rendering service (Grafana 13+) and
                                   the web console; token in PANELCAST_AUTH_TOKEN; with
                                   no --grafana-url it serves and renders a demo dashboard
  panelcast healthcheck [--url URL]
                                   exit 0 when serve's /healthz answers 200 (for images without curl)
  panelcast version
  panelcast keys                   every setting with its default (Markdown)

Grafana starts this same binary as its renderer plugin (panelcast-renderer).
Every setting is a flag, a PANELCAST_<KEY> variable or a line of --config;
run "panelcast render -h" for the list.
`

// Main runs the program and returns its exit code.
func Main(args []string, environ []string, stdout, stderr io.Writer) int {
	if plugin.Detected() && app.Started(args[0]) {
		if err := app.Serve(pluginLogger(stderr, "info"), environ); err != nil {
			fmt.Fprintln(stderr, "panelcast:", err)
			return 1
		}
		return 0
	}
	if plugin.Detected() {
		if err := runPlugin(environ, stderr); err != nil {
			fmt.Fprintln(stderr, "panelcast:", err)
			return 1
		}
		return 0
	}
	if len(args) < 2 {
		fmt.Fprint(stderr, Usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[1] {
	case "render":
		err = runRender(ctx, args[2:], environ, stdout, stderr)
	case "demo":
		err = runDemo(ctx, args[2:], environ, stdout, stderr)
	case "push":
		err = runPush(ctx, args[2:], environ, stdout, stderr)
	case "serve":
		err = runServe(ctx, args[2:], environ, stdout, stderr)
	case "healthcheck":
		err = runHealthcheck(ctx, args[2:], environ, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "panelcast %s (%s, %s/%s)\n", buildinfo.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		if bin, err := render.FindChromium(os.Getenv("PANELCAST_CHROMIUM")); err == nil {
			fmt.Fprintf(stdout, "chromium: %s\n", bin)
		} else {
			fmt.Fprintf(stdout, "chromium: %v\n", err)
		}
		return 0
	case "keys":
		config.WriteTable(stdout)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, Usage)
		return 0
	default:
		fmt.Fprintf(stderr, "panelcast: unknown command %q\n\n%s", args[1], Usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "panelcast:", err)
		return 1
	}
	return 0
}

func runPlugin(environ []string, stderr io.Writer) error {
	cfg, others, err := config.FromPluginEnv(environ)
	if err != nil {
		pluginLogger(stderr, "info").Error("bad configuration: the plugin stops", "error", err)
		return err
	}
	log := pluginLogger(stderr, cfg.LogLevel)
	sdkLogLevel(cfg.LogLevel)
	for _, name := range others {
		log.Debug("left alone: another plugin's setting in Grafana's environment", "variable", name)
	}
	return plugin.Serve(service.New(context.Background(), service.Options{Config: cfg, Log: log}))
}

type renderFlags struct {
	url, out, renderKey, domain, encoding string
}

func (f *renderFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&f.url, "url", "", "page to render, e.g. https://grafana:3000/d-solo/UID/slug?orgId=1&panelId=2&render=1")
	fs.StringVar(&f.out, "o", "panel.png", "output file")
	fs.StringVar(&f.renderKey, "render-key", "", "value of the renderKey cookie Grafana checks")
	fs.StringVar(&f.domain, "domain", "", "cookie domain for render-key (default: the URL's host)")
	fs.StringVar(&f.encoding, "encoding", "png", "png or pdf")
}

func runRender(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	var f renderFlags
	cfg, _, err := config.FromArgs("panelcast render", args, environ, stderr, f.add)
	if err != nil {
		return err
	}
	if f.url == "" {
		return errors.New("--url is required: the page to render")
	}
	return renderTo(ctx, cfg, service.GrafanaRender{URL: f.url, RenderKey: secret.New(f.renderKey), Domain: f.domain, Encoding: f.encoding}, f.out, stdout, stderr)
}

func renderTo(ctx context.Context, cfg config.Config, g service.GrafanaRender, out string, stdout, stderr io.Writer) error {
	log := newLogger(stderr, cfg.LogLevel)
	svc := service.New(ctx, service.Options{Config: cfg, Log: log})
	defer svc.Shutdown(context.Background(), nil) //nolint:errcheck // nothing runs after the render
	if svc.StartErr() != nil {
		return svc.StartErr()
	}
	start := time.Now()
	data, err := svc.Render(ctx, g)
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	fmt.Fprintf(stdout, "wrote %s (%d bytes) in %s\n", out, len(data), time.Since(start).Round(time.Millisecond))
	return nil
}
