package service

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/panelcast/panelcast/internal/grafanatest"
	"github.com/panelcast/panelcast/pkg/config"
	"github.com/panelcast/panelcast/pkg/delivery"
	"github.com/panelcast/panelcast/pkg/notification"
)

// fixture is a recorded webhook body of pkg/grafana's test data.
func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "notification", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// alertEnv is the push environment with alert pictures at a small size.
func alertEnv(t *testing.T, tweak func(*config.Config)) (*pushEnv, *Service) {
	return alertEnvOn(t, grafanatest.Options{}, tweak)
}

// alertEnvOn is alertEnv with a stand-in Grafana of those options.
func alertEnvOn(t *testing.T, opts grafanatest.Options, tweak func(*config.Config)) (*pushEnv, *Service) {
	e := newPushEnvWith(t, opts)
	e.cfg.AlertWidth, e.cfg.AlertHeight = 600, 300
	if tweak != nil {
		tweak(&e.cfg)
	}
	return e, e.start(t)
}

// waitJobs waits until every job is sent or failed and returns them.
func waitJobs(t *testing.T, s *Service, res AlertsResult, within time.Duration) []delivery.Job {
	t.Helper()
	deadline := time.Now().Add(within)
	var jobs []delivery.Job
	for _, m := range res.Messages {
		for {
			j, err := s.push.outbox.Get(context.Background(), m.ID)
			if err != nil {
				t.Fatal(err)
			}
			if j.State == delivery.StateSent || j.State == delivery.StateFailed {
				jobs = append(jobs, j)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("message %s still %s after %s (attempts %d, error %q)", m.ID, j.State, within, j.Attempts, j.LastError)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return jobs
}

// A Grafana webhook contact point's firing notification becomes a Slack
// message with the rule's panel, drawn for the alert's instance and window,
// and its resolve lands in the firing message's thread, which is marked
// resolved. Repeats of either are not posted again. So it goes with every
// Grafana generation: 9 to 12.1 (legacy API), 12.2 (resource API, schema
// v1) and 13 (schema v2, whose links name panels panel-<id>).
func TestAlertsGrafanaFiringThenResolved(t *testing.T) {
	for _, gen := range grafanatest.Generations {
		t.Run(gen.String(), func(t *testing.T) { testAlertsFiringThenResolved(t, gen) })
	}
}

func testAlertsFiringThenResolved(t *testing.T, gen grafanatest.Generation) {
	e, s := alertEnvOn(t, grafanatest.Options{Generation: gen}, nil)
	ctx := context.Background()

	asLinked := func(body []byte) []byte {
		if gen == grafanatest.Grafana13 {
			return []byte(strings.ReplaceAll(string(body), "viewPanel=2", "viewPanel=panel-2"))
		}
		return body
	}
	firing := asLinked(fixture(t, "grafana-firing-panel.json"))
	res, err := s.HandleAlerts(ctx, firing, "slack:#alerts", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Source != "grafana" || res.Alerts != 1 || len(res.Messages) != 1 || res.Messages[0].Panels != 1 {
		t.Fatalf("result %+v", res)
	}
	jobs := waitJobs(t, s, res, 60*time.Second)
	if jobs[0].State != delivery.StateSent {
		t.Fatalf("firing message %s: %s", jobs[0].State, jobs[0].LastError)
	}
	got := e.landed("slack")
	if len(got) != 1 {
		t.Fatalf("%d Slack messages, want 1", len(got))
	}
	fire := got[0]
	checkPanelPicture(t, "firing picture", fire.image, 600, 300)
	if fire.channel != slackChannelID {
		t.Errorf("posted to %s, want %s", fire.channel, slackChannelID)
	}
	for _, want := range []string{"*FIRING*", "*HighCPU*", "CPU on web-1 is at 95%", "A=95.25", "instance=web-1",
		"<https://grafana.example.com/d/scenes?", "|Panel>", "|Silence>", "|Source>"} {
		if !strings.Contains(fire.text, want) {
			t.Errorf("firing text lacks %q:\n%s", want, fire.text)
		}
	}
	// The picture is the alert's instance, from an hour before it started.
	visits := e.panelVisits()
	if len(visits) != 1 {
		t.Fatalf("%d renders of the panel, want 1", len(visits))
	}
	start := time.Date(2026, 11, 30, 12, 2, 3, 157076000, time.UTC)
	q := visits[0].Query
	if q.Get("var-instance") != "web-1" || q.Get("from") != strconv.FormatInt(start.Add(-time.Hour).UnixMilli(), 10) ||
		q.Get("to") != "now" || q.Get("panelId") != "2" || q.Get("theme") != "dark" {
		t.Errorf("rendered %v", q)
	}
	// grafana_folder and team are not dashboard variables.
	if q.Has("var-team") || q.Has("var-grafana_folder") {
		t.Errorf("labels that are no variables of the dashboard went into the URL: %v", q)
	}

	// Grafana repeats the notification (repeat_interval): nothing new.
	again, err := s.HandleAlerts(ctx, firing, "slack:#alerts", "", nil)
	if err != nil || !again.Messages[0].Duplicate || again.Messages[0].ID != res.Messages[0].ID {
		t.Fatalf("repeat: %+v, %v", again, err)
	}

	if strings.Contains(fire.text, "Panelcast:") {
		t.Errorf("a readable dashboard got a note:\n%s", fire.text)
	}
	resolved := asLinked(fixture(t, "grafana-resolved.json"))
	res2, err := s.HandleAlerts(ctx, resolved, "slack:#alerts", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	jobs = waitJobs(t, s, res2, 60*time.Second)
	if jobs[0].State != delivery.StateSent || jobs[0].LastError != "" {
		t.Fatalf("resolve %s: %q", jobs[0].State, jobs[0].LastError)
	}
	got = e.landed("slack")
	if len(got) != 2 {
		t.Fatalf("%d Slack messages, want 2", len(got))
	}
	reply := got[1]
	if reply.replyTo != fire.id {
		t.Errorf("the resolve replies to %q, want the firing message %q", reply.replyTo, fire.id)
	}
	if !strings.Contains(reply.text, "*RESOLVED*") || !strings.Contains(reply.text, "after ") || strings.Contains(reply.text, "Panelcast:") {
		t.Errorf("resolve text:\n%s", reply.text)
	}
	checkPanelPicture(t, "resolve picture", reply.image, 600, 300)
	// The resolve shows the whole incident: to five minutes after its end.
	visits = e.panelVisits()
	if len(visits) != 2 {
		t.Fatalf("%d renders, want 2", len(visits))
	}
	n, err := notification.ParseWebhook(resolved)
	if err != nil {
		t.Fatal(err)
	}
	wantTo := strconv.FormatInt(n.Alerts[0].EndsAt.Add(5*time.Minute).UnixMilli(), 10)
	if q := visits[1].Query; q.Get("to") != wantTo || q.Get("from") != strconv.FormatInt(start.Add(-time.Hour).UnixMilli(), 10) {
		t.Errorf("resolve rendered from %s to %s, want to %s", q.Get("from"), q.Get("to"), wantTo)
	}
	// The firing message now says it resolved.
	if root := e.slack.Messages()[0]; root.Edits != 1 || !strings.HasPrefix(root.Text, "✅ *RESOLVED* ~FIRING~") {
		t.Errorf("firing message after the resolve (%d edits):\n%s", root.Edits, root.Text)
	}
	if v := e.slack.Violations(); len(v) > 0 {
		t.Errorf("Slack's rate limits were not respected: %v", v)
	}
	checkNoSecrets(t, "logs", e.logs.String())
}

// One message per notification group: the group's three alerts in one
// message with a picture per instance.
func TestAlertsGroupedOneMessage(t *testing.T) {
	e, s := alertEnv(t, func(c *config.Config) { c.AlertGrouping = config.GroupPerNotification })
	res, err := s.HandleAlerts(context.Background(), fixture(t, "grafana-group.json"), "discord:"+discordChannelID, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Messages) != 1 || res.Alerts != 3 {
		t.Fatalf("result %+v", res)
	}
	if jobs := waitJobs(t, s, res, 90*time.Second); jobs[0].State != delivery.StateSent {
		t.Fatalf("group message %s: %s", jobs[0].State, jobs[0].LastError)
	}
	msgs := e.discord.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d Discord messages, want 1", len(msgs))
	}
	m := msgs[0]
	instances := map[string]bool{}
	for _, v := range e.panelVisits() {
		instances[v.Query.Get("var-instance")] = true
	}
	if len(m.Files) != len(instances) || len(instances) < 2 {
		t.Errorf("%d pictures for %d instances %v", len(m.Files), len(instances), instances)
	}
	for i, f := range m.Files {
		checkPanelPicture(t, "picture "+strconv.Itoa(i), f.Data, 600, 300)
	}
	if !strings.Contains(m.Content, "3 alerts") {
		t.Errorf("group text:\n%s", m.Content)
	}
}

// An alert that names no panel still gets its message, as text.
func TestAlertsWithoutPanelAreText(t *testing.T) {
	e, s := alertEnv(t, nil)
	res, err := s.HandleAlerts(context.Background(), fixture(t, "grafana-no-panel.json"), "telegram:"+strconv.Itoa(telegramChatID), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Messages[0].Panels != 0 || res.Messages[0].NoPanel == "" {
		t.Errorf("result %+v: want no panel and the reason", res.Messages[0])
	}
	if jobs := waitJobs(t, s, res, 30*time.Second); jobs[0].State != delivery.StateSent {
		t.Fatalf("%s: %s", jobs[0].State, jobs[0].LastError)
	}
	got := e.landed("telegram")
	if len(got) != 1 || got[0].image != nil || !strings.Contains(got[0].text, "FIRING") {
		t.Fatalf("telegram got %+v", got)
	}
	if len(e.panelVisits()) != 0 {
		t.Error("a panel was rendered for an alert that names none")
	}
}

// Routing: ?to= wins, then the panelcast_to label, then default_to; an
// alert with no address refuses the whole notification.
func TestAlertsRouting(t *testing.T) {
	s := planService(pushConfig())
	body := func(label string) []byte {
		labels := `"alertname":"A"`
		if label != "" {
			labels += `,"panelcast_to":"` + label + `"`
		}
		return []byte(`{"version":"4","status":"firing","receiver":"r","groupKey":"g","alerts":[{"status":"firing","labels":{` +
			labels + `},"annotations":{},"startsAt":"2026-01-01T00:00:00Z","endsAt":"0001-01-01T00:00:00Z","fingerprint":"abc"}]}`)
	}
	for _, c := range []struct {
		name, to, label string
		def             []string
		want            []string
		err             string
	}{
		{"query", "slack:#a, slack:#b", "slack:#c", []string{"slack:#d"}, []string{"slack:#a", "slack:#b"}, ""},
		{"label", "", "slack:#c", []string{"slack:#d"}, []string{"slack:#c"}, ""},
		{"default", "", "", []string{"slack:#d"}, []string{"slack:#d"}, ""},
		{"none", "", "", nil, nil, "has no address"},
		{"unknown provider", "teams:x", "", nil, nil, "not a chat provider"},
		{"not configured", "mattermost:ops", "", nil, nil, "mattermost is not configured: set mattermost_url and mattermost_token"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s.cfg.DefaultTo = c.def
			n, err := notification.ParseWebhook(body(c.label))
			if err != nil {
				t.Fatal(err)
			}
			routes, err := s.route(n, c.to)
			if c.err != "" {
				if !errors.Is(err, ErrBadAlerts) || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one with %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range routes {
				got = append(got, r.addr.String())
			}
			if strings.Join(got, " ") != strings.Join(c.want, " ") {
				t.Errorf("routes %v, want %v", got, c.want)
			}
		})
	}
}

// panelVisits are the stand-in's solo-panel page loads of the scenes panel.
func (e *pushEnv) panelVisits() []grafanatest.Visit {
	var out []grafanatest.Visit
	for _, v := range e.g.Visits() {
		if strings.HasPrefix(v.Path, "/d-solo/"+grafanatest.ScenarioScenes+"/") {
			out = append(out, v)
		}
	}
	return out
}

// panelcast_vars maps dashboard variables to labels of other names; a
// label named like a variable still sets it when the mapping leaves it out.
func TestAlertsVarMapping(t *testing.T) {
	e, s := alertEnv(t, nil)
	body := []byte(`{"version":"4","status":"firing","receiver":"r","groupKey":"g","alerts":[{"status":"firing",
		"labels":{"alertname":"Slow","host":"web-9","service":"api","instance":"ignored:9100"},
		"annotations":{"panelcast_panel":"scenes:2","panelcast_vars":"instance=host, job=service"},
		"startsAt":"2026-01-01T00:00:00Z","endsAt":"0001-01-01T00:00:00Z","fingerprint":"0123456789abcdef"}]}`)
	res, err := s.HandleAlerts(context.Background(), body, "slack:#alerts", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if jobs := waitJobs(t, s, res, 60*time.Second); jobs[0].State != delivery.StateSent {
		t.Fatalf("%s: %s", jobs[0].State, jobs[0].LastError)
	}
	visits := e.panelVisits()
	if len(visits) != 1 {
		t.Fatalf("%d renders, want 1", len(visits))
	}
	if q := visits[0].Query; q.Get("var-instance") != "web-9" || q.Get("var-job") != "api" || q.Has("var-host") || q.Has("var-service") {
		t.Errorf("rendered with %v; want var-instance=web-9 (from host) and var-job=api (from service)", q)
	}
}

// Whatever cannot be read about a dashboard, the alert is posted: with the
// picture, its variables guessed from the labels, when the dashboard's
// answer is unusable (500 past the last attempt, no JSON, a 406 naming no
// resource), as text when Grafana refuses the token or the panel is not on
// the dashboard; each time saying why.
func TestAlertsUnreadableDashboard(t *testing.T) {
	hidden := grafanatest.Access{ServiceAccountRole: "Viewer", Folders: []grafanatest.Folder{{UID: "fin", Title: "Finance",
		Dashboards: []string{grafanatest.ScenarioFailing}, Permissions: []grafanatest.Permission{{Role: "Admin", Level: grafanatest.Admin}}}}}
	cases := []struct {
		name    string
		gen     grafanatest.Generation
		uid     string
		panel   string
		fault   grafanatest.APIFault
		access  grafanatest.Access
		picture bool
		note    string
	}{
		{"server error", grafanatest.Grafana13, grafanatest.ScenarioSlow, "panel-2", grafanatest.FaultServerError, grafanatest.Access{}, true,
			"Panelcast: the picture is drawn with the alert's labels guessed as dashboard variables, because Grafana answered 500 for dashboard slow"},
		{"garbage", grafanatest.Grafana12, grafanatest.ScenarioSlow, "2", grafanatest.FaultGarbage, grafanatest.Access{}, true,
			"because Grafana's answer for dashboard slow is not a dashboard"},
		{"406 naming nothing", grafanatest.Grafana9, grafanatest.ScenarioSlow, "2", grafanatest.FaultNotAcceptable, grafanatest.Access{}, true,
			"because dashboard slow is stored in Grafana's v2 schema"},
		{"forbidden", grafanatest.Grafana13, grafanatest.ScenarioFailing, "panel-2", 0, hidden, false,
			"Panelcast: no picture, because the service account of grafana_token may not view dashboard failing (403)"},
		{"no such panel", grafanatest.Grafana13, grafanatest.ScenarioScenes, "panel-9", 0, grafanatest.Access{}, false,
			"Panelcast: dashboard scenes (Scenes) has no panel 9, so the alert goes without a picture"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts := grafanatest.Options{Generation: c.gen, Access: c.access}
			if c.fault != 0 {
				opts.Faults = map[string]grafanatest.APIFault{c.uid: c.fault}
			}
			e, s := alertEnvOn(t, opts, nil)
			body := strings.ReplaceAll(string(fixture(t, "grafana-firing-panel.json")), "/d/scenes?", "/d/"+c.uid+"?")
			body = strings.ReplaceAll(body, "viewPanel=2", "viewPanel="+c.panel)
			res, err := s.HandleAlerts(context.Background(), []byte(body), "slack:#alerts", "", nil)
			if err != nil {
				t.Fatal(err)
			}
			jobs := waitJobs(t, s, res, 90*time.Second)
			if jobs[0].State != delivery.StateSent {
				t.Fatalf("the alert was not posted: %s %s", jobs[0].State, jobs[0].LastError)
			}
			got := e.landed("slack")
			if len(got) > 0 {
				t.Logf("posted:\n%s", got[0].text)
			}
			if len(got) != 1 || !strings.Contains(got[0].text, "*HighCPU*") || !strings.Contains(got[0].text, c.note) {
				t.Fatalf("Slack got %+v, want the alert saying %q", got, c.note)
			}
			if c.picture {
				checkPanelPicture(t, "picture", got[0].image, 600, 300)
				var rendered bool
				for _, v := range e.g.Visits() {
					if strings.HasPrefix(v.Path, "/d-solo/"+c.uid+"/") {
						rendered = true
						if v.Query.Get("var-instance") != "web-1" || v.Query.Get("panelId") != "2" {
							t.Errorf("rendered %v: want the instance label as a guessed variable", v.Query)
						}
					}
				}
				if !rendered {
					t.Error("the panel was not rendered")
				}
			} else if got[0].image != nil {
				t.Error("a picture went with an alert whose panel cannot be drawn")
			}
			if c.fault == grafanatest.FaultServerError && jobs[0].Attempts != e.cfg.MaxAttempts {
				t.Errorf("%d attempts: a 500 is retried until the last attempt (%d)", jobs[0].Attempts, e.cfg.MaxAttempts)
			}
		})
	}
}

// A panel that cannot be drawn (here its query never answers) does not
// drop the alert either: after the retries it is posted as text saying why.
func TestAlertsRenderFailureGoesAsText(t *testing.T) {
	e, s := alertEnv(t, func(c *config.Config) { c.Timeout = 2 * time.Second })
	body := strings.ReplaceAll(string(fixture(t, "grafana-firing-panel.json")), "/d/scenes?", "/d/"+grafanatest.ScenarioNever+"?")
	res, err := s.HandleAlerts(context.Background(), []byte(body), "slack:#alerts", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	jobs := waitJobs(t, s, res, 90*time.Second)
	if jobs[0].State != delivery.StateSent || jobs[0].Attempts != e.cfg.MaxAttempts {
		t.Fatalf("the alert was not posted after %d attempts: %s %s", jobs[0].Attempts, jobs[0].State, jobs[0].LastError)
	}
	got := e.landed("slack")
	if len(got) != 1 || got[0].image != nil || !strings.Contains(got[0].text, "*HighCPU*") ||
		!strings.Contains(got[0].text, "Panelcast: the panel could not be drawn (") {
		t.Fatalf("Slack got %+v", got)
	}
}

// A resolve sent right after its alert ended is drawn up to its first
// attempt, not into five empty minutes after it, and the retry after a
// failed post draws the very same window. (One sent later than that is
// drawn to five minutes after the end: TestAlertsGrafanaFiringThenResolved.)
func TestAlertsResolveDrawnToFirstAttempt(t *testing.T) {
	e, s := alertEnv(t, nil)
	end := time.Now().Add(-time.Minute).Truncate(time.Second)
	start := end.Add(-10 * time.Minute)
	body := fmt.Sprintf(`{"version":"4","status":"resolved","receiver":"r","groupKey":"g","alerts":[{"status":"resolved",
		"labels":{"alertname":"Slow","instance":"web-1"},"annotations":{"panelcast_panel":"scenes:2"},
		"startsAt":%q,"endsAt":%q,"fingerprint":"0123456789abcdef"}]}`, start.Format(time.RFC3339), end.Format(time.RFC3339))
	// Slack refuses the first attempt's post: the job is retried.
	e.slack.FailNext(1, http.StatusInternalServerError)
	received := time.Now()
	res, err := s.HandleAlerts(context.Background(), []byte(body), "slack:#alerts", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	j := waitJobs(t, s, res, 60*time.Second)[0]
	if j.State != delivery.StateSent || j.Attempts != 2 {
		t.Fatalf("resolve %s after %d attempts (%q); want sent at the second", j.State, j.Attempts, j.LastError)
	}
	first := j.FirstClaimedAt
	if first.Before(received.Truncate(time.Millisecond)) || first.After(received.Add(10*time.Second)) {
		t.Fatalf("first attempt at %v; the resolve came at %v", first, received)
	}
	visits := e.panelVisits()
	if len(visits) == 0 {
		t.Fatal("the panel was never drawn")
	}
	wantFrom, wantTo := strconv.FormatInt(start.Add(-time.Hour).UnixMilli(), 10), strconv.FormatInt(first.UnixMilli(), 10)
	for i, v := range visits {
		if v.Query.Get("from") != wantFrom || v.Query.Get("to") != wantTo {
			t.Errorf("render %d of %d drawn from %s to %s; want %s to %s (the first attempt, %s after the end)",
				i+1, len(visits), v.Query.Get("from"), v.Query.Get("to"), wantFrom, wantTo, first.Sub(end).Round(time.Second))
		}
	}
}

// In alert_grouping = group one thread lasts a group's incident, whichever
// of its alerts come and go, until every alert of it resolved.
func TestAlertsGroupThreadLastsTheIncident(t *testing.T) {
	e, s := alertEnv(t, func(c *config.Config) { c.AlertGrouping = config.GroupPerNotification })
	t0 := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	// Text only: the threads are the point, not the pictures.
	alert := func(instance, status string, start, end time.Time) string {
		ends := "0001-01-01T00:00:00Z"
		if !end.IsZero() {
			ends = end.Format(time.RFC3339)
		}
		return fmt.Sprintf(`{"status":%q,"labels":{"alertname":"Disk","instance":%q},"annotations":{},
			"startsAt":%q,"endsAt":%q,"fingerprint":"%x"}`, status, instance, start.Format(time.RFC3339), ends, sha256.Sum256([]byte(instance)))
	}
	notify := func(step, status string, alerts ...string) landed {
		t.Helper()
		body := fmt.Sprintf(`{"version":"4","status":%q,"receiver":"r","groupKey":"{}:{alertname=\"Disk\"}","alerts":[%s]}`,
			status, strings.Join(alerts, ","))
		res, err := s.HandleAlerts(context.Background(), []byte(body), "slack:#alerts", "", nil)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if j := waitJobs(t, s, res, 30*time.Second)[0]; j.State != delivery.StateSent {
			t.Fatalf("%s: %s (%q)", step, j.State, j.LastError)
		}
		got := e.landed("slack")
		return got[len(got)-1]
	}
	aFires := alert("a", "firing", t0, time.Time{})
	bFires := alert("b", "firing", t0.Add(10*time.Minute), time.Time{})
	root := notify("A fires", "firing", aFires)
	if root.replyTo != "" {
		t.Fatalf("the incident's first message replies to %q", root.replyTo)
	}
	for _, step := range []struct {
		name, status string
		alerts       []string
	}{
		{"B joins", "firing", []string{aFires, bFires}},
		{"A resolves", "firing", []string{alert("a", "resolved", t0, t0.Add(20*time.Minute)), bFires}},
		{"A left the group", "firing", []string{bFires}},
		{"B resolves", "resolved", []string{alert("b", "resolved", t0.Add(10*time.Minute), t0.Add(30*time.Minute))}},
	} {
		if m := notify(step.name, step.status, step.alerts...); m.replyTo != root.id {
			t.Errorf("%s: replies to %q; want the incident's thread %q", step.name, m.replyTo, root.id)
		}
	}
	aAgain := alert("a", "firing", t0.Add(40*time.Minute), time.Time{})
	next := notify("A fires again", "firing", aAgain)
	if next.replyTo != "" {
		t.Fatalf("the next incident's first message replies to %q", next.replyTo)
	}
	if m := notify("C joins", "firing", aAgain, alert("c", "firing", t0.Add(41*time.Minute), time.Time{})); m.replyTo != next.id {
		t.Errorf("C joins: replies to %q; want the new incident's thread %q", m.replyTo, next.id)
	}
}
