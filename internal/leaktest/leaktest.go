// Package leaktest is the one test, shared by both doors, that no secret
// reaches what Panelcast shows anyone: log lines, error texts returned to a
// caller, health answers, metrics and the output of a panic. Run builds a
// world (a stand-in Grafana, the four chat fakes, a real PostgreSQL outbox,
// every credential a distinct value), starts the door under test on it
// four times (right credentials; wrong chat tokens; a wrong Grafana token;
// a wrong outbox password), exercises every provider with a success and with
// failures (429, 5xx, a bad token, a render that fails, bad requests),
// collects everything the door answered and logged, and fails naming the
// secret and where it showed. Each door's tests implement Door. Only tests
// import it.
package leaktest

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/panelcast/panelcast/internal/fakechat/discordfake"
	"github.com/panelcast/panelcast/internal/fakechat/mattermostfake"
	"github.com/panelcast/panelcast/internal/fakechat/slackfake"
	"github.com/panelcast/panelcast/internal/fakechat/telegramfake"
	"github.com/panelcast/panelcast/internal/grafanatest"
	"github.com/panelcast/panelcast/internal/pgtest"
)

// The world's credentials. Each is a value no other text contains, so that
// finding it anywhere is a leak. The wrong ones are secrets too: an
// operator's mistyped token is still a token.
const (
	grafanaToken  = "glsa_leakGrafanaToken_4f9e"
	renderKey     = "leakRenderKey-7d21c0"
	AuthToken     = "leakAuthToken-rendering-81b3"
	APIToken      = "leakAPIToken-push-5a6c"
	slackToken    = "xoxb-leakSlackToken-2e7f"
	mmToken       = "leakMattermostToken-9c44"
	discordToken  = "leakDiscordToken.Bot.0d13"
	telegramToken = "7700123:leakTelegramHalf-AAb8"
	// telegramHalf is the part of a Telegram token after its colon: the
	// secret, which an error quoting a /bot<token>/ URL would show.
	telegramHalf = "leakTelegramHalf-AAb8"

	wrongGrafanaToken  = "glsa_leakWrongGrafana_c3d1"
	wrongRenderKey     = "leakWrongRenderKey-0f0f"
	wrongSlackToken    = "xoxb-leakWrongSlack-66aa"
	wrongMMToken       = "leakWrongMattermost-77bb"
	wrongDiscordToken  = "leakWrongDiscord.Bot.88cc"
	wrongTelegramToken = "7700999:leakWrongTelegramHalf-99dd"
	wrongTelegramHalf  = "leakWrongTelegramHalf-99dd"
	wrongPGPassword    = "leakWrongPGPassword-1e2f"
)

// providers are the chat providers every scenario runs against, with the
// address of the world's channel on each.
var providers = []struct{ Name, Address string }{
	{"slack", "slack:#alerts"},
	{"mattermost", "mattermost:town-square"},
	{"discord", "discord:" + discordChannel},
	{"telegram", "telegram:" + strconv.Itoa(telegramChat)},
}

const (
	slackChannel   = "C0LEAKS001"
	discordChannel = "1234567890123456789"
	discordGuild   = "987654321098765432"
	telegramChat   = -1001234567890
)

// setup names one of the configurations the door is started with.
type setup string

const (
	// allRight has every credential right.
	allRight setup = "right credentials"
	// wrongChatTokens has a wrong token for every chat provider.
	wrongChatTokens setup = "wrong chat tokens"
	// wrongGrafana has a wrong grafana_token.
	wrongGrafana setup = "wrong Grafana token"
	// wrongOutbox has an outbox_url with a wrong password.
	wrongOutbox setup = "wrong outbox password"
)

// Door is a started door as its caller sees it.
type Door interface {
	// Call sends a request to the chat API (push, push/<id>,
	// alerts?to=…) as the door's callers do: a Grafana Editor through the
	// plugin's resources, a bearer api_token to the server. It returns the
	// status and the body.
	Call(method, path string, body []byte) (int, []byte)
	// Render asks for a picture of page as Grafana does, presenting
	// renderKey and the renderer token; it returns the error text Grafana
	// would get, "" on success.
	Render(page string, width int, renderKey string) string
	// Health is every health answer the door gives.
	Health() []string
	// Metrics is the door's metrics as Grafana or Prometheus scrape them.
	Metrics() string
	// Panic forces a panic while the door holds its configuration and a
	// render request with renderKey, and returns what was printed and
	// answered.
	Panic(renderKey string) string
	// Logs is everything the door logged so far.
	Logs() string
}

// Start starts a door with settings (config keys to values, as grafana.ini
// or flags give them), which point it at Run's stand-ins.
type Start func(t *testing.T, settings map[string]string) Door

// world is the stand-in Grafana, the chat fakes and PostgreSQL the doors
// talk to.
type world struct {
	grafana    *grafanatest.Server
	slack      *slackfake.Server
	mattermost *mattermostfake.Server
	discord    *discordfake.Server
	telegram   *telegramfake.Server
	pg         *pgtest.Server
}

// newWorld starts the stand-ins; they stop when the test ends.
func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{pg: pgtest.New(t)}
	g, err := grafanatest.Start(grafanatest.Options{TLS: true, RenderKey: renderKey, ServiceAccountToken: grafanaToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	w.grafana = g
	w.slack = slackfake.New(slackToken)
	t.Cleanup(w.slack.Close)
	w.slack.AddChannel(slackChannel, "alerts", true)
	w.mattermost = mattermostfake.New(mmToken, "ops")
	t.Cleanup(w.mattermost.Close)
	w.mattermost.AddChannel("", "town-square", true)
	w.discord = discordfake.New(discordToken)
	t.Cleanup(w.discord.Close)
	w.discord.AddChannel(discordfake.Channel{ID: discordChannel, GuildID: discordGuild, Perms: discordfake.PermAll})
	w.telegram = telegramfake.New(telegramToken)
	t.Cleanup(w.telegram.Close)
	w.telegram.AddChat(telegramfake.Chat{ID: telegramChat, Title: "ops"})
	return w
}

// secrets are every credential of the world, the PostgreSQL password
// included.
func (w *world) secrets() []string {
	return []string{grafanaToken, renderKey, AuthToken, APIToken, slackToken, mmToken, discordToken, telegramToken, telegramHalf,
		wrongGrafanaToken, wrongRenderKey, wrongSlackToken, wrongMMToken, wrongDiscordToken, wrongTelegramToken, wrongTelegramHalf,
		wrongPGPassword, w.pg.Password()}
}

// settings are the configuration of a door of the given kind, each start
// with an outbox database of its own.
func (w *world) settings(t *testing.T, kind setup) map[string]string {
	t.Helper()
	outbox := w.pg.Database(t)
	s := map[string]string{
		"grafana_url":        w.grafana.URL,
		"grafana_token":      grafanaToken,
		"auth_token":         AuthToken,
		"api_token":          APIToken,
		"outbox_url":         outbox,
		"max_attempts":       "2",
		"timeout":            "15s",
		"slack_bot_token":    slackToken,
		"slack_api_url":      w.slack.APIURL(),
		"mattermost_url":     w.mattermost.URL(),
		"mattermost_token":   mmToken,
		"mattermost_team":    "ops",
		"discord_bot_token":  discordToken,
		"discord_api_url":    w.discord.URL(),
		"telegram_bot_token": telegramToken,
		"telegram_api_url":   w.telegram.URL(),
	}
	switch kind {
	case wrongChatTokens:
		s["slack_bot_token"], s["mattermost_token"] = wrongSlackToken, wrongMMToken
		s["discord_bot_token"], s["telegram_bot_token"] = wrongDiscordToken, wrongTelegramToken
	case wrongGrafana:
		s["grafana_token"] = wrongGrafanaToken
	case wrongOutbox:
		u, err := url.Parse(outbox)
		if err != nil {
			t.Fatal(err)
		}
		u.User = url.UserPassword(u.User.Username(), wrongPGPassword)
		s["outbox_url"] = u.String()
	}
	return s
}

// seen is what a run collected: where each text came from, and the text.
type seen struct {
	what, text string
}

// Run is the shared test: it starts the door once for each setup and
// checks everything it showed.
func Run(t *testing.T, start Start) {
	w := newWorld(t)
	var all []seen
	collect := func(what string, text string) { all = append(all, seen{what, text}) }

	good := start(t, w.settings(t, allRight))
	w.exerciseGood(t, good, collect)
	collect("logs ("+string(allRight)+")", good.Logs())

	for _, kind := range []setup{wrongChatTokens, wrongGrafana, wrongOutbox} {
		d := start(t, w.settings(t, kind))
		w.exerciseFailing(t, d, kind, collect)
		collect("logs ("+string(kind)+")", d.Logs())
	}

	secrets := w.secrets()
	leaks := 0
	for _, s := range all {
		for _, secret := range secrets {
			if strings.Contains(s.text, secret) {
				leaks++
				t.Errorf("%s shows the secret %q:\n%s", s.what, secret, excerpt(s.text, secret))
			}
		}
	}
	if leaks == 0 {
		t.Logf("checked %d texts (%d bytes) for %d secrets", len(all), size(all), len(secrets))
	}
}

func size(all []seen) int {
	n := 0
	for _, s := range all {
		n += len(s.text)
	}
	return n
}

// excerpt is the line around the first place secret shows in text.
func excerpt(text, secret string) string {
	i := strings.Index(text, secret)
	start, end := max(0, i-300), min(len(text), i+len(secret)+300)
	return "…" + text[start:end] + "…"
}

// pushBody is a push of the scenes panel (or another dashboard) to addr.
func pushBody(dashboard, addr string) []byte {
	b, _ := json.Marshal(map[string]any{
		"panel": map[string]any{"dashboardUid": dashboard, "panelId": 2, "width": 400, "height": 200},
		"to":    addr, "text": "leak test: " + addr,
	})
	return b
}

// alertBody is a Grafana webhook notification whose alert names the scenes
// panel.
func alertBody(base string) []byte {
	now := time.Now().UTC()
	b, _ := json.Marshal(map[string]any{
		"receiver": "panelcast", "status": "firing", "orgId": 1, "version": "1",
		"groupKey": "{}:{alertname=\"LeakTest\"}", "externalURL": base + "/",
		"alerts": []any{map[string]any{
			"status": "firing", "labels": map[string]string{"alertname": "LeakTest", "instance": "web-1"},
			"annotations": map[string]string{"summary": "leak test"},
			"startsAt":    now.Add(-time.Minute).Format(time.RFC3339), "endsAt": "0001-01-01T00:00:00Z",
			"fingerprint": fmt.Sprintf("%016x", now.UnixNano()),
			"panelURL":    base + "/d/" + grafanatest.ScenarioScenes + "?orgId=1&viewPanel=2",
		}},
	})
	return b
}

// push queues one push and returns its id ("" when refused), collecting
// the answer.
func push(d Door, dashboard, addr string, collect func(string, string)) string {
	code, body := d.Call("POST", "push", pushBody(dashboard, addr))
	collect(fmt.Sprintf("push %s to %s answer (%d)", dashboard, addr, code), string(body))
	var st struct{ ID string }
	_ = json.Unmarshal(body, &st)
	return st.ID
}

// wait polls pushes until they are sent or failed, collecting their last
// status.
func wait(t *testing.T, d Door, ids map[string]string, collect func(string, string)) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for what, id := range ids {
		for {
			code, body := d.Call("GET", "push/"+id, nil)
			var st struct{ State string }
			_ = json.Unmarshal(body, &st)
			if code != 200 || st.State == "sent" || st.State == "failed" || time.Now().After(deadline) {
				collect(fmt.Sprintf("status of %s (%d)", what, code), string(body))
				if st.State != "sent" && st.State != "failed" {
					t.Errorf("%s did not finish: %d %s", what, code, body)
				}
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// exerciseGood runs every scenario on a door with right credentials.
func (w *world) exerciseGood(t *testing.T, d Door, collect func(string, string)) {
	t.Helper()
	faults := map[string]interface {
		RateLimitNext(int, time.Duration)
		FailNext(int, int)
	}{"slack": w.slack, "mattermost": w.mattermost, "discord": w.discord, "telegram": w.telegram}

	ids := map[string]string{}
	for _, p := range providers {
		if id := push(d, grafanatest.ScenarioScenes, p.Address, collect); id != "" {
			ids["push to "+p.Name] = id
		} else {
			t.Errorf("push to %s was refused", p.Name)
		}
	}
	wait(t, d, ids, collect)

	// A rate limit the push waits out, then a provider failing for good.
	for _, status := range []int{429, 500} {
		ids = map[string]string{}
		for _, p := range providers {
			if status == 429 {
				faults[p.Name].RateLimitNext(1, time.Second)
			} else {
				faults[p.Name].FailNext(20, status)
			}
			if id := push(d, grafanatest.ScenarioScenes, p.Address, collect); id != "" {
				ids[fmt.Sprintf("push to %s (%d)", p.Name, status)] = id
			}
		}
		wait(t, d, ids, collect)
		for _, p := range providers {
			faults[p.Name].FailNext(0, 0)
		}
	}

	// A panel whose dashboard Grafana does not have fails before the render.
	if id := push(d, "nosuchdashboard", providers[0].Address, collect); id != "" {
		wait(t, d, map[string]string{"push of a missing dashboard": id}, collect)
	}
	// Bad requests.
	for what, body := range map[string][]byte{
		"bad JSON": []byte(`{"panel": `), "unknown provider": pushBody(grafanatest.ScenarioScenes, "irc:#ops"),
		"bad telegram chat": pushBody(grafanatest.ScenarioScenes, "telegram:not-a-chat"),
	} {
		code, answer := d.Call("POST", "push", body)
		collect(fmt.Sprintf("push with %s (%d)", what, code), string(answer))
	}
	code, answer := d.Call("GET", "push/no-such-push", nil)
	collect(fmt.Sprintf("status of an unknown push (%d)", code), string(answer))

	for _, p := range providers {
		code, answer := d.Call("POST", "alerts?to="+url.QueryEscape(p.Address), alertBody(w.grafana.URL))
		collect(fmt.Sprintf("alert to %s (%d)", p.Name, code), string(answer))
	}
	code, answer = d.Call("POST", "alerts", []byte(`{"alerts": "no"}`))
	collect(fmt.Sprintf("a bad alert notification (%d)", code), string(answer))

	page := w.grafana.PanelURL(grafanatest.ScenarioScenes, nil)
	if msg := d.Render(page, 400, renderKey); msg != "" {
		t.Errorf("render failed: %s", msg)
	}
	collect("render with a wrong render key", d.Render(page, 400, wrongRenderKey))
	collect("render too wide", d.Render(page, 100000, renderKey))
	collect("render of a foreign origin", d.Render("https://grafana.invalid/d/x", 400, renderKey))

	for i, h := range d.Health() {
		collect(fmt.Sprintf("health answer %d", i), h)
	}
	collect("metrics", d.Metrics())
	out := d.Panic(renderKey)
	if !strings.Contains(out, "panic") || !strings.Contains(out, w.grafana.URL) {
		t.Errorf("the forced panic printed no configuration:\n%s", out)
	}
	collect("panic", out)
}

// exerciseFailing pushes to every provider and checks health on a door
// whose credentials are wrong.
func (w *world) exerciseFailing(t *testing.T, d Door, kind setup, collect func(string, string)) {
	t.Helper()
	ids := map[string]string{}
	for _, p := range providers {
		if id := push(d, grafanatest.ScenarioScenes, p.Address, collect); id != "" {
			ids[fmt.Sprintf("push to %s (%s)", p.Name, kind)] = id
		}
	}
	wait(t, d, ids, collect)
	for _, p := range providers {
		code, answer := d.Call("POST", "alerts?to="+url.QueryEscape(p.Address), alertBody(w.grafana.URL))
		collect(fmt.Sprintf("alert to %s (%s, %d)", p.Name, kind, code), string(answer))
	}
	for i, h := range d.Health() {
		collect(fmt.Sprintf("health answer %d (%s)", i, kind), h)
	}
	collect(fmt.Sprintf("metrics (%s)", kind), d.Metrics())
}
