package render

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/panelcast/panelcast/internal/grafanatest"
	"github.com/panelcast/panelcast/internal/testenv"
	"github.com/panelcast/panelcast/pkg/secret"
	"github.com/panelcast/panelcast/pkg/tlspolicy"
)

var testLimits = Limits{MaxWidth: 3000, MaxHeight: 3000, MaxScale: 4, MaxTimeout: time.Minute}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func newRenderer(t testing.TB, o Options) *Renderer {
	t.Helper()
	testenv.NeedChromium(t, FindChromium)
	if o.Concurrency == 0 {
		o.Concurrency = 2
	}
	if o.QueueLength == 0 {
		o.QueueLength = 8
	}
	if o.Limits == (Limits{}) {
		o.Limits = testLimits
	}
	o.Logger = testLogger(t)
	r, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(context.Background()) })
	return r
}

func policy(t testing.TB, o tlspolicy.Options) *tlspolicy.Policy {
	t.Helper()
	p, err := tlspolicy.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func standIn(t testing.TB) *grafanatest.Server {
	t.Helper()
	g, err := grafanatest.Start(grafanatest.Options{TLS: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g
}

func panelRequest(g *grafanatest.Server, scenario string, w, h int, scale float64) Request {
	return Request{URL: g.PanelURL(scenario, url.Values{"orgId": {"1"}, "panelId": {"2"}}), Width: w, Height: h, Scale: scale,
		Timeout: 15 * time.Second, Encoding: PNG, Cookies: []Cookie{{Name: "renderKey", Value: secret.New(g.RenderKey), Domain: "localhost"}}}
}

func decode(t testing.TB, b []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	return img
}

// colorAt reads the pixel at fractions of the picture's size.
func colorAt(img image.Image, fx, fy float64) color.RGBA {
	b := img.Bounds()
	r, g, bl, a := img.At(b.Min.X+int(fx*float64(b.Dx()-1)), b.Min.Y+int(fy*float64(b.Dy()-1))).RGBA()
	return color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), uint8(a >> 8)}
}

func near(a, b color.RGBA) bool {
	d := func(x, y uint8) int {
		if x > y {
			return int(x - y)
		}
		return int(y - x)
	}
	return d(a.R, b.R) <= 6 && d(a.G, b.G) <= 6 && d(a.B, b.B) <= 6
}

func wantColor(t testing.TB, img image.Image, fx, fy float64, want color.RGBA, what string) {
	t.Helper()
	if got := colorAt(img, fx, fy); !near(got, want) {
		t.Errorf("%s: pixel at (%.2f, %.2f) is %v, want %v", what, fx, fy, got, want)
	}
}

func wantSize(t testing.TB, img image.Image, w, h int) {
	t.Helper()
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		t.Errorf("picture is %dx%d, want %dx%d", b.Dx(), b.Dy(), w, h)
	}
}

func TestRenderScenarios(t *testing.T) {
	r := newRenderer(t, Options{})
	g := standIn(t)
	cases := []struct {
		scenario string
		want     color.RGBA // the panel's lower half
	}{
		{grafanatest.ScenarioScenes, grafanatest.SeriesColor},  // boots before its query starts
		{grafanatest.ScenarioSlow, grafanatest.SeriesColor},    // a 1 s query
		{grafanatest.ScenarioFailing, grafanatest.ErrorColor},  // the error panel is the picture
		{grafanatest.ScenarioBinding, grafanatest.SeriesColor}, // paints after the count drains
		{grafanatest.ScenarioLegacy, grafanatest.SeriesColor},  // window.panelsRendered
		{grafanatest.ScenarioStatic, grafanatest.SeriesColor},  // no signal: DOM and network
	}
	for _, c := range cases {
		t.Run(c.scenario, func(t *testing.T) {
			out, err := r.Render(context.Background(), panelRequest(g, c.scenario, 600, 300, 1))
			if err != nil {
				t.Fatal(err)
			}
			img := decode(t, out)
			wantSize(t, img, 600, 300)
			wantColor(t, img, 0.5, 0.75, c.want, "panel body")
			wantColor(t, img, 0.9, 0.25, grafanatest.Background, "background")
		})
	}
}

// A query that starts and ends between two probes (which come only every
// signalledPollEvery on a scenes page) has still started: the render ends
// with the painted panel, not after first_query_wait.
func TestRenderQueryBetweenProbes(t *testing.T) {
	r := newRenderer(t, Options{FirstQueryWait: 20 * time.Second})
	g := standIn(t)
	req := panelRequest(g, grafanatest.ScenarioScenes, 600, 300, 1)
	req.URL = g.PanelURL(grafanatest.ScenarioScenes, url.Values{"query": {"1"}})
	req.Timeout = 30 * time.Second
	start := time.Now()
	out, err := r.Render(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("took %s: the 1 ms query was not seen, and the render waited for first_query_wait", took)
	}
	wantColor(t, decode(t, out), 0.5, 0.75, grafanatest.SeriesColor, "panel body")
}

func TestRenderSizeAndScale(t *testing.T) {
	r := newRenderer(t, Options{})
	g := standIn(t)
	for _, c := range []struct {
		w, h  int
		scale float64
	}{{1000, 500, 1}, {400, 200, 2}, {300, 150, 1.5}, {123, 77, 3}} {
		t.Run(fmt.Sprintf("%dx%d@%g", c.w, c.h, c.scale), func(t *testing.T) {
			out, err := r.Render(context.Background(), panelRequest(g, grafanatest.ScenarioScenes, c.w, c.h, c.scale))
			if err != nil {
				t.Fatal(err)
			}
			img := decode(t, out)
			wantSize(t, img, int(float64(c.w)*c.scale+0.5), int(float64(c.h)*c.scale+0.5))
			wantColor(t, img, 0.5, 0.8, grafanatest.SeriesColor, "panel body")
		})
	}
}

func TestRenderFullPage(t *testing.T) {
	r := newRenderer(t, Options{})
	g := standIn(t)
	req := panelRequest(g, grafanatest.ScenarioTall, 800, FullPage, 1)
	req.URL = g.DashboardURL(grafanatest.ScenarioTall, url.Values{"orgId": {"1"}})
	out, err := r.Render(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	img := decode(t, out)
	wantSize(t, img, 800, grafanatest.TallHeight)
	// The last panel sits below the first viewport: it has painted only if
	// the page was grown and waited for again.
	wantColor(t, img, 0.5, 1-50.0/grafanatest.TallHeight, grafanatest.SeriesColor, "bottom panel")
}

func TestRenderPresentsCookieHeadersTimezone(t *testing.T) {
	r := newRenderer(t, Options{})
	g := standIn(t)
	req := panelRequest(g, grafanatest.ScenarioScenes, 500, 250, 2)
	req.Timezone = "America/New_York"
	req.Headers = map[string]string{"Accept-Language": "de-DE"}
	if _, err := r.Render(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	reps := g.Reports()
	if len(reps) != 1 {
		t.Fatalf("%d reports, want 1", len(reps))
	}
	rep := reps[0]
	if rep.TimeZone != "America/New_York" || !strings.HasPrefix(rep.LocalTime, "2024-01-01T07:00:00-05:00") {
		t.Errorf("page saw time zone %q, local time %q", rep.TimeZone, rep.LocalTime)
	}
	if rep.Width != 500 || rep.Height != 250 || rep.DPR != 2 {
		t.Errorf("page saw %dx%d at %g", rep.Width, rep.Height, rep.DPR)
	}
	var pages int
	for _, v := range g.Visits() {
		if strings.HasPrefix(v.Path, "/d-solo/") {
			pages++
			if v.Cookies["renderKey"] != g.RenderKey {
				t.Errorf("page request carried renderKey %q", v.Cookies["renderKey"])
			}
			if got := v.Header.Get("Accept-Language"); got != "de-DE" {
				t.Errorf("Accept-Language %q, want de-DE", got)
			}
		}
	}
	if pages != 1 {
		t.Errorf("%d page requests, want 1", pages)
	}
}

func TestRenderWithoutRenderKeyExplainsLogin(t *testing.T) {
	r := newRenderer(t, Options{})
	g := standIn(t)
	req := panelRequest(g, grafanatest.ScenarioScenes, 400, 200, 1)
	req.Cookies = nil
	_, err := r.Render(context.Background(), req)
	if err == nil || !strings.Contains(err.Error(), "login page") {
		t.Fatalf("err = %v, want the login page explained", err)
	}
}

func TestRenderTimeoutThenNextWorks(t *testing.T) {
	r := newRenderer(t, Options{})
	g := standIn(t)
	req := panelRequest(g, grafanatest.ScenarioNever, 400, 200, 1)
	req.Timeout = 3 * time.Second
	start := time.Now()
	_, err := r.Render(context.Background(), req)
	took := time.Since(start)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if !strings.Contains(err.Error(), "running queries") {
		t.Errorf("error does not say what it waited for: %v", err)
	}
	if took < 3*time.Second || took > 4*time.Second {
		t.Errorf("timed out after %s, want close to 3s", took)
	}
	out, err := r.Render(context.Background(), panelRequest(g, grafanatest.ScenarioScenes, 400, 200, 1))
	if err != nil {
		t.Fatalf("render after a timeout: %v", err)
	}
	wantColor(t, decode(t, out), 0.5, 0.75, grafanatest.SeriesColor, "panel body")
}

func TestRenderPDF(t *testing.T) {
	r := newRenderer(t, Options{})
	g := standIn(t)
	req := panelRequest(g, grafanatest.ScenarioScenes, 800, 400, 1)
	req.Encoding = PDF
	req.PDF = PDFOptions{Format: "a4", Landscape: true, PrintBackground: true}
	out, err := r.Render(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, []byte("%PDF-")) {
		t.Fatalf("not a PDF: %q", out[:min(len(out), 16)])
	}
}

func TestRenderCSV(t *testing.T) {
	r := newRenderer(t, Options{})
	g := standIn(t)
	for _, mode := range []string{"", "link"} {
		t.Run("download="+mode, func(t *testing.T) {
			req := panelRequest(g, grafanatest.ScenarioCSV, 0, 0, 0)
			if mode != "" {
				req.URL = g.PanelURL(grafanatest.ScenarioCSV, url.Values{"download": {mode}})
			}
			data, name, err := r.RenderCSV(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if string(data) != grafanatest.CSVData || name != grafanatest.CSVFileName {
				t.Errorf("got %q named %q", data, name)
			}
		})
	}
}

// tlsPair serves a page on origin A whose script fetches a resource from
// origin B and an image-free text from A itself; both have self-signed
// certificates for other names. It records which Authorization headers
// each origin saw.
type tlsPair struct {
	a, b  *httptest.Server
	aURL  string
	mu    sync.Mutex
	authA []string
	authB []string
}

func newTLSPair(t *testing.T) *tlsPair {
	p := &tlsPair{}
	p.b = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.authB = append(p.authB, r.Header.Get("Authorization"))
		p.mu.Unlock()
		w.Header().Set("Access-Control-Allow-Origin", "*")
		fmt.Fprint(w, "B")
	}))
	bURL := strings.Replace(p.b.URL, "127.0.0.1", "localhost", 1)
	p.a = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.authA = append(p.authA, r.Header.Get("Authorization"))
		p.mu.Unlock()
		if r.URL.Path == "/own" {
			fmt.Fprint(w, "A")
			return
		}
		fmt.Fprintf(w, `<html><body style="margin:0"><div id=out style="width:100vw;height:100vh;background:#000"></div><script>
		const set = (ok) => document.getElementById('out').style.background = ok ? '#00ff00' : '#ff0000';
		Promise.all([fetch('/own').then(r => r.text()), fetch(%q).then(r => r.text()).catch(() => 'refused')])
		  .then(([a, b]) => { set(a === 'A' && b === 'refused'); window.panelsRendered = 1; });
		</script><div class="panel-solo"></div></body></html>`, bURL)
	}))
	p.aURL = strings.Replace(p.a.URL, "127.0.0.1", "localhost", 1)
	t.Cleanup(func() { p.a.Close(); p.b.Close() })
	return p
}

func TestTLSToleranceIsNarrow(t *testing.T) {
	r := newRenderer(t, Options{}) // no TLS configuration at all: callback mode
	p := newTLSPair(t)
	out, err := r.Render(context.Background(), Request{URL: p.aURL + "/page", Width: 200, Height: 100, Scale: 1,
		Timeout: 10 * time.Second, Encoding: PNG, OriginHeaders: map[string]secret.Value{"Authorization": secret.New("Bearer sa-token")}})
	if err != nil {
		t.Fatal(err)
	}
	// Green: A's own resource loaded and B's bad certificate was refused.
	wantColor(t, decode(t, out), 0.5, 0.5, color.RGBA{0, 255, 0, 255}, "page verdict")
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, a := range p.authA {
		if a != "Bearer sa-token" {
			t.Errorf("a request to Grafana's origin carried Authorization %q", a)
		}
	}
	if len(p.authA) < 2 {
		t.Errorf("origin A saw %d requests, want the page and its fetch", len(p.authA))
	}
	for _, a := range p.authB {
		if a != "" {
			t.Errorf("another origin received Authorization %q", a)
		}
	}
}

func TestTLSStrictRefusesAndSaysWhy(t *testing.T) {
	r := newRenderer(t, Options{TLS: policy(t, tlspolicy.Options{Mode: tlspolicy.Strict})})
	g := standIn(t)
	_, err := r.Render(context.Background(), panelRequest(g, grafanatest.ScenarioScenes, 400, 200, 1))
	if err == nil || !strings.Contains(err.Error(), "certificate was refused") || !strings.Contains(err.Error(), "tls_mode = callback") ||
		!strings.Contains(err.Error(), grafanatest.CertificateName) {
		t.Fatalf("err = %v, want a certificate error that names the certificate and tls_mode = callback", err)
	}
}

func TestTLSInsecureAcceptsEveryOrigin(t *testing.T) {
	r := newRenderer(t, Options{TLS: policy(t, tlspolicy.Options{Mode: tlspolicy.Insecure})})
	p := newTLSPair(t)
	out, err := r.Render(context.Background(), Request{URL: p.aURL + "/page", Width: 200, Height: 100, Scale: 1,
		Timeout: 10 * time.Second, Encoding: PNG})
	if err != nil {
		t.Fatal(err)
	}
	// Red: B was accepted too, as the old rendering_ignore_https_errors did.
	wantColor(t, decode(t, out), 0.5, 0.5, color.RGBA{255, 0, 0, 255}, "page verdict")
}

func TestQueueFull(t *testing.T) {
	r := newRenderer(t, Options{Concurrency: 1, QueueLength: 1})
	g := standIn(t)
	never := panelRequest(g, grafanatest.ScenarioNever, 200, 100, 1)
	never.Timeout = 4 * time.Second
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ { // one running, one waiting
		wg.Add(1)
		go func() { defer wg.Done(); r.Render(context.Background(), never) }()
	}
	deadline := time.Now().Add(3 * time.Second)
	for r.Stats().Queued < 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	_, err := r.Render(context.Background(), never)
	if !errors.Is(err, ErrQueueFull) {
		t.Errorf("third render: err = %v, want ErrQueueFull", err)
	}
	wg.Wait()
}

// TestBrowserCrashIsRecovered: the OOM killer takes Chromium's main process
// while a render is under way, and two more renders arrive at that moment.
// Each is retried on one new browser and gets its picture.
func TestBrowserCrashIsRecovered(t *testing.T) {
	r := newRenderer(t, Options{Concurrency: 3})
	g := standIn(t)
	pid := r.Stats().BrowserPID
	type result struct {
		name string
		out  []byte
		err  error
	}
	results := make(chan result, 3)
	render := func(name, scenario string) {
		out, err := r.Render(context.Background(), panelRequest(g, scenario, 400, 200, 1))
		results <- result{name, out, err}
	}
	go render("the render in flight", grafanatest.ScenarioScenes)
	// Its page has been asked for: it is loading it when the browser dies.
	for deadline := time.Now().Add(10 * time.Second); !visited(g, "/d-solo/"+grafanatest.ScenarioScenes+"/"); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first render never loaded its page")
		}
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	go render("the first render after the kill", grafanatest.ScenarioScenes)
	go render("the second render after the kill", grafanatest.ScenarioScenes)
	for range 3 {
		res := <-results
		if res.err != nil {
			t.Errorf("%s: %v", res.name, res.err)
			continue
		}
		wantColor(t, decode(t, res.out), 0.5, 0.75, grafanatest.SeriesColor, res.name)
	}
	if s := r.Stats(); s.BrowserPID == pid || s.Restarts != 1 {
		t.Errorf("browser pid %d (was %d), restarts %d; want a new browser and one restart", s.BrowserPID, pid, s.Restarts)
	}
}

// visited reports whether the stand-in served a path starting with prefix.
func visited(g *grafanatest.Server, prefix string) bool {
	for _, v := range g.Visits() {
		if strings.HasPrefix(v.Path, prefix) {
			return true
		}
	}
	return false
}

func TestRecycleAfterLeavesNoProcess(t *testing.T) {
	r := newRenderer(t, Options{RecycleAfter: 2})
	g := standIn(t)
	first := r.Stats().BrowserPID
	for i := 0; i < 3; i++ {
		if _, err := r.Render(context.Background(), panelRequest(g, grafanatest.ScenarioScenes, 200, 100, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if r.Stats().BrowserPID == first {
		t.Fatal("browser was not recycled after 2 renders")
	}
	deadline := time.Now().Add(5 * time.Second)
	for processAlive(first) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if processAlive(first) {
		t.Errorf("recycled browser %d is still running", first)
	}
}

func processAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// A zombie waiting to be reaped is gone for our purposes.
	f := strings.Fields(string(b))
	return len(f) > 2 && f[2] != "Z"
}
