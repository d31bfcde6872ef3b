package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/panelcast/panelcast/pkg/alerttext"
	"github.com/panelcast/panelcast/pkg/chat"
	"github.com/panelcast/panelcast/pkg/delivery"
	"github.com/panelcast/panelcast/pkg/grafana"
	"github.com/panelcast/panelcast/pkg/render"
	"github.com/panelcast/panelcast/pkg/secret"
)

// prepareAlert renders the pictures of an alert job: each panel with the
// dashboard variables its alert's labels name. An alert is never lost for
// its picture: what cannot be read or drawn is retried while attempts are
// left, then the message goes with the pictures that could be drawn, or as
// text, with a note saying why.
func (s *Service) prepareAlert(ctx context.Context, j delivery.Job) (chat.Message, error) {
	var p alertPayload
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		return chat.Message{}, delivery.Permanent(fmt.Errorf("the stored alert message %s is unreadable (%v): it cannot be sent", j.ID, err))
	}
	msg := chat.Message{Markup: p.Markup, RootText: p.RootText}
	base, err := url.Parse(p.GrafanaURL)
	if err != nil {
		return chat.Message{}, delivery.Permanent(fmt.Errorf("the stored Grafana URL of alert message %s is unreadable: %v", j.ID, err))
	}
	// The last attempt sends what it has rather than fail the message.
	last := j.Attempts+1 >= s.push.opts.MaxAttempts
	type picture struct {
		url           string
		width, height int
	}
	seen := map[string]bool{}
	var pictures []picture
	var notes []string
	note := func(n string) {
		if !slices.Contains(notes, n) {
			notes = append(notes, n)
		}
	}
	for _, panel := range p.Panels {
		// A resolve sent right after the alert ended is drawn up to the
		// first attempt, not into empty minutes after it; each retry, on
		// any replica, takes the same time from the job.
		if panel.To != 0 && !j.FirstClaimedAt.IsZero() {
			panel.To = min(panel.To, j.FirstClaimedAt.UnixMilli())
		}
		u, why, err := s.alertURL(ctx, base, panel, last)
		if err != nil {
			return chat.Message{}, err
		}
		if why != "" {
			note(why)
			s.log.WarnContext(ctx, "an alert picture is drawn without the dashboard's details, or not at all", "job", j.ID, "reason", why)
		}
		if u != "" && !seen[u] {
			seen[u] = true
			pictures = append(pictures, picture{u, panel.Width, panel.Height})
		}
	}
	maxImages := 1
	provider := ""
	if addr, err := chat.ParseAddress(j.Address); err == nil {
		maxImages = max(s.limits(addr.Provider).MaxImages, 1)
		provider = addr.Provider
	}
	if len(pictures) > maxImages {
		s.log.Warn("the chat takes fewer pictures in one message than the alert group has panels; the rest are left out",
			"job", j.ID, "address", j.Address, "panels", len(pictures), "max", maxImages)
		pictures = pictures[:maxImages]
	}
	for _, pic := range pictures {
		img, err := s.renderShared(ctx, pic.url, pic.width, pic.height)
		if err != nil {
			if ctx.Err() != nil || (!last && !delivery.IsPermanent(err)) {
				return chat.Message{}, err
			}
			note(fmt.Sprintf("the panel could not be drawn (%v)", s.push.scrub(err)))
			s.log.WarnContext(ctx, "an alert goes without its picture", "job", j.ID, "error", s.push.scrub(err))
			continue
		}
		msg.Images = append(msg.Images, chat.Image{Data: img, Filename: fmt.Sprintf("panel-%d.png", len(msg.Images)+1)})
	}
	if len(notes) > 0 {
		msg.Text = j.Text + "\n\n" + alerttext.Note(provider, p.Markup, "Panelcast: "+strings.Join(notes, "; ")+".")
	}
	return msg, nil
}

// alertURL is the solo-panel URL of one alert picture. The dashboard is
// read (through the cache, one request per dashboard in a storm) to check
// the token's access and to know its variables: each alert label named like
// a variable, or mapped to one by panelcast_vars, becomes var-<name>.
//
// A dashboard that cannot be read does not stop the picture: a temporary
// failure is retried unless this is the last attempt; a refusal of the
// token (401, 403, 404) leaves the picture out, since it would show
// Grafana's error page; any other failure draws the panel with the labels
// guessed as variables. why says so, for the message and the log; an error
// is only a failure worth another attempt.
func (s *Service) alertURL(ctx context.Context, base *url.URL, p alertPanel, last bool) (pageURL, why string, err error) {
	d, err := s.dashboard(ctx, base.String(), p.DashboardUID)
	var apiErr *grafana.APIError
	var vars map[string][]string
	switch {
	case err == nil:
		if _, ok := d.Panel(p.PanelID); !ok && len(d.Panels) > 0 {
			return "", fmt.Sprintf("dashboard %s (%s) has no panel %d, so the alert goes without a picture: fix the alert's panel reference", p.DashboardUID, d.Title, p.PanelID), nil
		}
		var unmapped []string
		vars, unmapped = d.AlertVars(p.Labels, p.VarMap)
		if len(unmapped) > 0 {
			s.log.WarnContext(ctx, "panelcast_vars names variables the dashboard does not have", "dashboard", p.DashboardUID, "variables", unmapped)
		}
	case ctx.Err() != nil, !last && (!errors.As(err, &apiErr) || apiErr.Temporary()):
		return "", "", s.push.scrub(err)
	case errors.As(err, &apiErr) && (apiErr.Status == http.StatusUnauthorized || apiErr.Status == http.StatusForbidden || apiErr.Status == http.StatusNotFound):
		return "", "no picture, because " + s.push.scrub(err).Error(), nil
	default:
		why = "the picture is drawn with the alert's labels guessed as dashboard variables, because " + s.push.scrub(err).Error()
		vars = grafana.GuessVars(p.Labels, p.VarMap)
	}
	for name, v := range p.Vars {
		if _, set := vars[name]; !set {
			vars[name] = v
		}
	}
	if p.Expr != "" {
		vars["expr"] = []string{p.Expr}
	}
	to := "now"
	if p.To != 0 {
		to = strconv.FormatInt(p.To, 10)
	}
	u, err := grafana.SoloURL(base, grafana.SoloPanel{DashboardUID: p.DashboardUID, PanelID: p.PanelID, OrgID: p.OrgID,
		From: strconv.FormatInt(p.From, 10), To: to, Vars: vars, Theme: p.Theme, Timezone: p.Timezone})
	if err != nil {
		return "", fmt.Sprintf("the alert's panel cannot be drawn: %v", err), nil
	}
	return u.String(), why, nil
}

// renderShared renders a panel for an alert message, once for every message
// that needs the same picture: the same URL within the same minute (a
// picture that ends "now") or at all (one with a fixed end).
func (s *Service) renderShared(ctx context.Context, pageURL string, width, height int) ([]byte, error) {
	key := pageURL
	if u, err := url.Parse(pageURL); err == nil && u.Query().Get("to") == "now" {
		key += "|" + time.Now().Truncate(time.Minute).Format(time.RFC3339)
	}
	img, rendered, err := s.push.renders.do(ctx, key, func(ctx context.Context) ([]byte, error) {
		return s.renderForChat(ctx, "alert", pageURL, width, height, "")
	})
	if err == nil && !rendered {
		s.metrics.renderShared()
	}
	return img, err
}

// renderForChat renders a page of Grafana as its service account: with
// Panelcast's browser, or through Grafana's /render.
func (s *Service) renderForChat(ctx context.Context, kind, pageURL string, width, height int, tz string) ([]byte, error) {
	g := GrafanaRender{URL: pageURL, Width: width, Height: height, Timezone: tz, Encoding: string(render.PNG)}
	start := time.Now()
	req, err := s.Request(g)
	var img []byte
	switch {
	case err == nil && s.throughGrafana:
		img, err = s.renderThroughGrafana(ctx, req)
	case err == nil:
		if s.cfg.GrafanaToken.IsSet() {
			req.OriginHeaders = map[string]secret.Value{"Authorization": secret.New("Bearer " + s.cfg.GrafanaToken.Reveal())}
		}
		img, err = s.renderer.Render(ctx, req)
	}
	s.logRender(ctx, kind, KindPNG, g, time.Since(start), len(img), err)
	if errors.Is(err, render.ErrBadRequest) || errors.Is(err, render.ErrNoChromium) {
		err = delivery.Permanent(err)
	}
	return img, s.push.scrub(err)
}

// renderThroughGrafana asks Grafana's /render for req's page, within the
// request's timeout; a refusal (not Grafana's own failure) is permanent.
func (s *Service) renderThroughGrafana(ctx context.Context, req render.Request) ([]byte, error) {
	base := s.cfg.GrafanaURL
	if base == "" {
		if u, err := url.Parse(req.URL); err == nil {
			base = u.Scheme + "://" + u.Host
		}
	}
	ctx, cancel := context.WithTimeout(ctx, req.Timeout)
	defer cancel()
	img, err := s.grafanaClient(strings.TrimRight(base, "/"), false).Render(ctx, req.URL, req.Width, req.Height, req.Timezone, req.Timeout)
	var apiErr *grafana.APIError
	if errors.As(err, &apiErr) && !apiErr.Temporary() {
		err = delivery.Permanent(err)
	}
	return img, err
}

// sharedRenders runs one render per key at a time and keeps its picture for
// a short while, so an alert storm renders each distinct panel once.
type sharedRenders struct {
	flight singleflight.Group
	ttl    time.Duration

	mu   sync.Mutex
	done map[string]keptRender
}

type keptRender struct {
	img []byte
	at  time.Time
}

// maxKeptRenders bounds the pictures kept (about 100 KB each).
const maxKeptRenders = 64

func newSharedRenders(ttl time.Duration) *sharedRenders {
	return &sharedRenders{ttl: ttl, done: map[string]keptRender{}}
}

// do returns key's picture: a kept one, the one being rendered, or a new
// one from fn. rendered says fn ran for this call. A failed render is not
// kept, so the next attempt renders again.
func (r *sharedRenders) do(ctx context.Context, key string, fn func(context.Context) ([]byte, error)) (img []byte, rendered bool, err error) {
	r.mu.Lock()
	if k, ok := r.done[key]; ok && time.Since(k.at) < r.ttl {
		r.mu.Unlock()
		return k.img, false, nil
	}
	r.mu.Unlock()
	// Only the call that starts the render runs its function; the others
	// wait for its result. The render outlives a caller that gives up, for
	// those still waiting; its own timeout bounds it.
	var ran atomic.Bool
	ch := r.flight.DoChan(key, func() (any, error) {
		ran.Store(true)
		img, err := fn(context.WithoutCancel(ctx))
		if err == nil {
			r.keep(key, img)
		}
		return img, err
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, ran.Load(), res.Err
		}
		return res.Val.([]byte), ran.Load(), nil
	case <-ctx.Done():
		return nil, ran.Load(), ctx.Err()
	}
}

func (r *sharedRenders) keep(key string, img []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	for k, v := range r.done {
		if now.Sub(v.at) >= r.ttl {
			delete(r.done, k)
		}
	}
	if len(r.done) >= maxKeptRenders {
		keys := make([]string, 0, len(r.done))
		for k := range r.done {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return r.done[keys[i]].at.Before(r.done[keys[j]].at) })
		for _, k := range keys[:len(keys)-maxKeptRenders+1] {
			delete(r.done, k)
		}
	}
	r.done[key] = keptRender{img: img, at: now}
}
