package mattermost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/panelcast/panelcast/pkg/chat"
)

// operation says what a request was for, so an error can name what to fix.
type operation struct {
	// what is "resolve", "upload", "post", "edit", "check" or "team".
	what    string
	channel channelRef
	team    string
}

// apiError is the JSON body of a Mattermost failure. Its detailed_error is
// deliberately not read: the server may echo the rejected token there.
type apiError struct {
	ID         string `json:"id"`
	Message    string `json:"message"`
	StatusCode int    `json:"status_code"`
}

// parseAPIError reads a failure's body; anything that is not the server's
// JSON (a proxy's page, the rate limiter's plain text) gives a zero value.
func parseAPIError(body []byte) apiError {
	var e apiError
	if json.Unmarshal(body, &e) != nil {
		return apiError{}
	}
	return e
}

// classify maps a failed answer to a *chat.Error that says whether to retry
// and what a person should do. The token never appears in it.
func classify(status int, h http.Header, body []byte, op operation, token string) *chat.Error {
	ae := parseAPIError(body)
	e := &chat.Error{Provider: "mattermost", Code: ae.ID}
	if e.Code == "" {
		e.Code = strconv.Itoa(status)
	}
	team := "the channel's team"
	if op.team != "" {
		team = "team " + op.team
	}
	switch {
	case status == http.StatusTooManyRequests:
		e.Temporary, e.RetryAfter = true, retryAfter(h, time.Now())
		e.Hint = "Mattermost rate-limited the bot; retry after the wait it asked for"
	case status >= 500:
		e.Temporary = true
		e.Hint = fmt.Sprintf("Mattermost answered %d %s; retry later", status, http.StatusText(status))
	case status == http.StatusUnauthorized:
		e.Hint = "Mattermost rejected the token; check mattermost_token (a bot or personal access token)"
	case status == http.StatusForbidden && ae.ID == "api.file.attachments.disabled.app_error":
		e.Hint = "file attachments are disabled on the server; enable them in System Console > Site Configuration > File Sharing and Downloads"
	case op.what == "edit" && (status == http.StatusForbidden || status == http.StatusNotFound):
		e.Hint = "the thread's root post is gone, or the bot may not edit it: only its own posts, within the server's Post Edit Time Limit (System Console > Site Configuration > Posts)"
	case status == http.StatusForbidden && (op.what == "check" || op.what == "team"):
		e.Hint = fmt.Sprintf("the bot cannot see %s; add the bot to the team", team)
	case status == http.StatusForbidden:
		e.Hint = fmt.Sprintf("the bot may not post there; add the bot to %s and to %s", team, op.channel.label())
	case status == http.StatusNotFound && ae.ID == "app.team.get_by_name.missing.app_error":
		e.Hint = fmt.Sprintf("there is no %s; check mattermost_team (the team's name in its URL)", team)
	case status == http.StatusNotFound && op.what == "resolve":
		e.Hint = fmt.Sprintf("Mattermost has no %s in %s; check the channel name and mattermost_team; a private channel needs the bot as a member", op.channel.label(), team)
	case status == http.StatusNotFound:
		e.Hint = "Mattermost has no such API path; check mattermost_url (the server's base URL)"
	case status == http.StatusRequestEntityTooLarge:
		e.Hint = "the picture is larger than the server's MaxFileSize (or a proxy's body limit); render it smaller or raise Maximum File Size in the System Console"
	case ae.ID == "api.post.create_post.root_id.app_error" || ae.ID == "api.post.create_post.channel_root_id.app_error":
		e.Hint = "the thread's root post is gone or in another channel; send without a thread"
	case ae.ID == "model.post.is_valid.message_length.app_error":
		e.Hint = "the text is too long for Mattermost; shorten the message"
	case ae.Message != "":
		e.Hint = fmt.Sprintf("Mattermost refused the request (%s); fix what it names", ae.Message)
	default:
		e.Hint = fmt.Sprintf("Mattermost answered %d %s; check mattermost_url", status, http.StatusText(status))
	}
	e.Code = chat.Redact(e.Code, token)
	e.Hint = chat.Redact(e.Hint, token)
	return e
}

// retryAfter reads how long the server asked to wait: Retry-After (seconds
// or an HTTP date), else X-RateLimit-Reset, which Mattermost sets to the
// seconds until its limit resets.
// Absurd values are capped at maxRetryAfter.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
			return seconds(secs)
		}
		if t, err := http.ParseTime(v); err == nil && t.After(now) {
			return min(t.Sub(now).Round(time.Second), maxRetryAfter)
		}
	}
	if secs, err := strconv.Atoi(strings.TrimSpace(h.Get("X-RateLimit-Reset"))); err == nil && secs >= 0 {
		return seconds(secs)
	}
	return 0
}

// maxRetryAfter bounds a server's requested wait.
const maxRetryAfter = 24 * time.Hour

func seconds(n int) time.Duration {
	if n > int(maxRetryAfter/time.Second) {
		return maxRetryAfter
	}
	return time.Duration(n) * time.Second
}

// transportError is a request that got no answer.
func transportError(err error, token string) *chat.Error {
	e := &chat.Error{Provider: "mattermost", Temporary: true}
	var ue *url.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		e.Code, e.Hint = "timeout", "Mattermost did not answer in time; retry later"
	case errors.Is(err, context.Canceled):
		e.Code, e.Hint = "canceled", "the send was cancelled before Mattermost answered; retry it"
	case errors.As(err, &ue):
		e.Code = "unreachable"
		e.Hint = fmt.Sprintf("could not reach Mattermost (%v); check the network and mattermost_url", ue.Err)
	default:
		e.Code = "unreachable"
		e.Hint = fmt.Sprintf("could not reach Mattermost (%v); check the network and mattermost_url", err)
	}
	e.Hint = chat.Redact(e.Hint, token)
	return e
}
