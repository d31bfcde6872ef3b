package discordfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/panelcast/panelcast/internal/fakechat/faults"
)

const (
	token = "fake-token"
	chat  = "1200000000000000002"
	ua    = "DiscordBot (https://example.test, 1)"
)

// newServer starts a fake without rate limits; TestRateLimits checks them.
func newServer(t *testing.T) *Server {
	t.Helper()
	s := New(token)
	t.Cleanup(s.Close)
	s.SetLimits(Limits{})
	s.AddChannel(Channel{ID: chat, GuildID: "1200000000000000001", Perms: PermAll})
	return s
}

type part struct {
	name, filename string
	data           []byte
}

func multipartBody(t *testing.T, parts ...part) (io.Reader, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		cd := fmt.Sprintf(`form-data; name=%q`, p.name)
		if p.filename != "" {
			cd += fmt.Sprintf(`; filename=%q`, p.filename)
		}
		h.Set("Content-Disposition", cd)
		pw, err := w.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		pw.Write(p.data)
	}
	w.Close()
	return &buf, w.FormDataContentType()
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	text   string
}

func do(t *testing.T, s *Server, method, path, contentType string, body io.Reader, edit func(*http.Request)) answer {
	t.Helper()
	req, err := http.NewRequest(method, s.URL()+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bot "+token)
	req.Header.Set("User-Agent", ua)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if edit != nil {
		edit(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, text: string(raw)}
	json.Unmarshal(raw, &a.body)
	return a
}

func post(t *testing.T, s *Server, payload any, files ...part) answer {
	t.Helper()
	js, _ := json.Marshal(payload)
	body, ct := multipartBody(t, append([]part{{name: "payload_json", data: js}}, files...)...)
	return do(t, s, http.MethodPost, "/channels/"+chat+"/messages", ct, body, nil)
}

func code(a answer) int {
	c, _ := a.body["code"].(float64)
	return int(c)
}

func TestContract(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\n")
	cases := []struct {
		name   string
		send   func(t *testing.T, s *Server) answer
		status int
		code   int
	}{
		{"no user agent", func(t *testing.T, s *Server) answer {
			return do(t, s, http.MethodGet, "/users/@me", "", nil, func(r *http.Request) { r.Header.Set("User-Agent", "Go-http-client/1.1") })
		}, 403, 0},
		{"bearer instead of bot", func(t *testing.T, s *Server) answer {
			return do(t, s, http.MethodGet, "/users/@me", "", nil, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) })
		}, 401, 0},
		{"unknown route", func(t *testing.T, s *Server) answer {
			return do(t, s, http.MethodGet, "/guilds/1", "", nil, nil)
		}, 404, 0},
		{"wrong method", func(t *testing.T, s *Server) answer {
			return do(t, s, http.MethodGet, "/channels/"+chat+"/messages", "", nil, nil)
		}, 405, 0},
		{"channel name", func(t *testing.T, s *Server) answer {
			return do(t, s, http.MethodPost, "/channels/ops/messages", "application/json", strings.NewReader(`{"content":"x"}`), nil)
		}, 400, 50035},
		{"form without payload_json", func(t *testing.T, s *Server) answer {
			body, ct := multipartBody(t, part{name: "files[0]", filename: "a.png", data: png})
			return do(t, s, http.MethodPost, "/channels/"+chat+"/messages", ct, body, nil)
		}, 400, 50035},
		{"legacy file part", func(t *testing.T, s *Server) answer {
			return post(t, s, map[string]any{"content": "x"}, part{name: "file", filename: "a.png", data: png})
		}, 400, 50035},
		{"file without filename", func(t *testing.T, s *Server) answer {
			return post(t, s, map[string]any{"content": "x"}, part{name: "files[0]", data: png})
		}, 400, 50035},
		{"attachment id without part", func(t *testing.T, s *Server) answer {
			return post(t, s, map[string]any{"attachments": []any{map[string]any{"id": 1, "filename": "a.png"}}}, part{name: "files[0]", filename: "a.png", data: png})
		}, 400, 50035},
		{"content too long", func(t *testing.T, s *Server) answer {
			return post(t, s, map[string]any{"content": strings.Repeat("😀", 1001)})
		}, 400, 50035},
		{"nonce too long", func(t *testing.T, s *Server) answer {
			return post(t, s, map[string]any{"content": "x", "nonce": strings.Repeat("1", 26)})
		}, 400, 50035},
		{"empty", func(t *testing.T, s *Server) answer {
			return post(t, s, map[string]any{"content": " "})
		}, 400, 50006},
		{"file too large", func(t *testing.T, s *Server) answer {
			return post(t, s, map[string]any{}, part{name: "files[0]", filename: "a.png", data: make([]byte, MaxFileBytes+1)})
		}, 413, 40005},
		{"request too large", func(t *testing.T, s *Server) answer {
			big := make([]byte, MaxFileBytes)
			return post(t, s, map[string]any{}, part{name: "files[0]", filename: "a", data: big}, part{name: "files[1]", filename: "b", data: big}, part{name: "files[2]", filename: "c", data: big})
		}, 413, 40005},
		{"reply to unknown message", func(t *testing.T, s *Server) answer {
			return post(t, s, map[string]any{"content": "x", "message_reference": map[string]any{"message_id": "1"}})
		}, 400, 50035},
		{"unknown channel", func(t *testing.T, s *Server) answer {
			return do(t, s, http.MethodPost, "/channels/1999999999999999999/messages", "application/json", strings.NewReader(`{"content":"x"}`), nil)
		}, 404, 10003},
		{"text plain body", func(t *testing.T, s *Server) answer {
			return do(t, s, http.MethodPost, "/channels/"+chat+"/messages", "text/plain", strings.NewReader(`x`), nil)
		}, 400, 50035},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newServer(t)
			a := c.send(t, s)
			if a.status != c.status || code(a) != c.code {
				t.Fatalf("got %d %s", a.status, a.text)
			}
			if n := len(s.Messages()); n != 0 {
				t.Fatalf("%d messages recorded for a refused request", n)
			}
		})
	}
}

func TestAcceptedBodies(t *testing.T) {
	s := newServer(t)
	a := post(t, s, map[string]any{"content": strings.Repeat("x", MaxContent),
		"attachments": []any{map[string]any{"id": "0", "filename": "renamed.png"}}},
		part{name: "files[0]", filename: "a.png", data: []byte("img")})
	if a.status != 200 || a.body["guild_id"] != nil || a.body["channel_id"] != chat {
		t.Fatalf("got %d %s", a.status, a.text)
	}
	a = do(t, s, http.MethodPost, "/channels/"+chat+"/messages", "application/json", strings.NewReader(`{"content":"json","nonce":12345}`), nil)
	if a.status != 200 || a.body["nonce"] != "12345" {
		t.Fatalf("got %d %s", a.status, a.text)
	}
	msgs := s.Messages()
	if len(msgs) != 2 || msgs[0].Files[0].Name != "renamed.png" || string(msgs[0].Files[0].Data) != "img" || msgs[1].Content != "json" {
		t.Fatalf("messages %+v", msgs)
	}
}

func TestNonce(t *testing.T) {
	s := newServer(t)
	first := post(t, s, map[string]any{"content": "a", "nonce": "42", "enforce_nonce": true})
	again := post(t, s, map[string]any{"content": "b", "nonce": "42", "enforce_nonce": true})
	if first.body["id"] != again.body["id"] || again.body["content"] != "a" || len(s.Messages()) != 1 {
		t.Fatalf("enforced nonce posted twice: %s / %s", first.text, again.text)
	}
	post(t, s, map[string]any{"content": "c", "nonce": "43"})
	post(t, s, map[string]any{"content": "c", "nonce": "43"})
	if n := len(s.Messages()); n != 3 {
		t.Fatalf("%d messages; without enforce_nonce a nonce does not dedupe", n)
	}
}

func TestPermissions(t *testing.T) {
	cases := []struct {
		perms Perm
		files bool
		reply bool
		code  int
	}{
		{0, false, false, 50001},
		{PermView, false, false, 50013},
		{PermView | PermSend, true, false, 50013},
		{PermView | PermSend | PermAttach, false, true, 50013},
		{PermView | PermSend, false, false, 0},
	}
	for _, c := range cases {
		s := newServer(t)
		parent := post(t, s, map[string]any{"content": "parent"})
		s.AddChannel(Channel{ID: chat, GuildID: "1", Perms: c.perms})
		p := map[string]any{"content": "x"}
		var files []part
		if c.files {
			files = append(files, part{name: "files[0]", filename: "a.png", data: []byte("x")})
		}
		if c.reply {
			p["message_reference"] = map[string]any{"message_id": parent.body["id"]}
		}
		if a := post(t, s, p, files...); code(a) != c.code {
			t.Errorf("perms %04b files=%v reply=%v: got %d %s", c.perms, c.files, c.reply, a.status, a.text)
		}
	}
	s := newServer(t)
	s.AddChannel(Channel{ID: "1300000000000000009"})
	if a := do(t, s, http.MethodGet, "/channels/1300000000000000009", "", nil, nil); a.status != 200 || a.body["type"] != float64(1) {
		t.Fatalf("DM channel: %d %s", a.status, a.text)
	}
}

func TestInjectedFailures(t *testing.T) {
	s := newServer(t)
	s.RateLimitNext(2, 1500*time.Millisecond)
	for range 2 {
		a := do(t, s, http.MethodGet, "/users/@me", "", nil, nil)
		if a.status != 429 || a.body["retry_after"] != 1.5 || a.header.Get("Retry-After") != "2" || a.header.Get("X-RateLimit-Scope") != "user" {
			t.Fatalf("got %d %v %s", a.status, a.header, a.text)
		}
	}
	s.FailNext(1, 503)
	if a := do(t, s, http.MethodGet, "/users/@me", "", nil, nil); a.status != 503 {
		t.Fatalf("got %d", a.status)
	}
	if a := do(t, s, http.MethodGet, "/users/@me", "", nil, nil); a.status != 200 || a.body["id"] != BotUserID {
		t.Fatalf("got %d %s", a.status, a.text)
	}
	calls := s.Calls()
	if len(calls) != 4 || calls[0].Status != 429 || calls[3].Path != "/api/v10/users/@me" {
		t.Fatalf("calls %+v", calls)
	}
}

func TestConcurrentPosts(t *testing.T) {
	s := newServer(t)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			js := fmt.Sprintf(`{"content":"m%d"}`, i)
			req, _ := http.NewRequest(http.MethodPost, s.URL()+"/channels/"+chat+"/messages", strings.NewReader(js))
			req.Header.Set("Authorization", "Bot "+token)
			req.Header.Set("User-Agent", ua)
			req.Header.Set("Content-Type", "application/json")
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
			s.Messages()
		})
	}
	wg.Wait()
	ids := map[string]bool{}
	for _, m := range s.Messages() {
		ids[m.ID] = true
	}
	if len(ids) != 20 {
		t.Fatalf("%d distinct messages, want 20", len(ids))
	}
}

func TestAttachmentLimits(t *testing.T) {
	s := newServer(t)
	files := func(n int) ([]any, []part) {
		var atts []any
		var parts []part
		for i := range n {
			atts = append(atts, map[string]any{"id": i, "filename": fmt.Sprintf("p%d.png", i), "description": "CPU of web-1"})
			parts = append(parts, part{name: fmt.Sprintf("files[%d]", i), filename: "a.png", data: []byte("img")})
		}
		return atts, parts
	}
	atts, parts := files(MaxFiles)
	if a := post(t, s, map[string]any{"content": "ten", "attachments": atts}, parts...); a.status != 200 {
		t.Fatalf("ten attachments: %d %s", a.status, a.text)
	}
	if m := s.Messages()[0]; len(m.Files) != 10 || m.Files[9].Name != "p9.png" || m.Files[9].Description != "CPU of web-1" {
		t.Fatalf("message %+v", m.Files)
	}
	atts, parts = files(MaxFiles + 1)
	if a := post(t, s, map[string]any{"content": "eleven", "attachments": atts}, parts...); a.status != 400 || code(a) != 50035 ||
		!strings.Contains(a.text, "Must be 10 or fewer in length.") {
		t.Fatalf("eleven attachments: %d %s", a.status, a.text)
	}
	long := []any{map[string]any{"id": 0, "filename": "a.png", "description": strings.Repeat("x", MaxDescription+1)}}
	if a := post(t, s, map[string]any{"attachments": long}, part{name: "files[0]", filename: "a.png", data: []byte("x")}); code(a) != 50035 {
		t.Fatalf("long description: %d %s", a.status, a.text)
	}
}

func TestEditContract(t *testing.T) {
	s := newServer(t)
	msg := post(t, s, map[string]any{"content": "firing", "attachments": []any{map[string]any{"id": 0, "filename": "a.png"}}},
		part{name: "files[0]", filename: "a.png", data: []byte("img")})
	id := msg.body["id"].(string)
	patch := func(path, body string) answer {
		return do(t, s, http.MethodPatch, path, "application/json", strings.NewReader(body), nil)
	}
	path := "/channels/" + chat + "/messages/" + id
	cases := []struct {
		path, body string
		status     int
		code       int
	}{
		{"/channels/" + chat + "/messages/1999999999999999999", `{"content":"x"}`, 404, 10008},
		{"/channels/1999999999999999999/messages/" + id, `{"content":"x"}`, 404, 10003},
		{path, `{"content":"` + strings.Repeat("x", MaxContent+1) + `"}`, 400, 50035},
		{path, `{"content":`, 400, 50109},
	}
	for _, c := range cases {
		if a := patch(c.path, c.body); a.status != c.status || code(a) != c.code {
			t.Errorf("PATCH %s %.30s: got %d %s", c.path, c.body, a.status, a.text)
		}
	}
	if a := do(t, s, http.MethodPost, path, "application/json", strings.NewReader(`{}`), nil); a.status != 405 {
		t.Fatalf("POST to a message: %d", a.status)
	}
	a := patch(path, `{"content":"resolved"}`)
	if a.status != 200 || a.body["content"] != "resolved" || a.body["edited_timestamp"] == nil || len(a.body["attachments"].([]any)) != 1 {
		t.Fatalf("edit: %d %s", a.status, a.text)
	}
	if m := s.Messages()[0]; m.Content != "resolved" || m.Edits != 1 || len(m.Files) != 1 {
		t.Fatalf("message %+v", m)
	}
	s.MarkForeign(id)
	if a := patch(path, `{"content":"mine now"}`); a.status != 403 || code(a) != 50005 {
		t.Fatalf("editing another's message: %d %s", a.status, a.text)
	}
}

func TestRateLimits(t *testing.T) {
	s := New(token)
	defer s.Close()
	s.AddChannel(Channel{ID: chat, GuildID: "1200000000000000001", Perms: PermAll})
	const other = "1200000000000000003"
	s.AddChannel(Channel{ID: other, GuildID: "1200000000000000001", Perms: PermAll})
	msg := func(channel string) answer {
		return do(t, s, http.MethodPost, "/channels/"+channel+"/messages", "application/json", strings.NewReader(`{"content":"x"}`), nil)
	}
	// By default the bucket of a channel's messages holds 5 per 5 seconds,
	// and every answer says how many are left.
	for i := range 5 {
		a := msg(chat)
		if a.status != 200 || a.header.Get("X-RateLimit-Limit") != "5" || a.header.Get("X-RateLimit-Remaining") != fmt.Sprint(4-i) ||
			a.header.Get("X-RateLimit-Bucket") == "" || a.header.Get("X-RateLimit-Reset-After") == "" {
			t.Fatalf("message %d: %d %v", i, a.status, a.header)
		}
	}
	if len(s.Violations()) != 0 {
		t.Fatal("no violation yet")
	}
	// Told Remaining 0, a caller that sends anyway is refused and noted.
	a := msg(chat)
	var retry float64
	fmt.Sscan(a.header.Get("X-RateLimit-Reset-After"), &retry)
	if a.status != 429 || a.body["global"] != false || a.body["retry_after"].(float64) <= 0 || a.body["retry_after"].(float64) > 5 ||
		a.header.Get("X-RateLimit-Scope") != "user" || a.header.Get("Retry-After") == "" {
		t.Fatalf("sixth message: %d %v %s", a.status, a.header, a.text)
	}
	if v := s.Violations(); len(v) != 1 || v[0].Key != "POST /channels/"+chat+"/messages" {
		t.Fatalf("violations %+v", v)
	}
	// Another channel has its own bucket.
	if a := msg(other); a.status != 200 || a.header.Get("X-RateLimit-Remaining") != "4" {
		t.Fatalf("other channel: %d %v", a.status, a.header)
	}
	s.SetLimits(Limits{Global: faults.Limit{N: 2, Per: time.Second}})
	msg(other)
	msg(other)
	if a := msg(other); a.status != 429 || a.body["global"] != true || a.header.Get("X-RateLimit-Global") != "true" {
		t.Fatalf("over the global limit: %d %v %s", a.status, a.header, a.text)
	}
}
