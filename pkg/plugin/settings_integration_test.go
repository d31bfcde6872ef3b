package plugin_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/panelcast/panelcast/internal/grafanatest"
	"github.com/panelcast/panelcast/internal/pluginhost"
	"github.com/panelcast/panelcast/internal/testenv"
)

// log_level works in plugin mode: warn keeps the info lines out, debug
// lets the debug lines through, and a duration reads as Go writes it
// (1.05s), not as the number of nanoseconds Grafana would print as 1.055e+09.
func TestPluginLogLevel(t *testing.T) {
	g := standIn(t)
	// A plugin log line as Grafana's go-plugin logger writes it: key=value
	// pairs after the message.
	duration := regexp.MustCompile(`\bduration="?([^"\s]+)`)
	for _, c := range []struct {
		level      string
		want, deny []string
	}{
		{"debug", []string{"render phases", "render request"}, nil},
		{"warn", nil, []string{"render request", "browser started", "render phases"}},
	} {
		t.Run(c.level, func(t *testing.T) {
			h, logs := startHost(t, g, map[string]string{"log_level": c.level})
			if _, err := h.Render(context.Background(), request(g, grafanatest.ScenarioScenes, 300, 150, 1)); err != nil {
				t.Fatal(err)
			}
			h.Kill()
			out := logs.String()
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("log_level %s: no %q line in the plugin's log:\n%s", c.level, w, out)
				}
			}
			for _, d := range c.deny {
				if strings.Contains(out, ": "+d) {
					t.Errorf("log_level %s: a %q line came through:\n%s", c.level, d, out)
				}
			}
			for _, m := range duration.FindAllStringSubmatch(out, -1) {
				if _, err := time.ParseDuration(m[1]); err != nil {
					t.Errorf("duration logged as %q, not as a Go duration such as 1.05s", m[1])
				}
			}
		})
	}
}

// An unknown key stops the plugin with a sentence that names it, as the
// README says; Grafana's own variables do not.
func TestPluginUnknownKeyStopsIt(t *testing.T) {
	g := standIn(t)
	logs := &testenv.LogBuffer{}
	h, err := pluginhost.Start(context.Background(), pluginhost.Config{
		Executable: pluginBinary(t), PluginID: "panelcast-renderer", PluginVersion: "4.0.0",
		Section: map[string]string{"tls_mod": "strict"}, GrafanaVersion: "12.1.0", AppURL: g.URL,
		DataPath: t.TempDir(), Stderr: logs,
	})
	if err == nil {
		h.Kill()
		t.Fatal("plugin started with tls_mod = strict in its section")
	}
	if out := logs.String(); !strings.Contains(out, `tls_mod`) || !strings.Contains(out, "did you mean tls_mode") {
		t.Errorf("plugin log does not name the key:\n%s", out)
	}

	h, logs = startHost(t, g, map[string]string{"tracing": "true"})
	h.Kill()
	if strings.Contains(logs.String(), "tracing") && strings.Contains(logs.String(), "no setting") {
		t.Errorf("Grafana's own key tracing was refused:\n%s", logs)
	}
}

// The plugin is served by the SDK's Manage: its standard middlewares count
// every request, which Grafana scrapes through CollectMetrics.
func TestPluginServedByManage(t *testing.T) {
	g := standIn(t)
	h, _ := startHost(t, g, nil)
	if _, err := h.CheckHealth(context.Background()); err != nil {
		t.Fatal(err)
	}
	metrics, err := h.CollectMetrics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(metrics), `grafana_plugin_request_total{endpoint="checkHealth"`) {
		t.Errorf("no request counter from the SDK's middlewares in:\n%.2000s", metrics)
	}
}
