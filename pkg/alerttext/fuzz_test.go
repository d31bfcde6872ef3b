package alerttext

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/panelcast/panelcast/pkg/chat"
)

// Whatever the alert says, every chat gets a text within its limit that it
// will accept: balanced Telegram HTML, Slack with < and > only in links, no
// Markdown mention; and a value that fits shows as it was sent.
func FuzzRender(f *testing.F) {
	f.Add("HighCPU", "CPU above 90%", "desc", "web-1", false, uint8(1))
	f.Add(hostile, hostile, hostile, hostile, true, uint8(3))
	f.Add("요청 지연 😱", "<a href=\"x\">", "&amp;", "@everyone", true, uint8(50))
	ts, err := New("", time.UTC)
	if err != nil {
		f.Fatal(err)
	}
	budgets := map[string]int{"slack": 4000, "mattermost": 4000, "discord": 2000, "telegram": 1024, "inbox": 4000}
	f.Fuzz(func(t *testing.T, name, summary, description, value string, grouped bool, n uint8) {
		if !utf8.ValidString(name + summary + description + value) {
			return // the webhook parser hands over valid UTF-8 only
		}
		start := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
		a := Alert{Status: "firing", Name: name, Summary: summary, Description: description,
			Labels: []Label{{"instance", value}}, Values: []Label{{"A", value}}, StartsAt: start,
			PanelURL: "https://g.example/d/x?a=1&b=2", SilenceURL: "https://g.example/s?m=a%3Db"}
		count := int(n%60) + 1
		alerts := make([]Alert, count)
		for i := range alerts {
			alerts[i] = a
		}
		m := Message{Status: "firing", Alerts: alerts, Grouped: grouped || count > 1, Now: start.Add(time.Hour)}
		for p, budget := range budgets {
			text, markup, err := ts.Render(p, m, budget)
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			if !utf8.ValidString(text) {
				t.Fatalf("%s: the text is not UTF-8", p)
			}
			if got := chat.UTF16Len(markups[p].visible(text)); markup && got > budget || !markup && chat.UTF16Len(text) > budget {
				t.Fatalf("%s: %d units over the budget %d", p, got, budget)
			}
			if !markup {
				continue
			}
			if err := wellFormed(p, text); err != nil {
				t.Fatalf("%s: %v in:\n%s", p, err, text)
			}
			if count == 1 && len(name) > 0 && !strings.ContainsAny(name, "\n\r") && chat.UTF16Len(name) < 200 &&
				!strings.Contains(shown(p, text), strings.TrimSpace(name)) {
				t.Fatalf("%s: the name %q is not shown in:\n%s", p, name, text)
			}
		}
	})
}
