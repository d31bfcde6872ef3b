// Package alerttext writes the text of alert messages: Go text/templates
// that print one alert or one notification group in each chat's markup
// (Slack mrkdwn, Mattermost and Discord Markdown, Telegram HTML), with
// every outside value escaped before a template sees it, and the result cut
// to fit the chat's limit without breaking its markup.
//
// The built-in template "default" serves every chat; a file named by the
// alert_template setting may redefine it, or define a template named after
// one provider ("slack", "mattermost", "discord", "telegram", "inbox") that
// takes precedence for that provider.
package alerttext

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/panelcast/panelcast/pkg/chat"
)

//go:embed default.tmpl
var defaultTemplate string

// Label is a name and a value, as shown.
type Label struct{ Name, Value string }

// Alert is one alert as its message shows it; strings are raw, as they came
// in the notification.
type Alert struct {
	// Status is "firing" or "resolved".
	Status      string
	Name        string
	Summary     string
	Description string
	// Values are Grafana's evaluated values (refId and value), or its
	// valueString as a single value with an empty name.
	Values   []Label
	Labels   []Label
	StartsAt time.Time
	// EndsAt is when a resolved alert ended; zero while firing.
	EndsAt time.Time
	// Links; empty ones are left out.
	PanelURL, SilenceURL, SourceURL string
}

// Message is what one chat message says.
type Message struct {
	// Status is the message's: "firing" while any of its alerts fires.
	Status string
	Alerts []Alert
	// Grouped messages carry a whole notification group; CommonLabels are
	// shown once above its alerts.
	Grouped      bool
	CommonLabels []Label
	// Edited asks for the text that replaces a firing message once its
	// alert resolved.
	Edited bool
	// Truncated counts alerts the sender itself left out (Alertmanager's
	// truncatedAlerts).
	Truncated int
	// Now is when the message is written, for "firing for 12m".
	Now time.Time
}

// Templates are the parsed templates, ready for every provider.
type Templates struct {
	// byMarkup holds one copy of the templates per markup, with that
	// markup's functions bound.
	byMarkup map[markup]*template.Template
	loc      *time.Location
}

// New parses the built-in templates and, when file is set, the operator's
// templates on top, then tries them on sample data for every provider, so a
// broken template is refused at start rather than at the first alert. loc
// is the time zone times are shown in (nil: UTC).
func New(file string, loc *time.Location) (*Templates, error) {
	if loc == nil {
		loc = time.UTC
	}
	t := template.New("alerts").Option("missingkey=error").Funcs(placeholderFuncs())
	t, err := t.Parse(defaultTemplate)
	if err != nil {
		return nil, fmt.Errorf("built-in alert template: %w", err)
	}
	if file != "" {
		src, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("alert_template: %w: point it at a readable template file", err)
		}
		if _, err := t.Parse(string(src)); err != nil {
			return nil, fmt.Errorf("alert_template %s: %w: fix the template (Go text/template syntax)", file, err)
		}
	}
	ts := &Templates{byMarkup: map[markup]*template.Template{}, loc: loc}
	for _, mk := range markups {
		c, err := t.Clone()
		if err != nil {
			return nil, err
		}
		ts.byMarkup[mk] = c.Funcs(funcs(mk))
	}
	for _, provider := range Providers() {
		for _, m := range samples() {
			if _, _, err := ts.Render(provider, m, 1<<30); err != nil {
				if file != "" {
					return nil, fmt.Errorf("alert_template %s: %w", file, err)
				}
				return nil, fmt.Errorf("built-in alert template: %w", err)
			}
		}
	}
	return ts, nil
}

// Providers are the chats templates are written for.
func Providers() []string {
	names := make([]string, 0, len(markups))
	for name := range markups {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Render writes m for provider within budget (the chat's limit, counted as
// the chat counts: UTF-16 units of the visible text). It reports whether the
// text is in the chat's markup; a text that could not be made to fit
// otherwise is returned plain.
//
// What does not fit is shortened in steps: descriptions, then summaries,
// then alerts from the end of a group ("and 3 more"), and as a last resort
// the plain text is cut.
func (ts *Templates) Render(provider string, m Message, budget int) (text string, isMarkup bool, err error) {
	mk, ok := markups[provider]
	if !ok {
		return "", false, fmt.Errorf("no alert template for chat %q", provider)
	}
	name := provider
	if ts.byMarkup[mk].Lookup(name) == nil {
		name = "default"
	}
	steps := cuts(len(m.Alerts))
	for _, c := range steps {
		text, err := ts.execute(name, mk, m, c)
		if err != nil {
			return "", false, err
		}
		if chat.UTF16Len(mk.visible(text)) <= budget {
			return text, mk != markup(plainMarkup{}), nil
		}
	}
	// Not even the shortest form fits: plain text, cut.
	plain, err := ts.execute(name, plainMarkup{}, m, steps[len(steps)-1])
	if err != nil {
		return "", false, err
	}
	return chat.Truncate(plain, budget), false, nil
}

// cut is how much of a message is kept.
type cut struct {
	description, summary int // runes kept of each; -1 keeps all
	alerts               int // alerts shown
}

// cuts are the shortening steps, longest first.
func cuts(alerts int) []cut {
	out := []cut{{-1, -1, alerts}, {300, -1, alerts}, {0, 200, alerts}}
	for n := alerts - 1; n >= 1; n = n * 2 / 3 {
		out = append(out, cut{0, 120, n})
		if n == 1 {
			break
		}
	}
	return append(out, cut{0, 80, min(alerts, 1)})
}

func (ts *Templates) execute(name string, mk markup, m Message, c cut) (string, error) {
	var b strings.Builder
	if err := ts.byMarkup[mk].ExecuteTemplate(&b, name, ts.data(mk, m, c)); err != nil {
		var ee template.ExecError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("alert template %q: %v", name, ee.Err)
		}
		return "", fmt.Errorf("alert template %q: %w", name, err)
	}
	return strings.TrimSpace(collapseBlankLines(b.String())), nil
}

// collapseBlankLines keeps templates readable: sections that print nothing
// leave no run of empty lines.
func collapseBlankLines(s string) string {
	lines := strings.Split(s, "\n")
	out := lines[:0]
	blank := false
	for _, l := range lines {
		l = strings.TrimRight(l, " \t")
		if l == "" {
			if blank {
				continue
			}
			blank = true
		} else {
			blank = false
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}
