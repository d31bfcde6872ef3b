package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/panelcast/panelcast/pkg/config"
	"github.com/panelcast/panelcast/pkg/delivery"
	"github.com/panelcast/panelcast/pkg/delivery/sqlite"
	"github.com/panelcast/panelcast/pkg/secret"
	"github.com/panelcast/panelcast/pkg/service"
)

// testConfig names no browser that exists: these tests never render.
func testConfig() config.Config {
	c := config.Default()
	c.GrafanaURL = "https://grafana.example.com"
	c.SlackBotToken = secret.New("xoxb-httpapi-test")
	c.ChromiumPath = "/nonexistent/chromium"
	return c
}

// newService is a service on cfg; with worker, its chat delivery runs
// until the test ends.
func newService(t testing.TB, cfg config.Config, worker *delivery.WorkerOptions) *service.Service {
	opts := service.Options{Config: cfg, Log: slog.New(slog.DiscardHandler)}
	if worker != nil {
		opts.Delivery = *worker
	}
	svc := service.New(context.Background(), opts)
	if worker != nil {
		if err := svc.Start(); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = svc.Shutdown(context.Background(), nil) })
	return svc
}

func allow(*http.Request) error { return nil }

type answer struct {
	code   int
	body   map[string]any
	raw    string
	header http.Header
}

func call(t *testing.T, h http.Handler, method, path, body string, prepare ...func(*http.Request)) answer {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	for _, p := range prepare {
		p(r)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	raw, _ := io.ReadAll(w.Result().Body)
	a := answer{code: w.Code, raw: string(raw), header: w.Header()}
	if err := json.Unmarshal(raw, &a.body); err != nil {
		t.Fatalf("%s %s answered %d with non-JSON %q", method, path, w.Code, raw)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	return a
}

const goodPush = `{"panel": {"dashboardUid": "abc", "panelId": 2}, "to": "slack:#ops", "text": "hi"}`

func TestRefusals(t *testing.T) {
	svc := newService(t, testConfig(), nil)
	h := New(svc, Options{Authorize: allow})
	cases := []struct {
		name, body string
		code       int
		want       string
	}{
		{"empty", ``, 400, "the body is empty"},
		{"not json", `{"panel":`, 400, "not valid JSON"},
		{"array", `[1]`, 400, "must be a JSON object"},
		{"two values", goodPush + goodPush, 400, "more than one JSON value"},
		{"unknown field", `{"panel": {"url": "x"}, "to": "slack:#ops", "channel": "x"}`, 400, `"channel" is not a field of a push`},
		{"unknown panel field", `{"panel": {"dashboard": "x"}, "to": "slack:#ops"}`, 400, `"dashboard" is not a field`},
		{"panel id as text", `{"panel": {"dashboardUid": "abc", "panelId": "two"}, "to": "slack:#ops"}`, 400, "panel.panelId must be a number"},
		{"width as text", `{"panel": {"dashboardUid": "abc", "panelId": 2, "width": "big"}, "to": "slack:#ops"}`, 400, "panel.width must be a number"},
		{"fractional time", `{"panel": {"dashboardUid": "abc", "panelId": 2, "from": 1.5}, "to": "slack:#ops"}`, 400, "panel.from and panel.to must be"},
		{"vars not an object", `{"panel": {"dashboardUid": "abc", "panelId": 2, "vars": ["a"]}, "to": "slack:#ops"}`, 400, "panel.vars must be an object"},
		{"var as object", `{"panel": {"dashboardUid": "abc", "panelId": 2, "vars": {"a": {"b": 1}}}, "to": "slack:#ops"}`, 400, "panel.vars.a must be a string"},
		{"unknown provider", `{"panel": {"dashboardUid": "abc", "panelId": 2}, "to": "irc:#ops"}`, 400, `"irc" is not a chat provider`},
		{"provider without token", `{"panel": {"dashboardUid": "abc", "panelId": 2}, "to": "discord:123"}`, 400, "discord is not configured: set discord_bot_token"},
		{"no channel", `{"panel": {"dashboardUid": "abc", "panelId": 2}, "to": "slack:"}`, 400, "names no channel"},
		{"no address", `{"panel": {"dashboardUid": "abc", "panelId": 2}}`, 400, `"to" is missing`},
		{"no panel", `{"to": "slack:#ops"}`, 400, "panel is missing"},
		{"url elsewhere", `{"panel": {"url": "https://evil.example.com/d-solo/a/b?panelId=1"}, "to": "slack:#ops"}`, 400, "is not on Grafana (https://grafana.example.com)"},
		{"valid, but no outbox", goodPush, 503, "chat delivery is not running"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := call(t, h, "POST", "/push", c.body)
			msg, _ := a.body["error"].(string)
			if a.code != c.code || !strings.Contains(msg, c.want) {
				t.Errorf("answer %d %s; want %d saying %q", a.code, a.raw, c.code, c.want)
			}
			if strings.HasPrefix(msg, "bad push") || strings.HasPrefix(msg, "json:") {
				t.Errorf("error %q starts with a Go prefix rather than the sentence", msg)
			}
		})
	}
	if a := call(t, h, "GET", "/push/abc", ""); a.code != 503 {
		t.Errorf("status without an outbox: %d %s", a.code, a.raw)
	}
}

func TestQueueAndStatus(t *testing.T) {
	cfg := testConfig()
	cfg.OutboxPath = filepath.Join(t.TempDir(), "outbox.db")
	svc := newService(t, cfg, &delivery.WorkerOptions{})
	// The worker does not run: the push stays queued for this test to see.
	if err := svc.Shutdown(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	t.Run("after stop", func(t *testing.T) {
		a := call(t, New(svc, Options{Authorize: allow}), "POST", "/push", goodPush)
		if a.code != 503 || !strings.Contains(a.raw, "shutting down") {
			t.Errorf("%d %s", a.code, a.raw)
		}
	})

	o, err := sqlite.Open(cfg.OutboxPath, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	j, _, err := o.Enqueue(context.Background(), delivery.Job{Kind: "alert", Address: "slack:#ops", Text: "not a push"})
	o.Close()
	if err != nil {
		t.Fatal(err)
	}

	svc = startIdle(t, cfg)
	h := New(svc, Options{Authorize: allow})
	a := call(t, h, "POST", "/push", goodPush)
	id, _ := a.body["id"].(string)
	if a.code != 202 || a.body["state"] != "queued" || id == "" || len(a.body) != 2 {
		t.Fatalf("POST /push: %d %s", a.code, a.raw)
	}
	a = call(t, h, "GET", "/push/"+id, "")
	for _, k := range []string{"id", "state", "attempts", "error", "permalink"} {
		if _, ok := a.body[k]; !ok {
			t.Errorf("GET /push/{id} lacks %q: %s", k, a.raw)
		}
	}
	if a.code != 200 || a.body["id"] != id {
		t.Errorf("GET /push/%s: %d %s", id, a.code, a.raw)
	}
	for _, path := range []string{"/push/nosuchid", "/push/" + j.ID, "/push/" + strings.Repeat("x", 100)} {
		if a := call(t, h, "GET", path, ""); a.code != 404 || !strings.Contains(a.raw, "no such push") {
			t.Errorf("GET %s: %d %s", path, a.code, a.raw)
		}
	}
	r := httptest.NewRecorder()
	h.ServeHTTP(r, httptest.NewRequest("DELETE", "/push/"+id, nil))
	if r.Code != http.StatusMethodNotAllowed {
		t.Errorf("DELETE: %d", r.Code)
	}
}

// startIdle starts delivery whose first attempt fails at once (nothing
// listens on 127.0.0.1:1) and whose retry waits an hour, so a push stays
// pending while the test looks at it.
func startIdle(t *testing.T, cfg config.Config) *service.Service {
	cfg.GrafanaURL = "http://127.0.0.1:1"
	return newService(t, cfg, &delivery.WorkerOptions{BaseBackoff: time.Hour, MaxBackoff: time.Hour})
}

// The door's hook decides who may call; its sentinel decides the answer:
// 401 with a Bearer challenge, or 403, with the hook's sentence either way,
// before anything else is read.
func TestAuthorize(t *testing.T) {
	svc := newService(t, testConfig(), nil)
	refuse := func(err error) http.Handler {
		return New(svc, Options{Authorize: func(*http.Request) error { return err }})
	}
	cases := []struct {
		name      string
		h         http.Handler
		code      int
		want      string
		challenge bool
	}{
		{"unauthorized", refuse(fmt.Errorf("%w: send Authorization: Bearer <api_token>", service.ErrUnauthorized)), 401, `"send Authorization: Bearer <api_token>"`, true},
		{"forbidden", refuse(fmt.Errorf("%w: pushing needs the Editor role", service.ErrForbidden)), 403, `"pushing needs the Editor role"`, false},
		{"admitted", New(svc, Options{Authorize: allow}), 503, "not running", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, route := range []struct{ method, path, body string }{{"POST", "/push", goodPush}, {"GET", "/push/x", ""}} {
				a := call(t, c.h, route.method, route.path, route.body)
				if a.code != c.code || !strings.Contains(a.raw, c.want) {
					t.Errorf("%s %s: %d %s; want %d saying %q", route.method, route.path, a.code, a.raw, c.code, c.want)
				}
				if got := a.header.Get("WWW-Authenticate") != ""; got != c.challenge {
					t.Errorf("%s %s: WWW-Authenticate %q", route.method, route.path, a.header.Get("WWW-Authenticate"))
				}
			}
		})
	}
}

// Malformed and absurd notifications are refused with a sentence, before
// anything is stored.
func TestAlertRefusals(t *testing.T) {
	svc := newService(t, testConfig(), nil)
	h := New(svc, Options{Authorize: allow})
	alert := `{"status":"firing","labels":{"alertname":"A"},"annotations":{},"startsAt":"2026-01-01T00:00:00Z","endsAt":"0001-01-01T00:00:00Z","fingerprint":"f%d"}`
	many := make([]string, 1001)
	for i := range many {
		many[i] = fmt.Sprintf(alert, i)
	}
	notification := func(alerts string) string {
		return `{"version":"4","status":"firing","receiver":"r","groupKey":"g","alerts":[` + alerts + `]}`
	}
	cases := []struct {
		name, body, want string
	}{
		{"bad JSON", `{"alerts": [`, "the body ends in the middle of its JSON"},
		{"not a notification", `{"hello": "world"}`, `"alerts" is missing`},
		{"deep nesting", `{"alerts": ` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`, "nest"},
		{"more than 1000 alerts", notification(strings.Join(many, ",")), "1001 alerts"},
		{"over 4 MiB", notification(fmt.Sprintf(alert, 1)) + strings.Repeat(" ", 4<<20), "over 4 MiB"},
		{"no address", notification(fmt.Sprintf(alert, 1)), "has no address"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := call(t, h, "POST", "/alerts", c.body)
			msg, _ := a.body["error"].(string)
			if a.code != 400 || !strings.Contains(msg, c.want) {
				t.Errorf("answer %d %.300s; want 400 saying %q", a.code, a.raw, c.want)
			}
			if strings.HasPrefix(msg, "bad alert") || strings.HasPrefix(msg, "json:") {
				t.Errorf("error %q starts with a Go prefix rather than the sentence", msg)
			}
		})
	}
}
