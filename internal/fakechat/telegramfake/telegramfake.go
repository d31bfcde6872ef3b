// Package telegramfake is a stand-in for Telegram's Bot API that holds
// clients to its documented contract: the token in the path
// (/bot<token>/<method>), chat_id and the upload parts (photo, document),
// caption and text limits, sendPhoto's size and shape limits, forum topics
// (message_thread_id), replies by reply_parameters, the bot's membership in
// each chat, and 429 answers in the Bot API's own form. It records every
// message that arrives so tests can look at the chat, topic, text or
// caption, reply target and file bytes.
//
// Where the documentation leaves room the fake takes the stricter reading,
// so a client that passes here also passes Telegram: lengths are counted in
// UTF-16 code units, "10 MB" and "50 MB" are 10^7 and 5·10^7 bytes, and the
// reply_to_message_id parameter, replaced by reply_parameters in Bot API
// 7.0 and no longer documented, is ignored.
package telegramfake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // DecodeConfig for the photo checks
	_ "image/jpeg"
	_ "image/png"
	"io"
	"math"
	"mime"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"

	"github.com/panelcast/panelcast/internal/fakechat/faults"
)

// Limits the fake enforces, from the Bot API documentation.
const (
	MaxCaption       = 1024
	MaxText          = 4096
	MaxPhotoBytes    = 10_000_000
	MaxDocumentBytes = 50_000_000
	// MaxPhotoSides bounds width + height; MaxPhotoRatio bounds the longer
	// side over the shorter.
	MaxPhotoSides = 10000
	MaxPhotoRatio = 20
)

// Bot is the user getMe answers with.
const (
	BotID       = 7000000001
	BotUsername = "panelcast_bot"
)

// Membership is the bot's standing in a chat.
type Membership int

const (
	// Member: the bot may post.
	Member Membership = iota
	// Left: the bot is not in the chat (403 "bot is not a member").
	Left
	// Kicked: the bot was removed (403 "bot was kicked"), or, in a private
	// chat, blocked by the person.
	Kicked
)

// Chat is a chat the fake knows.
type Chat struct {
	ID int64
	// Type is "private", "group", "supergroup" (the default) or "channel".
	Type  string
	Title string
	// Username is the public name without "@"; chat_id "@name" finds it.
	Username string
	// Topics are the forum topic ids; a chat with topics is a forum, and
	// message_thread_id must name one of them.
	Topics []int64
	Bot    Membership
	// NoMedia lets the bot send text but not photos or files.
	NoMedia bool
	// MigratedTo marks a basic group that became this supergroup: every
	// send fails with parameters.migrate_to_chat_id.
	MigratedTo int64
}

// File is an uploaded photo or document.
type File struct {
	// Field is the multipart part's name: "photo" or "document".
	Field       string
	Name        string
	ContentType string
	Data        []byte
}

// Message is a message the fake created.
type Message struct {
	ChatID    int64
	MessageID int64
	// Method is "sendPhoto", "sendDocument" or "sendMessage".
	Method string
	// ThreadID is message_thread_id (the forum topic), 0 for none.
	ThreadID int64
	// Text is the message's text or the file's caption.
	Text string
	// ReplyTo is reply_parameters.message_id when the reply was made.
	ReplyTo int64
	// File is the upload; nil for sendMessage.
	File *File
}

// Call is one request the fake answered. Method is the Bot API method;
// the path is not kept because it holds the token.
type Call struct {
	Method string
	Status int
}

// Server is a running fake. It is safe for concurrent use.
type Server struct {
	token string
	ts    *httptest.Server

	mu       sync.Mutex
	chats    map[int64]*Chat
	messages []Message
	ids      map[int64]map[int64]bool // chat → message ids that exist
	next     map[int64]int64          // chat → next message id
	faults   faults.Injector
	calls    []Call
}

// New starts a fake that accepts the bot token token. Close it when done.
func New(token string) *Server {
	s := &Server{token: token, chats: map[int64]*Chat{}, ids: map[int64]map[int64]bool{}, next: map[int64]int64{}}
	s.ts = httptest.NewServer(s)
	return s
}

// URL is the API base to configure clients with (like
// https://api.telegram.org).
func (s *Server) URL() string { return s.ts.URL }

// Close stops the server.
func (s *Server) Close() { s.ts.Close() }

// AddChat makes a chat known, or replaces it.
func (s *Server) AddChat(c Chat) {
	if c.Type == "" {
		c.Type = "supergroup"
	}
	c.Topics = append([]int64(nil), c.Topics...)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chats[c.ID] = &c
}

// RateLimitNext makes the next n authenticated calls answer 429 with
// parameters.retry_after, whole seconds rounded up (at least 1).
func (s *Server) RateLimitNext(n int, retryAfter time.Duration) {
	s.faults.RateLimitNext(n, retryAfter)
}

// FailNext makes the next n authenticated calls answer status (e.g. 502).
func (s *Server) FailNext(n, status int) { s.faults.FailNext(n, status) }

// Messages returns copies of the messages created so far, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.messages))
	for i, m := range s.messages {
		if m.File != nil {
			f := *m.File
			f.Data = append([]byte(nil), f.Data...)
			m.File = &f
		}
		out[i] = m
	}
	return out
}

// Calls returns the requests answered so far, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// failure is a Bot API error answer.
type failure struct {
	status      int
	description string
	params      map[string]any
}

func badRequest(desc string) *failure {
	return &failure{status: http.StatusBadRequest, description: "Bad Request: " + desc}
}

var tokenForm = regexp.MustCompile(`^[0-9]+:[A-Za-z0-9_-]+$`)

// ServeHTTP answers one Bot API request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	method, result, f := s.serve(r)
	status := http.StatusOK
	if f != nil {
		status = f.status
		body := map[string]any{"ok": false, "error_code": f.status, "description": f.description}
		if f.params != nil {
			body["parameters"] = f.params
		}
		writeJSON(w, status, body)
	} else {
		writeJSON(w, status, map[string]any{"ok": true, "result": result})
	}
	s.mu.Lock()
	s.calls = append(s.calls, Call{Method: method, Status: status})
	s.mu.Unlock()
}

func (s *Server) serve(r *http.Request) (string, any, *failure) {
	notFound := &failure{status: http.StatusNotFound, description: "Not Found"}
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
	if !ok {
		return "", nil, notFound
	}
	tok, method, ok := strings.Cut(rest, "/")
	if !ok || !tokenForm.MatchString(tok) {
		return "", nil, notFound
	}
	if tok != s.token {
		return method, nil, &failure{status: http.StatusUnauthorized, description: "Unauthorized"}
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		return method, nil, notFound
	}
	if f := s.injected(); f != nil {
		return method, nil, f
	}
	// Method names are case-insensitive in the Bot API.
	switch strings.ToLower(method) {
	case "getme":
		return method, map[string]any{"id": BotID, "is_bot": true, "first_name": "Panelcast", "username": BotUsername,
			"can_join_groups": true, "can_read_all_group_messages": false, "supports_inline_queries": false}, nil
	case "sendmessage", "sendphoto", "senddocument":
	default:
		return method, nil, notFound
	}
	p, f := readParams(r)
	if f != nil {
		return method, nil, f
	}
	result, f := s.send(strings.ToLower(method), p)
	return method, result, f
}

// injected returns an injected failure or rate limit, if one is due.
func (s *Server) injected() *failure {
	limited, wait, failStatus := s.faults.Next()
	if failStatus != 0 {
		return &failure{status: failStatus, description: http.StatusText(failStatus)}
	}
	if limited {
		sec := max(1, int(math.Ceil(wait.Seconds())))
		return &failure{status: http.StatusTooManyRequests, description: fmt.Sprintf("Too Many Requests: retry after %d", sec),
			params: map[string]any{"retry_after": sec}}
	}
	return nil
}

// params are a request's parameters, however they were passed: query
// string, urlencoded form, JSON, or multipart (the only way to upload).
type params struct {
	values map[string]string
	files  map[string]File
}

func readParams(r *http.Request) (params, *failure) {
	p := params{values: map[string]string{}, files: map[string]File{}}
	for k, v := range r.URL.Query() {
		p.values[k] = v[0]
	}
	tooLarge := &failure{status: http.StatusRequestEntityTooLarge, description: "Request Entity Too Large"}
	// Room for the form around a largest document.
	r.Body = http.MaxBytesReader(nil, r.Body, MaxDocumentBytes+1<<20)
	isTooLarge := func(err error) bool {
		var mbe *http.MaxBytesError
		return errors.As(err, &mbe)
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "":
	case "application/json":
		raw, err := io.ReadAll(r.Body)
		if isTooLarge(err) {
			return p, tooLarge
		}
		var m map[string]json.RawMessage
		if err != nil || json.Unmarshal(raw, &m) != nil {
			return p, badRequest("can't parse JSON object")
		}
		for k, v := range m {
			var str string
			if json.Unmarshal(v, &str) == nil {
				p.values[k] = str
			} else {
				p.values[k] = string(v)
			}
		}
	case "application/x-www-form-urlencoded":
		if err := r.ParseForm(); err != nil {
			if isTooLarge(err) {
				return p, tooLarge
			}
			return p, badRequest("can't parse request body")
		}
		for k, v := range r.PostForm {
			p.values[k] = v[0]
		}
	case "multipart/form-data":
		mr, err := r.MultipartReader()
		if err != nil {
			return p, badRequest("can't parse request body")
		}
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				if isTooLarge(err) {
					return p, tooLarge
				}
				return p, badRequest("can't parse request body")
			}
			data, err := io.ReadAll(part)
			if err != nil {
				if isTooLarge(err) {
					return p, tooLarge
				}
				return p, badRequest("can't parse request body")
			}
			if part.FileName() != "" {
				p.files[part.FormName()] = File{Field: part.FormName(), Name: part.FileName(), ContentType: part.Header.Get("Content-Type"), Data: data}
			} else {
				p.values[part.FormName()] = string(data)
			}
		}
	default:
		return p, badRequest("unsupported Content-Type " + mt)
	}
	return p, nil
}

func (s *Server) send(method string, p params) (any, *failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, f := s.chatFor(p.values["chat_id"])
	if f != nil {
		return nil, f
	}
	var thread int64
	if v := p.values["message_thread_id"]; v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, badRequest("invalid message_thread_id specified")
		}
		if n != 0 && !hasTopic(c, n) {
			return nil, badRequest("message thread not found")
		}
		thread = n
	}
	var replyTo int64
	if v := p.values["reply_parameters"]; v != "" {
		var rp struct {
			MessageID         int64 `json:"message_id"`
			AllowWithoutReply bool  `json:"allow_sending_without_reply"`
		}
		if json.Unmarshal([]byte(v), &rp) != nil || rp.MessageID == 0 {
			return nil, badRequest("can't parse reply parameters JSON object")
		}
		switch {
		case s.ids[c.ID][rp.MessageID]:
			replyTo = rp.MessageID
		case !rp.AllowWithoutReply:
			return nil, badRequest("message to be replied not found")
		}
	}

	m := Message{ChatID: c.ID, ThreadID: thread, ReplyTo: replyTo}
	switch method {
	case "sendmessage":
		m.Method, m.Text = "sendMessage", p.values["text"]
		switch n := utf16Len(m.Text); {
		case strings.TrimSpace(m.Text) == "":
			return nil, badRequest("message text is empty")
		case n > MaxText:
			return nil, badRequest("message is too long")
		}
	case "sendphoto":
		m.Method, m.Text = "sendPhoto", p.values["caption"]
		file, f := upload(p, "photo", c)
		if f != nil {
			return nil, f
		}
		if f := checkPhoto(file.Data); f != nil {
			return nil, f
		}
		m.File = &file
	case "senddocument":
		m.Method, m.Text = "sendDocument", p.values["caption"]
		file, f := upload(p, "document", c)
		if f != nil {
			return nil, f
		}
		if len(file.Data) > MaxDocumentBytes {
			return nil, &failure{status: http.StatusRequestEntityTooLarge, description: "Request Entity Too Large"}
		}
		m.File = &file
	}
	if m.File != nil && utf16Len(m.Text) > MaxCaption {
		return nil, badRequest("message caption is too long")
	}

	if s.next[c.ID] == 0 {
		s.next[c.ID] = 1000
	}
	m.MessageID = s.next[c.ID]
	s.next[c.ID]++
	if s.ids[c.ID] == nil {
		s.ids[c.ID] = map[int64]bool{}
	}
	s.ids[c.ID][m.MessageID] = true
	s.messages = append(s.messages, m)
	return messageJSON(c, m), nil
}

// chatFor finds the chat for chat_id and checks the bot may post there.
func (s *Server) chatFor(id string) (*Chat, *failure) {
	if id == "" {
		return nil, badRequest("chat_id is empty")
	}
	var c *Chat
	if name, ok := strings.CutPrefix(id, "@"); ok {
		for _, ch := range s.chats {
			if ch.Username != "" && strings.EqualFold(ch.Username, name) {
				c = ch
			}
		}
	} else if n, err := strconv.ParseInt(id, 10, 64); err == nil {
		c = s.chats[n]
	}
	if c == nil {
		return nil, badRequest("chat not found")
	}
	kind := c.Type + " chat"
	switch {
	case c.MigratedTo != 0:
		f := badRequest("group chat was upgraded to a supergroup chat")
		f.params = map[string]any{"migrate_to_chat_id": c.MigratedTo}
		return nil, f
	case c.Bot == Left:
		return nil, &failure{status: http.StatusForbidden, description: "Forbidden: bot is not a member of the " + kind}
	case c.Bot == Kicked && c.Type == "private":
		return nil, &failure{status: http.StatusForbidden, description: "Forbidden: bot was blocked by the user"}
	case c.Bot == Kicked:
		return nil, &failure{status: http.StatusForbidden, description: "Forbidden: bot was kicked from the " + kind}
	}
	return c, nil
}

func hasTopic(c *Chat, id int64) bool {
	for _, t := range c.Topics {
		if t == id {
			return true
		}
	}
	return false
}

// upload returns the uploaded file in field ("photo" or "document").
func upload(p params, field string, c *Chat) (File, *failure) {
	file, ok := p.files[field]
	switch {
	case !ok && p.values[field] != "":
		// A string is a file_id or an HTTP URL, which the fake cannot fetch.
		return File{}, badRequest("wrong file identifier/HTTP URL specified")
	case !ok:
		return File{}, badRequest("there is no " + field + " in the request")
	case c.NoMedia:
		return File{}, badRequest("not enough rights to send " + field + "s to the chat")
	}
	return file, nil
}

// checkPhoto applies sendPhoto's limits: at most 10 MB, width + height at
// most 10000, side ratio at most 20.
func checkPhoto(data []byte) *failure {
	if len(data) > MaxPhotoBytes {
		return badRequest("PHOTO_SAVE_FILE_INVALID")
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 {
		return badRequest("IMAGE_PROCESS_FAILED")
	}
	long, short := max(cfg.Width, cfg.Height), min(cfg.Width, cfg.Height)
	if cfg.Width+cfg.Height > MaxPhotoSides || long > MaxPhotoRatio*short {
		return badRequest("PHOTO_INVALID_DIMENSIONS")
	}
	return nil
}

func chatJSON(c *Chat) map[string]any {
	out := map[string]any{"id": c.ID, "type": c.Type}
	if c.Title != "" {
		out["title"] = c.Title
	}
	if c.Username != "" {
		out["username"] = c.Username
	}
	if len(c.Topics) > 0 {
		out["is_forum"] = true
	}
	return out
}

// messageJSON renders m as the Bot API's Message.
func messageJSON(c *Chat, m Message) map[string]any {
	out := map[string]any{"message_id": m.MessageID, "date": time.Now().Unix(), "chat": chatJSON(c)}
	if c.Type != "channel" {
		out["from"] = map[string]any{"id": BotID, "is_bot": true, "first_name": "Panelcast", "username": BotUsername}
	}
	if m.ThreadID != 0 {
		out["message_thread_id"] = m.ThreadID
		out["is_topic_message"] = true
	}
	if m.ReplyTo != 0 {
		out["reply_to_message"] = map[string]any{"message_id": m.ReplyTo, "date": time.Now().Unix(), "chat": chatJSON(c)}
	}
	fileID := fmt.Sprintf("fake-%d-%d", m.ChatID, m.MessageID)
	switch m.Method {
	case "sendMessage":
		out["text"] = m.Text
	case "sendPhoto":
		cfg, _, _ := image.DecodeConfig(bytes.NewReader(m.File.Data))
		out["photo"] = []any{map[string]any{"file_id": fileID, "file_unique_id": fileID, "width": cfg.Width, "height": cfg.Height, "file_size": len(m.File.Data)}}
	case "sendDocument":
		out["document"] = map[string]any{"file_id": fileID, "file_unique_id": fileID, "file_name": m.File.Name, "mime_type": m.File.ContentType, "file_size": len(m.File.Data)}
	}
	if m.File != nil && m.Text != "" {
		out["caption"] = m.Text
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func utf16Len(s string) int { return len(utf16.Encode([]rune(s))) }
