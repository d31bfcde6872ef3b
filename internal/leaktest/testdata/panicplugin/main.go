// Command panicplugin is a renderer plugin whose resource calls panic: it
// reads Panelcast's configuration from the environment Grafana gives it, as
// the real plugin does, builds a render request with the render key the
// call names (?url=…&key=…), and panics holding both, so leaktest can check
// what the plugin SDK's panic recovery, which is the plugin door's, logs
// and answers Grafana.
package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/panelcast/panelcast/pkg/config"
	"github.com/panelcast/panelcast/pkg/render"
	"github.com/panelcast/panelcast/pkg/secret"
	"github.com/panelcast/panelcast/pkg/service"
)

func main() {
	cfg, _, err := config.FromPluginEnv(os.Environ())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// It never renders: a browser path that does not exist keeps one from
	// starting.
	noBrowser := cfg
	noBrowser.ChromiumPath = "/nonexistent/chromium"
	svc := service.New(context.Background(), service.Options{Config: noBrowser})
	err = backend.Manage("panelcast-renderer", backend.ServeOpts{
		CallResourceHandler: backend.CallResourceHandlerFunc(func(_ context.Context, req *backend.CallResourceRequest, _ backend.CallResourceResponseSender) error {
			_, query, _ := strings.Cut(req.URL, "?")
			q, _ := url.ParseQuery(query)
			r, rerr := svc.Request(service.GrafanaRender{URL: q.Get("url"), RenderKey: secret.New(q.Get("key"))})
			panic(struct {
				Config  config.Config
				Request render.Request
				Err     error
			}{cfg, r, rerr})
		}),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
