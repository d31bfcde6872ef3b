package notification

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/panelcast/panelcast/pkg/grafana"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func parseFixture(t *testing.T, name string) Notification {
	t.Helper()
	n, err := ParseWebhook(fixture(t, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return n
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestGrafanaFiring(t *testing.T) {
	n := parseFixture(t, "grafana-firing-panel.json")
	if n.Source != SourceGrafana || n.Version != "1" || n.Receiver != "panelcast" || n.Status != StatusFiring ||
		n.OrgID != 1 || n.Title != "[FIRING:1] HighCPU Servers (web-1 ops)" || !strings.HasPrefix(n.Message, "**Firing**") ||
		n.ExternalURL != "https://grafana.example.com/" || !strings.Contains(n.GroupKey, "HighCPU") || len(n.Alerts) != 1 {
		t.Fatalf("notification %+v", n)
	}
	if n.GroupLabels["alertname"] != "HighCPU" || n.CommonLabels["instance"] != "web-1" || n.CommonAnnotations["summary"] == "" {
		t.Errorf("group data %v %v %v", n.GroupLabels, n.CommonLabels, n.CommonAnnotations)
	}
	a := n.Alerts[0]
	if !a.StartsAt.Equal(mustTime(t, "2026-11-30T14:02:03.157076+02:00")) || !a.EndsAt.IsZero() {
		t.Errorf("times %v %v", a.StartsAt, a.EndsAt)
	}
	if a.Status != StatusFiring || a.Labels["instance"] != "web-1" || a.Annotations["summary"] != "CPU on web-1 is at 95%" ||
		a.Fingerprint != "a3f1c2b4d5e6f708" || a.OrgID != 1 {
		t.Errorf("alert %+v", a)
	}
	if !reflect.DeepEqual(a.Values, map[string]float64{"A": 95.25, "C": 1}) || !strings.Contains(a.ValueString, "value=95.25") {
		t.Errorf("values %v %q", a.Values, a.ValueString)
	}
	if !strings.Contains(a.SilenceURL, "/alerting/silence/new?") || !strings.Contains(a.GeneratorURL, "/alerting/grafana/") ||
		!strings.HasSuffix(a.PanelURL, "viewPanel=2") {
		t.Errorf("links %q %q %q", a.SilenceURL, a.GeneratorURL, a.PanelURL)
	}
	ref, ok, problem := a.Panel()
	want := grafana.PanelRef{DashboardUID: "scenes", PanelID: 2, OrgID: 1, Source: "Grafana's panelURL"}
	if !ok || problem != "" || !reflect.DeepEqual(ref, want) {
		t.Errorf("panel %+v %v %q, want %+v", ref, ok, problem, want)
	}
	if expr, ok := PromExpr(a.GeneratorURL); ok {
		t.Errorf("Grafana's rule link taken for an expression: %q", expr)
	}
}

func TestGrafanaResolved(t *testing.T) {
	n := parseFixture(t, "grafana-resolved.json")
	a := n.Alerts[0]
	if n.Source != SourceGrafana || n.Status != StatusResolved || a.Status != StatusResolved ||
		!a.EndsAt.Equal(mustTime(t, "2026-11-30T14:27:03.157076+02:00")) || !a.StartsAt.Before(a.EndsAt) {
		t.Fatalf("%+v", n)
	}
	if ref, ok, _ := a.Panel(); !ok || ref.DashboardUID != "scenes" || ref.PanelID != 2 {
		t.Errorf("panel %+v", ref)
	}
}

func TestGrafanaGroup(t *testing.T) {
	n := parseFixture(t, "grafana-group.json")
	if n.Status != StatusFiring || len(n.Alerts) != 3 || n.CommonLabels["mountpoint"] != "/var" {
		t.Fatalf("%+v", n)
	}
	fingerprints := map[string]bool{}
	for i, a := range n.Alerts {
		fingerprints[a.Fingerprint] = true
		if ref, ok, problem := a.Panel(); !ok || ref.DashboardUID != "scenes" || ref.PanelID != 2 || problem != "" {
			t.Errorf("alert %d panel %+v %q", i, ref, problem)
		}
	}
	if len(fingerprints) != 3 {
		t.Errorf("fingerprints %v", fingerprints)
	}
	last := n.Alerts[2]
	if last.Status != StatusResolved || last.Values != nil || last.ValueString != "" ||
		last.Annotations["grafana_state_reason"] != "MissingSeries" || last.EndsAt.IsZero() {
		t.Errorf("resolved alert %+v", last)
	}
}

func TestGrafanaNoPanel(t *testing.T) {
	n := parseFixture(t, "grafana-no-panel.json")
	a := n.Alerts[0]
	if a.DashboardURL != "" || a.PanelURL != "" || a.Annotations["summary"] != "The emails queue holds 1250 messages (日本語 ✓, 한국어)" {
		t.Fatalf("%+v", a)
	}
	ref, ok, problem := a.Panel()
	if ok || !reflect.DeepEqual(ref, grafana.PanelRef{}) || !strings.Contains(problem, "names no panel") {
		t.Errorf("panel %+v %v %q", ref, ok, problem)
	}
}

// alertmanager-firing-resolved.json was recorded from Alertmanager 0.25 fed
// by Prometheus 2.42 rules (see testdata/README.md).
func TestAlertmanagerRecorded(t *testing.T) {
	n := parseFixture(t, "alertmanager-firing-resolved.json")
	if n.Source != SourceAlertmanager || n.Version != "4" || n.Status != StatusFiring || n.OrgID != 0 ||
		n.GroupKey != `{}:{job="web"}` || n.ExternalURL != "http://alertmanager.example.com:9093" || len(n.Alerts) != 2 {
		t.Fatalf("%+v", n)
	}
	firing, resolved := n.Alerts[0], n.Alerts[1]
	if firing.Status != StatusFiring || !firing.EndsAt.IsZero() || resolved.Status != StatusResolved ||
		!resolved.EndsAt.After(resolved.StartsAt) || firing.Values != nil || firing.SilenceURL != "" {
		t.Errorf("alerts %+v", n.Alerts)
	}
	for _, a := range n.Alerts {
		if got := LabelsFingerprint(a.Labels); got != a.Fingerprint {
			t.Errorf("LabelsFingerprint(%v) = %s, Alertmanager says %s", a.Labels, got, a.Fingerprint)
		}
	}
	ref, ok, problem := firing.Panel()
	want := grafana.PanelRef{DashboardUID: "scenes", PanelID: 2, OrgID: 1, Vars: map[string][]string{"env": {"prod"}},
		Source: "the panelcast_panel annotation"}
	if !ok || problem != "" || !reflect.DeepEqual(ref, want) {
		t.Errorf("panel %+v %v %q, want %+v", ref, ok, problem, want)
	}
	if ref, ok, _ := resolved.Panel(); !ok || ref.DashboardUID != "scenes" || ref.PanelID != 2 || ref.OrgID != 0 {
		t.Errorf("uid:panelId panel %+v", ref)
	}
	vars, err := ParseVarMap(firing.Annotations[AnnotationVars])
	if err != nil || !reflect.DeepEqual(vars, map[string]string{"instance": "instance", "job": "job"}) {
		t.Errorf("vars %v %v", vars, err)
	}
	expr, ok := PromExpr(firing.GeneratorURL)
	if want := `label_replace(vector(0.87), "instance", "web-1:9100", "", "")`; !ok || expr != want {
		t.Errorf("expr %q, want %q", expr, want)
	}
}

const minimalAlert = `{"status":"firing","labels":{"alertname":"A"},"annotations":{},"startsAt":"2024-05-01T12:00:00Z","endsAt":"0001-01-01T00:00:00Z"`

func body(top, alert string) []byte {
	return []byte(`{"status":"firing","alerts":[` + minimalAlert + alert + `}]` + top + `}`)
}

func TestParseWebhookShapes(t *testing.T) {
	cases := []struct {
		name   string
		body   []byte
		source string
	}{
		{"alertmanager", body(`,"version":"4"`, ""), SourceAlertmanager},
		{"no version", body("", ""), SourceAlertmanager},
		{"version hint", body(`,"version":"1"`, ""), SourceGrafana},
		{"grafana top-level field", body(`,"version":"4","orgId":3`, ""), SourceGrafana},
		{"grafana alert field", body("", `,"valueString":""`), SourceGrafana},
		{"grafana null values", body("", `,"values":null`), SourceGrafana},
		{"unknown fields", body(`,"version":"4","newField":{"x":[1,2]}`, `,"extra":true`), SourceAlertmanager},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, err := ParseWebhook(c.body)
			if err != nil || n.Source != c.source {
				t.Errorf("source %q, err %v; want %s", n.Source, err, c.source)
			}
		})
	}
}

func TestParseWebhookFields(t *testing.T) {
	n, err := ParseWebhook(body(`,"orgId":4,"truncatedAlerts":-2`, `,"values":{"A":"NaN","B":"+Inf","C":1e400,"D":true,"E":"x","F":" 2.5 ","G":-0.5},"fingerprint":""`))
	if err != nil {
		t.Fatal(err)
	}
	a := n.Alerts[0]
	if len(a.Values) != 5 || !math.IsNaN(a.Values["A"]) || !math.IsInf(a.Values["B"], 1) || !math.IsInf(a.Values["C"], 1) ||
		a.Values["F"] != 2.5 || a.Values["G"] != -0.5 {
		t.Errorf("values %v", a.Values)
	}
	if a.OrgID != 4 || n.TruncatedAlerts != 0 || a.Fingerprint != LabelsFingerprint(map[string]string{"alertname": "A"}) {
		t.Errorf("alert %+v, truncated %d", a, n.TruncatedAlerts)
	}
	for raw, want := range map[string]map[string]float64{`[1,2]`: nil, `"x"`: nil, `{}`: {}} {
		n, err := ParseWebhook(body("", `,"values":`+raw))
		if err != nil || !reflect.DeepEqual(n.Alerts[0].Values, want) {
			t.Errorf("values %s: %v %v", raw, n.Alerts[0].Values, err)
		}
	}
	// A Grafana-managed alert that reached Alertmanager keeps its values and
	// organisation in reserved annotations.
	n, err = ParseWebhook(body("", `,"annotations":{"__values__":"{\"B\":3}","__value_string__":"[ B=3 ]","__orgId__":"7","__dashboardUid__":"d1","__panelId__":"4"}`))
	if err != nil {
		t.Fatal(err)
	}
	a = n.Alerts[0]
	if !reflect.DeepEqual(a.Values, map[string]float64{"B": 3}) || a.ValueString != "[ B=3 ]" || a.OrgID != 7 {
		t.Errorf("reserved annotations: %+v", a)
	}
	ref, ok, problem := a.Panel()
	want := grafana.PanelRef{DashboardUID: "d1", PanelID: 4, OrgID: 7, Source: "the rule's __dashboardUid__ and __panelId__ annotations"}
	if !ok || problem != "" || !reflect.DeepEqual(ref, want) {
		t.Errorf("panel %+v %q", ref, problem)
	}
}

func TestParseWebhookRefusals(t *testing.T) {
	alerts := func(n int) []byte {
		return []byte(`{"status":"firing","alerts":[` + strings.TrimSuffix(strings.Repeat(minimalAlert+"},", n), ",") + `]}`)
	}
	cases := []struct {
		name string
		body []byte
		want string
	}{
		{"empty", nil, "the body is empty"},
		{"blank", []byte(" \n "), "the body is empty"},
		{"array", []byte(`[{"status":"firing"}]`), "is a JSON array, not a JSON object"},
		{"string", []byte(`"firing"`), "is a JSON string, not"},
		{"number", []byte(`4`), "is a JSON number, not"},
		{"null", []byte(`null`), "is JSON null, not"},
		{"cut short", []byte(`{"status":"firing","alerts":[`), "cut short"},
		{"bad json", []byte("{\"status\":\"firing\",\n\"alerts\":[}"), "not valid JSON at line 2, column 11"},
		{"trailing", append(body("", ""), " {}"...), "not valid JSON"},
		{"deep", []byte(`{"x":` + strings.Repeat("[", 33) + strings.Repeat("]", 33) + `}`), "nests deeper than 32 levels"},
		{"a megabyte of brackets", []byte(`{"x":` + strings.Repeat("[", 1<<20)), "nests deeper than 32 levels (at line 1, column 38)"},
		{"no alerts", []byte(`{"status":"firing","receiver":"x"}`), `"alerts" is missing`},
		{"null alerts", []byte(`{"status":"firing","alerts":null}`), `"alerts" is missing`},
		{"legacy grafana", []byte(`{"evalMatches":[],"ruleId":1,"state":"alerting","title":"[Alerting] x"}`), "legacy dashboard alerting"},
		{"no status", []byte(`{"alerts":[` + minimalAlert + `}]}`), `"status" is missing`},
		{"bad status", []byte(`{"status":"pending","alerts":[` + minimalAlert + `}]}`), `"status" is "pending"`},
		{"no alert in list", []byte(`{"status":"firing","alerts":[]}`), `"alerts" is empty`},
		{"too many alerts", alerts(MaxAlerts + 1), "holds 1001 alerts; at most 1000"},
		{"alert status", body("", `,"status":"active"`), `alerts[0]: "status" is "active"`},
		{"no startsAt", []byte(`{"status":"firing","alerts":[{"status":"firing"}]}`), `alerts[0]: "startsAt" is missing`},
		{"bad startsAt", body("", `,"startsAt":"yesterday"`), `"startsAt" is "yesterday", not an RFC 3339 time`},
		{"zero startsAt", body("", `,"startsAt":"0001-01-01T00:00:00Z"`), `"startsAt" is the zero time`},
		{"bad endsAt", body("", `,"endsAt":"2024-13-01T00:00:00Z"`), `"endsAt" is "2024-13-01T00:00:00Z"`},
		{"number label", body("", `,"labels":{"severity":2}`), "alerts.labels is a number where a string belongs (at line 1, column 181)"},
		{"labels list", body("", `,"labels":["a"]`), "alerts.labels is an array where an object belongs"},
		{"string org", body(`,"orgId":"1"`, ""), "orgId is a string where a whole number belongs"},
		{"long fingerprint", body("", `,"fingerprint":"`+strings.Repeat("f", 65)+`"`), "is not a short printable identifier"},
		{"fingerprint with space", body("", `,"fingerprint":"a b"`), "is not a short printable identifier"},
		{"too big", append(body("", ""), strings.Repeat(" ", MaxBody)...), "at most 4194304 are taken"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseWebhook(c.body)
			if !errors.Is(err, ErrBadPayload) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v\nwant ErrBadPayload saying %q", err, c.want)
			}
		})
	}
	if _, err := ParseWebhook(alerts(MaxAlerts)); err != nil {
		t.Errorf("%d alerts refused: %v", MaxAlerts, err)
	}
}

func TestLabelsFingerprint(t *testing.T) {
	// Alertmanager's fingerprint of the empty label set is FNV-1a's offset
	// basis.
	if got := LabelsFingerprint(nil); got != "cbf29ce484222325" {
		t.Errorf("empty: %s", got)
	}
	a := LabelsFingerprint(map[string]string{"a": "bc"})
	b := LabelsFingerprint(map[string]string{"ab": "c"})
	if a == b || len(a) != 16 || a != LabelsFingerprint(map[string]string{"a": "bc"}) {
		t.Errorf("%s %s", a, b)
	}
}

func BenchmarkParseWebhookGroup(b *testing.B) {
	raw := fixture(b, "grafana-group.json")
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := ParseWebhook(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseWebhookStorm is the largest notification taken: 1000
// alerts.
func BenchmarkParseWebhookStorm(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"status":"firing","version":"4","alerts":[`)
	for i := range MaxAlerts {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"status":"firing","labels":{"alertname":"Disk","instance":"web-%d"},"annotations":{"summary":"disk %d"},"startsAt":"2024-05-01T12:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://p/graph?g0.expr=up&g0.tab=1"}`, i, i)
	}
	sb.WriteString(`]}`)
	raw := []byte(sb.String())
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := ParseWebhook(raw); err != nil {
			b.Fatal(err)
		}
	}
}
