package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/panelcast/panelcast/internal/fakechat/slackfake"
	"github.com/panelcast/panelcast/internal/grafanatest"
	"github.com/panelcast/panelcast/internal/pgtest"
	"github.com/panelcast/panelcast/internal/testenv"
	"github.com/panelcast/panelcast/pkg/render"
)

const (
	fleetSlackToken   = "xoxb-fleet-slack-bot-token"
	fleetSlackChannel = "C0FLEET001"
	// fleetSlackAlerts are posted to one channel, whose limit (one
	// message a second) then sets the pace of the whole fleet.
	fleetSlackAlerts = 90
)

// TestFleetSharesChatLimits runs three `panelcast serve` replicas (the built
// binary) on one PostgreSQL outbox, posting as one Slack bot into one
// channel through the Slack stand-in, which enforces Slack's documented
// limits strictly (one message a second per channel) and records every
// call that came while the bot had been told to wait. Ninety Alertmanager
// notifications (text only, so that nothing but the chat's limit sets the
// pace) go round-robin to the replicas. The replicas must keep to the
// bot's limit together: no answer 429, no violation, every message once,
// and all of them out in about the time the limit allows (89 s for 90
// messages at one a second, plus each post's own duration, as the pacer
// counts from the end of a request).
func TestFleetSharesChatLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the fleet test runs three replicas for a minute and a half")
	}
	testenv.NeedChromium(t, render.FindChromium)
	pg := pgtest.New(t)
	dbURL := pg.Database(t)
	g, err := grafanatest.Start(grafanatest.Options{ServiceAccountToken: fleetSAToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	sl := slackfake.New(fleetSlackToken)
	t.Cleanup(sl.Close)
	sl.AddChannel(fleetSlackChannel, "fleet", true)
	f := startFleet(t, g, dbURL,
		"PANELCAST_SLACK_BOT_TOKEN="+fleetSlackToken, "PANELCAST_SLACK_API_URL="+sl.APIURL(), "PANELCAST_CONCURRENCY=1")

	start := time.Now()
	for i := range fleetSlackAlerts {
		f.slackAlert(i)
	}
	waitFor(t, "every message in Slack and recorded as sent", 5*time.Minute, func() bool {
		return len(sl.Messages()) >= fleetSlackAlerts &&
			metric(t, f.replicas[0].addr, `panelcast_outbox_jobs{state="sent"}`) == fleetSlackAlerts
	})
	took := time.Since(start)
	msgs := sl.Messages()

	perText := map[string]int{}
	for _, m := range msgs {
		if m.ChannelID != fleetSlackChannel {
			t.Errorf("a message in channel %s, want %s", m.ChannelID, fleetSlackChannel)
		}
		for i := range fleetSlackAlerts {
			if strings.Contains(m.Text, slackAlertName(i)) {
				perText[slackAlertName(i)]++
			}
		}
	}
	duplicates := 0
	for i := range fleetSlackAlerts {
		switch n := perText[slackAlertName(i)]; {
		case n == 0:
			t.Errorf("%s was not posted", slackAlertName(i))
		case n > 1:
			duplicates += n - 1
			t.Errorf("%s was posted %d times, want once", slackAlertName(i), n)
		}
	}
	limited, violations := sl.RateLimited(), sl.Violations()
	if limited > 0 || len(violations) > 0 {
		t.Errorf("Slack's limits: %d answers 429, %d calls while the bot was told to wait", limited, len(violations))
	}
	// The limit allows 90 messages in 89 s; the replicas should not leave
	// much of it unused either.
	least := time.Duration(fleetSlackAlerts-1) * time.Second
	if took > least*3/2 {
		t.Errorf("the fleet took %s for what the limit allows in %s", took.Round(time.Millisecond), least)
	}
	t.Logf("%d messages (%d posted, %d duplicates) in %s, %.2f× the %s the limit allows; %d answers 429, %d violations",
		fleetSlackAlerts, len(msgs), duplicates, took.Round(time.Millisecond), took.Seconds()/least.Seconds(), least, limited, len(violations))
}

func slackAlertName(i int) string { return fmt.Sprintf("FleetSlack%02d", i) }

// slackAlert sends Alertmanager's notification of alert i, which names no
// panel, to the next replica.
func (f *fleet) slackAlert(i int) {
	labels := map[string]string{"alertname": slackAlertName(i), "instance": fmt.Sprintf("db-%02d:9187", i)}
	body, _ := json.Marshal(map[string]any{"version": "4", "status": "firing", "receiver": "fleet-slack",
		"groupKey": `{}:{alertname="` + slackAlertName(i) + `"}`, "groupLabels": map[string]string{"alertname": slackAlertName(i)},
		"commonLabels": labels, "externalURL": "http://alertmanager.example:9093",
		"alerts": []map[string]any{{"status": "firing", "labels": labels,
			"annotations": map[string]string{"summary": "fleet pacing test"},
			"startsAt":    time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), "endsAt": "0001-01-01T00:00:00Z",
			"fingerprint": fmt.Sprintf("5ac4%012x", i)}}})
	r := f.pick()
	var answer struct{ Messages []alertMessage }
	if code := r.call(f.t, http.MethodPost, "/alerts?to=slack:"+fleetSlackChannel, body, &answer); code != http.StatusAccepted || len(answer.Messages) != 1 {
		f.t.Fatalf("POST /alerts (%s) to %s: %d %+v", slackAlertName(i), r.name, code, answer)
	}
}
