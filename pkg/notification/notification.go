// Package notification reads the alert notifications Panelcast takes:
// the webhook payloads of Grafana's contact point and of Alertmanager, and
// what Panelcast reads from an alert (its panel, panelcast_vars, the
// Prometheus expression of its graph link).
package notification

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/panelcast/panelcast/pkg/quote"
)

// Limits on a webhook body. Grafana and Alertmanager send far less; more is
// a mistake or an attack.
const (
	// MaxBody is the largest body ParseWebhook reads; the door enforces it
	// first with http.MaxBytesReader.
	MaxBody = 4 << 20
	// MaxAlerts is the most alerts one notification may carry.
	MaxAlerts = 1000
	// maxDepth is how deeply JSON may nest; the payloads need 4 levels,
	// the rest is room for fields Grafana adds.
	maxDepth = 32
	// maxFingerprint bounds a sender's fingerprint, which becomes a key.
	maxFingerprint = 64
)

// ErrBadPayload marks a webhook body that is not a Grafana or Alertmanager
// notification, or one that is absurd (400).
var ErrBadPayload = errors.New("bad alert payload")

func badPayload(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrBadPayload, fmt.Sprintf(format, a...))
}

// Sources of a notification.
const (
	SourceGrafana      = "grafana"
	SourceAlertmanager = "alertmanager"
)

// Alert statuses.
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
)

// Notification is one webhook call: a group of alerts that Grafana or
// Alertmanager routed to the same receiver.
type Notification struct {
	// Source is SourceGrafana or SourceAlertmanager, told by the body's shape.
	Source string
	// Version is the payload version as sent: "1" (Grafana), "4"
	// (Alertmanager).
	Version  string
	Receiver string
	// Status is "firing" when any alert fires, else "resolved".
	Status            string
	GroupKey          string
	GroupLabels       map[string]string
	CommonLabels      map[string]string
	CommonAnnotations map[string]string
	// ExternalURL is the sender's own URL (Grafana's root_url,
	// Alertmanager's --web.external-url).
	ExternalURL string
	// TruncatedAlerts counts alerts the sender left out (its max_alerts).
	TruncatedAlerts int64
	// Grafana only: the organisation, and the title and message of its
	// default templates.
	OrgID   int64
	Title   string
	Message string
	Alerts  []Alert
}

// Alert is one alert of a notification.
type Alert struct {
	// Status is "firing" or "resolved".
	Status      string
	Labels      map[string]string
	Annotations map[string]string
	StartsAt    time.Time
	// EndsAt is zero for a firing alert (both send 0001-01-01T00:00:00Z).
	EndsAt       time.Time
	GeneratorURL string
	// Fingerprint identifies the alert's label set: as sent, or else
	// computed as Alertmanager does (see LabelsFingerprint).
	Fingerprint string
	// Grafana's links; empty from Alertmanager.
	SilenceURL, DashboardURL, PanelURL, ImageURL string
	// Values are the query and expression results by refId (Grafana). Values
	// a sender could not express as a JSON number arrive as strings; those
	// that parse ("NaN", "+Inf", "1.5") are kept, others dropped.
	Values map[string]float64
	// ValueString is Grafana's older text form of Values.
	ValueString string
	// OrgID is the alert's organisation: its own orgId or __orgId__
	// annotation, else the notification's; 0 when nobody says.
	OrgID int64
}

// Grafana's reserved annotations, seen when Grafana-managed alerts reach an
// Alertmanager (Grafana's own webhook drops them and sends the fields).
const (
	annotationDashboardUID = "__dashboardUid__"
	annotationPanelID      = "__panelId__"
	annotationOrgID        = "__orgId__"
	annotationValues       = "__values__"
	annotationValueString  = "__value_string__"
)

// wireNotification is the union of both payloads. Pointers and raw values
// tell a field that is absent from one that is empty, which is how the two
// shapes are told apart.
type wireNotification struct {
	Version           string            `json:"version"`
	Receiver          string            `json:"receiver"`
	Status            *string           `json:"status"`
	Alerts            []wireAlert       `json:"alerts"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int64             `json:"truncatedAlerts"`

	// Grafana only.
	OrgID   *int64  `json:"orgId"`
	Title   *string `json:"title"`
	State   *string `json:"state"`
	Message *string `json:"message"`

	// Grafana's legacy (pre-unified) alerting webhook.
	EvalMatches json.RawMessage `json:"evalMatches"`
	RuleID      json.RawMessage `json:"ruleId"`
}

type wireAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     *string           `json:"startsAt"`
	EndsAt       *string           `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`

	// Grafana only.
	SilenceURL   *string         `json:"silenceURL"`
	DashboardURL *string         `json:"dashboardURL"`
	PanelURL     *string         `json:"panelURL"`
	ImageURL     *string         `json:"imageURL"`
	Values       json.RawMessage `json:"values"`
	ValueString  *string         `json:"valueString"`
	OrgID        *int64          `json:"orgId"`
}

func (a *wireAlert) grafanaShaped() bool {
	return a.SilenceURL != nil || a.DashboardURL != nil || a.PanelURL != nil || a.ImageURL != nil ||
		a.Values != nil || a.ValueString != nil || a.OrgID != nil
}

// ParseWebhook reads a webhook body from Grafana's webhook contact point
// ("version": "1") or Alertmanager's webhook ("version": "4"). The two are
// told apart by their shape (Grafana's own fields), the version being only
// a hint. Fields neither sends are ignored. Errors wrap ErrBadPayload and
// say what is wrong.
func ParseWebhook(body []byte) (Notification, error) {
	if len(body) > MaxBody {
		return Notification{}, badPayload("the body is %d bytes; at most %d are taken: lower max_alerts in the webhook's settings", len(body), MaxBody)
	}
	if err := checkShallow(body); err != nil {
		return Notification{}, err
	}
	var w wireNotification
	if err := json.Unmarshal(body, &w); err != nil {
		return Notification{}, decodeError(body, err)
	}
	if w.Alerts == nil {
		if w.EvalMatches != nil || w.RuleID != nil {
			return Notification{}, badPayload("this is Grafana's legacy dashboard alerting webhook, which Panelcast does not read: use Grafana Alerting (unified alerting) with a webhook contact point")
		}
		return Notification{}, badPayload(`"alerts" is missing: send the body of Grafana's webhook contact point or Alertmanager's webhook`)
	}
	n := Notification{
		Source:            SourceAlertmanager,
		Version:           w.Version,
		Receiver:          w.Receiver,
		GroupKey:          w.GroupKey,
		GroupLabels:       w.GroupLabels,
		CommonLabels:      w.CommonLabels,
		CommonAnnotations: w.CommonAnnotations,
		ExternalURL:       w.ExternalURL,
		TruncatedAlerts:   max(w.TruncatedAlerts, 0),
	}
	switch {
	case w.Status == nil:
		return Notification{}, badPayload(`"status" is missing: Grafana and Alertmanager send "firing" or "resolved"`)
	case !validStatus(*w.Status):
		return Notification{}, badPayload(`"status" is %q: Grafana and Alertmanager send "firing" or "resolved"`, quote.Clip(*w.Status))
	case len(w.Alerts) == 0:
		return Notification{}, badPayload(`"alerts" is empty: there is nothing to deliver`)
	case len(w.Alerts) > MaxAlerts:
		return Notification{}, badPayload("the body holds %d alerts; at most %d are taken: set max_alerts (Alertmanager) or Max alerts (Grafana's contact point) to %d or less", len(w.Alerts), MaxAlerts, MaxAlerts)
	}
	n.Status = *w.Status
	grafana := w.OrgID != nil || w.Title != nil || w.State != nil || w.Message != nil
	for i := range w.Alerts {
		grafana = grafana || w.Alerts[i].grafanaShaped()
	}
	if grafana || (w.Version == "1") {
		n.Source = SourceGrafana
	}
	n.OrgID = max(deref(w.OrgID), 0)
	n.Title, n.Message = deref(w.Title), deref(w.Message)
	n.Alerts = make([]Alert, len(w.Alerts))
	for i := range w.Alerts {
		a, err := convertAlert(&w.Alerts[i], n.OrgID)
		if err != nil {
			return Notification{}, badPayload("alerts[%d]: %v", i, err)
		}
		n.Alerts[i] = a
	}
	return n, nil
}

func validStatus(s string) bool { return s == StatusFiring || s == StatusResolved }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func convertAlert(w *wireAlert, orgID int64) (Alert, error) {
	if !validStatus(w.Status) {
		return Alert{}, fmt.Errorf(`"status" is %q, not "firing" or "resolved"`, quote.Clip(w.Status))
	}
	a := Alert{
		Status:       w.Status,
		Labels:       w.Labels,
		Annotations:  w.Annotations,
		GeneratorURL: w.GeneratorURL,
		Fingerprint:  w.Fingerprint,
		SilenceURL:   deref(w.SilenceURL),
		DashboardURL: deref(w.DashboardURL),
		PanelURL:     deref(w.PanelURL),
		ImageURL:     deref(w.ImageURL),
		Values:       parseValues(w.Values),
		ValueString:  deref(w.ValueString),
		OrgID:        orgID,
	}
	if w.StartsAt == nil || *w.StartsAt == "" {
		return Alert{}, errors.New(`"startsAt" is missing`)
	}
	var err error
	if a.StartsAt, err = parseTime("startsAt", *w.StartsAt); err != nil {
		return Alert{}, err
	}
	if a.StartsAt.IsZero() {
		return Alert{}, errors.New(`"startsAt" is the zero time: the sender lost when the alert began`)
	}
	if w.EndsAt != nil && *w.EndsAt != "" {
		if a.EndsAt, err = parseTime("endsAt", *w.EndsAt); err != nil {
			return Alert{}, err
		}
	}
	if a.Fingerprint == "" {
		a.Fingerprint = LabelsFingerprint(a.Labels)
	} else if len(a.Fingerprint) > maxFingerprint || strings.ContainsFunc(a.Fingerprint, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return Alert{}, fmt.Errorf(`"fingerprint" %q is not a short printable identifier (at most %d characters)`, quote.Clip(a.Fingerprint), maxFingerprint)
	}
	// Grafana-managed alerts that reached an Alertmanager carry their
	// values, and their organisation, only in reserved annotations.
	if a.Values == nil {
		if raw, ok := a.Annotations[annotationValues]; ok {
			a.Values = parseValues(json.RawMessage(raw))
		}
	}
	if a.ValueString == "" {
		a.ValueString = a.Annotations[annotationValueString]
	}
	if id, err := strconv.ParseInt(a.Annotations[annotationOrgID], 10, 64); err == nil && id > 0 {
		a.OrgID = id
	}
	if w.OrgID != nil && *w.OrgID > 0 {
		a.OrgID = *w.OrgID
	}
	return a, nil
}

// parseTime reads an RFC 3339 time; Grafana and Alertmanager both send
// 0001-01-01T00:00:00Z for "none", which stays the zero time.
func parseTime(field, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is %q, not an RFC 3339 time such as 2024-05-01T12:00:00Z", field, quote.Clip(s))
	}
	if t.IsZero() {
		return time.Time{}, nil
	}
	return t, nil
}

// parseValues reads Grafana's values: an object of refId to number. It
// never fails: null, another type, or an entry that is no number leaves the
// entry (or all of them) out, because the alert must still get out.
func parseValues(raw json.RawMessage) map[string]float64 {
	var entries map[string]json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &entries) != nil || entries == nil {
		return nil
	}
	values := make(map[string]float64, len(entries))
	for ref, v := range entries {
		// A JSON number, or a string holding one ("NaN" and "+Inf" too);
		// out of range is kept as ±Inf. true, null and objects fail.
		text := string(v)
		var s string
		if json.Unmarshal(v, &s) == nil {
			text = strings.TrimSpace(s)
		}
		if f, err := strconv.ParseFloat(text, 64); err == nil || errors.Is(err, strconv.ErrRange) {
			values[ref] = f
		}
	}
	return values
}

// LabelsFingerprint is Alertmanager's fingerprint of a label set
// (prometheus/common's model.LabelSet.Fingerprint: 64-bit FNV-1a over the
// sorted names and values, each followed by a 0xff byte), as 16 hex digits.
// It stands in for a fingerprint the sender left out.
func LabelsFingerprint(labels map[string]string) string {
	return model.Fingerprint(model.LabelsToSignature(labels)).String()
}

// checkShallow reads the body token by token, before anything is built
// from it, so that junk fails with its place and deep nesting cannot cost
// the decoder's stack or time.
func checkShallow(body []byte) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return badPayload("the body is empty: send the JSON of Grafana's webhook contact point or Alertmanager's webhook")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	depth := 0
	for first := true; ; first = false {
		tok, err := dec.Token()
		if err == io.EOF && depth > 0 {
			err = io.ErrUnexpectedEOF
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return decodeError(body, err)
		}
		d, isDelim := tok.(json.Delim)
		if first && d != '{' {
			return badPayload("the body is %s, not a JSON object: send the JSON of Grafana's webhook contact point or Alertmanager's webhook", jsonKind(tok))
		}
		if !isDelim {
			continue
		}
		switch d {
		case '{', '[':
			depth++
			if depth > maxDepth {
				return badPayload("the JSON nests deeper than %d levels (at %s): no alert payload does", maxDepth, place(body, dec.InputOffset()))
			}
		default:
			depth--
		}
		if depth == 0 {
			// One object is the whole body; Unmarshal reports anything after it.
			return nil
		}
	}
}

func jsonKind(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		return "a JSON array"
	case string:
		return "a JSON string"
	case json.Number:
		return "a JSON number"
	case bool:
		return "a JSON " + strconv.FormatBool(v)
	default:
		return "JSON null"
	}
}

// decodeError turns the JSON package's errors into a sentence with the
// place in the body.
func decodeError(body []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return badPayload("the body is not valid JSON at %s: %v", place(body, syn.Offset), syn)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "a field"
		}
		return badPayload("%s is %s where %s belongs (at %s)", field, article(typ.Value), kindName(typ.Type), place(body, typ.Offset))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badPayload("the body ends in the middle of its JSON: it was cut short")
	}
	return badPayload("the body is not valid JSON: %v", err)
}

func article(jsonType string) string {
	switch jsonType {
	case "object", "array":
		return "an " + jsonType
	case "null", "":
		return "null"
	}
	return "a " + jsonType
}

func kindName(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Uint64, reflect.Int32:
		return "a whole number"
	case reflect.Float64, reflect.Float32:
		return "a number"
	case reflect.Pointer:
		return kindName(t.Elem())
	}
	return "another type"
}

// place is "line L, column C" of a byte offset.
func place(body []byte, offset int64) string {
	offset = min(max(offset, 0), int64(len(body)))
	before := body[:offset]
	line := bytes.Count(before, []byte("\n")) + 1
	col := len(before) - bytes.LastIndexByte(before, '\n')
	return fmt.Sprintf("line %d, column %d", line, col)
}
