package mattermost

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func body(id string, status int) []byte {
	return fmt.Appendf(nil, `{"id":%q,"message":"m","detailed_error":"token=%s","request_id":"r","status_code":%d}`, id, testToken, status)
}

func TestClassify(t *testing.T) {
	post := operation{what: "post", channel: channelRef{name: "ops"}, team: "eng"}
	resolve := operation{what: "resolve", channel: channelRef{name: "ops"}, team: "eng"}
	check := operation{what: "team", team: "eng"}
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	cases := []struct {
		name      string
		status    int
		header    http.Header
		body      []byte
		op        operation
		code      string
		hint      string
		temporary bool
		retry     time.Duration
	}{
		{"401", 401, nil, body("api.context.session_expired.app_error", 401), post, "api.context.session_expired.app_error", "check mattermost_token", false, 0},
		{"403 post", 403, nil, body("api.context.permissions.app_error", 403), post, "api.context.permissions.app_error", "add the bot to team eng and to channel ops", false, 0},
		{"403 team", 403, nil, body("api.context.permissions.app_error", 403), check, "api.context.permissions.app_error", "add the bot to the team", false, 0},
		{"403 attachments off", 403, nil, body("api.file.attachments.disabled.app_error", 403), post, "api.file.attachments.disabled.app_error", "enable them in System Console", false, 0},
		{"404 channel", 404, nil, body("app.channel.get_by_name.missing.app_error", 404), resolve, "app.channel.get_by_name.missing.app_error", "check the channel name and mattermost_team", false, 0},
		{"404 team", 404, nil, body("app.team.get_by_name.missing.app_error", 404), resolve, "app.team.get_by_name.missing.app_error", "check mattermost_team", false, 0},
		{"404 path", 404, nil, []byte("<html>404</html>"), post, "404", "check mattermost_url", false, 0},
		{"413", 413, nil, body("api.file.upload_file.too_large_detailed.app_error", 413), post, "api.file.upload_file.too_large_detailed.app_error", "MaxFileSize", false, 0},
		{"413 proxy", 413, nil, []byte("<html>413</html>"), post, "413", "MaxFileSize", false, 0},
		{"429 Retry-After", 429, h("Retry-After", "4", "X-RateLimit-Reset", "9"), []byte("limit exceeded\n"), post, "429", "rate-limited", true, 4 * time.Second},
		{"429 reset only", 429, h("X-RateLimit-Reset", "9"), []byte("limit exceeded\n"), post, "429", "rate-limited", true, 9 * time.Second},
		{"429 bare", 429, nil, nil, post, "429", "rate-limited", true, 0},
		{"500", 500, nil, body("app.post.save.app_error", 500), post, "app.post.save.app_error", "retry later", true, 0},
		{"503 page", 503, nil, []byte("<html>"), post, "503", "retry later", true, 0},
		{"root gone", 400, nil, body("api.post.create_post.root_id.app_error", 400), post, "api.post.create_post.root_id.app_error", "send without a thread", false, 0},
		{"too long", 400, nil, body("model.post.is_valid.message_length.app_error", 400), post, "model.post.is_valid.message_length.app_error", "shorten", false, 0},
		{"other 400", 400, nil, body("api.context.invalid_body_param.app_error", 400), post, "api.context.invalid_body_param.app_error", "Mattermost refused the request (m)", false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := classify(tc.status, tc.header, tc.body, tc.op, testToken)
			if e.Provider != "mattermost" || e.Code != tc.code || !strings.Contains(e.Hint, tc.hint) ||
				e.Temporary != tc.temporary || e.RetryAfter != tc.retry {
				t.Fatalf("classify = %+v; want code %q, hint with %q, temporary %v, retry %v", e, tc.code, tc.hint, tc.temporary, tc.retry)
			}
			if strings.Contains(e.Error(), testToken) {
				t.Fatalf("the token leaked into %q", e)
			}
		})
	}
}

func TestRetryAfterDate(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	h := http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}}
	if got := retryAfter(h, now); got != 90*time.Second {
		t.Fatalf("retryAfter = %v, want 90s", got)
	}
}

func TestTransportError(t *testing.T) {
	cases := []struct {
		err  error
		code string
	}{
		{context.DeadlineExceeded, "timeout"},
		{fmt.Errorf("x: %w", context.Canceled), "canceled"},
		{&url.Error{Op: "Post", URL: "http://mm/api/v4/posts", Err: errors.New("dial tcp: refused " + testToken)}, "unreachable"},
	}
	for _, tc := range cases {
		e := transportError(tc.err, testToken)
		if e.Code != tc.code || !e.Temporary || strings.Contains(e.Error(), testToken) {
			t.Fatalf("transportError(%v) = %+v", tc.err, e)
		}
	}
}

func FuzzClassify(f *testing.F) {
	f.Add(401, string(body("api.context.session_expired.app_error", 401)), "", "")
	f.Add(429, "limit exceeded\n", "3", "7")
	f.Add(413, "<html>", "", "")
	f.Add(400, `{"id":"`+testToken+`","message":"`+testToken+`"}`, "x", "-1")
	f.Add(503, `{"id":1,"message":[]}`, "Wed, 21 Oct 2015 07:28:00 GMT", "")
	f.Add(429, "", "99999999999999", "")
	f.Add(429, "", "Fri, 31 Dec 9999 23:59:59 GMT", "")
	f.Fuzz(func(t *testing.T, status int, raw, retry, reset string) {
		h := http.Header{"Retry-After": {retry}, "X-Ratelimit-Reset": {reset}}
		e := classify(status, h, []byte(raw), operation{what: "post", channel: channelRef{name: "ops"}}, testToken)
		if strings.Contains(e.Code, testToken) || strings.Contains(e.Hint, testToken) {
			t.Fatalf("the token leaked into %q", e)
		}
		if e.Code == "" || e.Hint == "" || e.RetryAfter < 0 || e.RetryAfter > maxRetryAfter {
			t.Fatalf("classify gave %+v", e)
		}
		if (status == 429 || status >= 500) != e.Temporary {
			t.Fatalf("status %d: Temporary = %v", status, e.Temporary)
		}
	})
}

func FuzzParseChannel(f *testing.F) {
	for _, s := range []string{"town-square", "#ops", "~ops", "abcdefghijklmnopqrstuvwxyz", "a/../b", "", "Ops_2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := parseChannel(s)
		if err != nil {
			return
		}
		if (ref.id == "") == (ref.name == "") {
			t.Fatalf("parseChannel(%q) = %+v", s, ref)
		}
		if ref.name != "" && url.PathEscape(ref.name) != ref.name {
			t.Fatalf("parseChannel(%q) = %+v: the name needs escaping in a path", s, ref)
		}
	})
}
