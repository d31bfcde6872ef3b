package grafana

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/panelcast/panelcast/internal/grafanatest"
	"github.com/panelcast/panelcast/pkg/secret"
)

// v2ResourceJSON is the Grafana 10 dashboard of grafanaJSON as Grafana 13
// serves it in schema v2 (v2beta1): variables as kinds, panels as elements
// keyed panel-<id> (rows are layout, not elements), the folder in an
// annotation.
const v2ResourceJSON = `{
  "kind": "Dashboard", "apiVersion": "dashboard.grafana.app/v2beta1",
  "metadata": {"name": "node", "namespace": "org-3", "annotations": {"grafana.app/folder": "f1"}},
  "spec": {
    "title": "Node Exporter",
    "variables": [
      {"kind": "DatasourceVariable", "spec": {"name": "ds", "label": "Data source", "pluginId": "prometheus", "current": {"text": "Prometheus", "value": "P1809F7CD0C75ACF3"}}},
      {"kind": "QueryVariable", "spec": {"name": "instance", "multi": true, "current": {"text": ["a", "b"], "value": ["a:9100", "b:9100"]}}},
      {"kind": "ConstantVariable", "spec": {"name": "c", "hide": "hideVariable", "skipUrlSync": true, "query": "x", "current": {"value": 5}}},
      {"kind": "TextVariable", "spec": {"name": "filter", "current": {"text": "", "value": ""}}}
    ],
    "elements": {
      "panel-6": {"kind": "Panel", "spec": {"id": 6, "title": "Old", "vizConfig": {"kind": "VizConfig", "group": "graph", "spec": {}}}},
      "panel-2": {"kind": "Panel", "spec": {"id": 2, "title": "Uptime", "vizConfig": {"kind": "VizConfig", "group": "stat", "version": "12.0.0", "spec": {}}}},
      "panel-5": {"kind": "LibraryPanel", "spec": {"id": 5, "title": "Memory", "libraryPanel": {"uid": "lp", "name": "Memory"}}},
      "panel-4": {"kind": "Panel", "spec": {"title": "CPU", "vizConfig": {"kind": "timeseries", "spec": {}}}}
    },
    "layout": {"kind": "RowsLayout", "spec": {"rows": []}}
  },
  "status": {}
}`

func TestParseV2Resource(t *testing.T) {
	cases := []struct {
		name, body string
		want       Dashboard
		wantErr    string
	}{
		{"v2beta1", v2ResourceJSON, Dashboard{UID: "node", Title: "Node Exporter", FolderUID: "f1",
			Variables: []Variable{
				{Name: "ds", Type: "datasource", Label: "Data source", Current: []string{"P1809F7CD0C75ACF3"}},
				{Name: "instance", Type: "query", Current: []string{"a:9100", "b:9100"}},
				{Name: "c", Type: "constant", SkipURLSync: true},
				{Name: "filter", Type: "textbox", Current: []string{""}},
			},
			// panel-4 has no spec.id: its key gives it; v2alpha1 names the
			// plugin in vizConfig.kind.
			Panels: []Panel{{2, "Uptime", "stat"}, {4, "CPU", "timeseries"}, {5, "Memory", ""}, {6, "Old", "graph"}},
		}, ""},
		{"classic model", `{"kind":"Dashboard","apiVersion":"dashboard.grafana.app/v1beta1","metadata":{"name":"node"},
			"spec":{"title":"T","panels":[{"id":3,"type":"stat","title":"S"}],"templating":{"list":[{"name":"x","type":"custom"}]}}}`,
			Dashboard{UID: "node", Title: "T", Variables: []Variable{{Name: "x", Type: "custom"}}, Panels: []Panel{{3, "S", "stat"}}}, ""},
		{"other variable kinds", `{"kind":"Dashboard","apiVersion":"dashboard.grafana.app/v2","metadata":{"name":"u"},
			"spec":{"variables":[{"kind":"AdhocVariable","spec":{"name":"f"}},{"kind":"GroupByVariable","spec":{"name":"g"}},{"kind":"IntervalVariable","spec":{"name":"i"}}],
			"elements":{"panel-x":{"kind":"Panel","spec":{"title":"no id"}}}}}`,
			Dashboard{UID: "u", Variables: []Variable{{Name: "f", Type: "adhoc"}, {Name: "g", Type: "groupby"}, {Name: "i", Type: "interval"}}}, ""},
		{"no spec", `{"kind":"Dashboard","apiVersion":"dashboard.grafana.app/v2beta1","metadata":{"name":"u"}}`, Dashboard{}, `no "spec"`},
		{"spec not an object", `{"kind":"Dashboard","apiVersion":"dashboard.grafana.app/v2beta1","spec":[1]}`, Dashboard{}, "cannot unmarshal"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r resourceJSON
			if err := json.Unmarshal([]byte(c.body), &r); err != nil {
				t.Fatal(err)
			}
			d, err := r.dashboard()
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(d, c.want) {
				t.Errorf("dashboard %v\n%+v\nwant\n%+v", err, d, c.want)
			}
		})
	}
}

// Every Grafana generation's API gives the same dashboard: variables,
// panels and folder. Which API a Grafana serves is asked once.
func TestClientDashboardGenerations(t *testing.T) {
	access := grafanatest.Access{Folders: []grafanatest.Folder{{UID: "ops", Title: "Operations",
		Dashboards: []string{grafanatest.ScenarioScenes}, Permissions: []grafanatest.Permission{{Role: "Viewer", Level: grafanatest.View}}}}}
	want := Dashboard{UID: "scenes", Title: "Scenes", FolderUID: "ops", FolderTitle: "Operations",
		Variables: []Variable{
			{Name: "instance", Type: "query", Label: "Instance", Current: []string{"web-1:9100"}},
			{Name: "job", Type: "query", Label: "Job", Current: []string{"$__all"}},
		},
		Panels: []Panel{{ID: 2, Title: "Requests", Type: "timeseries"}},
	}
	for _, gen := range grafanatest.Generations {
		t.Run(gen.String(), func(t *testing.T) {
			g, err := grafanatest.Start(grafanatest.Options{ServiceAccountToken: testToken, Generation: gen, Access: access,
				Faults: map[string]grafanatest.APIFault{grafanatest.ScenarioSlow: grafanatest.FaultGarbage}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(g.Close)
			c := &Client{BaseURL: g.URL, Token: secret.New(testToken)}
			for range 2 {
				d, err := c.Dashboard(context.Background(), grafanatest.ScenarioScenes)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(d, want) {
					t.Fatalf("dashboard\n%+v\nwant\n%+v", d, want)
				}
			}
			if _, err := c.Dashboard(context.Background(), grafanatest.ScenarioSlow); err == nil || !strings.Contains(err.Error(), "is not a dashboard") {
				t.Errorf("garbage: %v", err)
			}
			if _, err := c.Dashboard(context.Background(), "nope"); err == nil || !strings.Contains(err.Error(), "(404)") {
				t.Errorf("unknown dashboard: %v", err)
			}
			var paths []string
			for _, v := range g.Visits() {
				paths = append(paths, v.Path)
			}
			reads := map[grafanatest.Generation][]string{
				grafanatest.Grafana9: {"/apis/dashboard.grafana.app/", "/api/dashboards/uid/scenes", "/api/dashboards/uid/scenes"},
				grafanatest.Grafana12: {"/apis/dashboard.grafana.app/", "/api/frontend/settings",
					"/apis/dashboard.grafana.app/v1beta1/namespaces/default/dashboards/scenes", "/api/folders/ops",
					"/apis/dashboard.grafana.app/v1beta1/namespaces/default/dashboards/scenes", "/api/folders/ops"},
				grafanatest.Grafana13: {"/apis/dashboard.grafana.app/", "/api/frontend/settings",
					"/apis/dashboard.grafana.app/v1/namespaces/default/dashboards/scenes", "/apis/dashboard.grafana.app/v2/namespaces/default/dashboards/scenes", "/api/folders/ops",
					"/apis/dashboard.grafana.app/v1/namespaces/default/dashboards/scenes", "/apis/dashboard.grafana.app/v2/namespaces/default/dashboards/scenes", "/api/folders/ops"},
			}[gen]
			if len(paths) < len(reads) || !reflect.DeepEqual(paths[:len(reads)], reads) {
				t.Errorf("requests\n%v\nwant them to start with\n%v", paths, reads)
			}
		})
	}
}

func TestOrgNamespace(t *testing.T) {
	for org, want := range map[int64]string{1: "default", 2: "org-2", 42: "org-42"} {
		if got := OrgNamespace(org); got != want {
			t.Errorf("OrgNamespace(%d) = %q, want %q", org, got, want)
		}
	}
}

// Which dashboard API a Grafana serves is learnt from its answers, and kept
// unless the answer may change (a refused token, Grafana down).
func TestDiscover(t *testing.T) {
	cases := []struct {
		name, group, settings string
		groupStatus           int
		want                  dashboardAPI
		kept                  bool
		err                   string
	}{
		{"before the resource API", "", "", http.StatusNotFound, dashboardAPI{}, true, ""},
		{"frontend page for any path", "<!doctype html><html>", "", http.StatusOK, dashboardAPI{}, true, ""},
		{"experimental v0alpha1 only", `{"kind":"APIGroup","versions":[{"version":"v0alpha1"}]}`, "", http.StatusOK, dashboardAPI{}, true, ""},
		{"12.2", `{"versions":[{"version":"v0alpha1"},{"version":"v1beta1"},{"version":"v2alpha1"},{"version":"v2beta1"}]}`,
			`{"namespace":"stacks-12345"}`, http.StatusOK, dashboardAPI{classic: "v1beta1", v2: "v2beta1", namespace: "stacks-12345"}, true, ""},
		{"13 without a namespace in the settings", `{"versions":[{"version":"v1beta1"},{"version":"v1"},{"version":"v2beta1"},{"version":"v2"}]}`,
			`{}`, http.StatusOK, dashboardAPI{classic: "v1", v2: "v2", namespace: "org-3"}, true, ""},
		{"token refused", "", "", http.StatusUnauthorized, dashboardAPI{}, false, ""},
		{"Grafana busy", "", "", http.StatusServiceUnavailable, dashboardAPI{}, false, "Grafana answered 503 when asked for Grafana's dashboard API: it will be retried"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/apis/dashboard.grafana.app/":
					w.WriteHeader(c.groupStatus)
					_, _ = w.Write([]byte(c.group))
				case "/api/frontend/settings":
					_, _ = w.Write([]byte(c.settings))
				case "/api/org":
					_, _ = w.Write([]byte(`{"id":3,"name":"Third"}`))
				default:
					w.WriteHeader(http.StatusNotFound)
				}
			}))
			t.Cleanup(srv.Close)
			cl := &Client{BaseURL: srv.URL, HTTP: srv.Client()}
			a, err := cl.discover(context.Background())
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
			} else if err != nil || a != c.want {
				t.Fatalf("discover = %+v, %v; want %+v", a, err, c.want)
			}
			if kept := cl.api != nil; kept != c.kept {
				t.Errorf("kept %v, want %v", kept, c.kept)
			}
		})
	}
}
