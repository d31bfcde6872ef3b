package telegram

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
		{"unauthorized", 401, "", `{"ok":false,"error_code":401,"description":"Unauthorized"}`, "401", "Unauthorized: Telegram refused the bot token: check telegram_bot_token", false, 0},
		{"malformed token", 404, "", `{"ok":false,"error_code":404,"description":"Not Found"}`, "404", "check telegram_bot_token (from @BotFather) and telegram_api_url.", false, 0},
		{"chat not found", 400, "", `{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}`, "400", "Bad Request: chat not found: check the chat id in the address and add the bot to the chat.", false, 0},
		{"kicked", 403, "", `{"ok":false,"error_code":403,"description":"Forbidden: bot was kicked from the supergroup chat"}`, "403", "add the bot to the chat", false, 0},
		{"not a member", 403, "", `{"ok":false,"error_code":403,"description":"Forbidden: bot is not a member of the channel chat"}`, "403", "as an administrator that may post messages", false, 0},
		{"blocked", 403, "", `{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}`, "403", "add the bot", false, 0},
		{"cannot start", 403, "", `{"ok":false,"error_code":403,"description":"Forbidden: bot can't initiate conversation with a user"}`, "403", "press Start", false, 0},
		{"no rights", 400, "", `{"ok":false,"error_code":400,"description":"Bad Request: not enough rights to send photos to the chat"}`, "400", "allow the bot to send", false, 0},
		{"topic", 400, "", `{"ok":false,"error_code":400,"description":"Bad Request: message thread not found"}`, "400", "check the topic id", false, 0},
		{"reply gone", 400, "", `{"ok":false,"error_code":400,"description":"Bad Request: message to be replied not found"}`, "400", "send without a thread", false, 0},
		{"migrated", 400, "", `{"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":-1001234567890}}`, "400", "change the address to telegram:-1001234567890.", false, 0},
		{"dimensions", 400, "", `{"ok":false,"error_code":400,"description":"Bad Request: PHOTO_INVALID_DIMENSIONS"}`, "400", "lower width/height/scale", false, 0},
		{"entity too large", 413, "", `{"ok":false,"error_code":413,"description":"Request Entity Too Large"}`, "413", "lower width/height/scale", false, 0},
		{"rate limit", 429, "", `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 35","parameters":{"retry_after":35}}`, "429", "rate limiting", true, 35 * time.Second},
		{"rate limit header", 429, "7", `Too Many Requests`, "429", "rate limiting", true, 7 * time.Second},
		{"rate limit in a 200", 200, "", `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 1","parameters":{"retry_after":1}}`, "429", "rate limiting", true, time.Second},
		{"rate limit absurd", 429, "", `{"ok":false,"error_code":429,"parameters":{"retry_after":1e308}}`, "429", "rate limiting", true, chat.MaxRetryAfter},
		{"server error", 500, "", `{"ok":false,"error_code":500,"description":"Internal Server Error"}`, "500", "server error", true, 0},
		{"proxy html", 502, "", `<html>Bad Gateway</html>`, "502", "server error", true, 0},
		{"other", 400, "", `{"ok":false,"error_code":400,"description":"Bad Request: something new"}`, "400", "Bad Request: something new: Telegram refused the post", false, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			if c.header != "" {
				h.Set("Retry-After", c.header)
			}
			e := apiError(c.status, h, []byte(c.body))
			if e.Provider != "telegram" || e.Code != c.code || !strings.Contains(e.Hint, c.hint) || e.Temporary != c.temp || e.RetryAfter != c.wait {
				t.Fatalf("got %+v", e)
			}
		})
	}
}

func FuzzAPIError(f *testing.F) {
	f.Add(429, "", []byte(`{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3","parameters":{"retry_after":3}}`))
	f.Add(400, "", []byte(`{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}`))
	f.Add(400, "", []byte(`{"ok":false,"error_code":400,"parameters":{"migrate_to_chat_id":-100}}`))
	f.Add(502, "2", []byte("<html>\x00\xff"))
	f.Fuzz(func(t *testing.T, status int, retry string, body []byte) {
		h := http.Header{}
		h.Set("Retry-After", retry)
		e := apiError(status, h, body)
		if e.Hint == "" || !strings.HasSuffix(e.Hint, ".") || !utf8.ValidString(e.Error()) {
			t.Fatalf("hint %q", e.Hint)
		}
		if strings.ContainsAny(e.Hint, "\n\r\x00") {
			t.Fatalf("hint spans lines: %q", e.Hint)
		}
		if e.RetryAfter < 0 || e.RetryAfter > chat.MaxRetryAfter || (e.RetryAfter > 0 && !e.Temporary) {
			t.Fatalf("retry after %v, temporary %v", e.RetryAfter, e.Temporary)
		}
	})
}

func TestParseChat(t *testing.T) {
	good := map[string]Chat{
		"-1001234567890":    {ID: "-1001234567890"},
		" -100123/45 ":      {ID: "-100123", Topic: 45},
		"424242":            {ID: "424242"},
		"@panelcast_alerts": {ID: "@panelcast_alerts"},
		"@Alerts1/7":        {ID: "@Alerts1", Topic: 7},
	}
	for in, want := range good {
		if got, err := ParseChat(in); err != nil || got != want {
			t.Errorf("ParseChat(%q) = %+v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "#ops", "ops", "0", "-", "--100", "+100", "-100/0", "-100/-4", "-100/", "-100/4/5", "@abc", "@1alerts", "@has space", "9223372036854775808", "-100/4503599627370496"} {
		if got, err := ParseChat(in); err == nil {
			t.Errorf("ParseChat(%q) = %+v, want an error", in, got)
		}
	}
}

func FuzzParseChat(f *testing.F) {
	for _, s := range []string{"-1001234567890/45", "@panelcast_alerts", "#ops", "-100/0", "１２３", "-0", "@a_b_c_d/1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseChat(s)
		if err != nil {
			if !strings.HasSuffix(err.Error(), ".") {
				t.Fatalf("error %q", err)
			}
			return
		}
		if !isChatID(c.ID) && !isUsername(c.ID) || c.Topic < 0 {
			t.Fatalf("ParseChat(%q) = %+v", s, c)
		}
		// The address round-trips.
		if again, err := ParseChat(c.String()); err != nil || again != c {
			t.Fatalf("%+v → %q → %+v, %v", c, c.String(), again, err)
		}
	})
}

func FuzzSplit(f *testing.F) {
	f.Add("hello world", 5)
	f.Add(strings.Repeat("😀 ", 10), 7)
	f.Add("a\xffb c", 3)
	f.Fuzz(func(t *testing.T, s string, max int) {
		if max < 1 || max > 5000 {
			return
		}
		head, rest := chat.Split(s, max)
		if chat.UTF16Len(head) > max {
			t.Fatalf("split(%q, %d) head %q has %d units", s, max, head, chat.UTF16Len(head))
		}
		if chat.UTF16Len(s) <= max && (head != s || rest != "") {
			t.Fatalf("split changed a text that fits: %q → %q + %q", s, head, rest)
		}
		if utf8.ValidString(s) && !(utf8.ValidString(head) && utf8.ValidString(rest)) {
			t.Fatalf("split broke UTF-8: %q + %q", head, rest)
		}
		if rest != "" {
			// Only whitespace at the seam and the "…" are added or lost.
			bare := func(s string) string { return strings.Join(strings.Fields(s), "") }
			if bare(strings.TrimSuffix(head, "…")+rest) != bare(s) {
				t.Fatalf("split lost text: %q + %q from %q", head, rest, s)
			}
		}
	})
}

func TestPhotoOK(t *testing.T) {
	cases := []struct {
		w, h int
		ok   bool
	}{
		{1000, 500, true},
		{2000, 100, true}, // ratio exactly 20
		{2001, 100, false},
		{100, 2001, false},
		{9523, 477, true}, // sides exactly 10000
		{9524, 477, false},
	}
	for _, c := range cases {
		if got := photoOK(pngBytes(t, c.w, c.h)); got != c.ok {
			t.Errorf("%dx%d: photoOK = %v", c.w, c.h, got)
		}
	}
	if photoOK([]byte("GIF89a")) {
		t.Error("a broken file passed as a photo")
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
