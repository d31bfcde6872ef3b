package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/panelcast/panelcast/internal/amtest"
	"github.com/panelcast/panelcast/internal/fakechat/slackfake"
	"github.com/panelcast/panelcast/internal/grafanatest"
	"github.com/panelcast/panelcast/internal/testenv"
	"github.com/panelcast/panelcast/pkg/render"
)

// Grafana's webhook contact point posts to `panelcast serve`, and the alert
// lands in Slack with its panel drawn for the alert's instance, whichever
// Grafana sends it: 9 to 12.1, 12.2 (resource API) or 13 (a schema v2
// dashboard, linked with viewPanel=panel-<id>).
func TestServeGrafanaAlertEveryGeneration(t *testing.T) {
	testenv.NeedChromium(t, render.FindChromium)
	const (
		saToken    = "glsa_generations_test_token"
		slackToken = "xoxb-generations-test"
	)
	fixture, err := os.ReadFile(filepath.Join("..", "notification", "testdata", "grafana-firing-panel.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, gen := range grafanatest.Generations {
		t.Run(gen.String(), func(t *testing.T) {
			g, err := grafanatest.Start(grafanatest.Options{TLS: true, ServiceAccountToken: saToken, Generation: gen})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(g.Close)
			slack := slackfake.New(slackToken)
			t.Cleanup(slack.Close)
			slack.AddChannel("C0ALERTS01", "alerts", true)
			apiToken := randomHex(t)
			addr := amtest.FreeAddr(t)
			logs := &testenv.LogBuffer{}
			ctx, cancel := context.WithCancel(context.Background())
			served := make(chan error, 1)
			go func() {
				served <- runServe(ctx, []string{"--addr", addr, "--grafana-url", g.URL, "--grafana-token", saToken,
					"--api-token", apiToken, "--slack-bot-token", slackToken, "--slack-api-url", slack.APIURL(),
					"--outbox-path", filepath.Join(t.TempDir(), "outbox.db"), "--alert-width", "600", "--alert-height", "300"},
					nil, io.Discard, logs)
			}()
			t.Cleanup(func() {
				cancel()
				if err := <-served; err != nil {
					t.Errorf("serve: %v", err)
				}
				if t.Failed() {
					t.Logf("panelcast log:\n%s", logs.String())
				}
			})
			waitHealthy(t, "http://"+addr+"/healthz", served)

			body := fixture
			if gen == grafanatest.Grafana13 {
				body = bytes.ReplaceAll(body, []byte("viewPanel=2"), []byte("viewPanel=panel-2"))
			}
			req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/alerts?to=slack:%23alerts", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+apiToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("contact point: %d %s", resp.StatusCode, out)
			}
			m := waitMessages(t, slack, 1, 60*time.Second)[0]
			if len(m.Files) != 1 || !strings.Contains(m.Text, "*HighCPU*") || strings.Contains(m.Text, "Panelcast:") {
				t.Fatalf("Slack got %d files:\n%s", len(m.Files), m.Text)
			}
			checkPicture(t, m.Files[0].Data, 600, 300)
			visits := panelVisits(g)
			if len(visits) != 1 || visits[0].Query.Get("var-instance") != "web-1" || visits[0].Query.Get("panelId") != "2" {
				t.Errorf("the panel was drawn as %v, want once with var-instance=web-1 and panelId=2", visits)
			}
		})
	}
}
