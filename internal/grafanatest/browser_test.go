package grafanatest

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/proto"

	"github.com/panelcast/panelcast/internal/rodlaunch"
	"github.com/panelcast/panelcast/pkg/demo"
)

// The browser tests check the pages themselves in real Chromium: the
// timelines of their signals and the pixels they paint. They take several
// seconds, so they run only when GRAFANATEST_BROWSER names a Chromium binary
// (e.g. GRAFANATEST_BROWSER=/usr/bin/chromium).
func browser(t *testing.T, extra ...string) *rod.Browser {
	t.Helper()
	bin := os.Getenv("GRAFANATEST_BROWSER")
	if bin == "" {
		t.Skip("set GRAFANATEST_BROWSER to a Chromium binary to check the pages in a browser")
	}
	b, stop, err := rodlaunch.Launch(bin, extra...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return b
}

// recorder notes, every 5 ms and in page time (ms since navigation), each
// change of the signals a renderer reads, and each call of the binding.
const recorder = `(() => {
  const log = window.__timeline = [];
  const last = {};
  // One time per sample, so changes seen together are noted together.
  let now = 0;
  const note = (k, v) => {
    if (last[k] !== v) { last[k] = v; log.push({at: now, what: k + '=' + v}); }
  };
  let wrapped = false;
  setInterval(() => {
    now = Math.round(performance.now());
    const fn = window.__grafanaImageRendererMessageChannel;
    if (!wrapped && typeof fn === 'function') {
      wrapped = true;
      window.__grafanaImageRendererMessageChannel = (m) => {
        now = Math.round(performance.now());
        note('binding', m);
        note('painted at binding', document.querySelectorAll('.panel-content > *').length);
        return fn(m);
      };
    }
    note('supported', window.__grafanaRenderBindingSupported === true);
    note('ctx', !!window.__grafanaSceneContext);
    note('count', window.__grafanaRunningQueryCount === undefined ? 'none' : window.__grafanaRunningQueryCount);
    note('rendered', window.panelsRendered === undefined ? 'none' : window.panelsRendered);
    note('painted', document.querySelectorAll('.panel-content > *').length);
  }, 5);
})()`

type event struct {
	At   float64
	What string
}

type timeline []event

// first is when what was first noted, or -1.
func (tl timeline) first(what string) float64 {
	for _, e := range tl {
		if e.What == what {
			return e.At
		}
	}
	return -1
}

// last is when what was last noted, or -1.
func (tl timeline) last(what string) float64 {
	at := -1.0
	for _, e := range tl {
		if e.What == what {
			at = e.At
		}
	}
	return at
}

func (tl timeline) has(what string) bool { return tl.first(what) >= 0 }

// times is how often what was noted.
func (tl timeline) times(what string) int {
	n := 0
	for _, e := range tl {
		if e.What == what {
			n++
		}
	}
	return n
}

type tab struct {
	t    *testing.T
	page *rod.Page
}

func open(t *testing.T, b *rod.Browser, s *Server, width, height int, scale float64) *tab {
	t.Helper()
	page, err := b.Page(proto.TargetCreateTarget{})
	if err != nil {
		t.Fatalf("new page: %v", err)
	}
	t.Cleanup(func() { _ = page.Close() })
	tb := &tab{t, page}
	tb.must(proto.EmulationSetDeviceMetricsOverride{Width: width, Height: height, DeviceScaleFactor: scale}.Call(page))
	if s != nil {
		tb.must(page.SetCookies([]*proto.NetworkCookieParam{{Name: "renderKey", Value: s.RenderKey, Domain: "localhost", Path: "/"}}))
	}
	_, err = proto.PageAddScriptToEvaluateOnNewDocument{Source: recorder}.Call(page)
	tb.must(err)
	return tb
}

func (tb *tab) must(err error) {
	tb.t.Helper()
	if err != nil {
		tb.t.Fatal(err)
	}
}

func (tb *tab) eval(js string) string {
	tb.t.Helper()
	res, err := tb.page.Eval(js)
	tb.must(err)
	return res.Value.String()
}

func (tb *tab) timeline() timeline {
	tb.t.Helper()
	var tl timeline
	tb.must(json.Unmarshal([]byte(tb.eval(`() => JSON.stringify(window.__timeline || [])`)), &tl))
	return tl
}

// waitFor polls the timeline until ok or the timeout.
func (tb *tab) waitFor(timeout time.Duration, ok func(timeline) bool) timeline {
	tb.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		tl := tb.timeline()
		if ok(tl) {
			return tl
		}
		if time.Now().After(deadline) {
			tb.t.Fatalf("timed out; timeline %v", tl)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (tb *tab) screenshot() image.Image {
	tb.t.Helper()
	b, err := tb.page.Screenshot(false, &proto.PageCaptureScreenshot{Format: proto.PageCaptureScreenshotFormatPng})
	tb.must(err)
	img, err := png.Decode(bytes.NewReader(b))
	tb.must(err)
	return img
}

// pixel checks the colour at fractions of the picture.
func pixel(t *testing.T, img image.Image, fx, fy float64, want color.RGBA) {
	t.Helper()
	b := img.Bounds()
	x, y := int(fx*float64(b.Dx())), int(fy*float64(b.Dy()))
	if got := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA); got != want {
		t.Errorf("pixel (%.2f, %.2f) of %dx%d = %v, want %v", fx, fy, b.Dx(), b.Dy(), got, want)
	}
}

func near(t *testing.T, what string, got, want, tolerance float64) {
	t.Helper()
	if got < want-tolerance || got > want+tolerance {
		t.Errorf("%s = %.0f ms, want %.0f±%.0f", what, got, want, tolerance)
	}
}

func TestBrowserScenesTimeline(t *testing.T) {
	b := browser(t)
	s := start(t, Options{TLS: true})
	tb := open(t, b, s, 800, 400, 1)
	tb.must(proto.SecuritySetIgnoreCertificateErrors{Ignore: true}.Call(tb.page))
	tb.must(tb.page.Navigate(s.PanelURL(ScenarioScenes, nil)))
	tl := tb.waitFor(5*time.Second, func(tl timeline) bool { return tl.has("count=1") && tl.has("count=0") && tl.has("painted=1") })

	bootAt, queryAt, doneAt := tl.first("ctx=true"), tl.first("count=1"), tl.last("count=0")
	if bootAt < 300 {
		t.Errorf("signals at %.0f ms, before the 300 ms bundle", bootAt)
	}
	if tl.first("count=0") != bootAt {
		t.Errorf("count not 0 at boot: %v", tl)
	}
	near(t, "gap before the first query", queryAt-bootAt, 200, 60)
	near(t, "query", doneAt-queryAt, 300, 100)
	if paintAt := tl.first("painted=1"); paintAt > doneAt {
		t.Errorf("painted at %.0f ms, after the count drained at %.0f", paintAt, doneAt)
	}
	img := tb.screenshot()
	pixel(t, img, 0.5, 0.25, Background)
	pixel(t, img, 0.5, 0.75, SeriesColor)
	pixel(t, img, 0.01, 0.51, SeriesColor)
	pixel(t, img, 0.99, 0.99, SeriesColor)

	for _, path := range []string{"/public/build/app.js", "/public/build/app.css", "/api/panelcast-test/dashboards/scenes", "/api/ds/query", "/api/panelcast-test/report"} {
		found := false
		for _, v := range s.Visits() {
			found = found || (v.Path == path && v.Cookies["renderKey"] == s.RenderKey)
		}
		if !found {
			t.Errorf("no visit to %s with the render key", path)
		}
	}
}

func TestBrowserBindingPaintsLate(t *testing.T) {
	b := browser(t)
	s := start(t, Options{})
	tb := open(t, b, s, 800, 400, 1)
	tb.must(proto.RuntimeAddBinding{Name: "__grafanaImageRendererMessageChannel"}.Call(tb.page))
	got := make(chan string, 1)
	go tb.page.EachEvent(func(e *proto.RuntimeBindingCalled) bool {
		got <- e.Payload
		return true
	})()
	tb.must(tb.page.Navigate(s.PanelURL(ScenarioBinding, nil)))
	tl := tb.waitFor(5*time.Second, func(tl timeline) bool { return tl.has("painted=1") && tl.has("binding="+BindingMessage) })

	if at := tl.first("supported=true"); at < 0 || at > tl.first("ctx=true") {
		t.Errorf("binding support not advertised before boot: %v", tl)
	}
	drained, paintAt := tl.last("count=0"), tl.first("painted=1")
	near(t, "paint after the count drained", paintAt-drained, float64(BindingPaintDelay.Milliseconds()), 80)
	if !tl.has("painted at binding=1") {
		t.Errorf("binding called before the paint: %v", tl)
	}
	select {
	case p := <-got:
		if p != BindingMessage {
			t.Errorf("binding payload %q", p)
		}
	case <-time.After(2 * time.Second):
		t.Error("binding call never reached CDP")
	}
	if reports := s.Reports(); len(reports) != 1 || !reports[0].Binding {
		t.Errorf("reports %+v", reports)
	}
	pixel(t, tb.screenshot(), 0.5, 0.75, SeriesColor)
}

func TestBrowserOtherScenarios(t *testing.T) {
	b := browser(t)
	s := start(t, Options{})
	for _, c := range []struct {
		scenario string
		done     func(timeline) bool
		check    func(*testing.T, timeline)
		lower    color.RGBA
	}{
		{ScenarioLegacy, func(tl timeline) bool { return tl.has("rendered=1") }, func(t *testing.T, tl timeline) {
			if tl.has("ctx=true") || !tl.has("rendered=0") || tl.first("painted=1") > tl.first("rendered=1") {
				t.Errorf("legacy timeline %v", tl)
			}
		}, SeriesColor},
		{ScenarioStatic, func(tl timeline) bool { return tl.has("painted=1") }, func(t *testing.T, tl timeline) {
			if tl.has("ctx=true") || tl.has("rendered=0") {
				t.Errorf("static page sets signals: %v", tl)
			}
		}, SeriesColor},
		{ScenarioFailing, func(tl timeline) bool { return tl.has("count=1") && tl.has("painted=1") }, func(t *testing.T, tl timeline) {
			if tl.last("count=0") < tl.first("count=1") {
				t.Errorf("count did not return to 0: %v", tl)
			}
		}, ErrorColor},
		{ScenarioSlow, func(tl timeline) bool { return tl.has("painted=1") }, func(t *testing.T, tl timeline) {
			near(t, "slow query", tl.last("count=0")-tl.first("count=1"), 1000, 150)
		}, SeriesColor},
	} {
		t.Run(c.scenario, func(t *testing.T) {
			tb := open(t, b, s, 640, 360, 1)
			tb.must(tb.page.Navigate(s.PanelURL(c.scenario, nil)))
			c.check(t, tb.waitFor(5*time.Second, c.done))
			img := tb.screenshot()
			pixel(t, img, 0.5, 0.25, Background)
			pixel(t, img, 0.5, 0.75, c.lower)
		})
	}
}

// On Grafana 13 the solo page of a schema v2 dashboard takes the panel's key
// (panelId=panel-<id>, as its share dialog links it) as well as its id.
func TestBrowserSoloPanelByKey(t *testing.T) {
	b := browser(t)
	s := start(t, Options{Generation: Grafana13})
	for _, id := range []string{"panel-2", "2"} {
		t.Run(id, func(t *testing.T) {
			tb := open(t, b, s, 640, 360, 1)
			tb.must(tb.page.Navigate(s.PanelURL(ScenarioScenes, url.Values{"panelId": {id}})))
			tb.waitFor(5*time.Second, func(tl timeline) bool { return tl.has("painted=1") })
			pixel(t, tb.screenshot(), 0.5, 0.75, SeriesColor)
		})
	}
}

func TestBrowserNeverStaysBusy(t *testing.T) {
	b := browser(t)
	s := start(t, Options{})
	tb := open(t, b, s, 640, 360, 1)
	tb.must(tb.page.Navigate(s.PanelURL(ScenarioNever, nil)))
	tb.waitFor(5*time.Second, func(tl timeline) bool { return tl.has("count=1") })
	time.Sleep(1500 * time.Millisecond)
	if tl := tb.timeline(); tl.last("count=1") < tl.last("count=0") || tl.has("painted=1") {
		t.Errorf("never page settled: %v", tl)
	}
	pixel(t, tb.screenshot(), 0.5, 0.75, Background)

	// Close lets go of the held query although the browser still waits.
	begin := time.Now()
	s.Close()
	if took := time.Since(begin); took > time.Second {
		t.Errorf("Close took %v", took)
	}
}

func TestBrowserTallDashboardLoadsLazily(t *testing.T) {
	b := browser(t)
	s := start(t, Options{})
	tb := open(t, b, s, 800, 600, 1)
	tb.must(tb.page.Navigate(s.DashboardURL(ScenarioTall, nil)))
	// Panels 1 and 2 (0–575 and 575–1150 px) meet the 600 px viewport.
	tb.waitFor(5*time.Second, func(tl timeline) bool { return tl.has("painted=2") })
	time.Sleep(500 * time.Millisecond)
	if tl := tb.timeline(); tl.has("painted=3") || tl[len(tl)-1].What == "count=1" {
		t.Errorf("panels below the fold loaded: %v", tl)
	}
	if h := tb.eval(`() => String(document.body.scrollHeight)`); h != "2400" {
		t.Errorf("body.scrollHeight = %s", h)
	}

	tb.must(proto.EmulationSetDeviceMetricsOverride{Width: 800, Height: TallHeight, DeviceScaleFactor: 1}.Call(tb.page))
	tl := tb.waitFor(5*time.Second, func(tl timeline) bool {
		return tl.has("painted=5") && tl[len(tl)-1].What != "count=1"
	})
	if tl.times("count=0") < 3 { // none→0 at boot, 1→0 for panel 1, again for the rest
		t.Errorf("count did not rise again for the lazy panels: %v", tl)
	}
	time.Sleep(50 * time.Millisecond)
	img := tb.screenshot()
	for _, y := range []float64{100, 1150 + 100, 1725 + 200} {
		pixel(t, img, 0.5, y/TallHeight, Background)
	}
	for _, y := range []float64{400, 575 + 400, 1725 + 500, 2301, 2350, 2399} {
		pixel(t, img, 0.5, y/TallHeight, SeriesColor)
	}
	for _, x := range []float64{0.005, 0.05, 0.2, 0.995} { // the bottom strip holds no text
		pixel(t, img, x, 2320.0/TallHeight, SeriesColor)
	}
}

func TestBrowserEnvironmentReport(t *testing.T) {
	b := browser(t)
	s := start(t, Options{})
	tb := open(t, b, s, 800, 400, 2)
	tb.must(proto.EmulationSetTimezoneOverride{TimezoneID: "Europe/Berlin"}.Call(tb.page))
	tb.must(proto.NetworkSetUserAgentOverride{UserAgent: "panelcast-test", AcceptLanguage: "de-DE"}.Call(tb.page))
	tb.must(tb.page.Navigate(s.PanelURL(ScenarioScenes, url.Values{"query": {"50"}})))
	tb.waitFor(5*time.Second, func(tl timeline) bool { return tl.has("painted=1") })

	reports := s.Reports()
	if len(reports) != 1 {
		t.Fatalf("reports %+v", reports)
	}
	r := reports[0]
	want := Report{Scenario: ScenarioScenes, TimeZone: "Europe/Berlin", LocalTime: "2024-01-01T13:00:00+01:00",
		Language: "de-DE", UserAgent: "panelcast-test", Width: 800, Height: 400, DPR: 2, At: r.At}
	if r != want {
		t.Errorf("report %+v, want %+v", r, want)
	}
	if loc, err := time.LoadLocation("Europe/Berlin"); err == nil && ReportInstant.In(loc).Format(LocalTimeLayout) != r.LocalTime {
		t.Errorf("LocalTime %q does not match LocalTimeLayout", r.LocalTime)
	}
	img := tb.screenshot()
	if img.Bounds().Dx() != 1600 || img.Bounds().Dy() != 800 {
		t.Errorf("screenshot %v at scale 2", img.Bounds())
	}
	pixel(t, img, 0.5, 0.25, Background)
	pixel(t, img, 0.5, 0.501, SeriesColor)
	pixel(t, img, 0.5, 0.499, Background)
}

func TestBrowserLoginWithoutKey(t *testing.T) {
	b := browser(t)
	s := start(t, Options{})
	tb := open(t, b, nil, 800, 400, 1)
	tb.must(tb.page.Navigate(s.PanelURL(ScenarioScenes, nil)))
	tb.must(tb.page.WaitLoad())
	if u := tb.eval(`() => location.pathname`); u != "/login" {
		t.Errorf("landed on %s", u)
	}
	img := tb.screenshot()
	for _, f := range [][2]float64{{0.5, 0.5}, {0.99, 0.01}, {0.01, 0.99}, {0.75, 0.75}} {
		pixel(t, img, f[0], f[1], LoginColor)
	}
}

func TestBrowserCSVDownload(t *testing.T) {
	b := browser(t)
	s := start(t, Options{})
	for _, mode := range []string{"", "link"} {
		t.Run("download="+mode, func(t *testing.T) {
			dir := t.TempDir()
			tb := open(t, b, s, 800, 400, 1)
			tb.must(proto.BrowserSetDownloadBehavior{Behavior: proto.BrowserSetDownloadBehaviorBehaviorAllow, DownloadPath: dir}.Call(b))
			tb.must(tb.page.Navigate(s.PanelURL(ScenarioCSV, url.Values{"download": {mode}})))
			path := filepath.Join(dir, CSVFileName)
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				if data, err := os.ReadFile(path); err == nil && len(data) == len(CSVData) {
					if string(data) != CSVData {
						t.Errorf("downloaded %q", data)
					}
					return
				}
				if time.Now().After(deadline) {
					entries, _ := os.ReadDir(dir)
					t.Fatalf("no %s; directory has %v; timeline %v", CSVFileName, entries, tb.timeline())
				}
			}
		})
	}
}

func TestBrowserCertificate(t *testing.T) {
	s := start(t, Options{TLS: true})
	strict := browser(t)
	tb := open(t, strict, s, 800, 400, 1)
	if err := tb.page.Navigate(s.PanelURL(ScenarioScenes, nil)); err == nil || !strings.Contains(err.Error(), "ERR_CERT") {
		t.Errorf("strict browser loaded the page: %v", err)
	}

	sum := sha256.Sum256(s.Certificate().RawSubjectPublicKeyInfo)
	trusting := browser(t, "ignore-certificate-errors-spki-list", base64.StdEncoding.EncodeToString(sum[:]))
	tb = open(t, trusting, s, 800, 400, 1)
	tb.must(tb.page.Navigate(s.PanelURL(ScenarioScenes, url.Values{"query": {"50"}})))
	tb.waitFor(5*time.Second, func(tl timeline) bool { return tl.has("painted=1") })
	pixel(t, tb.screenshot(), 0.5, 0.75, SeriesColor)
}

// The demo page is Grafana's own frontend: scenes' signals behave as on a
// Grafana page (the count is unset until the data source has loaded and
// the first query starts), the query goes through Grafana's
// DataSourceWithBackend, and @grafana/ui paints the panel CheckDemoPicture
// recognises.
func TestBrowserDemo(t *testing.T) {
	b := browser(t)
	s := start(t, Options{TLS: true})
	tb := open(t, b, s, 1000, 500, 1)
	tb.must(proto.SecuritySetIgnoreCertificateErrors{Ignore: true}.Call(tb.page))
	tb.must(tb.page.Navigate(s.PanelURL(ScenarioDemo, url.Values{"querystart": {"400"}})))
	tl := tb.waitFor(15*time.Second, func(tl timeline) bool { return tl.has("count=1") && tl.last("count=0") > tl.first("count=1") })

	bootAt, queryAt, doneAt := tl.first("ctx=true"), tl.first("count=1"), tl.last("count=0")
	if bootAt < 300 {
		t.Errorf("scene context at %.0f ms, before the 300 ms bundle", bootAt)
	}
	if at := tl.first("count=0"); at < queryAt {
		t.Errorf("the count was set at %.0f ms, before the first query at %.0f: %v", at, queryAt, tl)
	}
	if gap := queryAt - bootAt; gap < 350 {
		t.Errorf("first query %.0f ms after boot, want the 400 ms data source loading first", gap)
	}
	// The answer is parsed and handed on before the count drains: under
	// load that takes a while.
	if took := doneAt - queryAt; took < 280 || took > 1300 {
		t.Errorf("query counted for %.0f ms, want the 300 ms query and its handling", took)
	}
	time.Sleep(300 * time.Millisecond) // React and uPlot paint after the count drains
	if got := tb.eval(`() => document.querySelectorAll('.u-wrap canvas').length + ' ' + document.querySelector('h2').textContent`); got != "1 "+DemoPanelTitle {
		t.Errorf("panel: %s, want one uPlot canvas under the title %q", got, DemoPanelTitle)
	}
	img := tb.screenshot()
	p, err := CheckDemoPicture(img)
	if err != nil {
		t.Errorf("the demo picture is not Grafana's time series panel: %v", err)
	}
	t.Logf("plot %v, threshold at y=%d (want %d)", p.Plot, p.ThresholdY, p.WantThresholdY)

	var query *Visit
	for _, v := range s.Visits() {
		if v.Path == "/api/ds/query" {
			query = &v
		}
	}
	if query == nil || query.Query.Get("ds_type") != "grafana-testdata-datasource" || query.Header.Get("X-Datasource-Uid") != "testdata" ||
		query.Cookies["renderKey"] != s.RenderKey {
		t.Errorf("query visit %+v, want Grafana's DataSourceWithBackend request with the render key", query)
	}
	if reps := s.Reports(); len(reps) != 1 || reps[0].Scenario != ScenarioDemo || reps[0].Width != 1000 {
		t.Errorf("reports %+v", reps)
	}
}

// CheckDemoPicture fails when any part of the panel is missing: each copy
// of a real picture lacks one.
func TestBrowserDemoCheckFailsWithoutEachPart(t *testing.T) {
	b := browser(t)
	s := start(t, Options{})
	tb := open(t, b, s, 800, 400, 1)
	tb.must(tb.page.Navigate(s.PanelURL(ScenarioDemo, url.Values{"query": {"50"}})))
	tb.waitFor(15*time.Second, func(tl timeline) bool { return tl.has("count=1") && tl.last("count=0") > tl.first("count=1") })
	time.Sleep(300 * time.Millisecond)
	img := tb.screenshot()
	p, err := CheckDemoPicture(img)
	if err != nil {
		t.Fatalf("the real picture fails: %v", err)
	}
	paint := func(keep func(x, y int, c color.RGBA) bool) image.Image {
		out := image.NewRGBA(img.Bounds())
		for y := out.Rect.Min.Y; y < out.Rect.Max.Y; y++ {
			for x := out.Rect.Min.X; x < out.Rect.Max.X; x++ {
				c := rgba(img.At(x, y))
				if !keep(x, y, c) {
					c = PanelBackground
				}
				out.Set(x, y, c)
			}
		}
		return out
	}
	for _, c := range []struct {
		want string
		keep func(x, y int, c color.RGBA) bool
	}{
		{"dashed line", func(_, _ int, c color.RGBA) bool { return !closeTo(c, ThresholdLineColor, 12) }},
		{"series web-2", func(_, _ int, c color.RGBA) bool { return !closeTo(c, Demo[1].Color, 8) }},
		{"legend", func(_, y int, _ color.RGBA) bool { return y < p.Plot.Max.Y+(img.Bounds().Dy()-p.Plot.Max.Y)/2 }},
		{"y-axis labels", func(x, _ int, _ color.RGBA) bool { return x >= p.Plot.Min.X }},
		{"x-axis labels", func(_, y int, c color.RGBA) bool { return y <= p.Plot.Max.Y || textInk(c) < 0.5 }},
		{"title", func(_, y int, _ color.RGBA) bool { return y >= p.Plot.Min.Y-p.Plot.Dy()/40 }},
		{"grid lines", func(_, _ int, c color.RGBA) bool { return !closeTo(c, GridColor, 1) }},
	} {
		if _, err := CheckDemoPicture(paint(c.keep)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("without the %s: err = %v", c.want, err)
		}
	}
}

// The demo page honours var-instance as Grafana does: the query carries
// the variable's value and the panel draws that series alone.
func TestBrowserDemoInstance(t *testing.T) {
	b := browser(t)
	s := start(t, Options{})
	tb := open(t, b, s, 800, 400, 1)
	tb.must(tb.page.Navigate(s.PanelURL(ScenarioDemo, url.Values{"query": {"50"}, "var-instance": {Demo[0].Name}})))
	tb.waitFor(15*time.Second, func(tl timeline) bool { return tl.has("count=1") && tl.last("count=0") > tl.first("count=1") })
	time.Sleep(300 * time.Millisecond)
	img := tb.screenshot()
	if _, err := CheckDemoPictureOf(img, Demo[:1]); err != nil {
		t.Errorf("with var-instance=%s: %v", Demo[0].Name, err)
	}
	if _, err := CheckDemoPicture(img); err == nil || !strings.Contains(err.Error(), "series "+Demo[1].Name) {
		t.Errorf("the picture of %s alone passes as every series' (err = %v)", Demo[0].Name, err)
	}
}

// A failing query ends the count too, and Grafana's panel shows its error.
func TestBrowserDemoFailing(t *testing.T) {
	b := browser(t)
	s := start(t, Options{})
	tb := open(t, b, s, 800, 400, 1)
	tb.must(tb.page.Navigate(s.PanelURL(ScenarioDemoFailing, nil)))
	tb.waitFor(15*time.Second, func(tl timeline) bool { return tl.has("count=1") && tl.last("count=0") > tl.first("count=1") })
	time.Sleep(300 * time.Millisecond)
	if got := tb.eval(`() => document.querySelector('[data-testid="data-testid Panel status error"]') ? 'error shown' : document.body.innerText`); got != "error shown" {
		t.Errorf("no error indicator: %s", got)
	}
	img := tb.screenshot()
	if n := countIn(img, img.Bounds(), func(c color.RGBA) bool { return closeTo(c, PanelErrorColor, 6) }); n < 100 {
		t.Errorf("%d pixels of the error indicator's %s, want its 32 px square", n, demo.Hex(PanelErrorColor))
	}
	if _, err := CheckDemoPicture(img); err == nil {
		t.Error("the failed panel passes for a chart")
	}
}
