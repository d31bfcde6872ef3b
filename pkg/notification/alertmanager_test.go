package notification

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/panelcast/panelcast/internal/amtest"
)

// TestRealAlertmanager feeds alerts to the real Alertmanager (Debian's
// prometheus-alertmanager) and parses what its webhook sends: the payload's
// contract as it is, not as a fixture remembers it.
func TestRealAlertmanager(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Alertmanager")
	}
	bodies := make(chan []byte, 10)
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies <- b
	}))
	t.Cleanup(sink.Close)
	am := amtest.Start(t, amtest.WebhookConfig(sink.URL+"/alerts", ""), "--web.external-url=http://am.example.com")

	start := time.Now().Add(-time.Minute).UTC().Truncate(time.Millisecond)
	alert := map[string]any{
		"labels": map[string]string{"alertname": "HighLatency", "instance": "web-1:9100", "job": "web"},
		"annotations": map[string]string{"summary": "p99 is 870 ms",
			AnnotationPanel: "https://grafana.example.com/d/scenes/x?orgId=1&viewPanel=panel-2&var-env=prod"},
		"startsAt":     start.Format(time.RFC3339Nano),
		"generatorURL": "http://prometheus.example.com:9090/graph?g0.expr=histogram_quantile%280.99%2C+x%29+%3E+0.5&g0.tab=1",
	}
	post := func() { am.Post(t, alert) }
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
