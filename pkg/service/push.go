package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"net/url"
	"reflect"
	"strings"

	"github.com/panelcast/panelcast/pkg/chat"
	"github.com/panelcast/panelcast/pkg/chat/discord"
	"github.com/panelcast/panelcast/pkg/chat/telegram"
	"github.com/panelcast/panelcast/pkg/config"
	"github.com/panelcast/panelcast/pkg/delivery"
	"github.com/panelcast/panelcast/pkg/grafana"
	"github.com/panelcast/panelcast/pkg/quote"
)

// Errors the doors map to answers.
var (
	// ErrBadPush marks a push that can never be sent as asked (400).
	ErrBadPush = errors.New("bad push")
	// ErrPushNotFound is an id the outbox does not hold as a push (404).
	ErrPushNotFound = errors.New("no such push")
	// ErrDeliveryUnavailable means the outbox cannot take pushes now (503).
	ErrDeliveryUnavailable = errors.New("chat delivery is unavailable")
)

func badPush(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrBadPush, fmt.Sprintf(format, a...))
}

// Panel names the panel a push renders: either URL, a Grafana page, or a
// dashboard UID and panel id that become Grafana's solo-panel URL.
// Zero values mean "not given".
type Panel struct {
	URL string

	DashboardUID string
	PanelID      int64
	OrgID        int64
	// From and To are Grafana's time range ends: "now-6h", "now", or epoch
	// milliseconds. Omitted, the dashboard's saved range applies.
	From, To string
	// Vars are dashboard variables by name; several values make a
	// multi-value selection.
	Vars map[string][]string

	// Width and Height are CSS pixels; 0 takes the configured default.
	Width, Height int
	// Theme is "light" or "dark"; "" keeps the user's default.
	Theme string
	// Timezone is an IANA name the page and the browser use.
	Timezone string
}

// PushRequest is one push as a door received it.
type PushRequest struct {
	Panel Panel
	// To is the address, "slack:#ops".
	To   string
	Text string
	// Thread, when set, posts every push with the same Thread and address
	// in one thread: the first starts it, the others reply.
	Thread string
	// Caller, when the door names one (plugin mode), must be able to view
	// the panel's dashboard: see Caller.
	Caller *Caller
	// Picture, when set, is a PNG the caller rendered (the app's browser,
	// through the user's own /render): it is sent as it is, and Panel is
	// then optional.
	Picture []byte
}

// RenderSpec is what a job needs to render its picture; it is stored as the
// job's payload, so its JSON form must stay readable by later versions.
type RenderSpec struct {
	URL      string `json:"url"`
	Width    int    `json:"width"`
	Height   int    `json:"height"`
	Timezone string `json:"timezone,omitempty"`
	// GrafanaURL is Grafana's base URL (no trailing slash) for the
	// dashboard check before the render.
	GrafanaURL string `json:"grafanaUrl"`
	// DashboardUID, when known, is checked through Grafana's API first, so
	// a wrong token or UID fails with a reason instead of a picture of the
	// login page.
	DashboardUID string `json:"dashboardUid,omitempty"`
	// Picture is the PNG the push came with, sent instead of a render.
	Picture []byte `json:"picture,omitempty"`
}

// PushPlan is a validated push: where it goes and what it renders.
type PushPlan struct {
	Address chat.Address
	Render  RenderSpec
	Text    string
	Thread  string
}

// PushStatus is a push as GET /push/{id} reports it.
type PushStatus struct {
	ID string `json:"id"`
	// State is queued, sending, sent or failed.
	State    string `json:"state"`
	Attempts int    `json:"attempts"`
	// Error is the last attempt's failure; for a sent push, what went
	// wrong after the message was posted.
	Error     string `json:"error"`
	Permalink string `json:"permalink"`
}

// Limits on what a push may carry; they keep the outbox small and refuse
// junk early, well above anything a chat shows.
const (
	maxText   = 40000
	maxThread = 256
)

// knownProviders are the chat services Panelcast can post to, and its
// own inbox (inbox:<channel>, shown in the console).
var knownProviders = []string{"slack", "mattermost", "discord", "telegram", inboxProvider}

// PlanPush checks a push against the configuration and turns its panel into
// the URL to render. grafanaURL is Grafana's address as the door knows it
// (the plugin context's app URL, or the URL a person gave); grafana_url
// overrides it. Errors wrap ErrBadPush and say what to fix.
func (s *Service) PlanPush(p PushRequest, grafanaURL string) (PushPlan, error) {
	addr, err := s.checkAddress(p.To)
	if err != nil {
		return PushPlan{}, err
	}
	if err := s.listedAddress(addr); err != nil {
		return PushPlan{}, err
	}
	if len(p.Text) > maxText {
		return PushPlan{}, badPush("text is %d bytes; keep it under %d", len(p.Text), maxText)
	}
	if len(p.Thread) > maxThread || quote.HasControl(p.Thread) {
		return PushPlan{}, badPush("thread must be at most %d printable characters", maxThread)
	}
	var spec RenderSpec
	if p.Picture == nil || !reflect.DeepEqual(p.Panel, Panel{}) {
		if spec, err = s.planRender(p.Panel, grafanaURL); err != nil {
			return PushPlan{}, err
		}
	}
	if p.Picture != nil {
		if err := checkPicture(p.Picture, s.cfg); err != nil {
			return PushPlan{}, err
		}
		spec.Picture = p.Picture
	}
	return PushPlan{Address: addr, Render: spec, Text: p.Text, Thread: p.Thread}, nil
}

func (s *Service) checkAddress(to string) (chat.Address, error) {
	if strings.TrimSpace(to) == "" {
		return chat.Address{}, badPush(`"to" is missing: give an address like slack:#ops`)
	}
	addr, err := chat.ParseAddress(to)
	if err != nil {
		return chat.Address{}, fmt.Errorf("%w: %v", ErrBadPush, err)
	}
	known := false
	for _, p := range knownProviders {
		known = known || p == addr.Provider
	}
	if !known {
		return chat.Address{}, badPush("%q is not a chat provider Panelcast knows: use %s", addr.Provider, strings.Join(knownProviders, ", "))
	}
	if key := missingCredentials(s, addr.Provider); key != "" {
		return chat.Address{}, badPush("%s is not configured: set %s", addr.Provider, key)
	}
	// Providers whose addresses have a fixed form are checked now, so a typo
	// is a 400 rather than a failed push.
	switch addr.Provider {
	case "discord":
		_, err = discord.ParseChannel(addr.Channel)
	case "telegram":
		_, err = telegram.ParseChat(addr.Channel)
	}
	if err != nil {
		return chat.Address{}, fmt.Errorf("%w: %v", ErrBadPush, err)
	}
	return addr, nil
}

// checkPicture accepts a PNG no larger than the largest picture Panelcast
// would render itself: max_width by max_height at max_scale.
func checkPicture(b []byte, c config.Config) error {
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return badPush("the picture is not a PNG (%v): send the panel as image/png", err)
	}
	maxW, maxH := int(float64(c.MaxWidth)*c.MaxScale), int(float64(c.MaxHeight)*c.MaxScale)
	if cfg.Width > maxW || cfg.Height > maxH {
		return badPush("the picture is %dx%d pixels; at most %dx%d (max_width, max_height times max_scale) are sent", cfg.Width, cfg.Height, maxW, maxH)
	}
	return nil
}

// listedAddress refuses an address that is not one of destinations while
// free_addresses is false.
func (s *Service) listedAddress(addr chat.Address) error {
	if s.cfg.FreeAddresses {
		return nil
	}
	for _, d := range s.cfg.Destinations {
		if a, err := chat.ParseAddress(d.To); err == nil && a.String() == addr.String() {
			return nil
		}
	}
	return fmt.Errorf("%w: %s is not one of the destinations and free_addresses is off: pick a destination, or ask an admin to add it", ErrForbidden, addr)
}

// missingCredentials names the settings a provider still needs, "" when it
// has them.
func missingCredentials(s *Service, provider string) string {
	c := s.cfg
	switch provider {
	case "slack":
		if !c.SlackBotToken.IsSet() {
			return "slack_bot_token"
		}
	case "mattermost":
		if c.MattermostURL == "" || !c.MattermostToken.IsSet() {
			return "mattermost_url and mattermost_token"
		}
	case "discord":
		if !c.DiscordBotToken.IsSet() {
			return "discord_bot_token"
		}
	case "telegram":
		if !c.TelegramBotToken.IsSet() {
			return "telegram_bot_token"
		}
	}
	return ""
}

func (s *Service) planRender(p Panel, doorURL string) (RenderSpec, error) {
	base, err := s.grafanaBase(doorURL)
	if err != nil {
		return RenderSpec{}, err
	}
	spec := RenderSpec{GrafanaURL: base.String(), Width: p.Width, Height: p.Height, Timezone: strings.TrimSpace(p.Timezone)}
	if spec.Width == 0 {
		spec.Width = s.cfg.Width
	}
	if spec.Height == 0 {
		spec.Height = s.cfg.Height
	}
	if spec.Width < 1 || spec.Width > s.cfg.MaxWidth {
		return RenderSpec{}, badPush("panel.width must be 1..%d, got %d", s.cfg.MaxWidth, spec.Width)
	}
	if spec.Height < 1 || spec.Height > s.cfg.MaxHeight {
		return RenderSpec{}, badPush("panel.height must be 1..%d, got %d", s.cfg.MaxHeight, spec.Height)
	}
	var page *url.URL
	switch {
	case p.URL != "" && p.DashboardUID != "":
		return RenderSpec{}, badPush("give either panel.url or panel.dashboardUid, not both")
	case p.URL != "":
		if p.PanelID != 0 || p.OrgID != 0 || p.From != "" || p.To != "" || len(p.Vars) > 0 {
			return RenderSpec{}, badPush("panel.url already names the panel, time range and variables: put panelId, orgId, from, to and var-… in its query, or use panel.dashboardUid instead of the URL")
		}
		page, err = grafana.OnGrafana(p.URL, base)
		if err == nil {
			err = grafana.ForRender(page, p.Theme, spec.Timezone)
		}
		if err != nil {
			return RenderSpec{}, badPanel(err)
		}
		spec.DashboardUID = grafana.DashboardUID(page, base)
	case p.DashboardUID != "":
		page, err = grafana.SoloURL(base, grafana.SoloPanel{DashboardUID: p.DashboardUID, PanelID: p.PanelID, OrgID: p.OrgID,
			From: p.From, To: p.To, Vars: p.Vars, Theme: p.Theme, Timezone: spec.Timezone})
		if err != nil {
			return RenderSpec{}, badPanel(err)
		}
		spec.DashboardUID = p.DashboardUID
	default:
		return RenderSpec{}, badPush("panel is missing: give panel.url (a Grafana panel URL) or panel.dashboardUid with panel.panelId")
	}
	spec.URL = page.String()
	return spec, nil
}

// grafanaBase is Grafana's URL without query and trailing slash: grafana_url
// when set, else what the door knows.
func (s *Service) grafanaBase(doorURL string) (*url.URL, error) {
	raw := s.cfg.GrafanaURL
	if raw == "" {
		raw = doorURL
	}
	if raw == "" {
		return nil, badPush("Grafana's URL is unknown: set grafana_url to Grafana's address as Panelcast reaches it, e.g. https://grafana.example.com:3000")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, badPush("Grafana's URL %q is not an http(s) URL: set grafana_url like https://grafana.example.com:3000", quote.Clip(raw))
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host, Path: strings.TrimRight(u.Path, "/")}, nil
}

// badPanel names a refused panel field as the push API does: panel.<field>.
func badPanel(err error) error {
	return badPush("panel.%v", err)
}

// threadKey keeps push threads apart from alert threads in the outbox.
func threadKey(thread string) string {
	if thread == "" {
		return ""
	}
	return "push:" + thread
}

// Push validates p and stores it in the outbox; the worker renders and
// sends it. The answer is the queued push.
func (s *Service) Push(ctx context.Context, p PushRequest, grafanaURL string) (PushStatus, error) {
	plan, err := s.PlanPush(p, grafanaURL)
	if err != nil {
		return PushStatus{}, err
	}
	o, err := s.push.outboxFor(plan.Address.Provider)
	if err != nil {
		return PushStatus{}, err
	}
	if p.Caller != nil && (p.Picture == nil || plan.Render.URL != "") {
		if plan.Render.DashboardUID == "" {
			return PushStatus{}, badPush("panel.url must be a dashboard panel (/d/<uid>/… or /d-solo/<uid>/…) so that Panelcast can check that %s may view it", p.Caller.Login)
		}
		if err := s.mayView(ctx, p.Caller, plan.Render.GrafanaURL, plan.Render.DashboardUID); err != nil {
			return PushStatus{}, err
		}
	}
	payload, err := json.Marshal(plan.Render)
	if err != nil {
		return PushStatus{}, err
	}
	j, _, err := o.Enqueue(ctx, delivery.Job{Kind: "push", Address: plan.Address.String(), Text: plan.Text,
		Payload: payload, ThreadKey: threadKey(plan.Thread)})
	if err != nil {
		return PushStatus{}, fmt.Errorf("%w: %v", ErrDeliveryUnavailable, err)
	}
	s.log.Info("push queued", "id", j.ID, "to", j.Address, "panel", pathOnly(plan.Render.URL))
	return statusOf(j), nil
}

// RenderPanel renders a panel now, the picture a push of it would carry:
// planned as a push is (grafana_url, sizes, the panel's URL), the
// dashboard checked through Grafana's API, rendered as Grafana's service
// account. Errors wrap ErrBadPush for a panel that cannot be drawn as
// asked, *grafana.APIError for Grafana's refusal, else the renderer's.
func (s *Service) RenderPanel(ctx context.Context, p Panel, grafanaURL string) ([]byte, error) {
	spec, err := s.planRender(p, grafanaURL)
	if err != nil {
		return nil, err
	}
	if err := s.browserMissing(); err != nil && !s.throughGrafana {
		return nil, err
	}
	if err := s.checkDashboard(ctx, spec); err != nil {
		return nil, s.push.scrub(err)
	}
	return s.renderForChat(ctx, "panel", spec.URL, spec.Width, spec.Height, spec.Timezone)
}

// PushStatus reports a push by the id Push returned.
func (s *Service) PushStatus(ctx context.Context, id string) (PushStatus, error) {
	o, err := s.push.outboxFor("")
	if err != nil {
		return PushStatus{}, err
	}
	if len(id) > 64 {
		return PushStatus{}, fmt.Errorf("%w: %q is not a push id", ErrPushNotFound, quote.Clip(id))
	}
	j, err := o.Get(ctx, id)
	if errors.Is(err, delivery.ErrNotFound) || (err == nil && j.Kind != "push") {
		return PushStatus{}, fmt.Errorf("%w: %q: check the id POST /push returned", ErrPushNotFound, id)
	}
	if err != nil {
		return PushStatus{}, fmt.Errorf("%w: %v", ErrDeliveryUnavailable, err)
	}
	return statusOf(j), nil
}

func statusOf(j delivery.Job) PushStatus {
	return PushStatus{ID: j.ID, State: j.State, Attempts: j.Attempts, Error: j.LastError, Permalink: j.Permalink}
}

// pathOnly drops the query, which can carry variable values, from a logged
// URL.
func pathOnly(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		return u[:i]
	}
	return u
}

// Destinations are what a person picks a push's address from: the named
// destinations, whether other addresses are allowed, where alerts go by
// default and which chats are set up (never a token).
type Destinations struct {
	Destinations  []config.Destination `json:"destinations"`
	FreeAddresses bool                 `json:"freeAddresses"`
	DefaultTo     string               `json:"defaultTo"`
	Chats         []ChatSetup          `json:"chats"`
}

// ChatSetup says whether a chat provider has its credentials.
type ChatSetup struct {
	Provider   string `json:"provider"`
	Configured bool   `json:"configured"`
}

// Destinations reports the configured destinations and chats.
func (s *Service) Destinations() Destinations {
	d := Destinations{Destinations: s.cfg.Destinations, FreeAddresses: s.cfg.FreeAddresses,
		DefaultTo: strings.Join(s.cfg.DefaultTo, ","), Chats: []ChatSetup{}}
	if d.Destinations == nil {
		d.Destinations = []config.Destination{}
	}
	for _, p := range knownProviders {
		if p != inboxProvider {
			d.Chats = append(d.Chats, ChatSetup{Provider: p, Configured: missingCredentials(s, p) == ""})
		}
	}
	return d
}

// TestText is the message PushTest sends.
const TestText = "Panelcast test message: this chat is set up to receive Grafana panels."

// PushTest queues a short text message to the address to, checked as a
// push's address is, so that an admin sees a chat is set up.
func (s *Service) PushTest(ctx context.Context, to string) (PushStatus, error) {
	addr, err := s.checkAddress(to)
	if err != nil {
		return PushStatus{}, err
	}
	if err := s.listedAddress(addr); err != nil {
		return PushStatus{}, err
	}
	o, err := s.push.outboxFor(addr.Provider)
	if err != nil {
		return PushStatus{}, err
	}
	j, _, err := o.Enqueue(ctx, delivery.Job{Kind: "push", Address: addr.String(), Text: TestText})
	if err != nil {
		return PushStatus{}, fmt.Errorf("%w: %v", ErrDeliveryUnavailable, err)
	}
	s.log.Info("test message queued", "id", j.ID, "to", j.Address)
	return statusOf(j), nil
}
