package cli

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHealthzURL(t *testing.T) {
	for _, tc := range []struct{ addr, want, err string }{
		{"0.0.0.0:8081", "http://127.0.0.1:8081/healthz", ""},
		{":8081", "http://127.0.0.1:8081/healthz", ""},
		{"[::]:9000", "http://[::1]:9000/healthz", ""},
		{"127.0.0.1:8081", "http://127.0.0.1:8081/healthz", ""},
		{"10.1.2.3:80", "http://10.1.2.3:80/healthz", ""},
		{"panelcast.internal:8081", "http://panelcast.internal:8081/healthz", ""},
		{"8081", "", "host:port"},
	} {
		got, err := healthzURL(tc.addr)
		if got != tc.want || (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("healthzURL(%q) = %q, %v; want %q, error with %q", tc.addr, got, err, tc.want, tc.err)
		}
	}
}

// TestHealthcheckCommand asks a real serve, found from its --addr as the
// image's HEALTHCHECK finds it from PANELCAST_ADDR, then a server that
// answers 503 and a port nothing listens on: only the first exits 0.
func TestHealthcheckCommand(t *testing.T) {
	d := startDemoServe(t)
	addr := strings.TrimPrefix(d.base, "http://")
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"panelcast", "healthcheck"}, []string{"PANELCAST_ADDR=" + addr}, &stdout, &stderr); code != 0 {
		t.Fatalf("healthcheck of a running serve: exit %d\n%s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), `"ok":true`) {
		t.Errorf("healthcheck printed %q, want /healthz's answer", stdout.String())
	}

	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, `{"ok":false,"message":"shutting down"}`, http.StatusServiceUnavailable)
	}))
	defer down.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--url", down.URL + "/healthz"}, "503 Service Unavailable"},
		{[]string{"--addr", closed}, "is panelcast serve running"},
	} {
		stdout.Reset()
		stderr.Reset()
		code := Main(append([]string{"panelcast", "healthcheck"}, tc.args...), nil, &stdout, &stderr)
		if code != 1 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("healthcheck %v: exit %d, stderr %q; want 1 and %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}
