package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"net/http"
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
)

const testGrafanaToken = "glsa_panelcast_test_0123456789"

// TestPushThroughTheServer checks the push routes mounted in server mode:
// the bearer api_token admits, the panel is rendered and lands in Slack.
func TestPushThroughTheServer(t *testing.T) {
	testenv.NeedChromium(t, render.FindChromium)
	slack := slackfake.New("xoxb-test-token")
	t.Cleanup(slack.Close)
	slack.AddChannel("C0PANELCAST", "ops", true)
	slack.SetShareDelay(0)
	outbox := filepath.Join(t.TempDir(), "outbox.db")
	f := newDeliveringFixture(t, func(c *config.Config) {
		c.APITokens = secret.List("push-api-token-0123456789")
		c.SlackBotToken, c.SlackAPIURL = secret.New("xoxb-test-token"), slack.APIURL()
		c.OutboxPath, c.GrafanaToken = outbox, secret.New(testGrafanaToken)
	}, &delivery.WorkerOptions{BaseBackoff: 50 * time.Millisecond})
	body := fmt.Sprintf(`{"panel":{"url":%q},"to":"slack:#ops","text":"disk almost full"}`, f.g.PanelURL(grafanatest.ScenarioScenes, nil))

	post := func(token string) *http.Response {
		req, _ := http.NewRequest("POST", f.ts.URL+"/push", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := post(""); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("push without a token: %d, want 401", res.StatusCode)
	}
	if res := post("wrong-token"); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("push with a wrong token: %d, want 401", res.StatusCode)
	}
	res := post("push-api-token-0123456789")
	var queued struct{ ID, State string }
	json.NewDecoder(res.Body).Decode(&queued)
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted || queued.ID == "" || queued.State != "queued" {
		t.Fatalf("push: %d %+v", res.StatusCode, queued)
	}
	deadline := time.Now().Add(60 * time.Second)
	var st struct{ State, Error, Permalink string }
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest("GET", f.ts.URL+"/push/"+queued.ID, nil)
		req.Header.Set("Authorization", "Bearer push-api-token-0123456789")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(res.Body).Decode(&st)
		res.Body.Close()
		if st.State == "sent" || st.State == "failed" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st.State != "sent" {
		t.Fatalf("push ended %+v", st)
	}
	msgs := slack.Messages()
	if len(msgs) != 1 || msgs[0].ChannelID != "C0PANELCAST" || msgs[0].Text != "disk almost full" || len(msgs[0].Files) != 1 {
		t.Fatalf("slack received %+v", msgs)
	}
	img, err := png.Decode(bytes.NewReader(msgs[0].Files[0].Data))
	if err != nil {
		t.Fatalf("upload is not a PNG: %v", err)
	}
	wantColor(t, img, 0.5, 0.75, grafanatest.SeriesColor, "pushed panel")
}
