package grafana

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/panelcast/panelcast/internal/grafanatest"
	"github.com/panelcast/panelcast/pkg/secret"
)

const testToken = "glsa_secret-token-1234"

func TestClientDashboardFromStandIn(t *testing.T) {
	g, err := grafanatest.Start(grafanatest.Options{ServiceAccountToken: testToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	page := mustURL(t, g.PanelURL(grafanatest.ScenarioScenes, nil))
	base := page.Scheme + "://" + page.Host
	c := &Client{BaseURL: base + "/", Token: secret.New(testToken)}
	d, err := c.Dashboard(context.Background(), grafanatest.ScenarioScenes)
	if err != nil {
		t.Fatal(err)
	}
	want := Dashboard{UID: "scenes", Title: "Scenes", FolderTitle: "General",
		Variables: []Variable{
			{Name: "instance", Type: "query", Label: "Instance", Current: []string{"web-1:9100"}},
			{Name: "job", Type: "query", Label: "Job", Current: []string{"$__all"}},
		},
		Panels: []Panel{{ID: 2, Title: "Requests", Type: "timeseries"}},
	}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("dashboard\n%+v\nwant\n%+v", d, want)
	}
	if _, err := (&Client{BaseURL: base}).Dashboard(context.Background(), "scenes"); err == nil ||
		!strings.Contains(err.Error(), "set grafana_token") {
		t.Errorf("without a token: %v", err)
	}
	if _, err := c.Dashboard(context.Background(), "nope"); err == nil || !strings.Contains(err.Error(), "(404)") {
		t.Errorf("unknown dashboard: %v", err)
	}
}

// grafanaJSON is a dashboard as Grafana 10 stores it: a collapsed row
// holding panels, an open row, and variables of several types.
const grafanaJSON = `{
  "meta": {"type": "db", "slug": "node-exporter", "url": "/d/node/node-exporter", "folderUid": "f1", "folderTitle": "Servers"},
  "dashboard": {
    "uid": "node", "title": "Node Exporter", "schemaVersion": 39,
    "templating": {"list": [
      {"type": "datasource", "name": "ds", "label": "Data source", "query": "prometheus", "current": {"text": "Prometheus", "value": "P1809F7CD0C75ACF3"}},
      {"type": "query", "name": "instance", "multi": true, "current": {"selected": true, "text": ["a", "b"], "value": ["a:9100", "b:9100"]}},
      {"type": "constant", "name": "c", "hide": 2, "skipUrlSync": true, "query": "x", "current": {"value": 5}},
      {"type": "textbox", "name": "filter"}
    ]},
    "panels": [
      {"id": 1, "type": "row", "title": "Quick", "collapsed": false, "panels": []},
      {"id": 2, "type": "stat", "title": "Uptime", "gridPos": {"h": 4, "w": 4, "x": 0, "y": 1}},
      {"id": 3, "type": "row", "title": "Details", "collapsed": true, "panels": [
        {"id": 4, "type": "timeseries", "title": "CPU"},
        {"id": 5, "type": "timeseries", "title": "Memory", "libraryPanel": {"uid": "lp", "name": "Memory"}}
      ]}
    ],
    "rows": [{"title": "legacy", "panels": [{"id": 6, "type": "graph", "title": "Old"}]}]
  }
}`

func TestParseDashboard(t *testing.T) {
	d, err := parseDashboard([]byte(grafanaJSON))
	if err != nil {
		t.Fatal(err)
	}
	want := Dashboard{UID: "node", Title: "Node Exporter", FolderUID: "f1", FolderTitle: "Servers",
		Variables: []Variable{
			{Name: "ds", Type: "datasource", Label: "Data source", Current: []string{"P1809F7CD0C75ACF3"}},
			{Name: "instance", Type: "query", Current: []string{"a:9100", "b:9100"}},
			{Name: "c", Type: "constant", SkipURLSync: true},
			{Name: "filter", Type: "textbox"},
		},
		Panels: []Panel{{2, "Uptime", "stat"}, {4, "CPU", "timeseries"}, {5, "Memory", "timeseries"}, {6, "Old", "graph"}},
	}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("dashboard\n%+v\nwant\n%+v", d, want)
	}
	if v, ok := d.Variable("instance"); !ok || v.Type != "query" {
		t.Errorf("Variable: %+v %v", v, ok)
	}
	if _, ok := d.Variable("nope"); ok {
		t.Error("found a variable that is not there")
	}
	if p, ok := d.Panel(4); !ok || p.Title != "CPU" {
		t.Errorf("Panel: %+v %v", p, ok)
	}
	if _, ok := d.Panel(3); ok {
		t.Error("a row is no panel")
	}
}

func TestClientErrors(t *testing.T) {
	answers := map[string]func(w http.ResponseWriter){
		"ok":        func(w http.ResponseWriter) { _, _ = w.Write([]byte(grafanaJSON)) },
		"forbidden": func(w http.ResponseWriter) { w.WriteHeader(http.StatusForbidden) },
		"missing":   func(w http.ResponseWriter) { w.WriteHeader(http.StatusNotFound) },
		"v2": func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusNotAcceptable)
			_, _ = w.Write([]byte(`{"message":"dashboard api version not supported, use /apis/dashboard.grafana.app/v2beta1/namespaces/org-3/dashboards/v2 instead"}`))
		},
		"v2gone": func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusNotAcceptable)
			_, _ = w.Write([]byte(`{"message":"dashboard api version not supported, use /apis/dashboard.grafana.app/v2/namespaces/default/dashboards/v2gone instead"}`))
		},
		"v2nopath": func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusNotAcceptable)
			_, _ = w.Write([]byte(`{"message":"dashboard api version not supported"}`))
		},
		"other406": func(w http.ResponseWriter) { w.WriteHeader(http.StatusNotAcceptable) },
		"busy":     func(w http.ResponseWriter) { w.WriteHeader(http.StatusTooManyRequests) },
		"broken":   func(w http.ResponseWriter) { w.WriteHeader(http.StatusBadGateway) },
		"teapot":   func(w http.ResponseWriter) { w.WriteHeader(http.StatusTeapot) },
		"login":    func(w http.ResponseWriter) { _, _ = w.Write([]byte("<html>Sign in</html>")) },
		"nodash":   func(w http.ResponseWriter) { _, _ = w.Write([]byte(`{"meta":{}}`)) },
		"huge": func(w http.ResponseWriter) {
			_, _ = w.Write([]byte(`{"dashboard":{"title":"` + strings.Repeat("x", maxDashboardJSON) + `"}}`))
		},
	}
	var lastAuth atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lastAuth.Store(r.Header.Get("Authorization"))
		uid := strings.TrimPrefix(r.URL.Path, "/grafana/api/dashboards/uid/")
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		// A Grafana 12 whose resource API is hidden: the legacy API's 406
		// names the resource to read.
		switch r.URL.Path {
		case "/grafana/apis/dashboard.grafana.app/":
			w.WriteHeader(http.StatusNotFound)
			return
		case "/grafana/apis/dashboard.grafana.app/v2beta1/namespaces/org-3/dashboards/v2":
			_, _ = w.Write([]byte(v2ResourceJSON))
			return
		case "/grafana/apis/dashboard.grafana.app/v2/namespaces/default/dashboards/v2gone":
			w.WriteHeader(http.StatusNotFound)
			return
		}
		if f := answers[uid]; f != nil {
			f(w)
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(srv.Close)
	c := &Client{BaseURL: srv.URL + "/grafana", Token: secret.New(testToken), HTTP: srv.Client()}
	if d, err := c.Dashboard(context.Background(), "ok"); err != nil || d.UID != "node" {
		t.Fatalf("%+v %v", d, err)
	}
	if got := lastAuth.Load(); got != "Bearer "+testToken {
		t.Errorf("Authorization %q", got)
	}
	if d, err := c.Dashboard(context.Background(), "v2"); err != nil || d.Title != "Node Exporter" || len(d.Panels) != 4 {
		t.Errorf("a v2 dashboard through the 406's resource: %+v %v", d, err)
	}
	cases := []struct {
		uid       string
		token     string
		status    int
		temporary bool
		want      string
	}{
		{"ok", "", 401, false, "Grafana asks for a login to show dashboard ok: set grafana_token"},
		{"ok", "glsa_wrong-token-5678", 401, false, "Grafana refused grafana_token (401)"},
		{"forbidden", testToken, 403, false, "may not view dashboard forbidden (403)"},
		{"missing", testToken, 404, false, "dashboard missing does not exist"},
		{"v2gone", testToken, 404, false, "dashboard v2gone does not exist"},
		{"v2nopath", testToken, 406, false, "stored in Grafana's v2 schema"},
		{"other406", testToken, 406, false, "Grafana answered 406 for dashboard other406: check grafana_url"},
		{"busy", testToken, 429, true, "Grafana answered 429 for dashboard busy: it will be retried"},
		{"broken", testToken, 502, true, "it will be retried"},
		{"teapot", testToken, 418, false, "check grafana_url"},
		{"login", testToken, 200, false, "is not a dashboard"},
		{"nodash", testToken, 200, false, `no "dashboard" object`},
		{"huge", testToken, 200, false, "over 4 MiB"},
		{"a/b", testToken, 0, false, "is not a Grafana dashboard UID"},
	}
	for _, tc := range cases {
		c := &Client{BaseURL: c.BaseURL, Token: secret.New(tc.token), HTTP: c.HTTP}
		_, err := c.Dashboard(context.Background(), tc.uid)
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.Status != tc.status || apiErr.Temporary() != tc.temporary ||
			!strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v (%+v), want %d temporary=%v saying %q", tc.uid, err, apiErr, tc.status, tc.temporary, tc.want)
		}
		if tc.token != "" && strings.Contains(err.Error(), tc.token) {
			t.Errorf("%s: the token is in the error: %v", tc.uid, err)
		}
		if errors.Is(err, ErrV2Dashboard) != (tc.uid == "v2nopath") {
			t.Errorf("%s: ErrV2Dashboard %v", tc.uid, err)
		}
	}

	srv.Close()
	_, err := c.Dashboard(context.Background(), "ok")
	var apiErr *APIError
	if !errors.As(err, &apiErr) || !apiErr.Temporary() || apiErr.Status != 0 || !strings.Contains(err.Error(), "could not reach Grafana") ||
		strings.Contains(err.Error(), testToken) {
		t.Errorf("Grafana down: %v", err)
	}
	if _, err := (&Client{BaseURL: "http://[::1"}).Dashboard(context.Background(), "ok"); err == nil || !strings.Contains(err.Error(), "fix grafana_url") {
		t.Errorf("bad base URL: %v", err)
	}
}

func TestDashboardCache(t *testing.T) {
	var calls atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		uid, found := strings.CutPrefix(r.URL.Path, "/api/dashboards/uid/")
		if !found { // a Grafana before the resource API
			w.WriteHeader(http.StatusNotFound)
			return
		}
		calls.Add(1)
		switch uid {
		case "slow":
			<-release
			_, _ = w.Write([]byte(grafanaJSON))
		case "gone":
			w.WriteHeader(http.StatusNotFound)
		case "flaky":
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			_, _ = w.Write([]byte(grafanaJSON))
		}
	}))
	t.Cleanup(srv.Close)
	cache := NewDashboardCache(&Client{BaseURL: srv.URL, HTTP: srv.Client()}, time.Minute)
	now := time.Now()
	cache.now = func() time.Time { return now }
	ctx := context.Background()

	// An alert storm: 50 concurrent asks for one dashboard make one call.
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			d, err := cache.Dashboard(ctx, "slow")
			if err == nil && d.Title != "Node Exporter" {
				err = errors.New("wrong dashboard " + d.Title)
			}
			errs <- err
		})
	}
	for calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("50 concurrent asks made %d calls", n)
	}
	if _, err := cache.Dashboard(ctx, "slow"); err != nil || calls.Load() != 1 {
		t.Errorf("cached answer: %v, %d calls", err, calls.Load())
	}
	// After the TTL the dashboard is asked for again.
	now = now.Add(time.Minute + time.Second)
	if _, err := cache.Dashboard(ctx, "slow"); err != nil || calls.Load() != 2 {
		t.Errorf("after the TTL: %v, %d calls", err, calls.Load())
	}
	// A lasting failure is kept for the TTL; a temporary one is not.
	for range 3 {
		if _, err := cache.Dashboard(ctx, "gone"); err == nil {
			t.Error("404 answered as a dashboard")
		}
		if _, err := cache.Dashboard(ctx, "flaky"); err == nil {
			t.Error("503 answered as a dashboard")
		}
	}
	if n := calls.Load(); n != 2+1+3 {
		t.Errorf("%d calls, want 6: one for the 404, three for the 503", n)
	}
	// A waiter whose context ends stops waiting.
	block := NewDashboardCache(&Client{BaseURL: srv.URL, HTTP: srv.Client()}, time.Minute)
	block.entries["stuck"] = &cacheEntry{ready: make(chan struct{})}
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	var apiErr *APIError
	if _, err := block.Dashboard(short, "stuck"); !errors.As(err, &apiErr) || !apiErr.Temporary() {
		t.Errorf("waiting past the context: %v", err)
	}
}

func TestDashboardCacheSweeps(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(grafanaJSON))
	}))
	t.Cleanup(srv.Close)
	cache := NewDashboardCache(&Client{BaseURL: srv.URL, HTTP: srv.Client()}, time.Minute)
	now := time.Now()
	cache.now = func() time.Time { return now }
	for i := range maxCacheEntries {
		if _, err := cache.Dashboard(context.Background(), "d"+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(2 * time.Minute)
	if _, err := cache.Dashboard(context.Background(), "fresh"); err != nil {
		t.Fatal(err)
	}
	if n := len(cache.entries); n != 1 {
		t.Errorf("%d entries after the sweep, want 1", n)
	}
}

func TestAlertVars(t *testing.T) {
	d, err := parseDashboard([]byte(grafanaJSON))
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"alertname": "HighCPU", "instance": "web-1:9100", "c": "no", "host": "db-1:9100", "cluster": "eu", "filter": ""}
	cases := []struct {
		name     string
		mapping  map[string]string
		want     map[string][]string
		unmapped []string
	}{
		{"labels by name", nil, map[string][]string{"instance": {"web-1:9100"}}, nil},
		{"mapped", map[string]string{"instance": "host", "ds": "cluster"}, map[string][]string{"instance": {"db-1:9100"}, "ds": {"eu"}}, nil},
		{"mapped to a missing label", map[string]string{"instance": "pod"}, map[string][]string{}, nil},
		{"unknown variables", map[string]string{"zone": "cluster", "env": "cluster"}, map[string][]string{"instance": {"web-1:9100"}}, []string{"env", "zone"}},
		{"constants stay", map[string]string{"c": "cluster"}, map[string][]string{"instance": {"web-1:9100"}}, nil},
	}
	for _, c := range cases {
		vars, unmapped := d.AlertVars(labels, c.mapping)
		if !reflect.DeepEqual(vars, c.want) || !reflect.DeepEqual(unmapped, c.unmapped) {
			t.Errorf("%s: %v %v, want %v %v", c.name, vars, unmapped, c.want, c.unmapped)
		}
	}
}
