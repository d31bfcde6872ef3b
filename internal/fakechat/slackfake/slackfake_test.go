package slackfake

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/panelcast/panelcast/internal/fakechat/faults"
)

const token = "xoxb-fake-token"

type call struct {
	t   *testing.T
	srv *Server
}

// form posts args URL-encoded with the token in the body, as slack-go does.
func (c call) form(method string, args url.Values) (int, map[string]any) {
	c.t.Helper()
	if args == nil {
		args = url.Values{}
	}
	resp, err := http.PostForm(c.srv.APIURL()+method, args)
	if err != nil {
		c.t.Fatal(err)
	}
	return decode(c.t, resp)
}

// bearer posts JSON with the token in the Authorization header.
func (c call) bearer(tok, method string, body map[string]any) (int, map[string]any) {
	c.t.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, c.srv.APIURL()+method, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	return decode(c.t, resp)
}

func decode(t *testing.T, resp *http.Response) (int, map[string]any) {
	t.Helper()
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("answer is not JSON: %v", err)
	}
	return resp.StatusCode, out
}

func withToken(kv ...string) url.Values {
	v := url.Values{"token": {token}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

func wantError(t *testing.T, out map[string]any, code string) {
	t.Helper()
	if out["ok"] != false || out["error"] != code {
		t.Fatalf("answer %v, want error %q", out, code)
	}
}

// newServer starts a fake without rate limits; TestRateLimits checks them.
func newServer(t *testing.T) (*Server, call) {
	s := New(token)
	t.Cleanup(s.Close)
	s.SetLimits(Limits{})
	return s, call{t: t, srv: s}
}

func TestAuth(t *testing.T) {
	_, c := newServer(t)
	_, out := c.form("auth.test", nil)
	wantError(t, out, "not_authed")
	_, out = c.form("auth.test", url.Values{"token": {"xoxb-other"}})
	wantError(t, out, "invalid_auth")
	_, out = c.bearer("xoxb-other", "auth.test", nil)
	wantError(t, out, "invalid_auth")
	_, out = c.bearer("", "auth.test", map[string]any{"token": token})
	wantError(t, out, "not_authed") // a JSON body cannot carry the token

	resp, err := http.Get(c.srv.APIURL() + "auth.test?token=" + token)
	if err != nil {
		t.Fatal(err)
	}
	_, out = decode(t, resp)
	wantError(t, out, "not_authed") // nor can the query string

	_, out = c.bearer(token, "auth.test", nil)
	if out["ok"] != true || out["user"] != DefaultBotName {
		t.Fatalf("auth.test = %v", out)
	}
	c.srv.RevokeToken()
	_, out = c.form("auth.test", withToken())
	wantError(t, out, "token_revoked")
}

func TestScopes(t *testing.T) {
	s, c := newServer(t)
	s.SetScopes("chat:write")
	_, out := c.form("files.getUploadURLExternal", withToken("filename", "a.png", "length", "3"))
	wantError(t, out, "missing_scope")
	if out["needed"] != "files:write" {
		t.Fatalf("needed = %v", out["needed"])
	}
	_, out = c.form("conversations.list", withToken("types", "public_channel"))
	wantError(t, out, "missing_scope")
	s.SetScopes("channels:read")
	_, out = c.form("conversations.list", withToken("types", "public_channel,private_channel"))
	wantError(t, out, "missing_scope")
	if out["needed"] != "groups:read" {
		t.Fatalf("needed = %v", out["needed"])
	}
}

// upload runs the first two steps of the external upload and returns the
// file id.
func upload(t *testing.T, c call, data []byte, declared string, extra ...string) (string, *http.Response) {
	t.Helper()
	_, out := c.form("files.getUploadURLExternal", withToken(append([]string{"filename", "p.png", "length", declared}, extra...)...))
	if out["ok"] != true {
		t.Fatalf("getUploadURLExternal = %v", out)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "p.png")
	fw.Write(data)
	mw.Close()
	resp, err := http.Post(out["upload_url"].(string), mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return out["file_id"].(string), resp
}

func TestExternalUploadContract(t *testing.T) {
	s, c := newServer(t)
	s.AddChannel("C0000OPS1", "ops", true)
	s.AddChannel("C0000OUT1", "out", false)
	s.SetShareDelay(200 * time.Millisecond)

	_, out := c.form("files.getUploadURLExternal", withToken("filename", "p.png", "length", "0"))
	wantError(t, out, "missing_argument")
	_, out = c.form("files.getUploadURLExternal", withToken("length", "3"))
	wantError(t, out, "invalid_arguments")

	if _, resp := upload(t, c, []byte("abcd"), "3"); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a length mismatch was accepted: %s", resp.Status)
	}

	id, resp := upload(t, c, []byte("abc"), "3")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("upload: %s", resp.Status)
	}
	files := `[{"id":"` + id + `","title":"p"}]`
	_, out = c.form("files.completeUploadExternal", withToken("files", files, "channel_id", "ops"))
	wantError(t, out, "invalid_arguments") // channel_id takes ids only
	_, out = c.form("files.completeUploadExternal", withToken("files", files, "channel_id", "C0000OUT1"))
	wantError(t, out, "not_in_channel")
	_, out = c.form("files.completeUploadExternal", withToken("files", files, "channel_id", "C0000OPS1", "thread_ts", "1.2"))
	wantError(t, out, "invalid_thread_ts")
	_, out = c.form("files.completeUploadExternal", withToken("files", files, "channel_id", "C0000OPS1", "initial_comment", "hi"))
	if out["ok"] != true {
		t.Fatalf("complete = %v", out)
	}
	_, out = c.form("files.completeUploadExternal", withToken("files", files, "channel_id", "C0000OPS1"))
	wantError(t, out, "file_not_found") // completion happens once

	// The share shows in files.info only after the delay.
	_, out = c.form("files.info", withToken("file", id))
	if sh := out["file"].(map[string]any)["shares"].(map[string]any); len(sh) != 0 {
		t.Fatalf("shares visible at once: %v", sh)
	}
	time.Sleep(250 * time.Millisecond)
	_, out = c.form("files.info", withToken("file", id))
	pub := out["file"].(map[string]any)["shares"].(map[string]any)["public"].(map[string]any)
	ts := pub["C0000OPS1"].([]any)[0].(map[string]any)["ts"]

	msgs := s.Messages()
	if len(msgs) != 1 || msgs[0].TS != ts || msgs[0].Text != "hi" || string(msgs[0].Files[0].Data) != "abc" {
		t.Fatalf("messages %+v, share ts %v", msgs, ts)
	}
}

func TestConversationsListPaging(t *testing.T) {
	s, c := newServer(t)
	for _, ch := range []struct{ id, name string }{{"C00000001", "a"}, {"C00000002", "b"}, {"C00000003", "c"}} {
		s.AddChannel(ch.id, ch.name, false)
	}
	s.AddPrivateChannel("G00000004", "hidden", false)
	s.AddPrivateChannel("G00000005", "mine", true)

	var names []string
	cursor := ""
	for range 10 {
		_, out := c.form("conversations.list", withToken("types", "public_channel,private_channel", "limit", "2", "cursor", cursor))
		for _, ch := range out["channels"].([]any) {
			names = append(names, ch.(map[string]any)["name"].(string))
		}
		cursor = out["response_metadata"].(map[string]any)["next_cursor"].(string)
		if cursor == "" {
			break
		}
	}
	if got := strings.Join(names, ","); got != "a,b,c,mine" {
		t.Fatalf("listed %s, want a,b,c,mine", got)
	}
	_, out := c.form("conversations.list", withToken("cursor", "bogus"))
	wantError(t, out, "invalid_cursor")
}

func TestRateLimitAndFailures(t *testing.T) {
	s, c := newServer(t)
	s.RateLimitNext(2, 1500*time.Millisecond)
	for range 2 {
		resp, err := http.PostForm(s.APIURL()+"auth.test", withToken())
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "2" {
			t.Fatalf("got %s with Retry-After %q", resp.Status, resp.Header.Get("Retry-After"))
		}
		resp.Body.Close()
	}
	s.FailNext(1, 502)
	resp, err := http.PostForm(s.APIURL()+"auth.test", withToken())
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 502 {
		t.Fatalf("got %s, want 502", resp.Status)
	}
	if _, out := c.form("auth.test", withToken()); out["ok"] != true {
		t.Fatalf("after the limits: %v", out)
	}
	if n := s.Calls("auth.test"); n != 4 {
		t.Fatalf("Calls = %d, want 4", n)
	}
	if n := s.RateLimited(); n != 2 {
		t.Fatalf("RateLimited = %d, want the 2 injected", n)
	}
}

func TestPostMessageAndPermalink(t *testing.T) {
	s, c := newServer(t)
	s.AddChannel("C0000OPS1", "ops", true)
	_, out := c.bearer(token, "chat.postMessage", map[string]any{"channel": "C0000OPS1"})
	wantError(t, out, "no_text")
	_, out = c.bearer(token, "chat.postMessage", map[string]any{"channel": "C0000OPS1", "text": "root"})
	root := out["ts"].(string)
	_, out = c.bearer(token, "chat.postMessage", map[string]any{"channel": "#ops", "text": "reply", "thread_ts": root})
	reply := out["ts"].(string)
	_, out = c.bearer(token, "chat.postMessage", map[string]any{"channel": "C0000OPS1", "text": "x", "thread_ts": reply})
	wantError(t, out, "invalid_thread_ts") // threads hang off the parent, never a reply

	_, out = c.form("chat.getPermalink", withToken("channel", "C0000OPS1", "message_ts", reply))
	if link, _ := out["permalink"].(string); !strings.Contains(link, "thread_ts="+root) {
		t.Fatalf("permalink = %v", out)
	}
	_, out = c.form("chat.getPermalink", withToken("channel", "C0000OPS1", "message_ts", "9.9"))
	wantError(t, out, "message_not_found")
	if msgs := s.Messages(); len(msgs) != 2 || msgs[1].ThreadTS != root {
		t.Fatalf("messages %+v", msgs)
	}
}

// TestPermalinkOpensTheMessage: a permalink from chat.getPermalink opens
// a page with the message's text and its file inline, text escaped; an
// unknown one is a 404.
func TestPermalinkOpensTheMessage(t *testing.T) {
	s, c := newServer(t)
	s.AddChannel("C0000OPS1", "ops", true)
	id, resp := upload(t, c, []byte("abc"), "3")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("upload: %s", resp.Status)
	}
	files := `[{"id":"` + id + `","title":"p"}]`
	_, out := c.form("files.completeUploadExternal", withToken("files", files, "channel_id", "C0000OPS1", "initial_comment", "CPU <high>"))
	if out["ok"] != true {
		t.Fatalf("complete = %v", out)
	}
	ts := s.Messages()[0].TS
	_, out = c.form("chat.getPermalink", withToken("channel", "C0000OPS1", "message_ts", ts))
	link, _ := out["permalink"].(string)
	page := get(t, link)
	if page.code != http.StatusOK || !strings.Contains(page.body, "CPU &lt;high&gt;") ||
		!strings.Contains(page.body, "data:image/png;base64,"+base64.StdEncoding.EncodeToString([]byte("abc"))) || !strings.Contains(page.body, "#ops") {
		t.Fatalf("%s answered %d:\n%s", link, page.code, page.body)
	}
	for _, bad := range []string{"/archives/C0000OPS1/p1", "/archives/C0NONE/p" + strings.ReplaceAll(ts, ".", ""), "/archives/C0000OPS1"} {
		if page := get(t, s.URL()+bad); page.code != http.StatusNotFound {
			t.Errorf("%s answered %d, want 404", bad, page.code)
		}
	}
}

type answer struct {
	code int
	body string
}

func get(t *testing.T, u string) answer {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, string(b)}
}

func TestConcurrentUse(t *testing.T) {
	s, _ := newServer(t)
	s.AddChannel("C0000OPS1", "ops", true)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			resp, err := http.PostForm(s.APIURL()+"chat.postMessage", withToken("channel", "C0000OPS1", "text", "x"))
			if err == nil {
				resp.Body.Close()
			}
			s.Messages()
		})
	}
	wg.Wait()
	if n := len(s.Messages()); n != 16 {
		t.Fatalf("%d messages, want 16", n)
	}
}

func TestSeveralFilesInOneMessage(t *testing.T) {
	s, c := newServer(t)
	s.AddChannel("C0000OPS1", "ops", true)
	s.SetShareDelay(0)
	var list []string
	for i := range MaxFilesPerMessage + 1 {
		id, _ := upload(t, c, []byte("png"), "3", "alt_txt", fmt.Sprintf("panel %d", i))
		list = append(list, `{"id":"`+id+`","title":"t`+fmt.Sprint(i)+`"}`)
	}
	_, out := c.form("files.completeUploadExternal", withToken("files", "["+strings.Join(list, ",")+"]", "channel_id", "C0000OPS1"))
	wantError(t, out, "invalid_arguments")
	_, out = c.form("files.completeUploadExternal", withToken("files", "["+strings.Join(list[:MaxFilesPerMessage], ",")+"]",
		"channel_id", "C0000OPS1", "initial_comment", "ten"))
	if out["ok"] != true || len(out["files"].([]any)) != MaxFilesPerMessage {
		t.Fatalf("ten files: %v", out)
	}
	msgs := s.Messages()
	if len(msgs) != 1 || len(msgs[0].Files) != MaxFilesPerMessage || msgs[0].Files[3].AltText != "panel 3" || msgs[0].Files[3].Title != "t3" {
		t.Fatalf("messages %+v", msgs)
	}
	// Every file's share shows the one message's ts.
	for _, f := range msgs[0].Files {
		_, info := c.form("files.info", withToken("file", f.ID))
		pub := info["file"].(map[string]any)["shares"].(map[string]any)["public"].(map[string]any)
		if ts := pub["C0000OPS1"].([]any)[0].(map[string]any)["ts"]; ts != msgs[0].TS {
			t.Fatalf("file %s shared as %v, message ts %s", f.ID, ts, msgs[0].TS)
		}
	}
}

func TestUpdateContract(t *testing.T) {
	s, c := newServer(t)
	s.AddChannel("C0000OPS1", "ops", true)
	id, _ := upload(t, c, []byte("png"), "3")
	c.form("files.completeUploadExternal", withToken("files", `[{"id":"`+id+`"}]`, "channel_id", "C0000OPS1", "initial_comment", "firing"))
	ts := s.Messages()[0].TS
	cases := []struct {
		args []string
		code string
	}{
		{[]string{"channel", "C0000OPS1", "ts", ts}, "no_text"},
		{[]string{"channel", "ops", "ts", ts, "text", "x"}, "channel_not_found"},
		{[]string{"channel", "C0000OPS1", "ts", "1.000009", "text", "x"}, "message_not_found"},
		{[]string{"channel", "C0000OPS1", "ts", ts, "text", strings.Repeat("x", MaxText+1)}, "msg_too_long"},
	}
	for _, tc := range cases {
		_, out := c.form("chat.update", withToken(tc.args...))
		wantError(t, out, tc.code)
	}
	_, out := c.form("chat.update", withToken("channel", "C0000OPS1", "ts", ts, "text", "resolved"))
	if out["ok"] != true || out["ts"] != ts || out["text"] != "resolved" {
		t.Fatalf("update: %v", out)
	}
	if m := s.Messages()[0]; m.Text != "resolved" || m.Edits != 1 || len(m.Files) != 1 {
		t.Fatalf("message %+v: the files stay", m)
	}
	s.MarkForeign(ts)
	_, out = c.form("chat.update", withToken("channel", "C0000OPS1", "ts", ts, "text", "mine"))
	wantError(t, out, "cant_update_message")
	s.SetScopes("files:write")
	_, out = c.form("chat.update", withToken("channel", "C0000OPS1", "ts", ts, "text", "x"))
	wantError(t, out, "missing_scope")
}

func TestRateLimits(t *testing.T) {
	s := New(token)
	defer s.Close()
	c := call{t: t, srv: s}
	s.AddChannel("C0000OPS1", "ops", true)
	s.AddChannel("C0000DEV1", "dev", true)
	post := func(channel string) *http.Response {
		resp, err := http.PostForm(s.APIURL()+"chat.postMessage", withToken("channel", channel, "text", "x"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	// By default one message per second per channel.
	if resp := post("C0000OPS1"); resp.StatusCode != 200 {
		t.Fatalf("first: %s", resp.Status)
	}
	if resp := post("#ops"); resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("second within a second: %s %v", resp.Status, resp.Header)
	}
	if len(s.Violations()) != 0 {
		t.Fatal("a first 429 is no violation")
	}
	post("C0000OPS1")
	if v := s.Violations(); len(v) != 1 || v[0].Key != "post C0000OPS1" {
		t.Fatalf("violations %+v", v)
	}
	if resp := post("C0000DEV1"); resp.StatusCode != 200 {
		t.Fatalf("another channel: %s", resp.Status)
	}
	// Tiers count per method, whichever channel.
	s.SetLimits(Limits{Methods: map[string]faults.Limit{"files.info": {N: 2, Per: time.Minute}}})
	for i := range 3 {
		resp, err := http.PostForm(s.APIURL()+"files.info", withToken("file", "F1"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if (i < 2) != (resp.StatusCode == 200) {
			t.Fatalf("files.info %d: %s", i, resp.Status)
		}
	}
	if _, out := c.form("auth.test", withToken()); out["ok"] != true {
		t.Fatalf("another method is not limited: %v", out)
	}
	if n := s.RateLimited(); n != 3 {
		t.Fatalf("RateLimited = %d, want the 3 answers 429", n)
	}
}
