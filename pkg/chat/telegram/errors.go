package telegram

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/panelcast/panelcast/pkg/chat"
	"github.com/panelcast/panelcast/pkg/quote"
)

// answer is the Bot API's reply: {ok, result} or {ok: false, error_code,
// description, parameters}. The docs warn that error_code may change, so
// hints also look at the description.
type answer struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  struct {
		RetryAfter      float64 `json:"retry_after"`
		MigrateToChatID int64   `json:"migrate_to_chat_id"`
	} `json:"parameters"`
}

// apiError turns a failed answer into a *chat.Error with a hint a person can
// act on.
func apiError(status int, h http.Header, body []byte) *chat.Error {
	var a answer
	if json.Unmarshal(body, &a) != nil {
		a = answer{}
	}
	code := a.ErrorCode
	if code == 0 {
		code = status
	}
	e := &chat.Error{Provider: provider, Code: strconv.Itoa(code)}
	desc := quote.Clip(a.Description)
	said := ""
	if desc != "" {
		said = desc + ": "
	}
	low := strings.ToLower(desc)
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(low, s) {
				return true
			}
		}
		return false
	}
	switch {
	case code == http.StatusTooManyRequests || status == http.StatusTooManyRequests:
		e.Code = "429"
		e.Temporary = true
		e.RetryAfter = chat.RetryAfter(a.Parameters.RetryAfter, h.Get("Retry-After"))
		e.Hint = "Telegram is rate limiting the bot: the post is retried after the wait Telegram asked for."
	case code >= 500 || status >= 500:
		e.Temporary = true
		e.Hint = said + "Telegram had a server error: the post is retried later."
	case a.Parameters.MigrateToChatID != 0:
		e.Hint = said + fmt.Sprintf("the group became a supergroup: change the address to telegram:%d.", a.Parameters.MigrateToChatID)
	case code == http.StatusUnauthorized || code == http.StatusNotFound:
		// The Bot API answers 404 for a malformed token as well.
		e.Hint = said + "Telegram refused the bot token: check telegram_bot_token (from @BotFather) and telegram_api_url."
	case has("chat not found"):
		e.Hint = said + "check the chat id in the address and add the bot to the chat."
	case has("initiate conversation"):
		e.Hint = said + "the person must open the bot in Telegram and press Start first."
	case has("thread not found", "topic"):
		e.Hint = said + `check the topic id after "/" in the address (e.g. telegram:-1001234567890/45).`
	case has("replied not found", "reply message not found"):
		e.Hint = said + "the message to reply to is gone: send without a thread."
	case has("not enough rights", "have no rights"):
		e.Hint = said + "allow the bot to send messages, photos and files in the chat (or make it an administrator)."
	case code == http.StatusForbidden || has("kicked", "not a member", "blocked"):
		e.Hint = said + "add the bot to the chat (in a channel, as an administrator that may post messages)."
	case code == http.StatusRequestEntityTooLarge || has("too big", "too large", "photo_save_file", "invalid_dimensions"):
		e.Hint = said + "the picture is too large for Telegram: lower width/height/scale."
	default:
		e.Hint = said + "Telegram refused the post: check the chat id and the bot's rights in that chat."
	}
	return e
}
