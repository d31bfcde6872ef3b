package appe2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/proto"

	"github.com/panelcast/panelcast/internal/fakechat/slackfake"
	"github.com/panelcast/panelcast/internal/grafanatest"
	"github.com/panelcast/panelcast/internal/pluginhost"
	"github.com/panelcast/panelcast/internal/rodlaunch"
	"github.com/panelcast/panelcast/internal/testenv"
	"github.com/panelcast/panelcast/pkg/app"
	"github.com/panelcast/panelcast/pkg/config"
	"github.com/panelcast/panelcast/pkg/demo"
	"github.com/panelcast/panelcast/pkg/render"
	"github.com/panelcast/panelcast/pkg/secret"
	"github.com/panelcast/panelcast/pkg/service"
)

const (
	grafanaToken = "glsa_e2e_token"
	slackToken   = "xoxb-e2e-token"
	opsChannel   = "C0OPS00001"
	otherChannel = "C0OTHER001"
	resources    = "/api/plugins/" + app.ID + "/resources/"
)

// TestSendToChat opens "Send to chat…" of the built module.js in Chromium,
// once on a page with React 18 (Grafana 12) and once with React 19
// (Grafana 13), waits for the preview, picks a destination, writes a
// message, sends, and waits for the modal to say it was sent. The picture
// must arrive in the Slack fake's channel as the very PNG bytes the
// preview showed.
//
// PANELCAST_E2E_PAGES is the folder with e2e-react18/ and e2e-react19/
// (index.html, host.js, SystemJS), which npm run test:browser builds
// before it runs this test; module.js is dist/module.js (npm run build).
// Without them the test skips, unless PANELCAST_E2E_REQUIRED is set (as
// run.mjs sets it), when it fails.
func TestSendToChat(t *testing.T) {
	skip := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("PANELCAST_E2E_REQUIRED") != "" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format, args...)
	}
	pages := os.Getenv("PANELCAST_E2E_PAGES")
	if pages == "" {
		skip("the end-to-end pages are built by npm run test:browser (.config/browser/run.mjs), which runs this test with PANELCAST_E2E_PAGES set")
	}
	_, file, _, _ := runtime.Caller(0)
	module := filepath.Join(filepath.Dir(file), "..", "..", "dist", "module.js")
	if _, err := os.Stat(module); err != nil {
		skip("dist/module.js is missing: build the app's frontend first (npm ci && npm run build): %v", err)
	}
	testenv.NeedChromium(t, render.FindChromium)
	chromium, err := render.FindChromium("")
	if err != nil {
		t.Fatal(err)
	}
	exe, err := pluginhost.BuildApp(t.TempDir(), app.Executable)
	if err != nil {
		t.Fatal(err)
	}
	for _, react := range []string{"18", "19"} {
		t.Run("React"+react, func(t *testing.T) {
			dir := filepath.Join(pages, "e2e-react"+react)
			if _, err := os.Stat(filepath.Join(dir, "index.html")); err != nil {
				skip("no page for React %s: %v", react, err)
			}
			sendToChat(t, react, dir, module, exe, chromium)
		})
	}
}

// world is Grafana as the browser and the app see it: the stand-in for
// its pages and /render, the app's backend as Grafana runs it, and the
// chat.
type world struct {
	g     *grafanatest.Server
	slack *slackfake.Server
	h     *pluginhost.Host
	logs  *testenv.LogBuffer

	mu       sync.Mutex
	previews [][]byte // what /render/d-solo answered the browser
	calls    []string // the resource calls the browser made
	unknown  []string // requests Grafana would have answered 404
}

func start(t *testing.T, exe string) *world {
	t.Helper()
	// Grafana's /render goes to a renderer, Panelcast's here, which draws
	// the demo dashboard built from Grafana's own frontend libraries.
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r, err := render.New(context.Background(), service.RenderOptions(config.Default(), nil, log))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	renderer := func(ctx context.Context, page, key string, width, height int) ([]byte, error) {
		return r.Render(ctx, render.Request{URL: page, Width: width, Height: height, Scale: 1, Timeout: 30 * time.Second,
			Encoding: render.PNG, Timezone: "UTC", Cookies: []render.Cookie{{Name: "renderKey", Value: secret.New(key)}}})
	}
	g, err := grafanatest.Start(grafanatest.Options{ServiceAccountToken: grafanaToken, Renderer: renderer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	slack := slackfake.New(slackToken)
	t.Cleanup(slack.Close)
	slack.AddChannel(opsChannel, "ops", true)
	slack.AddChannel(otherChannel, "other", true)
	w := &world{g: g, slack: slack, logs: &testenv.LogBuffer{}}
	// Two destinations, the other one preselected: the test picks Ops.
	jsonData, err := json.Marshal(map[string]any{
		"grafana_url": g.URL, "slack_api_url": slack.APIURL(), "outbox_path": filepath.Join(t.TempDir(), "outbox.db"),
		"destinations": []map[string]string{{"name": "Ops on Slack", "to": "slack:#ops"}, {"name": "Other on Slack", "to": "slack:#other"}},
		"default_to":   "slack:#other",
	})
	if err != nil {
		t.Fatal(err)
	}
	w.h, err = pluginhost.Start(context.Background(), pluginhost.Config{
		Executable: exe, AppExecutable: app.Executable, PluginID: app.ID, PluginVersion: "1.0.0",
		GrafanaVersion: "12.1.0", AppURL: g.URL, DataPath: t.TempDir(), Stderr: w.logs,
		App: &pluginhost.AppSettings{JSONData: jsonData, Updated: time.Now(),
			Secure: map[string]string{"grafana_token": grafanaToken, "slack_bot_token": slackToken}},
	})
	if err != nil {
		t.Fatalf("start the app: %v\nlog:\n%s", err, w.logs)
	}
	t.Cleanup(w.h.Kill)
	return w
}

// serve is Grafana's HTTP server as the browser meets it: the page and
// its assets (the plugin's module.js from dist/), the app's resources
// passed to the backend as the signed-in Editor (pkg/api/plugin_resource.go),
// and /render answered by the stand-in in the user's session.
func (w *world) serve(t *testing.T, dir, module string) string {
	t.Helper()
	editor := pluginhost.RoleUser("Editor")
	static := http.FileServer(http.Dir(dir))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /module.js", func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cache-Control", "no-store")
		http.ServeFile(rw, r, module)
	})
	mux.HandleFunc("GET /module.js.map", func(rw http.ResponseWriter, r *http.Request) {
		http.ServeFile(rw, r, module+".map")
	})
	for _, f := range []string{"/{$}", "/index.html", "/host.js", "/s.js", "/amd.js"} {
		mux.Handle("GET "+f, static)
	}
	mux.HandleFunc(resources, func(rw http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, 64<<20))
		if err != nil {
			http.Error(rw, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		path := strings.TrimPrefix(r.URL.Path, resources)
		if r.URL.RawQuery != "" {
			path += "?" + r.URL.RawQuery
		}
		w.note(&w.calls, r.Method+" "+path)
		code, hdr, out, err := w.h.CallResourceAs(r.Context(), r.Method, path, body, editor, r.Header)
		if err != nil {
			t.Logf("%s %s: %v", r.Method, path, err)
		}
		for k, vs := range hdr {
			for _, v := range vs {
				rw.Header().Add(k, v)
			}
		}
		rw.WriteHeader(code)
		_, _ = rw.Write(out)
	})
	mux.HandleFunc("GET /render/", func(rw http.ResponseWriter, r *http.Request) {
		req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, w.g.URL+r.URL.RequestURI(), nil)
		if err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		// The user's session: the stand-in's render key cookie, not the
		// app's service-account token.
		req.AddCookie(&http.Cookie{Name: "renderKey", Value: w.g.RenderKey})
		rsp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(rw, err.Error(), http.StatusBadGateway)
			return
		}
		defer rsp.Body.Close()
		out, err := io.ReadAll(rsp.Body)
		if err != nil {
			http.Error(rw, err.Error(), http.StatusBadGateway)
			return
		}
		if rsp.StatusCode == http.StatusOK {
			w.note(&w.previews, out)
		}
		rw.Header().Set("Content-Type", rsp.Header.Get("Content-Type"))
		rw.WriteHeader(rsp.StatusCode)
		_, _ = rw.Write(out)
	})
	// Grafana's own assets (@grafana/ui's fonts and icons, the favicon)
	// are Grafana's shell, not the plugin's: not served here.
	mux.HandleFunc("GET /public/", http.NotFound)
	mux.HandleFunc("GET /favicon.ico", http.NotFound)
	mux.HandleFunc("/", func(rw http.ResponseWriter, r *http.Request) {
		w.note(&w.unknown, r.Method+" "+r.URL.RequestURI())
		http.NotFound(rw, r)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

func (w *world) note(list any, v any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch l := list.(type) {
	case *[]string:
		*l = append(*l, v.(string))
	case *[][]byte:
		*l = append(*l, v.([]byte))
	}
}

func (w *world) snapshot() (previews [][]byte, calls, unknown []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([][]byte(nil), w.previews...), append([]string(nil), w.calls...), append([]string(nil), w.unknown...)
}

func sendToChat(t *testing.T, react, dir, module, exe, chromium string) {
	began := time.Now()
	w := start(t, exe)
	base := w.serve(t, dir, module)

	b, stop, err := rodlaunch.Launch(chromium, "window-size", "1200,1000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	raw, err := b.Page(proto.TargetCreateTarget{URL: base + "/"})
	if err != nil {
		t.Fatal(err)
	}
	page := raw.Timeout(60 * time.Second)
	if err := page.WaitLoad(); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(filepath.Dir(dir), "e2e-react"+react+".png")
	fail := func(format string, args ...any) {
		t.Helper()
		quick := raw.Timeout(5 * time.Second)
		if png, err := quick.Screenshot(true, nil); err == nil {
			_ = os.WriteFile(shot, png, 0o644)
		}
		text, _ := quick.Eval(`() => document.body.innerText`)
		previews, calls, unknown := w.snapshot()
		body := ""
		if text != nil {
			body = text.Value.Str()
		}
		t.Fatalf("React %s: %s\npage text:\n%s\nresource calls: %q\nrenders: %d, unknown requests: %q\nscreenshot: %s\napp log:\n%s",
			react, fmt.Sprintf(format, args...), body, calls, len(previews), unknown, shot, w.logs)
	}

	// module.js loaded through SystemJS's AMD extra, on the React asked for.
	var result struct {
		Loaded bool   `json:"loaded"`
		React  string `json:"react"`
		Title  string `json:"title"`
		Error  string `json:"error"`
	}
	if err := waitFor(page, `() => document.getElementById('result')?.textContent ?? ''`, func(s string) bool { return s != "" }, func(s string) error {
		return json.Unmarshal([]byte(s), &result)
	}); err != nil {
		fail("the page reported nothing: %v", err)
	}
	if !result.Loaded || result.Error != "" || !strings.HasPrefix(result.React, react+".") || result.Title != "Send to chat…" {
		fail("the page reported %+v", result)
	}

	// The panel menu's "Send to chat…".
	menu, err := page.Element("#menu")
	if err != nil {
		fail("no menu entry: %v", err)
	}
	if err := menu.Click("left", 1); err != nil {
		fail("click Send to chat…: %v", err)
	}
	// The preview: rendered through /render/d-solo in the user's session,
	// and loaded into the <img>.
	if err := waitFor(page, `() => { const i = document.querySelector('img[alt="Preview of CPU usage"]'); return i && i.complete ? i.naturalWidth + 'x' + i.naturalHeight : '' }`,
		func(s string) bool { return s != "" }, func(s string) error {
			if s != "1000x500" {
				return fmt.Errorf("the preview is %s, want 1000x500", s)
			}
			return nil
		}); err != nil {
		fail("no preview: %v", err)
	}
	// The destinations arrived with the other one preselected: pick Ops.
	if err := waitFor(page, `() => document.body.innerText.includes('Other on Slack') ? 'yes' : ''`, func(s string) bool { return s != "" }, nil); err != nil {
		fail("the preselected destination never showed: %v", err)
	}
	to, err := page.Element("#panelcast-to")
	if err != nil {
		fail("no destination field: %v", err)
	}
	if err := to.Click("left", 1); err != nil {
		fail("open the destinations: %v", err)
	}
	option, err := page.ElementR(`[data-testid="data-testid Select option"], [role="option"]`, `^Ops on Slack`)
	if err != nil {
		fail("no option Ops on Slack: %v", err)
	}
	if err := option.Click("left", 1); err != nil {
		fail("pick Ops on Slack: %v", err)
	}
	text := "From the browser, React " + react
	area, err := page.Element("#panelcast-text")
	if err != nil {
		fail("no message field: %v", err)
	}
	if err := area.Input(text); err != nil {
		fail("write the message: %v", err)
	}
	shoot(t, page, react, "send-to-chat.png")
	send, err := page.ElementR("button", `^Send$`)
	if err != nil {
		fail("no Send button: %v", err)
	}
	if err := send.Click("left", 1); err != nil {
		fail("click Send: %v", err)
	}
	// The modal follows the message until it is sent (or has failed).
	var outcome string
	if err := waitFor(page, `() => { const t = document.body.innerText; return t.includes('Sent to Ops on Slack') ? 'sent' : t.includes('Not sent') ? 'failed' : '' }`,
		func(s string) bool { return s != "" }, func(s string) error { outcome = s; return nil }); err != nil || outcome != "sent" {
		fail("the modal never said Sent to Ops on Slack (%s): %v", outcome, err)
	}
	if png, err := page.Screenshot(true, nil); err == nil {
		_ = os.WriteFile(shot, png, 0o644)
	}
	shoot(t, page, react, "send-to-chat-sent.png")

	// The chat got the very picture the preview showed, in #ops, once.
	previews, calls, unknown := w.snapshot()
	msgs := w.slack.Messages()
	if len(msgs) != 1 {
		fail("Slack received %d messages, want 1: %+v", len(msgs), msgs)
	}
	m := msgs[0]
	if m.ChannelID != opsChannel || m.Text != text || len(m.Files) != 1 {
		fail("Slack received in %s %q with %d files, want in %s %q with 1", m.ChannelID, m.Text, len(m.Files), opsChannel, text)
	}
	if len(previews) == 0 {
		fail("the browser rendered no preview through /render")
	}
	sent := m.Files[0].Data
	if !bytes.Equal(sent, previews[len(previews)-1]) {
		fail("the picture in Slack (%d bytes) is not the preview (%d bytes)", len(sent), len(previews[len(previews)-1]))
	}
	img, err := png.Decode(bytes.NewReader(sent))
	if err != nil || img.Bounds().Dx() != 1000 || img.Bounds().Dy() != 500 {
		fail("the picture in Slack is not a 1000x500 PNG: %v", err)
	}
	if _, err := grafanatest.CheckDemoPicture(img); err != nil {
		fail("the picture in Slack is not the demo panel as Grafana draws it: %v", err)
	}
	// "Open in chat" is the message's permalink, and it opens the message
	// with the picture (in the fake's view of it).
	href, err := page.Eval(`() => document.querySelector('a[href*="/archives/"]')?.href ?? ''`)
	if err != nil || !strings.HasPrefix(href.Value.Str(), w.slack.URL()+"/archives/"+opsChannel+"/p"+strings.ReplaceAll(m.TS, ".", "")) {
		fail("the modal links to %v (%v), not to the message in #ops", href, err)
	}
	chat, err := b.Page(proto.TargetCreateTarget{URL: href.Value.Str()})
	if err != nil {
		fail("open the permalink: %v", err)
	}
	chat = chat.Timeout(30 * time.Second)
	if err := chat.WaitLoad(); err != nil {
		fail("load the permalink: %v", err)
	}
	if err := waitFor(chat, `() => { const i = document.querySelector('.file img'); return i && i.complete ? i.naturalWidth + 'x' + i.naturalHeight + ' ' + document.body.innerText : '' }`,
		func(s string) bool { return s != "" }, func(s string) error {
			if !strings.HasPrefix(s, "1000x500 ") || !strings.Contains(s, text) {
				return fmt.Errorf("the message shows %q", s)
			}
			return nil
		}); err != nil {
		fail("the permalink does not show the message: %v", err)
	}
	shoot(t, chat, react, "send-to-chat-message.png")
	// The browser's render asked for the panel as the context and the page
	// describe it; the app rendered nothing itself (it had the picture).
	renders := 0
	for _, v := range w.g.Visits() {
		if !strings.HasPrefix(v.Path, "/render/") {
			continue
		}
		if v.Header.Get("Authorization") != "" {
			fail("the app rendered %s itself though the browser sent the picture", v.Path)
		}
		renders++
		q := v.Query
		if v.Path != "/render/d-solo/"+demo.DashboardUID+"/demo" || q.Get("panelId") != strconv.Itoa(demo.PanelID) || q.Get("orgId") != "1" || q.Get("from") != "now-6h" ||
			q.Get("to") != "now" || q.Get("tz") != "UTC" || q.Get("var-cluster") != "prod" || q.Has("var-__interval") ||
			q.Get("width") != "1000" || q.Get("height") != "500" {
			fail("the preview was rendered as %s?%s", v.Path, q.Encode())
		}
	}
	if renders != len(previews) {
		fail("%d renders reached the stand-in, %d previews were served", renders, len(previews))
	}
	pushes := 0
	for _, c := range calls {
		if c == "POST push" {
			pushes++
		}
	}
	if pushes != 1 || calls[0] != "GET destinations" {
		fail("resource calls %q, want GET destinations, one POST push, then GET push/<id>", calls)
	}
	if len(unknown) != 0 {
		fail("the page asked for %q, which Grafana would not serve", unknown)
	}
	if strings.Contains(w.logs.String(), slackToken) || strings.Contains(w.logs.String(), grafanaToken) {
		fail("a token is in the app's log")
	}
	t.Logf("React %s: module.js loaded by SystemJS (AMD); previewed, picked Ops on Slack, sent; Slack got the preview's %d PNG bytes in #ops (%s)",
		result.React, len(sent), time.Since(began).Round(100*time.Millisecond))
}

// shoot writes a screenshot of page into $PANELCAST_E2E_SHOTS (make
// screenshots sets it to docs/), from the React 19 run, as Grafana 13 shows
// it; otherwise nothing.
func shoot(t *testing.T, page *rod.Page, react, name string) {
	t.Helper()
	dir := os.Getenv("PANELCAST_E2E_SHOTS")
	if dir == "" || react != "19" {
		return
	}
	png, err := page.Screenshot(true, &proto.PageCaptureScreenshot{Format: proto.PageCaptureScreenshotFormatPng})
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, name), png, 0o644)
	}
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
}

// waitFor evaluates js (returning a string) every 100 ms until done says
// so, then hands the value to check (which may be nil).
func waitFor(page *rod.Page, js string, done func(string) bool, check func(string) error) error {
	var last string
	for {
		v, err := page.Eval(js)
		if err != nil {
			return fmt.Errorf("%w (last %q)", err, last)
		}
		last = v.Value.Str()
		if done(last) {
			if check == nil {
				return nil
			}
			return check(last)
		}
		select {
		case <-page.GetContext().Done():
			return fmt.Errorf("timed out (last %q)", last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
