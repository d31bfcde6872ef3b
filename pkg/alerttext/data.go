package alerttext

import (
	"fmt"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"
)

// data is what a template sees. Every string in it is escaped for the
// chat already, so {{.Summary}} is always safe to print; URLs are Link
// values that print escaped and feed the link function.
type data struct {
	Status   string // firing or resolved
	Firing   bool
	Edited   bool
	Grouped  bool
	Title    string
	Alerts   []alertData
	Common   []Label
	More     int // alerts left out to fit the chat's limit
	Omitted  int // alerts the sender left out
	Resolved int // resolved alerts in a group
}

type alertData struct {
	Status      string
	Firing      bool
	Name        string
	Summary     string
	Description string
	Values      []Label
	Labels      []Label
	StartsAt    string
	EndsAt      string
	// For is how long the alert has fired, or fired for, e.g. "1h 5m".
	For      string
	Panel    Link
	Silence  Link
	Source   Link
	HasLinks bool
}

// Link is a URL in template data. Printed as it is, it shows the URL as
// escaped text; link turns it into the chat's link syntax.
type Link struct {
	raw string
	mk  markup
}

func (l Link) String() string { return l.mk.text(l.raw) }

// funcs are the template functions bound to one markup. They take escaped
// fragments (data fields, or literal text a template author wrote).
func funcs(mk markup) template.FuncMap {
	return template.FuncMap{
		"bold":   mk.bold,
		"italic": mk.italic,
		"strike": mk.strike,
		"code":   mk.code,
		// esc escapes text a template computed itself.
		"esc": mk.text,
		// link shows label (or the URL) linked to l; an empty URL prints
		// nothing.
		"link": func(l Link, label string) string {
			if l.raw == "" {
				return ""
			}
			return mk.link(l.raw, label)
		},
		"upper": strings.ToUpper,
		// pairs prints labels as "name=value, name=value".
		"pairs": func(ls []Label) string {
			parts := make([]string, 0, len(ls))
			for _, l := range ls {
				if l.Name == "" {
					parts = append(parts, l.Value)
				} else {
					parts = append(parts, l.Name+"="+l.Value)
				}
			}
			return strings.Join(parts, ", ")
		},
	}
}

// placeholderFuncs declare the functions' names for parsing; every
// execution uses a copy with funcs bound instead.
func placeholderFuncs() template.FuncMap { return funcs(plainMarkup{}) }

func (ts *Templates) data(mk markup, m Message, c cut) data {
	d := data{Status: status(m.Status), Edited: m.Edited, Grouped: m.Grouped, Omitted: m.Truncated}
	d.Firing = d.Status == "firing"
	shown := m.Alerts
	if len(shown) > c.alerts {
		shown = shown[:c.alerts]
		d.More = len(m.Alerts) - c.alerts
	}
	for _, a := range m.Alerts {
		if status(a.Status) == "resolved" {
			d.Resolved++
		}
	}
	for _, a := range shown {
		d.Alerts = append(d.Alerts, ts.alert(mk, a, m.Now, c))
	}
	for _, l := range m.CommonLabels {
		d.Common = append(d.Common, Label{mk.text(l.Name), mk.text(l.Value)})
	}
	switch {
	case len(m.Alerts) == 1:
		d.Title = mk.text(m.Alerts[0].Name)
	case commonName(m.Alerts) != "":
		d.Title = mk.text(fmt.Sprintf("%d alerts: %s", len(m.Alerts), commonName(m.Alerts)))
	default:
		d.Title = mk.text(fmt.Sprintf("%d alerts", len(m.Alerts)))
	}
	return d
}

func (ts *Templates) alert(mk markup, a Alert, now time.Time, c cut) alertData {
	out := alertData{
		Status:      status(a.Status),
		Name:        mk.text(a.Name),
		Summary:     mk.text(clip(a.Summary, c.summary)),
		Description: mk.text(clip(a.Description, c.description)),
		Panel:       Link{a.PanelURL, mk},
		Silence:     Link{a.SilenceURL, mk},
		Source:      Link{a.SourceURL, mk},
	}
	out.Firing = out.Status == "firing"
	out.HasLinks = a.PanelURL != "" || a.SourceURL != "" || (out.Firing && a.SilenceURL != "")
	for _, v := range a.Values {
		out.Values = append(out.Values, Label{mk.text(v.Name), mk.text(v.Value)})
	}
	for _, l := range a.Labels {
		out.Labels = append(out.Labels, Label{mk.text(l.Name), mk.text(l.Value)})
	}
	if !a.StartsAt.IsZero() {
		out.StartsAt = mk.text(a.StartsAt.In(ts.loc).Format("2006-01-02 15:04 MST"))
		end := now
		if !a.EndsAt.IsZero() && !out.Firing {
			end = a.EndsAt
			out.EndsAt = mk.text(a.EndsAt.In(ts.loc).Format("2006-01-02 15:04 MST"))
		}
		if !end.IsZero() {
			out.For = mk.text(span(end.Sub(a.StartsAt)))
		}
	}
	return out
}

func status(s string) string {
	if strings.EqualFold(s, "resolved") {
		return "resolved"
	}
	return "firing"
}

// commonName is the alert name every alert shares, "" when they differ.
func commonName(alerts []Alert) string {
	if len(alerts) == 0 {
		return ""
	}
	for _, a := range alerts[1:] {
		if a.Name != alerts[0].Name {
			return ""
		}
	}
	return alerts[0].Name
}

// clip keeps the first n runes of s, with "…" when cut; n < 0 keeps all.
func clip(s string, n int) string {
	if n < 0 || utf8.RuneCountInString(s) <= n {
		return s
	}
	if n == 0 {
		return ""
	}
	r := []rune(s)
	return strings.TrimRight(string(r[:n-1]), " \n\t") + "…"
}

// span is a duration as a person reads it: "45s", "12m", "1h 5m", "2d 3h".
func span(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 24*time.Hour:
		h := int(d.Hours())
		if m := int(d.Minutes()) % 60; m > 0 {
			return fmt.Sprintf("%dh %dm", h, m)
		}
		return fmt.Sprintf("%dh", h)
	}
	days := int(d.Hours()) / 24
	if h := int(d.Hours()) % 24; h > 0 {
		return fmt.Sprintf("%dd %dh", days, h)
	}
	return fmt.Sprintf("%dd", days)
}

// samples exercise every branch of a template when it is checked at start.
func samples() []Message {
	start := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	a := Alert{Status: "firing", Name: "HighCPU", Summary: "CPU above 90% on web-1", Description: "5m average",
		Values: []Label{{"A", "95.2"}}, Labels: []Label{{"instance", "web-1"}}, StartsAt: start,
		PanelURL: "https://grafana.example/d/abc?viewPanel=2", SilenceURL: "https://grafana.example/alerting/silence/new",
		SourceURL: "https://grafana.example/alerting/grafana/x/view"}
	r := a
	r.Status, r.EndsAt = "resolved", start.Add(25*time.Minute)
	now := start.Add(30 * time.Minute)
	return []Message{
		{Status: "firing", Alerts: []Alert{a}, Now: now},
		{Status: "resolved", Alerts: []Alert{r}, Now: now},
		{Status: "resolved", Alerts: []Alert{r}, Edited: true, Now: now},
		{Status: "firing", Alerts: []Alert{a, r}, Grouped: true, CommonLabels: []Label{{"job", "node"}}, Truncated: 2, Now: now},
		{Status: "firing", Alerts: []Alert{{}}, Now: now},
	}
}
