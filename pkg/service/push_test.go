package service

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/panelcast/panelcast/pkg/config"
	"github.com/panelcast/panelcast/pkg/secret"
)

func pushConfig() config.Config {
	c := config.Default()
	c.GrafanaURL = "https://grafana.example.com:3000/"
	c.SlackBotToken = secret.New("xoxb-test-token")
	c.TelegramBotToken = secret.New("123456:telegram-secret")
	c.DiscordBotToken = secret.New("discord-secret")
	return c
}

// planService is a service without a browser, with the TLS policy of
// its configuration (chat delivery's Grafana client needs it).
func planService(c config.Config) *Service {
	policy, err := c.TLSPolicy()
	if err != nil {
		panic(err)
	}
	return &Service{cfg: c, log: slog.New(slog.DiscardHandler), tls: policy}
}

func TestPlanPushSoloURL(t *testing.T) {
	s := planService(pushConfig())
	plan, err := s.PlanPush(PushRequest{To: " Slack:#ops ", Text: "CPU is high", Thread: "deploy-7", Panel: Panel{
		DashboardUID: "abc-123_X", PanelID: 7, OrgID: 2, From: "now-6h", To: "now",
		Vars: map[string][]string{"cluster": {"prod"}, "host": {"a", "b&c"}}, Width: 800, Height: 400,
		Theme: "Light", Timezone: "Europe/Berlin",
	}}, "")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(plan.Render.URL)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "https" || u.Host != "grafana.example.com:3000" || u.Path != "/d-solo/abc-123_X/_" {
		t.Errorf("URL %s", plan.Render.URL)
	}
	want := url.Values{"orgId": {"2"}, "panelId": {"7"}, "from": {"now-6h"}, "to": {"now"}, "var-cluster": {"prod"},
		"var-host": {"a", "b&c"}, "theme": {"light"}, "timezone": {"Europe/Berlin"}, "render": {"1"}}
	if got := u.Query(); got.Encode() != want.Encode() {
		t.Errorf("query %v, want %v", got, want)
	}
	if plan.Address.String() != "slack:#ops" || plan.Text != "CPU is high" || plan.Thread != "deploy-7" {
		t.Errorf("plan %+v", plan)
	}
	r := plan.Render
	if r.Width != 800 || r.Height != 400 || r.Timezone != "Europe/Berlin" || r.DashboardUID != "abc-123_X" ||
		r.GrafanaURL != "https://grafana.example.com:3000" {
		t.Errorf("render spec %+v", r)
	}
}

func TestPlanPushDefaults(t *testing.T) {
	s := planService(pushConfig())
	plan, err := s.PlanPush(PushRequest{To: "slack:C0123ABCD", Panel: Panel{DashboardUID: "abc", PanelID: 2}}, "")
	if err != nil {
		t.Fatal(err)
	}
	// No org, range or theme: Grafana's own defaults (the account's org, the
	// dashboard's saved range) apply.
	if want := "https://grafana.example.com:3000/d-solo/abc/_?panelId=2&render=1"; plan.Render.URL != want {
		t.Errorf("URL %s, want %s", plan.Render.URL, want)
	}
	if plan.Render.Width != 1000 || plan.Render.Height != 500 {
		t.Errorf("size %dx%d, want the configured 1000x500", plan.Render.Width, plan.Render.Height)
	}
}

func TestPlanPushPanelURL(t *testing.T) {
	c := pushConfig()
	c.GrafanaURL = "https://grafana.example.com/grafana"
	s := planService(c)
	plan, err := s.PlanPush(PushRequest{To: "telegram:-1001234567890/45", Panel: Panel{
		URL: "https://GRAFANA.example.com:443/grafana/d/uid9/my-dash?orgId=1&viewPanel=3&var-x=1#top", Theme: "dark"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://GRAFANA.example.com:443/grafana/d/uid9/my-dash?orgId=1&render=1&theme=dark&var-x=1&viewPanel=3"; plan.Render.URL != want {
		t.Errorf("URL %s, want %s", plan.Render.URL, want)
	}
	if plan.Render.DashboardUID != "uid9" || plan.Render.GrafanaURL != "https://grafana.example.com/grafana" {
		t.Errorf("spec %+v", plan.Render)
	}
	// A Grafana page that is not a dashboard is rendered without the check.
	plan, err = s.PlanPush(PushRequest{To: "slack:#ops", Panel: Panel{URL: "https://grafana.example.com/grafana/render-test?render=1"}}, "")
	if err != nil || plan.Render.DashboardUID != "" {
		t.Errorf("non-dashboard page: %+v %v", plan.Render, err)
	}
}

func TestPlanPushGrafanaURLFromTheDoor(t *testing.T) {
	c := pushConfig()
	c.GrafanaURL = ""
	s := planService(c)
	plan, err := s.PlanPush(PushRequest{To: "slack:#ops", Panel: Panel{DashboardUID: "abc", PanelID: 1}}, "http://localhost:3000/")
	if err != nil || !strings.HasPrefix(plan.Render.URL, "http://localhost:3000/d-solo/abc/_?") {
		t.Errorf("%+v %v", plan.Render, err)
	}
	// grafana_url wins over what the door knows.
	c.GrafanaURL = "https://g.internal"
	plan, err = planService(c).PlanPush(PushRequest{To: "slack:#ops", Panel: Panel{DashboardUID: "abc", PanelID: 1}}, "http://localhost:3000/")
	if err != nil || !strings.HasPrefix(plan.Render.URL, "https://g.internal/d-solo/abc/_?") {
		t.Errorf("%+v %v", plan.Render, err)
	}
}

func TestPlanPushRefusals(t *testing.T) {
	solo := Panel{DashboardUID: "abc", PanelID: 2}
	long := strings.Repeat("x", 300)
	cases := []struct {
		name string
		req  PushRequest
		door string
		cfg  func(*config.Config)
		want string
	}{
		{"no address", PushRequest{Panel: solo}, "", nil, `"to" is missing`},
		{"no channel", PushRequest{To: "slack:", Panel: solo}, "", nil, "names no channel"},
		{"not an address", PushRequest{To: "ops", Panel: solo}, "", nil, "is not provider:channel"},
		{"unknown provider", PushRequest{To: "teams:ops", Panel: solo}, "", nil, `"teams" is not a chat provider`},
		{"provider without token", PushRequest{To: "mattermost:town-square", Panel: solo}, "", nil, "mattermost is not configured: set mattermost_url and mattermost_token"},
		{"bad discord channel", PushRequest{To: "discord:#general", Panel: solo}, "", nil, "not a numeric channel id"},
		{"bad telegram chat", PushRequest{To: "telegram:my group", Panel: solo}, "", nil, "not a Telegram chat id"},
		{"no panel", PushRequest{To: "slack:#ops"}, "", nil, "panel is missing"},
		{"both forms", PushRequest{To: "slack:#ops", Panel: Panel{URL: "https://grafana.example.com:3000/d/a", DashboardUID: "a", PanelID: 1}}, "", nil, "not both"},
		{"url and range", PushRequest{To: "slack:#ops", Panel: Panel{URL: "https://grafana.example.com:3000/d/a", From: "now-1h"}}, "", nil, "put panelId, orgId, from, to and var-… in its query"},
		{"other host", PushRequest{To: "slack:#ops", Panel: Panel{URL: "https://evil.example.com:3000/d-solo/a/b?panelId=1"}}, "", nil, "is not on Grafana (https://grafana.example.com:3000)"},
		{"other port", PushRequest{To: "slack:#ops", Panel: Panel{URL: "https://grafana.example.com/d-solo/a/b"}}, "", nil, "is not on Grafana"},
		{"other scheme", PushRequest{To: "slack:#ops", Panel: Panel{URL: "http://grafana.example.com:3000/d-solo/a/b"}}, "", nil, "is not on Grafana"},
		{"outside the sub-path", PushRequest{To: "slack:#ops", Panel: Panel{URL: "https://grafana.example.com:3000/grafanax/d/a"}}, "", func(c *config.Config) { c.GrafanaURL = "https://grafana.example.com:3000/grafana" }, "is not on Grafana"},
		{"file url", PushRequest{To: "slack:#ops", Panel: Panel{URL: "file:///etc/passwd"}}, "", nil, "is not an http(s) URL"},
		{"credentials in url", PushRequest{To: "slack:#ops", Panel: Panel{URL: "https://u:p@grafana.example.com:3000/d/a"}}, "", nil, "user name or password"},
		{"bad uid", PushRequest{To: "slack:#ops", Panel: Panel{DashboardUID: "a/../b", PanelID: 1}}, "", nil, "is not a Grafana dashboard UID"},
		{"no panel id", PushRequest{To: "slack:#ops", Panel: Panel{DashboardUID: "abc"}}, "", nil, "panel.panelId is missing"},
		{"negative org", PushRequest{To: "slack:#ops", Panel: Panel{DashboardUID: "abc", PanelID: 1, OrgID: -1}}, "", nil, "panel.orgId must be a positive"},
		{"control in from", PushRequest{To: "slack:#ops", Panel: Panel{DashboardUID: "abc", PanelID: 1, From: "now\n-1h"}}, "", nil, "panel.from must be a time"},
		{"empty var name", PushRequest{To: "slack:#ops", Panel: Panel{DashboardUID: "abc", PanelID: 1, Vars: map[string][]string{"": {"x"}}}}, "", nil, "variable name"},
		{"huge var", PushRequest{To: "slack:#ops", Panel: Panel{DashboardUID: "abc", PanelID: 1, Vars: map[string][]string{"x": {strings.Repeat("v", 5000)}}}}, "", nil, "panel.vars.x has a value"},
		{"too wide", PushRequest{To: "slack:#ops", Panel: Panel{DashboardUID: "abc", PanelID: 1, Width: 99999}}, "", nil, "panel.width must be 1..3000"},
		{"negative height", PushRequest{To: "slack:#ops", Panel: Panel{DashboardUID: "abc", PanelID: 1, Height: -1}}, "", nil, "panel.height must be 1..3000"},
		{"bad theme", PushRequest{To: "slack:#ops", Panel: Panel{DashboardUID: "abc", PanelID: 1, Theme: "blue"}}, "", nil, "panel.theme must be light or dark"},
		{"bad timezone", PushRequest{To: "slack:#ops", Panel: Panel{DashboardUID: "abc", PanelID: 1, Timezone: "Mars/Olympus"}}, "", nil, "is not an IANA time zone"},
		{"local timezone", PushRequest{To: "slack:#ops", Panel: Panel{DashboardUID: "abc", PanelID: 1, Timezone: "Local"}}, "", nil, "is not an IANA time zone"},
		{"long thread", PushRequest{To: "slack:#ops", Thread: long, Panel: solo}, "", nil, "thread must be at most 256"},
		{"huge text", PushRequest{To: "slack:#ops", Text: strings.Repeat("t", 40001), Panel: solo}, "", nil, "keep it under 40000"},
		{"no grafana url", PushRequest{To: "slack:#ops", Panel: solo}, "", func(c *config.Config) { c.GrafanaURL = "" }, "set grafana_url"},
		{"bad door url", PushRequest{To: "slack:#ops", Panel: solo}, "localhost:3000", func(c *config.Config) { c.GrafanaURL = "" }, "is not an http(s) URL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := pushConfig()
			if c.cfg != nil {
				c.cfg(&cfg)
			}
			_, err := planService(cfg).PlanPush(c.req, c.door)
			if !errors.Is(err, ErrBadPush) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want ErrBadPush saying %q", err, c.want)
			}
		})
	}
}

func TestPushWithoutDelivery(t *testing.T) {
	s := planService(pushConfig())
	_, err := s.Push(context.Background(), PushRequest{To: "slack:#ops", Panel: Panel{DashboardUID: "abc", PanelID: 1}}, "")
	if !errors.Is(err, ErrDeliveryUnavailable) || !strings.Contains(err.Error(), "not running") {
		t.Errorf("err = %v", err)
	}
	if _, err := s.Push(context.Background(), PushRequest{To: "slack:#ops"}, ""); !errors.Is(err, ErrBadPush) {
		t.Errorf("a bad push is refused as bad before the outbox is asked: %v", err)
	}
}

func TestSecretScrubber(t *testing.T) {
	c := pushConfig()
	c.GrafanaToken = secret.New("glsa_abcdef")
	c.APITokens = secret.List("api-1234")
	r := secretScrubber(c)
	in := "slack xoxb-test-token, telegram 123456:telegram-secret and telegram-secret, grafana glsa_abcdef, api api-1234, discord discord-secret"
	out := r.Replace(in)
	for _, secret := range []string{"xoxb-test-token", "telegram-secret", "123456:", "glsa_abcdef", "api-1234", "discord-secret"} {
		if strings.Contains(out, secret) {
			t.Errorf("%q survived: %s", secret, out)
		}
	}
}
