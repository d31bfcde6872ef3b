package telegramfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	token = "7000000001:AAH-fake"
	group = int64(-1001234567890)
)

func newServer(t *testing.T) *Server {
	t.Helper()
	s := New(token)
	t.Cleanup(s.Close)
	s.AddChat(Chat{ID: group, Topics: []int64{45}})
	return s
}

func pngOf(w, h int) []byte {
	var buf bytes.Buffer
	png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h)))
	return buf.Bytes()
}

type answer struct {
	Status      int
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  map[string]any  `json:"parameters"`
}

func send(t *testing.T, s *Server, path, contentType string, body io.Reader) answer {
	t.Helper()
	resp, err := http.Post(s.URL()+path, contentType, body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a answer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatal(err)
	}
	a.Status = resp.StatusCode
	if a.Status != a.ErrorCode && !a.OK {
		t.Fatalf("HTTP %d but error_code %d", a.Status, a.ErrorCode)
	}
	return a
}

// post sends a multipart form: values, then the file in field (if any).
func post(t *testing.T, s *Server, method string, values map[string]string, field string, data []byte) answer {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range values {
		w.WriteField(k, v)
	}
	if field != "" {
		fw, _ := w.CreateFormFile(field, "panel.png")
		fw.Write(data)
	}
	w.Close()
	return send(t, s, "/bot"+token+"/"+method, w.FormDataContentType(), &buf)
}

func TestContract(t *testing.T) {
	chatID := fmt.Sprint(group)
	cases := []struct {
		name string
		send func(t *testing.T, s *Server) answer
		code int
		desc string
	}{
		{"no bot prefix", func(t *testing.T, s *Server) answer {
			return send(t, s, "/"+token+"/getMe", "", nil)
		}, 404, "Not Found"},
		{"malformed token", func(t *testing.T, s *Server) answer {
			return send(t, s, "/botnope/getMe", "", nil)
		}, 404, "Not Found"},
		{"wrong token", func(t *testing.T, s *Server) answer {
			return send(t, s, "/bot7000000001:other/getMe", "", nil)
		}, 401, "Unauthorized"},
		{"unknown method", func(t *testing.T, s *Server) answer {
			return send(t, s, "/bot"+token+"/sendSticker", "", nil)
		}, 404, "Not Found"},
		{"no chat_id", func(t *testing.T, s *Server) answer {
			return post(t, s, "sendPhoto", nil, "photo", pngOf(10, 10))
		}, 400, "Bad Request: chat_id is empty"},
		{"unknown chat", func(t *testing.T, s *Server) answer {
			return post(t, s, "sendPhoto", map[string]string{"chat_id": "-100999"}, "photo", pngOf(10, 10))
		}, 400, "Bad Request: chat not found"},
		{"no photo", func(t *testing.T, s *Server) answer {
			return post(t, s, "sendPhoto", map[string]string{"chat_id": chatID}, "document", pngOf(10, 10))
		}, 400, "Bad Request: there is no photo in the request"},
		{"photo by URL", func(t *testing.T, s *Server) answer {
			return post(t, s, "sendPhoto", map[string]string{"chat_id": chatID, "photo": "https://example.test/a.png"}, "", nil)
		}, 400, "Bad Request: wrong file identifier/HTTP URL specified"},
		{"not an image", func(t *testing.T, s *Server) answer {
			return post(t, s, "sendPhoto", map[string]string{"chat_id": chatID}, "photo", []byte("%PDF"))
		}, 400, "Bad Request: IMAGE_PROCESS_FAILED"},
		{"ratio", func(t *testing.T, s *Server) answer {
			return post(t, s, "sendPhoto", map[string]string{"chat_id": chatID}, "photo", pngOf(2001, 100))
		}, 400, "Bad Request: PHOTO_INVALID_DIMENSIONS"},
		{"photo over 10 MB", func(t *testing.T, s *Server) answer {
			return post(t, s, "sendPhoto", map[string]string{"chat_id": chatID}, "photo", append(pngOf(10, 10), make([]byte, MaxPhotoBytes)...))
		}, 400, "Bad Request: PHOTO_SAVE_FILE_INVALID"},
		{"document over 50 MB", func(t *testing.T, s *Server) answer {
			return post(t, s, "sendDocument", map[string]string{"chat_id": chatID}, "document", make([]byte, MaxDocumentBytes+1))
		}, 413, "Request Entity Too Large"},
		{"caption too long", func(t *testing.T, s *Server) answer {
			return post(t, s, "sendPhoto", map[string]string{"chat_id": chatID, "caption": strings.Repeat("😀", 513)}, "photo", pngOf(10, 10))
		}, 400, "Bad Request: message caption is too long"},
		{"text too long", func(t *testing.T, s *Server) answer {
			return post(t, s, "sendMessage", map[string]string{"chat_id": chatID, "text": strings.Repeat("x", MaxText+1)}, "", nil)
		}, 400, "Bad Request: message is too long"},
		{"text empty", func(t *testing.T, s *Server) answer {
			return post(t, s, "sendMessage", map[string]string{"chat_id": chatID}, "", nil)
		}, 400, "Bad Request: message text is empty"},
		{"topic of a plain group", func(t *testing.T, s *Server) answer {
			s.AddChat(Chat{ID: -100777})
			return post(t, s, "sendMessage", map[string]string{"chat_id": "-100777", "text": "x", "message_thread_id": "45"}, "", nil)
		}, 400, "Bad Request: message thread not found"},
		{"reply to unknown", func(t *testing.T, s *Server) answer {
			return post(t, s, "sendMessage", map[string]string{"chat_id": chatID, "text": "x", "reply_parameters": `{"message_id":5}`}, "", nil)
		}, 400, "Bad Request: message to be replied not found"},
		{"bad reply parameters", func(t *testing.T, s *Server) answer {
			return post(t, s, "sendMessage", map[string]string{"chat_id": chatID, "text": "x", "reply_parameters": `5`}, "", nil)
		}, 400, "Bad Request: can't parse reply parameters JSON object"},
		{"channel left", func(t *testing.T, s *Server) answer {
			s.AddChat(Chat{ID: -100555, Type: "channel", Bot: Left})
			return post(t, s, "sendMessage", map[string]string{"chat_id": "-100555", "text": "x"}, "", nil)
		}, 403, "Forbidden: bot is not a member of the channel chat"},
		{"blocked by the person", func(t *testing.T, s *Server) answer {
			s.AddChat(Chat{ID: 42, Type: "private", Bot: Kicked})
			return post(t, s, "sendMessage", map[string]string{"chat_id": "42", "text": "x"}, "", nil)
		}, 403, "Forbidden: bot was blocked by the user"},
		{"no media rights", func(t *testing.T, s *Server) answer {
			s.AddChat(Chat{ID: group, NoMedia: true})
			return post(t, s, "sendDocument", map[string]string{"chat_id": chatID}, "document", []byte("x"))
		}, 400, "Bad Request: not enough rights to send documents to the chat"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newServer(t)
			a := c.send(t, s)
			if a.OK || a.ErrorCode != c.code || a.Description != c.desc {
				t.Fatalf("got %+v", a)
			}
			if n := len(s.Messages()); n != 0 {
				t.Fatalf("%d messages recorded for a refused request", n)
			}
		})
	}
}

func TestParameterForms(t *testing.T) {
	s := newServer(t)
	s.AddChat(Chat{ID: -100222, Type: "channel", Username: "alerts_channel"})
	base := "/bot" + token + "/"
	// Methods are case-insensitive; chat_id may be a number, a string or
	// @username; parameters may come as JSON, a form or a query string.
	answers := []answer{
		send(t, s, base+"SENDMESSAGE", "application/json", strings.NewReader(fmt.Sprintf(`{"chat_id":%d,"text":"json","message_thread_id":45}`, group))),
		send(t, s, base+"sendMessage", "application/x-www-form-urlencoded", strings.NewReader(url.Values{"chat_id": {"@alerts_channel"}, "text": {"form"}}.Encode())),
		send(t, s, base+"sendMessage?"+url.Values{"chat_id": {fmt.Sprint(group)}, "text": {"query"}}.Encode(), "", nil),
	}
	for _, a := range answers {
		if !a.OK {
			t.Fatalf("got %+v", a)
		}
	}
	var m struct {
		MessageID int64 `json:"message_id"`
		ThreadID  int64 `json:"message_thread_id"`
		Chat      struct {
			ID       int64  `json:"id"`
			Username string `json:"username"`
		} `json:"chat"`
	}
	json.Unmarshal(answers[1].Result, &m)
	if m.Chat.ID != -100222 || m.Chat.Username != "alerts_channel" || m.MessageID != 1000 {
		t.Fatalf("result %s", answers[1].Result)
	}
	json.Unmarshal(answers[0].Result, &m)
	if m.ThreadID != 45 {
		t.Fatalf("result %s", answers[0].Result)
	}
	msgs := s.Messages()
	if len(msgs) != 3 || msgs[0].Text != "json" || msgs[0].ThreadID != 45 || msgs[1].ChatID != -100222 || msgs[2].Text != "query" {
		t.Fatalf("messages %+v", msgs)
	}
	if c := s.Calls(); len(c) != 3 || c[0].Method != "SENDMESSAGE" || c[0].Status != 200 {
		t.Fatalf("calls %+v", c)
	}
}

func TestReplies(t *testing.T) {
	s := newServer(t)
	chatID := fmt.Sprint(group)
	first := post(t, s, "sendPhoto", map[string]string{"chat_id": chatID, "caption": "firing"}, "photo", pngOf(30, 20))
	var m struct {
		MessageID int64            `json:"message_id"`
		Photo     []map[string]any `json:"photo"`
		Caption   string           `json:"caption"`
	}
	json.Unmarshal(first.Result, &m)
	if m.Caption != "firing" || len(m.Photo) != 1 || m.Photo[0]["width"] != float64(30) {
		t.Fatalf("result %s", first.Result)
	}
	// reply_to_message_id is no longer documented: it is not a reply here.
	post(t, s, "sendMessage", map[string]string{"chat_id": chatID, "text": "old style", "reply_to_message_id": fmt.Sprint(m.MessageID)}, "", nil)
	post(t, s, "sendMessage", map[string]string{"chat_id": chatID, "text": "resolved", "reply_parameters": fmt.Sprintf(`{"message_id":%d}`, m.MessageID)}, "", nil)
	post(t, s, "sendMessage", map[string]string{"chat_id": chatID, "text": "orphan", "reply_parameters": `{"message_id":5,"allow_sending_without_reply":true}`}, "", nil)
	msgs := s.Messages()
	if len(msgs) != 4 || msgs[1].ReplyTo != 0 || msgs[2].ReplyTo != m.MessageID || msgs[3].ReplyTo != 0 || msgs[3].Text != "orphan" {
		t.Fatalf("messages %+v", msgs)
	}
	if msgs[0].File == nil || msgs[0].File.Field != "photo" || !bytes.Equal(msgs[0].File.Data, pngOf(30, 20)) {
		t.Fatalf("file %+v", msgs[0].File)
	}
}

func TestInjectedFailures(t *testing.T) {
	s := newServer(t)
	s.AddChat(Chat{ID: -4242, Type: "group", MigratedTo: group})
	if a := post(t, s, "sendMessage", map[string]string{"chat_id": "-4242", "text": "x"}, "", nil); a.Parameters["migrate_to_chat_id"] != float64(group) {
		t.Fatalf("got %+v", a)
	}
	s.RateLimitNext(1, 1500*time.Millisecond)
	a := send(t, s, "/bot"+token+"/getMe", "", nil)
	if a.ErrorCode != 429 || a.Description != "Too Many Requests: retry after 2" || a.Parameters["retry_after"] != float64(2) {
		t.Fatalf("got %+v", a)
	}
	s.FailNext(1, 502)
	if a := send(t, s, "/bot"+token+"/getMe", "", nil); a.ErrorCode != 502 {
		t.Fatalf("got %+v", a)
	}
	if a := send(t, s, "/bot"+token+"/getMe", "", nil); !a.OK {
		t.Fatalf("got %+v", a)
	}
	for _, c := range s.Calls() {
		if strings.Contains(fmt.Sprint(c), "AAH-fake") {
			t.Fatalf("call record holds the token: %+v", c)
		}
	}
}

func TestConcurrentSends(t *testing.T) {
	s := newServer(t)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			body := fmt.Sprintf(`{"chat_id":%d,"text":"m%d"}`, group, i)
			if resp, err := http.Post(s.URL()+"/bot"+token+"/sendMessage", "application/json", strings.NewReader(body)); err == nil {
				resp.Body.Close()
			}
			s.Messages()
		})
	}
	wg.Wait()
	ids := map[int64]bool{}
	for _, m := range s.Messages() {
		ids[m.MessageID] = true
	}
	if len(ids) != 20 {
		t.Fatalf("%d distinct messages, want 20", len(ids))
	}
}
