package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/panelcast/panelcast/internal/amtest"
	"github.com/panelcast/panelcast/internal/fakechat/slackfake"
	"github.com/panelcast/panelcast/internal/grafanatest"
	"github.com/panelcast/panelcast/internal/testenv"
	"github.com/panelcast/panelcast/pkg/render"
)

// Prometheus-style alerts go through two real Alertmanagers (as a cluster
// sends them: each notification twice) to `panelcast serve`, which posts
// each alert once to Slack with its panel drawn for the alert's instance and
// window, draws an alert that names no panel on the expression panel, and
// threads the resolve under the firing message.
func TestServeAlertmanagerToSlack(t *testing.T) {
	testenv.NeedChromium(t, render.FindChromium)
	const (
		saToken    = "glsa_alertmanager_test_token"
		slackToken = "xoxb-alertmanager-test"
		channelID  = "C0ALERTS01"
	)
	g, err := grafanatest.Start(grafanatest.Options{TLS: true, ServiceAccountToken: saToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	slack := slackfake.New(slackToken)
	t.Cleanup(slack.Close)
	slack.AddChannel(channelID, "alerts", true)

	dir := t.TempDir()
	apiToken := randomHex(t)
	tokenFile := filepath.Join(dir, "api-token")
	if err := os.WriteFile(tokenFile, []byte(apiToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := amtest.FreeAddr(t)
	logs := &testenv.LogBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- runServe(ctx, []string{"--addr", addr, "--grafana-url", g.URL, "--grafana-token", saToken,
			"--api-token", apiToken, "--slack-bot-token", slackToken, "--slack-api-url", slack.APIURL(),
			"--outbox-path", filepath.Join(dir, "outbox.db"), "--expression-panel", grafanatest.ScenarioScenes + ":2",
			"--alert-width", "600", "--alert-height", "300"}, nil, io.Discard, logs)
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

	webhook := amtest.WebhookConfig("http://"+addr+"/alerts?to=slack:%23alerts", tokenFile)
	cluster := []*amtest.Alertmanager{amtest.Start(t, webhook), amtest.Start(t, webhook)}

	startsAt := time.Now().Add(-10 * time.Minute).UTC().Truncate(time.Millisecond)
	latency := map[string]any{
		"labels": map[string]string{"alertname": "HighLatency", "instance": "web-1", "job": "web", "severity": "warning"},
		"annotations": map[string]string{"summary": "p99 latency is 870 ms on web-1",
			"panelcast_panel": grafanatest.ScenarioScenes + ":2"},
		"startsAt":     startsAt.Format(time.RFC3339Nano),
		"generatorURL": "http://prometheus.example.com:9090/graph?g0.expr=latency_p99+%3E+0.5&g0.tab=1",
	}
	const expr = `up{job="api"} == 0`
	down := map[string]any{
		"labels":       map[string]string{"alertname": "TargetDown", "instance": "api-2", "job": "api"},
		"annotations":  map[string]string{"summary": "api-2 is down"},
		"startsAt":     startsAt.Format(time.RFC3339Nano),
		"generatorURL": "http://prometheus.example.com:9090/graph?g0.expr=" + queryEscape(expr) + "&g0.tab=1",
	}
	for _, am := range cluster {
		am.Post(t, latency, down)
	}
	// Both Alertmanagers notify (2 alerts each), yet each alert is posted
	// once.
	waitFor(t, "both Alertmanagers' notifications", 30*time.Second, func() bool {
		return metric(t, addr, "panelcast_alerts_received_total") >= 4
	})
	msgs := waitMessages(t, slack, 2, 60*time.Second)
	fire, downMsg := msgs[0], msgs[1]
	if strings.Contains(fire.Text, "TargetDown") {
		fire, downMsg = downMsg, fire
	}
	for _, m := range []slackfake.Message{fire, downMsg} {
		if m.ChannelID != channelID || len(m.Files) != 1 || m.ThreadTS != "" {
			t.Errorf("message in %s with %d files, thread %q", m.ChannelID, len(m.Files), m.ThreadTS)
			continue
		}
		checkPicture(t, m.Files[0].Data, 600, 300)
	}
	for _, want := range []string{"*FIRING*", "*HighLatency*", "p99 latency is 870 ms on web-1", "instance=web-1", "|Silence>", "|Source>"} {
		if !strings.Contains(fire.Text, want) {
			t.Errorf("firing text lacks %q:\n%s", want, fire.Text)
		}
	}
	if !strings.Contains(downMsg.Text, "*TargetDown*") {
		t.Errorf("TargetDown text:\n%s", downMsg.Text)
	}

	from := strconv.FormatInt(startsAt.Add(-time.Hour).UnixMilli(), 10)
	visits := panelVisits(g)
	var perInstance, expression []grafanatest.Visit
	for _, v := range visits {
		if v.Query.Has("var-expr") {
			expression = append(expression, v)
		} else {
			perInstance = append(perInstance, v)
		}
	}
	if len(perInstance) != 1 || len(expression) != 1 {
		t.Fatalf("%d per-instance and %d expression renders, want 1 and 1: %v", len(perInstance), len(expression), visits)
	}
	if q := perInstance[0].Query; q.Get("var-instance") != "web-1" || q.Get("var-job") != "web" || q.Has("var-severity") ||
		q.Get("from") != from || q.Get("to") != "now" {
		t.Errorf("the alert's panel was drawn with %v; want var-instance=web-1, var-job=web, from=%s, to=now", q, from)
	}
	if q := expression[0].Query; q.Get("var-expr") != expr || q.Get("var-instance") != "api-2" || q.Get("from") != from {
		t.Errorf("the expression panel was drawn with %v; want var-expr=%s", q, expr)
	}

	// The resolve, again from both, lands once in the firing message's
	// thread and shows the incident up to when it was first attempted: it
	// came at once, so not five minutes past its end, which are empty yet.
	endsAt := time.Now().UTC().Truncate(time.Millisecond)
	latency["endsAt"] = endsAt.Format(time.RFC3339Nano)
	for _, am := range cluster {
		am.Post(t, latency)
	}
	waitFor(t, "both resolves", 30*time.Second, func() bool {
		return metric(t, addr, `panelcast_alerts_received_total{source="alertmanager",status="resolved"}`) >= 2
	})
	msgs = waitMessages(t, slack, 3, 60*time.Second)
	landed := time.Now()
	resolve := msgs[2]
	if resolve.ThreadTS != fire.TS || !strings.Contains(resolve.Text, "*RESOLVED*") || len(resolve.Files) != 1 {
		t.Errorf("resolve in thread %q (want %q), %d files:\n%s", resolve.ThreadTS, fire.TS, len(resolve.Files), resolve.Text)
	}
	last := panelVisits(g)
	q := last[len(last)-1].Query
	if to, err := strconv.ParseInt(q.Get("to"), 10, 64); err != nil || to < endsAt.UnixMilli() || to > landed.UnixMilli() || q.Get("from") != from {
		t.Errorf("the resolve was drawn from %s to %s; want from %s to between its end %d and its post %d",
			q.Get("from"), q.Get("to"), from, endsAt.UnixMilli(), landed.UnixMilli())
	}
	// The firing message is edited once the resolve is out.
	waitFor(t, "the firing message marked resolved", 10*time.Second, func() bool {
		for _, m := range slack.Messages() {
			if m.TS == fire.TS && m.Edits == 1 && strings.HasPrefix(m.Text, "✅ *RESOLVED* ~FIRING~") {
				return true
			}
		}
		return false
	})
	// Give a late duplicate the time to show up before counting.
	time.Sleep(time.Second)
	if n := len(slack.Messages()); n != 3 {
		t.Errorf("%d messages in Slack, want 3 (two firing, one resolve)", n)
	}
	// Health tells how alert delivery went.
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var health struct {
		Alerts struct{ Received, Delivered, Failed int }
	}
	err = json.NewDecoder(resp.Body).Decode(&health)
	resp.Body.Close()
	if err != nil || health.Alerts.Received != 6 || health.Alerts.Delivered != 3 || health.Alerts.Failed != 0 {
		t.Errorf("healthz alerts %+v (%v), want 6 received (4 firing, 2 resolved), 3 delivered", health.Alerts, err)
	}
	if v := slack.Violations(); len(v) > 0 {
		t.Errorf("Slack's rate limits were broken: %v", v)
	}
	if strings.Contains(logs.String(), apiToken) || strings.Contains(logs.String(), slackToken) || strings.Contains(logs.String(), saToken) {
		t.Error("a token reached the logs")
	}
}

func randomHex(t *testing.T) string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func queryEscape(s string) string {
	r := strings.NewReplacer("%", "%25", " ", "+", "=", "%3D", "{", "%7B", "}", "%7D", `"`, "%22", "&", "%26")
	return r.Replace(s)
}

// waitHealthy waits until serve answers its health check.
func waitHealthy(t *testing.T, u string, served chan error) {
	t.Helper()
	waitFor(t, "panelcast serve", 30*time.Second, func() bool {
		select {
		case err := <-served:
			served <- err
			t.Fatalf("serve stopped: %v", err)
		default:
		}
		resp, err := http.Get(u)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

func waitFor(t *testing.T, what string, within time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitMessages(t *testing.T, s *slackfake.Server, n int, within time.Duration) []slackfake.Message {
	t.Helper()
	waitFor(t, strconv.Itoa(n)+" Slack messages", within, func() bool { return len(s.Messages()) >= n })
	return s.Messages()
}

// metric reads one series (name with its labels, or the sum over a name's
// series) from serve's /metrics.
func metric(t *testing.T, addr, series string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	sum := 0.0
	for _, line := range strings.Split(string(b), "\n") {
		name, value, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		if name == series || (!strings.Contains(series, "{") && strings.HasPrefix(name, series+"{")) {
			v, _ := strconv.ParseFloat(value, 64)
			sum += v
		}
	}
	return sum
}

// panelVisits are the stand-in's loads of the scenes solo panel.
func panelVisits(g *grafanatest.Server) []grafanatest.Visit {
	var out []grafanatest.Visit
	for _, v := range g.Visits() {
		if strings.HasPrefix(v.Path, "/d-solo/"+grafanatest.ScenarioScenes+"/") {
			out = append(out, v)
		}
	}
	return out
}

// checkPicture checks a posted picture is the stand-in's rendered panel:
// its size, the series colour in the lower half, the background above.
func checkPicture(t *testing.T, data []byte, w, h int) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Errorf("not a PNG: %v", err)
		return
	}
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		t.Errorf("picture %dx%d, want %dx%d", b.Dx(), b.Dy(), w, h)
	}
	at := func(fx, fy float64) [3]uint8 {
		r, g, b, _ := img.At(int(fx*float64(w-1)), int(fy*float64(h-1))).RGBA()
		return [3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8)}
	}
	near := func(a [3]uint8, c [3]uint8) bool {
		for i := range a {
			if d := int(a[i]) - int(c[i]); d > 6 || d < -6 {
				return false
			}
		}
		return true
	}
	series := [3]uint8{grafanatest.SeriesColor.R, grafanatest.SeriesColor.G, grafanatest.SeriesColor.B}
	bg := [3]uint8{grafanatest.Background.R, grafanatest.Background.G, grafanatest.Background.B}
	if got := at(0.5, 0.75); !near(got, series) {
		t.Errorf("panel body %v, want the series colour %v", got, series)
	}
	if got := at(0.9, 0.25); !near(got, bg) {
		t.Errorf("upper half %v, want the background %v", got, bg)
	}
}
