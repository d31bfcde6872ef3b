// Package pluginhost starts a renderer plugin binary the way Grafana 9–12 does
// and talks to it the way Grafana does, so integration tests meet the plugin
// under the same conditions as in production.
//
// Facts mirrored from Grafana's public source (paraphrased, no code copied):
//
//   - Executable: a renderer plugin is always started as
//     <plugin dir>/plugin_start_<os>_<arch>[.exe]; plugin.json "executable" is
//     ignored for type "renderer" (pkg/plugins/plugins.go ExecutablePath,
//     earlier pkg/plugins/manager/loader ComposeRendererStartCommand and
//     pkg/plugins/backendplugin/provider rendererStartCmd).
//   - Process: exec.Command(path) with no arguments and cmd.Env set to
//     Grafana's list; go-plugin ClientConfig with the SDK handshake (protocol
//     2, cookie grafana_plugin_type=datasource), AllowedProtocols gRPC only,
//     default StartTimeout, SkipHostEnv false for renderers, so go-plugin
//     appends the host environment and then its own variables
//     (pkg/plugins/backendplugin/grpcplugin/client.go; SDK
//     backend/grpcplugin/handshake.go; go-plugin client.go Start).
//   - Plugin set: diagnostics, resource, data, stream, renderer (newer also
//     admission, conversion; 9.x also secretsmanager; no "sanitizer" entry
//     exists: the "renderer" entry's client speaks both the Renderer and the
//     Sanitizer gRPC service on its connection, pluginextensionv2
//     renderer_grpc_plugin.go). Start fails if the negotiated version is
//     below 2 (grpcplugin/client.go, client_v2.go, grpc_plugin.go).
//   - Stop: Grafana's Stop calls go-plugin Client.Kill: the controller's
//     Shutdown RPC, up to 2 s for the process to exit, then SIGKILL of the
//     plugin process only (grpc_plugin.go Stop; go-plugin client.go Kill).
//     Renderers are registered unmanaged, so nothing restarts them.
//   - Environment: see env.go.
//   - Render, CheckHealth, CallResource: see calls.go.
package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend/grpcplugin"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/panelcast/panelcast/pkg/pluginextensionv2"
)

// Config describes the Grafana installation the host pretends to be.
type Config struct {
	// Executable is the plugin binary. Grafana only ever runs a renderer as
	// plugin_start_<os>_<arch>, so any other file name is refused.
	Executable string
	// PluginID is plugin.json "id", e.g. "panelcast-renderer".
	PluginID string
	// PluginVersion is plugin.json info.version; Grafana sends it in the
	// plugin context (10.3+) and gates renderer features on it.
	PluginVersion string
	// Section is the [plugin.<id>] grafana.ini section, key -> value.
	Section map[string]string
	// GrafanaVersion is the emulated Grafana build, e.g. "12.1.0" (9.x–12.x).
	GrafanaVersion string
	// AppURL is [server] root_url; Grafana appends a trailing slash.
	AppURL string
	// DataPath is [paths] data; renders go to DataPath/png/<random>.png.
	DataPath string
	// Install is how Grafana was installed, which decides its own process
	// environment (see Install*): InstallByHand (the zero value) passes the
	// test's environment on as a Grafana started from a shell would.
	Install Install
	// ExtraEnv holds KEY=value pairs of Grafana's own process environment
	// (e.g. what a container sets). They override [plugin.<id>] keys the way
	// real environment variables do and are passed on like the rest of it.
	ExtraEnv []string
	// Stderr receives the plugin's log lines as go-plugin's hclog re-logs
	// them; nil discards them.
	Stderr io.Writer
	// App, when set, starts an app plugin's backend instead of a renderer:
	// Grafana runs <dir>/<AppExecutable>_<os>_<arch> (plugin.json
	// "executable"), with the same handshake and environment, and sends
	// the app's settings in every call's plugin context.
	App *AppSettings
	// AppExecutable is the app's plugin.json "executable".
	AppExecutable string
	// ManagedServiceAccountToken is the token of the service account
	// Grafana (10.3+) makes for an app whose plugin.json declares iam
	// permissions, when externalServiceAccounts (before 11.3) or [auth]
	// managed_service_accounts_enabled is on: Grafana passes it as
	// GF_PLUGIN_APP_CLIENT_SECRET in the environment (envvars.go) and in
	// every call's GrafanaConfig. "" is a Grafana that made none.
	ManagedServiceAccountToken string
	// Emulator, when set, runs Executable under it with Grafana's
	// environment and handshake, as binfmt_misc does on a host that
	// registers qemu-user: "/usr/bin/qemu-aarch64-static" starts an arm64
	// build on an amd64 machine. Arch is then that build's GOARCH, which
	// the executable's name carries (Grafana picks the file by it).
	Emulator string
	Arch     string
}

// AppSettings are an app's saved settings as Grafana sends them in the
// plugin context (AppInstanceSettings): jsonData, secureJsonData
// decrypted, and when they were saved, from which the SDK's instance
// manager tells that they changed.
type AppSettings struct {
	JSONData []byte
	Secure   map[string]string
	Updated  time.Time
}

// Host is a started plugin process.
type Host struct {
	cfg         Config
	version     grafanaVersion
	appURL      string
	client      *goplugin.Client
	pid         int
	diagnostics pluginv2.DiagnosticsClient
	resource    pluginv2.ResourceClient
	renderer    pluginextensionv2.RendererClient
	sanitizer   pluginextensionv2.SanitizerClient
	cleanup     func()

	appMu sync.Mutex
	app   *AppSettings
}

// Start runs the plugin and completes the go-plugin handshake. Like Grafana,
// it does not tie the plugin's lifetime to ctx; the handshake is bounded by
// go-plugin's one-minute start timeout. ctx only stops a start not yet begun.
func Start(ctx context.Context, cfg Config) (*Host, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	v, err := parseGrafanaVersion(cfg.GrafanaVersion)
	if err != nil {
		return nil, err
	}
	if cfg.PluginID == "" || cfg.DataPath == "" || cfg.AppURL == "" {
		return nil, errors.New("pluginhost: PluginID, DataPath and AppURL are required")
	}
	if cfg.Arch == "" {
		cfg.Arch = runtime.GOARCH
	}
	if cfg.App != nil {
		if want := executableName(cfg.AppExecutable, cfg.Arch); cfg.AppExecutable == "" || filepath.Base(cfg.Executable) != want {
			return nil, fmt.Errorf("pluginhost: Grafana starts an app backend as %s (plugin.json executable + _<os>_<arch>), not %s",
				want, filepath.Base(cfg.Executable))
		}
	} else if want := executableName("plugin_start", cfg.Arch); filepath.Base(cfg.Executable) != want {
		return nil, fmt.Errorf("pluginhost: Grafana starts a renderer plugin as %s in the plugin directory, not %s",
			want, filepath.Base(cfg.Executable))
	}
	dataPath, err := filepath.Abs(cfg.DataPath)
	if err != nil {
		return nil, err
	}
	cfg.DataPath = dataPath
	// Grafana's rendering service creates png and csv at startup (mode 0700);
	// pdf is assumed alike for the versions that render PDFs.
	for _, dir := range []string{"png", "csv", "pdf"} {
		if err := os.MkdirAll(filepath.Join(dataPath, dir), 0o700); err != nil {
			return nil, err
		}
	}

	h := &Host{cfg: cfg, version: v, appURL: normalizeAppURL(cfg.AppURL), app: cfg.App}
	processEnv, cleanup, err := grafanaProcessEnv(cfg)
	if err != nil {
		return nil, err
	}
	h.cleanup = cleanup
	processEnv = append(processEnv, cfg.ExtraEnv...)
	cmd := exec.Command(cfg.Executable)
	if cfg.Emulator != "" {
		cmd = exec.Command(cfg.Emulator, cfg.Executable)
	}
	// Grafana's list first, then the host environment as go-plugin would
	// append it; go-plugin adds its own variables after both. SkipHostEnv is
	// set only because ExtraEnv must count as host environment too.
	cmd.Env = append(h.grafanaEnv(lookupIn(processEnv)), processEnv...)

	logger := hclog.NewNullLogger()
	if cfg.Stderr != nil {
		logger = hclog.New(&hclog.LoggerOptions{Name: "plugin." + cfg.PluginID, Output: cfg.Stderr, Level: hclog.Debug})
	}
	h.client = goplugin.NewClient(&goplugin.ClientConfig{
		Cmd: cmd,
		HandshakeConfig: goplugin.HandshakeConfig{
			ProtocolVersion:  grpcplugin.ProtocolVersion,
			MagicCookieKey:   grpcplugin.MagicCookieKey,
			MagicCookieValue: grpcplugin.MagicCookieValue,
		},
		VersionedPlugins: map[int]goplugin.PluginSet{grpcplugin.ProtocolVersion: grafanaPluginSet()},
		SkipHostEnv:      true,
		Logger:           logger,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
	})
	if err := h.connect(); err != nil {
		h.Kill()
		return nil, err
	}
	return h, nil
}

func (h *Host) connect() error {
	rpc, err := h.client.Client()
	if err != nil {
		return err
	}
	h.pid = h.client.ReattachConfig().Pid
	if h.client.NegotiatedVersion() < 2 {
		return errors.New("plugin protocol version not supported")
	}
	raw, err := dispense(rpc, "diagnostics", "resource", "renderer")
	if err != nil {
		return err
	}
	// The SDK's client wrappers embed the generated clients.
	h.diagnostics = raw[0].(pluginv2.DiagnosticsClient)
	h.resource = raw[1].(pluginv2.ResourceClient)
	r := raw[2].(rendererClient)
	h.renderer, h.sanitizer = r.RendererClient, r.SanitizerClient
	return nil
}

func dispense(rpc goplugin.ClientProtocol, names ...string) ([]any, error) {
	out := make([]any, len(names))
	for i, name := range names {
		v, err := rpc.Dispense(name)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// grafanaPluginSet names the services as Grafana's host does. go-plugin only
// tells the plugin the protocol versions, so the set is invisible to it; a
// service the plugin does not register answers Unimplemented.
func grafanaPluginSet() goplugin.PluginSet {
	return goplugin.PluginSet{
		"diagnostics": &grpcplugin.DiagnosticsGRPCPlugin{},
		"resource":    &grpcplugin.ResourceGRPCPlugin{},
		"data":        &grpcplugin.DataGRPCPlugin{},
		"stream":      &grpcplugin.StreamGRPCPlugin{},
		"renderer":    &rendererGRPCPlugin{},
	}
}

// rendererGRPCPlugin is the host side of the "renderer" service.
type rendererGRPCPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
}

func (*rendererGRPCPlugin) GRPCServer(*goplugin.GRPCBroker, *grpc.Server) error {
	return errors.New("pluginhost: the renderer service is served by the plugin, not the host")
}

// GRPCClient gives both services on the one connection, as Grafana's
// RendererGRPCClient does: the Renderer and the Sanitizer.
func (*rendererGRPCPlugin) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	return rendererClient{pluginextensionv2.NewRendererClient(conn), pluginextensionv2.NewSanitizerClient(conn)}, nil
}

type rendererClient struct {
	pluginextensionv2.RendererClient
	pluginextensionv2.SanitizerClient
}

// AppExecutableName is the file Grafana starts an app backend from:
// plugin.json's executable with _<os>_<arch> (.exe on Windows).
func AppExecutableName(executable string) string { return executableName(executable, runtime.GOARCH) }

// executableName is <name>_<os>_<arch>[.exe], the file Grafana starts on
// this OS for a build of arch.
func executableName(name, arch string) string {
	n := fmt.Sprintf("%s_%s_%s", name, strings.ToLower(runtime.GOOS), strings.ToLower(arch))
	if runtime.GOOS == "windows" {
		n += ".exe"
	}
	return n
}

// SaveAppSettings is an admin saving the app's settings page: the calls
// that follow carry s.
func (h *Host) SaveAppSettings(s AppSettings) {
	h.appMu.Lock()
	defer h.appMu.Unlock()
	h.app = &s
}

func rendererExecutableName() string { return executableName("plugin_start", runtime.GOARCH) }

// Renderer is the dispensed "renderer" service, for calls made directly.
func (h *Host) Renderer() pluginextensionv2.RendererClient { return h.renderer }

// DataPath is Grafana's [paths] data, where renders are written.
func (h *Host) DataPath() string { return h.cfg.DataPath }

// Pid is the plugin process id.
func (h *Host) Pid() int { return h.pid }

// Kill stops the plugin as Grafana does: graceful shutdown request, up to 2 s
// grace, then SIGKILL of the plugin process alone (not its children).
func (h *Host) Kill() {
	h.client.Kill()
	if h.cleanup != nil {
		h.cleanup()
	}
}

// Exited reports whether the plugin process has exited.
func (h *Host) Exited() bool { return h.client.Exited() }
