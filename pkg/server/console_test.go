package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/panelcast/panelcast/internal/grafanatest"
	"github.com/panelcast/panelcast/internal/pgtest"
	"github.com/panelcast/panelcast/internal/testenv"
	"github.com/panelcast/panelcast/pkg/config"
	"github.com/panelcast/panelcast/pkg/delivery"
	"github.com/panelcast/panelcast/pkg/delivery/sqlite"
	"github.com/panelcast/panelcast/pkg/render"
	"github.com/panelcast/panelcast/pkg/secret"
	"github.com/panelcast/panelcast/pkg/service"
)

const consoleToken = "console-api-token-0123456789"

// console is the HTTP door on a service without a browser (its renders
// fail at once) with chat delivery running on a fresh outbox: what the
// console's API does besides rendering.
type consoleEnv struct {
	t      *testing.T
	ts     *httptest.Server
	svc    *service.Service
	outbox string
}

func newConsole(t *testing.T, change func(*config.Config)) *consoleEnv {
	t.Helper()
	return newConsoleWithDemo(t, change, nil)
}

// newConsoleWithDemo is newConsole with a demo panel for health to offer.
func newConsoleWithDemo(t *testing.T, change func(*config.Config), demo *service.DemoPanel) *consoleEnv {
	t.Helper()
	// A Grafana that has no dashboard: pushes fail at once, for good.
	grafana := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"message": "Dashboard not found"}`))
	}))
	t.Cleanup(grafana.Close)
	cfg := config.Default()
	cfg.GrafanaURL = grafana.URL
	cfg.ChromiumPath = filepath.Join(t.TempDir(), "no-chromium")
	cfg.OutboxPath = filepath.Join(t.TempDir(), "outbox.db")
	if change != nil {
		change(&cfg)
	}
	svc := service.New(context.Background(), service.Options{Config: cfg, Log: slog.New(slog.DiscardHandler),
		InboxPermalink: InboxPermalink, Delivery: delivery.WorkerOptions{BaseBackoff: 10 * time.Millisecond}, DemoPanel: demo})
	if err := svc.Start(); err != nil {
		t.Fatal(err)
	}
	srv, err := New(svc)
	if err != nil {
		t.Fatal(err)
	}
	c := &consoleEnv{t: t, ts: httptest.NewServer(srv), svc: svc, outbox: cfg.OutboxPath}
	t.Cleanup(func() {
		c.ts.Close()
		_ = svc.Shutdown(context.Background(), nil)
	})
	return c
}

// do sends one request; header holds pairs of names and values.
func (c *consoleEnv) do(method, path, body string, header ...string) response {
	c.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.ts.URL+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
		} else {
			req.Header.Add(header[i], header[i+1])
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{res.StatusCode, res.Header, b}
}

// apiError is the sentence of a JSON error answer, or "" when the answer
// is not one.
func apiError(r response) string {
	var e struct{ Error string }
	if json.Unmarshal(r.body, &e) != nil || r.header.Get("Content-Type") != "application/json" {
		return ""
	}
	return e.Error
}

func sessionCookieOf(r response) *http.Cookie {
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == sessionCookie {
			return c
		}
	}
	return nil
}

// Who gets in: with no api_token on loopback anyone reaching a loopback
// name; with api_token a bearer token or a session; never a request from
// another site.
func TestConsoleAccess(t *testing.T) {
	open := newConsole(t, nil)
	closed := newConsole(t, func(c *config.Config) { c.APITokens = secret.List("old-token-0123456789", consoleToken) })
	exposed := newConsole(t, func(c *config.Config) {
		c.Addr, c.AuthTokens = "0.0.0.0:8081", secret.List("renderer-token-0123456789")
	})
	signIn := closed.do("POST", "/api/session", `{"token": "`+consoleToken+`"}`)
	cookie := sessionCookieOf(signIn)
	if signIn.status != 200 || cookie == nil {
		t.Fatalf("sign-in: %s", signIn)
	}
	session := cookie.Name + "=" + cookie.Value
	cases := []struct {
		name   string
		c      *consoleEnv
		header []string
		code   int
		want   string
	}{
		{"open loopback", open, nil, 200, ""},
		{"open, as localhost", open, []string{"Host", "localhost:8081"}, 200, ""},
		{"open, rebound name", open, []string{"Host", "evil.example.com:8081"}, 401, `this one was for "evil.example.com:8081": set api_token`},
		{"open, a bearer token is not needed", open, []string{"Authorization", "Bearer anything"}, 200, ""},
		{"token, nothing sent", closed, nil, 401, "sign in with an api_token, or send Authorization: Bearer <api_token>"},
		{"token, bearer", closed, []string{"Authorization", "Bearer " + consoleToken}, 200, ""},
		{"token, the other bearer", closed, []string{"Authorization", "Bearer old-token-0123456789"}, 200, ""},
		{"token, wrong bearer", closed, []string{"Authorization", "Bearer " + consoleToken + "x"}, 401, "not one of api_token"},
		{"token, session", closed, []string{"Cookie", session}, 200, ""},
		{"token, forged session", closed, []string{"Cookie", session[:len(session)-4] + "0000"}, 401, "session ended: sign in again"},
		{"token, session of another server", open, []string{"Cookie", session, "Host", "evil.example.com"}, 401, "loopback name"},
		{"reachable, no api_token", exposed, nil, 401, "listens on 0.0.0.0:8081, which other machines reach, and no api_token is set"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, route := range []struct{ method, path, body string }{
				{"GET", "/api/health", ""}, {"GET", "/api/outbox", ""}, {"GET", "/api/inbox", ""},
				{"POST", "/push", `{"to": "inbox:x"}`}, {"POST", "/alerts?to=inbox:alerts", `{}`},
			} {
				a := c.c.do(route.method, route.path, route.body, c.header...)
				switch {
				case c.code == 401 && (a.status != 401 || !strings.Contains(apiError(a), c.want)):
					t.Errorf("%s %s: %s; want 401 saying %q", route.method, route.path, a, c.want)
				case c.code == 401 && strings.HasPrefix(apiError(a), "unauthorized"):
					t.Errorf("%s %s: %s starts with Go's marker, not the sentence", route.method, route.path, a)
				case c.code != 401 && a.status == 401:
					t.Errorf("%s %s: %s; want it admitted", route.method, route.path, a)
				}
			}
		})
	}
	// A browser's request from another site is refused before anything
	// happens, however it is authenticated; Grafana's and Alertmanager's
	// webhooks and curl send no Origin and pass.
	for _, h := range [][]string{
		{"Sec-Fetch-Site", "cross-site", "Cookie", session},
		{"Origin", "https://evil.example.com", "Cookie", session},
		{"Origin", "https://evil.example.com", "Authorization", "Bearer " + consoleToken},
	} {
		for _, path := range []string{"/push", "/alerts?to=inbox:x", "/api/outbox/x/retry", "/api/render", "/api/session"} {
			if a := closed.do("POST", path, `{}`, h...); a.status != 403 || !strings.Contains(apiError(a), "came from another site") {
				t.Errorf("POST %s with %v: %s; want 403", path, h, a)
			}
		}
	}
	if a := open.do("POST", "/push", `{"to": "inbox:x"}`, "Origin", "http://evil.example.com"); a.status != 403 {
		t.Errorf("a cross-site push to the open loopback: %s", a)
	}
	if a := closed.do("POST", "/push", `{"to": "inbox:x"}`, "Cookie", session, "Sec-Fetch-Site", "same-origin"); a.status != 400 {
		t.Errorf("the console's own push: %s; want it admitted (and refused as a push without a panel)", a)
	}
}

// Signing in sets an HttpOnly, SameSite=Strict cookie (Secure behind
// TLS); signing out ends the session; a session ends with its token.
func TestConsoleSession(t *testing.T) {
	c := newConsole(t, func(c *config.Config) { c.APITokens = secret.List(consoleToken) })
	state := func(header ...string) sessionJSON {
		t.Helper()
		var s sessionJSON
		a := c.do("GET", "/api/session", "", header...)
		if a.status != 200 || json.Unmarshal(a.body, &s) != nil {
			t.Fatalf("GET /api/session: %s", a)
		}
		return s
	}
	if s := state(); !s.Required || s.Authenticated {
		t.Errorf("before signing in: %+v", s)
	}
	for _, body := range []string{``, `{"token": ""}`, `{"token": 7}`, `{"secret": "x"}`} {
		if a := c.do("POST", "/api/session", body); a.status != 400 || !strings.Contains(apiError(a), `{"token": "<api_token>"}`) {
			t.Errorf("sign-in with %q: %s", body, a)
		}
	}
	if a := c.do("POST", "/api/session", `{"token": "guess"}`); a.status != 401 || apiError(a) != "the token is not one of api_token: check it and try again" || sessionCookieOf(a) != nil {
		t.Errorf("wrong token: %s", a)
	}
	a := c.do("POST", "/api/session", `{"token": "`+consoleToken+`"}`)
	ck := sessionCookieOf(a)
	if a.status != 200 || ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Secure || ck.Path != "/" ||
		ck.MaxAge < int(sessionLifetime.Seconds())-5 || strings.Contains(ck.Value, consoleToken) {
		t.Fatalf("sign-in: %s, cookie %+v", a, ck)
	}
	if tls := sessionCookieOf(c.do("POST", "/api/session", `{"token": "`+consoleToken+`"}`, "X-Forwarded-Proto", "https")); tls == nil || !tls.Secure {
		t.Errorf("behind TLS the cookie is not Secure: %+v", tls)
	}
	session := ck.Name + "=" + ck.Value
	if s := state("Cookie", session); !s.Required || !s.Authenticated {
		t.Errorf("signed in: %+v", s)
	}

	// Another replica with the same token takes the session; one whose
	// api_token no longer has it does not.
	same := newConsole(t, func(c *config.Config) { c.APITokens = secret.List("new-token-0123456789", consoleToken) })
	rotated := newConsole(t, func(c *config.Config) { c.APITokens = secret.List("new-token-0123456789") })
	if a := same.do("GET", "/api/outbox", "", "Cookie", session); a.status != 200 {
		t.Errorf("replica with the token: %s", a)
	}
	if a := rotated.do("GET", "/api/outbox", "", "Cookie", session); a.status != 401 {
		t.Errorf("replica without the token: %s", a)
	}

	out := c.do("DELETE", "/api/session", "", "Cookie", session)
	if cleared := sessionCookieOf(out); out.status != 200 || cleared == nil || cleared.MaxAge >= 0 || cleared.Value != "" {
		t.Errorf("sign-out: %s, cookie %+v", out, cleared)
	}
	if a := c.do("GET", "/api/outbox", "", "Cookie", session); a.status != 401 || !strings.Contains(apiError(a), "session ended") {
		t.Errorf("after signing out the old cookie still works: %s", a)
	}

	open := newConsole(t, nil)
	if a := open.do("POST", "/api/session", `{"token": "x"}`); a.status != 400 || !strings.Contains(apiError(a), "no token to sign in with") {
		t.Errorf("sign-in without api_token: %s", a)
	}
	if s := (sessionJSON{}); json.Unmarshal(open.do("GET", "/api/session", "").body, &s) != nil || s.Required {
		t.Errorf("open loopback: %+v", s)
	}
}

// Replicas sharing an outbox share sign-outs: a session signed out on one
// is refused by every other and after a restart. Removing a token from
// api_token on every replica ends its sessions everywhere.
func TestConsoleSignOutOnEveryReplica(t *testing.T) {
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) {
			// SQLite: processes on one machine sharing the file.
			path := filepath.Join(t.TempDir(), "outbox.db")
			shared := func(c *config.Config) { c.OutboxPath = path }
			if store == "postgres" {
				url := pgtest.New(t).Database(t)
				shared = func(c *config.Config) { c.OutboxPath, c.OutboxURL = "", secret.New(url) }
			}
			replica := func(tokens ...string) *consoleEnv {
				return newConsole(t, func(c *config.Config) { shared(c); c.APITokens = secret.List(tokens...) })
			}
			signIn := func(c *consoleEnv, token string) string {
				t.Helper()
				a := c.do("POST", "/api/session", `{"token": "`+token+`"}`)
				ck := sessionCookieOf(a)
				if a.status != 200 || ck == nil {
					t.Fatalf("sign-in: %s", a)
				}
				return ck.Name + "=" + ck.Value
			}
			admits := func(c *consoleEnv, session string) bool {
				t.Helper()
				a := c.do("GET", "/api/outbox", "", "Cookie", session)
				if a.status != 200 && (a.status != 401 || !strings.Contains(apiError(a), "session ended")) {
					t.Fatalf("GET /api/outbox: %s", a)
				}
				return a.status == 200
			}
			a, b := replica(consoleToken), replica(consoleToken)
			gone, kept := signIn(a, consoleToken), signIn(b, consoleToken)
			if !admits(b, gone) || !admits(a, kept) {
				t.Fatal("a session signed in on one replica is refused by the other")
			}
			if out := a.do("DELETE", "/api/session", "", "Cookie", gone); out.status != 200 {
				t.Fatalf("sign-out: %s", out)
			}
			if admits(a, gone) || admits(b, gone) {
				t.Error("a signed-out session is still accepted")
			}
			if !admits(a, kept) || !admits(b, kept) {
				t.Error("signing out one session ended another")
			}
			if restarted := replica(consoleToken); admits(restarted, gone) {
				t.Error("after a restart the signed-out session is accepted again")
			}

			// Rotation: both replicas restart with only the new token.
			const newToken = "rotated-api-token-0123456789"
			a, b = replica(newToken), replica(newToken)
			if admits(a, kept) || admits(b, kept) {
				t.Error("a session of the removed token is still accepted")
			}
			if fresh := signIn(a, newToken); !admits(b, fresh) {
				t.Error("a session of the new token is refused by the other replica")
			}
		})
	}
}

// A replica that cannot reach its outbox cannot tell a signed-out session
// from a valid one: it refuses sessions, saying why, and a sign-out says it
// did not take.
func TestConsoleSessionWithoutOutbox(t *testing.T) {
	c := newConsole(t, func(c *config.Config) { c.APITokens = secret.List(consoleToken) })
	ck := sessionCookieOf(c.do("POST", "/api/session", `{"token": "`+consoleToken+`"}`))
	if ck == nil {
		t.Fatal("no session")
	}
	session := ck.Name + "=" + ck.Value
	if err := c.svc.Shutdown(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if a := c.do("GET", "/api/health", "", "Cookie", session); a.status != 401 ||
		apiError(a) != "the console session could not be checked: Panelcast is shutting down; push again once it is back" {
		t.Errorf("session without the outbox: %s", a)
	}
	out := c.do("DELETE", "/api/session", "", "Cookie", session)
	if cleared := sessionCookieOf(out); out.status != 503 || !strings.Contains(apiError(out), "signing out failed, so the session stays valid until ") ||
		cleared == nil || cleared.MaxAge >= 0 {
		t.Errorf("sign-out without the outbox: %s, cookie %+v", out, cleared)
	}
}

// Each route refuses with a sentence in JSON, and the status says why.
func TestConsoleRouteErrors(t *testing.T) {
	c := newConsole(t, nil)
	// A push the worker fails at once (no browser) and a text-only alert
	// it sends to the inbox.
	push := c.do("POST", "/push", `{"panel": {"dashboardUid": "abc", "panelId": 2}, "to": "inbox:ops"}`)
	var queued struct{ ID string }
	if push.status != 202 || json.Unmarshal(push.body, &queued) != nil {
		t.Fatalf("push: %s", push)
	}
	alert, err := os.ReadFile("../notification/testdata/grafana-no-panel.json")
	if err != nil {
		t.Fatal(err)
	}
	var alerted struct{ Messages []struct{ ID string } }
	if a := c.do("POST", "/alerts?to=inbox:%23alerts", string(alert)); a.status != 202 || json.Unmarshal(a.body, &alerted) != nil || len(alerted.Messages) != 1 {
		t.Fatalf("alert: %s", a)
	}
	jobs := waitJobs(t, c, func(j []service.Message) bool {
		return len(j) == 2 && j[0].State == "sent" && j[1].State == "failed"
	})
	if jobs[0].ID != alerted.Messages[0].ID || jobs[0].Kind != "alert" || jobs[0].Address != "inbox:#alerts" || !strings.HasPrefix(jobs[0].Permalink, "#inbox/") ||
		jobs[0].SentAt.IsZero() || jobs[1].ID != queued.ID || jobs[1].Kind != "push" || jobs[1].Error == "" || jobs[1].Attempts != 1 {
		t.Errorf("outbox %+v", jobs)
	}

	// The alert is in the inbox, in channel alerts (inbox:#alerts is
	// inbox:alerts), without a picture.
	var inbox struct{ Messages []inboxMessageJSON }
	if a := c.do("GET", "/api/inbox?channel=%23alerts&limit=5", ""); a.status != 200 || json.Unmarshal(a.body, &inbox) != nil ||
		len(inbox.Messages) != 1 || inbox.Messages[0].Channel != "alerts" || !strings.Contains(inbox.Messages[0].Text, "QueueBacklog") ||
		inbox.Messages[0].Images == nil || len(inbox.Messages[0].Images) != 0 || "#inbox/"+inbox.Messages[0].ID != jobs[0].Permalink {
		t.Errorf("inbox: %s", a)
	}

	// A message with pictures, stored as the inbox sender stores them.
	o, err := sqlite.Open(c.outbox, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	pic := []byte("\x89PNG\r\n\x1a\n not really")
	m, err := o.SaveInbox(context.Background(), delivery.InboxMessage{Channel: "ops", Text: "two pictures",
		Images: []delivery.InboxImage{{Filename: "a.png", Data: pic}, {Filename: "b.png", Data: pic}}})
	if err != nil {
		t.Fatal(err)
	}
	if a := c.do("GET", "/api/inbox?channel=ops", ""); a.status != 200 || json.Unmarshal(a.body, &inbox) != nil || len(inbox.Messages) != 1 ||
		strings.Join(inbox.Messages[0].Images, " ") != "api/inbox/"+m.ID+"/images/0 api/inbox/"+m.ID+"/images/1" {
		t.Errorf("inbox with pictures: %s", a)
	}
	if a := c.do("GET", "/api/inbox/"+m.ID+"/images/1", ""); a.status != 200 || !bytes.Equal(a.body, pic) || a.header.Get("Content-Type") != "image/png" ||
		!strings.HasPrefix(a.header.Get("Cache-Control"), "private") {
		t.Errorf("picture: %s", a)
	}

	if a := c.do("POST", "/api/outbox/"+queued.ID+"/retry", ""); a.status != 202 || !strings.Contains(string(a.body), `"state":"queued"`) {
		t.Errorf("retry of the failed push: %s", a)
	}
	waitJobs(t, c, func(j []service.Message) bool { return len(j) == 2 && j[1].State == "failed" && j[1].Attempts == 1 })

	cases := []struct {
		method, path string
		code         int
		want         string
	}{
		{"POST", "/api/outbox/" + jobs[0].ID + "/retry", 409, "only a failed message can be retried: message " + jobs[0].ID + " is sent"},
		{"POST", "/api/outbox/nosuchjob/retry", 404, "the outbox holds no message nosuchjob"},
		{"POST", "/api/outbox/" + strings.Repeat("x", 100) + "/retry", 404, "is not a message id"},
		{"GET", "/api/outbox?limit=0", 400, "limit must be a whole number from 1 to 500"},
		{"GET", "/api/outbox?limit=ten", 400, "limit must be"},
		{"GET", "/api/inbox?limit=501", 400, "limit must be"},
		{"GET", "/api/inbox/" + m.ID + "/images/2", 404, "has no picture 2"},
		{"GET", "/api/inbox/" + m.ID + "/images/one", 404, "is not a picture number"},
		{"GET", "/api/inbox/nosuchmessage/images/0", 404, "has no picture 0"},
		{"GET", "/api/outbox/" + jobs[0].ID + "/retry", 405, "takes POST, not GET"},
		{"DELETE", "/api/outbox", 405, "/api/outbox takes GET, not DELETE"},
		{"PUT", "/api/session", 405, "takes DELETE or GET or POST"},
		{"GET", "/api/nothing", 404, "/api/nothing is no route of Panelcast's API"},
		{"POST", "/api/render", 400, "the body is empty"},
		{"POST", "/api/render", 400, "panel is missing"},
	}
	bodies := map[int]string{len(cases) - 1: `{"panel": null}`}
	for i, tc := range cases {
		a := c.do(tc.method, tc.path, bodies[i])
		if a.status != tc.code || !strings.Contains(apiError(a), tc.want) {
			t.Errorf("%s %s: %s; want %d saying %q", tc.method, tc.path, a, tc.code, tc.want)
		}
	}
	if a := c.do("DELETE", "/api/outbox", ""); a.header.Get("Allow") != "GET" {
		t.Errorf("405 without Allow: %v", a.header)
	}
	for _, body := range []string{`{"panel": {"dashboardUid": "abc", "panelId": 2, "width": 99999}}`, `{"panel": {"url": "https://evil.example.com/d/x"}}`} {
		if a := c.do("POST", "/api/render", body); a.status != 400 || strings.HasPrefix(apiError(a), "bad push") || apiError(a) == "" {
			t.Errorf("render %s: %s", body, a)
		}
	}
	if a := c.do("POST", "/api/render", `{"panel": {"dashboardUid": "abc", "panelId": 2}, "to": "slack:#ops"}`); a.status != 400 ||
		!strings.Contains(apiError(a), `"to" is not a field of a render`) {
		t.Errorf("render with a push's field: %s", a)
	}
	// Without a browser a render is 503 with the reason.
	if a := c.do("POST", "/api/render", `{"panel": {"dashboardUid": "abc", "panelId": 2}}`); a.status != 503 || !strings.Contains(apiError(a), "no-chromium") {
		t.Errorf("render without a browser: %s", a)
	}

	// Stopped delivery: 503 with the reason.
	_ = c.svc.Shutdown(context.Background(), nil)
	for _, path := range []string{"/api/outbox", "/api/inbox", "/api/inbox/" + m.ID + "/images/0"} {
		if a := c.do("GET", path, ""); a.status != 503 || !strings.Contains(apiError(a), "shutting down") {
			t.Errorf("GET %s after delivery stopped: %s", path, a)
		}
	}
}

func waitJobs(t *testing.T, c *consoleEnv, done func([]service.Message) bool) []service.Message {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var ans jobsJSON
	for time.Now().Before(deadline) {
		a := c.do("GET", "/api/outbox?limit=10", "")
		if a.status != 200 || json.Unmarshal(a.body, &ans) != nil {
			t.Fatalf("outbox: %s", a)
		}
		if done(ans.Jobs) {
			return ans.Jobs
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("outbox never got there: %+v", ans.Jobs)
	return nil
}

// The page and its assets are served to anyone (they hold no data); the
// page's CSP allows only its own scripts.
func TestConsolePage(t *testing.T) {
	c := newConsole(t, func(c *config.Config) { c.APITokens = secret.List(consoleToken) })
	page := c.do("GET", "/", "")
	if page.status != 200 || !strings.HasPrefix(page.header.Get("Content-Type"), "text/html") ||
		!strings.Contains(page.header.Get("Content-Security-Policy"), "script-src 'self'") || !bytes.Contains(page.body, []byte(`id="login-form"`)) {
		t.Fatalf("GET /: %s %v", page, page.header)
	}
	start := bytes.Index(page.body, []byte(`src="console/`))
	if start < 0 {
		t.Fatalf("the page loads no script from console/")
	}
	asset := string(page.body[start+len(`src="`):])
	asset = asset[:strings.IndexByte(asset, '"')]
	if a := c.do("GET", "/"+asset, ""); a.status != 200 || !strings.HasPrefix(a.header.Get("Content-Type"), "text/javascript") {
		t.Errorf("GET /%s: %s", asset, a)
	}
	if a := c.do("GET", "/nothing", ""); a.status != 404 {
		t.Errorf("GET /nothing: %s", a)
	}
}

// The console's health is service.Health with the demo panel, and its slow
// checks are reused for a minute.
func TestConsoleHealth(t *testing.T) {
	demo := &service.DemoPanel{DashboardUID: "demo", PanelID: 2, From: "now-6h", To: "now"}
	c := newConsoleWithDemo(t, nil, demo)
	var first, second struct {
		OK        bool
		Chat      []service.ChatHealth
		Outbox    *service.OutboxHealth
		DemoPanel *service.DemoPanel
		CheckedAt time.Time
	}
	if a := c.do("GET", "/api/health", ""); a.status != 200 || json.Unmarshal(a.body, &first) != nil {
		t.Fatalf("health: %s", a)
	}
	if first.OK || first.Chat == nil || len(first.Chat) != 0 || first.Outbox == nil || first.Outbox.Path != c.outbox ||
		first.DemoPanel == nil || *first.DemoPanel != *demo || !strings.Contains(string(c.do("GET", "/api/health", "").body), `"oldestPendingSeconds"`) {
		t.Errorf("health without a browser or chat: %+v", first)
	}
	if a := c.do("GET", "/api/health", ""); json.Unmarshal(a.body, &second) != nil || !second.CheckedAt.Equal(first.CheckedAt) {
		t.Errorf("second health checked again at %v (first %v)", second.CheckedAt, first.CheckedAt)
	}
}

// The render form's picture is the panel as a push would carry it, drawn
// by Grafana's frontend, with the render's duration.
func TestConsoleRender(t *testing.T) {
	testenv.NeedChromium(t, render.FindChromium)
	// The dashboard check before the render has the TLS policy of chat
	// delivery, which serve always starts.
	f := newDeliveringFixture(t, func(c *config.Config) {
		c.GrafanaToken, c.OutboxPath = secret.New(testGrafanaToken), filepath.Join(t.TempDir(), "outbox.db")
	}, &delivery.WorkerOptions{})
	post := func(body string) response {
		t.Helper()
		res, err := http.Post(f.ts.URL+"/api/render", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return response{res.StatusCode, res.Header, b}
	}
	a := post(`{"panel": {"dashboardUid": "demo", "panelId": 2, "from": "now-6h", "to": "now", "width": 800, "height": 400}}`)
	if a.status != 200 || a.header.Get("Content-Type") != "image/png" || a.header.Get("X-Render-Duration-Ms") == "" {
		t.Fatalf("render: %s %v", a, a.header)
	}
	img := decodePNG(t, a.body)
	if b := img.Bounds(); b.Dx() != 800 || b.Dy() != 400 {
		t.Errorf("picture is %v, want 800x400", b)
	}
	if _, err := grafanatest.CheckDemoPicture(img); err != nil {
		t.Errorf("the picture is not the demo panel: %v", err)
	}
	var page *grafanatest.Visit
	for _, v := range f.g.Visits() {
		if strings.HasPrefix(v.Path, "/d-solo/demo/") {
			page = &v
		}
	}
	if page == nil || page.Header.Get("Authorization") != "Bearer "+testGrafanaToken || page.Query.Get("from") != "now-6h" {
		t.Errorf("page visit %+v, want the solo panel as the service account", page)
	}
	if a := post(`{"panel": {"dashboardUid": "nosuchdashboard", "panelId": 2}}`); a.status != 404 || !strings.Contains(apiError(a), "nosuchdashboard") {
		t.Errorf("missing dashboard: %s", a)
	}
}
