package plugin_test

import (
	"context"
	"net/url"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/panelcast/panelcast/internal/leaktest"
	"github.com/panelcast/panelcast/internal/pluginhost"
	"github.com/panelcast/panelcast/internal/testenv"
	"github.com/panelcast/panelcast/pkg/pluginextensionv2"
)

// No secret reaches the plugin door's logs, the answers Grafana gets,
// health, metrics or a panic's output, for every chat provider, with right
// and wrong credentials (see leaktest).
func TestPluginDoorShowsNoSecret(t *testing.T) {
	pluginBinary(t)
	leaktest.Run(t, startPluginDoor)
}

// pluginDoor is the plugin as Grafana 12 reaches it.
type pluginDoor struct {
	h        *pluginhost.Host
	logs     *testenv.LogBuffer
	settings map[string]string
	t        *testing.T
}

func startPluginDoor(t *testing.T, settings map[string]string) leaktest.Door {
	t.Helper()
	d := &pluginDoor{logs: &testenv.LogBuffer{}, settings: settings, t: t}
	d.h = hostFor(t, pluginBinary(t), settings, d.logs)
	t.Cleanup(d.h.Kill)
	return d
}

// hostFor starts the plugin binary bin as Grafana 12.1 does, with the
// section settings, logging to logs.
func hostFor(t *testing.T, bin string, settings map[string]string, logs *testenv.LogBuffer) *pluginhost.Host {
	t.Helper()
	h, err := pluginhost.Start(context.Background(), pluginhost.Config{
		Executable: bin, PluginID: "panelcast-renderer", PluginVersion: "4.0.0",
		Section: settings, GrafanaVersion: "12.1.0", AppURL: settings["grafana_url"], DataPath: t.TempDir(), Stderr: logs,
	})
	if err != nil {
		t.Fatalf("start plugin: %v\nplugin log:\n%s", err, logs)
	}
	return h
}

func (d *pluginDoor) Call(method, path string, body []byte) (int, []byte) {
	code, _, out, err := d.h.CallResource(context.Background(), method, path, body, "Editor",
		map[string][]string{"Content-Type": {"application/json"}})
	if err != nil {
		return code, append(out, []byte("\n"+err.Error())...)
	}
	return code, out
}

func (d *pluginDoor) Render(page string, width int, key string) string {
	_, err := d.h.Render(context.Background(), &pluginextensionv2.RenderRequest{
		Url: page, Width: int32(width), Height: 200, DeviceScaleFactor: 1, RenderKey: key, Domain: "localhost",
		Timeout: 15, AuthToken: leaktest.AuthToken, Encoding: "png",
	})
	if err != nil {
		return err.Error()
	}
	return ""
}

func (d *pluginDoor) Health() []string {
	var out []string
	for _, role := range []string{"Admin", "Viewer"} {
		code, _, body, err := d.h.CallResource(context.Background(), "GET", "health", nil, role, nil)
		out = append(out, role+" /health "+strconv.Itoa(code)+" "+string(body))
		if err != nil {
			out = append(out, err.Error())
		}
	}
	rsp, err := d.h.CheckHealth(context.Background())
	if err != nil {
		out = append(out, err.Error())
	} else {
		out = append(out, rsp.GetMessage()+"\n"+string(rsp.GetJsonDetails()))
	}
	return out
}

func (d *pluginDoor) Metrics() string {
	b, err := d.h.CollectMetrics(context.Background())
	if err != nil {
		return err.Error()
	}
	return string(b)
}

var (
	panicOnce sync.Once
	panicBin  string
	panicErr  error
)

// Panic calls a resource of panicplugin, which holds the same settings
// (see its command comment), and returns Grafana's answer and the plugin's
// log.
func (d *pluginDoor) Panic(key string) string {
	panicOnce.Do(func() {
		dir, err := os.MkdirTemp("", "panelcast-panicplugin-")
		if err != nil {
			panicErr = err
			return
		}
		panicBin, panicErr = pluginhost.BuildTestPlugin("./internal/leaktest/testdata/panicplugin", dir)
	})
	if panicErr != nil {
		d.t.Fatal(panicErr)
	}
	logs := &testenv.LogBuffer{}
	h := hostFor(d.t, panicBin, d.settings, logs)
	defer h.Kill()
	q := url.Values{"url": {"https://grafana.invalid/d/x"}, "key": {key}}
	code, _, body, err := h.CallResource(context.Background(), "GET", "panic?"+q.Encode(), nil, "Editor", nil)
	answer := strconv.Itoa(code) + " " + string(body)
	if err != nil {
		answer += "\n" + err.Error()
	}
	return answer + "\n" + logs.String()
}

func (d *pluginDoor) Logs() string { return d.logs.String() }
