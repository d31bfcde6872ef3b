package plugin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/panelcast/panelcast/internal/fakechat/slackfake"
	"github.com/panelcast/panelcast/internal/grafanatest"
	"github.com/panelcast/panelcast/internal/pluginhost"
	"github.com/panelcast/panelcast/internal/testenv"
)

// pluginSlackToken is the bot token of the plugin tests' fake Slack.
const pluginSlackToken = "xoxb-plugin-token"

// startWithSlack starts a stand-in Grafana (opts, over TLS) and a fake
// Slack with the channel #alerts (C0ALERTS01), and the plugin set up for
// both: grafana_url, grafana_token (opts' service-account token), the Slack
// settings and an outbox, plus section.
func startWithSlack(t *testing.T, opts grafanatest.Options, section map[string]string) (*grafanatest.Server, *slackfake.Server, *pluginhost.Host, *testenv.LogBuffer) {
	t.Helper()
	opts.TLS = true
	g, err := grafanatest.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	slack := slackfake.New(pluginSlackToken)
	t.Cleanup(slack.Close)
	slack.AddChannel("C0ALERTS01", "alerts", true)
	all := map[string]string{"grafana_url": g.URL, "grafana_token": opts.ServiceAccountToken,
		"slack_bot_token": pluginSlackToken, "slack_api_url": slack.APIURL(), "outbox_path": filepath.Join(t.TempDir(), "outbox.db")}
	maps.Copy(all, section)
	h, logs := startHost(t, g, all)
	return g, slack, h, logs
}

// Grafana users push through the plugin's resources: an Editor's push
// reaches Slack as a rendered panel, a Viewer is refused with the reason.
func TestPluginPushByRole(t *testing.T) {
	g, slack, h, logs := startWithSlack(t, grafanatest.Options{ServiceAccountToken: "glsa_plugin_token"}, nil)
	ctx := context.Background()
	headers := map[string][]string{"Content-Type": {"application/json"}}
	body := []byte(`{"panel": {"dashboardUid": "scenes", "panelId": 2, "from": "now-1h", "to": "now", "vars": {"cluster": "prod"}, "width": 500, "height": 250},
		"to": "slack:#alerts", "text": "pushed by an editor"}`)

	code, _, out, err := h.CallResource(ctx, "POST", "push", body, "Viewer", headers)
	if err != nil || code != 403 || !strings.Contains(string(out), "pushing needs the Editor role and viewer has Viewer") {
		t.Errorf("Viewer: %d %s %v", code, out, err)
	}

	code, _, out, err = h.CallResource(ctx, "POST", "push", body, "Editor", headers)
	if err != nil || code != 202 {
		t.Fatalf("Editor: %d %s %v\nplugin log:\n%s", code, out, err, logs)
	}
	var queued struct{ ID, State string }
	if err := json.Unmarshal(out, &queued); err != nil || queued.ID == "" || queued.State != "queued" {
		t.Fatalf("answer %s", out)
	}
	var st struct {
		State, Error, Permalink string
		Attempts                int
	}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		code, _, out, err = h.CallResource(ctx, "GET", "push/"+queued.ID, nil, "Editor", nil)
		if err != nil || code != 200 || json.Unmarshal(out, &st) != nil {
			t.Fatalf("status: %d %s %v", code, out, err)
		}
		if st.State == "sent" || st.State == "failed" {
			break
		}
	}
	if st.State != "sent" || st.Attempts != 1 || st.Permalink == "" {
		t.Fatalf("push %+v\nplugin log:\n%s", st, logs)
	}
	if code, _, out, _ := h.CallResource(ctx, "GET", "push/nosuchpush", nil, "Editor", nil); code != 404 {
		t.Errorf("unknown id: %d %s", code, out)
	}

	msgs := slack.Messages()
	if len(msgs) != 1 || msgs[0].ChannelID != "C0ALERTS01" || msgs[0].Text != "pushed by an editor" || len(msgs[0].Files) != 1 {
		t.Fatalf("Slack received %+v", msgs)
	}
	img, err := png.Decode(bytes.NewReader(msgs[0].Files[0].Data))
	if err != nil {
		t.Fatalf("the upload is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 500 || b.Dy() != 250 {
		t.Errorf("picture is %dx%d, want 500x250", b.Dx(), b.Dy())
	}
	if got := pixel(img, 0.5, 0.75); !close(got, grafanatest.SeriesColor) {
		t.Errorf("panel body is %v, want the series colour", got)
	}
	for _, v := range g.Visits() {
		if v.Header.Get("Authorization") != "Bearer glsa_plugin_token" {
			t.Errorf("%s reached Grafana without the service-account token", v.Path)
		}
		if strings.HasPrefix(v.Path, "/d-solo/") && v.Query.Get("var-cluster") != "prod" {
			t.Errorf("page %s?%s lacks the variable", v.Path, v.Query.Encode())
		}
	}

	// Health reports the outbox and the Slack credentials, never a token.
	code, _, out, err = h.CallResource(ctx, "GET", "health", nil, "Viewer", nil)
	if err != nil || code != 200 || !strings.Contains(string(out), `"provider":"slack","ok":true`) || !strings.Contains(string(out), "outbox.db") {
		t.Errorf("health: %d %s %v", code, out, err)
	}
	for _, secret := range []string{"glsa_plugin_token", pluginSlackToken} {
		if strings.Contains(string(out), secret) || strings.Contains(logs.String(), secret) {
			t.Errorf("%s shows in the health answer or the plugin log", secret)
		}
	}
}
