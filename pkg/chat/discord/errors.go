package discord

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/panelcast/panelcast/pkg/chat"
)

// Discord's JSON error codes that get their own hint.
const (
	codeUnknownChannel     = 10003
	codeUnknownMessage     = 10008
	codeUnauthorized       = 40001
	codeTooLarge           = 40005
	codeMissingAccess      = 50001
	codeNonTextChannel     = 50008
	codeMissingPermissions = 50013
	codeInvalidForm        = 50035
)

// maxRetryAfter caps a server-given wait so a hostile or broken answer
// cannot park a delivery for ever (or overflow a Duration).
const maxRetryAfter = 24 * time.Hour

// errorBody is Discord's error answer: {code, message}, and for 429 also
// retry_after (seconds, with decimals).
type errorBody struct {
	Code       int     `json:"code"`
	Message    string  `json:"message"`
	RetryAfter float64 `json:"retry_after"`
}

// apiError turns a non-2xx answer into a *chat.Error with a hint a person
// can act on. channel words the hint ("" when the call had none).
func apiError(status int, h http.Header, body []byte, channel string) *chat.Error {
	var b errorBody
	if json.Unmarshal(body, &b) != nil {
		b = errorBody{}
	}
	e := &chat.Error{Provider: provider, Code: strconv.Itoa(status)}
	if b.Code != 0 {
		e.Code = strconv.Itoa(b.Code)
	}
	said := ""
	if m := clip(b.Message); m != "" {
		said = m + ": "
	}
	where := "that channel"
	if channel != "" {
		where = "channel " + channel
	}
	switch {
	case status == http.StatusTooManyRequests:
		e.Code = "429"
		e.Temporary = true
		e.RetryAfter = retryAfter(b.RetryAfter, h.Get("Retry-After"))
		e.Hint = "Discord is rate limiting the bot: the post is retried after the wait Discord asked for."
	case status >= 500:
		e.Temporary = true
		e.Hint = said + "Discord had a server error: the post is retried later."
	case status == http.StatusUnauthorized || b.Code == codeUnauthorized:
		e.Hint = said + "Discord refused the bot token: check discord_bot_token (Discord developer portal → Bot → Reset Token)."
	case b.Code == codeMissingAccess || b.Code == codeMissingPermissions || (status == http.StatusForbidden && b.Code == 0):
		e.Hint = said + "give the bot View Channel, Send Messages, Attach Files and Read Message History in " + where + "."
	case b.Code == codeUnknownChannel || (status == http.StatusNotFound && b.Code == 0):
		e.Hint = said + "check the channel id in the address (right-click the channel → Copy Channel ID) and that the bot is in that server."
	case b.Code == codeUnknownMessage:
		e.Hint = said + "the message to reply to is gone: send without a thread."
	case b.Code == codeNonTextChannel:
		e.Hint = said + "the address names a voice, category or forum channel: use a text channel's id."
	case status == http.StatusRequestEntityTooLarge || b.Code == codeTooLarge:
		e.Hint = said + "the picture is too large for this server: lower width/height/scale."
	case b.Code == codeInvalidForm:
		e.Hint = said + "Discord rejected the message's fields: report this with the message's text and channel."
	default:
		e.Hint = said + "Discord refused the post: check the channel id and the bot's permissions there."
	}
	return e
}

// retryAfter reads the wait from the body's retry_after (seconds, float,
// more precise) or else the Retry-After header (whole seconds).
func retryAfter(body float64, header string) time.Duration {
	sec := body
	if !(sec > 0) {
		if v, err := strconv.ParseFloat(strings.TrimSpace(header), 64); err == nil {
			sec = v
		}
	}
	if !(sec > 0) || math.IsInf(sec, 0) {
		return 0
	}
	if sec >= maxRetryAfter.Seconds() {
		return maxRetryAfter
	}
	// Discord counts in milliseconds; rounding keeps 64.57 s exact.
	return time.Duration(math.Round(sec*1000)) * time.Millisecond
}

// clip makes outside text safe to quote in an error: one line, printable,
// at most 120 characters.
func clip(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return ' '
		}
		return r
	}, strings.TrimSpace(s))
	if r := []rune(s); len(r) > 120 {
		s = string(r[:119]) + "…"
	}
	return s
}

// truncate shortens s to at most max characters, counted in UTF-16 code
// units: Discord's own count is not documented, and UTF-16 is never shorter
// than a count of code points, so the result fits either reading. A cut text
// ends at a word boundary when one is near, followed by "…".
func truncate(s string, max int) string {
	if utf16Len(s) <= max {
		return s
	}
	budget := max - 1 // room for "…"
	end, n := 0, 0
	for end < len(s) {
		r, size := utf8.DecodeRuneInString(s[end:])
		w := 1
		if r >= 0x10000 {
			w = 2
		}
		if n+w > budget {
			break
		}
		n += w
		end += size
	}
	head := s[:end]
	// A word boundary within the last tenth keeps words whole without
	// throwing away much text.
	if i := strings.LastIndexAny(head, " \n\t"); i > 0 && i >= len(head)-len(head)/10 {
		head = head[:i]
	}
	return strings.TrimRight(head, " \n\t") + "…"
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}
