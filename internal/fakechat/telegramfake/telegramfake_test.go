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

	"github.com/panelcast/panelcast/internal/fakechat/faults"
)

const (
	token = "7000000001:AAH-fake"
	group = int64(-1001234567890)
)

// newServer starts a fake without rate limits; TestRateLimits checks them.
func newServer(t *testing.T) *Server {
	t.Helper()
	s := New(token)
	t.Cleanup(s.Close)
	s.SetLimits(Limits{})
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

// album posts a media group: items as JSON, then one part per name.
func album(t *testing.T, s *Server, values map[string]string, items string, parts map[string][]byte) answer {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range values {
		w.WriteField(k, v)
	}
	w.WriteField("media", items)
	for name, data := range parts {
		fw, _ := w.CreateFormFile(name, name+".png")
		fw.Write(data)
	}
	w.Close()
	return send(t, s, "/bot"+token+"/sendMediaGroup", w.FormDataContentType(), &buf)
}

func TestAlbumContract(t *testing.T) {
	chatID := map[string]string{"chat_id": fmt.Sprint(group)}
	two := map[string][]byte{"a": pngOf(10, 10), "b": pngOf(20, 10)}
	eleven := map[string][]byte{}
	var items []string
	for i := range 11 {
		name := fmt.Sprintf("f%d", i)
		eleven[name] = pngOf(10, 10)
		items = append(items, `{"type":"photo","media":"attach://`+name+`"}`)
	}
	cases := []struct {
		name  string
		items string
		parts map[string][]byte
		desc  string
	}{
		{"one item", `[{"type":"photo","media":"attach://a"}]`, two, "Bad Request: media group must include 2-10 items"},
		{"eleven items", "[" + strings.Join(items, ",") + "]", eleven, "Bad Request: too many messages to send as an album"},
		{"not JSON", `{"type":"photo"}`, two, "Bad Request: can't parse media JSON object"},
		{"photo with document", `[{"type":"photo","media":"attach://a"},{"type":"document","media":"attach://b"}]`, two,
			"Bad Request: Can't use the media of the specified type in the album"},
		{"missing part", `[{"type":"photo","media":"attach://a"},{"type":"photo","media":"attach://c"}]`, two,
			"Bad Request: Can't parse InputMedia: media not found"},
		{"by URL", `[{"type":"photo","media":"attach://a"},{"type":"photo","media":"https://x/p.png"}]`, two,
			"Bad Request: wrong file identifier/HTTP URL specified"},
		{"video", `[{"type":"video","media":"attach://a"},{"type":"video","media":"attach://b"}]`, two,
			`Bad Request: Can't parse InputMedia: type "video" is unsupported`},
		{"caption too long", `[{"type":"photo","media":"attach://a","caption":"` + strings.Repeat("x", MaxCaption+1) + `"},{"type":"photo","media":"attach://b"}]`, two,
			"Bad Request: message caption is too long"},
		{"bad HTML caption", `[{"type":"photo","media":"attach://a","caption":"<b>x","parse_mode":"HTML"},{"type":"photo","media":"attach://b"}]`, two,
			`Bad Request: can't parse entities: Can't find end tag corresponding to start tag "b"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newServer(t)
			a := album(t, s, chatID, c.items, c.parts)
			if a.OK || a.ErrorCode != 400 || a.Description != c.desc {
				t.Fatalf("got %+v", a)
			}
			if n := len(s.Messages()); n != 0 {
				t.Fatalf("%d messages recorded for a refused album", n)
			}
		})
	}

	s := newServer(t)
	root := post(t, s, "sendMessage", map[string]string{"chat_id": fmt.Sprint(group), "text": "firing"}, "", nil)
	var rootMsg struct {
		MessageID int64 `json:"message_id"`
	}
	json.Unmarshal(root.Result, &rootMsg)
	a := album(t, s, map[string]string{"chat_id": fmt.Sprint(group), "message_thread_id": "45",
		"reply_parameters": fmt.Sprintf(`{"message_id":%d}`, rootMsg.MessageID)},
		`[{"type":"photo","media":"attach://a","caption":"<b>two</b> panels","parse_mode":"HTML"},{"type":"photo","media":"attach://b"}]`, two)
	var result []struct {
		MessageID    int64  `json:"message_id"`
		MediaGroupID string `json:"media_group_id"`
		Caption      string `json:"caption"`
	}
	if err := json.Unmarshal(a.Result, &result); err != nil || !a.OK || len(result) != 2 {
		t.Fatalf("got %+v (%v)", a, err)
	}
	if result[0].MediaGroupID == "" || result[0].MediaGroupID != result[1].MediaGroupID || result[1].MessageID != result[0].MessageID+1 {
		t.Fatalf("album %+v", result)
	}
	msgs := s.Messages()[1:]
	if msgs[0].Method != "sendMediaGroup" || msgs[0].Text != "<b>two</b> panels" || msgs[0].ParseMode != "HTML" ||
		msgs[0].ReplyTo != rootMsg.MessageID || msgs[1].ReplyTo != rootMsg.MessageID || msgs[0].ThreadID != 45 ||
		!bytes.Equal(msgs[1].File.Data, pngOf(20, 10)) || msgs[1].File.Field != "photo" {
		t.Fatalf("messages %+v", msgs)
	}
}

func TestHTMLContract(t *testing.T) {
	chatID := fmt.Sprint(group)
	cases := []struct {
		text, mode, desc string
	}{
		{"<p>x</p>", "HTML", `Bad Request: can't parse entities: Unsupported start tag "p" at byte offset 0`},
		{"a <b>b", "HTML", `Bad Request: can't parse entities: Can't find end tag corresponding to start tag "b"`},
		{"<b>a</i>", "HTML", `Bad Request: can't parse entities: Unmatched end tag at byte offset 4, expected "</b>", found "</i>"`},
		{"a</b>", "HTML", "Bad Request: can't parse entities: Unexpected end tag at byte offset 1"},
		{"1 < 2", "HTML", `Bad Request: can't parse entities: Unsupported start tag "" at byte offset 2`},
		{"<b", "HTML", "Bad Request: can't parse entities: Unclosed start tag at byte offset 0"},
		{`<span class="x">a</span>`, "HTML", `Bad Request: can't parse entities: Tag "span" must have class "tg-spoiler" at byte offset 0`},
		{"<b></b>", "HTML", "Bad Request: message text is empty"},
		{strings.Repeat("&amp;", MaxText+1), "HTML", "Bad Request: message is too long"},
		{"x", "Markdown3", "Bad Request: unsupported parse_mode"},
	}
	for _, c := range cases {
		s := newServer(t)
		a := post(t, s, "sendMessage", map[string]string{"chat_id": chatID, "text": c.text, "parse_mode": c.mode}, "", nil)
		if a.OK || a.Description != c.desc {
			t.Errorf("%q: got %+v, want %q", c.text, a, c.desc)
		}
	}
	s := newServer(t)
	// Limits count what shows: 4096 entities are 4096 characters.
	accepted := []map[string]string{
		{"text": strings.Repeat("&amp;", MaxText), "parse_mode": "HTML"},
		{"text": `<b>bold</b> <a href="https://g/d?a=1&amp;b=2">link</a> &lt;tag&gt; & &copy; &#128512;`, "parse_mode": "html"},
		{"text": "1 < 2 <p>", "parse_mode": ""}, // plain text: no parsing
	}
	for _, v := range accepted {
		v["chat_id"] = chatID
		if a := post(t, s, "sendMessage", v, "", nil); !a.OK {
			t.Errorf("%q refused: %+v", v["text"], a)
		}
	}
	if a := post(t, s, "sendPhoto", map[string]string{"chat_id": chatID, "caption": "<i>" + strings.Repeat("😀", MaxCaption/2) + "</i>", "parse_mode": "HTML"}, "photo", pngOf(10, 10)); !a.OK {
		t.Errorf("a caption of 1024 units after parsing was refused: %+v", a)
	}
	if a := post(t, s, "sendPhoto", map[string]string{"chat_id": chatID, "caption": "<i>" + strings.Repeat("x", MaxCaption+1) + "</i>", "parse_mode": "HTML"}, "photo", pngOf(10, 10)); a.Description != "Bad Request: message caption is too long" {
		t.Errorf("got %+v", a)
	}
}

func TestEdits(t *testing.T) {
	s := newServer(t)
	chatID := fmt.Sprint(group)
	photo := post(t, s, "sendPhoto", map[string]string{"chat_id": chatID, "caption": "firing"}, "photo", pngOf(10, 10))
	text := post(t, s, "sendMessage", map[string]string{"chat_id": chatID, "text": "firing"}, "", nil)
	var p, m struct {
		MessageID int64 `json:"message_id"`
	}
	json.Unmarshal(photo.Result, &p)
	json.Unmarshal(text.Result, &m)
	edit := func(method string, id int64, field, value, mode string) answer {
		body, _ := json.Marshal(map[string]any{"chat_id": group, "message_id": id, field: value, "parse_mode": mode})
		return send(t, s, "/bot"+token+"/"+method, "application/json", bytes.NewReader(body))
	}
	cases := []struct {
		method string
		id     int64
		field  string
		value  string
		mode   string
		desc   string
	}{
		{"editMessageCaption", m.MessageID, "caption", "x", "", "Bad Request: there is no caption in the message to edit"},
		{"editMessageText", p.MessageID, "text", "x", "", "Bad Request: there is no text in the message to edit"},
		{"editMessageText", 99, "text", "x", "", "Bad Request: message to edit not found"},
		{"editMessageText", m.MessageID, "text", "firing", "", "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"},
		{"editMessageCaption", p.MessageID, "caption", "<b>x", "HTML", `Bad Request: can't parse entities: Can't find end tag corresponding to start tag "b"`},
		{"editMessageCaption", p.MessageID, "caption", strings.Repeat("x", MaxCaption+1), "", "Bad Request: message caption is too long"},
	}
	for _, c := range cases {
		if a := edit(c.method, c.id, c.field, c.value, c.mode); a.OK || a.Description != c.desc {
			t.Errorf("%s %q: got %+v, want %q", c.method, c.value, a, c.desc)
		}
	}
	if a := edit("editMessageCaption", p.MessageID, "caption", "<b>RESOLVED</b>", "HTML"); !a.OK {
		t.Fatalf("got %+v", a)
	}
	if a := edit("editMessageText", m.MessageID, "text", "resolved", ""); !a.OK {
		t.Fatalf("got %+v", a)
	}
	msgs := s.Messages()
	if msgs[0].Text != "<b>RESOLVED</b>" || msgs[0].ParseMode != "HTML" || msgs[0].Edits != 1 || msgs[1].Text != "resolved" || msgs[1].Edits != 1 {
		t.Fatalf("messages %+v", msgs)
	}
	s.SetUneditable(group, m.MessageID)
	if a := edit("editMessageText", m.MessageID, "text", "again", ""); a.Description != "Bad Request: message can't be edited" {
		t.Fatalf("got %+v", a)
	}
	s.DeleteMessage(group, p.MessageID)
	if a := edit("editMessageCaption", p.MessageID, "caption", "gone", ""); a.Description != "Bad Request: message to edit not found" {
		t.Fatalf("got %+v", a)
	}
	if a := post(t, s, "sendMessage", map[string]string{"chat_id": chatID, "text": "x", "reply_parameters": fmt.Sprintf(`{"message_id":%d}`, p.MessageID)}, "", nil); a.Description != "Bad Request: message to be replied not found" {
		t.Fatalf("reply to a deleted message: %+v", a)
	}
}

func TestRateLimits(t *testing.T) {
	s := New(token)
	defer s.Close()
	s.AddChat(Chat{ID: group})
	s.AddChat(Chat{ID: 42, Type: "private"})
	msg := func(chatID int64) answer {
		return post(t, s, "sendMessage", map[string]string{"chat_id": fmt.Sprint(chatID), "text": "x"}, "", nil)
	}
	// By default: one message per second in a chat.
	if a := msg(42); !a.OK {
		t.Fatalf("got %+v", a)
	}
	a := msg(42)
	if a.ErrorCode != 429 || a.Description != "Too Many Requests: retry after 1" || a.Parameters["retry_after"] != float64(1) {
		t.Fatalf("second message within a second: %+v", a)
	}
	if len(s.Violations()) != 0 {
		t.Fatal("a first 429 is no violation")
	}
	msg(42) // asked to wait, came back at once
	if v := s.Violations(); len(v) != 1 || v[0].Key != "chat 42" {
		t.Fatalf("violations %+v", v)
	}
	if a := msg(group); !a.OK {
		t.Fatalf("another chat is not limited: %+v", a)
	}

	// Groups: at most N per window, whatever the spacing.
	s.SetLimits(Limits{Group: faults.Limit{N: 3, Per: 300 * time.Millisecond}})
	s.AddChat(Chat{ID: -100999, Type: "channel"})
	for i := range 3 {
		if a := msg(-100999); !a.OK {
			t.Fatalf("message %d: %+v", i, a)
		}
	}
	if a := msg(-100999); a.ErrorCode != 429 {
		t.Fatalf("fourth message: %+v", a)
	}
	s.SetLimits(Limits{Global: faults.Limit{N: 2, Per: time.Second}})
	for i := range 2 {
		send(t, s, fmt.Sprintf("/bot%s/getMe?n=%d", token, i), "", nil)
	}
	if a := send(t, s, "/bot"+token+"/getMe", "", nil); a.ErrorCode != 429 {
		t.Fatalf("third request within the global limit: %+v", a)
	}
}
