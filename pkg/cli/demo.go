package cli

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/panelcast/panelcast/pkg/config"
	"github.com/panelcast/panelcast/pkg/demo"
	"github.com/panelcast/panelcast/pkg/secret"
	"github.com/panelcast/panelcast/pkg/service"
)

// runDemo renders the built-in demo panel: a time series panel drawn by
// Grafana's own frontend libraries over fixed demo data, served over https
// with a certificate made for another name, the case the old renderer
// failed on without rendering_ignore_https_errors.
func runDemo(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	var out string
	cfg, _, err := config.FromArgs("panelcast demo", args, environ, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&out, "o", "panel.png", "output file")
	})
	if err != nil {
		return err
	}
	g, err := demo.Start(jsonLogger(stderr, cfg.LogLevel))
	if err != nil {
		return fmt.Errorf("start the demo Grafana page: %w", err)
	}
	defer g.Close()
	fmt.Fprintf(stdout, "rendering the demo panel from %s (self-signed certificate for another name)\n", g.URL)
	return renderTo(ctx, cfg, service.GrafanaRender{URL: g.PanelURL(), RenderKey: secret.New(g.Key)}, out, stdout, stderr)
}
