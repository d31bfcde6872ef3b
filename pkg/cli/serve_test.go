package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"net/http"
	"net/url"
	"os/exec"
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
	if strings.Contains(stdout.String(), "demo") {
		t.Errorf("with grafana_url set serve started its demo: %s", stdout)
	}

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

// With nothing configured serve renders its built-in demo dashboard, and
// the curl line it prints, run as printed by a shell, pushes the demo
// panel through the outbox into the inbox, with its picture.
func TestServeDemoCurlLineWorks(t *testing.T) {
	testenv.NeedChromium(t, render.FindChromium)
	testenv.NeedCommand(t, "curl")
	d := startDemoServe(t)
	if !strings.Contains(d.stdout.String(), "console: "+d.base+"/\n") || !strings.Contains(d.stdout.String(), "built-in demo dashboard on https://localhost:") {
		t.Errorf("start-up lines: %s", d.stdout)
	}
	line := d.curlLine(t)
	out, err := exec.Command("/bin/sh", "-c", line).CombinedOutput()
	var queued struct{ ID, State string }
	if err != nil || json.Unmarshal(out, &queued) != nil || queued.ID == "" || queued.State != "queued" {
		t.Fatalf("%s\n%v: %s", line, err, out)
	}
	var inbox struct {
		Messages []struct {
			Channel, Text string
			Images        []string
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for len(inbox.Messages) == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		getJSON(t, d.base+"/api/inbox?channel=demo", &inbox)
	}
	if len(inbox.Messages) != 1 || inbox.Messages[0].Text != "Hello from curl" || len(inbox.Messages[0].Images) != 1 {
		t.Fatalf("inbox %+v\n%s", inbox, d.stderr)
	}
	res, err := http.Get(d.base + "/" + inbox.Messages[0].Images[0])
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	img, err := png.Decode(res.Body)
	if err != nil {
		t.Fatalf("the inbox picture is no PNG: %v", err)
	}
	if _, err := grafanatest.CheckDemoPicture(img); err != nil {
		t.Errorf("the pushed picture is not the demo panel: %v", err)
	}
}

// demoServe is `panelcast serve` in demo mode, run in this process.
type demoServe struct {
	base           string
	stdout, stderr *testenv.LogBuffer
}

// startDemoServe runs serve with no grafana_url on a free loopback port
// and a fresh outbox, with args and environ added, until the test ends.
func startDemoServe(t *testing.T, extra ...string) *demoServe {
	t.Helper()
	var args, environ []string
	for _, a := range extra {
		if strings.HasPrefix(a, "PANELCAST_") {
			environ = append(environ, a)
		} else {
			args = append(args, a)
		}
	}
	args = append([]string{"--addr", "127.0.0.1:0", "--outbox-path", filepath.Join(t.TempDir(), "outbox.db")}, args...)
	ctx, cancel := context.WithCancel(context.Background())
	d := &demoServe{stdout: &testenv.LogBuffer{}, stderr: &testenv.LogBuffer{}}
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, args, environ, d.stdout, d.stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v\n%s", err, d.stderr)
			}
		case <-time.After(60 * time.Second):
			t.Error("serve did not stop")
		}
	})
	d.base = serveURL(t, d.stdout, done)
	return d
}

// curlLine is the command serve printed for pushing the demo panel.
func (d *demoServe) curlLine(t *testing.T) string {
	t.Helper()
	for _, l := range strings.Split(d.stdout.String(), "\n") {
		if strings.HasPrefix(l, "  curl ") {
			return strings.TrimSpace(l)
		}
	}
	t.Fatalf("serve printed no curl line: %s", d.stdout)
	return ""
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, res.StatusCode)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
