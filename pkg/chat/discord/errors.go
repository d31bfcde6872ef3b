package discord

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/panelcast/panelcast/pkg/chat"
	"github.com/panelcast/panelcast/pkg/quote"
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
	if m := quote.Clip(b.Message); m != "" {
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
		// retry_after (seconds, float) is more precise than Retry-After;
		// Discord counts in milliseconds.
		e.RetryAfter = chat.RetryAfter(b.RetryAfter, h.Get("Retry-After"))
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
