package discord

import (
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/panelcast/panelcast/pkg/chat"
)

func TestAPIError(t *testing.T) {
	cases := []struct {
		name   string
		status int
		header string
		body   string
		code   string
		hint   string
		temp   bool
		wait   time.Duration
	}{
		{"unauthorized", 401, "", `{"message": "401: Unauthorized", "code": 0}`, "401", "check discord_bot_token", false, 0},
		{"missing access", 403, "", `{"message": "Missing Access", "code": 50001}`, "50001", "Missing Access: give the bot View Channel, Send Messages, Attach Files and Read Message History in channel 42.", false, 0},
		{"missing permissions", 403, "", `{"message": "Missing Permissions", "code": 50013}`, "50013", "give the bot View Channel", false, 0},
		{"forbidden without code", 403, "", `error code: 1010`, "403", "give the bot View Channel", false, 0},
		{"unknown channel", 404, "", `{"message": "Unknown Channel", "code": 10003}`, "10003", "check the channel id", false, 0},
		{"not found without code", 404, "", ``, "404", "check the channel id", false, 0},
		{"unknown message", 400, "", `{"message": "Unknown Message", "code": 10008}`, "10008", "send without a thread", false, 0},
		{"non-text channel", 400, "", `{"message": "Cannot send messages in a non-text channel", "code": 50008}`, "50008", "text channel", false, 0},
		{"too large", 413, "", `{"message": "Request entity too large", "code": 40005}`, "40005", "lower width/height/scale", false, 0},
		{"invalid form", 400, "", `{"code": 50035, "message": "Invalid Form Body", "errors": {}}`, "50035", "rejected the message's fields", false, 0},
		{"rate limit body", 429, "65", `{"message": "You are being rate limited.", "retry_after": 64.57, "global": false}`, "429", "rate limiting", true, 64570 * time.Millisecond},
		{"rate limit header only", 429, "3", `<html>`, "429", "rate limiting", true, 3 * time.Second},
		{"rate limit no wait", 429, "", ``, "429", "rate limiting", true, 0},
		{"rate limit absurd", 429, "", `{"retry_after": 1e300}`, "429", "rate limiting", true, chat.MaxRetryAfter},
		{"rate limit negative", 429, "-5", `{"retry_after": -1}`, "429", "rate limiting", true, 0},
		{"server error", 500, "", `{"message": "500: Internal Server Error", "code": 0}`, "500", "server error", true, 0},
		{"gateway html", 502, "", `<html>bad gateway</html>`, "502", "server error", true, 0},
		{"other", 400, "", `{"message": "Cannot send an empty message", "code": 50006}`, "50006", "Cannot send an empty message: Discord refused", false, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			if c.header != "" {
				h.Set("Retry-After", c.header)
			}
			e := apiError(c.status, h, []byte(c.body), "42")
			if e.Provider != "discord" || e.Code != c.code || !strings.Contains(e.Hint, c.hint) || e.Temporary != c.temp || e.RetryAfter != c.wait {
				t.Fatalf("got %+v", e)
			}
		})
	}
}

func FuzzAPIError(f *testing.F) {
	f.Add(429, "1", []byte(`{"message": "You are being rate limited.", "retry_after": 0.5, "global": true}`))
	f.Add(403, "", []byte(`{"message": "Missing Access", "code": 50001}`))
	f.Add(400, "", []byte(`{"code": 50035, "errors": {"content": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH"}]}}, "message": "Invalid Form Body"}`))
	f.Add(500, "", []byte("\x00\xff"))
	f.Fuzz(func(t *testing.T, status int, retry string, body []byte) {
		h := http.Header{}
		h.Set("Retry-After", retry)
		e := apiError(status, h, body, "1")
		if e.Hint == "" || !strings.HasSuffix(e.Hint, ".") || !utf8.ValidString(e.Error()) {
			t.Fatalf("hint %q", e.Hint)
		}
		if strings.ContainsAny(e.Hint, "\n\r\x00") {
			t.Fatalf("hint spans lines: %q", e.Hint)
		}
		if e.RetryAfter < 0 || e.RetryAfter > chat.MaxRetryAfter {
			t.Fatalf("retry after %v", e.RetryAfter)
		}
		if e.Temporary != (status == 429 || status >= 500) {
			t.Fatalf("status %d temporary=%v", status, e.Temporary)
		}
	})
}

func FuzzParseChannel(f *testing.F) {
	for _, s := range []string{"1234567890123456789", "#ops", " 42 ", "-1", "+1", "18446744073709551616", "<#123>", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ch, err := ParseChannel(s)
		if err != nil {
			if ch != "" || !strings.HasSuffix(err.Error(), ".") {
				t.Fatalf("ParseChannel(%q) = %q, %v", s, ch, err)
			}
			return
		}
		if !isSnowflake(ch) || ch != strings.TrimSpace(s) {
			t.Fatalf("ParseChannel(%q) = %q", s, ch)
		}
	})
}

func FuzzTruncate(f *testing.F) {
	f.Add("hello world", 5)
	f.Add(strings.Repeat("😀", 10), 7)
	f.Add("a\xffb c", 3)
	f.Fuzz(func(t *testing.T, s string, max int) {
		if max < 1 || max > 5000 {
			return
		}
		got := chat.Truncate(s, max)
		if chat.UTF16Len(got) > max {
			t.Fatalf("truncate(%q, %d) = %q, %d units", s, max, got, chat.UTF16Len(got))
		}
		if chat.UTF16Len(s) <= max && got != s {
			t.Fatalf("truncate changed a text that fits: %q → %q", s, got)
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("truncate broke UTF-8: %q", got)
		}
	})
}

func TestTruncateAtWord(t *testing.T) {
	long := strings.Repeat("abcdefghi ", 30)
	if got := chat.Truncate(long, 95); got != strings.Repeat("abcdefghi ", 8)+"abcdefghi…" {
		t.Fatalf("got %q", got)
	}
	if got := chat.Truncate("abcdefghij", 5); got != "abcd…" {
		t.Fatalf("got %q", got)
	}
}

func TestFilename(t *testing.T) {
	cases := map[string]string{
		"":                "panel.png",
		"cpu.png":         "cpu.png",
		`a"b\c.png`:       "a_b_c.png",
		"CPU – web 1.png": "CPU___web_1.png",
		"..":              "panel.png",
	}
	for in, want := range cases {
		if got := filename(in); got != want {
			t.Errorf("filename(%q) = %q, want %q", in, got, want)
		}
	}
}
