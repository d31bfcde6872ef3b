package alerttext

import (
	"html"
	"strings"
)

// markup is one chat's text syntax. Every value a template prints comes
// from outside (label values, annotations written by whoever wrote the
// rule), so the data handed to templates is escaped by text before the
// template runs, and links and emphasis are built by these functions.
type markup interface {
	// text escapes s so that the chat shows it literally.
	text(s string) string
	// bold, italic, strike and code wrap an escaped fragment.
	bold(s string) string
	italic(s string) string
	strike(s string) string
	code(s string) string
	// link makes a link with an escaped label to a raw URL.
	link(url, label string) string
	// visible is the length of s as the chat counts it: after markup is
	// parsed for Telegram, the raw text elsewhere.
	visible(s string) string
}

// Markups by provider name. Markdown serves Mattermost and Discord alike:
// both follow CommonMark's backslash escapes.
var markups = map[string]markup{
	"slack":      slackMarkup{},
	"mattermost": markdownMarkup{},
	"discord":    markdownMarkup{},
	"telegram":   telegramMarkup{},
	"inbox":      plainMarkup{},
}

// Note is a remark Panelcast adds below an alert's text (why its picture
// is missing or drawn without the dashboard's variables), in italics and
// escaped when the text is in the provider's markup.
func Note(provider string, isMarkup bool, s string) string {
	mk, ok := markups[provider]
	if !isMarkup || !ok {
		return s
	}
	return mk.italic(mk.text(s))
}

// slackMarkup is Slack's mrkdwn: only &, < and > need escaping, and a link
// is <url|label>.
type slackMarkup struct{}

var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func (slackMarkup) text(s string) string   { return slackEscaper.Replace(s) }
func (slackMarkup) bold(s string) string   { return wrap("*", s) }
func (slackMarkup) italic(s string) string { return wrap("_", s) }
func (slackMarkup) strike(s string) string { return wrap("~", s) }
func (slackMarkup) code(s string) string   { return wrap("`", strings.ReplaceAll(s, "`", "'")) }
func (slackMarkup) link(url, label string) string {
	// A | or > in the URL would end the link early; percent-encoding keeps
	// the URL the same for the browser.
	u := strings.NewReplacer("|", "%7C", ">", "%3E", "<", "%3C").Replace(url)
	if label == "" {
		return "<" + u + ">"
	}
	return "<" + u + "|" + label + ">"
}
func (slackMarkup) visible(s string) string { return s }

// markdownMarkup is CommonMark as Mattermost and Discord render it.
type markdownMarkup struct{}

var markdownEscaper = strings.NewReplacer(
	`\`, `\\`, "*", `\*`, "_", `\_`, "~", `\~`, "`", "\\`", "|", `\|`,
	"[", `\[`, "]", `\]`, "<", `\<`, ">", `\>`, "#", `\#`, "@", "@\u200b",
)

// text escapes Markdown's punctuation; "@" gets a zero-width space so that
// "@everyone" or "@here" in a label cannot ping a whole channel.
func (markdownMarkup) text(s string) string   { return markdownEscaper.Replace(s) }
func (markdownMarkup) bold(s string) string   { return wrap("**", s) }
func (markdownMarkup) italic(s string) string { return wrap("_", s) }
func (markdownMarkup) strike(s string) string { return wrap("~~", s) }
func (markdownMarkup) code(s string) string   { return wrap("`", strings.ReplaceAll(s, "`", "'")) }
func (markdownMarkup) link(url, label string) string {
	u := strings.NewReplacer("(", "%28", ")", "%29", " ", "%20").Replace(url)
	if label == "" {
		return "<" + u + ">"
	}
	return "[" + label + "](" + u + ")"
}
func (markdownMarkup) visible(s string) string { return s }

// telegramMarkup is the HTML subset of Telegram's parse_mode HTML. Its
// limits count the text after parsing, so visible drops the tags.
type telegramMarkup struct{}

var telegramEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")

func (telegramMarkup) text(s string) string   { return telegramEscaper.Replace(s) }
func (telegramMarkup) bold(s string) string   { return tag("b", s) }
func (telegramMarkup) italic(s string) string { return tag("i", s) }
func (telegramMarkup) strike(s string) string { return tag("s", s) }
func (telegramMarkup) code(s string) string   { return tag("code", s) }
func (telegramMarkup) link(url, label string) string {
	if label == "" {
		label = telegramEscaper.Replace(url)
	}
	return `<a href="` + telegramEscaper.Replace(url) + `">` + label + "</a>"
}
func (telegramMarkup) visible(s string) string { return html.UnescapeString(stripTags(s)) }

// plainMarkup is for the built-in inbox, which shows text as it is.
type plainMarkup struct{}

func (plainMarkup) text(s string) string   { return s }
func (plainMarkup) bold(s string) string   { return s }
func (plainMarkup) italic(s string) string { return s }
func (plainMarkup) strike(s string) string { return s }
func (plainMarkup) code(s string) string   { return s }
func (plainMarkup) link(url, label string) string {
	if label == "" {
		return url
	}
	return label + ": " + url
}
func (plainMarkup) visible(s string) string { return s }

// wrap puts a marker around s, outside any spaces at its ends: chats ignore
// "* bold *".
func wrap(marker, s string) string {
	if strings.TrimSpace(s) == "" {
		return s
	}
	lead := s[:len(s)-len(strings.TrimLeft(s, " "))]
	trail := s[len(strings.TrimRight(s, " ")):]
	return lead + marker + strings.TrimSpace(s) + marker + trail
}

func tag(name, s string) string { return "<" + name + ">" + s + "</" + name + ">" }

// stripTags removes everything between < and >; escaped text holds no raw
// angle brackets, so what is left is what Telegram shows.
func stripTags(s string) string {
	var b strings.Builder
	in := false
	for _, r := range s {
		switch {
		case r == '<':
			in = true
		case r == '>' && in:
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	return b.String()
}
