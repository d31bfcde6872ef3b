package httpapi

import (
	"bytes"
	"encoding/json"
	"image/png"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/panelcast/panelcast/internal/fakechat/slackfake"
	"github.com/panelcast/panelcast/internal/grafanatest"
	"github.com/panelcast/panelcast/internal/testenv"
	"github.com/panelcast/panelcast/pkg/config"
	"github.com/panelcast/panelcast/pkg/delivery"
	"github.com/panelcast/panelcast/pkg/render"
	"github.com/panelcast/panelcast/pkg/secret"
	"github.com/panelcast/panelcast/pkg/service"
)

// Server mode as the lead mounts it: the handler on a mux behind api_token,
// a push by panel URL, its status polled until Slack has the picture.
func TestServerModePush(t *testing.T) {
	testenv.NeedChromium(t, render.FindChromium)
	g, err := grafanatest.Start(grafanatest.Options{TLS: true, ServiceAccountToken: "glsa_server"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	slack := slackfake.New("xoxb-server")
	t.Cleanup(slack.Close)
	slack.AddChannel("C0OPS00001", "ops", true)

	cfg := config.Default()
	cfg.GrafanaURL, cfg.GrafanaToken = g.URL, secret.New("glsa_server")
	cfg.SlackBotToken, cfg.SlackAPIURL = secret.New("xoxb-server"), slack.APIURL()
	cfg.APITokens = secret.List("api-secret")
	cfg.OutboxPath = filepath.Join(t.TempDir(), "outbox.db")
	svc := newService(t, cfg, &delivery.WorkerOptions{})
	if svc.StartErr() != nil {
		t.Fatal(svc.StartErr())
	}
	mux := http.NewServeMux()
	h := New(svc, Options{Authorize: func(r *http.Request) error {
		if r.Header.Get("Authorization") != "Bearer api-secret" {
			return service.ErrUnauthorized
		}
		return nil
	}})
	Mount(mux, h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	do := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer api-secret")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, out
	}
	body, _ := json.Marshal(map[string]any{
		"panel": map[string]any{"url": g.PanelURL(grafanatest.ScenarioScenes, nil), "width": 400, "height": 200},
		"to":    "slack:#ops", "text": "from the server",
	})
	code, out := do("POST", "/push", string(body))
	id, _ := out["id"].(string)
	if code != http.StatusAccepted || id == "" {
		t.Fatalf("POST /push: %d %v", code, out)
	}
	deadline := time.Now().Add(60 * time.Second)
	for out["state"] != "sent" && out["state"] != "failed" && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		code, out = do("GET", "/push/"+id, "")
	}
	if code != http.StatusOK || out["state"] != "sent" || out["permalink"] == "" {
		t.Fatalf("GET /push/%s: %d %v", id, code, out)
	}
	msgs := slack.Messages()
	if len(msgs) != 1 || msgs[0].ChannelID != "C0OPS00001" || msgs[0].Text != "from the server" || len(msgs[0].Files) != 1 {
		t.Fatalf("Slack received %+v", msgs)
	}
	img, err := png.Decode(bytes.NewReader(msgs[0].Files[0].Data))
	if err != nil || img.Bounds().Dx() != 400 || img.Bounds().Dy() != 200 {
		t.Fatalf("the upload is not a 400x200 PNG: %v", err)
	}
	r, gr, b, _ := img.At(200, 150).RGBA()
	if s := grafanatest.SeriesColor; abs(int(r>>8)-int(s.R)) > 6 || abs(int(gr>>8)-int(s.G)) > 6 || abs(int(b>>8)-int(s.B)) > 6 {
		t.Errorf("panel body is %d,%d,%d, want the series colour %v", r>>8, gr>>8, b>>8, s)
	}
}

func abs(n int) int { return max(n, -n) }
