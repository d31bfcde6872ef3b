package service

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/panelcast/panelcast/pkg/secret"
)

// Two pushes in one thread to every provider: each arrives once, in the
// right channel, with its text and a real render of the panel, and the
// second replies to the first.
func TestPushToEveryProvider(t *testing.T) {
	e := newPushEnv(t)
	s := e.start(t)
	ctx := context.Background()

	ids := map[string][2]string{}
	for provider, to := range addresses {
		var pair [2]string
		for i, text := range []string{"first to " + provider, "second to " + provider} {
			st, err := s.Push(ctx, PushRequest{To: to, Text: text, Thread: "deploy-42", Panel: scenesPanel(provider)}, "")
			if err != nil {
				t.Fatal(err)
			}
			if st.State != "queued" || st.ID == "" {
				t.Errorf("Push answered %+v", st)
			}
			pair[i] = st.ID
		}
		ids[provider] = pair
	}
	for provider, pair := range ids {
		for _, id := range pair {
			if st := waitFinal(t, s, id, 60*time.Second); st.State != "sent" || st.Attempts != 1 || st.Error != "" {
				t.Errorf("%s: push %+v", provider, st)
			} else if st.Permalink == "" {
				t.Errorf("%s: push %s has no permalink", provider, id)
			}
		}
	}

	wantChannel := map[string]string{"slack": slackChannelID, "discord": discordChannelID, "telegram": "-1001234567890"}
	for provider := range addresses {
		msgs := e.landed(provider)
		if len(msgs) != 2 {
			t.Errorf("%s received %d messages, want 2", provider, len(msgs))
			continue
		}
		first, second := msgs[0], msgs[1]
		if first.text != "first to "+provider || second.text != "second to "+provider {
			t.Errorf("%s: texts %q, %q", provider, first.text, second.text)
		}
		if want := wantChannel[provider]; want != "" && (first.channel != want || second.channel != want) {
			t.Errorf("%s: channels %q, %q, want %q", provider, first.channel, second.channel, want)
		}
		if first.channel != second.channel {
			t.Errorf("%s: the thread is split over %q and %q", provider, first.channel, second.channel)
		}
		if first.replyTo != "" || second.replyTo != first.id {
			t.Errorf("%s: first replies to %q, second to %q; want a new thread, then a reply to %q", provider, first.replyTo, second.replyTo, first.id)
		}
		for i, m := range msgs {
			checkPanelPicture(t, provider+" message "+string(rune('1'+i)), m.image, 600, 300)
		}
	}

	// The browser authenticated with the service-account token, on every
	// request it made to Grafana, and never with a render key.
	visits := e.g.Visits()
	if len(visits) == 0 {
		t.Fatal("the stand-in saw no request")
	}
	for _, v := range visits {
		if got := v.Header.Get("Authorization"); got != "Bearer "+grafanaToken {
			t.Errorf("%s %s carried Authorization %q", v.Method, v.Path, got)
		}
		if _, ok := v.Cookies["renderKey"]; ok {
			t.Errorf("%s carried a renderKey cookie", v.Path)
		}
	}
	for provider := range addresses {
		pages := e.pageVisits(provider)
		if len(pages) != 2 {
			t.Errorf("%s: %d page loads, want 2", provider, len(pages))
			continue
		}
		q := pages[0].Query
		if pages[0].Path != "/d-solo/scenes/_" || q.Get("panelId") != "2" || q.Get("from") != "now-1h" || q.Get("to") != "now" || q.Get("render") != "1" {
			t.Errorf("%s: page %s?%s", provider, pages[0].Path, q.Encode())
		}
	}

	h := s.Health(ctx)
	b, _ := json.Marshal(h)
	checkNoSecrets(t, "health", string(b))
	if !h.OK || h.Outbox == nil || h.Outbox.Path != e.cfg.OutboxPath || h.Outbox.Queued+h.Outbox.Sending != 0 || len(h.Chat) != 4 {
		t.Errorf("health %s", b)
	}
	for _, c := range h.Chat {
		if !c.OK {
			t.Errorf("health: %s credentials failed: %s", c.Provider, c.Error)
		}
	}
	if !strings.Contains(h.Message, "discord, mattermost, slack, telegram ok") {
		t.Errorf("health message %q", h.Message)
	}
	checkNoSecrets(t, "the log", e.logs.String())
}

// A provider that answers 429 with Retry-After gets its retry no sooner
// than it asked, although the worker's own backoff is 20 ms; the push is
// then sent once.
func TestPushHonoursRetryAfter(t *testing.T) {
	e := newPushEnv(t)
	const wait = 2 * time.Second
	e.slack.RateLimitNext(1, wait)
	e.mattermost.RateLimitNext(1, wait)
	e.discord.RateLimitNext(1, wait)
	e.telegram.RateLimitNext(1, wait)
	s := e.start(t)
	ids := map[string]string{}
	for provider, to := range addresses {
		st, err := s.Push(context.Background(), PushRequest{To: to, Text: "limited " + provider, Panel: scenesPanel(provider)}, "")
		if err != nil {
			t.Fatal(err)
		}
		ids[provider] = st.ID
	}
	for provider, id := range ids {
		st := waitFinal(t, s, id, 60*time.Second)
		if st.State != "sent" || st.Attempts != 2 {
			t.Errorf("%s: %+v; want sent on the second attempt", provider, st)
			continue
		}
		var limited time.Time
		for _, c := range e.fronts[provider].answered() {
			if c.status == http.StatusTooManyRequests {
				limited = c.at
				break
			}
		}
		pages := e.pageVisits(provider)
		if limited.IsZero() || len(pages) != 2 {
			t.Errorf("%s: 429 at %v, %d renders", provider, limited, len(pages))
			continue
		}
		// The retry starts with a new render of the panel.
		if gap := pages[1].At.Sub(limited); gap < wait-50*time.Millisecond {
			t.Errorf("%s: retried %s after the 429, want at least its Retry-After of %s", provider, gap, wait)
		}
		if n := len(e.landed(provider)); n != 1 {
			t.Errorf("%s: %d messages, want 1", provider, n)
		}
	}
	checkNoSecrets(t, "the log", e.logs.String())
}

// A wrong service-account token fails the push with a reason and sends
// nothing: no picture of Grafana's login page reaches the chat.
func TestPushWithWrongGrafanaToken(t *testing.T) {
	e := newPushEnv(t)
	e.cfg.GrafanaToken = secret.New("glsa_wrong_token")
	s := e.start(t)
	st, err := s.Push(context.Background(), PushRequest{To: addresses["slack"], Text: "never", Panel: scenesPanel("wrong")}, "")
	if err != nil {
		t.Fatal(err)
	}
	st = waitFinal(t, s, st.ID, 30*time.Second)
	if st.State != "failed" || st.Attempts != 1 || !strings.Contains(st.Error, "Grafana refused grafana_token (401)") {
		t.Errorf("push %+v", st)
	}
	if strings.Contains(st.Error, "glsa_wrong_token") {
		t.Errorf("the error shows the token: %q", st.Error)
	}
	if n := len(e.slack.Messages()); n != 0 || len(e.pageVisits("wrong")) != 0 {
		t.Errorf("%d messages and %d page loads after a refused token", n, len(e.pageVisits("wrong")))
	}
}

// Health names a chat credential that does not work, without the token.
func TestHealthReportsBadChatCredentials(t *testing.T) {
	e := newPushEnv(t)
	e.slack.RevokeToken()
	s := e.start(t)
	h := s.Health(context.Background())
	b, _ := json.Marshal(h)
	checkNoSecrets(t, "health", string(b))
	if h.OK || !strings.Contains(h.Message, "slack") {
		t.Errorf("health with a revoked Slack token: %s", b)
	}
	for _, c := range h.Chat {
		if (c.Provider == "slack") == c.OK {
			t.Errorf("chat health %+v", c)
		}
	}
}
