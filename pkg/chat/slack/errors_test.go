package slack

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/panelcast/panelcast/pkg/chat"
)

func TestClassify(t *testing.T) {
	ops := channelRef{name: "ops"}
	cases := []struct {
		name      string
		err       error
		code      string
		hint      string
		temporary bool
		retry     time.Duration
	}{
		{"not in channel", slack.SlackErrorResponse{Err: "not_in_channel"}, "not_in_channel", "invite the bot to #ops with /invite @pc", false, 0},
		{"channel not found", slack.SlackErrorResponse{Err: "channel_not_found"}, "channel_not_found", "check the channel name; private channels need groups:read and the bot invited", false, 0},
		{"invalid auth", slack.SlackErrorResponse{Err: "invalid_auth"}, "invalid_auth", "check slack_bot_token", false, 0},
		{"not authed", slack.SlackErrorResponse{Err: "not_authed"}, "not_authed", "check slack_bot_token", false, 0},
		{"revoked", slack.SlackErrorResponse{Err: "token_revoked"}, "token_revoked", "check slack_bot_token", false, 0},
		{"scope", slack.SlackErrorResponse{Err: "missing_scope", Needed: "files:read"}, "missing_scope", "add the files:read scope to the Slack app and reinstall it", false, 0},
		{"scopes", slack.SlackErrorResponse{Err: "missing_scope", Needed: "files:read,chat:write"}, "missing_scope", "add the files:read, chat:write scopes", false, 0},
		{"scope unnamed", slack.SlackErrorResponse{Err: "missing_scope"}, "missing_scope", "add the missing scope", false, 0},
		{"ratelimited body", slack.SlackErrorResponse{Err: "ratelimited"}, "ratelimited", "retry later", true, 0},
		{"429", &slack.RateLimitedError{RetryAfter: 30 * time.Second}, "ratelimited", "retry after", true, 30 * time.Second},
		{"absurd 429", &slack.RateLimitedError{RetryAfter: -5}, "ratelimited", "", true, 0},
		{"huge 429", &slack.RateLimitedError{RetryAfter: 1000 * time.Hour}, "ratelimited", "", true, maxRetryAfter},
		{"wrapped 429", fmt.Errorf("GetUploadURLExternal: %w", &slack.RateLimitedError{RetryAfter: time.Second}), "ratelimited", "", true, time.Second},
		{"429 without Retry-After", slack.StatusCodeError{Code: 429, Status: "429 Too Many Requests"}, "429", "retry later", true, 0},
		{"500", slack.StatusCodeError{Code: 500, Status: "500 Internal Server Error"}, "500", "retry later", true, 0},
		{"404", slack.StatusCodeError{Code: 404, Status: "404 Not Found"}, "404", "check slack_api_url", false, 0},
		{"internal", slack.SlackErrorResponse{Err: "internal_error"}, "internal_error", "retry later", true, 0},
		{"unknown code", slack.SlackErrorResponse{Err: "something_new"}, "something_new", "Slack's documentation", false, 0},
		{"network", &url.Error{Op: "Post", URL: "https://slack.com/api/chat.postMessage", Err: errors.New("connection refused")}, "unreachable", "connection refused", true, 0},
		{"deadline", context.DeadlineExceeded, "timeout", "retry later", true, 0},
		{"canceled", fmt.Errorf("x: %w", context.Canceled), "canceled", "retry it", true, 0},
		{"garbage", errors.New("invalid character '<' looking for beginning of value"), "bad_response", "check slack_api_url", true, 0},
		{"ours", &chat.Error{Provider: "slack", Code: "no_text"}, "no_text", "", false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := classify(tc.err, ops, "pc", testToken)
			if e.Provider != "slack" || e.Code != tc.code || !strings.Contains(e.Hint, tc.hint) ||
				e.Temporary != tc.temporary || e.RetryAfter != tc.retry {
				t.Fatalf("classify(%v) = %+v; want code %q, hint with %q, temporary %v, retry %v",
					tc.err, e, tc.code, tc.hint, tc.temporary, tc.retry)
			}
		})
	}
}

func TestClassifyRedactsToken(t *testing.T) {
	err := &url.Error{Op: "Post", URL: "https://slack.com/api/x", Err: errors.New("proxy said: bad token " + testToken)}
	if e := classify(err, channelRef{}, "", testToken); strings.Contains(e.Error(), testToken) {
		t.Fatalf("the token leaked into %q", e)
	}
}

func FuzzClassify(f *testing.F) {
	f.Add("not_in_channel", "", "ops")
	f.Add("missing_scope", "files:read,chat:write", "")
	f.Add(testToken, testToken, testToken)
	f.Fuzz(func(t *testing.T, code, needed, name string) {
		e := classify(slack.SlackErrorResponse{Err: code, Needed: needed}, channelRef{name: name}, "", testToken)
		if strings.Contains(e.Code, testToken) || strings.Contains(e.Hint, testToken) {
			t.Fatalf("the token leaked into %q", e)
		}
		if e.Hint == "" || e.Provider != "slack" {
			t.Fatalf("classify gave %+v", e)
		}
	})
}

func FuzzParseChannel(f *testing.F) {
	for _, s := range []string{"#ops", "ops", "C0123ABCD", "G0123ABCDEF", " #Ops ", "#", "", "c0123abcd", "#a b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := parseChannel(s)
		if err != nil {
			var ce *chat.Error
			if !errors.As(err, &ce) || ce.Hint == "" {
				t.Fatalf("parseChannel(%q) error %v has no hint", s, err)
			}
			return
		}
		switch {
		case ref.id != "" && ref.name != "":
			t.Fatalf("parseChannel(%q) = %+v: both id and name", s, ref)
		case ref.id != "" && !channelIDPattern.MatchString(ref.id):
			t.Fatalf("parseChannel(%q) = %+v: not an id", s, ref)
		case ref.id == "" && (ref.name == "" || strings.ContainsAny(ref.name, " #") || ref.name != strings.ToLower(ref.name)):
			t.Fatalf("parseChannel(%q) = %+v: bad name", s, ref)
		}
	})
}
