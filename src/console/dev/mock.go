package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// mock implements the console's API contract with made-up data: pushes
// move queued → sending → sent/failed over two seconds; addresses with
// "bad" in them, and discord:, always fail; inbox: pushes land in the inbox.
type mock struct {
	token string // "" leaves the API open, as on loopback

	mu       sync.Mutex
	sessions map[string]bool
	jobs     []*job // newest first
	messages []*message
	renders  int
}

type job struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	Address   string    `json:"address"`
	Text      string    `json:"text"`
	State     string    `json:"state"`
	Attempts  int       `json:"attempts"`
	Error     string    `json:"error"`
	Permalink string    `json:"permalink"`
	CreatedAt time.Time `json:"createdAt"`
	SentAt    *string   `json:"sentAt,omitempty"`

	started   time.Time // of the current attempt
	failsLeft int       // attempts that fail before one succeeds; -1 always
	reason    string
	panel     json.RawMessage
}

type message struct {
	ID        string    `json:"id"`
	Channel   string    `json:"channel"`
	Text      string    `json:"text"`
	CreatedAt time.Time `json:"createdAt"`
	Images    []string  `json:"images"`
	pics      [][]byte
}

func newMock(token string) *mock {
	m := &mock{token: token, sessions: map[string]bool{}}
	now := time.Now()
	sent := now.Add(-50 * time.Minute).Format(time.RFC3339)
	m.jobs = []*job{
		{ID: "j4", Kind: "alert", Address: "slack:#ops", Text: "[FIRING:1] HighCPU api-7 (cpu 93%)", State: "queued", Attempts: 2,
			Error: "slack: ratelimited: retrying in 30 s", CreatedAt: now.Add(-2 * time.Minute)},
		{ID: "j3", Kind: "push", Address: "slack:#private", Text: "Weekly latency <img src=x onerror=alert(1)>", State: "failed", Attempts: 5,
			Error: "slack: not_in_channel: invite the bot to #private", CreatedAt: now.Add(-20 * time.Minute), failsLeft: 0},
		{ID: "j2", Kind: "alert", Address: "telegram:-100123456", Text: "[RESOLVED] DiskFull db-1", State: "sent", Attempts: 1,
			Permalink: "https://t.me/c/123456/42", CreatedAt: now.Add(-50 * time.Minute), SentAt: &sent},
		{ID: "j1", Kind: "push", Address: "discord:112233445566778899", Text: "Error budget", State: "failed", Attempts: 5,
			Error: "discord: 401 Unauthorized: the bot token is wrong: check discord_bot_token", CreatedAt: now.Add(-3 * time.Hour), failsLeft: -1},
	}
	m.messages = []*message{
		{ID: "m2", Channel: "ops", Text: "CPU 사용률 경보 — api-7 at 93 %\nRunbook: https://wiki.example.com/cpu", CreatedAt: now.Add(-12 * time.Minute)},
		{ID: "m1", Channel: "demo", Text: "Demo panel", CreatedAt: now.Add(-40 * time.Minute)},
	}
	for i, msg := range m.messages {
		msg.pics = [][]byte{chart(800, 400, "dark", int64(i))}
		msg.Images = []string{"/api/inbox/" + msg.ID + "/images/0"}
	}
	return m
}

func (m *mock) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/session", m.getSession)
	mux.HandleFunc("POST /api/session", m.login)
	mux.HandleFunc("DELETE /api/session", m.logout)
	mux.HandleFunc("GET /api/health", m.guard(m.health))
	mux.HandleFunc("POST /api/render", m.guard(m.render))
	mux.HandleFunc("POST /push", m.guard(m.push))
	mux.HandleFunc("GET /push/{id}", m.guard(m.pushStatus))
	mux.HandleFunc("GET /api/outbox", m.guard(m.outbox))
	mux.HandleFunc("POST /api/outbox/{id}/retry", m.guard(m.retry))
	mux.HandleFunc("GET /api/inbox", m.guard(m.inbox))
	mux.HandleFunc("GET /api/inbox/{id}/images/{n}", m.guard(m.image))
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (m *mock) signedIn(r *http.Request) bool {
	if m.token == "" {
		return true
	}
	c, err := r.Cookie("panelcast_session")
	m.mu.Lock()
	defer m.mu.Unlock()
	return err == nil && m.sessions[c.Value]
}

func (m *mock) guard(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !m.signedIn(r) {
			fail(w, http.StatusUnauthorized, "sign in with the API token (api_token)")
			return
		}
		next(w, r)
	}
}

func (m *mock) getSession(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, 200, map[string]bool{"required": m.token != "", "authenticated": m.token != "" && m.signedIn(r)})
}

func (m *mock) login(w http.ResponseWriter, r *http.Request) {
	var body struct{ Token string }
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Token != m.token {
		fail(w, http.StatusUnauthorized, "the token is not one of api_token: check it and try again")
		return
	}
	id := newID()
	m.mu.Lock()
	m.sessions[id] = true
	m.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "panelcast_session", Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
}

func (m *mock) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie("panelcast_session"); err == nil {
		m.mu.Lock()
		delete(m.sessions, c.Value)
		m.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: "panelcast_session", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
}

func (m *mock) health(w http.ResponseWriter, _ *http.Request) {
	m.mu.Lock()
	m.advance()
	queued, sending := 0, 0
	oldest := 0.0
	for _, j := range m.jobs {
		switch j.State {
		case "queued":
			queued++
		case "sending":
			sending++
		}
		if j.State == "queued" || j.State == "sending" {
			oldest = math.Max(oldest, time.Since(j.CreatedAt).Seconds())
		}
	}
	renders := m.renders
	m.mu.Unlock()
	writeJSON(w, 200, map[string]any{
		"ok": false, "message": "browser ok (probe 84 ms); discord: 401 Unauthorized: the bot token is wrong: check discord_bot_token",
		"version": "4.1.0", "browserVersion": "HeadlessChrome/141.0.7390.54", "chromiumPath": "/usr/bin/chromium", "tlsMode": "callback",
		"sandbox":  map[string]any{"enabled": false, "reason": "running as root: Chromium runs with --no-sandbox"},
		"fonts":    map[string]any{"latin": true, "cjk": false, "missing": []string{"ko", "ja", "zh"}, "install": []string{"fonts-noto-cjk"}, "message": "Korean, Japanese and Chinese text renders as boxes"},
		"inFlight": 0, "queued": 0, "renders": 1280 + renders, "browserRestarts": 1,
		"outbox": map[string]any{"store": "sqlite", "path": "/var/lib/panelcast/outbox.db", "queued": queued, "sending": sending, "oldestPendingSeconds": oldest},
		"chat": []map[string]any{
			{"provider": "slack", "ok": true},
			{"provider": "discord", "ok": false, "error": "discord: 401 Unauthorized: the bot token is wrong: check discord_bot_token"},
			{"provider": "inbox", "ok": true},
		},
		"alerts":    map[string]int{"received": 57, "delivered": 54, "failed": 3},
		"demoPanel": map[string]any{"dashboardUid": "demo", "panelId": 2, "from": "now-6h", "to": "now"},
	})
}

type panel struct {
	URL          string `json:"url"`
	DashboardUID string `json:"dashboardUid"`
	PanelID      int    `json:"panelId"`
	From, To     string
	Width        int    `json:"width"`
	Height       int    `json:"height"`
	Theme        string `json:"theme"`
	Timezone     string `json:"timezone"`
}

func (p *panel) check() string {
	switch {
	case p.URL == "" && p.DashboardUID == "":
		return "panel is missing: give panel.url (a Grafana panel URL) or panel.dashboardUid with panel.panelId"
	case p.URL != "" && !strings.HasPrefix(p.URL, "http"):
		return "panel.url must be an http(s) URL of a Grafana page"
	case p.DashboardUID == "missing":
		return `grafana: dashboard "missing" not found: check the UID in the dashboard's URL`
	}
	if p.Width == 0 {
		p.Width = 1000
	}
	if p.Height == 0 {
		p.Height = 500
	}
	if p.Width < 1 || p.Width > 3000 || p.Height < 1 || p.Height > 3000 {
		return "panel.width and panel.height must be 1..3000"
	}
	return ""
}

func (m *mock) render(w http.ResponseWriter, r *http.Request) {
	var body struct{ Panel panel }
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		fail(w, 400, "the body is not valid JSON: "+err.Error())
		return
	}
	if msg := body.Panel.check(); msg != "" {
		fail(w, 400, msg)
		return
	}
	start := time.Now()
	time.Sleep(350 * time.Millisecond)
	m.mu.Lock()
	m.renders++
	m.mu.Unlock()
	pic := chart(body.Panel.Width, body.Panel.Height, body.Panel.Theme, time.Now().Unix())
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("X-Render-Duration-Ms", strconv.FormatInt(time.Since(start).Milliseconds(), 10))
	_, _ = w.Write(pic)
}

func (m *mock) push(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Panel json.RawMessage `json:"panel"`
		To    string          `json:"to"`
		Text  string          `json:"text"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		fail(w, 400, "the body is not valid JSON: "+err.Error())
		return
	}
	var p panel
	_ = json.Unmarshal(body.Panel, &p)
	if msg := p.check(); msg != "" {
		fail(w, 400, msg)
		return
	}
	provider, channel, ok := strings.Cut(body.To, ":")
	if !ok || channel == "" {
		fail(w, 400, `"to" must be an address like inbox:demo or slack:#ops`)
		return
	}
	j := &job{ID: newID(), Kind: "push", Address: body.To, Text: body.Text, State: "queued", CreatedAt: time.Now(), started: time.Now(), panel: body.Panel}
	switch {
	case strings.Contains(body.To, "bad") || provider == "discord":
		j.failsLeft, j.reason = -1, "discord: 401 Unauthorized: the bot token is wrong: check discord_bot_token"
	case provider == "slack" && strings.Contains(channel, "private"):
		j.failsLeft, j.reason = 1, "slack: not_in_channel: invite the bot to "+channel
	case provider != "inbox" && provider != "slack":
		fail(w, 400, fmt.Sprintf("%s is not configured: set %s_bot_token", provider, provider))
		return
	}
	m.mu.Lock()
	m.jobs = append([]*job{j}, m.jobs...)
	m.mu.Unlock()
	writeJSON(w, http.StatusAccepted, map[string]string{"id": j.ID, "state": j.State})
}

// advance moves the jobs' states on with the clock; m.mu is held.
func (m *mock) advance() {
	for _, j := range m.jobs {
		if j.started.IsZero() || (j.State != "queued" && j.State != "sending") {
			continue
		}
		since := time.Since(j.started)
		switch {
		case since < 800*time.Millisecond:
		case since < 1800*time.Millisecond:
			if j.State == "queued" {
				j.State, j.Attempts = "sending", j.Attempts+1
			}
		case j.failsLeft != 0:
			j.State, j.Error = "failed", j.reason
			if j.failsLeft > 0 {
				j.failsLeft--
			}
		default:
			now := time.Now().Format(time.RFC3339)
			j.State, j.Error, j.SentAt = "sent", "", &now
			provider, channel, _ := strings.Cut(j.Address, ":")
			if provider == "inbox" {
				msg := &message{ID: newID(), Channel: channel, Text: j.Text, CreatedAt: time.Now()}
				var p panel
				_ = json.Unmarshal(j.panel, &p)
				_ = p.check()
				msg.pics = [][]byte{chart(p.Width, p.Height, p.Theme, time.Now().Unix())}
				msg.Images = []string{"/api/inbox/" + msg.ID + "/images/0"}
				m.messages = append([]*message{msg}, m.messages...)
				j.Permalink = "/#inbox"
			} else {
				j.Permalink = "https://example.slack.com/archives/C0123/p" + strconv.FormatInt(time.Now().UnixMicro(), 10)
			}
		}
	}
}

func (m *mock) find(id string) *job {
	for _, j := range m.jobs {
		if j.ID == id {
			return j
		}
	}
	return nil
}

func (m *mock) pushStatus(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.advance()
	j := m.find(r.PathValue("id"))
	if j == nil {
		fail(w, 404, "no such push: it may have been pruned from the outbox")
		return
	}
	writeJSON(w, 200, map[string]any{"id": j.ID, "state": j.State, "attempts": j.Attempts, "error": j.Error, "permalink": j.Permalink})
}

func limit(r *http.Request) int {
	n, err := strconv.Atoi(r.URL.Query().Get("limit"))
	if err != nil || n < 1 || n > 200 {
		return 50
	}
	return n
}

func (m *mock) outbox(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.advance()
	jobs := m.jobs[:min(len(m.jobs), limit(r))]
	writeJSON(w, 200, map[string]any{"jobs": jobs})
}

func (m *mock) retry(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j := m.find(r.PathValue("id"))
	switch {
	case j == nil:
		fail(w, 404, "no such job in the outbox")
		return
	case j.State != "failed":
		fail(w, 409, "only failed jobs can be retried; this one is "+j.State)
		return
	}
	if j.reason == "" {
		j.reason = j.Error
	}
	j.State, j.started = "queued", time.Now()
	writeJSON(w, http.StatusAccepted, map[string]string{"id": j.ID, "state": j.State})
}

func (m *mock) inbox(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.advance()
	channel := r.URL.Query().Get("channel")
	out := []*message{}
	for _, msg := range m.messages {
		if channel == "" || msg.Channel == channel {
			out = append(out, msg)
		}
	}
	writeJSON(w, 200, map[string]any{"messages": out[:min(len(out), limit(r))]})
}

func (m *mock) image(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, _ := strconv.Atoi(r.PathValue("n"))
	for _, msg := range m.messages {
		if msg.ID == r.PathValue("id") && n >= 0 && n < len(msg.pics) {
			w.Header().Set("Content-Type", "image/png")
			w.Header().Set("Cache-Control", "private, max-age=86400")
			_, _ = w.Write(msg.pics[n])
			return
		}
	}
	fail(w, 404, "no such picture")
}

// chart draws a time series panel's likeness: grid, two series, a
// threshold line (no text: the mock has no font).
func chart(width, height int, theme string, seed int64) []byte {
	bg, grid := color.RGBA{0x18, 0x1b, 0x1f, 0xff}, color.RGBA{0x2c, 0x30, 0x36, 0xff}
	if theme == "light" {
		bg, grid = color.RGBA{0xff, 0xff, 0xff, 0xff}, color.RGBA{0xe4, 0xe5, 0xe8, 0xff}
	}
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	for i := range img.Pix {
		img.Pix[i] = []byte{bg.R, bg.G, bg.B, bg.A}[i%4]
	}
	left, top, right, bottom := 48, 32, width-16, height-28
	for x := left; x <= right; x += max(1, (right-left)/8) {
		line(img, x, top, x, bottom, grid, 1)
	}
	for y := top; y <= bottom; y += max(1, (bottom-top)/5) {
		line(img, left, y, right, y, grid, 1)
	}
	thr := top + (bottom-top)/4
	for x := left; x < right; x += 12 {
		line(img, x, thr, min(x+6, right), thr, color.RGBA{0xf2, 0x49, 0x5c, 0xff}, 1)
	}
	series := []color.RGBA{{0x73, 0xbf, 0x69, 0xff}, {0xf2, 0xcc, 0x0c, 0xff}, {0x5f, 0x9e, 0xf0, 0xff}}
	for s, c := range series {
		px, py := 0, 0
		for x := left; x <= right; x += 4 {
			t := float64(x)/float64(width)*9 + float64(s)*1.7 + float64(seed%7)
			v := 0.5 + 0.22*math.Sin(t) + 0.1*math.Sin(t*2.9+float64(s))
			y := bottom - int(v*float64(bottom-top)*(0.9-0.2*float64(s)))
			if x > left {
				line(img, px, py, x, y, c, 2)
			}
			px, py = x, y
		}
	}
	var buf bytes.Buffer
	_ = png.Encode(&buf, img)
	return buf.Bytes()
}

func line(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA, width int) {
	steps := max(abs(x1-x0), abs(y1-y0), 1)
	for i := 0; i <= steps; i++ {
		x := x0 + (x1-x0)*i/steps
		y := y0 + (y1-y0)*i/steps
		for d := 0; d < width; d++ {
			img.SetRGBA(x, y+d, c)
		}
	}
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
