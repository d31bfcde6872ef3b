package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/panelcast/panelcast/internal/fakechat/slackfake"
	"github.com/panelcast/panelcast/internal/grafanatest"
	"github.com/panelcast/panelcast/internal/testenv"
	"github.com/panelcast/panelcast/pkg/delivery/sqlite"
	"github.com/panelcast/panelcast/pkg/render"
)

// Stopping `panelcast serve` stops the HTTP door, then chat delivery (the
// attempts in flight finish), and closes the renderer last: closing it
// first failed the pushes that were being prepared and burnt one of their
// attempts each. Run it with -race.
func TestServeShutdownLetsPushesFinish(t *testing.T) {
	testenv.NeedChromium(t, render.FindChromium)
	g, err := grafanatest.Start(grafanatest.Options{TLS: true, ServiceAccountToken: "glsa_serve"})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	slack := slackfake.New("xoxb-serve")
	defer slack.Close()
	slack.AddChannel("C0OPS00001", "ops", true)
	outbox := filepath.Join(t.TempDir(), "outbox.db")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr := &testenv.LogBuffer{}, &testenv.LogBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, []string{"--addr", "127.0.0.1:0", "--grafana-url", g.URL, "--outbox-path", outbox,
			"--slack-api-url", slack.APIURL(), "--shutdown-timeout", "30s"},
			[]string{"PANELCAST_GRAFANA_TOKEN=glsa_serve", "PANELCAST_SLACK_BOT_TOKEN=xoxb-serve", "PANELCAST_API_TOKEN=api-token-for-the-test"},
			stdout, stderr)
	}()
	base := serveURL(t, stdout, done)

	// The worker prepares two pushes at once: a slow panel and a quick one.
	// The quick one is done long before the slow one, so the worker takes
	// the third while the shutdown waits for the slow render.
	var ids []string
	for _, query := range []string{"3000", "100", "100"} {
		body, _ := json.Marshal(map[string]any{"panel": map[string]any{
			"url": g.PanelURL(grafanatest.ScenarioSlow, url.Values{"query": {query}}), "width": 300, "height": 150},
			"to": "slack:#ops", "text": "during shutdown"})
		req, _ := http.NewRequest(http.MethodPost, base+"/push", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer api-token-for-the-test")
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var st struct{ ID string }
		_ = json.NewDecoder(res.Body).Decode(&st)
		res.Body.Close()
		if res.StatusCode != http.StatusAccepted || st.ID == "" {
			t.Fatalf("push answered %d", res.StatusCode)
		}
		ids = append(ids, st.ID)
	}
	// Stop once both pages have booted in the browser.
	deadline := time.Now().Add(20 * time.Second)
	for len(g.Reports()) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if len(g.Reports()) < 2 {
		t.Fatalf("no panel started rendering\n%s", stderr)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v\n%s", err, stderr)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not stop")
	}

	o, err := sqlite.Open(outbox, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	sent := 0
	for _, id := range ids {
		j, err := o.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case j.State == "sent":
			sent++
		case j.Attempts > 0:
			t.Errorf("push %s lost an attempt to the shutdown: %s after %d attempts: %s", id, j.State, j.Attempts, j.LastError)
		}
	}
	if sent < 2 {
		t.Errorf("%d of the 2 pushes in flight were allowed to finish\n%s", sent, stderr)
	}
	if got := len(slack.Messages()); got != sent {
		t.Errorf("Slack has %d messages, the outbox says %d were sent", got, sent)
	}
	// The JSON log writes durations as Go does, not as nanoseconds.
	for _, m := range regexp.MustCompile(`"duration":([^,}]+)`).FindAllStringSubmatch(stderr.String(), -1) {
		if !strings.HasPrefix(m[1], `"`) {
			t.Errorf("duration logged as %s, want a string such as \"1.05s\"", m[1])
		}
	}
}

// serveURL waits for serve's start line and returns its base URL.
func serveURL(t *testing.T, stdout *testenv.LogBuffer, done <-chan error) string {
	t.Helper()
	addr := regexp.MustCompile(`on (http://127\.0\.0\.1:[0-9]+) `)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := addr.FindStringSubmatch(stdout.String()); m != nil {
			return m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("serve stopped at once: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("serve printed no address: %s", stdout)
	return ""
}
