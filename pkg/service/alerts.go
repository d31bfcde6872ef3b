package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/panelcast/panelcast/pkg/alerttext"
	"github.com/panelcast/panelcast/pkg/config"
	"github.com/panelcast/panelcast/pkg/grafana"
	"github.com/panelcast/panelcast/pkg/notification"
)

// ErrBadAlerts marks a webhook body that is no alert notification, or one
// that cannot be delivered as configured (400).
var ErrBadAlerts = errors.New("bad alert notification")

func badAlerts(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrBadAlerts, fmt.Sprintf(format, a...))
}

// Labels and annotations Panelcast reads from alerts, besides the panel's
// (see pkg/grafana).
const (
	// labelTo routes an alert: comma-separated addresses.
	labelTo = "panelcast_to"
	// resolvedMargin is how long after an alert ended its resolve's picture
	// keeps going, so it shows the recovery (but not past the resolve's
	// first attempt, so one sent at once ends with data, not a blank).
	resolvedMargin = 5 * time.Minute
)

// AlertsResult is what a webhook call queued.
type AlertsResult struct {
	Source   string         `json:"source"`
	Alerts   int            `json:"alerts"`
	Messages []AlertMessage `json:"messages"`
}

// AlertMessage is one chat message a webhook call queued.
type AlertMessage struct {
	ID     string `json:"id"`
	To     string `json:"to"`
	Status string `json:"status"`
	Alerts int    `json:"alerts"`
	// Panels is how many pictures the message will carry.
	Panels int `json:"panels"`
	// Duplicate says the message was queued before (a repeated
	// notification, or another Alertmanager of the cluster): it is not
	// sent again.
	Duplicate bool   `json:"duplicate,omitempty"`
	State     string `json:"state"`
	// NoPanel says why the message is text only, when it is.
	NoPanel string `json:"noPanel,omitempty"`
}

// alertDelivery is what HandleAlerts needs beyond the configuration,
// prepared once by Start.
type alertDelivery struct {
	templates  *alerttext.Templates
	expression *grafana.PanelRef
}

func newAlertDelivery(cfg config.Config) (*alertDelivery, error) {
	loc := time.UTC
	if cfg.Timezone != "" {
		l, err := time.LoadLocation(cfg.Timezone)
		if err != nil {
			return nil, fmt.Errorf("timezone: %w", err)
		}
		loc = l
	}
	t, err := alerttext.New(cfg.AlertTemplate, loc)
	if err != nil {
		return nil, err
	}
	d := &alertDelivery{templates: t}
	if cfg.ExpressionPanel != "" {
		ref, err := grafana.ParsePanelRef(cfg.ExpressionPanel)
		if err != nil {
			return nil, fmt.Errorf("expression_panel: %w", err)
		}
		d.expression = &ref
	}
	return d, nil
}

// HandleAlerts turns a webhook body from Grafana's webhook contact point or
// from Alertmanager into chat messages and stores them in the outbox; the
// worker renders and sends them. to is the webhook URL's ?to= (addresses,
// comma-separated), doorURL Grafana's address as the door knows it.
//
// Nothing is stored unless every message can be: a body that is no
// notification, or an alert with no address, is refused whole (ErrBadAlerts)
// so the sender reports it instead of losing part of it, and the messages
// are stored in one transaction.
//
// caller, when the door names one (plugin mode: the account of Grafana's
// contact point, or whoever posts to the resource), must be able to view
// each picture's dashboard; a picture it may not view is left out and its
// message goes as text, saying why. The alert's text came from the caller,
// so only the picture needs the permission, and an alert is not lost for
// a folder permission.
func (s *Service) HandleAlerts(ctx context.Context, body []byte, to string, doorURL string, caller *Caller) (AlertsResult, error) {
	n, err := notification.ParseWebhook(body)
	if err != nil {
		return AlertsResult{}, badAlerts("%s", strings.TrimPrefix(err.Error(), notification.ErrBadPayload.Error()+": "))
	}
	for _, a := range n.Alerts {
		s.metrics.alertReceived(n.Source, a.Status)
	}
	s.alerts.notified(len(n.Alerts))
	// What the sender can fix is answered 400 first, whatever the state of
	// delivery.
	base, err := s.grafanaBase(doorURL)
	if err != nil {
		return AlertsResult{}, fmt.Errorf("%w: %v", ErrBadAlerts, err)
	}
	routes, err := s.route(n, to)
	if err != nil {
		return AlertsResult{}, err
	}
	ad, err := s.push.alertsReady()
	if err != nil {
		return AlertsResult{}, err
	}
	plan, err := s.planAlerts(ctx, ad, n, routes, base, caller)
	if err != nil {
		return AlertsResult{}, err
	}
	out, err := s.enqueueAlerts(ctx, plan)
	if err != nil {
		return AlertsResult{}, err
	}
	s.log.InfoContext(ctx, "alerts queued", "source", n.Source, "status", n.Status, "alerts", len(n.Alerts),
		"messages", len(out), "duplicates", countDuplicates(out))
	return AlertsResult{Source: n.Source, Alerts: len(n.Alerts), Messages: out}, nil
}
