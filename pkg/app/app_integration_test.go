package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"mime/multipart"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/panelcast/panelcast/internal/fakechat/slackfake"
	"github.com/panelcast/panelcast/internal/grafanatest"
	"github.com/panelcast/panelcast/internal/pgtest"
	"github.com/panelcast/panelcast/internal/pluginhost"
	"github.com/panelcast/panelcast/internal/testenv"
	"github.com/panelcast/panelcast/pkg/app"
	"github.com/panelcast/panelcast/pkg/service"
)

const (
	grafanaToken      = "glsa_app_token"
	slackToken        = "xoxb-app-token"
	wrongGrafanaToken = "glsa_app_wrong_token"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func appBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "panelcast-app-")
		if err != nil {
			buildErr = err
			return
		}
		binPath, buildErr = pluginhost.BuildApp(dir, app.Executable)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

type world struct {
	g     *grafanatest.Server
	slack *slackfake.Server
	h     *pluginhost.Host
	logs  *testenv.LogBuffer
	plain map[string]any
	// secure overrides the tokens of secureJsonData.
	secure map[string]string
}

// start starts a stand-in Grafana, a fake Slack with #ops (C0OPS00001)
// and #other (C0OTHER001), and the app's backend as Grafana starts it,
// with the app's settings: plain keys plus extra in jsonData, the tokens
// in secureJsonData.
func start(t *testing.T, extra map[string]any) *world {
	t.Helper()
	return startWith(t, extra, nil)
}

func startWith(t *testing.T, extra map[string]any, secure map[string]string, host ...func(*pluginhost.Config)) *world {
	t.Helper()
	g, err := grafanatest.Start(grafanatest.Options{ServiceAccountToken: grafanaToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	slack := slackfake.New(slackToken)
	t.Cleanup(slack.Close)
	slack.AddChannel("C0OPS00001", "ops", true)
	slack.AddChannel("C0OTHER001", "other", true)
	w := &world{g: g, slack: slack, logs: &testenv.LogBuffer{}, secure: secure, plain: map[string]any{
		"grafana_url": g.URL, "slack_api_url": slack.APIURL(), "outbox_path": filepath.Join(t.TempDir(), "outbox.db"),
		"destinations": []map[string]string{{"name": "Ops on Slack", "to": "slack:#ops"}}, "default_to": "slack:#ops",
		"alert_width": 500, "alert_height": 250,
	}}
	for k, v := range extra {
		w.plain[k] = v
	}
	w.h = w.replica(t, host...)
	return w
}

// replica starts the app's backend as one more Grafana would, with the
// world's settings and its own data folder.
func (w *world) replica(t *testing.T, host ...func(*pluginhost.Config)) *pluginhost.Host {
	t.Helper()
	cfg := pluginhost.Config{
		Executable: appBinary(t), AppExecutable: app.Executable, PluginID: app.ID, PluginVersion: "1.0.0",
		GrafanaVersion: "12.1.0", AppURL: w.g.URL, DataPath: t.TempDir(), Stderr: w.logs, App: w.settings(t, time.Now()),
	}
	for _, f := range host {
		f(&cfg)
	}
	h, err := pluginhost.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start the app: %v\nlog:\n%s", err, w.logs)
	}
	t.Cleanup(h.Kill)
	return h
}

func (w *world) settings(t *testing.T, updated time.Time) *pluginhost.AppSettings {
	t.Helper()
	b, err := json.Marshal(w.plain)
	if err != nil {
		t.Fatal(err)
	}
	secure := map[string]string{"grafana_token": grafanaToken, "slack_bot_token": slackToken}
	for k, v := range w.secure {
		secure[k] = v
	}
	return &pluginhost.AppSettings{JSONData: b, Updated: updated, Secure: secure}
}

var jsonHeaders = map[string][]string{"Content-Type": {"application/json"}}

func (w *world) call(t *testing.T, method, path, role string, body []byte, headers map[string][]string) (int, []byte) {
	t.Helper()
	code, _, out, err := w.h.CallResource(context.Background(), method, path, body, role, headers)
	if err != nil {
		t.Fatalf("%s %s: %v\nlog:\n%s", method, path, err, w.logs)
	}
	return code, out
}

// pushSent posts a push as role and waits until it is sent; it returns
// the 202 answer.
func (w *world) pushSent(t *testing.T, role string, body []byte, headers map[string][]string) []byte {
	t.Helper()
	code, out := w.call(t, "POST", "push", role, body, headers)
	if code != 202 {
		t.Fatalf("push as %s: %d %s\nlog:\n%s", role, code, out, w.logs)
	}
	if st := w.wait(t, out); st.State != "sent" {
		t.Fatalf("push %+v\nlog:\n%s", st, w.logs)
	}
	return out
}

// push answers 202 with an id; wait follows it to its end.
func (w *world) wait(t *testing.T, out []byte) service.PushStatus {
	t.Helper()
	var queued struct{ ID, State string }
	if err := json.Unmarshal(out, &queued); err != nil || queued.ID == "" || queued.State != "queued" {
		t.Fatalf("answer %s", out)
	}
	var st service.PushStatus
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		code, out := w.call(t, "GET", "push/"+queued.ID, "Admin", nil, nil)
		if code != 200 || json.Unmarshal(out, &st) != nil {
			t.Fatalf("status: %d %s", code, out)
		}
		if st.State == "sent" || st.State == "failed" {
			break
		}
	}
	return st
}

func (w *world) noSecrets(t *testing.T, texts ...[]byte) {
	t.Helper()
	for _, secret := range []string{grafanaToken, slackToken, wrongGrafanaToken} {
		if strings.Contains(w.logs.String(), secret) {
			t.Errorf("%s is in the app's log", secret)
		}
		for _, text := range texts {
			if bytes.Contains(text, []byte(secret)) {
				t.Errorf("%s is in an answer: %s", secret, text)
			}
		}
	}
}

func solidPNG(t *testing.T, width, height int, c color.RGBA) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// upload is the multipart body the app's "Send to chat…" sends.
func upload(t *testing.T, request string, picture []byte, pictureType string) ([]byte, map[string][]string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	if request != "" {
		if err := mw.WriteField("request", request); err != nil {
			t.Fatal(err)
		}
	}
	if picture != nil {
		part, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Disposition": {`form-data; name="picture"; filename="panel.png"`}, "Content-Type": {pictureType}})
		if err != nil {
			t.Fatal(err)
		}
		_, _ = part.Write(picture)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), map[string][]string{"Content-Type": {mw.FormDataContentType()}}
}

// The settings page's destinations, never a token, for those who may push.
func TestAppDestinations(t *testing.T) {
	w := start(t, nil)
	code, out := w.call(t, "GET", "destinations", "Editor", nil, nil)
	want := `{"destinations":[{"name":"Ops on Slack","to":"slack:#ops"}],"freeAddresses":true,"defaultTo":"slack:#ops",` +
		`"chats":[{"provider":"slack","configured":true},{"provider":"mattermost","configured":false},{"provider":"discord","configured":false},{"provider":"telegram","configured":false}]}`
	if code != 200 || strings.TrimSpace(string(out)) != want {
		t.Errorf("destinations: %d %s\nwant %s", code, out, want)
	}
	if code, out := w.call(t, "GET", "destinations", "Viewer", nil, nil); code != 403 || !strings.Contains(string(out), "needs the Editor role") {
		t.Errorf("Viewer: %d %s", code, out)
	}
	w.noSecrets(t, out)
}

// A push without a picture is rendered through Grafana's /render as the
// service account, with the panel's variables; one with a picture sends
// the picture as it is.
func TestAppPush(t *testing.T) {
	w := start(t, nil)
	body := []byte(`{"panel": {"dashboardUid": "scenes", "panelId": 2, "from": "now-1h", "to": "now", "vars": {"cluster": "prod"}, "width": 500, "height": 250},
		"to": "slack:#ops", "text": "rendered by Grafana"}`)
	if code, out := w.call(t, "POST", "push", "Viewer", body, jsonHeaders); code != 403 || !strings.Contains(string(out), "pushing needs the Editor role and viewer has Viewer") {
		t.Errorf("Viewer: %d %s", code, out)
	}
	code, out := w.call(t, "POST", "push", "Editor", body, jsonHeaders)
	if code != 202 {
		t.Fatalf("push: %d %s\nlog:\n%s", code, out, w.logs)
	}
	st := w.wait(t, out)
	if st.State != "sent" || st.Attempts != 1 || st.Permalink == "" || st.Error != "" {
		t.Fatalf("push %+v\nlog:\n%s", st, w.logs)
	}
	msgs := w.slack.Messages()
	if len(msgs) != 1 || msgs[0].ChannelID != "C0OPS00001" || msgs[0].Text != "rendered by Grafana" || len(msgs[0].Files) != 1 {
		t.Fatalf("Slack received %+v", msgs)
	}
	img, err := png.Decode(bytes.NewReader(msgs[0].Files[0].Data))
	if err != nil || img.Bounds().Dx() != 500 || img.Bounds().Dy() != 250 || color.RGBAModel.Convert(img.At(10, 10)) != grafanatest.RenderedColor {
		t.Fatalf("the picture is not Grafana's render of 500x250: %v", err)
	}
	rendered := 0
	for _, v := range w.g.Visits() {
		if v.Header.Get("Authorization") != "Bearer "+grafanaToken {
			t.Errorf("%s reached Grafana without the service-account token", v.Path)
		}
		if strings.HasPrefix(v.Path, "/render/d-solo/scenes") {
			rendered++
			if q := v.Query; q.Get("var-cluster") != "prod" || q.Get("width") != "500" || q.Get("height") != "250" || q.Get("panelId") != "2" {
				t.Errorf("/render was asked %s", q.Encode())
			}
		}
		if strings.HasPrefix(v.Path, "/d-solo/") {
			t.Errorf("the app opened %s itself: it has no browser", v.Path)
		}
	}
	if rendered != 1 {
		t.Errorf("%d renders through /render, want 1", rendered)
	}

	picture := solidPNG(t, 300, 200, color.RGBA{R: 200, A: 255})
	up, headers := upload(t, `{"panel": {"dashboardUid": "scenes", "panelId": 2}, "to": "slack:#ops", "text": "drawn in the browser"}`, picture, "image/png")
	out = w.pushSent(t, "Editor", up, headers)
	msgs = w.slack.Messages()
	if len(msgs) != 2 || msgs[1].Text != "drawn in the browser" || len(msgs[1].Files) != 1 || !bytes.Equal(msgs[1].Files[0].Data, picture) {
		t.Fatalf("Slack did not get the picture as it was sent: %+v", msgs)
	}
	if code, out := w.call(t, "GET", "push/nosuchpush", "Editor", nil, nil); code != 404 {
		t.Errorf("unknown id: %d %s", code, out)
	}
	w.noSecrets(t, out)
}

// Bodies that cannot be sent are refused with a sentence; an upload over
// what Grafana passes a plugin is 413.
func TestAppPushRefusals(t *testing.T) {
	w := start(t, nil)
	picture := solidPNG(t, 10, 10, color.RGBA{B: 200, A: 255})
	req := `{"to": "slack:#ops", "text": "x"}`
	for _, tc := range []struct {
		name string
		body func() ([]byte, map[string][]string)
		code int
		want string
	}{
		{"bad JSON", func() ([]byte, map[string][]string) { return []byte(`{"to": `), jsonHeaders }, 400, "is not valid JSON"},
		{"not a PNG", func() ([]byte, map[string][]string) { return upload(t, req, []byte("GIF89a not a png"), "image/png") }, 400, "the picture is not a PNG"},
		{"not image/png", func() ([]byte, map[string][]string) { return upload(t, req, picture, "image/gif") }, 400, "not image/png: send the panel as a PNG"},
		{"bad request part", func() ([]byte, map[string][]string) { return upload(t, `{"to": 1}`, picture, "image/png") }, 400, "the part request: to must be a string"},
		{"no picture", func() ([]byte, map[string][]string) { return upload(t, req, nil, "") }, 400, "the part picture is missing"},
		{"too large", func() ([]byte, map[string][]string) {
			return upload(t, req, append(bytes.Clone(picture), make([]byte, 15<<20)...), "image/png")
		}, 413, "the upload is over 15 MiB"},
	} {
		body, headers := tc.body()
		code, out := w.call(t, "POST", "push", "Editor", body, headers)
		if code != tc.code || !strings.Contains(string(out), tc.want) {
			t.Errorf("%s: %d %s, want %d saying %q", tc.name, code, out, tc.code, tc.want)
		}
	}
	if n := len(w.slack.Messages()); n != 0 {
		t.Errorf("%d messages sent for refused pushes", n)
	}
	w.noSecrets(t)
}

// With free_addresses off, only the destinations can be pushed to.
func TestAppClosedDestinations(t *testing.T) {
	w := start(t, map[string]any{"free_addresses": false})
	picture := solidPNG(t, 10, 10, color.RGBA{G: 200, A: 255})
	up, headers := upload(t, `{"to": "slack:#other", "text": "elsewhere"}`, picture, "image/png")
	if code, out := w.call(t, "POST", "push", "Editor", up, headers); code != 403 || !strings.Contains(string(out), "slack:#other is not one of the destinations and free_addresses is off") {
		t.Errorf("unlisted address: %d %s", code, out)
	}
	up, headers = upload(t, `{"to": "slack:#ops", "text": "listed"}`, picture, "image/png")
	out := w.pushSent(t, "Editor", up, headers)
	w.noSecrets(t, out)
}

// Grafana's webhook contact point: the alert's panel is rendered through
// /render with the alert's labels as variables and its window.
func TestAppAlerts(t *testing.T) {
	w := start(t, nil)
	body, err := os.ReadFile(filepath.Join("..", "notification", "testdata", "grafana-firing-panel.json"))
	if err != nil {
		t.Fatal(err)
	}
	if code, out := w.call(t, "POST", "alerts", "Viewer", body, jsonHeaders); code != 403 {
		t.Errorf("Viewer: %d %s", code, out)
	}
	code, out := w.call(t, "POST", "alerts", "Editor", body, jsonHeaders)
	if code != 202 || !strings.Contains(string(out), `"to":"slack:#ops"`) {
		t.Fatalf("contact point: %d %s\nlog:\n%s", code, out, w.logs)
	}
	for deadline := time.Now().Add(30 * time.Second); len(w.slack.Messages()) == 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	msgs := w.slack.Messages()
	if len(msgs) != 1 || len(msgs[0].Files) != 1 || !strings.Contains(msgs[0].Text, "HighCPU") {
		t.Fatalf("Slack received %+v\nlog:\n%s", msgs, w.logs)
	}
	var renders int
	for _, v := range w.g.Visits() {
		if strings.HasPrefix(v.Path, "/render/d-solo/scenes") {
			renders++
			q := v.Query
			if q.Get("var-instance") != "web-1" || q.Get("width") != "500" || q.Get("height") != "250" || q.Get("from") == "" || q.Get("to") == "" {
				t.Errorf("/render was asked %s", q.Encode())
			}
		}
	}
	if renders != 1 {
		t.Errorf("%d renders through /render, want 1", renders)
	}
	w.noSecrets(t, out)
}

// The settings page's test message and health check.
func TestAppTestMessageAndHealth(t *testing.T) {
	w := start(t, nil)
	if code, out := w.call(t, "POST", "test", "Editor", []byte(`{"to": "slack:#ops"}`), jsonHeaders); code != 403 {
		t.Errorf("Editor: %d %s", code, out)
	}
	if code, out := w.call(t, "POST", "test", "Admin", []byte(`{"to": "nowhere"}`), jsonHeaders); code != 400 {
		t.Errorf("bad address: %d %s", code, out)
	}
	code, out := w.call(t, "POST", "test", "Admin", []byte(`{"to": "slack:#ops"}`), jsonHeaders)
	if code != 202 {
		t.Fatalf("test: %d %s", code, out)
	}
	if st := w.wait(t, out); st.State != "sent" {
		t.Fatalf("test message %+v", st)
	}
	if msgs := w.slack.Messages(); len(msgs) != 1 || msgs[0].Text != service.TestText {
		t.Errorf("Slack received %+v", msgs)
	}
	rsp, err := w.h.CheckHealth(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	details := string(rsp.GetJsonDetails())
	if rsp.GetStatus().String() != "OK" || !strings.Contains(rsp.GetMessage(), "renders through Grafana's /render ("+grafanatest.RendererVersion+")") ||
		!strings.Contains(details, `"provider":"slack","ok":true`) || !strings.Contains(details, "outbox.db") ||
		!strings.Contains(details, `"grafanaRenderer":{"url":"`+w.g.URL+`/render"`) {
		t.Errorf("health: %s %s %s", rsp.GetStatus(), rsp.GetMessage(), details)
	}
	w.noSecrets(t, out, []byte(details), []byte(rsp.GetMessage()))
}

// Saved settings take effect on the next call; the replaced settings'
// delivery closes.
func TestAppSettingsChanged(t *testing.T) {
	w := start(t, nil)
	if code, out := w.call(t, "GET", "destinations", "Editor", nil, nil); code != 200 {
		t.Fatalf("before: %d %s", code, out)
	}
	w.plain["push_min_role"] = "Admin"
	w.plain["destinations"] = []map[string]string{{"name": "Other", "to": "slack:#other"}}
	w.h.SaveAppSettings(*w.settings(t, time.Now().Add(time.Minute)))
	if code, out := w.call(t, "GET", "destinations", "Editor", nil, nil); code != 403 || !strings.Contains(string(out), "needs the Admin role") {
		t.Errorf("Editor after push_min_role=Admin: %d %s", code, out)
	}
	code, out := w.call(t, "GET", "destinations", "Admin", nil, nil)
	if code != 200 || !strings.Contains(string(out), `"to":"slack:#other"`) {
		t.Errorf("Admin: %d %s", code, out)
	}
	picture := solidPNG(t, 10, 10, color.RGBA{R: 9, A: 255})
	up, headers := upload(t, `{"to": "slack:#other", "text": "after"}`, picture, "image/png")
	out = w.pushSent(t, "Admin", up, headers)
	// The SDK disposes the replaced instance a few seconds after.
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if strings.Contains(w.logs.String(), "the replaced settings' delivery") {
			break
		}
	}
	if n := strings.Count(w.logs.String(), "app settings applied"); n != 2 {
		t.Errorf("settings applied %d times, want 2\nlog:\n%s", n, w.logs)
	}
	if !strings.Contains(w.logs.String(), "the replaced settings' delivery is closed") {
		t.Errorf("the replaced delivery did not close cleanly\nlog:\n%s", w.logs)
	}
	w.noSecrets(t, out)
}

// Without outbox_path the outbox is in Grafana's data folder, which the
// app finds in Grafana's environment as the renderer plugin does.
func TestAppOutboxInDataFolder(t *testing.T) {
	data := t.TempDir()
	t.Setenv("GF_PATHS_DATA", data)
	w := start(t, map[string]any{"outbox_path": ""})
	rsp, err := w.h.CheckHealth(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(data, "panelcast", "outbox.db"); !strings.Contains(string(rsp.GetJsonDetails()), want) {
		t.Errorf("health names no outbox at %s: %s", want, rsp.GetJsonDetails())
	}
}

// A grafana_token Grafana refuses refuses the push with a sentence that
// names the setting, and shows the token nowhere: not in the answer, the
// log, or health.
func TestAppWrongGrafanaToken(t *testing.T) {
	w := startWith(t, nil, map[string]string{"grafana_token": wrongGrafanaToken})
	body := []byte(`{"panel": {"dashboardUid": "scenes", "panelId": 2}, "to": "slack:#ops"}`)
	code, out := w.call(t, "POST", "push", "Editor", body, jsonHeaders)
	if code != 403 || !strings.Contains(string(out), "Grafana refused grafana_token (401)") {
		t.Errorf("push: %d %s", code, out)
	}
	rsp, err := w.h.CheckHealth(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rsp.GetStatus().String() == "OK" || !strings.Contains(rsp.GetMessage(), "grafana_token") {
		t.Errorf("health: %s %s", rsp.GetStatus(), rsp.GetMessage())
	}
	w.noSecrets(t, out, rsp.GetJsonDetails(), []byte(rsp.GetMessage()))
}

// Without grafana_url the app renders through Grafana's own address from
// the plugin context (Grafana 10.3+).
func TestAppGrafanaURLFromPluginContext(t *testing.T) {
	w := start(t, map[string]any{"grafana_url": ""})
	body := []byte(`{"panel": {"dashboardUid": "scenes", "panelId": 2}, "to": "slack:#ops"}`)
	w.pushSent(t, "Editor", body, jsonHeaders)
	rsp, err := w.h.CheckHealth(context.Background())
	if err != nil || rsp.GetStatus().String() != "OK" {
		t.Errorf("health: %v %v", rsp, err)
	}
}

// With outbox_url (a secure field) the outbox is PostgreSQL, as when
// Grafana runs as several replicas; health names it without its password.
func TestAppOutboxURL(t *testing.T) {
	dbURL := pgtest.New(t).Database(t)
	w := startWith(t, map[string]any{"outbox_path": ""}, map[string]string{"outbox_url": dbURL})
	picture := solidPNG(t, 10, 10, color.RGBA{R: 1, G: 2, B: 3, A: 255})
	up, headers := upload(t, `{"to": "slack:#ops", "text": "shared outbox"}`, picture, "image/png")
	out := w.pushSent(t, "Editor", up, headers)
	rsp, err := w.h.CheckHealth(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	details := rsp.GetJsonDetails()
	if !strings.Contains(string(details), `"store":"postgres"`) {
		t.Errorf("health names no PostgreSQL outbox: %s", details)
	}
	if u, err := url.Parse(dbURL); err == nil {
		if pw, ok := u.User.Password(); ok && (bytes.Contains(details, []byte(pw)) || strings.Contains(w.logs.String(), pw)) {
			t.Errorf("the outbox's password shows in health or the log")
		}
	}
	w.noSecrets(t, out, details)
}

// Without grafana_token, renders through Grafana use the service account
// Grafana manages for the app (plugin.json "iam"); with it, grafana_token
// wins.
func TestAppManagedServiceAccount(t *testing.T) {
	body := []byte(`{"panel": {"dashboardUid": "scenes", "panelId": 2}, "to": "slack:#ops"}`)
	for _, tc := range []struct {
		name, setToken, managed, want string
	}{
		{"managed only", "", grafanaToken, grafanaToken},
		{"grafana_token wins", grafanaToken, wrongGrafanaToken, grafanaToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := startWith(t, nil, map[string]string{"grafana_token": tc.setToken}, func(c *pluginhost.Config) { c.ManagedServiceAccountToken = tc.managed })
			w.pushSent(t, "Editor", body, jsonHeaders)
			renders := 0
			for _, v := range w.g.Visits() {
				if strings.HasPrefix(v.Path, "/render/") {
					renders++
					if v.Header.Get("Authorization") != "Bearer "+tc.want {
						t.Errorf("%s was rendered with another token", v.Path)
					}
				}
			}
			if renders != 1 {
				t.Errorf("%d renders reached Grafana, want 1", renders)
			}
			w.noSecrets(t)
		})
	}
}

// Two Grafana replicas on one PostgreSQL outbox, each receiving the same
// alert notification from its own alerting (Grafana without HA alerting):
// the chat gets it once.
func TestAppReplicasSendOnce(t *testing.T) {
	dbURL := pgtest.New(t).Database(t)
	w := startWith(t, map[string]any{"outbox_path": ""}, map[string]string{"outbox_url": dbURL})
	second := w.replica(t)
	body, err := os.ReadFile(filepath.Join("..", "notification", "testdata", "grafana-firing-panel.json"))
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range []*pluginhost.Host{w.h, second} {
		code, _, out, err := h.CallResource(context.Background(), "POST", "alerts", body, "Editor", jsonHeaders)
		if err != nil || code != 202 {
			t.Fatalf("replica %d: %d %s %v\nlog:\n%s", i+1, code, out, err, w.logs)
		}
	}
	for deadline := time.Now().Add(30 * time.Second); len(w.slack.Messages()) == 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	// Long enough for a second copy to have been sent, were there one.
	time.Sleep(2 * time.Second)
	if msgs := w.slack.Messages(); len(msgs) != 1 || !strings.Contains(msgs[0].Text, "HighCPU") {
		t.Fatalf("Slack received %d messages, want the alert once: %+v\nlog:\n%s", len(msgs), msgs, w.logs)
	}
	w.noSecrets(t)
}
