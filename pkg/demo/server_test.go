package demo

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

func start(t *testing.T) (*Server, *http.Client) {
	t.Helper()
	s, err := Start(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	// The certificate is for another name on purpose; this client checks
	// that it is, then trusts it.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return cs.PeerCertificates[0].VerifyHostname(CertificateName)
		},
	}}}
	t.Cleanup(client.CloseIdleConnections)
	return s, client
}

func do(t *testing.T, c *http.Client, method, url, key, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// Pages and APIs need the key, as a bearer token or as cookie renderKey.
func TestKey(t *testing.T) {
	s, c := start(t)
	if code, body := do(t, c, "GET", s.URL+"/api/dashboards/uid/demo", "", ""); code != http.StatusUnauthorized || !strings.Contains(body, "Unauthorized") {
		t.Errorf("without the key: %d %s", code, body)
	}
	if code, _ := do(t, c, "GET", s.URL+"/api/dashboards/uid/demo", "glsa_wrong", ""); code != http.StatusUnauthorized {
		t.Errorf("with a wrong key: %d", code)
	}
	req, _ := http.NewRequest("GET", s.PanelURL(), nil)
	req.AddCookie(&http.Cookie{Name: "renderKey", Value: s.Key})
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(b), `src="public/build/grafana.js"`) {
		t.Errorf("the page with cookie renderKey: %d %s", res.StatusCode, b)
	}
}

// The dashboard API lists the instance variable, and a query with its
// values gets those series alone; All, or none, is every series.
func TestInstanceVariable(t *testing.T) {
	s, c := start(t)
	code, body := do(t, c, "GET", s.URL+"/api/dashboards/uid/demo", s.Key, "")
	var d struct {
		Dashboard struct {
			Panels     []struct{ ID int }
			Templating struct {
				List []struct {
					Name, Type string
					Multi      bool
					Current    struct{ Value []string }
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(body), &d); err != nil || code != http.StatusOK {
		t.Fatalf("dashboard: %d %s (%v)", code, body, err)
	}
	if v := d.Dashboard.Templating.List; len(v) != 1 || v[0].Name != "instance" || !v[0].Multi || len(v[0].Current.Value) != 1 || v[0].Current.Value[0] != "$__all" {
		t.Errorf("templating %+v, want instance with All selected", v)
	}
	if len(d.Dashboard.Panels) != 2 || d.Dashboard.Panels[0].ID != PanelID {
		t.Errorf("panels %+v", d.Dashboard.Panels)
	}
	if code, _ := do(t, c, "GET", s.URL+"/api/dashboards/uid/other", s.Key, ""); code != http.StatusNotFound {
		t.Errorf("another dashboard: %d", code)
	}

	for _, tc := range []struct {
		query string
		want  []string
	}{
		{`{"queries":[{"refId":"A","instance":["web-1"]}],"from":"1704096000000","to":"1704103200000"}`, []string{"web-1"}},
		{`{"queries":[{"refId":"A","instance":["web-2","db-1"]}],"from":"1704096000000","to":"1704103200000"}`, []string{"web-2", "db-1"}},
		{`{"queries":[{"refId":"A","instance":["$__all"]}],"from":"1704096000000","to":"1704103200000"}`, []string{"web-1", "web-2", "db-1"}},
		{`{"queries":[{"refId":"A"}]}`, []string{"web-1", "web-2", "db-1"}},
		{`{"queries":[{"refId":"A","instance":["nowhere"]}]}`, nil},
	} {
		code, body := do(t, c, "POST", s.URL+"/api/ds/query", s.Key, tc.query)
		var a struct {
			Results map[string]struct {
				Frames []struct {
					Schema struct{ Name string }
					Data   struct{ Values [2][]float64 }
				}
			}
		}
		if err := json.Unmarshal([]byte(body), &a); err != nil || code != http.StatusOK {
			t.Fatalf("%s: %d %s (%v)", tc.query, code, body, err)
		}
		var got []string
		for _, f := range a.Results["A"].Frames {
			got = append(got, f.Schema.Name)
			if len(f.Data.Values[0]) == 0 || len(f.Data.Values[0]) != len(f.Data.Values[1]) {
				t.Errorf("%s: frame %s has %d times and %d values", tc.query, f.Schema.Name, len(f.Data.Values[0]), len(f.Data.Values[1]))
			}
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: series %v, want %v", tc.query, got, tc.want)
		}
	}
}

// The frontend and what it loads from public/ are served; nothing else is.
func TestAssets(t *testing.T) {
	s, c := start(t)
	for path, want := range map[string]int{
		"/public/build/grafana.js":                                 http.StatusOK,
		"/public/build/grafana.css":                                http.StatusOK,
		"/public/fonts/inter/Inter-Regular.woff2":                  http.StatusOK,
		"/public/build/img/icons/unicons/exclamation-triangle.svg": http.StatusOK,
		"/public/build/index.html":                                 http.StatusNotFound,
		"/api/panelcast-test/report":                               http.StatusNotFound,
	} {
		if code, _ := do(t, c, "GET", s.URL+path, "", ""); code != want {
			t.Errorf("GET %s: %d, want %d", path, code, want)
		}
	}
}
