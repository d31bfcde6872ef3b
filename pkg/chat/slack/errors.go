package slack

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/panelcast/panelcast/pkg/chat"
)

// maxRetryAfter bounds a server's requested wait.
const maxRetryAfter = 24 * time.Hour

// fail turns an error from slack-go into a *chat.Error, looking up what the
// hint needs (the bot's name), forgetting a cached channel Slack no longer
// knows, and holding every call back after a rate limit.
func (s *Sender) fail(ctx context.Context, err error, ref channelRef, channelID string) error {
	if ref.id == "" && ref.name == "" {
		ref.id = channelID
	}
	bot := ""
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		switch se.Err {
		case "not_in_channel":
			bot = s.bot(ctx)
		case "channel_not_found":
			if channelID != "" {
				s.forget(channelID)
			}
		}
	}
	e := classify(err, ref, bot, s.token)
	if e.Code == "ratelimited" {
		// A 429 does not say which limit it was: every call waits.
		s.pacer.Block(ctx, e.RetryAfter)
	}
	return e
}

// classify maps an error from slack-go to a *chat.Error that says whether to
// retry and what a person should do. The token never appears in it.
func classify(err error, ref channelRef, bot, token string) *chat.Error {
	var (
		ce *chat.Error
		rl *slack.RateLimitedError
		se slack.SlackErrorResponse
		sc slack.StatusCodeError
		ue *url.Error
	)
	e := &chat.Error{Provider: "slack"}
	switch {
	case errors.As(err, &ce):
		return ce
	case errors.As(err, &rl):
		// slack-go multiplies Retry-After without a bound; keep it sane.
		e.Code, e.Temporary, e.RetryAfter = "ratelimited", true, min(max(rl.RetryAfter, 0), maxRetryAfter)
		e.Hint = "Slack rate-limited the bot; retry after the wait it asked for"
	case errors.As(err, &se):
		e.Code = se.Err
		e.Hint, e.Temporary = slackHint(se, ref, bot)
	case errors.As(err, &sc):
		e.Code = strconv.Itoa(sc.Code)
		e.Temporary = sc.Code >= 500 || sc.Code == 429
		if e.Temporary {
			e.Hint = fmt.Sprintf("Slack answered %q; retry later", sc.Status)
		} else {
			e.Hint = fmt.Sprintf("Slack answered %q; check slack_api_url", sc.Status)
		}
	case errors.Is(err, context.DeadlineExceeded):
		e.Code, e.Temporary = "timeout", true
		e.Hint = "Slack did not answer in time; retry later"
	case errors.Is(err, context.Canceled):
		e.Code, e.Temporary = "canceled", true
		e.Hint = "the send was cancelled before Slack answered; retry it"
	case errors.As(err, &ue):
		e.Code, e.Temporary = "unreachable", true
		e.Hint = fmt.Sprintf("could not reach Slack (%v); check the network and slack_api_url", ue.Err)
	default:
		e.Code, e.Temporary = "bad_response", true
		e.Hint = fmt.Sprintf("unexpected answer from Slack (%v); check slack_api_url", err)
	}
	e.Code = chat.Redact(e.Code, token)
	e.Hint = chat.Redact(e.Hint, token)
	return e
}

// slackHint words Slack's error code for a person and says whether it is
// worth retrying.
func slackHint(se slack.SlackErrorResponse, ref channelRef, bot string) (hint string, temporary bool) {
	switch se.Err {
	case "not_in_channel":
		if bot == "" {
			bot = "<bot>"
		}
		return fmt.Sprintf("invite the bot to %s with /invite @%s", ref.label(), bot), false
	case "channel_not_found":
		return fmt.Sprintf("Slack does not know %s; check the channel name; private channels need groups:read and the bot invited", ref.label()), false
	case "invalid_auth", "not_authed", "account_inactive", "token_expired":
		return "Slack rejected the token; check slack_bot_token", false
	case "token_revoked":
		return "the token was revoked; reinstall the Slack app and check slack_bot_token", false
	case "missing_scope":
		return missingScope(se.Needed).Hint, false
	case "ratelimited":
		return "Slack rate-limited the bot; retry later", true
	case "is_archived":
		return fmt.Sprintf("%s is archived; unarchive it or send to another channel", ref.label()), false
	case "invalid_thread_ts", "thread_not_found", "message_not_found":
		return "the thread's first message is gone or in another channel; send without a thread", false
	case "cant_update_message", "edit_window_closed", "is_inactive":
		return "Slack does not let the bot edit the thread's first message (only its own, within the workspace's edit window, in an active channel)", false
	case "file_uploads_disabled", "file_uploads_except_images_disabled", "file_upload_size_restricted", "file_type_not_allowed":
		return "the workspace restricts uploads; ask a Slack admin to allow the bot's PNG uploads", false
	case "msg_too_long":
		return "the text is too long for Slack; shorten the message", false
	case "restricted_action", "posting_to_general_channel_denied", "not_allowed_token_type", "ekm_access_denied":
		return fmt.Sprintf("Slack does not let the bot post to %s; choose another channel or ask a Slack admin", ref.label()), false
	case "internal_error", "fatal_error", "service_unavailable", "request_timeout", "team_added_to_org":
		return "Slack had a problem on its side; retry later", true
	}
	return "Slack refused the request; look the error up in Slack's documentation of the method", false
}

// missingScope is the error for a token without the scopes Panelcast needs.
func missingScope(needed string) *chat.Error {
	e := &chat.Error{Provider: "slack", Code: "missing_scope"}
	scopes := strings.Split(needed, ",")
	switch {
	case needed == "":
		e.Hint = "add the missing scope (chat:write, files:write, files:read, channels:read) to the Slack app and reinstall it"
	case len(scopes) == 1:
		e.Hint = fmt.Sprintf("add the %s scope to the Slack app and reinstall it", needed)
	default:
		e.Hint = fmt.Sprintf("add the %s scopes to the Slack app and reinstall it", strings.Join(scopes, ", "))
	}
	return e
}
