package grafana

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestRealAlertmanager feeds alerts to the real Alertmanager (Debian's
// prometheus-alertmanager) and parses what its webhook sends: the payload's
// contract as it is, not as a fixture remembers it.
func TestRealAlertmanager(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Alertmanager")
	}
	bin, err := exec.LookPath("prometheus-alertmanager")
	if err != nil {
		if bin, err = exec.LookPath("alertmanager"); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatal("CI must have prometheus-alertmanager")
			}
			t.Skip("no Alertmanager installed")
		}
	}
	bodies := make(chan []byte, 10)
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies <- b
	}))
	t.Cleanup(sink.Close)

	dir := t.TempDir()
	config := fmt.Sprintf(`route:
  receiver: panelcast
  group_by: [alertname]
  group_wait: 100ms
  group_interval: 1s
receivers:
  - name: panelcast
    webhook_configs:
      - url: %s/alerts
        send_resolved: true
`, sink.URL)
	if err := os.WriteFile(filepath.Join(dir, "am.yml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "am.yml"), "--storage.path="+dir,
		"--web.listen-address="+addr, "--cluster.listen-address=", "--web.external-url=http://am.example.com")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Log(logs.String())
		}
	})

	start := time.Now().Add(-time.Minute).UTC().Truncate(time.Millisecond)
	alert := map[string]any{
		"labels": map[string]string{"alertname": "HighLatency", "instance": "web-1:9100", "job": "web"},
		"annotations": map[string]string{"summary": "p99 is 870 ms",
			AnnotationPanel: "https://grafana.example.com/d/scenes/x?orgId=1&viewPanel=panel-2&var-env=prod"},
		"startsAt":     start.Format(time.RFC3339Nano),
		"generatorURL": "http://prometheus.example.com:9090/graph?g0.expr=histogram_quantile%280.99%2C+x%29+%3E+0.5&g0.tab=1",
	}
	post := func() {
		b, _ := json.Marshal([]any{alert})
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, err := http.Post("http://"+addr+"/api/v2/alerts", "application/json", bytes.NewReader(b))
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return
				}
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
			if time.Now().After(deadline) {
				t.Fatalf("posting to Alertmanager: %v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	receive := func(status string) Notification {
		t.Helper()
		timeout := time.After(15 * time.Second)
		for {
			select {
			case b := <-bodies:
				n, err := ParseWebhook(b)
				if err != nil {
					t.Fatalf("%v\n%s", err, b)
				}
				if n.Status == status {
					return n
				}
			case <-timeout:
				t.Fatalf("no %s notification from Alertmanager", status)
			}
		}
	}

	post()
	n := receive(StatusFiring)
	if n.Source != SourceAlertmanager || n.Version != "4" || n.Receiver != "panelcast" || n.ExternalURL != "http://am.example.com" ||
		n.GroupLabels["alertname"] != "HighLatency" || len(n.Alerts) != 1 {
		t.Fatalf("%+v", n)
	}
	a := n.Alerts[0]
	if !a.StartsAt.Equal(start) || !a.EndsAt.IsZero() || a.Fingerprint != LabelsFingerprint(a.Labels) {
		t.Errorf("alert %+v; fingerprint of its labels %s", a, LabelsFingerprint(a.Labels))
	}
	if ref, ok, problem := a.Panel(); !ok || ref.DashboardUID != "scenes" || ref.PanelID != 2 || ref.Vars["env"][0] != "prod" {
		t.Errorf("panel %+v %q", ref, problem)
	}
	if expr, _ := PromExpr(a.GeneratorURL); expr != "histogram_quantile(0.99, x) > 0.5" {
		t.Errorf("expression %q", expr)
	}

	end := time.Now().UTC().Truncate(time.Millisecond)
	alert["endsAt"] = end.Format(time.RFC3339Nano)
	post()
	n = receive(StatusResolved)
	if a := n.Alerts[0]; a.Status != StatusResolved || !a.StartsAt.Equal(start) || !a.EndsAt.Equal(end) {
		t.Errorf("resolved alert %+v", a)
	}
}

// freeAddr is a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
