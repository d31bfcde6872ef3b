package plugin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/panelcast/panelcast/internal/grafanatest"
)

// Grafana's webhook contact point calls the plugin's alerts resource with a
// service-account token (Grafana hands the plugin the account's role, not
// the token): the firing alert's panel lands in Slack as a picture.
// Malformed bodies and too small a role are refused with a sentence. So it
// goes with each generation of Grafana's dashboard API; plugin mode ends
// with 12.x, whose dynamic dashboards are stored in schema v2 as Grafana
// 13's are (the Grafana13 stand-in), linked with viewPanel=panel-<id>.
func TestPluginAlertsFromContactPoint(t *testing.T) {
	for _, gen := range grafanatest.Generations {
		t.Run(gen.String(), func(t *testing.T) { testPluginAlerts(t, gen) })
	}
}

func testPluginAlerts(t *testing.T, gen grafanatest.Generation) {
	g, slack, h, logs := startWithSlack(t, grafanatest.Options{ServiceAccountToken: "glsa_plugin_token", Generation: gen},
		map[string]string{"alert_width": "500", "alert_height": "250"})
	ctx := context.Background()
	headers := map[string][]string{"Content-Type": {"application/json"}}
	body, err := os.ReadFile(filepath.Join("..", "notification", "testdata", "grafana-firing-panel.json"))
	if err != nil {
		t.Fatal(err)
	}
	if gen == grafanatest.Grafana13 {
		body = bytes.ReplaceAll(body, []byte("viewPanel=2"), []byte("viewPanel=panel-2"))
	}

	if code, _, out, _ := h.CallResource(ctx, "POST", "alerts?to=slack:%23alerts", body, "Viewer", headers); code != 403 {
		t.Errorf("Viewer: %d %s", code, out)
	}
	if code, _, out, _ := h.CallResource(ctx, "POST", "alerts", []byte(`{"alerts": [`), "Editor", headers); code != 400 ||
		!strings.Contains(string(out), `{"error":"the body ends in the middle of its JSON`) {
		t.Errorf("malformed: %d %s", code, out)
	}

	start := time.Now()
	code, _, out, err := h.CallResource(ctx, "POST", "alerts?to=slack:%23alerts", body, "Editor", headers)
	if err != nil || code != 202 {
		t.Fatalf("contact point: %d %s %v\nplugin log:\n%s", code, out, err, logs)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("answered after %s: the webhook must be answered once the message is stored", took)
	}
	var res struct {
		Source   string
		Messages []struct{ ID, To, State string }
	}
	if err := json.Unmarshal(out, &res); err != nil || res.Source != "grafana" || len(res.Messages) != 1 || res.Messages[0].To != "slack:#alerts" {
		t.Fatalf("answer %s", out)
	}
	deadline := time.Now().Add(60 * time.Second)
	for len(slack.Messages()) == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	msgs := slack.Messages()
	if len(msgs) != 1 || msgs[0].ChannelID != "C0ALERTS01" || len(msgs[0].Files) != 1 || !strings.Contains(msgs[0].Text, "*HighCPU*") ||
		strings.Contains(msgs[0].Text, "Panelcast:") {
		t.Fatalf("Slack received %+v\nplugin log:\n%s", msgs, logs)
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
		if strings.HasPrefix(v.Path, "/d-solo/") && v.Query.Get("var-instance") != "web-1" {
			t.Errorf("the panel was drawn without the alert's instance: %s?%s", v.Path, v.Query.Encode())
		}
	}
}
