package grafanatest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/panelcast/panelcast/pkg/demo"
)

func start(t *testing.T, opts Options) *Server {
	t.Helper()
	s, err := Start(opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// client never follows redirects, so tests see them, and trusts any
// certificate, so tests reach the TLS server.
func client() *http.Client {
	return &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
	}
}

type response struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, s *Server, method, path, key string, body io.Reader, header http.Header) response {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, body)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if key != "" {
		req.AddCookie(&http.Cookie{Name: "renderKey", Value: key})
	}
	res, err := client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return response{res.StatusCode, res.Header, string(b)}
}

func TestPagesNeedRenderKey(t *testing.T) {
	s := start(t, Options{RenderKey: "secret"})
	if s.RenderKey != "secret" {
		t.Fatalf("RenderKey = %q", s.RenderKey)
	}
	for _, key := range []string{"", "wrong"} {
		r := do(t, s, "GET", "/d-solo/scenes/panel?panelId=2&render=1", key, nil, nil)
		if r.status != http.StatusFound || r.header.Get("Location") != "/login" {
			t.Errorf("key %q: got %d to %q, want 302 to /login", key, r.status, r.header.Get("Location"))
		}
		if r := do(t, s, "POST", "/api/ds/query?scenario=scenes", key, nil, nil); r.status != http.StatusUnauthorized {
			t.Errorf("key %q: API answered %d, want 401", key, r.status)
		}
	}

	login := do(t, s, "GET", "/login", "", nil, nil)
	if login.status != http.StatusOK || !strings.Contains(login.body, "Log in") || !strings.Contains(login.body, demo.Hex(LoginColor)) {
		t.Errorf("login page: %d %q", login.status, login.body)
	}
	for _, asset := range []string{"/public/build/app.js?boot=0", "/public/build/app.css"} {
		if r := do(t, s, "GET", asset, "", nil, nil); r.status != http.StatusOK {
			t.Errorf("%s without key: %d", asset, r.status)
		}
	}

	page := do(t, s, "GET", "/d-solo/scenes/panel?panelId=2&render=1&boot=50", "secret", nil, nil)
	if page.status != http.StatusOK || !strings.Contains(page.body, `public/build/app.js?boot=50`) ||
		!strings.Contains(page.body, `public/build/app.css`) {
		t.Errorf("page with key: %d %q", page.status, page.body)
	}
	if strings.Contains(page.body, "__grafanaRenderBindingSupported") {
		t.Error("scenes page advertises the render binding")
	}
	binding := do(t, s, "GET", "/d-solo/binding/panel", "secret", nil, nil)
	if !strings.Contains(binding.body, "window.__grafanaRenderBindingSupported = true") {
		t.Errorf("binding page does not advertise the render binding: %q", binding.body)
	}
}

func TestNoAuth(t *testing.T) {
	s := start(t, Options{NoAuth: true})
	if r := do(t, s, "GET", "/d/tall/dash", "", nil, nil); r.status != http.StatusOK {
		t.Errorf("page without key under NoAuth: %d", r.status)
	}
	if r := do(t, s, "GET", "/api/dashboards/uid/scenes", "", nil, nil); r.status != http.StatusOK {
		t.Errorf("API without key under NoAuth: %d", r.status)
	}
}

func TestServiceAccountToken(t *testing.T) {
	s := start(t, Options{ServiceAccountToken: "glsa_test"})
	bearer := func(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }
	if r := do(t, s, "GET", "/d-solo/scenes/panel?panelId=2", "", nil, bearer("glsa_test")); r.status != http.StatusOK {
		t.Errorf("page with the token: %d", r.status)
	}
	if r := do(t, s, "GET", "/api/dashboards/uid/scenes", "", nil, bearer("glsa_test")); r.status != http.StatusOK {
		t.Errorf("API with the token: %d", r.status)
	}
	// A wrong token is refused even next to a valid render key, as Grafana
	// refuses a request whose Authorization header fails.
	if r := do(t, s, "GET", "/api/dashboards/uid/scenes", s.RenderKey, nil, bearer("wrong")); r.status != http.StatusUnauthorized {
		t.Errorf("API with a wrong token: %d", r.status)
	}
	if r := do(t, s, "GET", "/d-solo/scenes/panel", "", nil, bearer("wrong")); r.status != http.StatusFound {
		t.Errorf("page with a wrong token: %d, want the login redirect", r.status)
	}
	if r := do(t, s, "GET", "/d-solo/scenes/panel", s.RenderKey, nil, nil); r.status != http.StatusOK {
		t.Errorf("the render key still works: %d", r.status)
	}
	var seen int
	for _, v := range s.Visits() {
		if v.Header.Get("Authorization") == "Bearer glsa_test" {
			seen++
		}
	}
	if seen != 2 {
		t.Errorf("visits recorded the token %d times, want 2", seen)
	}
	// Without the option a bearer token opens nothing.
	plain := start(t, Options{})
	if r := do(t, plain, "GET", "/api/dashboards/uid/scenes", "", nil, bearer("")); r.status != http.StatusUnauthorized {
		t.Errorf("empty token without ServiceAccountToken: %d", r.status)
	}
}

func TestRandomRenderKey(t *testing.T) {
	a, b := start(t, Options{}), start(t, Options{})
	if len(a.RenderKey) < 32 || a.RenderKey == b.RenderKey {
		t.Errorf("render keys %q and %q", a.RenderKey, b.RenderKey)
	}
}

func TestBundleDelay(t *testing.T) {
	s := start(t, Options{})
	for _, c := range []struct {
		query string
		want  time.Duration
	}{{"", 300 * time.Millisecond}, {"?boot=100", 100 * time.Millisecond}} {
		begin := time.Now()
		r := do(t, s, "GET", "/public/build/app.js"+c.query, "", nil, nil)
		took := time.Since(begin)
		if r.status != http.StatusOK || !strings.Contains(r.body, "__grafanaRunningQueryCount") {
			t.Errorf("app.js%s: %d", c.query, r.status)
		}
		if took < c.want || took > c.want+time.Second {
			t.Errorf("app.js%s took %v, want about %v", c.query, took, c.want)
		}
	}
}

func TestReportsAndVisits(t *testing.T) {
	s := start(t, Options{})
	sent := Report{Scenario: "scenes", TimeZone: "Europe/Berlin", LocalTime: "2024-01-01T13:00:00+01:00",
		Language: "de-DE", UserAgent: "test", Width: 800, Height: 400, DPR: 2, Binding: true}
	b, err := json.Marshal(sent)
	if err != nil {
		t.Fatal(err)
	}
	r := do(t, s, "POST", "/api/panelcast-test/report", s.RenderKey, strings.NewReader(string(b)),
		http.Header{"Accept-Language": {"de-DE,de;q=0.9"}, "Content-Type": {"application/json"}})
	if r.status != http.StatusNoContent {
		t.Fatalf("report: %d %s", r.status, r.body)
	}
	reports := s.Reports()
	if len(reports) != 1 {
		t.Fatalf("got %d reports", len(reports))
	}
	got := reports[0]
	if got.At.IsZero() {
		t.Error("report has no time")
	}
	got.At = time.Time{}
	if got != sent {
		t.Errorf("report = %+v, want %+v", got, sent)
	}

	visits := s.Visits()
	if len(visits) != 1 {
		t.Fatalf("got %d visits", len(visits))
	}
	v := visits[0]
	if v.Method != "POST" || v.Path != "/api/panelcast-test/report" || v.Cookies["renderKey"] != s.RenderKey ||
		v.Header.Get("Accept-Language") != "de-DE,de;q=0.9" || v.At.IsZero() {
		t.Errorf("visit = %+v", v)
	}

	if r := do(t, s, "POST", "/api/panelcast-test/report", s.RenderKey, strings.NewReader("{"), nil); r.status != http.StatusBadRequest {
		t.Errorf("bad report answered %d", r.status)
	}
}

func TestQueryEndpoint(t *testing.T) {
	s := start(t, Options{})
	begin := time.Now()
	r := do(t, s, "POST", "/api/ds/query?scenario=scenes&ms=200", s.RenderKey, strings.NewReader(`{"queries":[]}`), nil)
	if took := time.Since(begin); took < 200*time.Millisecond || took > 1200*time.Millisecond {
		t.Errorf("query took %v, want about 200ms", took)
	}
	if r.status != http.StatusOK || !strings.Contains(r.body, `"frames"`) {
		t.Errorf("query: %d %s", r.status, r.body)
	}

	r = do(t, s, "POST", "/api/ds/query?scenario=failing&ms=0", s.RenderKey, nil, nil)
	var body struct{ Message string }
	if err := json.Unmarshal([]byte(r.body), &body); err != nil || r.status != http.StatusInternalServerError || body.Message != QueryError {
		t.Errorf("failing query: %d %s (%v)", r.status, r.body, err)
	}
}

func TestNeverQueryReleasedOnClose(t *testing.T) {
	s, err := Start(Options{TLS: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	answered := make(chan error, 1)
	go func() {
		req, err := http.NewRequest("POST", s.URL+"/api/ds/query?scenario=never&ms=0", nil)
		if err != nil {
			answered <- err
			return
		}
		req.AddCookie(&http.Cookie{Name: "renderKey", Value: s.RenderKey})
		res, err := client().Do(req)
		if err == nil {
			_, err = io.ReadAll(res.Body)
			res.Body.Close()
		}
		answered <- err
	}()
	waitForVisit(t, s, "/api/ds/query")
	select {
	case err := <-answered:
		t.Fatalf("never query answered: %v", err)
	case <-time.After(300 * time.Millisecond):
	}

	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(3 * time.Second):
		t.Fatal("Close hangs on a never-answering query")
	}
	select {
	case <-answered:
	case <-time.After(3 * time.Second):
		t.Fatal("client still waiting after Close")
	}
}

func TestNeverQueryEndsWithClient(t *testing.T) {
	s := start(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		req, err := http.NewRequestWithContext(ctx, "POST", s.URL+"/api/ds/query?scenario=never", nil)
		if err != nil {
			done <- err
			return
		}
		req.AddCookie(&http.Cookie{Name: "renderKey", Value: s.RenderKey})
		_, err = client().Do(req)
		done <- err
	}()
	waitForVisit(t, s, "/api/ds/query")
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled request ended with %v", err)
	}
	// The handler has let go: Close returns at once.
	begin := time.Now()
	s.Close()
	if took := time.Since(begin); took > time.Second {
		t.Errorf("Close took %v", took)
	}
}

func waitForVisit(t *testing.T, s *Server, path string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, v := range s.Visits() {
			if v.Path == path {
				return
			}
		}
	}
	t.Fatalf("no visit to %s", path)
}

func TestCertificateIsForAnotherName(t *testing.T) {
	s := start(t, Options{TLS: true})
	if !strings.HasPrefix(s.URL, "https://localhost:") {
		t.Errorf("URL = %q", s.URL)
	}
	cert := s.Certificate()
	if cert == nil {
		t.Fatal("no certificate")
	}
	if len(cert.DNSNames) != 1 || cert.DNSNames[0] != CertificateName || len(cert.IPAddresses) != 0 {
		t.Errorf("certificate names %v %v", cert.DNSNames, cert.IPAddresses)
	}
	for _, host := range []string{"localhost", "127.0.0.1"} {
		if err := cert.VerifyHostname(host); err == nil {
			t.Errorf("certificate is valid for %s", host)
		}
	}

	// Even a client that trusts the certificate refuses it as localhost,
	// and the leaf served is the one Certificate returns.
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	if _, err := tls.Dial("tcp", u.Host, &tls.Config{RootCAs: roots}); err == nil {
		t.Error("TLS to localhost verified")
	}
	conn, err := tls.Dial("tcp", u.Host, &tls.Config{RootCAs: roots, ServerName: CertificateName})
	if err != nil {
		t.Fatalf("TLS as %s: %v", CertificateName, err)
	}
	defer conn.Close()
	if !conn.ConnectionState().PeerCertificates[0].Equal(cert) {
		t.Error("served leaf differs from Certificate()")
	}

	other := start(t, Options{TLS: true})
	if string(other.Certificate().RawSubjectPublicKeyInfo) == string(cert.RawSubjectPublicKeyInfo) {
		t.Error("two servers share a key")
	}
	if plain := start(t, Options{}); plain.Certificate() != nil || !strings.HasPrefix(plain.URL, "http://localhost:") {
		t.Errorf("plain server: %q %v", plain.URL, plain.Certificate())
	}
}

func TestURLs(t *testing.T) {
	s := start(t, Options{})
	check := func(raw, path string, want url.Values) {
		t.Helper()
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if u.Scheme+"://"+u.Host != s.URL || u.Path != path {
			t.Errorf("%s: wrong base or path", raw)
		}
		for k := range want {
			if u.Query().Get(k) != want.Get(k) {
				t.Errorf("%s: %s = %q, want %q", raw, k, u.Query().Get(k), want.Get(k))
			}
		}
	}
	check(s.PanelURL("slow", url.Values{"query": {"50"}, "panelId": {"3"}}), "/d-solo/slow/panel",
		url.Values{"orgId": {"1"}, "panelId": {"3"}, "render": {"1"}, "query": {"50"}})
	check(s.PanelURL("scenes", nil), "/d-solo/scenes/panel", url.Values{"panelId": {"2"}, "render": {"1"}})
	check(s.DashboardURL("tall", nil), "/d/tall/dash", url.Values{"orgId": {"1"}, "render": {"1"}, "panelId": {""}})
}

func TestDashboards(t *testing.T) {
	s := start(t, Options{})
	for _, uid := range []string{ScenarioScenes, ScenarioSlow, ScenarioFailing, ScenarioNever, ScenarioBinding,
		ScenarioLegacy, ScenarioStatic, ScenarioTall, ScenarioCSV, ScenarioDemo, ScenarioDemoFailing} {
		r := do(t, s, "GET", "/api/panelcast-test/dashboards/"+uid, s.RenderKey, nil, nil)
		var body struct {
			Dashboard struct{ Panels []panelModel }
			Meta      struct{ Panelcast scenarioModel }
		}
		if err := json.Unmarshal([]byte(r.body), &body); err != nil || r.status != http.StatusOK {
			t.Errorf("%s: %d %s (%v)", uid, r.status, r.body, err)
			continue
		}
		height := 0
		hasSolo := false
		for _, p := range body.Dashboard.Panels {
			height += p.Height
			hasSolo = hasSolo || p.ID == soloPanelID
		}
		if !hasSolo {
			t.Errorf("%s: PanelURL's panel %d missing", uid, soloPanelID)
		}
		if uid == ScenarioTall && height != TallHeight {
			t.Errorf("tall dashboard is %d px, want %d", height, TallHeight)
		}
		if (uid == ScenarioSlow) != (body.Meta.Panelcast.QueryMs == slowQueryMs) {
			t.Errorf("%s: query takes %d ms", uid, body.Meta.Panelcast.QueryMs)
		}
	}
	if r := do(t, s, "GET", "/api/panelcast-test/dashboards/nope", s.RenderKey, nil, nil); r.status != http.StatusNotFound {
		t.Errorf("unknown dashboard: %d", r.status)
	}
}

// Each generation serves the dashboard APIs of its Grafana: the legacy API
// (406 naming the resource for a schema v2 dashboard), the resource API's
// group, and reads in classic and v2 versions.
func TestGenerations(t *testing.T) {
	const resource = "/apis/dashboard.grafana.app/%s/namespaces/default/dashboards/scenes"
	type answer struct {
		status int
		has    string
	}
	cases := []struct {
		gen                                 Generation
		legacy, group, v1beta1, v2, v2beta1 answer
	}{
		{Grafana9, answer{200, `"templating"`}, answer{404, ""}, answer{404, ""}, answer{404, ""}, answer{404, ""}},
		{Grafana12, answer{200, `"templating"`}, answer{200, `"version":"v2beta1"`},
			answer{200, `"panels":[{"id":2`}, answer{404, ""}, answer{200, `"panel-2":{"kind":"Panel"`}},
		{Grafana13, answer{406, "use /apis/dashboard.grafana.app/v2beta1/namespaces/default/dashboards/scenes instead"},
			answer{200, `"version":"v2"`}, answer{200, `"failed":true,"storedVersion":"v2beta1"`},
			answer{200, `"kind":"QueryVariable","spec":{"current"`}, answer{200, `"group":"timeseries"`}},
	}
	for _, c := range cases {
		t.Run(c.gen.String(), func(t *testing.T) {
			s := start(t, Options{Generation: c.gen, Faults: map[string]APIFault{
				ScenarioSlow: FaultServerError, ScenarioFailing: FaultGarbage, ScenarioLegacy: FaultNotAcceptable}})
			for path, want := range map[string]answer{
				"/api/dashboards/uid/scenes":     c.legacy,
				"/apis/dashboard.grafana.app/":   c.group,
				fmt.Sprintf(resource, "v1beta1"): c.v1beta1,
				fmt.Sprintf(resource, "v2"):      c.v2,
				fmt.Sprintf(resource, "v2beta1"): c.v2beta1,
			} {
				r := do(t, s, "GET", path, s.RenderKey, nil, nil)
				if r.status != want.status || !strings.Contains(r.body, want.has) {
					t.Errorf("%s: %d %s\nwant %d with %s", path, r.status, r.body, want.status, want.has)
				}
			}
			for uid, want := range map[string]answer{ScenarioSlow: {500, "internal server error"}, ScenarioFailing: {200, "<html>"},
				ScenarioLegacy: {406, `"dashboard api version not supported"}`}} {
				if r := do(t, s, "GET", "/api/dashboards/uid/"+uid, s.RenderKey, nil, nil); r.status != want.status || !strings.Contains(r.body, want.has) {
					t.Errorf("%s: %d %s", uid, r.status, r.body)
				}
				if r := do(t, s, "GET", "/api/panelcast-test/dashboards/"+uid, s.RenderKey, nil, nil); r.status != 200 {
					t.Errorf("the page of %s cannot read its model: %d", uid, r.status)
				}
			}
			r := do(t, s, "GET", "/api/frontend/settings", s.RenderKey, nil, nil)
			if strings.Contains(r.body, `"namespace":"default"`) != (c.gen != Grafana9) {
				t.Errorf("frontend settings: %s", r.body)
			}
		})
	}
}

func TestCSVDownload(t *testing.T) {
	s := start(t, Options{})
	r := do(t, s, "GET", "/api/panelcast-test/data.csv", s.RenderKey, nil, nil)
	if r.status != http.StatusOK || r.body != CSVData ||
		r.header.Get("Content-Disposition") != `attachment; filename="panel-data.csv"` {
		t.Errorf("data.csv: %d %v %q", r.status, r.header, r.body)
	}
}

func TestShellLoadsTheScenarioBundle(t *testing.T) {
	s := start(t, Options{})
	for uid, bundle := range map[string]string{ScenarioScenes: "app", ScenarioTall: "app", ScenarioDemo: "grafana", ScenarioDemoFailing: "grafana"} {
		page := do(t, s, "GET", "/d-solo/"+uid+"/panel?boot=0", s.RenderKey, nil, nil)
		if !strings.Contains(page.body, "public/build/"+bundle+".js?boot=0") || !strings.Contains(page.body, "public/build/"+bundle+".css") {
			t.Errorf("%s page does not load %s.js and %s.css: %s", uid, bundle, bundle, page.body)
		}
		if preload := strings.Contains(page.body, `<link rel="preload" href="public/fonts/inter/Inter-Regular.woff2" as="font" crossorigin>`); preload != (bundle == "grafana") {
			t.Errorf("%s page preloads Inter: %v", uid, preload)
		}
		// Grafana's frontend reads the user's theme at start-up.
		if !strings.Contains(page.body, `"theme":"dark"`) {
			t.Errorf("%s page has no user theme in its boot data", uid)
		}
	}
	for path, typ := range map[string]string{
		"/public/build/grafana.js?boot=0":                          "text/javascript",
		"/public/build/grafana.css":                                "text/css",
		"/public/fonts/inter/Inter-Regular.woff2":                  "font/woff2",
		"/public/fonts/inter/Inter-Medium.woff2":                   "font/woff2",
		"/public/build/img/icons/unicons/exclamation-triangle.svg": "image/svg+xml",
	} {
		r := do(t, s, "GET", path, "", nil, nil)
		if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), typ) || len(r.body) == 0 {
			t.Errorf("%s: %d %q, %d bytes", path, r.status, r.header.Get("Content-Type"), len(r.body))
		}
	}
	if r := do(t, s, "GET", "/public/build/img/icons/unicons/nope.svg", "", nil, nil); r.status != http.StatusNotFound {
		t.Errorf("missing icon: %d", r.status)
	}
}

// Grafana's frontend says in the query, not the URL, which answer it
// wants: the demo's frames over the asked range, after queryMs.
func TestDemoQuery(t *testing.T) {
	s := start(t, Options{})
	from, to := ReportInstant.Add(-2*time.Hour), ReportInstant
	body := fmt.Sprintf(`{"queries":[{"refId":"A","scenario":"demo","queryMs":200}],"from":"%d","to":"%d"}`, from.UnixMilli(), to.UnixMilli())
	begin := time.Now()
	r := do(t, s, "POST", "/api/ds/query?ds_type=grafana-testdata-datasource", s.RenderKey, strings.NewReader(body), nil)
	if took := time.Since(begin); took < 200*time.Millisecond || took > 1200*time.Millisecond {
		t.Errorf("query took %v, want about 200ms", took)
	}
	var answer struct {
		Results map[string]struct {
			Frames []struct {
				Schema struct {
					Name   string
					Fields []struct{ Name, Type string }
				}
				Data struct{ Values [2][]float64 }
			}
		}
	}
	if err := json.Unmarshal([]byte(r.body), &answer); err != nil || r.status != http.StatusOK {
		t.Fatalf("demo query: %d %s (%v)", r.status, r.body, err)
	}
	frames := answer.Results["A"].Frames
	if len(frames) != len(Demo) {
		t.Fatalf("%d frames, want one per series (%d)", len(frames), len(Demo))
	}
	points := int(to.Sub(from)/DemoStep) + 1
	for i, f := range frames {
		s := Demo[i]
		times, values := f.Data.Values[0], f.Data.Values[1]
		if f.Schema.Name != s.Name || len(f.Schema.Fields) != 2 || f.Schema.Fields[0].Type != "time" || len(times) != points || len(values) != points {
			t.Errorf("frame %d: %s with %d fields, %d times, %d values; want %s with %d points", i, f.Schema.Name, len(f.Schema.Fields), len(times), len(values), s.Name, points)
			continue
		}
		if int64(times[0]) != from.UnixMilli() || int64(times[points-1]) != to.UnixMilli() {
			t.Errorf("%s spans %v..%v", s.Name, times[0], times[points-1])
		}
		for j, v := range values {
			if want := s.Value(time.UnixMilli(int64(times[j]))); v != want || v < s.Low || v > s.High {
				t.Errorf("%s at %v = %v, want %v within [%v, %v]", s.Name, times[j], v, want, s.Low, s.High)
				break
			}
		}
	}

	if r := do(t, s, "POST", "/api/ds/query", s.RenderKey, strings.NewReader(`{"queries":[{"refId":"A","scenario":"demo-failing","queryMs":0}]}`), nil); r.status != http.StatusInternalServerError {
		t.Errorf("demo-failing query: %d %s", r.status, r.body)
	}
}

// The stand-in answers Grafana's permission APIs as Grafana 9–12 do: a
// dashboard's permissions are its folder's (General's defaults when it is
// in none), team members by login, both only for an Admin service account;
// a service account whose role the folder does not admit gets 403 for the
// dashboard.
func TestAccess(t *testing.T) {
	access := Access{
		Folders: []Folder{{UID: "fin", Title: "Finance", Dashboards: []string{ScenarioSlow},
			Permissions: []Permission{{Role: "Admin", Level: Admin}, {UserLogin: "kim", Level: View}, {TeamID: 7, Level: Edit}}}},
		Teams: []Team{{ID: 7, Name: "Money", Members: []string{"ann", "bob"}}},
	}
	admin := start(t, Options{ServiceAccountToken: "glsa_admin", Access: access})
	bearer := http.Header{"Authorization": {"Bearer glsa_admin"}}
	type entry struct {
		Role, UserLogin, Team string
		TeamID                int64
		Permission            int
		Inherited             bool
	}
	perms := func(s *Server, uid string, h http.Header) (int, []entry) {
		r := do(t, s, "GET", "/api/dashboards/uid/"+uid+"/permissions", "", nil, h)
		var out []entry
		if r.status == http.StatusOK {
			if err := json.Unmarshal([]byte(r.body), &out); err != nil {
				t.Fatal(err)
			}
		}
		return r.status, out
	}
	if code, got := perms(admin, ScenarioScenes, bearer); code != 200 || len(got) != 2 || got[0] != (entry{Role: "Viewer", Permission: 1}) || got[1] != (entry{Role: "Editor", Permission: 2}) {
		t.Errorf("General dashboard: %d %+v", code, got)
	}
	code, got := perms(admin, ScenarioSlow, bearer)
	if code != 200 || len(got) != 3 || got[1] != (entry{UserLogin: "kim", Permission: 1, Inherited: true}) || got[2] != (entry{Team: "Money", TeamID: 7, Permission: 2, Inherited: true}) {
		t.Errorf("Finance dashboard: %d %+v", code, got)
	}
	if r := do(t, admin, "GET", "/api/dashboards/uid/"+ScenarioSlow, "", nil, bearer); r.status != 200 || !strings.Contains(r.body, `"folderTitle":"Finance"`) || !strings.Contains(r.body, `"folderUid":"fin"`) {
		t.Errorf("dashboard meta: %d %s", r.status, r.body)
	}
	if r := do(t, admin, "GET", "/api/teams/7/members", "", nil, bearer); r.status != 200 || !strings.Contains(r.body, `"login":"ann"`) || !strings.Contains(r.body, `"login":"bob"`) {
		t.Errorf("team members: %d %s", r.status, r.body)
	}
	if r := do(t, admin, "GET", "/api/teams/8/members", "", nil, bearer); r.status != 404 {
		t.Errorf("unknown team: %d", r.status)
	}
	if r := do(t, admin, "GET", "/api/org", "", nil, bearer); r.status != 200 || !strings.Contains(r.body, `"id":1`) {
		t.Errorf("org: %d %s", r.status, r.body)
	}

	access.ServiceAccountRole = "Viewer"
	viewer := start(t, Options{ServiceAccountToken: "glsa_admin", Access: access})
	if code, _ := perms(viewer, ScenarioScenes, bearer); code != 403 {
		t.Errorf("a Viewer service account read permissions: %d", code)
	}
	if r := do(t, viewer, "GET", "/api/teams/7/members", "", nil, bearer); r.status != 403 || !strings.Contains(r.body, "teams:read") {
		t.Errorf("a Viewer service account read team members: %d %s", r.status, r.body)
	}
	if r := do(t, viewer, "GET", "/api/dashboards/uid/"+ScenarioSlow, "", nil, bearer); r.status != 403 {
		t.Errorf("a Viewer service account saw the Finance dashboard: %d", r.status)
	}
	if r := do(t, viewer, "GET", "/api/dashboards/uid/"+ScenarioScenes, "", nil, bearer); r.status != 200 {
		t.Errorf("a Viewer service account may see General's dashboards: %d", r.status)
	}
}
