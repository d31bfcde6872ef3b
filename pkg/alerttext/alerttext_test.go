package alerttext

import (
	"errors"
	"fmt"
	"html"
	"regexp"
	"strings"

	"flag"
	"github.com/panelcast/panelcast/pkg/chat"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var (
	start = time.Date(2026, 11, 30, 14, 2, 0, 0, time.UTC)
	now   = start.Add(12 * time.Minute)
)

func firing() Alert {
	return Alert{Status: "firing", Name: "HighCPU", Summary: "CPU above 90% on web-1",
		Description: "The 5m average is 95%.", Values: []Label{{"A", "95.2"}, {"C", "1"}},
		Labels: []Label{{"instance", "web-1"}, {"severity", "critical"}}, StartsAt: start,
		PanelURL:   "https://grafana.example.com/d/abc/app?orgId=1&viewPanel=2",
		SilenceURL: "https://grafana.example.com/alerting/silence/new?matcher=alertname%3DHighCPU",
		SourceURL:  "https://grafana.example.com/alerting/grafana/rule1/view"}
}

func resolved() Alert {
	a := firing()
	a.Status, a.EndsAt = "resolved", start.Add(23*time.Minute)
	return a
}

func mustNew(t *testing.T, file string) *Templates {
	t.Helper()
	ts, err := New(file, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// The built-in texts, per chat, are kept in testdata/<case>.<provider>.golden
// (go test -update rewrites them), so a change in wording is a reviewed diff.
func TestGolden(t *testing.T) {
	ts := mustNew(t, "")
	web2 := firing()
	web2.Labels = []Label{{"instance", "web-2"}}
	web2.Summary = "CPU above 90% on web-2"
	cases := map[string]Message{
		"firing":   {Status: "firing", Alerts: []Alert{firing()}, Now: now},
		"resolved": {Status: "resolved", Alerts: []Alert{resolved()}, Now: now},
		"edited":   {Status: "resolved", Alerts: []Alert{resolved()}, Edited: true, Now: now},
		"group": {Status: "firing", Alerts: []Alert{firing(), web2, resolved()}, Grouped: true,
			CommonLabels: []Label{{"job", "node"}}, Now: now},
		"bare": {Status: "firing", Alerts: []Alert{{Status: "firing", Name: "Watchdog", StartsAt: start}}, Now: now},
	}
	for name, m := range cases {
		for _, p := range Providers() {
			t.Run(name+"/"+p, func(t *testing.T) {
				text, markup, err := ts.Render(p, m, 4000)
				if err != nil {
					t.Fatal(err)
				}
				if markup != (p != "inbox") {
					t.Errorf("markup = %v for %s", markup, p)
				}
				golden := filepath.Join("testdata", name+"."+p+".golden")
				if *update {
					if err := os.WriteFile(golden, []byte(text+"\n"), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test -update)", err)
				}
				if text+"\n" != string(want) {
					t.Errorf("text differs from %s:\n%s", golden, text)
				}
			})
		}
	}
}

// hostile is what a rule's author or a label value can contain.
const hostile = `<b>x</b> & "q" *bold* _it_ ~s~ ` + "`c`" + ` [l](http://e) <http://e|x> @everyone @here #1 > \ |`

func TestEscaping(t *testing.T) {
	ts := mustNew(t, "")
	a := firing()
	a.Name, a.Summary, a.Description = hostile, hostile, hostile
	a.Labels = []Label{{"instance", hostile}}
	m := Message{Status: "firing", Alerts: []Alert{a}, Now: now}
	for _, p := range Providers() {
		t.Run(p, func(t *testing.T) {
			text, _, err := ts.Render(p, m, 100000)
			if err != nil {
				t.Fatal(err)
			}
			if err := wellFormed(p, text); err != nil {
				t.Errorf("%v in:\n%s", err, text)
			}
			// Whatever the markup did, a reader sees the values as they were.
			if got := shown(p, text); strings.Count(got, hostile) != 4 {
				t.Errorf("the value shows %d times, want 4 (name, summary, description, label):\n%s", strings.Count(got, hostile), got)
			}
		})
	}
}

// Korean, Japanese and emoji pass through untouched in every markup.
func TestUnicodeUntouched(t *testing.T) {
	ts := mustNew(t, "")
	a := firing()
	a.Name, a.Summary = "요청 지연 시간 🔥", "レイテンシが高い 😱 on 서버-1"
	m := Message{Status: "firing", Alerts: []Alert{a}, Now: now}
	for _, p := range Providers() {
		text, _, err := ts.Render(p, m, 4000)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(text, a.Name) || !strings.Contains(text, a.Summary) {
			t.Errorf("%s: the text lost its UTF-8:\n%s", p, text)
		}
	}
}

// A storm grouped into one message is shortened to the chat's limit,
// keeping its markup whole and saying how many alerts were left out.
func TestFitsBudget(t *testing.T) {
	ts := mustNew(t, "")
	var alerts []Alert
	for i := range 50 {
		a := firing()
		a.Labels = []Label{{"instance", "web-" + strings.Repeat("x", i)}}
		a.Description = strings.Repeat("long description ", 40)
		alerts = append(alerts, a)
	}
	m := Message{Status: "firing", Alerts: alerts, Grouped: true, Now: now}
	for p, budget := range map[string]int{"discord": 2000, "telegram": 1024, "slack": 4000, "mattermost": 4000, "inbox": 4000} {
		t.Run(p, func(t *testing.T) {
			text, markup, err := ts.Render(p, m, budget)
			if err != nil {
				t.Fatal(err)
			}
			if n := chat.UTF16Len(markups[p].visible(text)); n > budget {
				t.Errorf("%d units, budget %d", n, budget)
			}
			if markup != (p != "inbox") {
				t.Errorf("markup = %v: the group should fit by dropping alerts, not by going plain", markup)
			}
			if err := wellFormed(p, text); err != nil {
				t.Error(err)
			}
			if !strings.Contains(shown(p, text), "more") {
				t.Errorf("no \"…and N more\" in:\n%s", text)
			}
		})
	}
	// A long summary is cut; an alert whose name alone is over the limit
	// goes out plain and cut.
	a := firing()
	a.Summary = strings.Repeat("<b>", 3000)
	text, markup, err := ts.Render("telegram", Message{Status: "firing", Alerts: []Alert{a}, Now: now}, 1024)
	if err != nil || !markup || telegramHTML(text) != nil || chat.UTF16Len(markups["telegram"].visible(text)) > 1024 {
		t.Errorf("long summary: markup %v, err %v, text:\n%s", markup, err, text)
	}
	a.Name = strings.Repeat("<b>", 3000)
	text, markup, err = ts.Render("telegram", Message{Status: "firing", Alerts: []Alert{a}, Now: now}, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if markup || chat.UTF16Len(text) > 1024 {
		t.Errorf("markup %v, %d units: want plain text within 1024", markup, chat.UTF16Len(text))
	}
}

func TestOperatorTemplate(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A provider's own template wins for that provider only.
	ts := mustNew(t, write("slack.tmpl", `{{define "slack"}}{{range .Alerts}}{{bold .Status}} {{.Name}} {{link .Panel "see"}}{{end}}{{end}}`))
	m := Message{Status: "firing", Alerts: []Alert{firing()}, Now: now}
	text, _, err := ts.Render("slack", m, 4000)
	if err != nil {
		t.Fatal(err)
	}
	if text != "*firing* HighCPU <https://grafana.example.com/d/abc/app?orgId=1&viewPanel=2|see>" {
		t.Errorf("slack: %q", text)
	}
	if text, _, _ := ts.Render("discord", m, 4000); !strings.HasPrefix(text, "🔴 **FIRING**") {
		t.Errorf("discord should keep the default: %q", text)
	}

	for name, src := range map[string]string{
		"syntax.tmpl":  `{{define "default"}}{{if}}{{end}}`,
		"field.tmpl":   `{{define "default"}}{{.NoSuchField}}{{end}}`,
		"func.tmpl":    `{{define "default"}}{{nosuch .Title}}{{end}}`,
		"missing.tmpl": "",
	} {
		path := write(name, src)
		if name == "missing.tmpl" {
			path = filepath.Join(dir, "absent.tmpl")
		}
		_, err := New(path, time.UTC)
		if err == nil || !strings.Contains(err.Error(), "alert_template") {
			t.Errorf("%s: error %v, want one naming alert_template", name, err)
		}
	}
}

func TestSpan(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second: "0s", 45 * time.Second: "45s", 12 * time.Minute: "12m", 65 * time.Minute: "1h 5m",
		2 * time.Hour: "2h", 51 * time.Hour: "2d 3h", 48 * time.Hour: "2d",
	} {
		if got := span(d); got != want {
			t.Errorf("span(%s) = %q, want %q", d, got, want)
		}
	}
}

// wellFormed checks what would make a chat refuse or mangle a message:
// Telegram's HTML must use its tags, balanced, with every & an entity;
// Slack's text may hold < and > only in links; Markdown must not ping.
func wellFormed(provider, text string) error {
	switch provider {
	case "telegram":
		return telegramHTML(text)
	case "slack":
		rest := slackLink.ReplaceAllString(text, "")
		if strings.ContainsAny(rest, "<>") {
			return fmt.Errorf("raw < or > outside a link: %q", rest)
		}
		if err := entities(rest, "amp", "lt", "gt"); err != nil {
			return err
		}
	case "mattermost", "discord":
		if strings.Contains(text, "@everyone") || strings.Contains(text, "@here") {
			return errors.New("a mention would ping the channel")
		}
	}
	return nil
}

var (
	slackLink = regexp.MustCompile(`<https?://[^|>]*(\|[^>]*)?>`)
	tagRE     = regexp.MustCompile(`^<(/?)(b|i|s|code|a)( href="[^"<>]*")?>`)
)

func telegramHTML(text string) error {
	var open []string
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case '<':
			m := tagRE.FindStringSubmatch(text[i:])
			if m == nil {
				return fmt.Errorf("not a Telegram tag at %q", clip(text[i:], 20))
			}
			if m[1] == "/" {
				if len(open) == 0 || open[len(open)-1] != m[2] {
					return fmt.Errorf("</%s> closes nothing", m[2])
				}
				open = open[:len(open)-1]
			} else {
				open = append(open, m[2])
			}
			i += len(m[0]) - 1
		case '>':
			return errors.New("raw > outside a tag")
		case '&':
			if err := entities(text[i:], "amp", "lt", "gt", "quot"); err != nil {
				return err
			}
		}
	}
	if len(open) > 0 {
		return fmt.Errorf("unclosed %v", open)
	}
	return nil
}

// entities checks that every & in s starts one of the named entities.
func entities(s string, names ...string) error {
	for i := strings.IndexByte(s, '&'); i >= 0; {
		ok := false
		for _, n := range names {
			ok = ok || strings.HasPrefix(s[i:], "&"+n+";")
		}
		if !ok {
			return fmt.Errorf("a raw & at %q", clip(s[i:], 12))
		}
		j := strings.IndexByte(s[i+1:], '&')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return nil
}

// shown is the text a reader sees, markup removed (links keep their label).
func shown(provider, text string) string {
	switch provider {
	case "telegram":
		return html.UnescapeString(stripTags(text))
	case "slack":
		text = slackLink.ReplaceAllStringFunc(text, func(l string) string {
			if _, label, ok := strings.Cut(strings.Trim(l, "<>"), "|"); ok {
				return label
			}
			return l
		})
		return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(text)
	case "mattermost", "discord":
		return markdownUnescape.Replace(text)
	}
	return text
}

var markdownUnescape = strings.NewReplacer(`\\`, `\`, `\*`, "*", `\_`, "_", `\~`, "~", "\\`", "`", `\|`, "|",
	`\[`, "[", `\]`, "]", `\<`, "<", `\>`, ">", `\#`, "#", "@\u200b", "@")

func TestNote(t *testing.T) {
	cases := []struct {
		provider string
		markup   bool
		want     string
	}{
		{"slack", true, "_a &lt;b&gt; &amp; c_"},
		{"mattermost", true, `_a \<b\> & c_`},
		{"telegram", true, "<i>a &lt;b&gt; &amp; c</i>"},
		{"telegram", false, "a <b> & c"},
		{"inbox", true, "a <b> & c"},
		{"unknown", true, "a <b> & c"},
	}
	for _, c := range cases {
		if got := Note(c.provider, c.markup, "a <b> & c"); got != c.want {
			t.Errorf("Note(%s, %v) = %q, want %q", c.provider, c.markup, got, c.want)
		}
	}
}
