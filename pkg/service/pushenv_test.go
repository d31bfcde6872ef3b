package service

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/panelcast/panelcast/internal/fakechat/discordfake"
	"github.com/panelcast/panelcast/internal/fakechat/mattermostfake"
	"github.com/panelcast/panelcast/internal/fakechat/slackfake"
	"github.com/panelcast/panelcast/internal/fakechat/telegramfake"
	"github.com/panelcast/panelcast/internal/grafanatest"
	"github.com/panelcast/panelcast/internal/testenv"
	"github.com/panelcast/panelcast/pkg/config"
	"github.com/panelcast/panelcast/pkg/delivery"
	"github.com/panelcast/panelcast/pkg/render"
	"github.com/panelcast/panelcast/pkg/secret"
)

// Credentials of the test world; none may ever show up in a log, a stored
// error or health output.
const (
	grafanaToken    = "glsa_secret_grafana_5"
	slackToken      = "xoxb-secret-slack-1"
	mattermostToken = "secret-mattermost-2"
	discordToken    = "secret.discord.3"
	telegramToken   = "123456:secret-telegram_4"

	slackChannelID   = "C0ALERTS01"
	discordChannelID = "1234567890123456789"
	discordGuildID   = "987654321098765432"
	telegramChatID   = -1001234567890
)

var secrets = []string{grafanaToken, slackToken, mattermostToken, discordToken, telegramToken, "secret-telegram_4"}

// Addresses of the test channels, one per provider.
var addresses = map[string]string{
	"slack":      "slack:#alerts",
	"mattermost": "mattermost:town-square",
	"discord":    "discord:" + discordChannelID,
	"telegram":   "telegram:" + strconv.Itoa(telegramChatID),
}

// call is one request a chat fake answered.
type call struct {
	at     time.Time
	path   string
	status int
}

// front is an HTTP server in front of a fake that records when each
// request was answered and how, and can hold requests back.
type front struct {
	next http.Handler
	srv  *httptest.Server

	mu    sync.Mutex
	calls []call
	// hold, when set, holds matching requests until their client goes
	// away, so the fake never sees them: a request that died on the way.
	// held hears of each held request, dropped of each one dropped.
	hold    func(*http.Request) bool
	held    chan string
	dropped chan struct{}
}

func newFront(t *testing.T, next http.Handler) *front {
	f := &front{next: next, held: make(chan string, 100), dropped: make(chan struct{}, 100)}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	hold := f.hold != nil && f.hold(r)
	f.mu.Unlock()
	if hold {
		// The server notices a client leaving only once the body is read.
		_, _ = io.Copy(io.Discard, r.Body)
		f.held <- r.URL.Path
		<-r.Context().Done()
		f.dropped <- struct{}{}
		return
	}
	sw := &statusWriter{ResponseWriter: w}
	f.next.ServeHTTP(sw, r)
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	// The path is recorded without Telegram's /bot<token> part.
	path := r.URL.Path
	if i := strings.LastIndexByte(path, '/'); strings.HasPrefix(path, "/bot") && i > 0 {
		path = path[i:]
	}
	f.mu.Lock()
	f.calls = append(f.calls, call{at: time.Now(), path: path, status: sw.status})
	f.mu.Unlock()
}

func (f *front) answered() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

// pushEnv is a stand-in Grafana that accepts grafanaToken, the four fake
// chat services with one channel each, and a configuration pointing at all
// of them.
type pushEnv struct {
	g          *grafanatest.Server
	slack      *slackfake.Server
	mattermost *mattermostfake.Server
	discord    *discordfake.Server
	telegram   *telegramfake.Server
	fronts     map[string]*front
	cfg        config.Config
	logs       *testenv.LogBuffer
}

func newPushEnv(t *testing.T) *pushEnv {
	t.Helper()
	return newPushEnvWith(t, grafanatest.Options{})
}

// newPushEnvWith is newPushEnv with a stand-in Grafana of those options
// (TLS and the token are always set).
func newPushEnvWith(t *testing.T, opts grafanatest.Options) *pushEnv {
	t.Helper()
	testenv.NeedChromium(t, render.FindChromium)
	opts.TLS, opts.ServiceAccountToken = true, grafanaToken
	g, err := grafanatest.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	e := &pushEnv{g: g, fronts: map[string]*front{}, logs: &testenv.LogBuffer{}}

	e.slack = slackfake.New(slackToken)
	t.Cleanup(e.slack.Close)
	e.slack.AddChannel(slackChannelID, "alerts", true)
	e.mattermost = mattermostfake.New(mattermostToken, "ops")
	t.Cleanup(e.mattermost.Close)
	e.mattermost.AddChannel("", "town-square", true)
	e.discord = discordfake.New(discordToken)
	t.Cleanup(e.discord.Close)
	e.discord.AddChannel(discordfake.Channel{ID: discordChannelID, GuildID: discordGuildID, Perms: discordfake.PermAll})
	e.telegram = telegramfake.New(telegramToken)
	t.Cleanup(e.telegram.Close)
	e.telegram.AddChat(telegramfake.Chat{ID: telegramChatID, Title: "ops"})
	for name, h := range map[string]http.Handler{"slack": e.slack, "mattermost": e.mattermost, "discord": e.discord, "telegram": e.telegram} {
		e.fronts[name] = newFront(t, h)
	}

	c := config.Default()
	c.GrafanaURL = g.URL
	c.GrafanaToken = secret.New(grafanaToken)
	c.OutboxPath = filepath.Join(t.TempDir(), "outbox.db")
	c.MaxAttempts = 4
	c.Timeout = 20 * time.Second
	c.SlackBotToken, c.SlackAPIURL = secret.New(slackToken), e.fronts["slack"].srv.URL+"/api/"
	c.MattermostURL, c.MattermostToken, c.MattermostTeam = e.fronts["mattermost"].srv.URL, secret.New(mattermostToken), "ops"
	c.DiscordBotToken, c.DiscordAPIURL = secret.New(discordToken), e.fronts["discord"].srv.URL+"/api/v10"
	c.TelegramBotToken, c.TelegramAPIURL = secret.New(telegramToken), e.fronts["telegram"].srv.URL
	e.cfg = c
	return e
}

// workerOptions retry fast, so only a provider's Retry-After makes a retry
// wait.
func workerOptions() delivery.WorkerOptions {
	return delivery.WorkerOptions{BaseBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
		Poll: 100 * time.Millisecond, Concurrency: 4, ShutdownGrace: 2 * time.Second}
}

// start runs a service on the environment with chat delivery.
func (e *pushEnv) start(t *testing.T) *Service {
	t.Helper()
	return e.startWith(t, workerOptions())
}

// startWith is start with other worker options.
func (e *pushEnv) startWith(t *testing.T, opts delivery.WorkerOptions) *Service {
	t.Helper()
	s := New(context.Background(), Options{Config: e.cfg, Log: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if s.startErr != nil {
		t.Fatal(s.startErr)
	}
	if err := s.startDelivery(opts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.stopDelivery()
		s.renderer.Close(context.Background())
	})
	return s
}

// scenesPanel is the stand-in's scenes panel, marked so its page loads can
// be told apart.
func scenesPanel(mark string) Panel {
	return Panel{DashboardUID: grafanatest.ScenarioScenes, PanelID: 2, From: "now-1h", To: "now",
		Vars: map[string][]string{"mark": {mark}}, Width: 600, Height: 300}
}

// waitFinal polls a push until it is sent or failed.
func waitFinal(t *testing.T, s *Service, id string, within time.Duration) PushStatus {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st, err := s.PushStatus(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if st.State == "sent" || st.State == "failed" {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("push %s still %s after %s (attempts %d, error %q)", id, st.State, within, st.Attempts, st.Error)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// landed is a message as any of the fakes recorded it.
type landed struct {
	channel, text, id, replyTo string
	image                      []byte
}

func (e *pushEnv) landed(provider string) []landed {
	var out []landed
	switch provider {
	case "slack":
		for _, m := range e.slack.Messages() {
			l := landed{channel: m.ChannelID, text: m.Text, id: m.TS, replyTo: m.ThreadTS}
			if len(m.Files) > 0 {
				l.image = m.Files[0].Data
			}
			out = append(out, l)
		}
	case "mattermost":
		for _, m := range e.mattermost.Messages() {
			l := landed{channel: m.ChannelID, text: m.Text, id: m.PostID, replyTo: m.RootID}
			if len(m.Files) > 0 {
				l.image = m.Files[0].Data
			}
			out = append(out, l)
		}
	case "discord":
		for _, m := range e.discord.Messages() {
			l := landed{channel: m.ChannelID, text: m.Content, id: m.ID, replyTo: m.ReplyTo}
			if len(m.Files) > 0 {
				l.image = m.Files[0].Data
			}
			out = append(out, l)
		}
	case "telegram":
		for _, m := range e.telegram.Messages() {
			l := landed{channel: strconv.FormatInt(m.ChatID, 10), text: m.Text, id: strconv.FormatInt(m.MessageID, 10)}
			if m.ReplyTo != 0 {
				l.replyTo = strconv.FormatInt(m.ReplyTo, 10)
			}
			if m.File != nil {
				l.image = m.File.Data
			}
			out = append(out, l)
		}
	}
	return out
}

// checkPanelPicture decodes a picture and checks that it is the stand-in's
// rendered panel: the series in the lower half, the background above.
func checkPanelPicture(t *testing.T, what string, data []byte, w, h int) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Errorf("%s: the picture is not a PNG: %v", what, err)
		return
	}
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		t.Errorf("%s: picture is %dx%d, want %dx%d", what, b.Dx(), b.Dy(), w, h)
	}
	if got := pixel(img, 0.5, 0.75); !near(got, grafanatest.SeriesColor) {
		t.Errorf("%s: panel body is %v, want the series colour %v", what, got, grafanatest.SeriesColor)
	}
	if got := pixel(img, 0.9, 0.25); !near(got, grafanatest.Background) {
		t.Errorf("%s: upper half is %v, want the background %v", what, got, grafanatest.Background)
	}
}

func pixel(img image.Image, fx, fy float64) color.RGBA {
	b := img.Bounds()
	r, g, bl, a := img.At(b.Min.X+int(fx*float64(b.Dx()-1)), b.Min.Y+int(fy*float64(b.Dy()-1))).RGBA()
	return color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), uint8(a >> 8)}
}

func near(a, b color.RGBA) bool {
	d := func(x, y uint8) bool { return x-y <= 6 || y-x <= 6 }
	return d(a.R, b.R) && d(a.G, b.G) && d(a.B, b.B)
}

// checkNoSecrets fails if any credential appears in text.
func checkNoSecrets(t *testing.T, what, text string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("%s contains the secret %q", what, s)
		}
	}
}

// pageVisits are the stand-in's solo-panel page loads with the given mark.
func (e *pushEnv) pageVisits(mark string) []grafanatest.Visit {
	var out []grafanatest.Visit
	for _, v := range e.g.Visits() {
		if strings.HasPrefix(v.Path, "/d-solo/") && v.Query.Get("var-mark") == mark {
			out = append(out, v)
		}
	}
	return out
}
