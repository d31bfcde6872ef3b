package service

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/panelcast/panelcast/internal/fakechat/slackfake"
	"github.com/panelcast/panelcast/pkg/config"
	"github.com/panelcast/panelcast/pkg/delivery"
	"github.com/panelcast/panelcast/pkg/secret"
)

// noBrowserService is a service whose browser is missing, for what needs
// no render.
func noBrowserService(t *testing.T, c config.Config) *Service {
	t.Helper()
	c.ChromiumPath = filepath.Join(t.TempDir(), "no-chromium")
	s := New(context.Background(), Options{Config: c, Log: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { _ = s.Shutdown(context.Background(), nil) })
	return s
}

// With no chat configured, serve and push still deliver to the inbox,
// through the outbox and worker: an alert without a panel lands there,
// in its channel (inbox:#ops is inbox:ops), and the outbox lists it.
func TestInboxWithoutAnyChat(t *testing.T) {
	c := config.Default()
	c.GrafanaURL = "https://grafana.example.com"
	c.OutboxPath = filepath.Join(t.TempDir(), "outbox.db")
	s := noBrowserService(t, c)
	s.inboxPermalink = "#inbox/"
	if err := s.startDelivery(delivery.WorkerOptions{}); err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile("../notification/testdata/grafana-no-panel.json")
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.HandleAlerts(context.Background(), body, "inbox:#ops", "", nil)
	if err != nil || len(res.Messages) != 1 {
		t.Fatalf("HandleAlerts = %+v, %v", res, err)
	}
	ctx := context.Background()
	var msgs []Message
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if msgs, err = s.Messages(ctx, 0); err != nil || (len(msgs) == 1 && msgs[0].State == delivery.StateSent) {
			break
		}
	}
	if err != nil || len(msgs) != 1 || msgs[0].ID != res.Messages[0].ID || msgs[0].Kind != "alert" || msgs[0].State != "sent" {
		t.Fatalf("Messages = %+v, %v", msgs, err)
	}
	inbox, err := s.Inbox(ctx, "ops", 10)
	if err != nil || len(inbox) != 1 || inbox[0].Channel != "ops" || inbox[0].Pictures != 0 || !strings.Contains(inbox[0].Text, "QueueBacklog") ||
		msgs[0].Permalink != "#inbox/"+inbox[0].ID {
		t.Fatalf("Inbox = %+v, %v; job %+v", inbox, err, msgs[0])
	}
	if other, _ := s.Inbox(ctx, "#dev", 10); len(other) != 0 {
		t.Errorf("inbox:dev holds %+v", other)
	}
	if _, err := s.RetryMessage(ctx, msgs[0].ID); !errors.Is(err, ErrNotRetryable) || !strings.Contains(err.Error(), "is sent") {
		t.Errorf("retry of a sent message: %v", err)
	}
	if _, err := s.RetryMessage(ctx, "nosuchmessage"); !errors.Is(err, ErrMessageNotFound) {
		t.Errorf("retry of an unknown message: %v", err)
	}
	if _, err := s.InboxImage(ctx, inbox[0].ID, 0); !errors.Is(err, ErrMessageNotFound) {
		t.Errorf("picture of a message without one: %v", err)
	}
	h := s.Health(ctx)
	if h.Outbox == nil || h.Outbox.Path != c.OutboxPath || h.Chat == nil || len(h.Chat) != 0 {
		t.Errorf("health %+v", h)
	}
}

// A plugin has no console: without a chat it opens no outbox, and says
// how to switch delivery on.
func TestPluginWithoutChatOpensNothing(t *testing.T) {
	c := pushConfig()
	c.SlackBotToken, c.TelegramBotToken, c.DiscordBotToken = secret.Value{}, secret.Value{}, secret.Value{}
	data := t.TempDir()
	c.Grafana = &config.GrafanaEnv{DataDirs: []config.EnvDir{{Var: "GF_PATHS_DATA", Path: data}}}
	s := planService(c)
	if err := s.startDelivery(delivery.WorkerOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.stopDelivery() })
	if s.OutboxPath() != "" {
		t.Errorf("outbox opened at %s", s.OutboxPath())
	}
	if _, err := os.Stat(filepath.Join(data, "panelcast")); err == nil {
		t.Error("Grafana's data folder got a panelcast folder")
	}
	_, err := s.Push(context.Background(), PushRequest{To: "inbox:ops", Panel: Panel{DashboardUID: "abc", PanelID: 1}}, "")
	if !errors.Is(err, ErrDeliveryUnavailable) || !strings.Contains(err.Error(), "configure a chat provider") {
		t.Errorf("push: %v", err)
	}
}

// The console's health reuses its chat checks for maxAge, and callers at
// the same time share one run: each check is a call to the chat's API.
func TestRecentHealthChecksOnce(t *testing.T) {
	slack := slackfake.New("xoxb-health")
	t.Cleanup(slack.Close)
	c := config.Default()
	c.GrafanaURL = "https://grafana.example.com"
	c.OutboxPath = filepath.Join(t.TempDir(), "outbox.db")
	c.SlackBotToken, c.SlackAPIURL = secret.New("xoxb-health"), slack.APIURL()
	s := noBrowserService(t, c)
	if err := s.startDelivery(delivery.WorkerOptions{}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			if h := s.RecentHealth(ctx, time.Minute); len(h.Chat) != 1 || !h.Chat[0].OK {
				t.Errorf("health chat %+v", h.Chat)
			}
		})
	}
	wg.Wait()
	first := s.RecentHealth(ctx, time.Minute)
	if n := slack.Calls("auth.test"); n != 1 {
		t.Errorf("6 console health checks asked Slack %d times, want once", n)
	}
	slack.RevokeToken()
	if h := s.RecentHealth(ctx, time.Minute); !h.CheckedAt.Equal(first.CheckedAt) || !h.Chat[0].OK {
		t.Errorf("a health within a minute checked again: %+v", h.Chat)
	}
	if h := s.RecentHealth(ctx, 0); h.CheckedAt.Equal(first.CheckedAt) || h.Chat[0].OK || !strings.Contains(h.Chat[0].Error, "token_revoked") {
		t.Errorf("an old check was not run again: %+v", h.Chat)
	}
	if h := s.Health(ctx); slack.Calls("auth.test") != 3 || h.Chat[0].OK {
		t.Errorf("Health does not check afresh: %d calls", slack.Calls("auth.test"))
	}
}
