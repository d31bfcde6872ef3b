package notification

import (
	"reflect"
	"strings"
	"testing"
)

func TestAlertPanelOrder(t *testing.T) {
	const (
		reserved   = "the rule's __dashboardUid__ and __panelId__ annotations"
		panelURL   = "Grafana's panelURL"
		dashURL    = "Grafana's dashboardURL"
		annotation = "the panelcast_panel annotation"
		label      = "the panelcast_panel label"
	)
	all := Alert{
		Annotations:  map[string]string{"__dashboardUid__": "r", "__panelId__": "1", AnnotationPanel: "a:4"},
		Labels:       map[string]string{AnnotationPanel: "l:5"},
		PanelURL:     "https://public.example.com/d/p?orgId=1&viewPanel=2",
		DashboardURL: "https://public.example.com/d/q?orgId=1&viewPanel=3",
		OrgID:        9,
	}
	cases := []struct {
		name    string
		change  func(*Alert)
		uid     string
		id      int64
		org     int64
		source  string
		problem string
	}{
		{"reserved annotations first", nil, "r", 1, 9, reserved, ""},
		{"panelURL second", func(a *Alert) { delete(a.Annotations, "__dashboardUid__"); delete(a.Annotations, "__panelId__") }, "p", 2, 1, panelURL, ""},
		{"dashboardURL third", func(a *Alert) { a.Annotations = map[string]string{AnnotationPanel: "a:4"}; a.PanelURL = "" }, "q", 3, 1, dashURL, ""},
		{"annotation fourth", func(a *Alert) {
			a.Annotations = map[string]string{AnnotationPanel: "a:4"}
			a.PanelURL, a.DashboardURL = "", ""
		}, "a", 4, 9, annotation, ""},
		{"label last", func(a *Alert) { a.Annotations, a.PanelURL, a.DashboardURL = nil, "", "" }, "l", 5, 9, label, ""},
		{"malformed reserved is skipped and reported", func(a *Alert) { a.Annotations["__panelId__"] = "x" }, "p", 2, 1, panelURL,
			`the rule's __dashboardUid__ and __panelId__ annotations: panel id "x" is not a whole number above 0`},
		{"dashboard-only link is no problem", func(a *Alert) {
			a.Annotations = map[string]string{AnnotationPanel: "a:4"}
			a.PanelURL, a.DashboardURL = "", "https://public.example.com/d/q?orgId=1"
		}, "a", 4, 9, annotation, ""},
		{"several problems", func(a *Alert) {
			a.Annotations = map[string]string{AnnotationPanel: "nonsense"}
			a.PanelURL, a.DashboardURL = "https://public.example.com/d/p?orgId=1&viewPanel=0", ""
		}, "l", 5, 9, label, `Grafana's panelURL: panel id "0" is not a whole number above 0; the panelcast_panel annotation: "nonsense" is neither`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := all
			a.Annotations = map[string]string{}
			for k, v := range all.Annotations {
				a.Annotations[k] = v
			}
			if c.change != nil {
				c.change(&a)
			}
			ref, ok, problem := a.Panel()
			if !ok || ref.DashboardUID != c.uid || ref.PanelID != c.id || ref.OrgID != c.org || ref.Source != c.source {
				t.Errorf("got %+v %v, want %s:%d org %d from %s", ref, ok, c.uid, c.id, c.org, c.source)
			}
			if c.problem == "" && problem != "" || !strings.Contains(problem, c.problem) {
				t.Errorf("problem %q, want %q", problem, c.problem)
			}
		})
	}
}

func TestAlertNoPanel(t *testing.T) {
	cases := []struct {
		name string
		a    Alert
		want string
	}{
		{"nothing", Alert{}, "the alert names no panel: link its rule to a panel"},
		{"dashboard only", Alert{DashboardURL: "https://g/d/dash1?orgId=1&from=1&to=2"}, "linked to dashboard dash1 but to no panel"},
		{"reserved dashboard only", Alert{Annotations: map[string]string{"__dashboardUid__": "dash2"}}, "linked to dashboard dash2 but to no panel"},
		{"malformed annotation", Alert{Annotations: map[string]string{AnnotationPanel: "dash:zero"}}, `the panelcast_panel annotation: panel id "zero"`},
		{"malformed label", Alert{Labels: map[string]string{AnnotationPanel: "https://g/d/x"}}, "the panelcast_panel label: names a dashboard but no panel"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ref, ok, problem := c.a.Panel()
			if ok || ref.DashboardUID != "" || !strings.Contains(problem, c.want) {
				t.Errorf("got %+v %v %q, want no panel and %q", ref, ok, problem, c.want)
			}
		})
	}
}

func TestParseVarMap(t *testing.T) {
	cases := []struct {
		in   string
		want map[string]string
	}{
		{"", map[string]string{}},
		{"  ", map[string]string{}},
		{"host=instance", map[string]string{"host": "instance"}},
		{"host=instance, env=cluster", map[string]string{"host": "instance", "env": "cluster"}},
		{" host = instance ,env=cluster ", map[string]string{"host": "instance", "env": "cluster"}},
		{"a=instance,b=instance", map[string]string{"a": "instance", "b": "instance"}},
		{"svc=service.name,ns=k8s:namespace,x_1=_private-ish", map[string]string{"svc": "service.name", "ns": "k8s:namespace", "x_1": "_private-ish"}},
	}
	for _, c := range cases {
		got, err := ParseVarMap(c.in)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseVarMap(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	refusals := map[string]string{
		"host=instance,":     "entry 2 is empty",
		",host=instance":     "entry 1 is empty",
		"a=b,,c=d":           "entry 2 is empty",
		"host":               `"host" has no "="`,
		"host:instance":      `has no "="`,
		"=instance":          `"" is not a dashboard variable name`,
		"ho st=instance":     `"ho st" is not a dashboard variable name`,
		"__all=instance":     "not starting with __",
		"host=":              `"" (for variable host) is not a label name`,
		"host=inst ance":     `"inst ance" (for variable host) is not a label name`,
		"host=1abc":          "is not a label name",
		"host=a=b":           `"a=b" (for variable host) is not a label name`,
		"host=a, host=b":     "variable host is mapped twice",
		"h\u00f6st=instance": "is not a dashboard variable name",
		"host=\"instance\"":  "is not a label name",
		strings.Repeat("v=l,", 0) + manyVars(101): "more than 100 variables",
	}
	for in, want := range refusals {
		if _, err := ParseVarMap(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseVarMap(%q): err = %v, want %q", in, err, want)
		}
	}
	if _, err := ParseVarMap(manyVars(100)); err != nil {
		t.Errorf("100 variables: %v", err)
	}
}

func TestPromExpr(t *testing.T) {
	cases := []struct {
		in   string
		want string
		ok   bool
	}{
		{"http://prometheus:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1", "up == 0", true},
		{"https://example.com/prometheus/graph?g0.expr=rate%28http_requests_total%7Bjob%3D%22api%22%7D%5B5m%5D%29+%3E+1&g0.tab=0",
			`rate(http_requests_total{job="api"}[5m]) > 1`, true},
		{"/graph?g0.tab=1&g0.expr=sum+by+%28le%29+%28x%29", "sum by (le) (x)", true},
		{"https://grafana.example.com/alerting/grafana/cdx7rq1w2/view?orgId=1", "", false},
		{"http://prometheus:9090/graph?g0.tab=1", "", false},
		{"http://prometheus:9090/graph?g0.expr=+++&g0.tab=1", "", false},
		{"http://prometheus:9090/alerts?g0.expr=up", "", false},
		{"http://prometheus:9090/graph?g1.expr=up", "", false},
		{"", "", false},
		{"%zz", "", false},
	}
	for _, c := range cases {
		got, ok := PromExpr(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("PromExpr(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}
func manyVars(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = "v" + strings.Repeat("x", i) + "=l"
	}
	return strings.Join(parts, ",")
}
