package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/panelcast/panelcast/internal/fakechat/slackfake"
	"github.com/panelcast/panelcast/internal/grafanatest"
)

const (
	benchSAToken    = "glsa_bench_service_account"
	benchSlackToken = "xoxb-bench-slack"
	benchAPIToken   = "bench-api-token-0123456789abcdef"
	benchChannel    = "C0BENCH001"
)

// benchAlerts measures webhook-to-chat time through `panelcast serve`: from
// POST /alerts until the message, picture included, is in the (fake) Slack
// channel, which enforces Slack's documented rate limits. One alert at a
// time (n times, each a new picture), then a storm of 50 alerts in one
// notification on five distinct pictures: as 50 messages (paced by Slack's
// per-channel limit, about one a second) and grouped into one message.
func benchAlerts(bin, dir string, g *grafanatest.Server, n int) error {
	fmt.Printf("\nalerts: webhook-to-chat time through panelcast serve (POST /alerts until the message is in Slack)\n\n")
	fmt.Printf("%-52s %10s %10s %10s\n", "", "p50", "p95", "all in")
	type run struct {
		name    string
		storm   bool
		grouped bool
	}
	for _, r := range []run{{"one alert at a time (a new picture each)", false, false},
		{"storm of 50 alerts: 50 messages, 5 pictures", true, false},
		{"storm of 50 alerts, alert_grouping=group", true, true}} {
		slack := slackfake.New(benchSlackToken)
		slack.AddChannel(benchChannel, "alerts", true)
		grouping := "alert"
		if r.grouped {
			grouping = "group"
		}
		outbox := filepath.Join(dir, "alerts-"+strconv.Itoa(int(time.Now().UnixNano()))+".db")
		d, err := startServe(bin, g, "PANELCAST_GRAFANA_TOKEN="+benchSAToken, "PANELCAST_API_TOKEN="+benchAPIToken,
			"PANELCAST_SLACK_BOT_TOKEN="+benchSlackToken, "PANELCAST_SLACK_API_URL="+slack.APIURL(),
			"PANELCAST_OUTBOX_PATH="+outbox, "PANELCAST_ALERT_GROUPING="+grouping)
		if err != nil {
			slack.Close()
			return err
		}
		var lat []time.Duration
		var all time.Duration
		if r.storm {
			lat, all, err = alertStorm(d.base, slack, 50)
		} else {
			for i := range n {
				var l []time.Duration
				if l, _, err = postAlerts(d.base, slack, alertsBody(1, i, time.Now())); err != nil {
					break
				}
				lat = append(lat, l...)
				all += l[0]
			}
		}
		d.stop()
		slack.Close()
		os.Remove(outbox)
		if err != nil {
			return fmt.Errorf("%s: %w", r.name, err)
		}
		fmt.Printf("%-52s %10s %10s %10s\n", r.name, ms(pct(lat, 50)), ms(pct(lat, 95)), ms(all))
	}
	return nil
}

func alertStorm(base string, slack *slackfake.Server, n int) ([]time.Duration, time.Duration, error) {
	return postAlerts(base, slack, alertsBody(n, 0, time.Now()))
}

// alertsBody is an Alertmanager notification of n alerts on the stand-in's
// scenes panel, n pods over five instances (five pictures); seed makes its
// fingerprints and instances new.
func alertsBody(n, seed int, now time.Time) []byte {
	var alerts []map[string]any
	for i := range n {
		instance := "web-" + strconv.Itoa(seed*10+i%5)
		alerts = append(alerts, map[string]any{"status": "firing",
			"labels":      map[string]string{"alertname": "BenchAlert", "instance": instance, "pod": "p" + strconv.Itoa(seed*1000+i)},
			"annotations": map[string]string{"summary": "bench", "panelcast_panel": grafanatest.ScenarioScenes + ":2"},
			"startsAt":    now.Add(-5 * time.Minute).Format(time.RFC3339Nano), "endsAt": "0001-01-01T00:00:00Z",
			"fingerprint": fmt.Sprintf("%08x%08x", seed, i)})
	}
	b, _ := json.Marshal(map[string]any{"version": "4", "status": "firing", "receiver": "bench", "groupKey": "bench" + strconv.Itoa(seed),
		"alerts": alerts})
	return b
}

// postAlerts posts one notification and returns, for each message, the time
// from the POST until it was in Slack, and the time until the last was.
func postAlerts(base string, slack *slackfake.Server, body []byte) ([]time.Duration, time.Duration, error) {
	before := len(slack.Messages())
	req, _ := http.NewRequest(http.MethodPost, base+"/alerts?to=slack:%23alerts", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+benchAPIToken)
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, 0, err
	}
	var answer struct{ Messages []struct{ ID string } }
	err = json.NewDecoder(res.Body).Decode(&answer)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusAccepted {
		return nil, 0, fmt.Errorf("POST /alerts: %s (%v)", res.Status, err)
	}
	want := before + len(answer.Messages)
	var mu sync.Mutex
	var lat []time.Duration
	seen := before
	deadline := start.Add(5 * time.Minute)
	for seen < want {
		if time.Now().After(deadline) {
			return nil, 0, fmt.Errorf("%d of %d messages in Slack after 5 minutes", seen-before, want-before)
		}
		time.Sleep(5 * time.Millisecond)
		if got := len(slack.Messages()); got > seen {
			mu.Lock()
			for ; seen < got; seen++ {
				lat = append(lat, time.Since(start))
			}
			mu.Unlock()
		}
	}
	return lat, time.Since(start), nil
}
