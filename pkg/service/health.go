package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/panelcast/panelcast/pkg/buildinfo"
	"github.com/panelcast/panelcast/pkg/delivery"
	"github.com/panelcast/panelcast/pkg/render"
)

// OutboxHealth says where pushes are stored and how many wait. With
// PostgreSQL the counts are every replica's.
type OutboxHealth struct {
	Store string `json:"store"`          // "sqlite" or "postgres"
	Path  string `json:"path,omitempty"` // the SQLite file
	// URL is outbox_url without its password.
	URL     string `json:"url,omitempty"`
	Queued  int    `json:"queued"`
	Sending int    `json:"sending"`
	// OldestPendingSeconds is the age of the oldest queued or sending job.
	OldestPendingSeconds float64 `json:"oldestPendingSeconds"`
	Error                string  `json:"error,omitempty"`
}

// ChatHealth is one chat provider's credential check.
type ChatHealth struct {
	Provider string `json:"provider"`
	OK       bool   `json:"ok"`
	Error    string `json:"error,omitempty"`
}

// chatCheckTimeout bounds each provider's credential check.
const chatCheckTimeout = 10 * time.Second

// checks are the slow parts of health: fontconfig, the probe render and
// every chat's credential check (a call to the chat's API).
type checks struct {
	at          time.Time
	fonts       render.Fonts
	probed      bool // a browser was there to probe
	idle        bool // the browser was stopped for being idle, so not probed
	version     string
	probeErr    error
	probeMillis int64
	chat        map[string]error
}

// checkCache keeps the last checks for RecentHealth and runs one at a time.
type checkCache struct {
	mu     sync.Mutex
	last   *checks
	flight singleflight.Group
}

// Health checks the browser with a probe render and, while chat delivery
// runs, the outbox and every chat provider's credentials. It is OK only
// when all of them are.
func (s *Service) Health(ctx context.Context) Health {
	c := s.runChecks(ctx)
	s.keepChecks(c)
	return s.health(ctx, c)
}

// RecentHealth is Health with its slow checks (the probe render, fonts,
// each chat's credentials) taken from a run at most maxAge old, and run
// once for callers that ask at the same time: a console polls health, and
// each chat's check counts against its API's rate limit. The outbox and
// the counters are always current.
func (s *Service) RecentHealth(ctx context.Context, maxAge time.Duration) Health {
	cc := &s.checks
	cc.mu.Lock()
	last := cc.last
	cc.mu.Unlock()
	if last != nil && time.Since(last.at) < maxAge && s.checkedEverySender(*last) {
		return s.health(ctx, *last)
	}
	ch := cc.flight.DoChan("checks", func() (any, error) {
		// The run outlives a caller that gives up, for the others; each
		// check has its own timeout.
		c := s.runChecks(context.WithoutCancel(ctx))
		s.keepChecks(c)
		return c, nil
	})
	select {
	case res := <-ch:
		return s.health(ctx, res.Val.(checks))
	case <-ctx.Done():
		h := s.health(ctx, checks{at: time.Now(), fonts: render.Fonts{Message: "fonts: not checked"}})
		h.OK, h.Message = false, "health check cut short: "+ctx.Err().Error()
		return h
	}
}

// checkedEverySender says c holds a check of each chat delivery has now
// (it may predate Start).
func (s *Service) checkedEverySender(c checks) bool {
	s.push.mu.Lock()
	defer s.push.mu.Unlock()
	for name := range s.push.senders {
		if _, ok := c.chat[name]; !ok && name != inboxProvider {
			return false
		}
	}
	return true
}

func (s *Service) keepChecks(c checks) {
	s.checks.mu.Lock()
	defer s.checks.mu.Unlock()
	if s.checks.last == nil || c.at.After(s.checks.last.at) {
		s.checks.last = &c
	}
}

// runChecks runs the slow checks, the chats' in parallel with the probe.
func (s *Service) runChecks(ctx context.Context) checks {
	c := checks{chat: map[string]error{}}
	st := &s.push
	st.mu.Lock()
	senders := make(map[string]func(context.Context) error, len(st.senders))
	for name, snd := range st.senders {
		if name != inboxProvider {
			senders[name] = snd.Check
		}
	}
	st.mu.Unlock()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, check := range senders {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, chatCheckTimeout)
			defer cancel()
			err := check(cctx)
			mu.Lock()
			c.chat[name] = err
			mu.Unlock()
		})
	}
	switch {
	case s.throughGrafana:
		start := time.Now()
		c.probed = true
		c.version, c.probeErr = s.grafanaRenderer(ctx)
		c.probeMillis = time.Since(start).Milliseconds()
	case s.RendererStats().IdleStopped:
		// A probe would start the browser that browser_idle_timeout
		// stopped, and a health check every minute would keep it warm.
		c.fonts = render.CheckFonts(ctx)
		c.idle = true
	case s.RendererStats().ChromiumPath != "":
		c.fonts = render.CheckFonts(ctx)
		start := time.Now()
		c.probed = true
		c.version, c.probeErr = s.renderer.Probe(ctx)
		c.probeMillis = time.Since(start).Milliseconds()
	default:
		c.fonts = render.CheckFonts(ctx)
	}
	wg.Wait()
	c.at = time.Now()
	return c
}

// health puts the checks together with what is cheap to read now: the
// renderer's counters, the outbox, the alert counts.
func (s *Service) health(ctx context.Context, c checks) Health {
	h := s.browserHealth(c)
	h.DemoPanel = s.demoPanel
	d := s.deliveryState(c)
	if !d.started {
		return h
	}
	var problems []string
	if h.Outbox = d.outboxHealth(ctx); h.Outbox != nil && h.Outbox.Error != "" {
		problems = append(problems, "outbox: "+h.Outbox.Error)
	}
	good := []string{inboxProvider}
	h.Chat = []ChatHealth{}
	for _, name := range sortedKeys(d.results) {
		ch := ChatHealth{Provider: name, OK: d.results[name] == nil}
		if ch.OK {
			good = append(good, name)
		} else {
			// The senders' errors are scrubbed of secrets already.
			ch.Error = d.results[name].Error()
			problems = append(problems, ch.Error)
		}
		h.Chat = append(h.Chat, ch)
	}
	h.Alerts = s.AlertsHealth()
	if h.Alerts != nil && h.Alerts.Error != "" {
		problems = append(problems, "alerts: "+h.Alerts.Error)
	}
	if len(problems) > 0 {
		h.OK = false
		h.Message += "; " + strings.Join(problems, "; ")
		return h
	}
	if h.Outbox != nil {
		h.Message += fmt.Sprintf("; chat: %s ok, %d messages waiting", strings.Join(good, ", "), h.Outbox.Queued+h.Outbox.Sending)
	}
	if a := h.Alerts; a != nil && a.Received > 0 {
		h.Message += fmt.Sprintf("; alerts: %d received, %d messages posted, %d failed", a.Received, a.Delivered, a.Failed)
	}
	return h
}

// deliveryNow is chat delivery's state, read at once under its lock, with
// each chat's result from the checks c.
type deliveryNow struct {
	started        bool
	kind, location string
	outbox         delivery.Store
	openErr        error
	results        map[string]error
}

func (s *Service) deliveryState(c checks) deliveryNow {
	st := &s.push
	st.mu.Lock()
	defer st.mu.Unlock()
	d := deliveryNow{started: st.started, kind: st.kind, location: st.location, outbox: st.outbox, openErr: st.openErr,
		results: make(map[string]error, len(st.senders)+len(st.broken))}
	for name := range st.senders {
		if name != inboxProvider {
			err, checked := c.chat[name]
			if !checked {
				err = fmt.Errorf("%s: not checked yet", name)
			}
			d.results[name] = err
		}
	}
	for name, err := range st.broken {
		d.results[name] = err
	}
	return d
}

// outboxHealth is the outbox's part, nil when delivery opens none.
func (d deliveryNow) outboxHealth(ctx context.Context) *OutboxHealth {
	if d.kind == "" && d.openErr == nil {
		return nil
	}
	o := &OutboxHealth{Store: d.kind}
	if d.kind == "postgres" {
		o.URL = d.location
	} else {
		o.Path = d.location
	}
	switch {
	case d.openErr != nil:
		o.Error = d.openErr.Error()
	case d.outbox == nil:
		o.Error = "closed: Panelcast is shutting down"
	default:
		depth, err := d.outbox.Depth(ctx)
		o.Queued, o.Sending = depth.Queued, depth.Sending
		if !depth.OldestPending.IsZero() {
			o.OldestPendingSeconds = time.Since(depth.OldestPending).Seconds()
		}
		if err != nil {
			o.Error = err.Error()
		}
	}
	return o
}

// grafanaRenderer is Grafana's renderer as /render would use it: its
// version, or why there is none.
func (s *Service) grafanaRenderer(ctx context.Context) (string, error) {
	if s.cfg.GrafanaURL == "" {
		return "", errors.New("the address of Grafana is unknown: set grafana_url")
	}
	available, version, err := s.grafanaClient(strings.TrimRight(s.cfg.GrafanaURL, "/"), false).RendererStatus(ctx)
	switch {
	case err != nil:
		return "", s.push.scrub(err)
	case !available:
		return "", errors.New("there is no renderer in Grafana, so its /render cannot draw panels: install the Panelcast or grafana-image-renderer plugin, or set [rendering] server_url")
	case version == "":
		version = "a renderer"
	}
	return version, nil
}

// browserHealth is the browser's part: found, its version and the probe;
// or Grafana's renderer, for a service that renders through /render.
func (s *Service) browserHealth(c checks) Health {
	h := Health{Version: buildinfo.Version, TLSMode: string(s.cfg.TLSMode), Fonts: c.fonts, CheckedAt: c.at}
	if s.throughGrafana {
		h.Renderer = &GrafanaRendererHealth{URL: strings.TrimRight(s.cfg.GrafanaURL, "/") + "/render", Version: c.version}
		if c.probeErr != nil {
			h.Renderer.Error = c.probeErr.Error()
			h.Message = "rendering through Grafana's /render: " + c.probeErr.Error()
			return h
		}
		h.OK, h.ProbeMillis = true, c.probeMillis
		h.Message = fmt.Sprintf("Panelcast %s: renders through Grafana's /render (%s)", buildinfo.Version, c.version)
		return h
	}
	st := s.renderer.Stats()
	h.ChromiumPath, h.BrowserVersion = st.ChromiumPath, st.BrowserVersion
	if st.Sandbox != "" {
		// The renderer says "on: <why>" or "off: <why>".
		state, why, _ := strings.Cut(st.Sandbox, ": ")
		h.Sandbox = &SandboxHealth{Enabled: state == "on", Reason: why}
	}
	h.InFlight, h.Queued, h.Renders, h.Restarts = st.InFlight, st.Queued, st.Renders, st.Restarts
	h.BrowserRunning = st.BrowserRunning
	if c.idle {
		h.OK = true
		h.Message = fmt.Sprintf("Panelcast %s: the browser is stopped after %s without a render (browser_idle_timeout); the next render starts it", buildinfo.Version, st.IdleTimeout)
		if st.BrowserRunning {
			h.Message = fmt.Sprintf("Panelcast %s: the browser started again after an idle stop (not probed since)", buildinfo.Version)
		}
		return h
	}
	if !c.probed {
		h.Message = render.ErrNoChromium.Error()
		if s.startErr != nil {
			h.Message = s.startErr.Error()
		}
		return h
	}
	h.ProbeMillis = c.probeMillis
	if c.probeErr != nil {
		h.Message = "the browser failed a test render: " + c.probeErr.Error()
		return h
	}
	h.OK, h.BrowserVersion = true, c.version
	h.Message = fmt.Sprintf("Panelcast %s: %s renders (probe %d ms)", buildinfo.Version, c.version, h.ProbeMillis)
	return h
}
