package plugin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"

	"github.com/panelcast/panelcast/internal/grafanatest"
	"github.com/panelcast/panelcast/internal/pluginhost"
	"github.com/panelcast/panelcast/internal/testenv"
	"github.com/panelcast/panelcast/pkg/pluginextensionv2"
	"github.com/panelcast/panelcast/pkg/render"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// pluginBinary builds the real plugin once, named as Grafana runs it.
func pluginBinary(t *testing.T) string {
	t.Helper()
	testenv.NeedChromium(t, render.FindChromium)
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "panelcast-plugin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath, buildErr = pluginhost.BuildPlugin(dir)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func startHost(t *testing.T, g *grafanatest.Server, section map[string]string) (*pluginhost.Host, *testenv.LogBuffer) {
	t.Helper()
	data := t.TempDir()
	for _, d := range []string{"png", "csv", "pdf"} {
		if err := os.MkdirAll(filepath.Join(data, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	logs := &testenv.LogBuffer{}
	h, err := pluginhost.Start(context.Background(), pluginhost.Config{
		Executable: pluginBinary(t), PluginID: "panelcast-renderer", PluginVersion: "4.0.0",
		Section: section, GrafanaVersion: "12.1.0", AppURL: g.URL, DataPath: data, Stderr: logs,
	})
	if err != nil {
		t.Fatalf("start plugin: %v\nplugin log:\n%s", err, logs)
	}
	t.Cleanup(h.Kill)
	return h, logs
}

func standIn(t *testing.T) *grafanatest.Server {
	g, err := grafanatest.Start(grafanatest.Options{TLS: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g
}

// request is what Grafana sends for "Direct link rendered image".
func request(g *grafanatest.Server, scenario string, w, h int32, scale float32) *pluginextensionv2.RenderRequest {
	return &pluginextensionv2.RenderRequest{
		Url: g.PanelURL(scenario, url.Values{"orgId": {"1"}, "panelId": {"2"}}), Width: w, Height: h,
		DeviceScaleFactor: scale, RenderKey: g.RenderKey, Domain: "localhost", Timeout: 15,
		Timezone: "Asia/Tokyo", AuthToken: "-", Encoding: "png",
		Headers: map[string]*pluginextensionv2.StringList{"Accept-Language": {Values: []string{"fr-FR"}}},
	}
}

func readPNG(t *testing.T, path string) image.Image {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s is not a PNG: %v", path, err)
	}
	return img
}

func pixel(img image.Image, fx, fy float64) color.RGBA {
	b := img.Bounds()
	r, g, bl, a := img.At(int(fx*float64(b.Dx()-1)), int(fy*float64(b.Dy()-1))).RGBA()
	return color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), uint8(a >> 8)}
}

func close(a, b color.RGBA) bool {
	d := func(x, y uint8) bool { return x-y <= 6 || y-x <= 6 }
	return d(a.R, b.R) && d(a.G, b.G) && d(a.B, b.B)
}

func TestPluginRendersLikeGrafanaAsks(t *testing.T) {
	g := standIn(t)
	// No TLS setting at all, and an old image-renderer key that still means
	// something: the operator renamed the section and kept the values.
	h, logs := startHost(t, g, map[string]string{"rendering_viewport_max_width": "2000"})
	cases := []struct {
		scenario string
		w, h     int32
		scale    float32
		want     color.RGBA
	}{
		{grafanatest.ScenarioScenes, 1000, 500, 1, grafanatest.SeriesColor}, // boots before its query
		{grafanatest.ScenarioSlow, 600, 300, 2, grafanatest.SeriesColor},    // a 1 s query
		{grafanatest.ScenarioFailing, 500, 250, 1, grafanatest.ErrorColor},  // the error is pictured
		{grafanatest.ScenarioBinding, 400, 200, 1, grafanatest.SeriesColor}, // completion binding
	}
	for _, c := range cases {
		t.Run(c.scenario, func(t *testing.T) {
			path, err := h.Render(context.Background(), request(g, c.scenario, c.w, c.h, c.scale))
			if err != nil {
				t.Fatalf("%v\nplugin log:\n%s", err, logs)
			}
			img := readPNG(t, path)
			if b := img.Bounds(); b.Dx() != int(float32(c.w)*c.scale) || b.Dy() != int(float32(c.h)*c.scale) {
				t.Errorf("picture is %dx%d, want %gx%g", b.Dx(), b.Dy(), float32(c.w)*c.scale, float32(c.h)*c.scale)
			}
			if got := pixel(img, 0.5, 0.75); !close(got, c.want) {
				t.Errorf("panel body is %v, want %v", got, c.want)
			}
			if got := pixel(img, 0.9, 0.25); !close(got, grafanatest.Background) {
				t.Errorf("background is %v, want %v", got, grafanatest.Background)
			}
		})
	}
	// What the browser presented to "Grafana".
	for _, v := range g.Visits() {
		if strings.HasPrefix(v.Path, "/d-solo/") {
			if v.Cookies["renderKey"] != g.RenderKey {
				t.Errorf("%s: renderKey cookie %q", v.Path, v.Cookies["renderKey"])
			}
			if al := v.Header.Get("Accept-Language"); al != "fr-FR" {
				t.Errorf("%s: Accept-Language %q", v.Path, al)
			}
		}
	}
	for _, r := range g.Reports() {
		if r.TimeZone != "Asia/Tokyo" || !strings.HasPrefix(r.LocalTime, "2024-01-01T21:00:00+09:00") {
			t.Errorf("%s: page saw time zone %q, local time %q", r.Scenario, r.TimeZone, r.LocalTime)
		}
	}
}

func TestPluginTimeoutThenRendersAgain(t *testing.T) {
	g := standIn(t)
	h, _ := startHost(t, g, nil)
	req := request(g, grafanatest.ScenarioNever, 400, 200, 1)
	req.Timeout = 3
	start := time.Now()
	_, err := h.Render(context.Background(), req)
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("err = %v, want the plugin's timeout error", err)
	}
	if took < 3*time.Second || took > 4500*time.Millisecond {
		t.Errorf("answered after %s, want close to the 3 s timeout", took)
	}
	path, err := h.Render(context.Background(), request(g, grafanatest.ScenarioScenes, 400, 200, 1))
	if err != nil {
		t.Fatalf("render after a timeout: %v", err)
	}
	if got := pixel(readPNG(t, path), 0.5, 0.75); !close(got, grafanatest.SeriesColor) {
		t.Errorf("panel body is %v", got)
	}
}

func TestPluginCSVAndPDF(t *testing.T) {
	g := standIn(t)
	h, _ := startHost(t, g, nil)
	csvPath, name, err := h.RenderCSV(context.Background(), &pluginextensionv2.RenderCSVRequest{
		Url: g.PanelURL(grafanatest.ScenarioCSV, nil), RenderKey: g.RenderKey, Domain: "localhost", Timeout: 15})
	if err != nil {
		t.Fatalf("RenderCSV: %v", err)
	}
	if b, _ := os.ReadFile(csvPath); string(b) != grafanatest.CSVData || name != grafanatest.CSVFileName {
		t.Errorf("csv %q named %q", b, name)
	}
	req := request(g, grafanatest.ScenarioScenes, 800, 400, 1)
	req.Encoding = "pdf"
	path, err := h.Render(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); !bytes.HasPrefix(b, []byte("%PDF-")) {
		t.Errorf("%s is not a PDF", path)
	}
}

// TestPluginWritesOnlyWhereGrafanaWould sends Render and RenderCSV file
// paths Grafana never sends: each is refused with the reason, before any
// render, and nothing is written or replaced.
func TestPluginWritesOnlyWhereGrafanaWould(t *testing.T) {
	g := standIn(t)
	h, _ := startHost(t, g, nil)
	data := h.DataPath()
	outside := t.TempDir()
	existing := filepath.Join(data, "png", "existing.png")
	if err := os.WriteFile(existing, []byte("Grafana's"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "followed.png"), filepath.Join(data, "png", "link.png")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path, encoding, refusal string
	}{
		{filepath.Join(outside, "evil.png"), "png", "not in a folder named png"},
		{existing, "png", "exists already"},
		{filepath.Join(data, "png", "link.png"), "png", "exists already"},
		{filepath.Join(data, "png", "x.pdf"), "pdf", "not in a folder named pdf"},
		{filepath.Join(data, "png", "x.sh"), "png", "not a png file name"},
		{"png/relative.png", "png", "not a clean absolute path"},
	} {
		req := request(g, grafanatest.ScenarioScenes, 200, 100, 1)
		req.FilePath, req.Encoding = c.path, c.encoding
		before := len(g.Visits())
		res, err := h.Renderer().Render(context.Background(), req)
		if err != nil || !strings.Contains(res.GetError(), c.refusal) {
			t.Errorf("%s: %v %q, want %q", c.path, err, res.GetError(), c.refusal)
		}
		if len(g.Visits()) != before {
			t.Errorf("%s: rendered before refusing", c.path)
		}
	}
	res, err := h.Renderer().RenderCSV(context.Background(), &pluginextensionv2.RenderCSVRequest{
		Url: g.PanelURL(grafanatest.ScenarioCSV, nil), FilePath: filepath.Join(data, "png", "x.csv"), RenderKey: g.RenderKey,
		Domain: "localhost", Timeout: 15})
	if err != nil || !strings.Contains(res.GetError(), "not in a folder named csv") {
		t.Errorf("RenderCSV into png/: %v %q", err, res.GetError())
	}
	if b, _ := os.ReadFile(existing); string(b) != "Grafana's" {
		t.Errorf("existing.png now holds %q", b)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("wrote outside Grafana's data folder: %v", entries)
	}
}

func TestPluginHealthAndResources(t *testing.T) {
	g := standIn(t)
	h, _ := startHost(t, g, nil)
	res, err := h.CheckHealth(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != pluginv2.CheckHealthResponse_OK || !strings.Contains(res.Message, "Chrome") {
		t.Errorf("health %v: %q", res.Status, res.Message)
	}
	code, _, body, err := h.CallResource(context.Background(), "GET", "health", nil, "Viewer", nil)
	if err != nil || code != 200 {
		t.Fatalf("GET health: %d %v %s", code, err, body)
	}
	var health struct {
		OK      bool   `json:"ok"`
		TLSMode string `json:"tlsMode"`
		Sandbox *struct {
			Enabled bool
			Reason  string
		} `json:"sandbox"`
	}
	if err := json.Unmarshal(body, &health); err != nil || !health.OK || health.TLSMode != "callback" {
		t.Errorf("health body %s", body)
	}
	// Where the browser's sandbox stands, and why (as root: off for root).
	if health.Sandbox == nil || health.Sandbox.Reason == "" ||
		os.Geteuid() == 0 && (health.Sandbox.Enabled || !strings.Contains(health.Sandbox.Reason, "running as root")) {
		t.Errorf("health sandbox %+v", health.Sandbox)
	}
}

func TestPluginBadConfigNamesTheKey(t *testing.T) {
	g := standIn(t)
	logs := &testenv.LogBuffer{}
	data := t.TempDir()
	h, err := pluginhost.Start(context.Background(), pluginhost.Config{
		Executable: pluginBinary(t), PluginID: "panelcast-renderer", PluginVersion: "4.0.0",
		Section: map[string]string{"tls_mode": "sometimes"}, GrafanaVersion: "12.1.0", AppURL: g.URL, DataPath: data, Stderr: logs,
	})
	if err == nil {
		h.Kill()
		t.Fatal("plugin started with tls_mode = sometimes")
	}
	if !strings.Contains(logs.String(), "tls_mode") {
		t.Errorf("plugin log does not name the key:\n%s", logs)
	}
}

// children lists the direct children of pid.
func children(pid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", n))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) && f[0] != "Z" {
			out = append(out, n)
		}
	}
	return out
}

func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	return !strings.HasPrefix(s[strings.LastIndexByte(s, ')')+2:], "Z")
}

func waitGone(t *testing.T, pids []int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, p := range pids {
		for alive(p) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if alive(p) {
			t.Errorf("process %d outlived the plugin", p)
		}
	}
}

func TestPluginStopLeavesNoBrowser(t *testing.T) {
	for _, how := range []string{"grafana-stop", "sigkill"} {
		t.Run(how, func(t *testing.T) {
			g := standIn(t)
			h, _ := startHost(t, g, nil)
			if _, err := h.Render(context.Background(), request(g, grafanatest.ScenarioScenes, 300, 150, 1)); err != nil {
				t.Fatal(err)
			}
			browsers := children(h.Pid())
			if len(browsers) == 0 {
				t.Fatal("the plugin has no browser child")
			}
			if how == "sigkill" {
				syscall.Kill(h.Pid(), syscall.SIGKILL)
			} else {
				h.Kill()
			}
			waitGone(t, append(browsers, h.Pid()))
		})
	}
}
