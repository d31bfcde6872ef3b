// Package plugin is the first door: Grafana 9–12 start the binary as a
// renderer plugin over go-plugin/gRPC. It serves the renderer service,
// diagnostics (CheckHealth) and resources, and translates each call into the
// service.
package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/resource/httpadapter"
	goplugin "github.com/hashicorp/go-plugin"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/panelcast/panelcast/pkg/grafanauser"
	"github.com/panelcast/panelcast/pkg/httpapi"
	"github.com/panelcast/panelcast/pkg/pluginextensionv2"
	"github.com/panelcast/panelcast/pkg/secret"
	"github.com/panelcast/panelcast/pkg/service"
)

// ID is plugin.json's id.
const ID = "panelcast-renderer"

// Detected reports whether Grafana started this process as a plugin: the
// go-plugin handshake cookie is in the environment.
func Detected() bool {
	return os.Getenv("grafana_plugin_type") == "datasource"
}

// Serve serves the plugin until Grafana stops it, then shuts the service
// down (service.Shutdown: go-plugin has stopped the door by then). Chat
// delivery runs alongside; if its outbox cannot open, renders still work
// and pushes are refused with the reason.
func Serve(svc *service.Service) error {
	if err := svc.Start(); err != nil {
		svc.Logger().Error("chat delivery did not start; pushes are refused until it is fixed", "error", err)
	}
	// Grafana collects a plugin's metrics from the default registry
	// (/api/plugins/panelcast-renderer/metrics).
	for _, c := range svc.Collectors() {
		if err := prometheus.Register(c); err != nil {
			svc.Logger().Warn("a metric is not exported", "error", err)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("GET /health", healthResource{svc: svc})
	httpapi.Mount(mux, httpapi.New(svc, httpapi.Options{
		Authorize:  grafanauser.MinRole(svc.Config().PushMinRole, "/api/plugins/"+ID+"/resources"),
		GrafanaURL: grafanauser.AppURL,
		Caller:     grafanauser.Caller,
	}))
	// Manage serves through go-plugin as Serve did, with the SDK's standard
	// middlewares (request logs and metrics Grafana scrapes, tracing) and
	// its standalone debugging mode (GF_PLUGIN_GRPC_ADDRESS_<ID>).
	err := backend.Manage(ID, backend.ServeOpts{
		CheckHealthHandler:  health{svc},
		CallResourceHandler: httpadapter.New(mux),
		ExtraPlugins: goplugin.PluginSet{"renderer": &RendererPlugin{
			Impl: &renderer{svc: svc}, Sanitizer: &sanitizer{svc: svc}}},
	})
	ctx, cancel := context.WithTimeout(context.Background(), svc.Config().ShutdownTimeout)
	defer cancel()
	return errors.Join(err, svc.Shutdown(ctx, nil))
}

// RendererPlugin is the go-plugin plugin that carries Grafana's renderer
// gRPC services: Renderer, and on the same connection Sanitizer, which
// Grafana's client for the "renderer" entry also speaks. Impl and Sanitizer
// are set on the plugin side; the client side needs neither.
type RendererPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
	Impl      pluginextensionv2.RendererServer
	Sanitizer pluginextensionv2.SanitizerServer
}

func (p *RendererPlugin) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	pluginextensionv2.RegisterRendererServer(s, p.Impl)
	if p.Sanitizer != nil {
		pluginextensionv2.RegisterSanitizerServer(s, p.Sanitizer)
	}
	return nil
}

func (p *RendererPlugin) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return pluginextensionv2.NewRendererClient(c), nil
}

type renderer struct {
	pluginextensionv2.UnimplementedRendererServer
	svc *service.Service
}

// Render answers with an error text rather than a gRPC error: that is how
// Grafana expects failures, and it shows the text to the user.
func (r *renderer) Render(ctx context.Context, req *pluginextensionv2.RenderRequest) (*pluginextensionv2.RenderResponse, error) {
	kind := service.KindPNG // Grafana 9 sends no encoding
	if req.Encoding == "pdf" {
		kind = service.KindPDF
	}
	g := grafanaRender(req.Url, req.Width, req.Height, req.DeviceScaleFactor, req.Timeout,
		req.Timezone, req.RenderKey, req.Domain, req.Headers, req.Encoding)
	if _, err := r.render(ctx, kind, req.AuthToken, req.FilePath, g); err != nil {
		return &pluginextensionv2.RenderResponse{Error: err.Error()}, nil
	}
	return &pluginextensionv2.RenderResponse{}, nil
}

func (r *renderer) RenderCSV(ctx context.Context, req *pluginextensionv2.RenderCSVRequest) (*pluginextensionv2.RenderCSVResponse, error) {
	g := grafanaRender(req.Url, 0, 0, 0, req.Timeout, req.Timezone, req.RenderKey, req.Domain, req.Headers, "")
	name, err := r.render(ctx, service.KindCSV, req.AuthToken, req.FilePath, g)
	if err != nil {
		return &pluginextensionv2.RenderCSVResponse{Error: err.Error()}, nil
	}
	return &pluginextensionv2.RenderCSVResponse{FileName: name}, nil
}

// render runs one of Grafana's renders into the file Grafana named: a
// path Panelcast may not write is a bad request. It returns a CSV's file
// name.
func (r *renderer) render(ctx context.Context, kind service.RenderKind, token, path string, g service.GrafanaRender) (string, error) {
	var name string
	err := r.svc.HandleRender(ctx, service.RenderCall{Kind: kind, AuthToken: token, Request: g,
		Invalid: checkOutputPath(path, string(kind), r.svc.Config().OutputDirs),
		Deliver: func(body []byte, filename string) error {
			name = filename
			return writeOutput(path, body)
		}})
	if err == nil {
		r.svc.NoteGrafanaFile(path)
	}
	return name, err
}

func grafanaRender(url string, width, height int32, scale float32, timeout int32, tz, renderKey, domain string,
	headers map[string]*pluginextensionv2.StringList, encoding string) service.GrafanaRender {
	g := service.GrafanaRender{URL: url, Width: int(width), Height: int(height), Scale: float64(scale),
		Timeout: time.Duration(timeout) * time.Second, Timezone: tz, RenderKey: secret.New(renderKey), Domain: domain,
		Encoding: encoding, Headers: map[string][]string{}}
	for k, v := range headers {
		if v != nil {
			g.Headers[k] = v.Values
		}
	}
	return g
}

type sanitizer struct {
	pluginextensionv2.UnimplementedSanitizerServer
	svc *service.Service
}

// Sanitize answers failures in the error field, which Grafana shows the
// uploader: a gRPC error would read as a broken plugin. Grafana sends
// configType DOMPurify with its DOMPurify settings (the svg and svgFilters
// profiles plus <use>, no links to other documents in <use>), which
// Panelcast's own policy already follows, so the settings are not read.
func (s *sanitizer) Sanitize(ctx context.Context, req *pluginextensionv2.SanitizeRequest) (*pluginextensionv2.SanitizeResponse, error) {
	if t := req.GetConfigType(); t != "" && t != "DOMPurify" {
		return &pluginextensionv2.SanitizeResponse{Error: fmt.Sprintf("configType %q is not supported: Panelcast sanitises SVG with DOMPurify's settings", t)}, nil
	}
	out, err := s.svc.SanitizeSVG(ctx, req.GetFilename(), req.GetContent())
	if err != nil {
		return &pluginextensionv2.SanitizeResponse{Error: err.Error()}, nil
	}
	return &pluginextensionv2.SanitizeResponse{Sanitized: out}, nil
}

type health struct{ svc *service.Service }

func (h health) CheckHealth(ctx context.Context, _ *backend.CheckHealthRequest) (*backend.CheckHealthResult, error) {
	res := h.svc.Health(ctx)
	details, _ := json.Marshal(res)
	status := backend.HealthStatusOk
	if !res.OK {
		status = backend.HealthStatusError
	}
	return &backend.CheckHealthResult{Status: status, Message: res.Message, JSONDetails: details}, nil
}
