package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panelcast/panelcast/pkg/chat"
	"github.com/panelcast/panelcast/pkg/chat/discord"
	"github.com/panelcast/panelcast/pkg/chat/inbox"
	"github.com/panelcast/panelcast/pkg/chat/mattermost"
	"github.com/panelcast/panelcast/pkg/chat/slack"
	"github.com/panelcast/panelcast/pkg/chat/telegram"
	"github.com/panelcast/panelcast/pkg/config"
	"github.com/panelcast/panelcast/pkg/delivery"
	"github.com/panelcast/panelcast/pkg/delivery/postgres"
	"github.com/panelcast/panelcast/pkg/grafana"
)

// pushState is the running chat delivery: the outbox, its worker and the
// senders. The zero value is "not started".
type pushState struct {
	mu      sync.Mutex
	started bool
	stopped bool
	// off: a plugin with no chat configured, so no outbox.
	off bool
	// kind and location name the outbox ("sqlite" and its file, or
	// "postgres" and outbox_url without its password), even when it failed
	// to open.
	kind     string
	location string
	outbox   delivery.Store
	openErr  error
	senders  map[string]chat.Sender
	// inbox is where the inbox: sender stores messages: the outbox, once
	// it is open.
	inbox *openedOutbox
	// broken are providers whose settings are present but unusable.
	broken map[string]error
	worker *delivery.Worker
	opts   delivery.WorkerOptions
	stop   context.CancelFunc
	done   chan struct{}
	// grafanaData is Grafana's data folder as the files it asks for show
	// it, learnt while no other place for the outbox is known.
	grafanaData string
	// grafana checks dashboards before a render, with the TLS policy the
	// browser has for Grafana's origin.
	grafana *http.Client
	secrets *strings.Replacer

	// alerts is what alert messages need; alertsErr why there is none.
	alerts    *alertDelivery
	alertsErr error
	// clients are one grafana.Client per Grafana URL and token, so that
	// which API each Grafana serves is learnt once for both doors, and
	// dashboards keep each Grafana's dashboards for a minute, so a storm
	// asks once. They have their own lock: the worker's attempts use them,
	// and stopDelivery holds mu while it waits for them.
	dashMu     sync.Mutex
	clients    map[grafanaKey]*grafana.Client
	dashboards map[string]*grafana.DashboardCache
	renders    *sharedRenders
}

// dashboardTTL is how long a dashboard read from Grafana is trusted: long
// enough for an alert storm, short enough to see an edited dashboard soon.
const dashboardTTL = time.Minute

// grafanaKey names a Grafana client: the Grafana's URL, and whether it asks
// with grafana_admin_token rather than grafana_token.
type grafanaKey struct {
	baseURL string
	admin   bool
}

// grafanaClient is the client of the Grafana at baseURL, asking with
// grafana_admin_token when admin and it is set, else grafana_token.
func (s *Service) grafanaClient(baseURL string, admin bool) *grafana.Client {
	st := &s.push
	st.dashMu.Lock()
	defer st.dashMu.Unlock()
	return st.client(grafanaKey{baseURL, admin && s.cfg.GrafanaAdminToken.IsSet()}, s.cfg)
}

// client is grafanaClient with dashMu held.
func (st *pushState) client(key grafanaKey, cfg config.Config) *grafana.Client {
	c := st.clients[key]
	if c == nil {
		token := cfg.GrafanaToken
		if key.admin {
			token = cfg.GrafanaAdminToken
		}
		// st.grafana is set by Start, before any push is taken.
		c = &grafana.Client{BaseURL: key.baseURL, Token: token, HTTP: st.grafana}
		if st.clients == nil {
			st.clients = map[grafanaKey]*grafana.Client{}
		}
		st.clients[key] = c
	}
	return c
}

// dashboard reads a dashboard of the Grafana at baseURL as grafana_token's
// account, through its cache.
func (s *Service) dashboard(ctx context.Context, baseURL, uid string) (grafana.Dashboard, error) {
	st := &s.push
	st.dashMu.Lock()
	c := st.dashboards[baseURL]
	if c == nil {
		if st.dashboards == nil {
			st.dashboards = map[string]*grafana.DashboardCache{}
		}
		c = grafana.NewDashboardCache(st.client(grafanaKey{baseURL: baseURL}, s.cfg), dashboardTTL)
		st.dashboards[baseURL] = c
	}
	st.dashMu.Unlock()
	return c.Dashboard(ctx, uid)
}

// alertsReady returns what alert messages need, or why they cannot be
// taken.
func (st *pushState) alertsReady() (*alertDelivery, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.alertsErr != nil {
		return nil, fmt.Errorf("%w: %v", ErrDeliveryUnavailable, st.alertsErr)
	}
	switch {
	case st.off:
		return nil, errDeliveryOff
	case st.alerts == nil:
		return nil, errNotRunning
	}
	return st.alerts, nil
}

// newSenders builds a sender for every chat provider whose credentials are
// configured, counting their rate limits in pace (nil: each in its own
// memory). Providers whose settings are wrong are returned in broken, with
// the reason.
func newSenders(cfg config.Config, log *slog.Logger, pace chat.PaceState) (senders map[string]chat.Sender, broken map[string]error) {
	senders, broken = map[string]chat.Sender{}, map[string]error{}
	add := func(name string, s chat.Sender, err error) {
		if err != nil {
			broken[name] = err
			return
		}
		senders[name] = s
	}
	if cfg.SlackBotToken.IsSet() {
		s, err := slack.New(slack.Config{Token: cfg.SlackBotToken.Reveal(), APIURL: cfg.SlackAPIURL, Logger: log, Pace: pace})
		add("slack", s, err)
	}
	if cfg.MattermostURL != "" || cfg.MattermostToken.IsSet() {
		s, err := mattermost.New(mattermost.Config{URL: cfg.MattermostURL, Token: cfg.MattermostToken.Reveal(), Team: cfg.MattermostTeam, Logger: log, Pace: pace})
		add("mattermost", s, err)
	}
	if cfg.DiscordBotToken.IsSet() {
		s, err := discord.New(discord.Config{Token: cfg.DiscordBotToken.Reveal(), APIURL: cfg.DiscordAPIURL, Pace: pace})
		add("discord", s, err)
	}
	if cfg.TelegramBotToken.IsSet() {
		s, err := telegram.New(telegram.Config{Token: cfg.TelegramBotToken.Reveal(), APIURL: cfg.TelegramAPIURL, Pace: pace})
		add("telegram", s, err)
	}
	return senders, broken
}

// startDelivery opens the outbox and starts the worker that renders and
// sends pushes, with senders for the configured chat providers and the
// built-in inbox: (always there, it needs no credentials, so the outbox is
// opened even when no chat is configured, except in a plugin, which has
// no console to show it). Zero options take the worker's defaults and
// max_attempts. The error is the outbox's: pushes are then
// answered 503 with it, and health shows it. Stop it with stopDelivery.
func (s *Service) startDelivery(opts delivery.WorkerOptions) error {
	st := &s.push
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.started {
		return errors.New("chat delivery is already started")
	}
	st.started = true
	st.secrets = secretScrubber(s.cfg)
	st.grafana = s.tls.Client(15 * time.Second)
	st.renders = newSharedRenders(2 * time.Minute)
	st.alerts, st.alertsErr = newAlertDelivery(s.cfg)
	if st.alertsErr != nil {
		s.log.Error("alert messages are refused until the setting is fixed", "error", st.alertsErr)
	}
	// With PostgreSQL the outbox also holds the chats' rate limits, shared
	// by every replica that posts as the same bot: it opens first, so that
	// the senders count in it.
	var o delivery.Store
	var openErr error
	if s.cfg.OutboxURL.IsSet() {
		o, openErr = s.openOutbox()
	}
	var pace chat.PaceState
	if pg, ok := o.(*postgres.Store); ok {
		pace = pg.Pace()
	}
	senders, broken := newSenders(s.cfg, s.log, pace)
	st.senders, st.broken = map[string]chat.Sender{}, map[string]error{}
	for name, snd := range senders {
		st.senders[name] = scrubbedSender{snd, st.scrub}
	}
	for name, err := range broken {
		st.broken[name] = st.scrub(err)
		s.log.Error("chat provider is misconfigured; pushes to it are refused", "provider", name, "error", st.broken[name])
	}
	// A plugin has no console to show the inbox in: without a chat it
	// opens nothing, and leaves Grafana's data folder alone.
	if len(senders)+len(broken) == 0 && s.cfg.Grafana != nil {
		st.off = true
		if o != nil {
			return o.Close()
		}
		return nil
	}
	st.inbox = &openedOutbox{}
	st.senders[inboxProvider] = inbox.New(st.inbox, s.inboxPermalink)
	if opts.MaxAttempts == 0 {
		opts.MaxAttempts = s.cfg.MaxAttempts
	}
	if opts.Lease == 0 {
		opts.Lease = s.cfg.OutboxLease
	}
	if opts.Retention == 0 {
		opts.Retention = s.cfg.OutboxRetention
	}
	if opts.OnFinish == nil {
		opts.OnFinish = s.countOutcome
	}
	if opts.Logger == nil {
		opts.Logger = s.log
	}
	if opts.Redact == nil {
		opts.Redact = st.secrets.Replace
	}
	st.opts = opts
	if o == nil && openErr == nil {
		o, openErr = s.openOutbox()
	}
	if openErr != nil {
		st.openErr = openErr
		return openErr
	}
	s.startWorker(o)
	return nil
}

// startWorker runs the worker on the open outbox o; st.mu is held.
func (s *Service) startWorker(o delivery.Store) {
	st := &s.push
	st.outbox, st.openErr = o, nil
	st.inbox.set(o)
	st.worker = delivery.NewWorker(o, st.senders, s.preparePush, st.opts)
	ctx, cancel := context.WithCancel(context.Background())
	st.stop, st.done = cancel, make(chan struct{})
	go func() {
		defer close(st.done)
		st.worker.Run(ctx)
	}()
	s.log.Info("chat delivery started", "outbox", st.location, "store", st.kind, "providers", strings.Join(sortedKeys(st.senders), ","))
}

// stopDelivery lets attempts in flight finish (within the worker's
// shutdown grace), releases the rest to other replicas, and closes the
// outbox. Pushes are refused afterwards.
func (s *Service) stopDelivery() error {
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

// OutboxPath is where pushes are stored: the SQLite file, or outbox_url
// without its password; "" before Start or while no outbox opened.
func (s *Service) OutboxPath() string {
	s.push.mu.Lock()
	defer s.push.mu.Unlock()
	return s.push.location
}

// OutboxDepth is the shared queue (every replica's jobs, with PostgreSQL):
// jobs by state and the creation time of the oldest pending one, for
// /metrics and autoscaling.
func (s *Service) OutboxDepth(ctx context.Context) (delivery.Depth, error) {
	o, err := s.push.outboxFor("")
	if err != nil {
		return delivery.Depth{}, err
	}
	return o.Depth(ctx)
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
func (st *pushState) outboxFor(provider string) (delivery.Store, error) {
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
	case st.off:
		return nil, errDeliveryOff
	case st.outbox == nil:
		return nil, errNotRunning
	}
	return st.outbox, nil
}

// errDeliveryOff answers pushes to a plugin with no chat configured.
var errDeliveryOff = fmt.Errorf("%w: chat delivery is off: configure a chat provider (e.g. slack_bot_token in [plugin.panelcast-renderer]) and restart Grafana", ErrDeliveryUnavailable)

// errNotRunning answers a door that never started chat delivery.
var errNotRunning = fmt.Errorf("%w: chat delivery is not running", ErrDeliveryUnavailable)

// inboxProvider is the built-in address prefix, inbox:<channel>.
const inboxProvider = "inbox"

// openedOutbox is the inbox sender's store: the outbox once it is open.
// The sender is made before (the senders never change once delivery
// started, see limits), and the worker that calls it only runs after.
type openedOutbox struct{ v atomic.Value }

func (o *openedOutbox) set(s delivery.Store) { o.v.Store(&s) }

func (o *openedOutbox) SaveInbox(ctx context.Context, m delivery.InboxMessage) (delivery.InboxMessage, error) {
	s, _ := o.v.Load().(*delivery.Store)
	if s == nil {
		return delivery.InboxMessage{}, errors.New("the outbox is not open")
	}
	return (*s).SaveInbox(ctx, m)
}

// preparePush is the worker's prepare step: it renders the job's panel as
// Grafana's service account, or sends the text alone when there is none.
func (s *Service) preparePush(ctx context.Context, j delivery.Job) (chat.Message, error) {
	if len(j.Payload) == 0 {
		return chat.Message{}, nil
	}
	if j.Kind == "alert" {
		return s.prepareAlert(ctx, j)
	}
	var spec RenderSpec
	if err := json.Unmarshal(j.Payload, &spec); err != nil || (spec.URL == "" && spec.Picture == nil) {
		return chat.Message{}, delivery.Permanent(fmt.Errorf("the stored panel of job %s is unreadable (%v): push it again", j.ID, err))
	}
	if spec.Picture != nil {
		return chat.Message{Images: []chat.Image{{Data: spec.Picture, Filename: "panel.png"}}}, nil
	}
	if err := s.checkDashboard(ctx, spec); err != nil {
		return chat.Message{}, s.push.scrub(err)
	}
	img, err := s.renderForChat(ctx, "push", spec.URL, spec.Width, spec.Height, spec.Timezone)
	if err != nil {
		return chat.Message{}, err
	}
	return chat.Message{Images: []chat.Image{{Data: img, Filename: "panel.png"}}}, nil
}

// checkDashboard asks Grafana's API for the dashboard with the same token the
// browser will use, so that a wrong token, UID or permission fails the push
// with the reason rather than sending a picture of the login page.
func (s *Service) checkDashboard(ctx context.Context, spec RenderSpec) error {
	if spec.DashboardUID == "" {
		return nil
	}
	_, err := s.dashboard(ctx, spec.GrafanaURL, spec.DashboardUID)
	var apiErr *grafana.APIError
	switch {
	case err == nil || errors.Is(err, grafana.ErrV2Dashboard):
		// A v2 dashboard exists and the token may see it.
		return nil
	case errors.As(err, &apiErr) && apiErr.Temporary():
		return err
	}
	return delivery.Permanent(err)
}

// secretScrubber replaces every configured secret, so that no token reaches
// a log line, a stored error or health output, whatever a provider or
// library put into an error text: the configuration's secrets never print,
// but a text a library built from a revealed one (a URL with Telegram's
// /bot<token>/, a connection string) would.
func secretScrubber(c config.Config) *strings.Replacer {
	var secrets []string
	for _, v := range c.Secrets() {
		secrets = append(secrets, v.Reveal())
	}
	if _, after, ok := strings.Cut(c.TelegramBotToken.Reveal(), ":"); ok {
		secrets = append(secrets, after)
	}
	if u, err := url.Parse(c.OutboxURL.Reveal()); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok {
			secrets = append(secrets, p, url.QueryEscape(p))
		}
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

// limits are what one message to the provider carries; a provider without
// a sender takes one picture. The senders are set once by Start,
// before the worker starts and before any door calls, and never change:
// reading them takes no lock, which the worker's attempts must not take
// (stopDelivery holds it while it waits for them).
func (s *Service) limits(provider string) chat.Limits {
	snd := s.push.senders[provider]
	if snd == nil {
		return chat.Limits{MaxImages: 1}
	}
	return snd.Limits()
}
