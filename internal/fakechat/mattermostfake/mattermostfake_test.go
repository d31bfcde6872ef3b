package mattermostfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/panelcast/panelcast/internal/fakechat/faults"
)

const token = "faketoken0123456789abcdefg"

type client struct {
	t   *testing.T
	srv *Server
}

// newServer starts a fake without its rate limiter; TestRateLimiter
// checks that.
func newServer(t *testing.T) (*Server, client) {
	s := New(token, "eng")
	t.Cleanup(s.Close)
	s.SetRateLimit(faults.Limit{})
	return s, client{t: t, srv: s}
}

// call sends a request with the given Authorization header value.
func (c client) call(auth, method, path, contentType string, body io.Reader) (*http.Response, map[string]any) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.srv.URL()+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	if out == nil {
		out = map[string]any{"raw": string(raw)}
	}
	return resp, out
}

func (c client) get(path string) (*http.Response, map[string]any) {
	return c.call("Bearer "+token, http.MethodGet, path, "", nil)
}

func (c client) post(v any) (*http.Response, map[string]any) {
	raw, _ := json.Marshal(v)
	return c.call("Bearer "+token, http.MethodPost, "/api/v4/posts", "application/json", bytes.NewReader(raw))
}

// upload sends one file in the documented multipart form.
func (c client) upload(channelID, field string, data []byte, extra ...string) (*http.Response, map[string]any) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("channel_id", channelID)
	for i := 0; i+1 < len(extra); i += 2 {
		mw.WriteField(extra[i], extra[i+1])
	}
	fw, _ := mw.CreateFormFile(field, "p.png")
	fw.Write(data)
	mw.Close()
	return c.call("Bearer "+token, http.MethodPost, "/api/v4/files", mw.FormDataContentType(), &body)
}

func want(t *testing.T, resp *http.Response, out map[string]any, status int, id string) {
	t.Helper()
	if resp.StatusCode != status || (id != "" && out["id"] != id) {
		t.Fatalf("got %d %v, want %d %s", resp.StatusCode, out, status, id)
	}
	if id != "" && out["status_code"] != float64(status) {
		t.Fatalf("status_code %v in the body, want %d", out["status_code"], status)
	}
}

func TestAuth(t *testing.T) {
	_, c := newServer(t)
	resp, out := c.call("", http.MethodGet, "/api/v4/users/me", "", nil)
	want(t, resp, out, 401, "api.context.session_expired.app_error")
	resp, out = c.call("Bearer nottherighttoken", http.MethodGet, "/api/v4/users/me", "", nil)
	want(t, resp, out, 401, "api.context.session_expired.app_error")
	if out["detailed_error"] != "token=nottherighttoken" {
		t.Fatalf("detailed_error = %v: the fake should echo the token as the server does", out["detailed_error"])
	}
	resp, out = c.call("Basic "+token, http.MethodGet, "/api/v4/users/me", "", nil)
	want(t, resp, out, 401, "api.context.session_expired.app_error")
	for _, auth := range []string{"Bearer " + token, "bearer " + token, "Token " + token} {
		resp, out = c.call(auth, http.MethodGet, "/api/v4/users/me", "", nil)
		want(t, resp, out, 200, "")
		if out["username"] != BotUsername {
			t.Fatalf("users/me = %v", out)
		}
	}
	resp, out = c.get("/api/v4/nowhere")
	want(t, resp, out, 404, "api.context.404.app_error")
}

func TestChannelsByName(t *testing.T) {
	s, c := newServer(t)
	ops := s.AddChannel("", "ops", false)
	s.AddPrivateChannel("", "secret", false)
	mine := s.AddPrivateChannel("", "mine", true)

	resp, out := c.get("/api/v4/teams/name/eng/channels/name/ops")
	want(t, resp, out, 200, "")
	if out["id"] != ops {
		t.Fatalf("ops = %v", out)
	}
	resp, out = c.get("/api/v4/teams/name/eng/channels/name/mine")
	want(t, resp, out, 200, "")
	if out["id"] != mine || out["type"] != "P" {
		t.Fatalf("mine = %v", out)
	}
	resp, out = c.get("/api/v4/teams/name/eng/channels/name/secret")
	want(t, resp, out, 404, "app.channel.get_by_name.missing.app_error")
	resp, out = c.get("/api/v4/teams/name/eng/channels/name/none")
	want(t, resp, out, 404, "app.channel.get_by_name.missing.app_error")
	resp, out = c.get("/api/v4/teams/name/sales/channels/name/ops")
	want(t, resp, out, 404, "app.team.get_by_name.missing.app_error")

	s.SetTeamMember(false)
	resp, out = c.get("/api/v4/teams/name/eng/channels/name/ops")
	want(t, resp, out, 403, "api.context.permissions.app_error")
	resp, out = c.get("/api/v4/teams/name/eng")
	want(t, resp, out, 403, "api.context.permissions.app_error")
	if n := s.Calls(RouteChannelByName); n != 6 {
		t.Fatalf("Calls = %d, want 6", n)
	}
}

func TestUploadContract(t *testing.T) {
	s, c := newServer(t)
	ops := s.AddChannel("", "ops", true)
	out := s.AddChannel("", "out", false)

	resp, body := c.call("Bearer "+token, http.MethodPost, "/api/v4/files", "multipart/form-data; boundary=x", nil)
	want(t, resp, body, 400, "api.file.upload_file.read_request.app_error")
	resp, body = c.upload(ops, "file", []byte("abc"))
	want(t, resp, body, 400, "api.context.invalid_body_param.app_error")
	resp, body = c.upload(ops, "files", []byte("abc"), "comment", "x")
	want(t, resp, body, 400, "api.context.invalid_body_param.app_error")
	resp, body = c.upload(ops, "files", []byte("abc"), "client_ids", "a", "client_ids", "b")
	want(t, resp, body, 400, "api.file.upload_file.incorrect_number_of_client_ids.app_error")
	resp, body = c.upload("ops", "files", []byte("abc"))
	want(t, resp, body, 400, "api.context.invalid_url_param.app_error")
	resp, body = c.upload(out, "files", []byte("abc"))
	want(t, resp, body, 403, "api.context.permissions.app_error")
	s.SetMaxFileSize(2)
	resp, body = c.upload(ops, "files", []byte("abc"))
	want(t, resp, body, 413, "api.file.upload_file.too_large_detailed.app_error")
	s.SetMaxFileSize(DefaultMaxFileSize)

	resp, body = c.upload(ops, "files", []byte("abc"), "client_ids", "c1")
	want(t, resp, body, 201, "")
	infos := body["file_infos"].([]any)
	if len(infos) != 1 || body["client_ids"].([]any)[0] != "c1" {
		t.Fatalf("upload = %v", body)
	}

	// The simple form: channel_id and filename in the query, the file as the body.
	resp, body = c.call("Bearer "+token, http.MethodPost, "/api/v4/files?channel_id="+ops+"&filename=raw.png", "image/png", strings.NewReader("raw"))
	want(t, resp, body, 201, "")
}

func uploadID(t *testing.T, c client, channelID string, data string) string {
	t.Helper()
	resp, body := c.upload(channelID, "files", []byte(data))
	want(t, resp, body, 201, "")
	return body["file_infos"].([]any)[0].(map[string]any)["id"].(string)
}

func TestPostContract(t *testing.T) {
	s, c := newServer(t)
	ops := s.AddChannel("", "ops", true)
	dev := s.AddChannel("", "dev", true)
	out := s.AddChannel("", "out", false)

	resp, body := c.post(map[string]any{"channel_id": out, "message": "x"})
	want(t, resp, body, 403, "api.context.permissions.app_error")
	resp, body = c.call("Bearer "+token, http.MethodPost, "/api/v4/posts", "application/json", strings.NewReader("{"))
	want(t, resp, body, 400, "api.context.invalid_body_param.app_error")

	mine := uploadID(t, c, ops, "pic")
	elsewhere := uploadID(t, c, dev, "other")
	resp, body = c.post(map[string]any{"channel_id": ops, "message": "root", "file_ids": []string{mine, elsewhere, "nope"}})
	want(t, resp, body, 201, "")
	root := body["id"].(string)
	if ids := body["file_ids"].([]any); len(ids) != 1 || ids[0] != mine {
		t.Fatalf("attached %v, want only %s: files of other channels are dropped", ids, mine)
	}
	resp, body = c.post(map[string]any{"channel_id": ops, "message": "again", "file_ids": []string{mine}})
	want(t, resp, body, 201, "")
	if ids := body["file_ids"].([]any); len(ids) != 0 {
		t.Fatalf("a file attached twice: %v", ids)
	}

	resp, body = c.post(map[string]any{"channel_id": ops, "message": "r", "root_id": root})
	want(t, resp, body, 201, "")
	reply := body["id"].(string)
	resp, body = c.post(map[string]any{"channel_id": ops, "message": "r", "root_id": reply})
	want(t, resp, body, 400, "api.post.create_post.root_id.app_error")
	resp, body = c.post(map[string]any{"channel_id": ops, "message": "r", "root_id": NewID()})
	want(t, resp, body, 400, "api.post.create_post.root_id.app_error")
	resp, body = c.post(map[string]any{"channel_id": dev, "message": "r", "root_id": root})
	want(t, resp, body, 400, "api.post.create_post.channel_root_id.app_error")
	resp, body = c.post(map[string]any{"channel_id": ops, "message": "x", "file_ids": []string{"1", "2", "3", "4", "5", "6"}})
	want(t, resp, body, 400, "model.post.is_valid.file_ids.app_error")
	resp, body = c.post(map[string]any{"channel_id": ops, "message": strings.Repeat("é", MaxMessageRunes+1)})
	want(t, resp, body, 400, "model.post.is_valid.message_length.app_error")

	msgs := s.Messages()
	if len(msgs) != 3 || string(msgs[0].Files[0].Data) != "pic" || msgs[2].RootID != root || len(msgs[1].Files) != 0 {
		t.Fatalf("posts %+v", msgs)
	}
}

func TestRateLimitAndFailures(t *testing.T) {
	s, c := newServer(t)
	s.RateLimitNext(1, 2500*time.Millisecond)
	resp, body := c.get("/api/v4/users/me")
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "3" || resp.Header.Get("X-RateLimit-Reset") != "3" ||
		!strings.HasPrefix(body["raw"].(string), "limit exceeded") {
		t.Fatalf("got %s %v %v", resp.Status, resp.Header, body)
	}
	s.FailNext(1, 503)
	resp, _ = c.get("/api/v4/users/me")
	if resp.StatusCode != 503 {
		t.Fatalf("got %s, want 503", resp.Status)
	}
	resp, _ = c.get("/api/v4/users/me")
	if resp.StatusCode != 200 {
		t.Fatalf("got %s after the injected failures", resp.Status)
	}
	if n := s.Calls(RouteMe); n != 3 {
		t.Fatalf("Calls = %d, want 3", n)
	}
}

func TestConcurrentUse(t *testing.T) {
	s, _ := newServer(t)
	ops := s.AddChannel("", "ops", true)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			raw, _ := json.Marshal(map[string]any{"channel_id": ops, "message": "x"})
			req, _ := http.NewRequest(http.MethodPost, s.URL()+"/api/v4/posts", bytes.NewReader(raw))
			req.Header.Set("Authorization", "Bearer "+token)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
			s.Messages()
		})
	}
	wg.Wait()
	if n := len(s.Messages()); n != 16 {
		t.Fatalf("%d posts, want 16", n)
	}
}

func TestPatchContract(t *testing.T) {
	s, c := newServer(t)
	ops := s.AddChannel("", "ops", true)
	_, up := c.upload(ops, "files", []byte("png"))
	fileID := up["file_infos"].([]any)[0].(map[string]any)["id"].(string)
	_, post := c.post(map[string]any{"channel_id": ops, "message": "firing", "file_ids": []string{fileID}})
	id := post["id"].(string)
	patch := func(id, body string) (*http.Response, map[string]any) {
		return c.call("Bearer "+token, http.MethodPut, "/api/v4/posts/"+id+"/patch", "application/json", strings.NewReader(body))
	}
	resp, out := patch(id, `{"message":"resolved"}`)
	want(t, resp, out, 200, "")
	if out["message"] != "resolved" || out["edit_at"] == float64(0) || len(out["file_ids"].([]any)) != 1 {
		t.Fatalf("patched post %v", out)
	}
	if m := s.Messages()[0]; m.Text != "resolved" || m.Edits != 1 || len(m.Files) != 1 {
		t.Fatalf("post %+v", m)
	}
	resp, out = patch(id, `{"message":"`+strings.Repeat("x", MaxMessageRunes+1)+`"}`)
	want(t, resp, out, 400, "model.post.is_valid.message_length.app_error")
	resp, out = patch(NewID(), `{"message":"x"}`)
	want(t, resp, out, 404, "app.post.get.app_error")
	s.MarkForeign(id)
	resp, out = patch(id, `{"message":"x"}`)
	want(t, resp, out, 403, "api.context.permissions.app_error")
	s.DeletePost(id)
	resp, out = patch(id, `{"message":"x"}`)
	want(t, resp, out, 404, "app.post.get.app_error")
	resp, out = c.call("Bearer nope-nope-nope-nope-nope-nope", http.MethodPut, "/api/v4/posts/"+id+"/patch", "application/json", strings.NewReader(`{}`))
	want(t, resp, out, 401, "api.context.session_expired.app_error")
}

func TestRateLimiter(t *testing.T) {
	s := New(token, "eng")
	defer s.Close()
	c := client{t: t, srv: s}
	// On by default at 10 per second, announced on every answer.
	for i := range DefaultRateLimit.N {
		resp, _ := c.get("/api/v4/users/me")
		if resp.StatusCode != 200 || resp.Header.Get("X-RateLimit-Limit") != "10" || resp.Header.Get("X-RateLimit-Remaining") != fmt.Sprint(9-i) {
			t.Fatalf("request %d: %d %v", i, resp.StatusCode, resp.Header)
		}
	}
	resp, out := c.get("/api/v4/users/me")
	if resp.StatusCode != 429 || out["raw"] != "limit exceeded\n" || resp.Header.Get("Retry-After") != "1" || resp.Header.Get("X-RateLimit-Reset") != "1" {
		t.Fatalf("eleventh request: %d %v %v", resp.StatusCode, resp.Header, out)
	}
	// Told Remaining 0 by the tenth answer, the eleventh was a violation.
	if v := s.Violations(); len(v) != 1 || v[0].Key != "client" {
		t.Fatalf("violations %+v", v)
	}
	s.SetRateLimit(faults.Limit{})
	if resp, _ := c.get("/api/v4/users/me"); resp.StatusCode != 200 || resp.Header.Get("X-RateLimit-Limit") != "" {
		t.Fatalf("limiter off: %d %v", resp.StatusCode, resp.Header)
	}
}
