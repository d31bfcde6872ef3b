package service

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/panelcast/panelcast/internal/fakechat/telegramfake"
	"github.com/panelcast/panelcast/pkg/delivery"
)

// stormAlerts is one Alertmanager notification of n alerts on the stand-in's
// scenes panel: n pods spread over five instances, so five distinct
// pictures, each shared by the pods of its instance.
func stormAlerts(t *testing.T, n int, startsAt time.Time) []byte {
	t.Helper()
	var alerts []map[string]any
	for i := range n {
		alerts = append(alerts, map[string]any{
			"status": "firing",
			"labels": map[string]string{"alertname": "PodCrashLooping", "pod": fmt.Sprintf("api-%02d", i),
				"instance": "web-" + strconv.Itoa(i%5)},
			"annotations":  map[string]string{"summary": fmt.Sprintf("pod api-%02d restarts", i), "panelcast_panel": "scenes:2"},
			"startsAt":     startsAt.Format(time.RFC3339Nano),
			"endsAt":       "0001-01-01T00:00:00Z",
			"generatorURL": "http://prometheus.example.com:9090/graph?g0.expr=restarts+%3E+3&g0.tab=1",
			"fingerprint":  fmt.Sprintf("%016x", i+1),
		})
	}
	b, err := json.Marshal(map[string]any{"version": "4", "status": "firing", "receiver": "ops", "groupKey": "{}:{alertname=\"PodCrashLooping\"}",
		"groupLabels": map[string]string{"alertname": "PodCrashLooping"}, "alerts": alerts, "externalURL": "http://alertmanager.example.com:9093"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A storm of 50 alerts in one notification, sent to all four chats at
// their documented rate limits: every message is delivered with its
// picture, nobody is sent a request while told to wait, and each distinct
// picture is rendered once (per minute) for all 200 messages.
func TestAlertStorm(t *testing.T) {
	if testing.Short() {
		t.Skip("a storm at the chats' real rate limits takes about a minute")
	}
	const private = 424242 // Telegram allows a private chat more than a group
	e := newPushEnv(t)
	e.cfg.AlertWidth, e.cfg.AlertHeight = 600, 300
	opts := workerOptions()
	opts.Concurrency = delivery.DefaultConcurrency
	s := e.startWith(t, opts)
	e.telegram.AddChat(telegramfake.Chat{ID: private, Type: "private", Title: "oncall"})
	to := "slack:#alerts,mattermost:town-square,discord:" + discordChannelID + ",telegram:" + strconv.Itoa(private)

	start := time.Now()
	res, err := s.HandleAlerts(context.Background(), stormAlerts(t, 50, start.Add(-5*time.Minute)), to, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("the webhook was answered after %s", took)
	}
	if len(res.Messages) != 200 {
		t.Fatalf("%d messages queued, want 200", len(res.Messages))
	}
	jobs := waitJobs(t, s, res, 4*time.Minute)
	for _, j := range jobs {
		if j.State != delivery.StateSent {
			t.Errorf("%s to %s: %s after %d attempts: %s", j.ID, j.Address, j.State, j.Attempts, j.LastError)
		}
	}
	t.Logf("200 messages in %s", time.Since(start).Round(time.Second))

	for _, provider := range []string{"slack", "mattermost", "discord", "telegram"} {
		got := e.landed(provider)
		if len(got) != 50 {
			t.Errorf("%s: %d messages, want 50", provider, len(got))
		}
		for i, m := range got {
			if m.image == nil {
				t.Errorf("%s message %d has no picture", provider, i)
				continue
			}
			checkPanelPicture(t, provider+" picture", m.image, 600, 300)
		}
	}
	for name, v := range map[string]int{"slack": len(e.slack.Violations()), "mattermost": len(e.mattermost.Violations()),
		"discord": len(e.discord.Violations()), "telegram": len(e.telegram.Violations())} {
		if v > 0 {
			t.Errorf("%s: %d requests arrived while the client had been told to wait", name, v)
		}
	}
	// Five instances, so five pictures, rendered again at most once each
	// when the storm crossed a minute.
	renders := len(e.panelVisits())
	shared := int(testutil.ToFloat64(s.metrics.rendersShared))
	if renders < 5 || renders > 10 || renders+shared != 200 {
		t.Errorf("%d renders and %d shared for 200 messages of 5 pictures", renders, shared)
	}
}
