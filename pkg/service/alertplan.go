package service

// Planning a notification's messages: where each alert goes (route), one
// job per alert or group with its text, picture, dedupe and thread keys.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/panelcast/panelcast/pkg/alerttext"
	"github.com/panelcast/panelcast/pkg/chat"
	"github.com/panelcast/panelcast/pkg/config"
	"github.com/panelcast/panelcast/pkg/delivery"
	"github.com/panelcast/panelcast/pkg/notification"
	"github.com/panelcast/panelcast/pkg/quote"
)

// alertPayload is an alert job's stored payload: what prepare renders. Its
// JSON form must stay readable by later versions.
type alertPayload struct {
	GrafanaURL string `json:"grafanaUrl"`
	// Markup says the job's text is in the chat's markup.
	Markup bool `json:"markup,omitempty"`
	// RootText replaces the thread's first message (the firing one) once
	// this resolve is posted.
	RootText string       `json:"rootText,omitempty"`
	Panels   []alertPanel `json:"panels,omitempty"`
}

// alertPanel is one picture of an alert message. The dashboard's variables
// are matched with the alert's labels when it is rendered, so that the
// webhook is answered without asking Grafana anything.
type alertPanel struct {
	DashboardUID string              `json:"dashboardUid"`
	PanelID      int64               `json:"panelId"`
	OrgID        int64               `json:"orgId,omitempty"`
	Vars         map[string][]string `json:"vars,omitempty"`
	Labels       map[string]string   `json:"labels,omitempty"`
	// VarMap is panelcast_vars: dashboard variable -> label.
	VarMap map[string]string `json:"varMap,omitempty"`
	// Expr is the Prometheus expression of an expression_panel picture.
	Expr string `json:"expr,omitempty"`
	// From and To are epoch milliseconds; To 0 means "now". A To past the
	// job's first attempt is drawn to that attempt's time.
	From     int64  `json:"from"`
	To       int64  `json:"to,omitempty"`
	Width    int    `json:"width"`
	Height   int    `json:"height"`
	Theme    string `json:"theme,omitempty"`
	Timezone string `json:"timezone,omitempty"`
}

// planAlerts makes the messages of a notification: one per alert or per
// group, for each address it is routed to. They are ordered alert by
// alert, address by address, so that a storm to several chats keeps all of
// them busy rather than one after the other (each is paced by its own rate
// limit).
func (s *Service) planAlerts(ctx context.Context, ad *alertDelivery, n notification.Notification, routes []route, base *url.URL, caller *Caller) (alertPlan, error) {
	now := time.Now()
	view := s.checkViews(ctx, caller, base.String())
	var perRoute []alertPlan
	for _, r := range routes {
		groups := [][]notification.Alert{r.alerts}
		if s.cfg.AlertGrouping == config.GroupPerAlert {
			groups = groups[:0]
			for _, a := range r.alerts {
				groups = append(groups, []notification.Alert{a})
			}
		}
		var p alertPlan
		for _, alerts := range groups {
			j, msg, err := s.alertJob(ad, n, r.addr, alerts, base, now, view)
			if err != nil {
				return alertPlan{}, err
			}
			p.jobs, p.messages = append(p.jobs, j), append(p.messages, msg)
		}
		perRoute = append(perRoute, p)
	}
	var plan alertPlan
	for i := 0; len(plan.jobs) < countJobs(perRoute); i++ {
		for _, p := range perRoute {
			if i < len(p.jobs) {
				plan.jobs, plan.messages = append(plan.jobs, p.jobs[i]), append(plan.messages, p.messages[i])
			}
		}
	}
	return plan, nil
}

func countJobs(perRoute []alertPlan) int {
	n := 0
	for _, p := range perRoute {
		n += len(p.jobs)
	}
	return n
}

// route is the alerts of a notification that go to one address.
type route struct {
	addr   chat.Address
	alerts []notification.Alert
}

// route sends each alert to ?to=, else to its panelcast_to label, else to
// default_to, keeping the notification's order.
func (s *Service) route(n notification.Notification, to string) ([]route, error) {
	var routes []route
	byAddr := map[string]int{}
	add := func(raw string, a notification.Alert) error {
		addr, err := s.checkAddress(raw)
		if err != nil {
			return fmt.Errorf("%w: alert %s: %v", ErrBadAlerts, alertName(a), strings.TrimPrefix(err.Error(), ErrBadPush.Error()+": "))
		}
		i, ok := byAddr[addr.String()]
		if !ok {
			i = len(routes)
			byAddr[addr.String()] = i
			routes = append(routes, route{addr: addr})
		}
		routes[i].alerts = append(routes[i].alerts, a)
		return nil
	}
	for _, a := range n.Alerts {
		addrs := splitAddresses(to)
		if len(addrs) == 0 {
			addrs = splitAddresses(a.Labels[labelTo])
		}
		if len(addrs) == 0 {
			addrs = s.cfg.DefaultTo
		}
		if len(addrs) == 0 {
			return nil, badAlerts("alert %s has no address: add ?to=slack:%%23ops to the webhook URL, a %s label to the rule, or set default_to", alertName(a), labelTo)
		}
		for _, raw := range addrs {
			if err := add(raw, a); err != nil {
				return nil, err
			}
		}
	}
	return routes, nil
}

func splitAddresses(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func alertName(a notification.Alert) string {
	if name := a.Labels["alertname"]; name != "" {
		return strconv.Quote(quote.Clip(name))
	}
	return a.Fingerprint
}

// alertJob is the outbox job of one message: alerts (one, or a group) to
// one address.
func (s *Service) alertJob(ad *alertDelivery, n notification.Notification, addr chat.Address, alerts []notification.Alert,
	base *url.URL, now time.Time, view viewChecker) (delivery.Job, AlertMessage, error) {
	status := notification.StatusResolved
	for _, a := range alerts {
		if a.Status == notification.StatusFiring {
			status = notification.StatusFiring
		}
	}
	grouped := s.cfg.AlertGrouping == config.GroupPerNotification
	payload := alertPayload{GrafanaURL: base.String()}
	msg := AlertMessage{To: addr.String(), Status: status, Alerts: len(alerts)}
	text := alerttext.Message{Status: status, Grouped: grouped, Now: now}
	if grouped {
		text.CommonLabels = shownLabels(n.CommonLabels, nil)
		text.Truncated = int(n.TruncatedAlerts)
	}
	var noPanel []string
	seen := map[string]bool{}
	for _, a := range alerts {
		p, why := s.alertPanel(ad, a, now)
		if p != nil {
			denied, err := view(p.DashboardUID)
			if err != nil {
				return delivery.Job{}, AlertMessage{}, err
			}
			if denied != "" {
				p, why = nil, denied
			}
		}
		if p != nil {
			key := fmt.Sprintf("%s/%d/%d/%v", p.DashboardUID, p.PanelID, p.OrgID, p.Labels)
			if !seen[key] {
				seen[key] = true
				payload.Panels = append(payload.Panels, *p)
			}
		} else {
			noPanel = append(noPanel, why)
		}
		text.Alerts = append(text.Alerts, s.textAlert(a, n, base, p, grouped))
	}
	msg.Panels = len(payload.Panels)
	if len(payload.Panels) == 0 && len(noPanel) > 0 {
		msg.NoPanel = noPanel[0]
		s.log.Info("alert message goes without a picture", "to", addr.String(), "reason", msg.NoPanel)
	}

	budget := textBudget(addr.Provider, len(payload.Panels) > 0)
	if l := s.limits(addr.Provider).MaxText; l > 0 {
		budget = min(budget, l)
	}
	body, markup, err := ad.templates.Render(addr.Provider, text, budget)
	if err != nil {
		return delivery.Job{}, AlertMessage{}, fmt.Errorf("writing the alert message: %w: fix alert_template", err)
	}
	payload.Markup = markup
	if status == notification.StatusResolved {
		text.Edited = true
		if root, rootMarkup, err := ad.templates.Render(addr.Provider, text, budget); err == nil && rootMarkup == markup {
			payload.RootText = root
		}
	}
	raw, err := json.Marshal(payload)
	if err != nil {
		return delivery.Job{}, AlertMessage{}, err
	}
	j := delivery.Job{Kind: "alert", Address: addr.String(), Text: body, Payload: raw,
		DedupeKey: dedupeKey(addr, alerts, grouped, n.GroupKey)}
	if grouped {
		// One thread per incident of the group, however its alerts come and
		// go: it ends once every alert of it resolved. A truncated list may
		// hide alerts still firing, unless the notification says none is.
		j.ThreadGroup = "group:" + digest([]string{n.GroupKey})
		j.EndsThread = status == notification.StatusResolved && (n.TruncatedAlerts == 0 || n.Status == notification.StatusResolved)
	} else {
		j.ThreadKey = alertThread(alerts[0])
	}
	return j, msg, nil
}

// viewChecker says why the caller may not view a dashboard ("" when it
// may); an error is Grafana not answering, which the sender should retry.
type viewChecker func(uid string) (denied string, err error)

// checkViews asks once per dashboard of a notification whether caller may
// view it; with no caller every dashboard is fine.
func (s *Service) checkViews(ctx context.Context, caller *Caller, base string) viewChecker {
	seen := map[string]string{}
	return func(uid string) (string, error) {
		if caller == nil {
			return "", nil
		}
		if why, ok := seen[uid]; ok {
			return why, nil
		}
		err := s.mayView(ctx, caller, base, uid)
		switch {
		case errors.Is(err, ErrDeliveryUnavailable):
			return "", err
		case err != nil:
			seen[uid] = strings.TrimPrefix(strings.TrimPrefix(err.Error(), ErrForbidden.Error()+": "), ErrBadPush.Error()+": ")
			s.log.WarnContext(ctx, "an alert goes without its picture", "reason", seen[uid])
		default:
			seen[uid] = ""
		}
		return seen[uid], nil
	}
}

// alertPanel is the picture of one alert: the panel it names, or the
// expression panel for a Prometheus alert that names none; nil with the
// reason when it has none.
func (s *Service) alertPanel(ad *alertDelivery, a notification.Alert, now time.Time) (*alertPanel, string) {
	ref, ok, problem := a.Panel()
	expr := ""
	if !ok {
		e, isProm := notification.PromExpr(a.GeneratorURL)
		if !isProm || ad.expression == nil {
			if isProm {
				problem += "; set expression_panel to draw Prometheus alerts that name no panel"
			}
			return nil, problem
		}
		ref, expr = *ad.expression, e
	}
	varMap, err := notification.ParseVarMap(a.Annotations[notification.AnnotationVars])
	if err != nil {
		s.log.Warn("the panelcast_vars annotation is unusable; labels are matched to variables by name", "alert", alertName(a), "error", err)
		varMap = nil
	}
	from, to := alertWindow(a, s.cfg.AlertLookback, now)
	return &alertPanel{DashboardUID: ref.DashboardUID, PanelID: ref.PanelID, OrgID: ref.OrgID, Vars: ref.Vars,
		Labels: a.Labels, VarMap: varMap, Expr: expr, From: from, To: to,
		Width: s.cfg.AlertWidth, Height: s.cfg.AlertHeight, Theme: s.cfg.AlertTheme}, ""
}

// alertWindow is the picture's time range in epoch milliseconds: from
// alert_lookback before the alert started; to now (0) while it fires, and
// to resolvedMargin after its end once resolved, so the resolve shows the
// whole incident. prepareAlert ends it by the job's first attempt, which
// the outbox keeps, so every attempt draws the same picture.
func alertWindow(a notification.Alert, lookback time.Duration, now time.Time) (from, to int64) {
	start := a.StartsAt
	if start.IsZero() || start.After(now) {
		start = now
	}
	from = start.Add(-lookback).UnixMilli()
	if a.Status == notification.StatusResolved && !a.EndsAt.IsZero() {
		to = a.EndsAt.Add(resolvedMargin).UnixMilli()
	}
	return from, to
}

// textAlert is one alert as its message shows it.
func (s *Service) textAlert(a notification.Alert, n notification.Notification, base *url.URL, p *alertPanel, grouped bool) alerttext.Alert {
	t := alerttext.Alert{Status: a.Status, Name: a.Labels["alertname"], Summary: a.Annotations["summary"],
		Description: a.Annotations["description"], StartsAt: a.StartsAt, EndsAt: a.EndsAt,
		SilenceURL: a.SilenceURL, SourceURL: a.GeneratorURL}
	if t.Description == "" {
		t.Description = a.Annotations["message"]
	}
	var common map[string]string
	if grouped {
		common = n.CommonLabels
	}
	t.Labels = shownLabels(a.Labels, common)
	refs := make([]string, 0, len(a.Values))
	for ref := range a.Values {
		refs = append(refs, ref)
	}
	sort.Strings(refs)
	for _, ref := range refs {
		t.Values = append(t.Values, alerttext.Label{Name: ref, Value: strconv.FormatFloat(a.Values[ref], 'g', 6, 64)})
	}
	if len(t.Values) == 0 && a.ValueString != "" {
		t.Values = []alerttext.Label{{Value: a.ValueString}}
	}
	t.PanelURL = a.PanelURL
	if t.PanelURL == "" && p != nil && p.Expr == "" {
		u := *base
		u.Path = strings.TrimRight(base.Path, "/") + "/d/" + p.DashboardUID
		q := url.Values{"viewPanel": {strconv.FormatInt(p.PanelID, 10)}}
		if p.OrgID > 0 {
			q.Set("orgId", strconv.FormatInt(p.OrgID, 10))
		}
		u.RawQuery = q.Encode()
		t.PanelURL = u.String()
	}
	if t.SilenceURL == "" && n.Source == notification.SourceAlertmanager && n.ExternalURL != "" {
		t.SilenceURL = alertmanagerSilence(n.ExternalURL, a.Labels)
	}
	return t
}

// alertmanagerSilence opens Alertmanager's new-silence form for the
// alert's labels.
func alertmanagerSilence(externalURL string, labels map[string]string) string {
	names := make([]string, 0, len(labels))
	for name := range labels {
		names = append(names, name)
	}
	sort.Strings(names)
	matchers := make([]string, 0, len(names))
	for _, name := range names {
		matchers = append(matchers, name+"="+strconv.Quote(labels[name]))
	}
	return strings.TrimRight(externalURL, "/") + "/#/silences/new?filter=" + url.QueryEscape("{"+strings.Join(matchers, ",")+"}")
}

// shownLabels are the labels worth a reader's time: not the alert's name,
// not Grafana's or Panelcast's own, not those shown once for the group.
func shownLabels(labels, common map[string]string) []alerttext.Label {
	names := make([]string, 0, len(labels))
	for name := range labels {
		if name == "alertname" || name == "grafana_folder" || strings.HasPrefix(name, "__") ||
			strings.HasPrefix(name, "panelcast_") {
			continue
		}
		if v, ok := common[name]; ok && v == labels[name] {
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	out := make([]alerttext.Label, 0, len(names))
	for _, name := range names {
		out = append(out, alerttext.Label{Name: name, Value: labels[name]})
	}
	return out
}

// textBudget is how much text a chat takes in one message, in UTF-16 units
// of visible text: Discord's hard limit, Telegram's caption when there is a
// picture (longer text would follow as a second message), and for Slack
// and Mattermost the length their clients show without folding.
func textBudget(provider string, picture bool) int {
	switch provider {
	case "discord":
		return 2000
	case "telegram":
		if picture {
			return 1024
		}
		return 4096
	}
	return 4000
}

// dedupeKey makes a repeated notification (repeat_interval, a retried
// webhook, the other Alertmanager of a cluster) land on the stored job:
// same address, same alerts in the same states since the same starts.
func dedupeKey(addr chat.Address, alerts []notification.Alert, grouped bool, groupKey string) string {
	parts := []string{"alert", addr.String()}
	if grouped {
		parts = append(parts, groupKey)
	}
	keys := make([]string, 0, len(alerts))
	for _, a := range alerts {
		keys = append(keys, a.Fingerprint+"/"+a.Status+"/"+a.StartsAt.UTC().Format(time.RFC3339Nano))
	}
	sort.Strings(keys)
	return "alert:" + digest(append(parts, keys...))
}

// alertThread keys the thread a firing message starts and its resolve
// replies in: the alert's fingerprint and start, so a new incident starts a
// new thread.
func alertThread(a notification.Alert) string {
	return "alert:" + digest([]string{a.Fingerprint, a.StartsAt.UTC().Format(time.RFC3339Nano)})
}

// digest keeps keys short and free of whatever a sender put in labels.
func digest(parts []string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
