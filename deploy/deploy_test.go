// Package deploy_test checks the files in deploy/ that operators copy, with
// the programs and libraries that read them: amtool, promtool and a real
// Alertmanager that must deliver to a Panelcast stand-in exactly as the
// comments in alertmanager.yml promise; the Kubernetes API's Go types and
// kubectl's kustomize for the manifests; Docker Compose's loader for the
// Compose file; systemd-analyze for the unit; and Panelcast's own settings
// loader for what each of them gives `panelcast serve`.
package deploy_test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/panelcast/panelcast/internal/amtest"
	"github.com/panelcast/panelcast/internal/testenv"
)

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(testenv.NeedCommand(t, name), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

func TestAlertmanagerConfigChecks(t *testing.T) {
	run(t, "amtool", "check-config", "alertmanager.yml")
}

// promtool's rule unit tests: the example rules fire with the annotations
// Panelcast reads, rendered from the alert's labels and value.
const rulesTest = `
rule_files:
  - RULES_FILE
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'up{job="node", instance="web-2:9100"}'
        values: '0x20'
      # +3 s of idle time a minute: 5% idle, 95% busy.
      - series: 'node_cpu_seconds_total{job="node", instance="web-2:9100", cpu="0", mode="idle"}'
        values: '0+3x30'
    alert_rule_test:
      - eval_time: 10m
        alertname: NodeExporterDown
        exp_alerts:
          - exp_labels: {severity: critical, job: node, instance: "web-2:9100"}
            exp_annotations:
              summary: "web-2:9100 has not been scraped for 5 minutes"
              description: "Prometheus cannot reach node_exporter on web-2:9100."
      - eval_time: 20m
        alertname: HighCPU
        exp_alerts:
          - exp_labels: {severity: warning, instance: "web-2:9100"}
            exp_annotations:
              summary: "CPU on web-2:9100 is 95% busy"
              description: "More than 90% CPU for 10 minutes."
              panelcast_panel: "abc123:2"
              panelcast_vars: "host=instance"
`

func TestPrometheusRules(t *testing.T) {
	run(t, "promtool", "check", "rules", "prometheus-rules.yml")
	rules, err := filepath.Abs("prometheus-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	test := filepath.Join(t.TempDir(), "rules_test.yml")
	if err := os.WriteFile(test, []byte(strings.Replace(rulesTest, "RULES_FILE", strconv.Quote(rules), 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, "promtool", "test", "rules", test)
}

// amConfig is the part of alertmanager.yml the delivery test reads and
// rewires; everything else is passed on as written.
type amConfig struct {
	Route struct {
		Receiver      string         `yaml:"receiver"`
		GroupWait     model.Duration `yaml:"group_wait"`
		GroupInterval model.Duration `yaml:"group_interval"`
	} `yaml:"route"`
}

// webhookCall is one request Alertmanager made to the Panelcast stand-in.
type webhookCall struct {
	method, path, auth string
	query              url.Values
	body               struct {
		Version string `json:"version"`
		Status  string `json:"status"`
		Alerts  []struct {
			Status       string            `json:"status"`
			Labels       map[string]string `json:"labels"`
			Annotations  map[string]string `json:"annotations"`
			GeneratorURL string            `json:"generatorURL"`
			Fingerprint  string            `json:"fingerprint"`
		} `json:"alerts"`
	}
}

// TestAlertmanagerDeliversToPanelcast runs the real Alertmanager with
// deploy/alertmanager.yml, changed only where it must be: the webhook's host
// (a stand-in for panelcast serve) and the token file's path. An alert
// posted to Alertmanager must arrive as Panelcast expects it: POST /alerts
// with ?to= intact and the bearer token from the file, then its resolve.
func TestAlertmanagerDeliversToPanelcast(t *testing.T) {
	dir := t.TempDir()

	raw, err := os.ReadFile("alertmanager.yml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg amConfig
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}

	calls := make(chan webhookCall, 8)
	panelcast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := webhookCall{method: r.Method, path: r.URL.Path, auth: r.Header.Get("Authorization"), query: r.URL.Query()}
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &c.body); err != nil {
			t.Errorf("webhook body: %v\n%s", err, b)
		}
		w.WriteHeader(http.StatusAccepted)
		calls <- c
	}))
	t.Cleanup(panelcast.Close)

	token := randomToken(t)
	tokenFile := filepath.Join(dir, "panelcast-api-token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wantTo := rewire(t, raw, cfg.Route.Receiver, panelcast.URL, tokenFile, filepath.Join(dir, "alertmanager.yml"))

	rewired, err := os.ReadFile(filepath.Join(dir, "alertmanager.yml"))
	if err != nil {
		t.Fatal(err)
	}
	am := amtest.Start(t, string(rewired))

	startsAt := time.Now().UTC()
	alert := map[string]any{
		"labels":       map[string]string{"alertname": "PanelcastDeployTest", "instance": "web-2", "severity": "warning"},
		"annotations":  map[string]string{"summary": "deploy test", "panelcast_panel": "panelcast-demo:1"},
		"generatorURL": "http://prometheus:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1",
		"startsAt":     startsAt.Format(time.RFC3339Nano),
	}
	am.Post(t, alert)

	firing := nextCall(t, calls, time.Duration(cfg.Route.GroupWait)+20*time.Second)
	checkCall(t, firing, "firing", token, wantTo)
	if a := firing.body.Alerts[0]; a.Annotations["panelcast_panel"] != "panelcast-demo:1" || a.GeneratorURL != alert["generatorURL"] {
		t.Errorf("alert lost what Panelcast reads: annotations %v, generatorURL %q", a.Annotations, a.GeneratorURL)
	}

	if testing.Short() {
		t.Log("-short: not waiting a group_interval for the resolve")
		return
	}
	alert["endsAt"] = time.Now().UTC().Format(time.RFC3339Nano)
	am.Post(t, alert)
	resolved := nextCall(t, calls, time.Duration(cfg.Route.GroupInterval)+20*time.Second)
	checkCall(t, resolved, "resolved", token, wantTo)
	if got, want := resolved.body.Alerts[0].Fingerprint, firing.body.Alerts[0].Fingerprint; got != want {
		t.Errorf("resolve fingerprint %q, firing %q: Panelcast could not thread them", got, want)
	}
}

// rewire writes a copy of the Alertmanager config whose route receiver's
// webhook goes to base (keeping its path and query) with its bearer token
// read from tokenFile, and returns the webhook's ?to= value.
func rewire(t *testing.T, raw []byte, receiverName, base, tokenFile, out string) string {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	receivers, _ := doc["receivers"].([]any)
	var hook map[string]any
	for _, r := range receivers {
		r, _ := r.(map[string]any)
		if r["name"] == receiverName {
			hooks, _ := r["webhook_configs"].([]any)
			if len(hooks) != 1 {
				t.Fatalf("receiver %q: %d webhook_configs, want 1", receiverName, len(hooks))
			}
			hook, _ = hooks[0].(map[string]any)
		}
	}
	if hook == nil {
		t.Fatalf("no receiver %q (the route's receiver)", receiverName)
	}
	orig, err := url.Parse(fmt.Sprint(hook["url"]))
	if err != nil {
		t.Fatal(err)
	}
	to, _ := url.Parse(base)
	to.Path, to.RawQuery = orig.Path, orig.RawQuery
	hook["url"] = to.String()
	httpConfig, _ := hook["http_config"].(map[string]any)
	auth, _ := httpConfig["authorization"].(map[string]any)
	if auth == nil || auth["credentials_file"] == nil {
		t.Fatal("webhook has no http_config.authorization.credentials_file")
	}
	auth["credentials_file"] = tokenFile
	b, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return orig.Query().Get("to")
}

func checkCall(t *testing.T, c webhookCall, status, token, wantTo string) {
	t.Helper()
	if c.method != http.MethodPost || c.path != "/alerts" {
		t.Errorf("%s %s, want POST /alerts", c.method, c.path)
	}
	if c.auth != "Bearer "+token {
		t.Errorf("Authorization %q, want Bearer and the token file's content", c.auth)
	}
	if got := c.query.Get("to"); got != wantTo || got == "" {
		t.Errorf("?to=%q, want %q", got, wantTo)
	}
	if c.body.Version != "4" || c.body.Status != status || len(c.body.Alerts) != 1 || c.body.Alerts[0].Status != status {
		t.Fatalf("payload version %q status %q with %d alerts, want version 4, one %s alert", c.body.Version, c.body.Status, len(c.body.Alerts), status)
	}
	if got := c.body.Alerts[0].Labels["instance"]; got != "web-2" {
		t.Errorf("instance label %q, want web-2", got)
	}
}

func nextCall(t *testing.T, calls <-chan webhookCall, within time.Duration) webhookCall {
	t.Helper()
	select {
	case c := <-calls:
		return c
	case <-time.After(within):
		t.Fatalf("Alertmanager did not call the webhook within %s", within)
		return webhookCall{}
	}
}

func randomToken(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
