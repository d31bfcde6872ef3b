package deploy_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"text/template"

	"gopkg.in/yaml.v3"
)

// adapterRule holds the fields of prometheus-adapter's discovery rule
// (kubernetes-sigs/prometheus-adapter, pkg/config.DiscoveryRule) that the
// example uses. The adapter's module cannot be had from the Go module
// proxy, so the file is decoded into these fields instead, strictly: a
// field they do not name fails, as the adapter's own strict loader fails on
// a field it does not know.
type adapterRule struct {
	SeriesQuery string `yaml:"seriesQuery"`
	Resources   struct {
		Overrides map[string]struct {
			Group    string `yaml:"group"`
			Resource string `yaml:"resource"`
		} `yaml:"overrides"`
	} `yaml:"resources"`
	Name struct {
		Matches string `yaml:"matches"`
		As      string `yaml:"as"`
	} `yaml:"name"`
	MetricsQuery string `yaml:"metricsQuery"`
}

func adapterRules(t *testing.T) []adapterRule {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(k8sQueueDir, "prometheus-adapter.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var cfg struct {
		ExternalRules []adapterRule `yaml:"externalRules"`
	}
	if err := dec.Decode(&cfg); err != nil {
		t.Fatalf("prometheus-adapter.yaml: %v", err)
	}
	if len(cfg.ExternalRules) == 0 {
		t.Fatal("prometheus-adapter.yaml has no externalRules")
	}
	return cfg.ExternalRules
}

// The queue as two replicas of one fleet report it (each the whole shared
// outbox), beside another namespace's Panelcast.
const adapterSeries = `
      - series: 'panelcast_outbox_jobs{namespace="grafana", pod="panelcast-a", state="queued"}'
        values: '7x10'
      - series: 'panelcast_outbox_jobs{namespace="grafana", pod="panelcast-a", state="sending"}'
        values: '3x10'
      - series: 'panelcast_outbox_jobs{namespace="grafana", pod="panelcast-a", state="sent"}'
        values: '120x10'
      - series: 'panelcast_outbox_jobs{namespace="grafana", pod="panelcast-a", state="failed"}'
        values: '2x10'
      - series: 'panelcast_outbox_jobs{namespace="grafana", pod="panelcast-b", state="queued"}'
        values: '7x10'
      - series: 'panelcast_outbox_jobs{namespace="grafana", pod="panelcast-b", state="sending"}'
        values: '3x10'
      - series: 'panelcast_outbox_jobs{namespace="grafana", pod="panelcast-b", state="sent"}'
        values: '120x10'
      - series: 'panelcast_outbox_jobs{namespace="grafana", pod="panelcast-b", state="failed"}'
        values: '2x10'
      - series: 'panelcast_outbox_jobs{namespace="other", pod="panelcast-x", state="queued"}'
        values: '50x10'
`

// TestPrometheusAdapterRule renders the example rule's query as the adapter
// does for an external metric of an autoscaler in namespace "grafana" and
// has Prometheus's own engine (promtool) evaluate it: the fleet's pending
// jobs (queued and sending) counted once, however many replicas report
// them, and nothing from another namespace.
func TestPrometheusAdapterRule(t *testing.T) {
	for _, r := range adapterRules(t) {
		matches, err := regexp.Compile(r.Name.Matches)
		if err != nil || !matches.MatchString("panelcast_outbox_jobs") || r.Name.As == "" {
			t.Errorf("rule %q: name %+v does not map panelcast_outbox_jobs to a metric name (%v)", r.SeriesQuery, r.Name, err)
		}
		if ns := r.Resources.Overrides["namespace"]; ns.Resource != "namespace" {
			t.Errorf("rule %q: the namespace label is not mapped to the namespace, so the autoscaler's namespace cannot be matched", r.SeriesQuery)
		}
		// The adapter's template: << >> delimiters; for an external metric
		// LabelMatchers holds the autoscaler's namespace (and the metric
		// selector's labels, none here).
		tmpl, err := template.New("metricsQuery").Delims("<<", ">>").Parse(r.MetricsQuery)
		if err != nil {
			t.Fatalf("metricsQuery: %v", err)
		}
		var query bytes.Buffer
		if err := tmpl.Execute(&query, map[string]string{"Series": "panelcast_outbox_jobs", "LabelMatchers": `namespace="grafana"`, "GroupBy": ""}); err != nil {
			t.Fatalf("metricsQuery: %v", err)
		}
		test := fmt.Sprintf(`evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:%s
    promql_expr_test:
      - expr: %s
        eval_time: 5m
        exp_samples:
          - labels: '{}'
            value: 10
      - expr: %s
        eval_time: 5m
        exp_samples:
          - labels: '{}'
            value: 9
`, adapterSeries, strconv.Quote(query.String()), strconv.Quote("count("+r.SeriesQuery+")"))
		file := filepath.Join(t.TempDir(), "adapter_test.yml")
		if err := os.WriteFile(file, []byte(test), 0o600); err != nil {
			t.Fatal(err)
		}
		run(t, "promtool", "test", "rules", file)
	}
}
