package pluginhost

import (
	"context"
	"encoding/json"
	"errors"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/panelcast/panelcast/internal/testenv"
	"github.com/panelcast/panelcast/pkg/pluginextensionv2"
)

var fakePlugin string // built once by TestMain

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pluginhost-fake")
	if err != nil {
		panic(err)
	}
	fakePlugin = filepath.Join(dir, rendererExecutableName())
	if err := buildPackage("./internal/pluginhost/testdata/fakeplugin", fakePlugin); err != nil {
		panic(err)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

const appURL = "http://grafana.example:3000"

func startFake(t *testing.T, cfg Config) *Host {
	t.Helper()
	if cfg.Executable == "" {
		cfg.Executable = fakePlugin
	}
	if cfg.PluginID == "" {
		cfg.PluginID = "panelcast-renderer"
	}
	if cfg.GrafanaVersion == "" {
		cfg.GrafanaVersion = "12.1.0"
	}
	cfg.AppURL = appURL
	if cfg.DataPath == "" {
		cfg.DataPath = t.TempDir()
	}
	logs := &testenv.LogBuffer{}
	cfg.Stderr = logs
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("plugin log:\n%s", logs)
		}
	})
	h, err := Start(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(h.Kill)
	return h
}

// pluginEnv asks the fake renderer for the environment it was started with.
func pluginEnv(t *testing.T, h *Host) map[string]string {
	t.Helper()
	rsp, err := h.Renderer().Render(t.Context(), &pluginextensionv2.RenderRequest{Url: "echo:env"})
	if err != nil {
		t.Fatalf("Render echo:env: %v", err)
	}
	env := map[string]string{}
	if err := json.Unmarshal([]byte(rsp.GetError()), &env); err != nil {
		t.Fatalf("decoding env: %v", err)
	}
	return env
}

func TestStartRefusesNameGrafanaWouldNotRun(t *testing.T) {
	_, err := Start(t.Context(), Config{
		Executable:     filepath.Join(t.TempDir(), "gpx_panelcast_linux_amd64"),
		PluginID:       "panelcast-renderer",
		GrafanaVersion: "12.1.0",
		AppURL:         appURL,
		DataPath:       t.TempDir(),
	})
	if err == nil || !strings.Contains(err.Error(), "plugin_start_") {
		t.Fatalf("Start = %v, want a refusal naming plugin_start_<os>_<arch>", err)
	}
}

func TestEnvironmentAsGrafanaBuildsIt(t *testing.T) {
	t.Setenv("GF_PLUGIN_PRESET", "from-grafana-env")
	t.Setenv("GF_PLUGIN_EMPTY_PRESET", "")
	t.Setenv("PANELCAST_HOST_MARKER", "host")
	data := t.TempDir()
	h := startFake(t, Config{
		DataPath: data,
		Section: map[string]string{
			"rendering_ignore_https_errors": "true",
			"Mixed_Case":                    "v",
			"path":                          "/skipped",
			"id":                            "skipped",
			"ID":                            "skipped",
			"Path":                          "kept", // Grafana skips only lowercase "path"
			"preset":                        "from-ini",
			"extra":                         "from-ini",
			"empty_preset":                  "from-ini",
		},
		ExtraEnv: []string{"GF_PLUGIN_EXTRA=from-extra-env"},
	})
	env := pluginEnv(t, h)

	want := map[string]string{
		"GF_PLUGIN_RENDERING_IGNORE_HTTPS_ERRORS": "true",
		"GF_PLUGIN_MIXED_CASE":                    "v",
		"GF_PLUGIN_PATH":                          "kept",
		"GF_PLUGIN_PRESET":                        "from-grafana-env",
		"GF_PLUGIN_EXTRA":                         "from-extra-env",
		// An empty pre-set variable does not replace the ini value in
		// Grafana's list, but the host environment is appended after it
		// and exec keeps the last value.
		"GF_PLUGIN_EMPTY_PRESET":     "",
		"GF_VERSION":                 "12.1.0",
		"GF_EDITION":                 "Open Source",
		"GF_ENTERPRISE_LICENSE_PATH": filepath.Join(data, "license.jwt"),
		"GF_ENTERPRISE_APP_URL":      appURL + "/",
		"PANELCAST_HOST_MARKER":      "host",
		"grafana_plugin_type":        "datasource",
		"PLUGIN_PROTOCOL_VERSIONS":   "2",
	}
	for k, v := range want {
		if got, ok := env[k]; !ok || got != v {
			t.Errorf("%s = %q (set %v), want %q", k, got, ok, v)
		}
	}
	for _, k := range []string{"GF_PLUGIN_ID", "GF_APP_URL", "GF_PLUGIN_VERSION", "GF_PATHS_DATA"} {
		if v, ok := env[k]; ok {
			t.Errorf("%s = %q, want unset", k, v)
		}
	}
}

type contextFacts struct {
	AppURL        string `json:"appURL"`
	ContextAppURL string `json:"contextAppURL"`
	Role          string `json:"role"`
	Login         string `json:"login"`
	OrgID         int64  `json:"orgID"`
	PluginID      string `json:"pluginID"`
	PluginVersion string `json:"pluginVersion"`
	UserAgent     string `json:"userAgent"`
}

func TestAppURLTravelsAsThatVersionSendsIt(t *testing.T) {
	for _, tc := range []struct {
		version    string
		envAppURL  bool
		contextURL bool
	}{
		{"9.5.3", false, false},
		{"10.1.0", true, false},
		{"12.1.0", false, true},
	} {
		t.Run(tc.version, func(t *testing.T) {
			h := startFake(t, Config{GrafanaVersion: tc.version, PluginVersion: "1.2.3"})
			if _, ok := pluginEnv(t, h)["GF_APP_URL"]; ok != tc.envAppURL {
				t.Errorf("GF_APP_URL in environment: %v, want %v", ok, tc.envAppURL)
			}
			rsp, err := h.CheckHealth(t.Context())
			if err != nil {
				t.Fatalf("CheckHealth: %v", err)
			}
			if rsp.GetStatus() != pluginv2.CheckHealthResponse_OK {
				t.Fatalf("CheckHealth status %v", rsp.GetStatus())
			}
			var f contextFacts
			if err := json.Unmarshal([]byte(rsp.GetMessage()), &f); err != nil {
				t.Fatal(err)
			}
			if f.Role != "Admin" || f.OrgID != 1 || f.PluginID != "panelcast-renderer" {
				t.Errorf("plugin context %+v, want Admin in org 1 for panelcast-renderer", f)
			}
			wantURL, wantUA, wantPluginVersion := "", "", ""
			if tc.contextURL {
				wantURL, wantUA, wantPluginVersion = appURL+"/", "Grafana/"+tc.version+" (", "1.2.3"
			}
			if f.ContextAppURL != wantURL || !strings.HasPrefix(f.UserAgent, wantUA) || f.PluginVersion != wantPluginVersion {
				t.Errorf("context appURL %q userAgent %q pluginVersion %q, want %q %q… %q",
					f.ContextAppURL, f.UserAgent, f.PluginVersion, wantURL, wantUA, wantPluginVersion)
			}
			// The SDK's AppURL() falls back to GF_APP_URL, so 10.1–10.2 answer too.
			if sdkKnows := tc.envAppURL || tc.contextURL; (f.AppURL != "") != sdkKnows {
				t.Errorf("SDK AppURL() = %q, want known: %v", f.AppURL, sdkKnows)
			}
		})
	}
}

type resourceEcho struct {
	contextFacts
	Method  string              `json:"method"`
	Path    string              `json:"path"`
	URL     string              `json:"url"`
	Headers map[string][]string `json:"headers"`
	Body    string              `json:"body"`
}

func TestCallResourceCarriesRoleAndHeadersAsGrafana(t *testing.T) {
	h := startFake(t, Config{})
	for _, role := range []string{"Viewer", "Editor", "Admin"} {
		code, hdr, body, err := h.CallResource(t.Context(), "POST", "/settings/slack?x=1", []byte("hi"), role, map[string][]string{
			"Authorization":   {"Bearer secret"},
			"Cookie":          {"grafana_session=abc"},
			"Referer":         {"http://grafana.example:3000/d/x"},
			"Origin":          {"http://grafana.example:3000"},
			"X-Forwarded-For": {"10.0.0.9"},
			"accept-language": {"de-DE"},
		})
		if err != nil {
			t.Fatalf("CallResource as %s: %v", role, err)
		}
		if code != 201 {
			t.Fatalf("status %d, want the plugin's 201", code)
		}
		var e resourceEcho
		if err := json.Unmarshal(body, &e); err != nil {
			t.Fatalf("decoding %s: %v", body, err)
		}
		if e.Role != role || e.Login != strings.ToLower(role) || e.ContextAppURL != appURL+"/" {
			t.Errorf("context role %q login %q appURL %q, want %s", e.Role, e.Login, e.ContextAppURL, role)
		}
		if e.Method != "POST" || e.Path != "settings/slack" || e.URL != "settings/slack?x=1" || e.Body != "hi" {
			t.Errorf("request %s %q %q %q", e.Method, e.Path, e.URL, e.Body)
		}
		got := func(k string) string { return strings.Join(e.Headers[k], ",") }
		for k, want := range map[string]string{
			"Authorization":     "",
			"Referer":           "",
			"Origin":            "",
			"Cookie":            "grafana_session=abc",
			"X-Grafana-Referer": "http://grafana.example:3000/d/x",
			"X-Forwarded-For":   "10.0.0.9, 127.0.0.1",
			"Accept-Language":   "de-DE",
		} {
			if got(k) != want {
				t.Errorf("plugin got %s = %q, want %q", k, got(k), want)
			}
		}
		if hdr["Set-Cookie"] != nil || hdr["X-Echo"] == nil ||
			strings.Join(hdr["Content-Type"], "") != "application/json" ||
			strings.Join(hdr["Content-Security-Policy"], "") != "sandbox" {
			t.Errorf("response headers %v", hdr)
		}
	}
	if _, _, _, err := h.CallResource(t.Context(), "GET", "x", nil, "admin", nil); err == nil {
		t.Error("lowercase role accepted; Grafana's roles are Viewer, Editor, Admin, None")
	}
}

func TestRenderWritesUnderDataPath(t *testing.T) {
	data := t.TempDir()
	h := startFake(t, Config{DataPath: data})
	path, err := h.Render(t.Context(), &pluginextensionv2.RenderRequest{
		Url: appURL + "/d-solo/abc/x?orgId=1&panelId=2&render=1", Width: 1000, Height: 500,
		DeviceScaleFactor: 1, Timeout: 30, RenderKey: "key", Domain: "grafana.example",
	})
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	if !regexp.MustCompile(`^[0-9A-Za-z]{20}\.png$`).MatchString(filepath.Base(path)) || filepath.Dir(path) != filepath.Join(data, "png") {
		t.Errorf("file path %s, want %s/png/<20 alphanumerics>.png", path, data)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil || img.Bounds().Dx() != 1 {
		t.Errorf("rendered file is not the 1x1 PNG: %v", err)
	}
}

func TestRenderDeadlineIsTwiceTheTimeout(t *testing.T) {
	h := startFake(t, Config{})
	_, err := h.Render(t.Context(), &pluginextensionv2.RenderRequest{Url: "echo:deadline", Timeout: 3})
	msg, ok := strings.CutPrefix(fmtErr(err), "rendering failed: ")
	if !ok {
		t.Fatalf("Render = %v, want the echoed deadline", err)
	}
	ms, err := strconv.Atoi(msg)
	if err != nil {
		t.Fatal(err)
	}
	if ms <= 5000 || ms > 6000 {
		t.Errorf("plugin saw %d ms left, want just under 6000 (timeout 3 s × 2)", ms)
	}

	start := time.Now()
	_, err = h.Render(t.Context(), &pluginextensionv2.RenderRequest{Url: "hang", Timeout: 1})
	if !errors.Is(err, ErrTimeout) {
		t.Errorf("hanging render: %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d < 2*time.Second || d > 4*time.Second {
		t.Errorf("hanging render gave up after %v, want about 2 s", d)
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestKillStopsThePlugin(t *testing.T) {
	for _, tc := range []struct {
		name     string
		env      []string
		min, max time.Duration
	}{
		{"graceful", nil, 0, 1500 * time.Millisecond},
		// A plugin that outlives the shutdown RPC is SIGKILLed after 2 s.
		{"forced", []string{"FAKEPLUGIN_STUBBORN=1"}, 2 * time.Second, 4 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := startFake(t, Config{ExtraEnv: tc.env})
			pid := h.Pid()
			if pid <= 0 || h.Exited() {
				t.Fatalf("pid %d exited %v before Kill", pid, h.Exited())
			}
			start := time.Now()
			h.Kill()
			if d := time.Since(start); d < tc.min || d > tc.max {
				t.Errorf("Kill took %v, want between %v and %v", d, tc.min, tc.max)
			}
			if !h.Exited() {
				t.Error("Exited() = false after Kill")
			}
			if !processGone(pid) {
				t.Errorf("process %d still exists after Kill", pid)
			}
			if code, _, _, err := h.CallResource(context.Background(), "GET", "x", nil, "Viewer", nil); code != 503 || err == nil {
				t.Errorf("CallResource after Kill: %d %v, want Grafana's 503", code, err)
			}
		})
	}
}

func processGone(pid int) bool {
	for range 50 {
		if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// Grafana gates Sanitize on plugin.json's version and calls the Sanitizer
// service on the renderer's connection; the fake plugin serves none.
func TestSanitizeAsGrafanaCallsIt(t *testing.T) {
	h := startFake(t, Config{PluginVersion: "4.0.0-3-gabc1234-dirty"})
	if _, err := h.Sanitize(t.Context(), "", []byte("<svg/>")); !errors.Is(err, ErrSanitizeUnsupported) {
		t.Errorf("pre-release version: %v, want Grafana's refusal before any call", err)
	}
	h = startFake(t, Config{PluginVersion: "4.0.0"})
	if _, err := h.Sanitize(t.Context(), "", []byte("<svg/>")); status.Code(err) != codes.Unimplemented {
		t.Errorf("err = %v, want the plugin's Unimplemented answer", err)
	}
}

// Each way of installing Grafana gives its process, and so the renderer, a
// different environment; what tells the plugin Grafana's data folder
// differs with it.
func TestEnvironmentByInstall(t *testing.T) {
	t.Setenv("GF_PATHS_DATA", "/from/the/test/shell")
	t.Setenv("PANELCAST_HOST_MARKER", "shell")
	data := t.TempDir()

	env := pluginEnv(t, startFake(t, Config{DataPath: data, Install: InstallPackage}))
	if env["DATA_DIR"] != data || env["PLUGINS_DIR"] != filepath.Join(data, "plugins") || env["CONF_FILE"] != "/etc/grafana/grafana.ini" {
		t.Errorf("deb/rpm: DATA_DIR %q PLUGINS_DIR %q CONF_FILE %q", env["DATA_DIR"], env["PLUGINS_DIR"], env["CONF_FILE"])
	}
	for _, k := range []string{"GF_PATHS_DATA", "PANELCAST_HOST_MARKER"} {
		if v, ok := env[k]; ok {
			t.Errorf("deb/rpm: %s = %q comes from the shell, which systemd does not pass on", k, v)
		}
	}
	if env["USER"] != "grafana" || env["INVOCATION_ID"] == "" || !strings.Contains(env["PATH"], "/usr/bin") {
		t.Errorf("deb/rpm: USER %q INVOCATION_ID %q PATH %q", env["USER"], env["INVOCATION_ID"], env["PATH"])
	}
	if err := os.MkdirAll(filepath.Join(env["HOME"], ".cache"), 0o700); err == nil {
		t.Errorf("deb/rpm: HOME %s is writable; the grafana user's home is not", env["HOME"])
	}

	env = pluginEnv(t, startFake(t, Config{DataPath: data, Install: InstallDocker}))
	if env["GF_PATHS_DATA"] != data || env["GF_PATHS_HOME"] != "/usr/share/grafana" || env["PANELCAST_HOST_MARKER"] != "shell" {
		t.Errorf("docker: GF_PATHS_DATA %q GF_PATHS_HOME %q", env["GF_PATHS_DATA"], env["GF_PATHS_HOME"])
	}
	if _, ok := env["DATA_DIR"]; ok {
		t.Error("docker: DATA_DIR is set")
	}

	env = pluginEnv(t, startFake(t, Config{DataPath: data}))
	if env["GF_PATHS_DATA"] != "/from/the/test/shell" {
		t.Errorf("by hand: GF_PATHS_DATA %q, want the shell's", env["GF_PATHS_DATA"])
	}
}
