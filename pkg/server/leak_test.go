package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/panelcast/panelcast/internal/leaktest"
	"github.com/panelcast/panelcast/internal/testenv"
	"github.com/panelcast/panelcast/pkg/config"
	"github.com/panelcast/panelcast/pkg/delivery"
	"github.com/panelcast/panelcast/pkg/render"
	"github.com/panelcast/panelcast/pkg/secret"
	"github.com/panelcast/panelcast/pkg/service"
)

// No secret reaches the HTTP door's logs, answers, health, metrics or a
// panic's output, for every chat provider, with right and wrong
// credentials (see leaktest).
func TestHTTPDoorShowsNoSecret(t *testing.T) {
	testenv.NeedChromium(t, render.FindChromium)
	leaktest.Run(t, startHTTPDoor)
}

// httpDoor is `panelcast serve` as Grafana 13 and push clients reach it.
type httpDoor struct {
	base string
	svc  *service.Service
	logs *testenv.LogBuffer
}

// panicPath is a route the test adds in front of the door's own: a
// handler that panics while it holds the configuration and a request.
const panicPath = "/panelcast-test/panic"

func startHTTPDoor(t *testing.T, settings map[string]string) leaktest.Door {
	t.Helper()
	cfg := config.Default()
	for k, v := range settings {
		if err := cfg.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	d := &httpDoor{logs: &testenv.LogBuffer{}}
	log := slog.New(LogHandler(slog.NewJSONHandler(d.logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	d.svc = service.New(context.Background(), service.Options{Config: cfg, Log: log,
		Delivery: delivery.WorkerOptions{BaseBackoff: 50 * time.Millisecond, Poll: 100 * time.Millisecond}})
	srv, err := New(d.svc)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.svc.Start(); err != nil {
		t.Logf("chat delivery did not start: %v", err)
	}
	door := srv.handler
	srv.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != panicPath {
			door.ServeHTTP(w, r)
			return
		}
		req, err := d.svc.Request(service.GrafanaRender{URL: r.URL.Query().Get("url"), RenderKey: secret.New(r.Header.Get("X-Test-Render-Key"))})
		panic(struct {
			Config  config.Config
			Request render.Request
			Err     error
		}{d.svc.Config(), req, err})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d.base = "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		<-served
	})
	return d
}

func (d *httpDoor) do(method, path string, body []byte, header http.Header) (int, []byte, error) {
	req, err := http.NewRequest(method, d.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header = header
	rsp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer rsp.Body.Close()
	b, err := io.ReadAll(rsp.Body)
	return rsp.StatusCode, b, err
}

func (d *httpDoor) Call(method, path string, body []byte) (int, []byte) {
	code, b, err := d.do(method, "/"+path, body, http.Header{"Authorization": {"Bearer " + leaktest.APIToken}, "Content-Type": {"application/json"}})
	if err != nil {
		return 0, []byte(err.Error())
	}
	return code, b
}

func (d *httpDoor) Render(page string, width int, key string) string {
	q := url.Values{"url": {page}, "width": {strconv.Itoa(width)}, "height": {"200"}, "renderKey": {key},
		"domain": {"localhost"}, "timeout": {"15"}, "encoding": {"png"}}
	code, b, err := d.do("GET", "/render?"+q.Encode(), nil, http.Header{"X-Auth-Token": {leaktest.AuthToken}})
	switch {
	case err != nil:
		return err.Error()
	case code != http.StatusOK:
		return strconv.Itoa(code) + " " + string(b)
	}
	return ""
}

func (d *httpDoor) Health() []string {
	var out []string
	for _, h := range []http.Header{{}, {"X-Auth-Token": {leaktest.AuthToken}}, {"X-Auth-Token": {"a-wrong-token"}}} {
		for _, path := range []string{"/healthz", "/healthz?probe=1"} {
			code, b, err := d.do("GET", path, nil, h)
			if err != nil {
				b = []byte(err.Error())
			}
			out = append(out, path+" "+strconv.Itoa(code)+" "+string(b))
		}
	}
	return out
}

func (d *httpDoor) Metrics() string {
	_, b, err := d.do("GET", "/metrics", nil, http.Header{})
	if err != nil {
		return err.Error()
	}
	return string(b)
}

func (d *httpDoor) Panic(key string) string {
	before := len(d.logs.String())
	// The key goes in a header: the client's own error quotes the URL.
	q := url.Values{"url": {"https://grafana.invalid/d/x"}}
	_, b, err := d.do("GET", panicPath+"?"+q.Encode(), nil, http.Header{"X-Test-Render-Key": {key}})
	answer := string(b)
	if err != nil {
		answer = err.Error()
	}
	// net/http logs the panic once the connection is gone.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(d.logs.String()[before:], "panic") {
			break
		}
	}
	return answer + "\n" + d.logs.String()[before:]
}

func (d *httpDoor) Logs() string { return d.logs.String() }
