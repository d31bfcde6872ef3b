package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/panelcast/panelcast/pkg/chat"
	"github.com/panelcast/panelcast/pkg/chat/discord"
	"github.com/panelcast/panelcast/pkg/chat/mattermost"
	"github.com/panelcast/panelcast/pkg/chat/slack"
	"github.com/panelcast/panelcast/pkg/chat/telegram"
	"github.com/panelcast/panelcast/pkg/config"
	"github.com/panelcast/panelcast/pkg/delivery"
	"github.com/panelcast/panelcast/pkg/render"
)

// pushState is the running chat delivery: the outbox, its worker and the
// senders. The zero value is "not started".
type pushState struct {
	mu      sync.Mutex
	started bool
	stopped bool
	path    string
	outbox  *delivery.Outbox
	openErr error
	senders map[string]chat.Sender
	// broken are providers whose settings are present but unusable.
	broken map[string]error
	worker *delivery.Worker
	stop   context.CancelFunc
	done   chan struct{}
	// grafana checks dashboards before a render, with the TLS policy the
	// browser has for Grafana's origin.
	grafana *http.Client
	secrets *strings.Replacer
}

// newSenders builds a sender for every chat provider whose credentials are
// configured. Providers whose settings are wrong are returned in broken,
// with the reason.
func newSenders(cfg config.Config, log *slog.Logger) (senders map[string]chat.Sender, broken map[string]error) {
	senders, broken = map[string]chat.Sender{}, map[string]error{}
	add := func(name string, s chat.Sender, err error) {
		if err != nil {
			broken[name] = err
			return
		}
		senders[name] = s
	}
	if cfg.SlackBotToken != "" {
		s, err := slack.New(slack.Config{Token: cfg.SlackBotToken, APIURL: cfg.SlackAPIURL, Logger: log})
		add("slack", s, err)
	}
	if cfg.MattermostURL != "" || cfg.MattermostToken != "" {
		s, err := mattermost.New(mattermost.Config{URL: cfg.MattermostURL, Token: cfg.MattermostToken, Team: cfg.MattermostTeam, Logger: log})
		add("mattermost", s, err)
	}
	if cfg.DiscordBotToken != "" {
		s, err := discord.New(discord.Config{Token: cfg.DiscordBotToken, APIURL: cfg.DiscordAPIURL})
		add("discord", s, err)
	}
	if cfg.TelegramBotToken != "" {
		s, err := telegram.New(telegram.Config{Token: cfg.TelegramBotToken, APIURL: cfg.TelegramAPIURL})
		add("telegram", s, err)
	}
	return senders, broken
}

// StartDelivery opens the outbox and starts the worker that renders and
// sends pushes, with senders for the configured chat providers. Zero
// options take the worker's defaults and max_attempts. Without any chat
// provider configured nothing is opened and pushes are refused. The error
// is the outbox's: pushes are then answered 503 with it, and health shows
// it. Stop it with StopDelivery.
func (s *Service) StartDelivery(opts delivery.WorkerOptions) error {
	st := &s.push
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.started {
		return errors.New("chat delivery is already started")
	}
	st.started = true
	st.secrets = secretScrubber(s.Config)
	if s.TLS == nil { // a Service made without New
		p, err := s.Config.TLSPolicy()
		if err != nil {
			return err
		}
		s.TLS = p
	}
	st.grafana = s.TLS.Client(15 * time.Second)
	senders, broken := newSenders(s.Config, s.Log)
	st.senders, st.broken = map[string]chat.Sender{}, map[string]error{}
	for name, snd := range senders {
		st.senders[name] = scrubbedSender{snd, st.scrub}
	}
	for name, err := range broken {
		st.broken[name] = st.scrub(err)
		s.Log.Error("chat provider is misconfigured; pushes to it are refused", "provider", name, "error", st.broken[name])
	}
	if len(senders)+len(broken) == 0 {
		return nil
	}
	st.path = s.Config.OutboxPath
	if st.path == "" {
		st.path = config.DefaultOutboxPath()
	}
	o, err := delivery.Open(st.path)
	if err != nil {
		st.openErr = err
		return err
	}
	st.outbox = o
	if opts.MaxAttempts == 0 {
		opts.MaxAttempts = s.Config.MaxAttempts
	}
	if opts.Logger == nil {
		opts.Logger = s.Log
	}
	st.worker = delivery.NewWorker(o, st.senders, s.preparePush, opts)
	ctx, cancel := context.WithCancel(context.Background())
	st.stop, st.done = cancel, make(chan struct{})
	go func() {
		defer close(st.done)
		st.worker.Run(ctx)
	}()
	s.Log.Info("chat delivery started", "outbox", st.path, "providers", strings.Join(sortedKeys(st.senders), ","))
	return nil
}

// StopDelivery lets attempts in flight finish (within the worker's
// shutdown grace) and closes the outbox. Pushes are refused afterwards.
func (s *Service) StopDelivery() error {
	st := &s.push
	st.mu.Lock()
	defer st.mu.Unlock()
	st.stopped = true
	if st.stop != nil {
		st.stop()
		<-st.done
		st.stop = nil
	}
	if st.outbox == nil {
		return nil
	}
	err := st.outbox.Close()
	st.outbox = nil
	return err
}

// OutboxPath is where pushes are stored, "" before StartDelivery or when no
// chat provider is configured.
func (s *Service) OutboxPath() string {
	s.push.mu.Lock()
	defer s.push.mu.Unlock()
	return s.push.path
}

// DeliveryStats are the worker's counters, zero when it is not running.
func (s *Service) DeliveryStats() delivery.Stats {
	s.push.mu.Lock()
	defer s.push.mu.Unlock()
	if s.push.worker == nil {
		return delivery.Stats{}
	}
	return s.push.worker.Stats()
}

// outboxFor returns the open outbox, refusing when it cannot take a push to
// provider ("" for any).
func (st *pushState) outboxFor(provider string) (*delivery.Outbox, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := st.broken[provider]; err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadPush, err)
	}
	switch {
	case st.stopped:
		return nil, fmt.Errorf("%w: Panelcast is shutting down; push again once it is back", ErrDeliveryUnavailable)
	case st.openErr != nil:
		return nil, fmt.Errorf("%w: %v", ErrDeliveryUnavailable, st.openErr)
	case st.outbox == nil:
		return nil, fmt.Errorf("%w: chat delivery is not running: configure a chat provider (e.g. slack_bot_token) and restart Panelcast", ErrDeliveryUnavailable)
	}
	return st.outbox, nil
}

// preparePush is the worker's prepare step: it renders the job's panel as
// Grafana's service account, or sends the text alone when there is none.
func (s *Service) preparePush(ctx context.Context, j delivery.Job) (chat.Message, error) {
	if len(j.Payload) == 0 {
		return chat.Message{}, nil
	}
	var spec RenderSpec
	if err := json.Unmarshal(j.Payload, &spec); err != nil || spec.URL == "" {
		return chat.Message{}, delivery.Permanent(fmt.Errorf("the stored panel of job %s is unreadable (%v): push it again", j.ID, err))
	}
	if err := s.checkDashboard(ctx, spec); err != nil {
		return chat.Message{}, s.push.scrub(err)
	}
	g := GrafanaRender{URL: spec.URL, Width: spec.Width, Height: spec.Height, Timezone: spec.Timezone, Encoding: string(render.PNG)}
	req := s.Request(g)
	if s.Config.GrafanaToken != "" {
		req.OriginHeaders = map[string]string{"Authorization": "Bearer " + s.Config.GrafanaToken}
	}
	start := time.Now()
	img, err := s.Renderer.Render(ctx, req)
	s.logRender(ctx, "push", g, start, err)
	if errors.Is(err, render.ErrBadRequest) || errors.Is(err, render.ErrNoChromium) {
		err = delivery.Permanent(err)
	}
	if err != nil {
		return chat.Message{}, s.push.scrub(err)
	}
	return chat.Message{Image: img, Filename: "panel.png"}, nil
}

// checkDashboard asks Grafana's API for the dashboard with the same token the
// browser will use, so that a wrong token, UID or permission fails the push
// with the reason rather than sending a picture of the login page.
func (s *Service) checkDashboard(ctx context.Context, spec RenderSpec) error {
	if spec.DashboardUID == "" {
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, spec.GrafanaURL+"/api/dashboards/uid/"+url.PathEscape(spec.DashboardUID), nil)
	if err != nil {
		return delivery.Permanent(fmt.Errorf("Grafana's URL %s is unusable (%v): fix grafana_url", spec.GrafanaURL, err))
	}
	req.Header.Set("Accept", "application/json")
	if s.Config.GrafanaToken != "" {
		req.Header.Set("Authorization", "Bearer "+s.Config.GrafanaToken)
	}
	resp, err := s.push.grafana.Do(req)
	if err != nil {
		return fmt.Errorf("could not reach Grafana at %s (%v): check grafana_url and that Grafana is up", spec.GrafanaURL, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	uid := spec.DashboardUID
	switch code := resp.StatusCode; {
	case code == http.StatusOK:
		return nil
	case code == http.StatusUnauthorized && s.Config.GrafanaToken == "":
		return delivery.Permanent(fmt.Errorf("Grafana asks for a login to show dashboard %s: set grafana_token to a service-account token with Viewer access", uid))
	case code == http.StatusUnauthorized:
		return delivery.Permanent(errors.New("Grafana refused grafana_token (401): set it to a valid, unexpired service-account token"))
	case code == http.StatusForbidden:
		return delivery.Permanent(fmt.Errorf("the service account of grafana_token may not view dashboard %s (403): give it Viewer access to the dashboard or its folder", uid))
	case code == http.StatusNotFound:
		return delivery.Permanent(fmt.Errorf("dashboard %s does not exist for the service account of grafana_token (404): check dashboardUid and that the account belongs to the dashboard's organisation", uid))
	case code == http.StatusTooManyRequests || code >= 500:
		return fmt.Errorf("Grafana answered %d for dashboard %s: it will be retried", code, uid)
	default:
		return delivery.Permanent(fmt.Errorf("Grafana answered %d for dashboard %s: check grafana_url", code, uid))
	}
}

// secretScrubber replaces every configured secret, so that no token reaches
// a log line, a stored error or health output, whatever a provider or
// library put into an error text.
func secretScrubber(c config.Config) *strings.Replacer {
	secrets := append([]string{c.GrafanaToken, c.SlackBotToken, c.MattermostToken, c.DiscordBotToken, c.TelegramBotToken},
		append(c.APITokens, c.AuthTokens...)...)
	if _, after, ok := strings.Cut(c.TelegramBotToken, ":"); ok {
		secrets = append(secrets, after)
	}
	// Longer first, so a token is replaced whole before any part of it.
	sort.Slice(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) })
	var pairs []string
	for _, v := range secrets {
		if len(v) >= 4 {
			pairs = append(pairs, v, "[redacted]")
		}
	}
	return strings.NewReplacer(pairs...)
}

func (st *pushState) scrub(err error) error {
	if err == nil || st.secrets == nil {
		return err
	}
	msg := st.secrets.Replace(err.Error())
	if msg == err.Error() {
		return err
	}
	return &scrubbedError{msg: msg, err: err}
}

// scrubbedError keeps the cause for classification (errors.As finds a
// *chat.Error or a permanent error) but shows only the scrubbed text.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

type scrubbedSender struct {
	chat.Sender
	scrub func(error) error
}

func (s scrubbedSender) Send(ctx context.Context, m chat.Message) (chat.Receipt, error) {
	r, err := s.Sender.Send(ctx, m)
	return r, s.scrub(err)
}

func (s scrubbedSender) Check(ctx context.Context) error { return s.scrub(s.Sender.Check(ctx)) }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
