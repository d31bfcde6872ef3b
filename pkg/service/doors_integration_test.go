package service_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/panelcast/panelcast/internal/grafanatest"
	"github.com/panelcast/panelcast/internal/pluginhost"
	"github.com/panelcast/panelcast/internal/testenv"
	"github.com/panelcast/panelcast/pkg/config"
	"github.com/panelcast/panelcast/pkg/pluginextensionv2"
	"github.com/panelcast/panelcast/pkg/render"
	"github.com/panelcast/panelcast/pkg/server"
	"github.com/panelcast/panelcast/pkg/service"
)

// doorCase is one render as Grafana asks for it, and what must come of it
// whichever door it goes through.
type doorCase struct {
	name     string
	page     string // path and query on the stand-in; "" is a scenes panel
	origin   string // another origin for the page; "" is Grafana's
	width    int
	tz       string
	encoding string
	// The page's own report: Intl's zone and ReportInstant in local time.
	wantZone, wantLocal string
	// wantPDF is the paper in points, width × height.
	wantPDF [2]float64
	wantErr string
	// keyInURL puts the render key into a page URL that does not parse,
	// so the refusal would quote it.
	keyInURL bool
}

// doorCases are what Grafana 9–12 send the plugin and Grafana 13 the HTTP
// door: time zones as isoTimeOffsetToPosixTz leaves them (UTC-05:00 is the
// dashboard's UTC+05:00), scenes' encoded literal, alert screenshots with
// none, PDF options in the page URL, and what must be refused.
var doorCases = []doorCase{
	{name: "IANA name", tz: "Europe/Berlin", wantZone: "Europe/Berlin", wantLocal: "2024-01-01T13:00:00+01:00"},
	{name: "POSIX whole hours", tz: "UTC-05:00", wantZone: "Etc/GMT-5", wantLocal: "2024-01-01T17:00:00+05:00"},
	{name: "POSIX half hour east", tz: "UTC-05:30", wantZone: "+05:30", wantLocal: "2024-01-01T17:30:00+05:30"},
	{name: "POSIX half hour west", tz: "UTC+03:30", wantZone: "-03:30", wantLocal: "2024-01-01T08:30:00-03:30"},
	{name: "scenes' encoded ISO offset", tz: "UTC%2B05%3A30", wantZone: "+05:30", wantLocal: "2024-01-01T17:30:00+05:30"},
	{name: "Etc/GMT", tz: "Etc/GMT+5", wantZone: "Etc/GMT+5", wantLocal: "2024-01-01T07:00:00-05:00"},
	{name: "utc", tz: "utc", wantZone: "UTC", wantLocal: "2024-01-01T12:00:00+00:00"},
	{name: "browser", tz: "browser", wantZone: "Asia/Tokyo", wantLocal: "2024-01-01T21:00:00+09:00"},
	{name: "alert screenshot: no zone, no range", tz: "", page: "/d-solo/scenes/panel?orgId=1&panelId=2&render=1",
		wantZone: "Asia/Tokyo", wantLocal: "2024-01-01T21:00:00+09:00"},
	{name: "PDF options in the page URL", encoding: "pdf", tz: "UTC",
		page:    "/d/scenes/dash?orgId=1&render=1&pdf.format=a5&pdf.landscape=true&pdf.printBackground=true",
		wantPDF: [2]float64{8.27 * 72, 5.83 * 72}, wantZone: "UTC", wantLocal: "2024-01-01T12:00:00+00:00"},
	{name: "unknown zone", tz: "Mars/Olympus", wantErr: `timezone "Mars/Olympus" is not an IANA name`},
	{name: "offset beyond any zone", tz: "UTC-15:00", wantErr: "no UTC offset in use"},
	{name: "page on another origin", origin: "127.0.0.1", wantErr: "which is not an allowed Grafana origin"},
	{name: "wider than max_width", width: 5000, wantErr: "width must be 1..3000"},
	{name: "a refusal quoting the render key", keyInURL: true, wantErr: "does not parse"},
}

// door renders one case and returns the output or the sentence Grafana
// would show; metrics is what the door exports as Grafana or Prometheus
// scrapes it, health its health answer's JSON (the plugin's CheckHealth
// details, the HTTP door's /healthz), logs what it logged.
type door struct {
	name    string
	render  func(t *testing.T, g *grafanatest.Server, c doorCase) ([]byte, error)
	metrics func(t *testing.T) string
	health  func(t *testing.T) string
	logs    *testenv.LogBuffer
}

// Both doors are equally faithful: the same table goes through the plugin,
// started by the Grafana stand-in host as Grafana starts it, and through
// the HTTP door's /render, with a real Chromium on the stand-in pages.
// Both export the same render metrics, log one line per render with the
// same keys, and keep the render key out of every answer and log.
func TestDoorsAreEquallyFaithful(t *testing.T) {
	testenv.NeedChromium(t, render.FindChromium)
	g, err := grafanatest.Start(grafanatest.Options{TLS: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	// Both doors know Grafana's URL and default to Tokyo time.
	settings := map[string]string{"grafana_url": g.URL, "timezone": "Asia/Tokyo"}
	for _, d := range []door{pluginDoor(t, g, settings), httpDoor(t, settings)} {
		t.Run(d.name, func(t *testing.T) {
			for _, c := range doorCases {
				t.Run(c.name, func(t *testing.T) {
					before := len(g.Reports())
					out, err := d.render(t, g, c)
					if err != nil && strings.Contains(err.Error(), g.RenderKey) {
						t.Errorf("the answer shows the render key: %v", err)
					}
					if c.wantErr != "" {
						if err == nil || !strings.Contains(err.Error(), c.wantErr) {
							t.Fatalf("err = %v, want one saying %q", err, c.wantErr)
						}
						return
					}
					if err != nil {
						t.Fatal(err)
					}
					reports := g.Reports()[before:]
					if len(reports) != 1 {
						t.Fatalf("%d page reports, want 1", len(reports))
					}
					if r := reports[0]; r.TimeZone != c.wantZone || r.LocalTime != c.wantLocal {
						t.Errorf("the page saw time zone %q and local time %s, want %q and %s", r.TimeZone, r.LocalTime, c.wantZone, c.wantLocal)
					}
					if c.encoding == "pdf" {
						checkPaper(t, out, c.wantPDF)
					}
				})
			}
			checkRenderMetrics(t, d.metrics(t))
			checkRenderLogs(t, d.logs.String(), g.RenderKey)
		})
	}
}

// checkRenderMetrics wants the doorCases counted: 10 pictures (one a PDF)
// and 5 refusals by their reasons, and the renderer's counters.
func checkRenderMetrics(t *testing.T, text string) {
	t.Helper()
	for _, want := range []string{
		`panelcast_render_duration_seconds_count{kind="png",result="ok"} 9`,
		`panelcast_render_duration_seconds_count{kind="pdf",result="ok"} 1`,
		`panelcast_render_duration_seconds_count{kind="png",result="bad_request"} 5`,
		`panelcast_render_failures_total{reason="bad_request"} 3`,
		`panelcast_render_failures_total{reason="forbidden_url"} 2`, // the guard refuses a URL it cannot read
		`panelcast_renders_total 10`,
		`panelcast_browser_restarts_total 0`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("the door's metrics lack %s", want)
		}
	}
	// A finished render's page may still be closing: its slot's gauge is
	// there, whatever it reads.
	if !strings.Contains(text, "\npanelcast_renders_in_flight ") {
		t.Error("the door's metrics lack panelcast_renders_in_flight")
	}
}

// renderLine is a render's log line, in the text of either door's logger.
var renderLine = regexp.MustCompile(`render request( failed)?\b.*`)

// checkRenderLogs wants one line for each of the doorCases, each with the
// same keys, and no render key.
func checkRenderLogs(t *testing.T, logs, renderKey string) {
	t.Helper()
	lines := renderLine.FindAllString(logs, -1)
	if len(lines) != len(doorCases) {
		t.Errorf("%d render log lines for %d renders:\n%s", len(lines), len(doorCases), strings.Join(lines, "\n"))
	}
	for _, line := range lines {
		for _, key := range []string{"source=grafana", "kind=", "page=", "duration=", "result="} {
			if !strings.Contains(line, key) {
				t.Errorf("render log line without %s: %s", key, line)
			}
		}
	}
	if strings.Contains(logs, renderKey) {
		t.Error("the door's log shows the render key")
	}
}

func (c doorCase) url(g *grafanatest.Server) string {
	if c.keyInURL {
		return "https://localhost:%zz/d-solo/scenes/panel?renderKey=" + g.RenderKey
	}
	u := g.PanelURL(grafanatest.ScenarioScenes, url.Values{"orgId": {"1"}, "panelId": {"2"}})
	if c.page != "" {
		u = g.URL + c.page
	}
	if c.origin != "" {
		u = strings.Replace(u, "localhost", c.origin, 1)
	}
	return u
}

func (c doorCase) size() (int, int) {
	if c.width != 0 {
		return c.width, 200
	}
	return 400, 200
}

func pluginDoor(t *testing.T, g *grafanatest.Server, settings map[string]string) door {
	exe, err := pluginhost.BuildPlugin(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	logs := &testenv.LogBuffer{}
	h, err := pluginhost.Start(context.Background(), pluginhost.Config{
		Executable: exe, PluginID: "panelcast-renderer", PluginVersion: "4.0.0", Section: settings,
		GrafanaVersion: "12.1.0", AppURL: g.URL, DataPath: t.TempDir(), Stderr: logs,
	})
	if err != nil {
		t.Fatalf("start plugin: %v\n%s", err, logs)
	}
	t.Cleanup(h.Kill)
	return door{name: "plugin", logs: logs, metrics: func(t *testing.T) string {
		b, err := h.CollectMetrics(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}, health: func(t *testing.T) string {
		res, err := h.CheckHealth(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return string(res.GetJsonDetails())
	}, render: func(t *testing.T, g *grafanatest.Server, c doorCase) ([]byte, error) {
		w, ht := c.size()
		path, err := h.Render(context.Background(), &pluginextensionv2.RenderRequest{
			Url: c.url(g), Width: int32(w), Height: int32(ht), DeviceScaleFactor: 1, RenderKey: g.RenderKey,
			Domain: "localhost", Timeout: 15, Timezone: c.tz, AuthToken: "-", Encoding: c.encoding,
		})
		if err != nil {
			return nil, err
		}
		return os.ReadFile(path)
	}}
}

func httpDoor(t *testing.T, settings map[string]string) door {
	cfg := config.Default()
	for k, v := range settings {
		if err := cfg.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	logs := &testenv.LogBuffer{}
	svc := service.New(context.Background(), service.Options{Config: cfg, Log: slog.New(slog.NewTextHandler(logs, nil))})
	srv, err := server.New(svc)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		ts.Close()
		_ = svc.Shutdown(context.Background(), nil)
	})
	get := func(t *testing.T, path string) string {
		res, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	metrics := func(t *testing.T) string { return get(t, "/metrics") }
	health := func(t *testing.T) string { return get(t, "/healthz") }
	return door{name: "http", logs: logs, metrics: metrics, health: health, render: func(t *testing.T, g *grafanatest.Server, c doorCase) ([]byte, error) {
		w, ht := c.size()
		// What Grafana's renderViaHTTP sends.
		q := url.Values{"url": {c.url(g)}, "width": {strconv.Itoa(w)}, "height": {strconv.Itoa(ht)},
			"deviceScaleFactor": {"1.000000"}, "timeout": {"15"}, "timezone": {c.tz}, "renderKey": {g.RenderKey},
			"domain": {"localhost"}, "encoding": {c.encoding}}
		res, err := http.Get(ts.URL + "/render?" + q.Encode())
		if err != nil {
			return nil, err
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err == nil && res.StatusCode != http.StatusOK {
			err = errors.New(res.Status + ": " + strings.TrimSpace(string(body)))
		}
		return body, err
	}}
}

var mediaBox = regexp.MustCompile(`/MediaBox\s*\[\s*0 0 ([0-9.]+) ([0-9.]+)\s*\]`)

// checkPaper reads the first page's size from the PDF.
func checkPaper(t *testing.T, pdf []byte, want [2]float64) {
	t.Helper()
	m := mediaBox.FindSubmatch(pdf)
	if !strings.HasPrefix(string(pdf), "%PDF-") || m == nil {
		t.Fatalf("not a PDF with a MediaBox: %.40q", pdf)
	}
	w, _ := strconv.ParseFloat(string(m[1]), 64)
	h, _ := strconv.ParseFloat(string(m[2]), 64)
	if d := w - want[0]; d > 2 || d < -2 {
		t.Errorf("paper is %gx%g pt, want %gx%g", w, h, want[0], want[1])
	} else if d := h - want[1]; d > 2 || d < -2 {
		t.Errorf("paper is %gx%g pt, want %gx%g", w, h, want[0], want[1])
	}
}
