// Command fakeplugin is a stand-in renderer plugin for pluginhost's own
// tests: it serves through the plugin SDK and reports what it received.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/panelcast/panelcast/pkg/pluginextensionv2"
)

func main() {
	err := backend.Manage("panelcast-renderer", backend.ServeOpts{
		CheckHealthHandler:  backend.CheckHealthHandlerFunc(checkHealth),
		CallResourceHandler: backend.CallResourceHandlerFunc(callResource),
		ExtraPlugins:        goplugin.PluginSet{"renderer": &rendererPlugin{}},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Lets the test see Kill's forced path: no exit after shutdown.
	if os.Getenv("FAKEPLUGIN_STUBBORN") == "1" {
		select {}
	}
}

type rendererPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
}

func (*rendererPlugin) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	pluginextensionv2.RegisterRendererServer(s, renderer{})
	return nil
}

func (*rendererPlugin) GRPCClient(context.Context, *goplugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errors.New("fakeplugin serves only")
}

type renderer struct {
	pluginextensionv2.UnimplementedRendererServer
}

// Render answers special URLs with facts in the error field; any other URL
// gets a 1x1 PNG at filePath.
func (renderer) Render(ctx context.Context, req *pluginextensionv2.RenderRequest) (*pluginextensionv2.RenderResponse, error) {
	switch req.GetUrl() {
	case "echo:env":
		env := map[string]string{}
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		return errorResponse(env)
	case "echo:deadline":
		deadline, ok := ctx.Deadline()
		if !ok {
			return &pluginextensionv2.RenderResponse{Error: "no deadline"}, nil
		}
		return &pluginextensionv2.RenderResponse{Error: fmt.Sprint(time.Until(deadline).Milliseconds())}, nil
	case "hang":
		<-ctx.Done()
		return nil, ctx.Err()
	}
	f, err := os.OpenFile(req.GetFilePath(), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return &pluginextensionv2.RenderResponse{Error: err.Error()}, nil
	}
	defer f.Close()
	if err := png.Encode(f, image.NewRGBA(image.Rect(0, 0, 1, 1))); err != nil {
		return &pluginextensionv2.RenderResponse{Error: err.Error()}, nil
	}
	return &pluginextensionv2.RenderResponse{}, nil
}

func errorResponse(v any) (*pluginextensionv2.RenderResponse, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return &pluginextensionv2.RenderResponse{Error: string(b)}, nil
}

// contextFacts is what the plugin can learn from a request's plugin context.
// AppURL is the SDK's answer, which falls back to the GF_APP_URL environment
// variable; ContextAppURL is what the context itself carried.
type contextFacts struct {
	AppURL        string `json:"appURL"`
	ContextAppURL string `json:"contextAppURL"`
	Role          string `json:"role"`
	Login         string `json:"login"`
	OrgID         int64  `json:"orgID"`
	PluginID      string `json:"pluginID"`
	PluginVersion string `json:"pluginVersion"`
	UserAgent     string `json:"userAgent"`
}

func facts(pc backend.PluginContext) contextFacts {
	f := contextFacts{OrgID: pc.OrgID, PluginID: pc.PluginID, PluginVersion: pc.PluginVersion}
	if pc.GrafanaConfig != nil {
		f.AppURL, _ = pc.GrafanaConfig.AppURL()
		f.ContextAppURL = pc.GrafanaConfig.Get(backend.AppURL)
	}
	if pc.User != nil {
		f.Role, f.Login = pc.User.Role, pc.User.Login
	}
	if pc.UserAgent != nil && !pc.UserAgent.IsUnknown() {
		f.UserAgent = pc.UserAgent.String()
	}
	return f
}

func checkHealth(_ context.Context, req *backend.CheckHealthRequest) (*backend.CheckHealthResult, error) {
	b, err := json.Marshal(facts(req.PluginContext))
	if err != nil {
		return nil, err
	}
	return &backend.CheckHealthResult{Status: backend.HealthStatusOk, Message: string(b)}, nil
}

type resourceEcho struct {
	contextFacts
	Method  string              `json:"method"`
	Path    string              `json:"path"`
	URL     string              `json:"url"`
	Headers map[string][]string `json:"headers"`
	Body    string              `json:"body"`
}

func callResource(_ context.Context, req *backend.CallResourceRequest, sender backend.CallResourceResponseSender) error {
	b, err := json.Marshal(resourceEcho{
		contextFacts: facts(req.PluginContext),
		Method:       req.Method,
		Path:         req.Path,
		URL:          req.URL,
		Headers:      req.Headers,
		Body:         string(req.Body),
	})
	if err != nil {
		return err
	}
	return sender.Send(&backend.CallResourceResponse{
		Status:  201,
		Headers: map[string][]string{"x-echo": {"yes"}, "Set-Cookie": {"session=stolen"}},
		Body:    b,
	})
}
