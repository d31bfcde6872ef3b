package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/panelcast/panelcast/internal/grafanatest"
	"github.com/panelcast/panelcast/internal/testenv"
	"github.com/panelcast/panelcast/pkg/config"
	"github.com/panelcast/panelcast/pkg/delivery"
	"github.com/panelcast/panelcast/pkg/render"
	"github.com/panelcast/panelcast/pkg/secret"
	"github.com/panelcast/panelcast/pkg/service"
)

const testToken = "test-renderer-token-0123456789"

// fixture is a stand-in Grafana (https, certificate for another name), a
// service on it and the HTTP door in front.
type fixture struct {
	g   *grafanatest.Server
	svc *service.Service
	srv *Server
	ts  *httptest.Server
	log *testenv.LogBuffer
}

func newFixture(t testing.TB, change func(*config.Config)) *fixture {
	t.Helper()
	return newDeliveringFixture(t, change, nil)
}

// newDeliveringFixture is newFixture with chat delivery started with
// worker's options, when worker is not nil.
func newDeliveringFixture(t testing.TB, change func(*config.Config), worker *delivery.WorkerOptions) *fixture {
	t.Helper()
	f, err := startFixture(change, worker)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.close)
	return f
}

func startFixture(change func(*config.Config), worker *delivery.WorkerOptions) (*fixture, error) {
	// The stand-in also accepts a service-account token, as Grafana does,
	// for pushes; renders use the render key.
	g, err := grafanatest.Start(grafanatest.Options{TLS: true, ServiceAccountToken: testGrafanaToken})
	if err != nil {
		return nil, err
	}
	cfg := config.Default()
	cfg.GrafanaURL = g.URL
	cfg.AuthTokens = secret.List("another-token-for-rotation", testToken)
	cfg.Concurrency, cfg.QueueLength = 2, 8
	cfg.MaxTimeout = time.Minute
	cfg.ShutdownTimeout = 20 * time.Second
	if change != nil {
		change(&cfg)
	}
	f := &fixture{g: g, log: &testenv.LogBuffer{}}
	level := slog.LevelInfo
	if testing.Verbose() {
		level = slog.LevelDebug
	}
	var out io.Writer = f.log
	if testing.Verbose() {
		out = io.MultiWriter(f.log, os.Stderr)
	}
	log := slog.New(LogHandler(slog.NewJSONHandler(out, &slog.HandlerOptions{Level: level})))
	opts := service.Options{Config: cfg, Log: log}
	if worker != nil {
		opts.Delivery = *worker
	}
	f.svc = service.New(context.Background(), opts)
	if f.srv, err = New(f.svc); err != nil {
		f.close()
		return nil, err
	}
	if worker != nil {
		if err := f.svc.Start(); err != nil {
			f.close()
			return nil, err
		}
	}
	f.ts = httptest.NewServer(f.srv)
	return f, nil
}

func (f *fixture) close() {
	if f.ts != nil {
		f.ts.Close()
	}
	if f.svc != nil {
		_ = f.svc.Shutdown(context.Background(), nil)
	}
	f.g.Close()
}

var (
	sharedOnce sync.Once
	sharedFix  *fixture
	sharedErr  error
)

// shared is one fixture for the tests that need no special configuration:
// a browser start per test would dominate the run on a small machine.
func shared(t testing.TB) *fixture {
	t.Helper()
	sharedOnce.Do(func() { sharedFix, sharedErr = startFixture(nil, nil) })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return sharedFix
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedFix != nil {
		sharedFix.close()
	}
	os.Exit(code)
}

// query is what Grafana 13 sends for a solo panel of the scenario.
func (f *fixture) query(scenario string, w, h int, scale float64) url.Values {
	return url.Values{
		"url":               {f.g.PanelURL(scenario, url.Values{"orgId": {"1"}, "panelId": {"2"}})},
		"width":             {fmt.Sprint(w)},
		"height":            {fmt.Sprint(h)},
		"deviceScaleFactor": {fmt.Sprintf("%f", scale)},
		"timeout":           {"15"},
		"timezone":          {"Europe/Berlin"},
		"renderKey":         {f.g.RenderKey},
		"domain":            {"localhost"},
		"encoding":          {"png"},
	}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) String() string {
	if len(r.body) > 300 || bytes.ContainsRune(r.body, 0) {
		return fmt.Sprintf("%d (%d bytes, %s)", r.status, len(r.body), r.header.Get("Content-Type"))
	}
	return fmt.Sprintf("%d %q", r.status, r.body)
}

func get(t testing.TB, base, path string, q url.Values, header http.Header) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path+"?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{res.StatusCode, res.Header, body}
}

func authorized() http.Header { return http.Header{"X-Auth-Token": {testToken}} }

func decodePNG(t testing.TB, b []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	return img
}

// wantColor checks the pixel at fractions of the picture's size.
func wantColor(t testing.TB, img image.Image, fx, fy float64, want color.RGBA, what string) {
	t.Helper()
	b := img.Bounds()
	r, g, bl, _ := img.At(b.Min.X+int(fx*float64(b.Dx()-1)), b.Min.Y+int(fy*float64(b.Dy()-1))).RGBA()
	got := color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), 255}
	d := func(x, y uint8) bool { return x-y <= 6 || y-x <= 6 }
	if !d(got.R, want.R) || !d(got.G, want.G) || !d(got.B, want.B) {
		t.Errorf("%s: pixel at (%.2f, %.2f) is %v, want %v", what, fx, fy, got, want)
	}
}

func TestRenderPNGOverHTTPSWithMismatchedCertificate(t *testing.T) {
	testenv.NeedChromium(t, render.FindChromium)
	f := shared(t)
	h := authorized()
	h.Set("Accept-Language", "de-DE")
	h.Set("X-Request-Id", "grafana-req-42")
	before := len(f.g.Visits())
	res := get(t, f.ts.URL, "/render", f.query(grafanatest.ScenarioScenes, 500, 250, 2), h)
	if res.status != http.StatusOK {
		t.Fatalf("status %s", res)
	}
	if ct := res.header.Get("Content-Type"); ct != "image/png" {
		t.Errorf("Content-Type %q", ct)
	}
	if id := res.header.Get("X-Request-Id"); id != "grafana-req-42" {
		t.Errorf("X-Request-Id %q, want the caller's", id)
	}
	img := decodePNG(t, res.body)
	if b := img.Bounds(); b.Dx() != 1000 || b.Dy() != 500 {
		t.Errorf("picture is %dx%d, want 1000x500 (500x250 at scale 2)", b.Dx(), b.Dy())
	}
	wantColor(t, img, 0.5, 0.75, grafanatest.SeriesColor, "panel body")
	wantColor(t, img, 0.9, 0.25, grafanatest.Background, "background")
	for _, v := range f.g.Visits()[before:] {
		if strings.HasPrefix(v.Path, "/d-solo/") {
			if got := v.Header.Get("Accept-Language"); got != "de-DE" {
				t.Errorf("page request carried Accept-Language %q, want de-DE", got)
			}
			if v.Cookies["renderKey"] != f.g.RenderKey {
				t.Error("page request did not carry the renderKey cookie")
			}
		}
	}
	reps := f.g.Reports()
	if rep := reps[len(reps)-1]; rep.TimeZone != "Europe/Berlin" {
		t.Errorf("page saw time zone %q, want Europe/Berlin", rep.TimeZone)
	}
}

func TestRenderPDF(t *testing.T) {
	testenv.NeedChromium(t, render.FindChromium)
	f := shared(t)
	q := f.query(grafanatest.ScenarioScenes, 0, 0, 1)
	q.Del("width") // Grafana sends no size for PDF
	q.Del("height")
	q.Set("encoding", "pdf")
	q.Set("pdf.format", "a4")
	q.Set("pdf.landscape", "true")
	q.Set("pdf.printBackground", "true")
	res := get(t, f.ts.URL, "/render", q, authorized())
	if res.status != http.StatusOK {
		t.Fatalf("status %s", res)
	}
	if ct := res.header.Get("Content-Type"); ct != "application/pdf" || !bytes.HasPrefix(res.body, []byte("%PDF-")) {
		t.Errorf("Content-Type %q, body starts %q", ct, res.body[:min(len(res.body), 8)])
	}
}

func TestRenderCSV(t *testing.T) {
	testenv.NeedChromium(t, render.FindChromium)
	f := shared(t)
	q := url.Values{
		"url": {f.g.PanelURL(grafanatest.ScenarioCSV, nil)}, "renderKey": {f.g.RenderKey}, "domain": {"localhost"},
		"timeout": {"15"}, "timezone": {"UTC"}, "encoding": {"csv"},
	}
	res := get(t, f.ts.URL, "/render/csv", q, authorized())
	if res.status != http.StatusOK {
		t.Fatalf("status %s", res)
	}
	if string(res.body) != grafanatest.CSVData {
		t.Errorf("body %q", res.body)
	}
	// Grafana requires a filename without slashes in Content-Disposition.
	_, params, err := mime.ParseMediaType(res.header.Get("Content-Disposition"))
	if err != nil || params["filename"] != grafanatest.CSVFileName {
		t.Errorf("Content-Disposition %q (%v)", res.header.Get("Content-Disposition"), err)
	}
	if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("Content-Type %q", ct)
	}
}

func TestNeverFinishingPageTimesOutThenNextRenders(t *testing.T) {
	testenv.NeedChromium(t, render.FindChromium)
	f := shared(t)
	q := f.query(grafanatest.ScenarioNever, 400, 200, 1)
	q.Set("timeout", "3")
	start := time.Now()
	res := get(t, f.ts.URL, "/render", q, authorized())
	took := time.Since(start)
	// Grafana 13 maps 408 to its timeout error picture.
	if res.status != http.StatusRequestTimeout || !strings.Contains(string(res.body), "timed out") {
		t.Fatalf("status %s, want 408 with a sentence", res)
	}
	if took < 3*time.Second || took > 4500*time.Millisecond {
		t.Errorf("answered after %s, want close to the 3s timeout", took)
	}
	res = get(t, f.ts.URL, "/render", f.query(grafanatest.ScenarioScenes, 400, 200, 1), authorized())
	if res.status != http.StatusOK {
		t.Fatalf("render after a timeout: %s", res)
	}
	wantColor(t, decodePNG(t, res.body), 0.5, 0.75, grafanatest.SeriesColor, "panel body")
}

func TestAuth(t *testing.T) {
	f := shared(t)
	q := f.query(grafanatest.ScenarioScenes, 400, 200, 1)
	for _, c := range []struct {
		name   string
		header http.Header
		want   string
	}{
		{"missing", nil, "no renderer token was sent"},
		{"wrong", http.Header{"X-Auth-Token": {"-"}}, "renderer_token"},
		{"prefix of a good one", http.Header{"X-Auth-Token": {testToken[:10]}}, "renderer_token"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, path := range []string{"/render", "/render/csv"} {
				res := get(t, f.ts.URL, path, q, c.header)
				if res.status != http.StatusUnauthorized || !strings.Contains(string(res.body), c.want) {
					t.Errorf("%s: %s, want 401 naming %q", path, res, c.want)
				}
				if strings.Contains(string(res.body), testToken) {
					t.Errorf("%s: the answer repeats a configured token", path)
				}
			}
		})
	}
	t.Run("any configured token", func(t *testing.T) {
		res := get(t, f.ts.URL, "/render", url.Values{"width": {"10"}}, http.Header{"X-Auth-Token": {"another-token-for-rotation"}})
		if res.status != http.StatusBadRequest { // past auth, stopped by the missing url
			t.Errorf("status %s, want 400 for the missing url", res)
		}
	})
	t.Run("open routes", func(t *testing.T) {
		for _, path := range []string{"/render/version", "/healthz", "/metrics"} {
			if res := get(t, f.ts.URL, path, nil, nil); res.status == http.StatusUnauthorized {
				t.Errorf("%s wants a token; Grafana and probes call it without one", path)
			}
		}
	})
}

func TestBadParameters(t *testing.T) {
	f := shared(t)
	cases := []struct {
		name, param, value, want string
	}{
		{"width 0", "width", "0", "width must be 1 or more"},
		{"width too big", "width", "99999", "width must be 1..3000"},
		{"width junk", "width", "wide", "width must be a whole number"},
		{"height 0", "height", "0", "height must be 1 or more"},
		{"height too big", "height", "99999", "height must be 1..3000"},
		{"scale NaN", "deviceScaleFactor", "NaN", "deviceScaleFactor must be a number above 0"},
		{"scale negative", "deviceScaleFactor", "-1", "deviceScaleFactor must be a number above 0"},
		{"scale infinite", "deviceScaleFactor", "+Inf", "deviceScaleFactor must be a number above 0"},
		{"scale too big", "deviceScaleFactor", "100", "device scale factor must be above 0 and at most 4"},
		{"timeout junk", "timeout", "soon", "timeout must be a number of seconds"},
		{"timeout negative", "timeout", "-5", "timeout must be a number of seconds"},
		{"timeout too long", "timeout", "3600", "timeout must be between 1s and 1m0s"},
		{"timeout absurd", "timeout", "99999999999999999999", "far above any max_timeout"},
		{"encoding gif", "encoding", "gif", `encoding must be png or pdf, got "gif"`},
		{"timezone junk", "timezone", "Mars/Olympus_Mons", "is not an IANA name"},
		{"timezone path", "timezone", "../../../etc/passwd", "is not an IANA name"},
		{"timezone beyond any offset", "timezone", "UTC-15:00", "no UTC offset in use"},
		{"pdf format", "pdf.format", "b5", "pdf.format must be one of"},
		{"pdf landscape", "pdf.landscape", "sideways", "pdf.landscape must be true or false"},
		{"pdf page ranges", "pdf.pageRanges", "1;rm -rf", "pdf.pageRanges must list pages"},
		{"domain", "domain", "evil.com; Path=/", "domain must be a host name"},
		{"url missing", "url", "", "url is missing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := f.query(grafanatest.ScenarioScenes, 400, 200, 1)
			if strings.HasPrefix(c.param, "pdf.") {
				q.Set("encoding", "pdf")
			}
			if c.value == "" {
				q.Del(c.param)
			} else {
				q.Set(c.param, c.value)
			}
			res := get(t, f.ts.URL, "/render", q, authorized())
			if res.status != http.StatusBadRequest || !strings.Contains(string(res.body), c.want) {
				t.Errorf("got %s, want 400 saying %q", res, c.want)
			}
			if strings.Contains(string(res.body), f.g.RenderKey) {
				t.Error("the answer repeats the render key")
			}
		})
	}
	t.Run("csv encoding", func(t *testing.T) {
		q := f.query(grafanatest.ScenarioCSV, 400, 200, 1)
		q.Set("encoding", "png")
		res := get(t, f.ts.URL, "/render/csv", q, authorized())
		if res.status != http.StatusBadRequest || !strings.Contains(string(res.body), "encoding must be csv") {
			t.Errorf("got %s", res)
		}
	})
}

func TestURLGuard(t *testing.T) {
	f := shared(t)
	host := strings.TrimPrefix(f.g.URL, "https://")
	for _, c := range []struct{ url, want string }{
		{"file:///etc/passwd", `not "file:"`},
		{"chrome://version", `not "chrome:"`},
		{"data:text/html,<script>alert(1)</script>", `not "data:"`},
		{"javascript:alert(document.cookie)", `not "javascript:"`},
		{"https://evil.example.com/d-solo/x/y?render=1", "not an allowed Grafana origin"},
		{"http://" + host + "/d-solo/x/y", "not an allowed Grafana origin"}, // right host, other scheme
		{"https://127.0.0.1:" + strings.Split(host, ":")[1] + "/d-solo/x", "not an allowed Grafana origin"},
		{"https://admin:secret@" + host + "/d-solo/x", "must not carry a user name or password"},
		{"//" + host + "/d-solo/x", `not ":"`},
	} {
		t.Run(c.url, func(t *testing.T) {
			q := f.query(grafanatest.ScenarioScenes, 400, 200, 1)
			q.Set("url", c.url)
			for path, encoding := range map[string]string{"/render": "png", "/render/csv": "csv"} {
				q.Set("encoding", encoding)
				res := get(t, f.ts.URL, path, q, authorized())
				if res.status != http.StatusBadRequest || !strings.Contains(string(res.body), c.want) {
					t.Errorf("%s: %s, want 400 saying %q", path, res, c.want)
				}
			}
		})
	}
	// The service's guard refused them; the door still counts them apart.
	if m := get(t, f.ts.URL, "/metrics", nil, nil); !strings.Contains(string(m.body), `panelcast_render_failures_total{reason="forbidden_url"}`) {
		t.Error("refused pages are not counted as forbidden_url")
	}
}

func TestQueueFullIs429WithRetryAfter(t *testing.T) {
	testenv.NeedChromium(t, render.FindChromium)
	f := newFixture(t, func(c *config.Config) { c.Concurrency, c.QueueLength = 1, 0 })
	q := f.query(grafanatest.ScenarioNever, 200, 100, 1)
	q.Set("timeout", "4")
	first := make(chan response, 1)
	go func() { first <- get(t, f.ts.URL, "/render", q, authorized()) }()
	deadline := time.Now().Add(3 * time.Second)
	for f.svc.RendererStats().InFlight < 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	res := get(t, f.ts.URL, "/render", f.query(grafanatest.ScenarioScenes, 200, 100, 1), authorized())
	if res.status != http.StatusTooManyRequests || res.header.Get("Retry-After") == "" || !strings.Contains(string(res.body), "queue_length") {
		t.Errorf("second render: %s (Retry-After %q), want 429 with Retry-After and a sentence", res, res.header.Get("Retry-After"))
	}
	if r := <-first; r.status != http.StatusRequestTimeout {
		t.Errorf("first render: %s, want 408", r)
	}
	m := get(t, f.ts.URL, "/metrics", nil, nil)
	for _, want := range []string{`panelcast_render_duration_seconds_count{kind="png",result="queue_full"} 1`, `panelcast_render_failures_total{reason="queue_full"} 1`} {
		if !strings.Contains(string(m.body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestRenderVersionRoute(t *testing.T) {
	f := shared(t)
	res := get(t, f.ts.URL, "/render/version", nil, nil)
	var v struct{ Version string }
	if res.status != http.StatusOK || json.Unmarshal(res.body, &v) != nil || v.Version != "4.0.0" {
		t.Fatalf("got %s", res)
	}
	if ct := res.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
}

func TestMetricsAfterRender(t *testing.T) {
	testenv.NeedChromium(t, render.FindChromium)
	f := shared(t)
	if res := get(t, f.ts.URL, "/render", f.query(grafanatest.ScenarioScenes, 300, 150, 1), authorized()); res.status != http.StatusOK {
		t.Fatalf("render: %s", res)
	}
	res := get(t, f.ts.URL, "/metrics", nil, nil)
	body := string(res.body)
	for _, want := range []string{
		`panelcast_render_duration_seconds_bucket{kind="png",result="ok",le="+Inf"}`,
		"panelcast_renders_in_flight ",
		"panelcast_render_queue_depth ",
		"panelcast_browser_restarts_total",
		"panelcast_renders_total",
		"panelcast_asset_cache_hits_total ",
		`panelcast_build_info{browser="`,
		"process_resident_memory_bytes",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, secret := range []string{testToken, f.g.RenderKey} {
		if strings.Contains(body, secret) {
			t.Error("metrics contain a secret")
		}
	}
}

func TestHealthz(t *testing.T) {
	testenv.NeedChromium(t, render.FindChromium)
	f := shared(t)
	res := get(t, f.ts.URL, "/healthz", nil, nil)
	if res.status != http.StatusOK || !strings.Contains(string(res.body), `"ok":true`) {
		t.Errorf("healthz: %s", res)
	}
	if res := get(t, f.ts.URL, "/healthz", url.Values{"probe": {"1"}}, nil); res.status != http.StatusUnauthorized {
		t.Errorf("probe without token: %s, want 401 (it uses a render slot)", res)
	}
	res = get(t, f.ts.URL, "/healthz", url.Values{"probe": {"1"}}, authorized())
	if res.status != http.StatusOK || !strings.Contains(string(res.body), `"probeMillis"`) {
		t.Errorf("probe: %s", res)
	}
}

func TestWithoutChromium(t *testing.T) {
	f := newFixture(t, func(c *config.Config) { c.ChromiumPath = "/nonexistent/chromium" })
	res := get(t, f.ts.URL, "/healthz", nil, nil)
	if res.status != http.StatusServiceUnavailable || !strings.Contains(string(res.body), "chromium") {
		t.Errorf("healthz: %s, want 503 naming the browser", res)
	}
	res = get(t, f.ts.URL, "/render", f.query(grafanatest.ScenarioScenes, 400, 200, 1), authorized())
	if res.status != http.StatusServiceUnavailable || !strings.Contains(string(res.body), "chromium") {
		t.Errorf("render: %s, want 503 naming the browser", res)
	}
}

func TestLogsCarryRequestIDAndNoSecrets(t *testing.T) {
	testenv.NeedChromium(t, render.FindChromium)
	f := shared(t)
	before := len(f.log.String())
	q := f.query(grafanatest.ScenarioScenes, 300, 150, 1)
	q.Set("url", q.Get("url")+"&var-secretvar=hunter2")
	if res := get(t, f.ts.URL, "/render", q, authorized()); res.status != http.StatusOK {
		t.Fatalf("render: %s", res)
	}
	q.Set("width", "99999")
	get(t, f.ts.URL, "/render", q, authorized())
	get(t, f.ts.URL, "/render", q, http.Header{"X-Auth-Token": {"wrong-token-value"}})
	logs := f.log.String()[before:]
	for _, secret := range []string{f.g.RenderKey, testToken, "wrong-token-value", "hunter2", "renderKey="} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q:\n%s", secret, logs)
		}
	}
	var lines int
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if strings.HasPrefix(rec["msg"].(string), "render request") {
			lines++
			if id, _ := rec["request_id"].(string); id == "" {
				t.Errorf("no request_id in %q", line)
			}
		}
	}
	if lines != 3 {
		t.Errorf("%d render request lines, want 3:\n%s", lines, logs)
	}
}

func TestGracefulShutdownFinishesRenderInFlight(t *testing.T) {
	testenv.NeedChromium(t, render.FindChromium)
	f := newFixture(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	served := make(chan error, 1)
	go func() { served <- f.srv.Serve(ctx, ln) }()
	base := "http://" + ln.Addr().String()
	q := f.query(grafanatest.ScenarioSlow, 400, 200, 1) // its query takes a second
	done := make(chan response, 1)
	go func() { done <- get(t, base, "/render", q, authorized()) }()
	deadline := time.Now().Add(5 * time.Second)
	for f.svc.RendererStats().InFlight < 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if f.svc.RendererStats().InFlight < 1 {
		t.Fatal("the render never started")
	}
	stop() // as SIGTERM does
	time.Sleep(100 * time.Millisecond)
	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("healthz while shutting down: %d, want 503", rec.Code)
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Error("the listener still accepts connections while shutting down")
	}
	res := <-done
	if res.status != http.StatusOK {
		t.Fatalf("render in flight at shutdown: %s, want it finished", res)
	}
	wantColor(t, decodePNG(t, res.body), 0.5, 0.75, grafanatest.SeriesColor, "panel body")
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after the render finished")
	}
	if pid := f.svc.RendererStats().BrowserPID; pid != 0 {
		t.Errorf("browser %d still attached after shutdown", pid)
	}
}

func TestCheckConfig(t *testing.T) {
	base := config.Default()
	base.GrafanaURL = "http://grafana:3000"
	for _, c := range []struct {
		addr   string
		tokens []string
		want   string
	}{
		{"127.0.0.1:8081", nil, ""},
		{"[::1]:8081", nil, ""},
		{"localhost:8081", nil, ""},
		{"0.0.0.0:8081", nil, "set auth_token (Grafana's [rendering] renderer_token) or listen on 127.0.0.1"},
		{":8081", nil, "set auth_token"},
		{"10.0.0.5:8081", nil, "set auth_token"},
		{"0.0.0.0:8081", []string{"long-random-token"}, ""},
	} {
		cfg := base
		cfg.Addr, cfg.AuthTokens = c.addr, secret.List(c.tokens...)
		err := CheckConfig(cfg)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("addr %s, tokens %v: %v, want %q", c.addr, c.tokens, err, c.want)
		}
	}
	cfg := base
	cfg.GrafanaURL = ""
	if err := CheckConfig(cfg); err == nil || !strings.Contains(err.Error(), "grafana_url") {
		t.Errorf("no origin: %v, want a sentence naming grafana_url", err)
	}
}
