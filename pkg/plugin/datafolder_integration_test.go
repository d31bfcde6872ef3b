package plugin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/panelcast/panelcast/internal/fakechat/slackfake"
	"github.com/panelcast/panelcast/internal/grafanatest"
	"github.com/panelcast/panelcast/internal/pluginhost"
	"github.com/panelcast/panelcast/internal/testenv"
)

type outboxHealth struct {
	Message string `json:"message"`
	Outbox  *struct {
		Path  string `json:"path"`
		Error string `json:"error"`
	} `json:"outbox"`
}

func pluginHealth(t *testing.T, h *pluginhost.Host) outboxHealth {
	t.Helper()
	_, _, body, err := h.CallResource(context.Background(), "GET", "health", nil, "Admin", nil)
	if err != nil {
		t.Fatal(err)
	}
	var got outboxHealth
	if err := json.Unmarshal(body, &got); err != nil || got.Outbox == nil {
		t.Fatalf("health without an outbox: %v %s", err, body)
	}
	return got
}

func push(t *testing.T, h *pluginhost.Host, g *grafanatest.Server) (int, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"panel": map[string]any{"url": g.PanelURL(grafanatest.ScenarioScenes, nil)}, "to": "slack:#ops"})
	code, _, rsp, _ := h.CallResource(context.Background(), "POST", "push", body, "Editor",
		map[string][]string{"Content-Type": {"application/json"}})
	return code, string(rsp)
}

// The outbox lives in Grafana's data folder whichever way Grafana was
// installed, and never where a restart loses it: deb and rpm give the
// plugin DATA_DIR and a home it may not write, Docker GF_PATHS_DATA, and a
// Grafana started by hand neither, so the plugin learns the folder from the
// files Grafana has it write and says until then why pushes wait.
func TestOutboxInGrafanasDataFolder(t *testing.T) {
	g, err := grafanatest.Start(grafanatest.Options{TLS: true, ServiceAccountToken: "glsa_data"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	slack := slackfake.New("xoxb-data")
	t.Cleanup(slack.Close)
	slack.AddChannel("C0OPS00001", "ops", true)
	section := map[string]string{"slack_bot_token": "xoxb-data", "slack_api_url": slack.APIURL(), "grafana_token": "glsa_data"}
	start := func(t *testing.T, install pluginhost.Install, extra ...string) (*pluginhost.Host, string) {
		data := t.TempDir()
		logs := &testenv.LogBuffer{}
		h, err := pluginhost.Start(context.Background(), pluginhost.Config{
			Executable: pluginBinary(t), PluginID: "panelcast-renderer", PluginVersion: "4.0.0", Section: section,
			GrafanaVersion: "12.1.0", AppURL: g.URL, DataPath: data, Install: install, ExtraEnv: extra, Stderr: logs,
		})
		if err != nil {
			t.Fatalf("start: %v\n%s", err, logs)
		}
		t.Cleanup(h.Kill)
		return h, data
	}
	for _, install := range []pluginhost.Install{pluginhost.InstallPackage, pluginhost.InstallDocker} {
		t.Run(string(install), func(t *testing.T) {
			h, data := start(t, install)
			got := pluginHealth(t, h)
			if want := filepath.Join(data, "panelcast", "outbox.db"); got.Outbox.Path != want || got.Outbox.Error != "" {
				t.Errorf("outbox %q (%s), want %s", got.Outbox.Path, got.Outbox.Error, want)
			}
			if code, rsp := push(t, h, g); code != http.StatusAccepted {
				t.Errorf("push: %d %s", code, rsp)
			}
		})
	}
	t.Run("by hand", func(t *testing.T) {
		h, data := start(t, pluginhost.InstallByHand, "GF_PATHS_DATA=", "DATA_DIR=")
		got := pluginHealth(t, h)
		if got.Outbox.Path != "" || !strings.Contains(got.Outbox.Error, "no writable folder for the outbox") ||
			!strings.Contains(got.Message, "outbox_path") {
			t.Errorf("before any render: outbox %q, error %q, message %q; want a sentence naming outbox_path", got.Outbox.Path, got.Outbox.Error, got.Message)
		}
		if code, rsp := push(t, h, g); code != http.StatusServiceUnavailable || !strings.Contains(rsp, "outbox_path") {
			t.Errorf("push before any render: %d %s, want 503 naming outbox_path", code, rsp)
		}
		if _, err := h.Render(context.Background(), request(g, grafanatest.ScenarioScenes, 300, 150, 1)); err != nil {
			t.Fatal(err)
		}
		got = pluginHealth(t, h)
		if want := filepath.Join(data, "panelcast", "outbox.db"); got.Outbox.Path != want || got.Outbox.Error != "" {
			t.Errorf("after a render: outbox %q (%s), want %s", got.Outbox.Path, got.Outbox.Error, want)
		}
		if code, rsp := push(t, h, g); code != http.StatusAccepted {
			t.Errorf("push after a render: %d %s", code, rsp)
		}
		if _, err := os.Stat(filepath.Join(data, "panelcast", "outbox.db")); err != nil {
			t.Error(err)
		}
	})
}
